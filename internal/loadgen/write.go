package loadgen

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strconv"
	"sync"
	"time"

	"github.com/casual-dev/casual/collab/client"
	"github.com/casual-dev/casual/crdt"
)

// updateKey is the root key of update seq of writer w: flat keys, so
// concurrent writers never race to create a shared parent map.
func updateKey(w, seq int) string {
	return "u/" + strconv.Itoa(w) + "/" + strconv.Itoa(seq)
}

// write runs the writers and the fan-out trackers of every room and fills
// the write fields of res.
func (b *bench) write(parent context.Context, res *Result) error {
	cfg := b.cfg
	span := cfg.Timeout
	if cfg.Rate > 0 {
		span += time.Duration(float64(cfg.Updates) / cfg.Rate * float64(time.Second))
	}
	ctx, cancel := context.WithTimeout(parent, span)
	defer cancel()

	var (
		trackWG, writeWG sync.WaitGroup
		mu               sync.Mutex // guards the results below
		fanout, acks     []time.Duration
		missing, updates int
		failed           int
	)
	for _, r := range b.rooms {
		for _, l := range r.light {
			if l == nil {
				continue
			}
			trackWG.Add(1)
			go func() {
				defer trackWG.Done()
				lat, miss, err := l.waitSeen(ctx)
				mu.Lock()
				defer mu.Unlock()
				fanout = append(fanout, lat...)
				missing += miss
				if err != nil && !errors.Is(err, context.DeadlineExceeded) {
					cfg.Logger.Warn("bench: light reader stopped", slog.String("doc", string(r.id)),
						slog.String("peer", l.peerID), slog.Any("err", err))
				}
			}()
		}
		for slot, h := range r.handles {
			if h == nil {
				continue // a light reader
			}
			tr := newTracker(slot, cfg.WritersPerRoom, cfg.Updates)
			if tr.remaining == 0 {
				continue
			}
			trackWG.Add(1)
			go func() {
				defer trackWG.Done()
				err := h.WaitFor(ctx, tr.scan)
				mu.Lock()
				defer mu.Unlock()
				fanout = append(fanout, tr.lat...)
				missing += tr.remaining
				if err != nil && !errors.Is(err, context.DeadlineExceeded) {
					cfg.Logger.Warn("bench: fan-out tracking stopped", slog.String("doc", string(r.id)),
						slog.Int("client", slot), slog.Any("err", err))
				}
			}()
		}
	}
	start := time.Now()
	for _, r := range b.rooms {
		r.want = make([]crdt.Hash, 0, cfg.WritersPerRoom)
		for w := range cfg.WritersPerRoom {
			writeWG.Add(1)
			go func() {
				defer writeWG.Done()
				lat, err := writer(ctx, r.handles[w], w, cfg.Updates, cfg.Rate)
				heads := r.handles[w].Heads()
				mu.Lock()
				defer mu.Unlock()
				acks = append(acks, lat...)
				updates += len(lat)
				r.want = append(r.want, heads...)
				if err != nil {
					// An overloaded server shows up as writers that time
					// out: a result to report, not a reason to abort.
					failed++
					cfg.Logger.Warn("bench: writer stopped", slog.Int("room", r.idx), slog.Int("writer", w),
						slog.Int("acked", len(lat)), slog.Any("err", err))
				}
			}()
		}
	}
	writeWG.Wait()
	res.WriteTime = time.Since(start)
	if failed > 0 {
		cancel() // the trackers would wait for updates that never come
	}
	trackWG.Wait()
	res.Updates, res.Missing, res.FailedWriters = updates, missing, failed
	res.Fanout, res.Ack = summarize(fanout), summarize(acks)
	if res.WriteTime > 0 {
		res.UpdatesPerSec = float64(updates) / res.WriteTime.Seconds()
	}
	if err := parent.Err(); err != nil {
		return fmt.Errorf("bench: write: %w", err)
	}
	return nil
}

// writer sends n updates at rate per second (0: back to back), each
// waiting for the server's acknowledgement, and returns the acknowledged
// latencies.
func writer(ctx context.Context, h *client.Handle, w, n int, rate float64) ([]time.Duration, error) {
	var tick <-chan time.Time
	if rate > 0 {
		t := time.NewTicker(time.Duration(float64(time.Second) / rate))
		defer t.Stop()
		tick = t.C
	}
	lat := make([]time.Duration, 0, n)
	for seq := range n {
		if tick != nil && seq > 0 {
			select {
			case <-tick:
			case <-ctx.Done():
				return lat, ctx.Err()
			}
		}
		sent := time.Now()
		key := updateKey(w, seq)
		if err := h.Change(ctx, sentPrefix+strconv.FormatInt(sent.UnixNano(), 10), func(d *crdt.Doc) error {
			return d.Set([]any{key}, sent.UnixNano())
		}); err != nil {
			return lat, err
		}
		if err := h.WaitAcked(ctx); err != nil {
			return lat, err
		}
		lat = append(lat, time.Since(sent))
	}
	return lat, nil
}

// tracker measures, for one replica, when each other writer's updates
// become visible. Updates of one writer arrive in order (each depends on
// the previous), so it only looks for the next expected key of each writer:
// one lookup per writer and notification, not a rescan.
type tracker struct {
	self      int
	updates   int
	next      []int // per writer, the next sequence number not yet seen
	remaining int
	lat       []time.Duration
}

func newTracker(self, writers, updates int) *tracker {
	t := &tracker{self: self, updates: updates, next: make([]int, writers)}
	for w := range writers {
		if w != self {
			t.remaining += updates
		}
	}
	return t
}

// scan records the updates that became visible and reports whether all
// have; it is a Handle.WaitFor predicate.
func (t *tracker) scan(d *crdt.Doc) bool {
	now := time.Now().UnixNano()
	for w := range t.next {
		if w == t.self {
			continue
		}
		for t.next[w] < t.updates {
			v, err := d.Get(updateKey(w, t.next[w]))
			if err != nil || v == nil {
				break
			}
			if sent, ok := v.(int64); ok {
				t.lat = append(t.lat, time.Duration(max(now-sent, 0)))
			}
			t.next[w]++
			t.remaining--
		}
	}
	return t.remaining == 0
}
