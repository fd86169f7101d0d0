package client

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"sync"

	"github.com/casual-dev/casual/collab/wire"
	"github.com/casual-dev/casual/crdt"
)

// maxGenerate bounds the sync messages generated in one go. Automerge
// returns none once the peer is known to be up to date; the bound only
// guards against a sync state that never says so.
const maxGenerate = 16

// Ephemeral is an ephemeral message received for a document.
type Ephemeral struct {
	SenderID  string
	SessionID string
	Count     uint64
	Data      []byte // CBOR, opaque to the protocol
}

// Handle is one open document: a local replica kept in sync with the server.
// Its methods are safe for concurrent use.
type Handle struct {
	c   *Client
	id  crdt.DocID
	eph chan Ephemeral

	// syncMu is held from generating sync messages until they are sent, so
	// they leave in the order Automerge produced them.
	syncMu sync.Mutex

	mu          sync.Mutex // guards what follows, and doc and ss
	doc         *crdt.Doc
	ss          *crdt.SyncState
	requesting  bool // found, not created: the first message is a request
	ready       bool // created here, or received with heads
	unavailable bool // the server said doc-unavailable while not ready
	serverHeads []crdt.Hash
	heardServer bool          // serverHeads is from a server message
	changed     chan struct{} // closed and replaced on every state change
}

// ID returns the document id.
func (h *Handle) ID() crdt.DocID { return h.id }

// Ephemeral delivers ephemeral messages other peers broadcast for this
// document, deduplicated per sender session. When the buffer is full new
// messages are dropped.
func (h *Handle) Ephemeral() <-chan Ephemeral { return h.eph }

// Read calls fn with the document under the handle's lock. fn must not keep
// d or call other methods of h.
func (h *Handle) Read(fn func(d *crdt.Doc)) {
	h.mu.Lock()
	defer h.mu.Unlock()
	fn(h.doc)
}

// Heads returns the local replica's heads.
func (h *Handle) Heads() []crdt.Hash {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.doc.Heads()
}

// Change edits the document with fn, commits the edits as one change with
// message msg, and sends them to the server. fn runs under the handle's
// lock. If fn fails nothing is committed or sent here, but edits fn already
// made stay pending in the replica (crdt has no rollback) and go out with
// the next change. If ctx ends before the change is sent, Change returns
// that error; the change stays in the replica and goes out with the next
// exchange (a later change, or any message from the server).
func (h *Handle) Change(ctx context.Context, msg string, fn func(d *crdt.Doc) error) error {
	if err := h.c.Err(); err != nil {
		return fmt.Errorf("change %s: %w", h.id, h.c.stoppedErr())
	}
	h.syncMu.Lock()
	defer h.syncMu.Unlock()
	h.mu.Lock()
	if !h.ready {
		h.mu.Unlock()
		return fmt.Errorf("change %s: document not ready", h.id)
	}
	if err := fn(h.doc); err != nil {
		h.mu.Unlock()
		return fmt.Errorf("change %s: %w", h.id, err)
	}
	if _, _, err := h.doc.Commit(msg); err != nil {
		h.mu.Unlock()
		return fmt.Errorf("change %s: %w", h.id, err)
	}
	msgs, err := h.generateLocked()
	h.notifyLocked()
	h.mu.Unlock()
	if err != nil {
		return fmt.Errorf("change %s: %w", h.id, err)
	}
	if err := h.sendAll(ctx, msgs); err != nil {
		return fmt.Errorf("change %s: %w", h.id, err)
	}
	return nil
}

// Broadcast sends an ephemeral message about the document to its other
// peers. data is opaque (JS peers expect CBOR) and must not be empty.
func (h *Handle) Broadcast(ctx context.Context, data []byte) error {
	if len(data) == 0 {
		return fmt.Errorf("broadcast %s: empty data", h.id)
	}
	c := h.c
	m := c.docMessage(wire.TypeEphemeral, h.id, data)
	m.SessionID = c.sessionID
	m.Count = wire.Count(c.nextCount())
	if err := c.send(ctx, m); err != nil {
		return fmt.Errorf("broadcast %s: %w", h.id, err)
	}
	return nil
}

// WaitFor returns once pred, called under the handle's lock after every
// change of the replica (and once at the start), returns true.
func (h *Handle) WaitFor(ctx context.Context, pred func(d *crdt.Doc) bool) error {
	return h.wait(ctx, func() bool { return pred(h.doc) })
}

// WaitReady returns once the document is usable: created here, or received
// from the server (possibly after Find reported ErrUnavailable).
func (h *Handle) WaitReady(ctx context.Context) error {
	return h.wait(ctx, func() bool { return h.ready })
}

