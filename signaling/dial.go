package signaling

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"strings"
	"time"

	"github.com/pion/transport/v4"
	"github.com/pion/webrtc/v4"
)

// DialOption configures DialServer.
type DialOption func(*dialConfig)

type dialConfig struct {
	http       *http.Client
	iceServers []ICEServer
	haveICE    bool
	maxFrame   int64
	presence   bool
	log        *slog.Logger
	net        transport.Net // tests
}

// WithHTTPClient sets the client used for /rtc/config and /rtc/offer.
func WithHTTPClient(c *http.Client) DialOption { return func(d *dialConfig) { d.http = c } }

// WithICEServers uses servers instead of asking the server's /rtc/config.
func WithICEServers(servers []ICEServer) DialOption {
	return func(d *dialConfig) { d.iceServers, d.haveICE = servers, true }
}

// WithMaxFrame sets the largest frame accepted from the server (default
// 64 MiB, as for WebSocket clients).
func WithMaxFrame(n int64) DialOption { return func(d *dialConfig) { d.maxFrame = n } }

// WithoutPresence opens only the reliable channel: ephemeral messages then
// travel reliably and in order, like over WebSocket.
func WithoutPresence() DialOption { return func(d *dialConfig) { d.presence = false } }

// WithLogger sets where connection logs go (default: discarded).
func WithLogger(l *slog.Logger) DialOption { return func(d *dialConfig) { d.log = l } }

// OfferError is a refusal from POST /rtc/offer.
type OfferError struct {
	Status  int
	Code    string
	Message string
}

func (e *OfferError) Error() string {
	return fmt.Sprintf("offer refused (%d %s): %s", e.Status, e.Code, e.Message)
}

// DialServer opens a peer connection to the Gateway at baseURL
// (http://host:port) and returns it once its channels are open, ready for
// client.New. The offer carries every candidate (no trickle): on loopback
// or a LAN gathering is immediate. ctx bounds the dial only; Close the
// Conn (or the client.Client using it) to end the connection.
func DialServer(ctx context.Context, baseURL, token string, opts ...DialOption) (*Conn, error) {
	cfg := dialConfig{http: http.DefaultClient, maxFrame: 64 << 20, presence: true}
	for _, o := range opts {
		o(&cfg)
	}
	if cfg.log == nil {
		cfg.log = slog.New(slog.DiscardHandler)
	}
	base := httpBase(baseURL)
	if !cfg.haveICE {
		rc, err := fetchConfig(ctx, cfg.http, base)
		if err != nil {
			return nil, err
		}
		cfg.iceServers = rc.ICEServers
	}
	api, err := newAPI(netConfig{FailedTimeout: 15 * time.Second, MaxMessageBytes: maxAcceptedMessage, Logger: cfg.log, Net: cfg.net})
	if err != nil {
		return nil, err
	}
	pc, err := api.NewPeerConnection(webrtc.Configuration{ICEServers: pionICEServers(cfg.iceServers)})
	if err != nil {
		return nil, fmt.Errorf("dial %s: new peer connection: %w", base, err)
	}
	c := newConn(pc, cfg.maxFrame, cfg.log, nil)
	if err := dial(ctx, c, pc, cfg, base, token); err != nil {
		c.Close()
		return nil, fmt.Errorf("dial %s: %w", base, err)
	}
	return c, nil
}

func dial(ctx context.Context, c *Conn, pc *webrtc.PeerConnection, cfg dialConfig, base, token string) error {
	rel, err := pc.CreateDataChannel(LabelAutomerge, nil)
	if err != nil {
		return err
	}
	if err := c.attach(rel); err != nil {
		return err
	}
	if cfg.presence {
		ordered, retransmits := false, uint16(0)
		pres, err := pc.CreateDataChannel(LabelPresence, &webrtc.DataChannelInit{Ordered: &ordered, MaxRetransmits: &retransmits})
		if err != nil {
			return err
		}
		if err := c.attach(pres); err != nil {
			return err
		}
	}
	offer, err := pc.CreateOffer(nil)
	if err != nil {
		return fmt.Errorf("create offer: %w", err)
	}
	gathered := webrtc.GatheringCompletePromise(pc)
	if err := pc.SetLocalDescription(offer); err != nil {
		return fmt.Errorf("set local description: %w", err)
	}
	select {
	case <-gathered:
	case <-ctx.Done():
		return fmt.Errorf("gathering candidates: %w", ctx.Err())
	}
	answer, err := postOffer(ctx, cfg.http, base, OfferRequest{Type: "offer", SDP: pc.LocalDescription().SDP, Token: token})
	if err != nil {
		return err
	}
	if err := pc.SetRemoteDescription(webrtc.SessionDescription{Type: webrtc.SDPTypeAnswer, SDP: answer}); err != nil {
		return fmt.Errorf("set remote description: %w", err)
	}
	wait := []<-chan struct{}{c.opened}
	if cfg.presence {
		wait = append(wait, c.presOpened)
	}
	for _, ch := range wait {
		select {
		case <-ch:
		case <-c.gone:
			return fmt.Errorf("peer connection ended before its channels opened (failed=%v)", c.Failed())
		case <-ctx.Done():
			return fmt.Errorf("waiting for data channels: %w", ctx.Err())
		}
	}
	return nil
}

// httpBase turns ws(s):// into http(s):// and drops a trailing slash.
func httpBase(u string) string {
	u = strings.TrimSuffix(u, "/")
	switch {
	case strings.HasPrefix(u, "ws://"):
		return "http://" + strings.TrimPrefix(u, "ws://")
	case strings.HasPrefix(u, "wss://"):
		return "https://" + strings.TrimPrefix(u, "wss://")
	}
	return u
}

func fetchConfig(ctx context.Context, hc *http.Client, base string) (*RTCConfig, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, base+"/rtc/config", nil)
	if err != nil {
		return nil, fmt.Errorf("rtc config: %w", err)
	}
	var rc RTCConfig
	if err := doJSON(hc, req, &rc); err != nil {
		return nil, fmt.Errorf("rtc config: %w", err)
	}
	return &rc, nil
}

func postOffer(ctx context.Context, hc *http.Client, base string, offer OfferRequest) (string, error) {
	b, err := json.Marshal(offer)
	if err != nil {
		return "", err
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, base+"/rtc/offer", bytes.NewReader(b))
	if err != nil {
		return "", fmt.Errorf("offer: %w", err)
	}
	req.Header.Set("Content-Type", "application/json")
	var ans OfferResponse
	if err := doJSON(hc, req, &ans); err != nil {
		return "", fmt.Errorf("offer: %w", err)
	}
	return ans.SDP, nil
}

// doJSON runs req and decodes a 200 response into v; any other status
// becomes an *OfferError from the server's error body.
func doJSON(hc *http.Client, req *http.Request, v any) error {
	resp, err := hc.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if err != nil {
		return err
	}
	if resp.StatusCode != http.StatusOK {
		var e struct {
			Error struct{ Code, Message string } `json:"error"`
		}
		_ = json.Unmarshal(body, &e)
		if e.Error.Code == "" {
			e.Error.Code, e.Error.Message = "http", truncate(string(body), 200)
		}
		return &OfferError{Status: resp.StatusCode, Code: e.Error.Code, Message: e.Error.Message}
	}
	if err := json.Unmarshal(body, v); err != nil {
		return fmt.Errorf("decode response: %w", err)
	}
	return nil
}
