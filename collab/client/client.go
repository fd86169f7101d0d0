// Package client is a Go peer of the automerge-repo network protocol v1: it
// joins a sync server over any Transport (WebSocket, or an in-process Pipe),
// creates and finds documents, keeps each in sync with the server through one
// Automerge sync state, and sends and receives ephemeral messages. Our tests,
// the load generator and the server-side peers (AI co-editor, executor) use
// it; it behaves as an unchanged @automerge/automerge-repo 2.5 client does on
// the wire.
//
// A Client owns exactly one goroutine, which reads from the transport; Close
// stops it and waits for it.
package client

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"sync/atomic"

	"github.com/casual-dev/casual/collab/wire"
	"github.com/casual-dev/casual/crdt"
)

// Errors callers branch on.
var (
	// ErrUnavailable: the server answered a request with doc-unavailable.
	ErrUnavailable = errors.New("document unavailable")
	// ErrClosed: the client was closed or its connection ended.
	ErrClosed = errors.New("client closed")
)

// ServerError is an error message sent by the server.
type ServerError struct {
	Message string
	Code    string // our addition; empty from automerge-repo servers
}

func (e *ServerError) Error() string {
	if e.Code != "" {
		return fmt.Sprintf("server error %s: %s", e.Code, e.Message)
	}
	return "server error: " + e.Message
}

// Options configures a Client. The zero value is usable.
type Options struct {
	// PeerID is sent in join; default a random "peer-xxxxxxxx".
	PeerID string
	// Logger receives debug and warning logs; default slog.Default().
	Logger *slog.Logger
	// ErrorBuffer is the capacity of Errors(); default 8.
	ErrorBuffer int
	// EphemeralBuffer is the capacity of each Handle.Ephemeral(); default 16.
	EphemeralBuffer int
}

// Client is one connection to a sync server.
type Client struct {
	t         Transport
	log       *slog.Logger
	peerID    string
	sessionID string
	ephBuf    int

	serverPeerID    string
	serverStorageID string

	sendMu sync.Mutex    // one Send at a time on the transport
	count  atomic.Uint64 // ephemeral counter, shared across documents
	errs   chan wire.Message

	mu      sync.Mutex
	docs    map[crdt.DocID]*Handle
	seenEph map[string]float64 // sender+session → last accepted count

	cancel    context.CancelFunc
	done      chan struct{} // closed when the read goroutine has returned
	closeOnce sync.Once
	closeErr  error
	err       error // why the read goroutine stopped; set before done closes
}

// New joins the server on t: it sends join, waits for the server's peer
// message (or error, returned as *ServerError) and starts reading. On error
// the transport is closed. ctx bounds the handshake only.
func New(ctx context.Context, t Transport, opts Options) (*Client, error) {
	c := &Client{
		t:         t,
		log:       opts.Logger,
		peerID:    opts.PeerID,
		sessionID: randomBase36(11),
		ephBuf:    opts.EphemeralBuffer,
		docs:      make(map[crdt.DocID]*Handle),
		seenEph:   make(map[string]float64),
		done:      make(chan struct{}),
	}
	if c.log == nil {
		c.log = slog.Default()
	}
	if c.peerID == "" {
		c.peerID = "peer-" + randomBase36(8)
	}
	if c.ephBuf <= 0 {
		c.ephBuf = 16
	}
	nerr := opts.ErrorBuffer
	if nerr <= 0 {
		nerr = 8
	}
	c.errs = make(chan wire.Message, nerr)
	if err := c.handshake(ctx); err != nil {
		t.Close()
		return nil, err
	}
	c.log = c.log.With(slog.String("peer", c.peerID))
	rctx, cancel := context.WithCancel(context.Background())
	c.cancel = cancel
	go c.readLoop(rctx)
	return c, nil
}