// WaitAcked returns once the server's latest sync message says it has every
// change of the replica's current heads.
func (h *Handle) WaitAcked(ctx context.Context) error {
	return h.wait(ctx, func() bool {
		ours := h.doc.Heads()
		switch {
		case len(ours) == 0:
			return true
		case !h.heardServer:
			return false
		case slices.Equal(ours, h.serverHeads):
			return true
		}
		return h.doc.Covers(h.serverHeads, ours)
	})
}

// wait blocks until cond, called under h.mu, holds.
func (h *Handle) wait(ctx context.Context, cond func() bool) error {
	for {
		h.mu.Lock()
		ok := cond()
		ch := h.changed
		h.mu.Unlock()
		if ok {
			return nil
		}
		select {
		case <-ch:
		case <-ctx.Done():
			return fmt.Errorf("doc %s: %w", h.id, ctx.Err())
		case <-h.c.done:
			h.mu.Lock()
			ok := cond()
			h.mu.Unlock()
			if ok {
				return nil
			}
			return fmt.Errorf("doc %s: %w", h.id, h.c.stoppedErr())
		}
	}
}

func (h *Handle) notifyLocked() {
	close(h.changed)
	h.changed = make(chan struct{})
}

// sync generates and sends what the server needs to hear about the replica.
func (h *Handle) sync(ctx context.Context) error {
	h.syncMu.Lock()
	defer h.syncMu.Unlock()
	h.mu.Lock()
	msgs, err := h.generateLocked()
	h.mu.Unlock()
	if err != nil {
		return err
	}
	return h.sendAll(ctx, msgs)
}

// receiveSync applies a sync message from the server and answers it. It
// runs on the read goroutine.
func (h *Handle) receiveSync(ctx context.Context, data []byte) {
	h.syncMu.Lock()
	defer h.syncMu.Unlock()
	h.mu.Lock()
	heads, err := h.ss.Receive(data)
	if err != nil {
		h.mu.Unlock()
		h.c.log.Warn("bad sync message from server", slog.String("doc", string(h.id)), slog.Any("err", err))
		return
	}
	h.serverHeads, h.heardServer = heads, true
	if !h.ready && len(h.doc.Heads()) > 0 {
		h.ready, h.unavailable = true, false
	}
	msgs, err := h.generateLocked()
	h.notifyLocked()
	h.mu.Unlock()
	if err != nil {
		h.c.log.Warn("generate sync message", slog.String("doc", string(h.id)), slog.Any("err", err))
		return
	}
	if err := h.sendAll(ctx, msgs); err != nil {
		// The connection is failing; the read goroutine will see it end.
		h.c.log.Debug("answer sync", slog.String("doc", string(h.id)), slog.Any("err", err))
	}
}

// markUnavailable records doc-unavailable. A replica that already has the
// document ignores it, as JS clients do.
func (h *Handle) markUnavailable() {
	h.mu.Lock()
	defer h.mu.Unlock()
	if !h.ready {
		h.unavailable = true
		h.notifyLocked()
	}
}

// generateLocked returns the sync messages the server needs now. A handle
// being found sends its first one as request: "tell me if you lack it".
func (h *Handle) generateLocked() ([]*wire.Message, error) {
	var out []*wire.Message
	for range maxGenerate {
		data, ok, err := h.ss.Generate()
		if err != nil {
			return out, err
		}
		if !ok {
			return out, nil
		}
		typ := wire.TypeSync
		if h.requesting {
			typ, h.requesting = wire.TypeRequest, false
		}
		out = append(out, h.c.docMessage(typ, h.id, data))
	}
	h.c.log.Warn("sync state keeps generating messages", slog.String("doc", string(h.id)))
	return out, nil
}

// sendAll sends msgs, generated from the sync state, in order. If one is
// not sent while the connection lives on (ctx ended), the sync state
// already counts it as sent: it would never send those changes again, and
// the server would ask for them without end. So the state starts afresh,
// and the next exchange (a later change, or any message from the server)
// carries whatever the server lacks.
func (h *Handle) sendAll(ctx context.Context, msgs []*wire.Message) error {
	for _, m := range msgs {
		if err := h.c.send(ctx, m); err != nil {
			if h.c.Err() != nil {
				return errors.Join(err, h.c.stoppedErr())
			}
			h.mu.Lock()
			h.ss = h.doc.NewSyncState()
			h.mu.Unlock()
			return err
		}
	}
	return nil
}
