package rooms

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/casual-dev/casual/crdt"
	"github.com/casual-dev/casual/store"
)

// Manager opens a room when a document is first used and unloads it
// IdleDelay after its last user released it (after storing everything).
type Manager struct {
	st        Storage
	cfg       Config
	idleDelay time.Duration

	mu      sync.Mutex
	entries map[crdt.DocID]*entry
	closed  bool
	wg      sync.WaitGroup // unloads in flight
}

type entry struct {
	ready   chan struct{} // closed once room or err is set
	room    *Room
	err     error
	refs    int
	idle    *time.Timer
	closing chan struct{} // non-nil while unloading; closed when done
}

// NewManager returns a manager that keeps rooms over st.
func NewManager(st Storage, cfg Config, idleDelay time.Duration) *Manager {
	return &Manager{st: st, cfg: cfg.withDefaults(), idleDelay: idleDelay, entries: map[crdt.DocID]*entry{}}
}

// Acquire returns the room of id, loading the document if needed, and
// holds it open until the matching Release.
func (m *Manager) Acquire(ctx context.Context, id crdt.DocID) (*Room, error) {
	for {
		m.mu.Lock()
		if m.closed {
			m.mu.Unlock()
			return nil, ErrRoomClosed
		}
		e := m.entries[id]
		if e != nil && e.closing != nil {
			closing := e.closing
			m.mu.Unlock()
			select { // the old room is storing its last state: wait, then reload
			case <-closing:
				continue
			case <-ctx.Done():
				return nil, ctx.Err()
			}
		}
		if e == nil {
			e = &entry{ready: make(chan struct{})}
			m.entries[id] = e
			e.refs++
			m.mu.Unlock()
			m.load(ctx, id, e)
		} else {
			e.refs++
			if e.idle != nil {
				e.idle.Stop()
				e.idle = nil
			}
			m.mu.Unlock()
		}
		select {
		case <-e.ready:
		case <-ctx.Done():
			m.Release(id)
			return nil, ctx.Err()
		}
		if e.err != nil {
			m.Release(id)
			return nil, e.err
		}
		return e.room, nil
	}
}

func (m *Manager) load(ctx context.Context, id crdt.DocID, e *entry) {
	defer close(e.ready)
	r := newRoom(id, m.st, m.cfg)
	if m.cfg.Bus != nil {
		unsub, err := m.cfg.Bus.Subscribe(ctx, id, r.fromBus)
		if err != nil {
			// Serve anyway: changes still reach the store, and the room
			// catches up from it when the bus comes back.
			m.cfg.Logger.Warn("bus subscribe failed", slog.String("doc", string(id)), slog.Any("err", err))
			r.behind.Store(true)
		} else {
			r.unsub = unsub
		}
	}
	chunks, err := m.st.Load(ctx, string(id))
	if err == nil || errors.Is(err, store.ErrNotFound) {
		var doc *crdt.Doc
		if doc, err = crdt.Load(store.Concat(chunks)); err == nil {
			r.start(doc, chunks)
			e.room = r
			return
		}
	}
	if r.unsub != nil {
		r.unsub()
	}
	e.err = fmt.Errorf("%w: %s: %v", ErrLoad, id, err)
}

// Release gives back a room taken with Acquire.
func (m *Manager) Release(id crdt.DocID) {
	m.mu.Lock()
	defer m.mu.Unlock()
	e := m.entries[id]
	if e == nil || e.refs == 0 {
		return
	}
	e.refs--
	if e.refs > 0 || m.closed {
		return
	}
	select {
	case <-e.ready:
	default:
		return // still loading; the loader's Acquire will release again
	}
	if e.err != nil {
		delete(m.entries, id)
		return
	}
	e.idle = time.AfterFunc(m.idleDelay, func() { m.unload(id, e) })
}

func (m *Manager) unload(id crdt.DocID, e *entry) {
	m.mu.Lock()
	if m.entries[id] != e || e.refs > 0 || e.closing != nil || m.closed {
		m.mu.Unlock()
		return
	}
	e.closing = make(chan struct{})
	e.idle = nil
	m.wg.Add(1)
	m.mu.Unlock()

	e.room.close()
	m.cfg.Logger.Debug("room unloaded", slog.String("doc", string(id)))

	m.mu.Lock()
	delete(m.entries, id)
	close(e.closing)
	m.mu.Unlock()
	m.wg.Done()
}

// Loaded returns how many rooms are open.
func (m *Manager) Loaded() int {
	m.mu.Lock()
	defer m.mu.Unlock()
	return len(m.entries)
}

// Lookup returns the room of id if it is open, without holding it.
func (m *Manager) Lookup(id crdt.DocID) *Room {
	m.mu.Lock()
	defer m.mu.Unlock()
	if e := m.entries[id]; e != nil && e.room != nil && e.closing == nil {
		return e.room
	}
	return nil
}

// Close stores and closes every room. Acquire fails afterwards.
func (m *Manager) Close() {
	m.mu.Lock()
	m.closed = true
	var rooms []*Room
	for _, e := range m.entries {
		if e.idle != nil {
			e.idle.Stop()
		}
		if e.room != nil && e.closing == nil {
			rooms = append(rooms, e.room)
		}
	}
	m.mu.Unlock()
	var wg sync.WaitGroup
	for _, r := range rooms {
		wg.Add(1)
		go func() { defer wg.Done(); r.close() }()
	}
	wg.Wait()
	m.wg.Wait()
}
