package loadgen

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"sync"
	"sync/atomic"

	"github.com/gorilla/websocket"

	"github.com/casual-dev/casual/collab/client"
	"github.com/casual-dev/casual/crdt"
)

// bench holds the clients of one run.
type bench struct {
	cfg   Config
	dial  func(ctx context.Context) (client.Transport, error)
	rooms []*room
}

// room is one document and its clients; slot i of clients and handles is
// client i of the room, and clients 0..W-1 are its writers.
type room struct {
	idx     int
	id      crdt.DocID
	clients []*client.Client
	handles []*client.Handle
	light   []*lightReader // slot i set (and clients[i] nil) for light readers
	want    []crdt.Hash    // every writer's heads after its last update
}

func newBench(cfg Config) *bench {
	b := &bench{cfg: cfg, dial: cfg.Dial}
	if b.dial == nil {
		// One dialer for the run, sharing write buffers between the
		// connections: most of them are idle at any moment.
		d := &websocket.Dialer{HandshakeTimeout: cfg.Timeout, ReadBufferSize: 1024,
			WriteBufferSize: 4096, WriteBufferPool: &sync.Pool{}}
		// A comma-separated URL list spreads connections over several
		// nodes round-robin (a cluster sharing one store and bus).
		urls := strings.Split(cfg.URL, ",")
		var next atomic.Uint64
		b.dial = func(ctx context.Context) (client.Transport, error) {
			u := urls[(next.Add(1)-1)%uint64(len(urls))]
			return client.DialWebSocket(ctx, strings.TrimSpace(u), client.WithDialer(d))
		}
	}
	for i := range cfg.Rooms {
		b.rooms = append(b.rooms, &room{idx: i,
			clients: make([]*client.Client, cfg.ClientsPerRoom),
			handles: make([]*client.Handle, cfg.ClientsPerRoom),
			light:   make([]*lightReader, cfg.ClientsPerRoom)})
	}
	return b
}

// connect opens every client and its room's document: first each room's
// creator (which gives the document a first change and waits for the
// server to have it), then everyone else, who finds it.
func (b *bench) connect(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(ctx, b.cfg.Timeout)
	defer cancel()
	err := parallel(ctx, len(b.rooms), b.cfg.ConnectConcurrency, func(ctx context.Context, i int) error {
		r := b.rooms[i]
		c, err := b.open(ctx, r, 0)
		if err != nil {
			return err
		}
		h, err := c.Create(ctx)
		if err != nil {
			return err
		}
		r.id, r.handles[0] = h.ID(), h
		if err := h.Change(ctx, "bench room", func(d *crdt.Doc) error {
			return d.Set([]any{"bench"}, map[string]any{"room": int64(r.idx)})
		}); err != nil {
			return err
		}
		return h.WaitAcked(ctx)
	})
	if err != nil {
		return fmt.Errorf("bench: create rooms: %w", err)
	}
	per := b.cfg.ClientsPerRoom - 1
	err = parallel(ctx, len(b.rooms)*per, b.cfg.ConnectConcurrency, func(ctx context.Context, i int) error {
		r, slot := b.rooms[i/per], 1+i%per
		if b.isLight(slot) {
			return b.openLight(ctx, r, slot)
		}
		c, err := b.open(ctx, r, slot)
		if err != nil {
			return err
		}
		h, err := c.Find(ctx, r.id)
		if err != nil {
			return err
		}
		r.handles[slot] = h
		return nil
	})
	if err != nil {
		return fmt.Errorf("bench: join rooms: %w", err)
	}
	return nil
}

// isLight reports whether client slot of a room is a light reader.
func (b *bench) isLight(slot int) bool {
	return b.cfg.LightReaders && slot > 0 && slot >= b.cfg.WritersPerRoom
}

func (b *bench) openLight(ctx context.Context, r *room, slot int) error {
	peer := fmt.Sprintf("bench-r%d-c%d", r.idx, slot)
	t, err := b.dial(ctx)
	if err != nil {
		return fmt.Errorf("%s: %w", peer, err)
	}
	expect := 0
	if !b.cfg.Idle {
		expect = b.cfg.WritersPerRoom * b.cfg.Updates
	}
	l, err := openLight(ctx, t, peer, r.id, expect)
	if err != nil {
		t.Close()
		return fmt.Errorf("%s: %w", peer, err)
	}
	r.light[slot] = l
	return nil
}

