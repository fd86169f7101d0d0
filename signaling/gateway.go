package signaling

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"time"

	"github.com/pion/sdp/v3"
	"github.com/pion/webrtc/v4"

	"github.com/casual-dev/casual/collab"
)

// Errors of the Gateway; each reaches an HTTP client as an error code.
var (
	ErrInvalidSDP   = errors.New("invalid SDP")
	ErrTooManyPeers = errors.New("too many WebRTC peers")
	ErrGather       = errors.New("ICE candidate gathering did not finish")
)

// GatewayConfig configures a Gateway. Zero values take defaults.
type GatewayConfig struct {
	// ICEServers are used by the server and served to clients at
	// /rtc/config. None are needed on one machine or a LAN.
	ICEServers []ICEServer
	// NAT1To1IPs are the public addresses of a server behind 1:1 NAT.
	NAT1To1IPs []string
	// UDPPortMin and UDPPortMax bound the server's UDP ports (0: any).
	UDPPortMin, UDPPortMax uint16
	// MaxPeers bounds the server's peer connections (default 1000).
	MaxPeers int
	// MaxOfferBytes bounds an offer request's body (default 64 KiB).
	MaxOfferBytes int64
	// GatherTimeout bounds candidate gathering before answering
	// (default 5 s; only STUN and TURN servers take any time).
	GatherTimeout time.Duration
	// ConnectTimeout bounds the time from answer to an open "automerge"
	// channel (default 20 s).
	ConnectTimeout time.Duration
	// FailedTimeout is how long a connection without connectivity is
	// kept before its session ends (default 15 s).
	FailedTimeout time.Duration
	// Auth authenticates offers before any resources are spent; use the
	// collab.Server's authorizer (nil: collab.OpenAccess).
	Auth    collab.Authorizer
	Metrics *Metrics
	Logger  *slog.Logger
}

func (c GatewayConfig) withDefaults() GatewayConfig {
	if c.MaxPeers <= 0 {
		c.MaxPeers = 1000
	}
	if c.MaxOfferBytes <= 0 {
		c.MaxOfferBytes = 64 << 10
	}
	if c.GatherTimeout <= 0 {
		c.GatherTimeout = 5 * time.Second
	}
	if c.ConnectTimeout <= 0 {
		c.ConnectTimeout = 20 * time.Second
	}
	if c.FailedTimeout <= 0 {
		c.FailedTimeout = 15 * time.Second
	}
	if c.Auth == nil {
		c.Auth = collab.OpenAccess{}
	}
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
	return c
}

// Gateway terminates WebRTC peer connections on the server and serves
// each one's protocol session through collab.Server.Serve. It owns one
// goroutine per peer connection; Close stops them all.
type Gateway struct {
	cfg   GatewayConfig
	cs    *collab.Server
	api   *webrtc.API
	log   *slog.Logger
	slots chan struct{}

	ctx    context.Context // ends every peer's session
	cancel context.CancelFunc
	wg     sync.WaitGroup

	mu     sync.Mutex
	closed bool
	conns  map[*Conn]struct{}
}