func (c *Client) handshake(ctx context.Context) error {
	join := &wire.Message{
		Type:                      wire.TypeJoin,
		SenderID:                  c.peerID,
		PeerMetadata:              &wire.PeerMetadata{IsEphemeral: true},
		SupportedProtocolVersions: []string{wire.ProtocolV1},
	}
	if err := c.send(ctx, join); err != nil {
		return fmt.Errorf("join: %w", err)
	}
	for {
		frame, err := c.t.Recv(ctx)
		if err != nil {
			return fmt.Errorf("join: waiting for peer: %w", err)
		}
		m, err := wire.Decode(frame)
		if err != nil {
			c.log.Debug("drop undecodable frame during join", slog.Any("err", err))
			continue
		}
		switch m.Type {
		case wire.TypePeer:
			c.serverPeerID = m.SenderID
			if m.PeerMetadata != nil && m.PeerMetadata.StorageID != nil {
				c.serverStorageID = *m.PeerMetadata.StorageID
			}
			return nil
		case wire.TypeError:
			return fmt.Errorf("join refused: %w", &ServerError{Message: m.Message, Code: m.Code})
		default:
			c.log.Debug("drop message before peer", slog.String("type", m.Type))
		}
	}
}

// PeerID returns the id this client joined with.
func (c *Client) PeerID() string { return c.peerID }

// ServerPeerID returns the server's peer id from its peer message.
func (c *Client) ServerPeerID() string { return c.serverPeerID }

// ServerStorageID returns the server's storageId, or "" if it sent none.
func (c *Client) ServerStorageID() string { return c.serverStorageID }

// Errors delivers the server's error messages. When the buffer is full the
// oldest is dropped.
func (c *Client) Errors() <-chan wire.Message { return c.errs }

// Done is closed when the connection has ended (Close, or the server went
// away); Err then says why.
func (c *Client) Done() <-chan struct{} { return c.done }

// Err returns nil while the client runs, then why it stopped: ErrClosed
// after Close, else the transport's error (io.EOF when the server closed).
func (c *Client) Err() error {
	select {
	case <-c.done:
		return c.err
	default:
		return nil
	}
}

// Close ends the connection and waits for the read goroutine. Handles stop
// working; waiters return ErrClosed.
func (c *Client) Close() error {
	c.closeOnce.Do(func() {
		c.cancel()
		c.closeErr = c.t.Close()
		<-c.done
	})
	return c.closeErr
}

// SendRaw sends frame as is, for tests that inject bad input.
func (c *Client) SendRaw(ctx context.Context, frame []byte) error {
	c.sendMu.Lock()
	defer c.sendMu.Unlock()
	if err := c.t.Send(ctx, frame); err != nil {
		return fmt.Errorf("send raw: %w", err)
	}
	return nil
}

func (c *Client) send(ctx context.Context, m *wire.Message) error {
	frame, err := wire.Encode(m)
	if err != nil {
		return err
	}
	c.sendMu.Lock()
	defer c.sendMu.Unlock()
	if err := c.t.Send(ctx, frame); err != nil {
		return fmt.Errorf("send %s: %w", m.Type, err)
	}
	return nil
}

// docMessage returns a message about doc id addressed to the server.
func (c *Client) docMessage(typ string, id crdt.DocID, data []byte) *wire.Message {
	return &wire.Message{Type: typ, SenderID: c.peerID, TargetID: c.serverPeerID,
		DocumentID: string(id), Data: data}
}

func (c *Client) readLoop(ctx context.Context) {
	defer close(c.done)
	for {
		frame, err := c.t.Recv(ctx)
		if err != nil {
			if ctx.Err() != nil {
				err = ErrClosed
			}
			c.err = err
			c.log.Debug("connection ended", slog.Any("err", err))
			return
		}
		m, err := wire.Decode(frame)
		if err != nil {
			// JS clients log and drop what they cannot decode; so do we.
			c.log.Debug("drop frame", slog.Any("err", err))
			continue
		}
		c.dispatch(ctx, m)
	}
}

func (c *Client) dispatch(ctx context.Context, m *wire.Message) {
	switch m.Type {
	case wire.TypeSync, wire.TypeRequest:
		if h := c.handle(m.DocumentID); h != nil {
			h.receiveSync(ctx, m.Data)
			return
		}
		// Unsolicited documents are not stored: we never asked for them.
		c.log.Debug("drop sync for unknown document", slog.String("doc", m.DocumentID))
	case wire.TypeDocUnavailable:
		if h := c.handle(m.DocumentID); h != nil {
			h.markUnavailable()
		}
	case wire.TypeEphemeral:
		c.receiveEphemeral(m)
	case wire.TypeError:
		c.log.Warn("server error", slog.String("code", m.Code), slog.String("message", m.Message))
		c.pushError(*m)
	default:
		// peer (again) and remote-heads gossip: nothing to do.
	}
}

