// Package clienttest provides servers to test automerge-repo peers against:
// Relay, a tiny in-process sync server built on crdt (enough of the server
// role of the protocol for client tests), and NodeServer, which starts the
// reference JS server from js/bench/node-server.mjs.
package clienttest

import (
	"context"
	"errors"
	"log/slog"
	"net/http"
	"slices"
	"sync"

	"github.com/gorilla/websocket"

	"github.com/casual-dev/casual/collab/client"
	"github.com/casual-dev/casual/collab/wire"
	"github.com/casual-dev/casual/crdt"
)

// outQueue is how many frames a relay connection may have queued before it
// is dropped as too slow, as the real server drops slow peers.
const outQueue = 4096

// Relay plays the server role: it answers join, syncs every document with
// the peers that sent sync or request for it (one SyncState per peer and
// document), answers request for a document it lacks with doc-unavailable
// (and pushes the document once someone uploads it), relays ephemeral
// messages, and answers undecodable frames with an error message. It
// handles everything under one lock: it is for tests, not for speed.
type Relay struct {
	PeerID    string
	StorageID string
	// Reject, if set, is asked about every join; a non-nil result is sent
	// as an error message and the connection is closed.
	Reject func(join *wire.Message) *wire.Message

	mu     sync.Mutex
	docs   map[string]*relayDoc
	conns  map[*relayConn]struct{}
	closed bool
	wg     sync.WaitGroup
}

type relayDoc struct {
	doc   *crdt.Doc
	peers map[*relayConn]*crdt.SyncState
}

type relayConn struct {
	t      client.Transport
	peerID string
	out    chan []byte
	done   chan struct{}
	once   sync.Once
}

func (c *relayConn) close() {
	c.once.Do(func() {
		close(c.done)
		c.t.Close()
	})
}

// NewRelay returns a relay with a fixed peer id and storage id.
func NewRelay() *Relay {
	return &Relay{PeerID: "relay-server", StorageID: "7e0b6f0e-5a36-4c55-9d1e-relay0000001",
		docs: make(map[string]*relayDoc), conns: make(map[*relayConn]struct{})}
}

// Connect returns the client end of a Pipe whose other end the relay serves.
func (r *Relay) Connect() client.Transport {
	a, b := client.Pipe()
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.closed {
		b.Close()
		return a
	}
	r.wg.Add(1)
	go func() {
		defer r.wg.Done()
		r.Serve(b)
	}()
	return a
}

// ServeHTTP upgrades to WebSocket and serves the connection until it ends.
func (r *Relay) ServeHTTP(w http.ResponseWriter, req *http.Request) {
	up := websocket.Upgrader{CheckOrigin: func(*http.Request) bool { return true }}
	conn, err := up.Upgrade(w, req, nil)
	if err != nil {
		return // Upgrade has answered the request
	}
	r.Serve(client.NewWebSocketTransport(conn))
}

// Serve serves one connection until it ends or the relay closes.
func (r *Relay) Serve(t client.Transport) {
	c := &relayConn{t: t, out: make(chan []byte, outQueue), done: make(chan struct{})}
	r.mu.Lock()
	if r.closed {
		r.mu.Unlock()
		t.Close()
		return
	}
	r.conns[c] = struct{}{}
	r.wg.Add(1)
	r.mu.Unlock()
	defer r.wg.Done()
	var wg sync.WaitGroup
	wg.Add(1)
	go func() { // writer: the reader never blocks on a slow peer
		defer wg.Done()
		for {
			select {
			case f := <-c.out:
				if f == nil { // hang up after what was queued before
					c.close()
					return
				}
				if err := t.Send(context.Background(), f); err != nil {
					c.close()
					return
				}
			case <-c.done:
				return
			}
		}
	}()
	for {
		frame, err := t.Recv(context.Background())
		if err != nil {
			break
		}
		r.handle(c, frame)
	}
	c.close()
	wg.Wait()
	r.mu.Lock()
	delete(r.conns, c)
	for _, d := range r.docs {
		delete(d.peers, c)
	}
	r.mu.Unlock()
}

// Close disconnects every peer and waits for the connections it serves.
func (r *Relay) Close() {
	r.mu.Lock()
	r.closed = true
	for c := range r.conns {
		c.close()
	}
	r.mu.Unlock()
	r.wg.Wait()
}

