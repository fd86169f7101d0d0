// Package accessbus carries access changes between nodes. When accounts
// withdraws or lowers someone's access (accounts.AccessNotifier), the node
// that made the change re-checks its own open sync sockets and publishes
// the change on a Redis channel; every other node re-checks its sockets
// when the message arrives. Without Redis it only calls this node.
//
// Redis pub/sub forgets what it could not deliver: after the subscriber
// connection was lost and comes back, the node re-checks every open socket,
// since it may have missed changes meanwhile. A change this node could not
// publish is published again, with backoff, until Redis takes it: the
// other nodes may well still be listening.
package accessbus

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"sync"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/casual-dev/casual/collab"
	"github.com/casual-dev/casual/crdt"
	"github.com/casual-dev/casual/internal/backoff"
)

// DefaultChannel is the Redis channel access changes are published on.
const DefaultChannel = "casual:access"

const (
	idlePing   = 5 * time.Second
	minBackoff = 50 * time.Millisecond
	maxBackoff = 2 * time.Second
	// handleTimeout bounds the re-check of one change on this node.
	handleTimeout = 30 * time.Second
	// maxPending bounds the changes waiting to be published again; past
	// it they give way to one "re-check everything".
	maxPending = 64
)

// Handler re-checks this node's sockets: collab.Server.Reauthorize.
type Handler func(ctx context.Context, ch collab.AccessChange)

// Options configures New.
type Options struct {
	// Redis carries changes to the other nodes; nil: this node only. The
	// bus does not close it.
	Redis *redis.Client
	// Node names this node; a node ignores its own messages.
	Node string
	// Channel defaults to DefaultChannel; nodes must agree on it.
	Channel string
	Logger  *slog.Logger
}

// Bus implements accounts.AccessNotifier. Its methods are safe for
// concurrent use.
type Bus struct {
	opts Options
	log  *slog.Logger
	ps   *redis.PubSub

	mu sync.Mutex
	fn Handler

	pmu     sync.Mutex
	pending []message     // changes whose publish failed, oldest first
	kick    chan struct{} // wakes the republisher

	cancel context.CancelFunc
	wg     sync.WaitGroup
	once   sync.Once
}

// message is what crosses Redis.
type message struct {
	Node    string `json:"n"`
	Doc     string `json:"d,omitempty"`
	Subject string `json:"s,omitempty"`
}