func (b *bench) open(ctx context.Context, r *room, slot int) (*client.Client, error) {
	peer := fmt.Sprintf("bench-r%d-c%d", r.idx, slot)
	t, err := b.dial(ctx)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", peer, err)
	}
	c, err := client.New(ctx, t, client.Options{PeerID: peer, Logger: b.cfg.Logger})
	if err != nil {
		return nil, fmt.Errorf("%s: %w", peer, err)
	}
	r.clients[slot] = c
	return c, nil
}

// converge waits until every replica of a room has every writer's last
// heads, then reports whether all replicas of each room have identical
// heads.
func (b *bench) converge(ctx context.Context) (bool, error) {
	ctx, cancel := context.WithTimeout(ctx, b.cfg.Timeout)
	defer cancel()
	type slot struct{ r, i int }
	var slots []slot
	for ri, r := range b.rooms {
		for i := range r.handles {
			slots = append(slots, slot{ri, i})
		}
	}
	err := parallel(ctx, len(slots), b.cfg.ConnectConcurrency, func(ctx context.Context, k int) error {
		r := b.rooms[slots[k].r]
		if l := r.light[slots[k].i]; l != nil {
			return l.waitHas(ctx, r.want)
		}
		return r.handles[slots[k].i].WaitFor(ctx, func(d *crdt.Doc) bool {
			for _, h := range r.want {
				if !d.HasChange(h) {
					return false
				}
			}
			return true
		})
	})
	if err != nil {
		if errors.Is(err, context.Canceled) {
			return false, fmt.Errorf("bench: converge: %w", err)
		}
		// Timed out, or a replica lost its connection: not converged.
		b.cfg.Logger.Warn("bench: replicas did not converge", slog.Any("err", err))
		return false, nil
	}
	for _, r := range b.rooms {
		first := sortedHeads(r.handles[0].Heads())
		for i := 1; i < len(r.handles); i++ {
			var heads []crdt.Hash
			if r.light[i] != nil {
				heads = r.light[i].Heads()
			} else {
				heads = sortedHeads(r.handles[i].Heads())
			}
			if !slices.Equal(first, heads) {
				return false, nil
			}
		}
	}
	return true, nil
}

func (b *bench) dropped() int {
	n := 0
	for _, r := range b.rooms {
		for _, l := range r.light {
			if l != nil && l.Err() != nil {
				n++
			}
		}
		for _, c := range r.clients {
			if c != nil && c.Err() != nil {
				n++
			}
		}
	}
	return n
}

func (b *bench) closeAll() {
	var cs []*client.Client
	for _, r := range b.rooms {
		for _, c := range r.clients {
			if c != nil {
				cs = append(cs, c)
			}
		}
	}
	var ls []*lightReader
	for _, r := range b.rooms {
		for _, l := range r.light {
			if l != nil {
				ls = append(ls, l)
			}
		}
	}
	_ = parallel(context.Background(), len(ls), b.cfg.ConnectConcurrency, func(_ context.Context, i int) error {
		ls[i].Close()
		return nil
	})
	// Closing only fails for transports already broken; nothing to do then.
	_ = parallel(context.Background(), len(cs), b.cfg.ConnectConcurrency, func(_ context.Context, i int) error {
		if err := cs[i].Close(); err != nil {
			b.cfg.Logger.Debug("bench: close client", slog.String("peer", cs[i].PeerID()), slog.Any("err", err))
		}
		return nil
	})
}

// parallel runs fn(ctx, i) for i in [0, n) on up to workers goroutines, and
// returns the first error, after which the rest are cancelled.
func parallel(ctx context.Context, n, workers int, fn func(ctx context.Context, i int) error) error {
	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	next := make(chan int)
	var wg sync.WaitGroup
	for range min(workers, n) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range next {
				if err := fn(ctx, i); err != nil {
					cancel(err)
				}
			}
		}()
	}
feed:
	for i := range n {
		select {
		case next <- i:
		case <-ctx.Done():
			break feed
		}
	}
	close(next)
	wg.Wait()
	return context.Cause(ctx)
}

func sortedHeads(hs []crdt.Hash) []crdt.Hash {
	hs = slices.Clone(hs)
	slices.SortFunc(hs, func(a, b crdt.Hash) int { return strings.Compare(string(a[:]), string(b[:])) })
	return hs
}
