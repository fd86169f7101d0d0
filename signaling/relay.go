package signaling

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"slices"
	"sync"
	"time"

	"github.com/gorilla/websocket"

	"github.com/casual-dev/casual/collab"
	"github.com/casual-dev/casual/crdt"
	"github.com/casual-dev/casual/rooms"
)

// RelayConfig configures a Relay. Zero values take defaults.
type RelayConfig struct {
	// Auth decides who may signal in a room: the same authorizer as the
	// collab.Server, so the rule is the one of /sync (read access to the
	// document). nil is collab.OpenAccess.
	Auth collab.Authorizer
	// MaxMessageBytes: larger messages are refused with an error and the
	// connection stays up (default 64 KiB, room for an SDP with many
	// candidates). Past 16 times this the connection is closed, since
	// reading on would mean buffering whatever the peer sends.
	MaxMessageBytes int64
	// MaxPeersPerRoom bounds one room's relay connections (default 50).
	MaxPeersPerRoom int
	// RatePerSec and RateBurst bound messages per connection (defaults
	// 50/s, burst 200: a peer connection trickles a few dozen candidates).
	RatePerSec float64
	RateBurst  int
	// SendQueue bounds messages waiting for one peer (default 256); a
	// peer that falls that far behind is disconnected.
	SendQueue int
	// PingInterval between pings (default 20 s); a peer silent for 2.5
	// intervals is disconnected.
	PingInterval time.Duration
	Metrics      *Metrics
	Logger       *slog.Logger
}

func (c RelayConfig) withDefaults() RelayConfig {
	if c.Auth == nil {
		c.Auth = collab.OpenAccess{}
	}
	if c.MaxMessageBytes <= 0 {
		c.MaxMessageBytes = 64 << 10
	}
	if c.MaxPeersPerRoom <= 0 {
		c.MaxPeersPerRoom = 50
	}
	if c.RatePerSec <= 0 {
		c.RatePerSec = 50
	}
	if c.RateBurst <= 0 {
		c.RateBurst = 200
	}
	if c.SendQueue <= 0 {
		c.SendQueue = 256
	}
	if c.PingInterval <= 0 {
		c.PingInterval = 20 * time.Second
	}
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
	return c
}

// Relay is the signaling endpoint (GET /signal?doc=&peer=&token=): an
// http.Handler upgrading to WebSocket. Each connection is one peer in one
// room; the relay tells it who else is there and forwards its offers,
// answers and candidates to the peer they name in the same room.
type Relay struct {
	cfg      RelayConfig
	log      *slog.Logger
	upgrader websocket.Upgrader

	ctx    context.Context
	cancel context.CancelFunc
	wg     sync.WaitGroup

	mu     sync.Mutex
	closed bool
	rooms  map[crdt.DocID]map[string]*member
}

// NewRelay returns a relay.
func NewRelay(cfg RelayConfig) *Relay {
	cfg = cfg.withDefaults()
	ctx, cancel := context.WithCancel(context.Background())
	return &Relay{
		cfg: cfg, log: cfg.Logger, ctx: ctx, cancel: cancel,
		rooms: map[crdt.DocID]map[string]*member{},
		upgrader: websocket.Upgrader{
			ReadBufferSize: 4096, WriteBufferPool: &sync.Pool{},
			// As for /sync: access comes from the token, checked per
			// document, never from ambient cookies alone.
			CheckOrigin: func(*http.Request) bool { return true },
		},
	}
}

// Peers returns the ids of the peers signaling in doc's room, sorted.
func (r *Relay) Peers(doc crdt.DocID) []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.peersLocked(doc, "")
}

func (r *Relay) peersLocked(doc crdt.DocID, except string) []string {
	ids := make([]string, 0, len(r.rooms[doc]))
	for id := range r.rooms[doc] {
		if id != except {
			ids = append(ids, id)
		}
	}
	slices.Sort(ids)
	return ids
}