// New returns a bus. With Redis it subscribes (waiting for Redis to
// confirm) and starts the receiving goroutine; Close stops it.
func New(ctx context.Context, opts Options) (*Bus, error) {
	if opts.Channel == "" {
		opts.Channel = DefaultChannel
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	b := &Bus{opts: opts, log: opts.Logger}
	if opts.Redis == nil {
		return b, nil
	}
	if opts.Node == "" {
		return nil, errors.New("accessbus: Options.Node is required with Redis")
	}
	b.ps = opts.Redis.Subscribe(ctx, opts.Channel)
	if _, err := b.ps.Receive(ctx); err != nil { // the subscription's confirmation
		b.ps.Close()
		return nil, fmt.Errorf("accessbus: subscribe %s: %w", opts.Channel, err)
	}
	rctx, cancel := context.WithCancel(context.Background())
	b.cancel = cancel
	b.kick = make(chan struct{}, 1)
	b.wg.Add(2)
	go b.receive(rctx)
	go b.republish(rctx)
	return b, nil
}

// Listen sets the function that re-checks this node's sockets. Changes
// that come before it is set are ignored (there are no sockets yet).
func (b *Bus) Listen(fn Handler) {
	b.mu.Lock()
	b.fn = fn
	b.mu.Unlock()
}

func (b *Bus) handler() Handler {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.fn
}

// AccessChanged implements accounts.AccessNotifier: it publishes ch to the
// other nodes, then re-checks this node's sockets before returning.
func (b *Bus) AccessChanged(ctx context.Context, ch collab.AccessChange) {
	if b.ps != nil {
		m := message{Node: b.opts.Node, Doc: string(ch.Doc), Subject: ch.Subject}
		if err := b.publish(ctx, m); err != nil {
			b.log.Warn("publish access change failed; publishing it again until Redis takes it",
				slog.String("doc", string(ch.Doc)), slog.String("subject", ch.Subject), slog.Any("err", err))
			b.retry(m)
		}
	}
	if fn := b.handler(); fn != nil {
		ctx, cancel := context.WithTimeout(ctx, handleTimeout)
		defer cancel()
		fn(ctx, ch)
	}
}

func (b *Bus) publish(ctx context.Context, m message) error {
	payload, err := json.Marshal(m)
	if err != nil {
		return err
	}
	return b.opts.Redis.Publish(ctx, b.opts.Channel, payload).Err()
}

// queue adds ms to the changes to publish again: first if they were
// already waiting (front), else last.
func (b *Bus) queue(ms []message, front bool) {
	b.pmu.Lock()
	defer b.pmu.Unlock()
	if front {
		b.pending = append(ms, b.pending...)
	} else {
		b.pending = append(b.pending, ms...)
	}
	if len(b.pending) > maxPending {
		b.pending = []message{{Node: b.opts.Node}} // no doc, no subject: everything
	}
}

// retry hands m, whose publish failed, to the republisher.
func (b *Bus) retry(m message) {
	b.queue([]message{m}, false)
	select {
	case b.kick <- struct{}{}:
	default:
	}
}

// republish publishes the changes whose publish failed, in order, with
// backoff while Redis refuses them, until ctx ends.
func (b *Bus) republish(ctx context.Context) {
	defer b.wg.Done()
	for {
		select {
		case <-ctx.Done():
			return
		case <-b.kick:
		}
		wait := minBackoff
		for {
			b.pmu.Lock()
			batch := b.pending
			b.pending = nil
			b.pmu.Unlock()
			if len(batch) == 0 {
				break
			}
			sent := 0
			for _, m := range batch {
				if b.publish(ctx, m) != nil {
					break
				}
				sent++
			}
			if sent == len(batch) {
				b.log.Info("access changes published after a failure", slog.Int("changes", sent))
				continue // more may have failed meanwhile
			}
			b.queue(batch[sent:], true)
			if !backoff.Sleep(ctx, wait) {
				return
			}
			wait = min(2*wait, maxBackoff)
		}
	}
}

// Close stops receiving. AccessChanged still re-checks this node.
func (b *Bus) Close() error {
	var err error
	b.once.Do(func() {
		if b.ps == nil {
			return
		}
		b.cancel()
		err = b.ps.Close()
		b.wg.Wait()
	})
	return err
}

// receive reads the subscriber connection until ctx ends. go-redis
// replaces a broken connection and subscribes again; the confirmation
// that follows a failure makes the node re-check everything.
func (b *Bus) receive(ctx context.Context) {
	defer b.wg.Done()
	wait, lost := minBackoff, false
	for {
		m, err := b.ps.ReceiveTimeout(ctx, idlePing)
		if ctx.Err() != nil {
			return
		}
		if err == nil {
			wait = minBackoff
			switch m := m.(type) {
			case *redis.Message:
				b.deliver(ctx, m.Payload)
			case *redis.Subscription:
				if lost {
					b.log.Info("access bus back: re-checking every open socket")
					b.handle(ctx, collab.AccessChange{})
				}
			}
			lost = false
			continue
		}
		var ne net.Error
		if errors.As(err, &ne) && ne.Timeout() {
			pctx, cancel := context.WithTimeout(ctx, idlePing)
			err = b.ps.Ping(pctx)
			cancel()
			if err == nil || ctx.Err() != nil {
				continue
			}
		}
		if !lost {
			b.log.Warn("access bus connection lost; reconnecting", slog.Any("err", err))
		}
		lost = true
		if !backoff.Sleep(ctx, wait) {
			return
		}
		wait = min(2*wait, maxBackoff)
	}
}

func (b *Bus) deliver(ctx context.Context, payload string) {
	var m message
	if err := json.Unmarshal([]byte(payload), &m); err != nil || m.Node == "" {
		b.log.Warn("undecodable access change", slog.Any("err", err))
		return
	}
	if m.Node == b.opts.Node {
		return
	}
	ch := collab.AccessChange{Subject: m.Subject}
	if m.Doc != "" {
		id, err := crdt.ParseDocID(m.Doc)
		if err != nil {
			b.log.Warn("undecodable access change", slog.Any("err", err))
			return
		}
		ch.Doc = id
	}
	b.handle(ctx, ch)
}

func (b *Bus) handle(ctx context.Context, ch collab.AccessChange) {
	fn := b.handler()
	if fn == nil {
		return
	}
	ctx, cancel := context.WithTimeout(ctx, handleTimeout)
	defer cancel()
	fn(ctx, ch)
}