// pushError queues m, dropping the oldest queued error when full. Only the
// read goroutine sends on errs.
func (c *Client) pushError(m wire.Message) {
	for {
		select {
		case c.errs <- m:
			return
		default:
		}
		select {
		case <-c.errs:
		default:
		}
	}
}

func (c *Client) receiveEphemeral(m *wire.Message) {
	key := m.SenderID + "\x00" + m.SessionID
	c.mu.Lock()
	h := c.docs[crdt.DocID(m.DocumentID)]
	last, seen := c.seenEph[key]
	fresh := !seen || float64(m.Count) > last
	if fresh {
		c.seenEph[key] = float64(m.Count)
	}
	c.mu.Unlock()
	if h == nil || !fresh {
		return
	}
	e := Ephemeral{SenderID: m.SenderID, SessionID: m.SessionID, Count: uint64(m.Count), Data: m.Data}
	select {
	case h.eph <- e:
	default:
		c.log.Debug("drop ephemeral: buffer full", slog.String("doc", m.DocumentID))
	}
}

func (c *Client) handle(id string) *Handle {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.docs[crdt.DocID(id)]
}

// Create starts a new document with a fresh id. The document is ready at
// once but empty; it is offered to the server with its first Change (make
// one, and WaitAcked, before others Find it). Automerge-repo's Repo.create()
// commits an empty change so it can announce the document at once; crdt
// cannot commit an empty change, and announcing a document without heads
// leaves the reference server unable to answer others' requests for it.
func (c *Client) Create(ctx context.Context) (*Handle, error) {
	if err := c.Err(); err != nil {
		return nil, fmt.Errorf("create: %w", c.stoppedErr())
	}
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("create: %w", err)
	}
	h, _ := c.register(crdt.NewDocID(), false)
	return h, nil
}

// Find asks the server for document id and waits until it has arrived. If
// the server answers doc-unavailable, Find returns the handle together with
// ErrUnavailable: the handle stays registered, and WaitReady returns once a
// later push from the server fills it. Finding an id already open returns
// its handle.
func (c *Client) Find(ctx context.Context, id crdt.DocID) (*Handle, error) {
	h, created := c.register(id, true)
	if created {
		if err := h.sync(ctx); err != nil {
			return nil, fmt.Errorf("find %s: %w", id, err)
		}
	}
	unavailable := false
	err := h.wait(ctx, func() bool {
		unavailable = h.unavailable
		return h.ready || h.unavailable
	})
	switch {
	case err != nil:
		return nil, fmt.Errorf("find %s: %w", id, err)
	case unavailable:
		return h, fmt.Errorf("find %s: %w", id, ErrUnavailable)
	}
	return h, nil
}

// register returns the handle of id, creating it if it is not open yet. A
// handle being found starts not ready and announces itself with request; a
// created one is ready at once, as Repo.create() handles are.
func (c *Client) register(id crdt.DocID, find bool) (h *Handle, created bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if old, ok := c.docs[id]; ok {
		return old, false
	}
	d := crdt.New()
	h = &Handle{c: c, id: id, doc: d, ss: d.NewSyncState(), requesting: find, ready: !find,
		changed: make(chan struct{}), eph: make(chan Ephemeral, c.ephBuf)}
	c.docs[id] = h
	return h, true
}

// nextCount returns the next ephemeral count, as the JS NetworkSubsystem
// numbers them: one counter per client, pre-incremented from 1.
func (c *Client) nextCount() uint64 { return c.count.Add(1) }

const base36 = "0123456789abcdefghijklmnopqrstuvwxyz"

func randomBase36(n int) string {
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		panic(fmt.Sprintf("crypto/rand: %v", err)) // never fails on supported platforms
	}
	var sb strings.Builder
	for _, x := range b {
		sb.WriteByte(base36[int(x)%len(base36)])
	}
	return sb.String()
}

// stoppedErr is the error for operations after the connection ended: it
// matches ErrClosed and the transport's reason.
func (c *Client) stoppedErr() error {
	if c.err == nil || errors.Is(c.err, ErrClosed) {
		return ErrClosed
	}
	return fmt.Errorf("%w: %w", ErrClosed, c.err)
}
