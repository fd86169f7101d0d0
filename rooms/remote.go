package rooms

import (
	"context"
	"errors"
	"log/slog"
	"slices"
	"time"

	"github.com/casual-dev/casual/store"
)

// handleRemote applies what another node's room of this document accepted.
func (r *Room) handleRemote(msg BusMessage) {
	if h := r.cfg.Hooks.BusReceived; h != nil {
		var lat time.Duration
		if msg.SentAt > 0 {
			lat = time.Duration(r.now().UnixNano() - msg.SentAt)
		}
		h(msg.Kind, lat)
	}
	switch msg.Kind {
	case BusPresence:
		p := msg.Presence
		if old := r.presence[p.SenderID]; old != nil && old.sessionID == p.SessionID && p.Count <= old.count {
			return
		}
		r.presence[p.SenderID] = &presence{sessionID: p.SessionID, count: p.Count, data: p.Data, at: r.now()}
		r.relay(p, "")
	case BusChanges:
		r.applyStored(msg.Changes)
		for _, h := range msg.Heads {
			if !r.doc.HasChange(h) {
				r.behind.Store(true) // a dependency never reached us: a gap
				break
			}
		}
	case BusResync:
		r.behind.Store(true)
	}
}

// applyStored merges changes that are already in the store (another node
// stored them) without storing them again: local changes not yet stored
// are set aside first, then whatever the merge adds to the incremental
// save is dropped.
func (r *Room) applyStored(data []byte) {
	if inc := r.doc.SaveIncremental(); inc != nil {
		r.pending = append(r.pending, inc)
		r.dirty = true
	}
	before := r.doc.Heads()
	if err := r.doc.LoadIncremental(data); err != nil {
		r.log.Warn("changes from another node could not be applied; catching up from the store", slog.Any("err", err))
		r.behind.Store(true)
	}
	r.doc.SaveIncremental()
	if !slices.Equal(before, r.doc.Heads()) {
		r.peersNeedGen()
	}
}

func (r *Room) peersNeedGen() {
	for _, m := range r.members {
		if m.syncing {
			m.needGen = true
		}
	}
}

// catchUp reloads every stored chunk of the document and merges it: what
// the bus lost arrives this way.
func (r *Room) catchUp(ctx context.Context) {
	r.behind.Store(false)
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	chunks, err := r.st.Load(ctx, string(r.id))
	if h := r.cfg.Hooks.CaughtUp; h != nil {
		h(err)
	}
	if err != nil && !errors.Is(err, store.ErrNotFound) {
		r.log.Warn("catch up from the store failed; will retry", slog.Any("err", err))
		r.behind.Store(true)
		return
	}
	r.applyStored(store.Concat(chunks))
	known := map[string]bool{}
	for _, c := range r.chunks {
		known[c.Hash] = true
	}
	for _, c := range chunks {
		if !known[c.Hash] {
			r.chunks = append(r.chunks, c.ChunkRef)
		}
	}
}

func (r *Room) publish(msg BusMessage) {
	msg.Node = r.cfg.NodeID
	msg.SentAt = r.now().UnixNano()
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	err := r.cfg.Bus.Publish(ctx, r.id, msg)
	if h := r.cfg.Hooks.BusPublished; h != nil {
		h(msg.Kind, err)
	}
	if err != nil {
		r.log.Warn("bus publish failed; other nodes catch up from the store", slog.Any("err", err))
	}
}