// NewGateway returns a gateway serving sessions on cs.
func NewGateway(cs *collab.Server, cfg GatewayConfig) (*Gateway, error) {
	cfg = cfg.withDefaults()
	api, err := newAPI(netConfig{
		NAT1To1IPs: cfg.NAT1To1IPs, PortMin: cfg.UDPPortMin, PortMax: cfg.UDPPortMax,
		FailedTimeout: cfg.FailedTimeout, MaxMessageBytes: maxAcceptedMessage, Logger: cfg.Logger,
	})
	if err != nil {
		return nil, fmt.Errorf("webrtc gateway: %w", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	return &Gateway{cfg: cfg, cs: cs, api: api, log: cfg.Logger, slots: make(chan struct{}, cfg.MaxPeers),
		ctx: ctx, cancel: cancel, conns: map[*Conn]struct{}{}}, nil
}

// maxAcceptedMessage is the largest data channel message the server
// accepts (and advertises): Chrome's own limit. Larger frames arrive as
// fragments.
const maxAcceptedMessage = 256 << 10

// ICEServers returns the configured ICE servers, as served to clients.
func (g *Gateway) ICEServers() []ICEServer { return g.cfg.ICEServers }

// Peers returns the number of peer connections alive.
func (g *Gateway) Peers() int {
	g.mu.Lock()
	defer g.mu.Unlock()
	return len(g.conns)
}

// Answer accepts a client's offer (with its candidates: no trickle) and
// returns the server's answer, candidates included. The connection then
// lives on its own until the client closes it, it fails, or the gateway
// closes. ctx bounds the answering only.
func (g *Gateway) Answer(ctx context.Context, offer string, cred collab.Credentials) (string, error) {
	if err := validateOffer(offer); err != nil {
		return "", err
	}
	if err := g.cfg.Auth.Authenticate(ctx, cred); err != nil {
		return "", fmt.Errorf("%w: %v", collab.ErrUnauthorized, err)
	}
	select {
	case g.slots <- struct{}{}:
	default:
		return "", fmt.Errorf("%w (limit %d)", ErrTooManyPeers, g.cfg.MaxPeers)
	}
	c, answer, err := g.accept(ctx, offer)
	if err != nil {
		<-g.slots
		return "", err
	}
	g.mu.Lock()
	if g.closed {
		g.mu.Unlock()
		<-g.slots
		c.Close()
		return "", collab.ErrShuttingDown
	}
	g.conns[c] = struct{}{}
	g.wg.Add(1)
	g.mu.Unlock()
	g.cfg.Metrics.peerOpened()
	go g.run(c, cred)
	return answer, nil
}

// validateOffer checks that offer parses and asks for data channels.
func validateOffer(offer string) error {
	if strings.TrimSpace(offer) == "" {
		return fmt.Errorf("%w: empty offer", ErrInvalidSDP)
	}
	var sd sdp.SessionDescription
	if err := sd.UnmarshalString(offer); err != nil {
		return fmt.Errorf("%w: %v", ErrInvalidSDP, err)
	}
	for _, m := range sd.MediaDescriptions {
		if m.MediaName.Media == "application" {
			return nil
		}
	}
	return fmt.Errorf("%w: the offer has no data channel section (m=application): create the %q and %q channels before the offer",
		ErrInvalidSDP, LabelAutomerge, LabelPresence)
}

// accept creates the peer connection and its answer.
func (g *Gateway) accept(ctx context.Context, offer string) (*Conn, string, error) {
	pc, err := g.api.NewPeerConnection(webrtc.Configuration{ICEServers: pionICEServers(g.cfg.ICEServers)})
	if err != nil {
		return nil, "", fmt.Errorf("new peer connection: %w", err)
	}
	c := newConn(pc, g.cs.Config().MaxFrameBytes, g.log, g.cfg.Metrics)
	pc.OnDataChannel(func(dc *webrtc.DataChannel) {
		if err := c.attach(dc); err != nil {
			g.log.Info("refused data channel", slog.Any("err", err))
			g.cfg.Metrics.peerFailed("bad_channel")
			dc.Close()
			if dc.Label() == LabelAutomerge {
				c.markGone()
			}
		}
	})
	fail := func(err error) (*Conn, string, error) {
		c.Close()
		return nil, "", err
	}
	if err := pc.SetRemoteDescription(webrtc.SessionDescription{Type: webrtc.SDPTypeOffer, SDP: offer}); err != nil {
		return fail(fmt.Errorf("%w: %v", ErrInvalidSDP, err))
	}
	answer, err := pc.CreateAnswer(nil)
	if err != nil {
		return fail(fmt.Errorf("%w: cannot answer: %v", ErrInvalidSDP, err))
	}
	gathered := webrtc.GatheringCompletePromise(pc)
	if err := pc.SetLocalDescription(answer); err != nil {
		return fail(fmt.Errorf("set local description: %w", err))
	}
	timer := time.NewTimer(g.cfg.GatherTimeout)
	defer timer.Stop()
	select {
	case <-gathered:
	case <-timer.C:
		return fail(fmt.Errorf("%w within %s", ErrGather, g.cfg.GatherTimeout))
	case <-ctx.Done():
		return fail(ctx.Err())
	}
	return c, pc.LocalDescription().SDP, nil
}

// run waits for the peer's reliable channel, then serves its session.
func (g *Gateway) run(c *Conn, cred collab.Credentials) {
	defer g.wg.Done()
	defer func() {
		c.Close()
		g.mu.Lock()
		delete(g.conns, c)
		g.mu.Unlock()
		<-g.slots
		g.cfg.Metrics.peerClosed()
	}()
	timer := time.NewTimer(g.cfg.ConnectTimeout)
	defer timer.Stop()
	select {
	case <-c.Opened():
	case <-c.Done():
		if c.Failed() {
			g.cfg.Metrics.peerFailed("ice_failed")
		} else {
			g.cfg.Metrics.peerFailed("closed_before_open")
		}
		return
	case <-timer.C:
		g.log.Info("webrtc peer never opened its channel", slog.String("remote", cred.RemoteAddr),
			slog.Duration("timeout", g.cfg.ConnectTimeout))
		g.cfg.Metrics.peerFailed("connect_timeout")
		return
	case <-g.ctx.Done():
		return
	}
	timer.Stop()
	err := g.cs.Serve(g.ctx, c, cred)
	if c.Failed() {
		g.cfg.Metrics.peerFailed("ice_failed")
	}
	g.log.Debug("webrtc session ended", slog.String("remote", cred.RemoteAddr), slog.Any("err", err))
}

// Close ends every peer connection and waits for them, or for ctx.
func (g *Gateway) Close(ctx context.Context) error {
	g.mu.Lock()
	g.closed = true
	g.mu.Unlock()
	g.cancel()
	done := make(chan struct{})
	go func() { g.wg.Wait(); close(done) }()
	select {
	case <-done:
		return nil
	case <-ctx.Done():
		return fmt.Errorf("webrtc gateway close: %w", ctx.Err())
	}
}
