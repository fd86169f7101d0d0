package redisbus

import (
	"context"
	"errors"
	"log/slog"
	"net"
	"sync"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/casual-dev/casual/crdt"
	"github.com/casual-dev/casual/internal/backoff"
	"github.com/casual-dev/casual/rooms"
)

// Subscribe delivers the messages published on doc's channel to fn until
// cancel is called; fn runs on the bus's receiving goroutine and must not
// block or call cancel. The first subscriber of a document makes the shared
// connection subscribe to its channel and waits (up to
// Options.SubscribeWait) for Redis to confirm, so whatever is published
// after Subscribe returns is delivered. If Redis is unavailable, Subscribe
// still succeeds: the channel is subscribed when the connection comes back,
// and fn then gets a Resync.
func (b *Bus) Subscribe(ctx context.Context, doc crdt.DocID, fn func(rooms.BusMessage)) (cancel func(), err error) {
	ch := b.channel(doc)
	s, id, err := b.register(ctx, ch, fn)
	if err != nil {
		return nil, err
	}
	var once sync.Once
	cancel = func() { once.Do(func() { b.unregister(ch, id) }) }

	b.mu.Lock()
	lost := b.lost
	b.mu.Unlock()
	if lost { // no confirmation soon: the reconnection brings a Resync
		b.giveUp(s)
		return cancel, nil
	}
	t := time.NewTimer(b.opts.SubscribeWait)
	defer t.Stop()
	select {
	case <-s.ready:
	case <-t.C:
		b.log.Warn("redis did not confirm a subscription in time; the document catches up when it does",
			slog.String("doc", string(doc)))
		b.giveUp(s)
	case <-ctx.Done():
		cancel()
		return nil, ctx.Err()
	case <-b.done:
		return nil, ErrClosed
	}
	return cancel, nil
}

// register adds fn to ch's subscribers, subscribing the channel if it is
// the first.
func (b *Bus) register(ctx context.Context, ch string, fn func(rooms.BusMessage)) (*channelSubs, uint64, error) {
	b.subMu.Lock()
	defer b.subMu.Unlock()
	b.mu.Lock()
	if b.closed {
		b.mu.Unlock()
		return nil, 0, ErrClosed
	}
	s := b.subs[ch]
	first := s == nil
	if first {
		s = &channelSubs{fns: map[uint64]func(rooms.BusMessage){}, ready: make(chan struct{})}
		b.subs[ch] = s
	}
	b.nextID++
	id := b.nextID
	s.fns[id] = fn
	b.mu.Unlock()
	if first {
		ctx, cancel := context.WithTimeout(ctx, b.opts.SubscribeWait)
		defer cancel()
		// On failure go-redis keeps the channel and subscribes it on the
		// connection it makes next.
		if err := b.ps.Subscribe(ctx, ch); err != nil {
			b.log.Debug("subscribe deferred until redis answers", slog.String("channel", ch), slog.Any("err", err))
		}
	}
	return s, id, nil
}

// giveUp marks s so that its confirmation, when it comes, brings a Resync.
func (b *Bus) giveUp(s *channelSubs) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if !s.confirmed {
		s.late = true
	}
}

func (b *Bus) unregister(ch string, id uint64) {
	b.subMu.Lock()
	defer b.subMu.Unlock()
	b.mu.Lock()
	s := b.subs[ch]
	if s == nil || s.fns[id] == nil {
		b.mu.Unlock()
		return
	}
	delete(s.fns, id)
	last := len(s.fns) == 0
	if last {
		delete(b.subs, ch)
	}
	closed := b.closed
	b.mu.Unlock()
	// A barrier: wait out a delivery in flight, so fn is never called
	// after cancel returns.
	b.deliverMu.Lock()
	//lint:ignore SA2001 the empty critical section is the barrier
	b.deliverMu.Unlock()
	if !last || closed {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), unsubscribeTimeout)
	defer cancel()
	// On failure go-redis has already forgotten the channel, and the
	// broken connection is replaced without it.
	if err := b.ps.Unsubscribe(ctx, ch); err != nil {
		b.log.Debug("unsubscribe failed", slog.String("channel", ch), slog.Any("err", err))
	}
}