func (r *Relay) handle(c *relayConn, frame []byte) {
	m, err := wire.Decode(frame)
	r.mu.Lock()
	defer r.mu.Unlock()
	switch {
	case errors.Is(err, wire.ErrUnknownType):
		return // ignored, as JS peers do
	case err != nil:
		r.sendLocked(c, &wire.Message{Type: wire.TypeError, Message: err.Error(), Code: "malformed"})
		return
	case m.Type == wire.TypeJoin:
		r.joinLocked(c, m)
		return
	case c.peerID == "" || m.SenderID != c.peerID:
		return // not joined, or not this socket's peer: dropped, as JS does
	}
	switch m.Type {
	case wire.TypeSync, wire.TypeRequest:
		r.syncLocked(c, m)
	case wire.TypeEphemeral:
		d := r.docs[m.DocumentID]
		if d == nil {
			return
		}
		for p := range d.peers {
			if p != c {
				fwd := *m
				r.sendLocked(p, &fwd)
			}
		}
	}
}

func (r *Relay) joinLocked(c *relayConn, m *wire.Message) {
	if r.Reject != nil {
		if e := r.Reject(m); e != nil {
			c.peerID = m.SenderID
			r.sendLocked(c, e)
			r.hangUpLocked(c)
			return
		}
	}
	versions := m.SupportedProtocolVersions
	if len(versions) > 0 && !slices.Contains(versions, wire.ProtocolV1) {
		c.peerID = m.SenderID
		r.sendLocked(c, &wire.Message{Type: wire.TypeError, Message: "unsupported protocol version"})
		r.hangUpLocked(c)
		return
	}
	c.peerID = m.SenderID
	sid := r.StorageID
	r.sendLocked(c, &wire.Message{Type: wire.TypePeer, PeerMetadata: &wire.PeerMetadata{StorageID: &sid},
		SelectedProtocolVersion: wire.ProtocolV1})
}

func (r *Relay) syncLocked(c *relayConn, m *wire.Message) {
	d := r.docs[m.DocumentID]
	if d == nil {
		d = &relayDoc{doc: crdt.New(), peers: make(map[*relayConn]*crdt.SyncState)}
		r.docs[m.DocumentID] = d
	}
	ss := d.peers[c]
	if ss == nil {
		ss = d.doc.NewSyncState()
		d.peers[c] = ss
	}
	before := d.doc.Heads()
	if _, err := ss.Receive(m.Data); err != nil {
		r.sendLocked(c, &wire.Message{Type: wire.TypeError, Message: err.Error(), Code: "bad-sync",
			DocumentID: m.DocumentID})
		return
	}
	if m.Type == wire.TypeRequest && len(d.doc.Heads()) == 0 {
		r.sendLocked(c, &wire.Message{Type: wire.TypeDocUnavailable, DocumentID: m.DocumentID})
	}
	r.generateLocked(c, m.DocumentID, ss)
	if slices.Equal(before, d.doc.Heads()) {
		return
	}
	for p, pss := range d.peers {
		if p != c {
			r.generateLocked(p, m.DocumentID, pss)
		}
	}
}

func (r *Relay) generateLocked(c *relayConn, doc string, ss *crdt.SyncState) {
	for range 16 {
		data, ok, err := ss.Generate()
		if err != nil {
			slog.Warn("relay: generate", slog.Any("err", err))
			return
		}
		if !ok {
			return
		}
		r.sendLocked(c, &wire.Message{Type: wire.TypeSync, DocumentID: doc, Data: data})
	}
}

// sendLocked stamps m as from the relay to c and queues it; a peer whose
// queue is full is disconnected.
func (r *Relay) sendLocked(c *relayConn, m *wire.Message) {
	if m.Type != wire.TypeEphemeral {
		m.SenderID = r.PeerID
	}
	m.TargetID = c.peerID
	frame, err := wire.Encode(m)
	if err != nil {
		slog.Warn("relay: encode", slog.Any("err", err))
		return
	}
	select {
	case c.out <- frame:
	default:
		c.close()
	}
}

// hangUpLocked closes c once the frames queued so far are sent.
func (r *Relay) hangUpLocked(c *relayConn) {
	select {
	case c.out <- nil:
	default:
		c.close()
	}
}
