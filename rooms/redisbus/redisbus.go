// Package redisbus is a rooms.Bus over Redis pub/sub: one channel per
// document, one subscriber connection shared by every subscription of a
// node. Redis pub/sub forgets what it could not deliver, so the bus tells
// rooms when that may have happened and they catch up from the store:
//
//   - after the subscriber connection is replaced (Redis restarted, the
//     network failed), every local subscriber of a resubscribed channel
//     gets a rooms.BusResync;
//   - after a Publish fails, the document is remembered, and once Redis
//     takes publishes again a BusResync is published on its channel, so the
//     other nodes catch up too.
package redisbus

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/redis/go-redis/v9/maintnotifications"

	"github.com/casual-dev/casual/crdt"
	"github.com/casual-dev/casual/internal/backoff"
	"github.com/casual-dev/casual/rooms"
)

// Errors callers branch on.
var (
	// ErrClosed: the bus was closed.
	ErrClosed = errors.New("redisbus: closed")
	// ErrDown: an earlier publish failed and Redis has not answered since;
	// the message was not sent, and the document gets a Resync once Redis
	// is back.
	ErrDown = errors.New("redisbus: redis unavailable")
)

// DefaultPrefix starts the name of every document's channel.
const DefaultPrefix = "casual:doc:"

const (
	defaultSubscribeWait = 2 * time.Second
	idlePing             = 5 * time.Second // an idle subscriber checks its connection this often
	minBackoff           = 50 * time.Millisecond
	maxBackoff           = 2 * time.Second
	unsubscribeTimeout   = 2 * time.Second
	resyncBatch          = 256
	maxPooledBuf         = 1 << 20 // larger encode buffers are left to the GC
)

// Options configures New. The zero value is usable.
type Options struct {
	// Logger receives connection losses and recoveries; nil discards.
	Logger *slog.Logger
	// Prefix starts every channel name (DefaultPrefix when empty); nodes
	// sharing documents must use the same one.
	Prefix string
	// SubscribeWait bounds how long Subscribe waits for Redis to confirm a
	// new channel (default 2 s). A confirmation that comes later brings the
	// subscriber a Resync instead.
	SubscribeWait time.Duration
	// Hooks report what the bus does, for metrics.
	Hooks Hooks
}

// Hooks are called on the bus's goroutines and must be quick. Nil fields
// are skipped.
type Hooks struct {
	// Reconnected: the subscriber connection works again after failing.
	Reconnected func()
	// Resynced: subscribers of one channel were sent a Resync.
	Resynced func()
	// Recovered: publishing works again after failures; a Resync was
	// published for docs documents whose messages were lost.
	Recovered func(docs int)
	// Undecodable: a payload on a document channel could not be decoded.
	Undecodable func(err error)
}

// Bus is a rooms.Bus over Redis. Its methods are safe for concurrent use.
type Bus struct {
	rdb  *redis.Client
	ps   *redis.PubSub
	opts Options
	log  *slog.Logger
	bufs sync.Pool // *[]byte encode buffers

	// subMu orders SUBSCRIBE and UNSUBSCRIBE commands, so what Redis has
	// follows the reference counts.
	subMu sync.Mutex
	// deliverMu is held while subscribers' functions run: cancel waits on
	// it, so a cancelled function is never called afterwards.
	deliverMu sync.Mutex

	mu      sync.Mutex
	subs    map[string]*channelSubs // by channel
	nextID  uint64
	down    bool                    // a publish failed; the recovery loop is probing
	missed  map[crdt.DocID]struct{} // documents whose messages were lost while down
	lost    bool                    // the subscriber connection is failing
	closed  bool
	kick    chan struct{} // wakes the recovery loop
	done    chan struct{} // closed by Close
	cancel  context.CancelFunc
	wg      sync.WaitGroup
	closeMu sync.Once
}

type channelSubs struct {
	fns       map[uint64]func(rooms.BusMessage)
	ready     chan struct{} // closed at the first confirmation
	confirmed bool
	late      bool // a Subscribe stopped waiting for the confirmation
}

var _ rooms.Bus = (*Bus)(nil)

// New connects to the Redis at url (redis://[user:pass@]host:port/db or
// rediss://…), checks it answers, and starts the subscriber and recovery
// goroutines; Close stops them.
func New(ctx context.Context, url string, opts Options) (*Bus, error) {
	ro, err := redis.ParseURL(url)
	if err != nil {
		return nil, fmt.Errorf("redisbus: %w", err)
	}
	tune(ro)
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	if opts.Prefix == "" {
		opts.Prefix = DefaultPrefix
	}
	if opts.SubscribeWait <= 0 {
		opts.SubscribeWait = defaultSubscribeWait
	}
	rdb := redis.NewClient(ro)
	if err := rdb.Ping(ctx).Err(); err != nil {
		rdb.Close()
		return nil, fmt.Errorf("redisbus: ping %s: %w", ro.Addr, err)
	}
	b := &Bus{
		rdb: rdb, ps: rdb.Subscribe(ctx), opts: opts, log: opts.Logger,
		subs: map[string]*channelSubs{}, missed: map[crdt.DocID]struct{}{}, kick: make(chan struct{}, 1), done: make(chan struct{}),
	}
	b.bufs.New = func() any { b := make([]byte, 0, 1024); return &b }
	rctx, cancel := context.WithCancel(context.Background())
	b.cancel = cancel
	b.wg.Add(2)
	go b.receive(rctx)
	go b.recover(rctx)
	return b, nil
}