// receive reads the shared subscriber connection until ctx ends. go-redis
// replaces a broken connection and resubscribes its channels; the
// confirmations of channels already confirmed tell dispatch to Resync.
func (b *Bus) receive(ctx context.Context) {
	defer b.wg.Done()
	wait := minBackoff
	var scratch []func(rooms.BusMessage)
	for {
		m, err := b.ps.ReceiveTimeout(ctx, idlePing)
		if ctx.Err() != nil {
			return
		}
		if err == nil {
			b.setLost(false)
			wait = minBackoff
			scratch = b.dispatch(m, scratch[:0])
			continue
		}
		if isTimeout(err) {
			// Idle: a ping makes a dead connection fail now rather than
			// when the next message would have come.
			pctx, cancel := context.WithTimeout(ctx, idlePing)
			err = b.ps.Ping(pctx)
			cancel()
			if err == nil || ctx.Err() != nil {
				continue
			}
		}
		b.setLost(true)
		b.log.Debug("redis subscriber connection failing", slog.Any("err", err), slog.Duration("retry_in", wait))
		if !backoff.Sleep(ctx, wait) {
			return
		}
		wait = min(2*wait, maxBackoff)
	}
}

func (b *Bus) setLost(lost bool) {
	b.mu.Lock()
	was := b.lost
	b.lost = lost
	b.mu.Unlock()
	switch {
	case lost && !was:
		b.log.Warn("redis subscriber connection lost; reconnecting")
	case !lost && was:
		b.log.Info("redis subscriber connection back; subscribed documents catch up from the store")
		if h := b.opts.Hooks.Reconnected; h != nil {
			h()
		}
	}
}

func isTimeout(err error) bool {
	var ne net.Error
	return errors.As(err, &ne) && ne.Timeout()
}

// dispatch handles one thing read from the subscriber connection; fns is
// scratch space, returned for reuse.
func (b *Bus) dispatch(m any, fns []func(rooms.BusMessage)) []func(rooms.BusMessage) {
	switch m := m.(type) {
	case *redis.Message:
		msg, err := decodeMessage([]byte(m.Payload))
		if err != nil {
			b.log.Warn("dropped an undecodable bus message", slog.String("channel", m.Channel), slog.Any("err", err))
			if h := b.opts.Hooks.Undecodable; h != nil {
				h(err)
			}
			return fns
		}
		return b.deliver(m.Channel, msg, fns)
	case *redis.Subscription:
		if m.Kind != "subscribe" {
			return fns
		}
		if b.confirm(m.Channel) {
			if h := b.opts.Hooks.Resynced; h != nil {
				h()
			}
			return b.deliver(m.Channel, rooms.BusMessage{Kind: rooms.BusResync}, fns)
		}
	}
	return fns
}

// confirm records that Redis (re)subscribed ch and says whether its
// subscribers need a Resync: the channel was confirmed before (so the
// connection was replaced and messages may be lost) or its first subscriber
// stopped waiting.
func (b *Bus) confirm(ch string) (resync bool) {
	b.mu.Lock()
	defer b.mu.Unlock()
	s := b.subs[ch]
	switch {
	case s == nil:
		return false
	case s.confirmed:
		return true
	}
	s.confirmed = true
	close(s.ready)
	return s.late
}

// deliver calls every subscriber of ch with msg.
func (b *Bus) deliver(ch string, msg rooms.BusMessage, fns []func(rooms.BusMessage)) []func(rooms.BusMessage) {
	b.deliverMu.Lock()
	defer b.deliverMu.Unlock()
	b.mu.Lock()
	if s := b.subs[ch]; s != nil {
		for _, fn := range s.fns {
			fns = append(fns, fn)
		}
	}
	b.mu.Unlock()
	for _, fn := range fns {
		fn(msg)
	}
	clear(fns) // let closed rooms go
	return fns[:0]
}