// ServeHTTP implements http.Handler.
func (r *Relay) ServeHTTP(w http.ResponseWriter, req *http.Request) {
	if !websocket.IsWebSocketUpgrade(req) {
		r.cfg.Metrics.signalError("not_websocket")
		writeJSON(w, http.StatusBadRequest, map[string]any{"error": map[string]string{
			"code": "not_websocket", "message": "connect with a WebSocket: GET /signal?doc=<documentId>&peer=<peerId>&token=<token>"}})
		return
	}
	r.mu.Lock()
	if r.closed {
		r.mu.Unlock()
		writeJSON(w, http.StatusServiceUnavailable, map[string]any{"error": map[string]string{
			"code": "shutting_down", "message": collab.ErrShuttingDown.Error()}})
		return
	}
	r.wg.Add(1)
	r.mu.Unlock()
	defer r.wg.Done()
	conn, err := r.upgrader.Upgrade(w, req, nil)
	if err != nil {
		return // the upgrader answered
	}
	// Past this the peer is flooding: gorilla closes the connection.
	conn.SetReadLimit(16 * r.cfg.MaxMessageBytes)
	m := &member{conn: conn, out: make(chan []byte, r.cfg.SendQueue), done: make(chan struct{}),
		bucket: tokenBucket{rate: r.cfg.RatePerSec, burst: float64(r.cfg.RateBurst), tokens: float64(r.cfg.RateBurst)}}
	writerDone := make(chan struct{})
	go func() {
		defer close(writerDone)
		r.writeLoop(m)
	}()
	stop := context.AfterFunc(r.ctx, func() { m.close(collab.ErrShuttingDown) })
	defer stop()
	r.cfg.Metrics.signalConn(1)
	defer r.cfg.Metrics.signalConn(-1)

	if err := r.admit(req, m); err != nil {
		r.log.Info("signaling refused", slog.String("remote", req.RemoteAddr), slog.Any("err", err))
		r.sendError(m, err, "")
		m.close(err)
		<-writerDone
		return
	}
	log := r.log.With(slog.String("doc", string(m.doc)), slog.String("peer", m.id))
	err = r.readLoop(m, log)
	r.leave(m)
	m.close(err)
	<-writerDone
	log.Debug("signaling connection ended", slog.Any("err", err))
}

// admit authorizes the connection and joins its room.
func (r *Relay) admit(req *http.Request, m *member) error {
	q := req.URL.Query()
	doc, err := crdt.ParseDocID(q.Get("doc"))
	if err != nil {
		return fmt.Errorf("doc=%q: %w", truncate(q.Get("doc"), 60), err)
	}
	m.doc = doc
	m.id = q.Get("peer")
	if m.id == "" {
		m.id = "peer-" + randomID()
	}
	if err := validPeerID(m.id); err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(r.ctx, 10*time.Second)
	defer cancel()
	cred := collab.Credentials{Token: tokenOf(req), RemoteAddr: req.RemoteAddr}
	if err := r.cfg.Auth.Authenticate(ctx, cred); err != nil {
		return fmt.Errorf("%w: %v", collab.ErrUnauthorized, err)
	}
	access, err := r.cfg.Auth.Authorize(ctx, cred, doc)
	if err != nil {
		return fmt.Errorf("%w: %v", collab.ErrForbidden, err)
	}
	if access < rooms.Read {
		return fmt.Errorf("%w: no read access to %s: a peer may only signal in rooms it may read", collab.ErrForbidden, doc)
	}
	return r.join(m)
}

func (r *Relay) join(m *member) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.closed {
		return collab.ErrShuttingDown
	}
	room := r.rooms[m.doc]
	if _, taken := room[m.id]; taken {
		return fmt.Errorf("%w: %q is already signaling in this room; pick another peer id", ErrPeerIDInUse, m.id)
	}
	if len(room) >= r.cfg.MaxPeersPerRoom {
		return &limitError{err: ErrRoomFull, limit: int64(r.cfg.MaxPeersPerRoom), what: "peers"}
	}
	if room == nil {
		room = map[string]*member{}
		r.rooms[m.doc] = room
	}
	peers := r.peersLocked(m.doc, "")
	room[m.id] = m
	// Under the lock, so every member sees joins and leaves in one order.
	r.queue(m, struct {
		Type  string   `json:"type"`
		Self  string   `json:"self"`
		Peers []string `json:"peers"`
	}{TypePeers, m.id, peers})
	for _, o := range room {
		if o != m {
			r.queue(o, Message{Type: TypePeerJoined, PeerID: m.id})
		}
	}
	return nil
}