// tune fails fast where the URL does not say otherwise: a publisher is a
// room's goroutine, and a lost message is recovered from the store anyway.
func tune(ro *redis.Options) {
	ro.ContextTimeoutEnabled = true
	if ro.DialTimeout == 0 {
		ro.DialTimeout = 2 * time.Second
	}
	if ro.DialerRetries == 0 {
		ro.DialerRetries = 1
	}
	if ro.MaxRetries == 0 {
		ro.MaxRetries = 1 // a pooled connection that died with a restarted Redis
	}
	if ro.MaintNotificationsConfig == nil {
		ro.MaintNotificationsConfig = &maintnotifications.Config{Mode: maintnotifications.ModeDisabled}
	}
}

// Ping checks that Redis answers and that the subscriber connection works,
// for readiness checks.
func (b *Bus) Ping(ctx context.Context) error {
	b.mu.Lock()
	closed, lost := b.closed, b.lost
	b.mu.Unlock()
	switch {
	case closed:
		return ErrClosed
	case lost:
		return errors.New("redisbus: subscriber connection lost; reconnecting")
	}
	if err := b.rdb.Ping(ctx).Err(); err != nil {
		return fmt.Errorf("redisbus: ping: %w", err)
	}
	return nil
}

// Close stops the bus's goroutines and closes its connections. Publish and
// Subscribe fail with ErrClosed afterwards; cancel functions do nothing.
func (b *Bus) Close() error {
	var err error
	b.closeMu.Do(func() {
		b.mu.Lock()
		b.closed = true
		b.mu.Unlock()
		close(b.done)
		b.cancel()
		err = errors.Join(b.ps.Close(), b.rdb.Close())
		b.wg.Wait()
	})
	return err
}

func (b *Bus) channel(doc crdt.DocID) string { return b.opts.Prefix + string(doc) }

// Publish sends msg on doc's channel. It fails at once with ErrDown while
// Redis is known to be unavailable; either way a failed message leads to a
// Resync for doc once publishing works again.
func (b *Bus) Publish(ctx context.Context, doc crdt.DocID, msg rooms.BusMessage) error {
	b.mu.Lock()
	switch {
	case b.closed:
		b.mu.Unlock()
		return ErrClosed
	case b.down:
		b.missed[doc] = struct{}{}
		b.mu.Unlock()
		return fmt.Errorf("publish %s: %w", doc, ErrDown)
	}
	b.mu.Unlock()

	bp := b.bufs.Get().(*[]byte)
	*bp = appendMessage((*bp)[:0], msg)
	err := b.rdb.Publish(ctx, b.channel(doc), *bp).Err()
	if cap(*bp) <= maxPooledBuf {
		b.bufs.Put(bp)
	}
	if err == nil {
		return nil
	}
	b.mu.Lock()
	b.missed[doc] = struct{}{}
	wasDown := b.down
	b.down = true
	b.mu.Unlock()
	if !wasDown {
		b.log.Warn("redis publish failed; other nodes will catch up from the store", slog.Any("err", err))
		select {
		case b.kick <- struct{}{}:
		default:
		}
	}
	return fmt.Errorf("publish %s: %w", doc, err)
}

// recover waits for publish failures, then probes Redis with backoff until
// it answers and publishes a Resync on every document whose messages were
// lost.
func (b *Bus) recover(ctx context.Context) {
	defer b.wg.Done()
	for {
		select {
		case <-ctx.Done():
			return
		case <-b.kick:
		}
		wait := minBackoff
		for !b.flushMissed(ctx) {
			if !backoff.Sleep(ctx, wait) {
				return
			}
			wait = min(2*wait, maxBackoff)
		}
	}
}

// flushMissed publishes a Resync for every missed document and clears
// down; false if Redis still fails.
func (b *Bus) flushMissed(ctx context.Context) bool {
	ctx, cancel := context.WithTimeout(ctx, maxBackoff)
	defer cancel()
	if err := b.rdb.Ping(ctx).Err(); err != nil {
		return false
	}
	total := 0
	for {
		b.mu.Lock()
		if len(b.missed) == 0 {
			b.down = false
			b.mu.Unlock()
			break
		}
		docs := make([]crdt.DocID, 0, min(len(b.missed), resyncBatch))
		for doc := range b.missed {
			if len(docs) == resyncBatch {
				break
			}
			docs = append(docs, doc)
			delete(b.missed, doc)
		}
		b.mu.Unlock()
		if err := b.publishResyncs(ctx, docs); err != nil {
			b.mu.Lock()
			for _, doc := range docs {
				b.missed[doc] = struct{}{}
			}
			b.mu.Unlock()
			return false
		}
		total += len(docs)
	}
	b.log.Info("redis publishing works again; other nodes told to catch up", slog.Int("docs", total))
	if h := b.opts.Hooks.Recovered; h != nil {
		h(total)
	}
	return true
}

func (b *Bus) publishResyncs(ctx context.Context, docs []crdt.DocID) error {
	payload := appendMessage(nil, rooms.BusMessage{Kind: rooms.BusResync})
	_, err := b.rdb.Pipelined(ctx, func(p redis.Pipeliner) error {
		for _, doc := range docs {
			p.Publish(ctx, b.channel(doc), payload)
		}
		return nil
	})
	return err
}
