package collab

import (
	"context"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/casual-dev/casual/collab/client"
	"github.com/casual-dev/casual/crdt"
	"github.com/casual-dev/casual/rooms"
)

// Config holds the protocol server's settings. Zero values take defaults.
type Config struct {
	// PeerID is the server's stable protocol peerId.
	PeerID string
	// StorageID is sent in the peer message so clients can tell which heads
	// the server has durably stored (DocHandle.getSyncInfo).
	StorageID string
	// MaxFrameBytes refuses larger frames (default 64 MiB: a whole-document
	// sync of a large app fits).
	MaxFrameBytes int64
	// MaxDocsPerConn bounds how many documents one connection may sync
	// (default 1000).
	MaxDocsPerConn int
	// RatePerSec and RateBurst bound messages per connection (token
	// bucket; defaults 1000/s and 5000). A connection that exceeds them gets
	// an error and is closed; its client reconnects and resyncs.
	RatePerSec float64
	RateBurst  int
	// SendQueue bounds the messages waiting for one peer (default 1024);
	// a peer whose queue is full is dropped from its rooms.
	SendQueue int
	// PingInterval between server pings (default 20 s); a peer silent for
	// 2.5 intervals is disconnected.
	PingInterval time.Duration
	Logger       *slog.Logger
}

func (c Config) withDefaults() Config {
	if c.PeerID == "" {
		c.PeerID = "casual-server"
	}
	if c.MaxFrameBytes <= 0 {
		c.MaxFrameBytes = 64 << 20
	}
	if c.MaxDocsPerConn <= 0 {
		c.MaxDocsPerConn = 1000
	}
	if c.RatePerSec <= 0 {
		c.RatePerSec = 1000
	}
	if c.RateBurst <= 0 {
		c.RateBurst = 5000
	}
	if c.SendQueue <= 0 {
		c.SendQueue = 1024
	}
	if c.PingInterval <= 0 {
		c.PingInterval = 20 * time.Second
	}
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
	return c
}

// PongWait is how long a silent peer is kept.
func (c Config) PongWait() time.Duration { return c.PingInterval * 5 / 2 }

// Credentials are what a peer presented when it connected: a token from
// the URL (?token=) or a cookie, since browsers cannot set headers on
// WebSocket upgrades.
type Credentials struct {
	Token      string
	RemoteAddr string
	// Internal marks in-process server peers (AI co-editor, executor).
	Internal bool
	// Actor is who the peer acts for, if known (user id, "ai", ...).
	Actor string
}

// Authorizer decides what a peer may do with a document.
type Authorizer interface {
	// Authenticate checks credentials once per connection, at join.
	Authenticate(ctx context.Context, cred Credentials) error
	// Authorize returns the peer's access to doc.
	Authorize(ctx context.Context, cred Credentials, doc crdt.DocID) (rooms.Access, error)
}

// OpenAccess lets every peer write every document: the single-user local
// default until accounts are configured.
type OpenAccess struct{}

// Authenticate implements Authorizer.
func (OpenAccess) Authenticate(context.Context, Credentials) error { return nil }

// Authorize implements Authorizer.
func (OpenAccess) Authorize(context.Context, Credentials, crdt.DocID) (rooms.Access, error) {
	return rooms.Write, nil
}

// Server serves protocol sessions.
type Server struct {
	cfg     Config
	rooms   *rooms.Manager
	auth    Authorizer
	metrics *Metrics
	log     *slog.Logger

	mu       sync.Mutex
	closing  bool
	sessions map[*session]struct{}
	byPeer   map[string]*session
	wg       sync.WaitGroup

	reauthEpoch atomic.Uint64 // counts Reauthorize calls (reauth.go)
	received    atomic.Uint64 // protocol messages received, for idleness checks

	pollMu  sync.Mutex
	poll    *poller // reads idle-able WebSockets (ServeWebSocket); nil until used
	pollErr error
}

// NewServer returns a server over mgr. metrics may be nil.
func NewServer(cfg Config, mgr *rooms.Manager, auth Authorizer, metrics *Metrics) *Server {
	cfg = cfg.withDefaults()
	if auth == nil {
		auth = OpenAccess{}
	}
	return &Server{cfg: cfg, rooms: mgr, auth: auth, metrics: metrics, log: cfg.Logger,
		sessions: map[*session]struct{}{}, byPeer: map[string]*session{}}
}

// Config returns the effective configuration.
func (s *Server) Config() Config { return s.cfg }

// Rooms returns the room manager.
func (s *Server) Rooms() *rooms.Manager { return s.rooms }

// Serve runs one peer's session over t until the peer leaves, the
// connection fails, or ctx ends. It closes t.
func (s *Server) Serve(ctx context.Context, t Transport, cred Credentials) error {
	ss := newSession(s, t, cred)
	if !s.register(ss) {
		ss.closeWith(ErrShuttingDown)
		return ErrShuttingDown
	}
	defer s.unregister(ss)
	return ss.run(ctx)
}

// register adds a new session, unless the server is shutting down.
func (s *Server) register(ss *session) bool {
	s.mu.Lock()
	if s.closing {
		s.mu.Unlock()
		return false
	}
	s.sessions[ss] = struct{}{}
	s.wg.Add(1)
	s.mu.Unlock()
	if s.metrics != nil {
		s.metrics.Connections.Inc()
		s.metrics.ConnectionsAll.Inc()
	}
	return true
}

// unregister removes an ended session.
func (s *Server) unregister(ss *session) {
	s.mu.Lock()
	delete(s.sessions, ss)
	if s.byPeer[ss.peerID] == ss {
		delete(s.byPeer, ss.peerID)
	}
	s.mu.Unlock()
	if s.metrics != nil {
		s.metrics.Connections.Dec()
	}
	s.wg.Done()
}

// bind makes ss the connection of peerID, closing an older connection of
// the same peer (automerge-repo PR #206: its sync states are stale).
func (s *Server) bind(ss *session, peerID string) {
	s.mu.Lock()
	old := s.byPeer[peerID]
	s.byPeer[peerID] = ss
	s.mu.Unlock()
	if old != nil && old != ss {
		old.closeWith(ErrReplaced)
	}
}

// Received returns how many protocol messages peers have sent so far
// (control frames such as pongs are not counted): a caller sampling it can
// tell an idle server from a busy one.
func (s *Server) Received() uint64 { return s.received.Load() }

// Connections returns the number of live sessions.
func (s *Server) Connections() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.sessions)
}

// Shutdown closes every session (they leave their rooms) and waits for
// them, then stores and closes every room.
func (s *Server) Shutdown(ctx context.Context) error {
	s.mu.Lock()
	s.closing = true
	all := make([]*session, 0, len(s.sessions))
	for ss := range s.sessions {
		all = append(all, ss)
	}
	s.mu.Unlock()
	for _, ss := range all {
		ss.closeWith(ErrShuttingDown)
	}
	done := make(chan struct{})
	go func() { s.wg.Wait(); close(done) }()
	select {
	case <-done:
	case <-ctx.Done():
		return fmt.Errorf("shutdown: sessions still open: %w", ctx.Err())
	}
	s.closePoller()
	s.rooms.Close()
	return nil
}

// Connect starts an in-process peer session (the AI co-editor, the
// executor) and returns the peer's end of its transport: hand it to
// client.New. The session is authorized, limited and fanned out exactly
// like a browser's, and Shutdown ends it.
func (s *Server) Connect(ctx context.Context, cred Credentials) Transport {
	peerEnd, serverEnd := client.Pipe()
	cred.Internal = true
	go s.Serve(ctx, serverEnd, cred)
	return peerEnd
}