func (r *Relay) leave(m *member) {
	r.mu.Lock()
	defer r.mu.Unlock()
	room := r.rooms[m.doc]
	if room[m.id] != m {
		return
	}
	delete(room, m.id)
	if len(room) == 0 {
		delete(r.rooms, m.doc)
	}
	for _, o := range room {
		r.queue(o, Message{Type: TypePeerLeft, PeerID: m.id})
	}
}

// queue encodes v for m; a peer whose queue is full is disconnected.
func (r *Relay) queue(m *member, v any) {
	b, err := json.Marshal(v)
	if err != nil {
		r.log.Error("encode signaling message", slog.Any("err", err))
		return
	}
	if !m.send(b) {
		m.close(fmt.Errorf("%w (%d messages queued)", rooms.ErrSlowPeer, r.cfg.SendQueue))
	}
}

func (r *Relay) sendError(m *member, err error, to string) {
	code := ErrorCode(err)
	r.cfg.Metrics.signalError(code)
	r.queue(m, Message{Type: TypeError, Code: code, Message: truncate(err.Error(), 500), Limit: limitOf(err), To: to})
}

func (r *Relay) readLoop(m *member, log *slog.Logger) error {
	pongWait := r.cfg.PingInterval * 5 / 2
	m.conn.SetReadDeadline(time.Now().Add(pongWait))
	m.conn.SetPongHandler(func(string) error { return m.conn.SetReadDeadline(time.Now().Add(pongWait)) })
	limit := r.cfg.MaxMessageBytes
	for {
		typ, rd, err := m.conn.NextReader()
		if err != nil {
			return err
		}
		m.conn.SetReadDeadline(time.Now().Add(pongWait))
		b, err := io.ReadAll(io.LimitReader(rd, limit+1))
		if err == nil && int64(len(b)) > limit {
			_, err = io.Copy(io.Discard, rd) // fails past the hard read limit
			if err == nil {
				r.sendError(m, &limitError{err: ErrMessageTooLarge, limit: limit, what: "bytes"}, "")
				continue
			}
		}
		if err != nil {
			return err
		}
		if typ != websocket.TextMessage {
			r.sendError(m, ErrBinaryFrame, "")
			continue
		}
		if !m.bucket.take(time.Now()) {
			r.sendError(m, &limitError{err: collab.ErrRateLimited, limit: int64(r.cfg.RatePerSec), what: "messages/s"}, "")
			continue
		}
		msg, err := DecodeMessage(b)
		if err != nil {
			log.Debug("bad signaling message", slog.Any("err", err))
			to := ""
			if msg != nil {
				to = msg.To
			}
			r.sendError(m, err, truncate(to, 100))
			continue
		}
		r.route(m, msg)
	}
}

// route forwards msg to its addressee in m's room, as from m.
func (r *Relay) route(m *member, msg *Message) {
	if msg.To == m.id {
		r.sendError(m, fmt.Errorf("%w: %q is you", ErrInvalidMessage, msg.To), msg.To)
		return
	}
	r.mu.Lock()
	target := r.rooms[m.doc][msg.To]
	r.mu.Unlock()
	if target == nil {
		r.sendError(m, fmt.Errorf("%w: no peer %q in this room; peers can only signal peers of the same document",
			ErrUnknownPeer, truncate(msg.To, 100)), truncate(msg.To, 100))
		return
	}
	r.queue(target, Message{Type: msg.Type, From: m.id, To: msg.To, SDP: msg.SDP, Candidate: msg.Candidate})
	r.cfg.Metrics.signalRelayed(msg.Type)
}

// Close disconnects every peer and waits for their handlers, or ctx.
func (r *Relay) Close(ctx context.Context) error {
	r.mu.Lock()
	r.closed = true
	r.mu.Unlock()
	r.cancel()
	done := make(chan struct{})
	go func() { r.wg.Wait(); close(done) }()
	select {
	case <-done:
		return nil
	case <-ctx.Done():
		return fmt.Errorf("signaling relay close: %w", ctx.Err())
	}
}
