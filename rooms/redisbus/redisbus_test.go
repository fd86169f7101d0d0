package redisbus_test

import (
	"context"
	"errors"
	"reflect"
	"testing"
	"time"

	"github.com/casual-dev/casual/crdt"
	"github.com/casual-dev/casual/internal/redistest"
	"github.com/casual-dev/casual/internal/testservices"
	"github.com/casual-dev/casual/rooms"
	"github.com/casual-dev/casual/rooms/redisbus"
)

const wait = 15 * time.Second

// sharedRedis returns the URL of the machine's Redis (redistest).
func sharedRedis(t *testing.T) string { return redistest.Available(t) }

// newBus opens a bus on url with a channel prefix private to the test, so
// tests running in parallel on one Redis do not hear each other.
func newBus(t *testing.T, url, prefix string, hooks redisbus.Hooks) *redisbus.Bus {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), 5*time.Second)
	defer cancel()
	b, err := redisbus.New(ctx, url, redisbus.Options{Prefix: prefix, Hooks: hooks})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { b.Close() })
	return b
}

func prefix(t *testing.T) string {
	return "casual-test:" + t.Name() + ":" + string(crdt.NewDocID()) + ":"
}

// sink collects what a subscription delivers.
type sink chan rooms.BusMessage

func (s sink) fn(msg rooms.BusMessage) {
	select {
	case s <- msg:
	default:
		panic("sink full")
	}
}

func subscribe(t *testing.T, b *redisbus.Bus, doc crdt.DocID) (sink, func()) {
	t.Helper()
	s := make(sink, 256)
	cancel, err := b.Subscribe(t.Context(), doc, s.fn)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(cancel)
	return s, cancel
}

// next returns the next message that is not a Resync.
func (s sink) next(t *testing.T) rooms.BusMessage {
	t.Helper()
	timeout := time.After(wait)
	for {
		select {
		case m := <-s:
			if m.Kind != rooms.BusResync {
				return m
			}
		case <-timeout:
			t.Fatal("no message delivered")
		}
	}
}

// waitKind waits for a message of kind k, skipping others.
func (s sink) waitKind(t *testing.T, k rooms.BusKind) rooms.BusMessage {
	t.Helper()
	timeout := time.After(wait)
	for {
		select {
		case m := <-s:
			if m.Kind == k {
				return m
			}
		case <-timeout:
			t.Fatalf("no message of kind %d delivered", k)
		}
	}
}

func (s sink) empty(t *testing.T) {
	t.Helper()
	select {
	case m := <-s:
		t.Fatalf("unexpected delivery %+v", m)
	default:
	}
}

func publish(t *testing.T, b *redisbus.Bus, doc crdt.DocID, msg rooms.BusMessage) {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), 5*time.Second)
	defer cancel()
	if err := b.Publish(ctx, doc, msg); err != nil {
		t.Fatal(err)
	}
}

func TestMessagesCrossBetweenNodes(t *testing.T) {
	t.Parallel()
	url, p := sharedRedis(t), prefix(t)
	n1, n2 := newBus(t, url, p, redisbus.Hooks{}), newBus(t, url, p, redisbus.Hooks{})
	doc := crdt.NewDocID()
	got, _ := subscribe(t, n2, doc)
	tests := []rooms.BusMessage{
		{Kind: rooms.BusChanges, Node: "n1", SentAt: time.Now().UnixNano(), Changes: []byte("chunk"), Heads: []crdt.Hash{{1}, {2}}},
		{Kind: rooms.BusPresence, Node: "n1", SentAt: 7, Presence: rooms.Out{Kind: rooms.OutEphemeral, DocID: doc,
			SenderID: "peer-a", SessionID: "s", Count: 3, Data: []byte{0xa0}}},
	}
	for _, want := range tests {
		publish(t, n1, doc, want)
		if m := got.next(t); !reflect.DeepEqual(m, want) {
			t.Fatalf("node 2 got %+v, want %+v", m, want)
		}
	}
}

func TestOwnMessagesAreDelivered(t *testing.T) {
	t.Parallel()
	b := newBus(t, sharedRedis(t), prefix(t), redisbus.Hooks{})
	doc := crdt.NewDocID()
	got, _ := subscribe(t, b, doc)
	publish(t, b, doc, rooms.BusMessage{Kind: rooms.BusChanges, Node: "me", Changes: []byte("x")})
	if m := got.next(t); m.Node != "me" {
		t.Fatalf("got %+v; rooms rely on seeing their own node id to skip it", m)
	}
}

func TestCancelStopsDeliveryToThatSubscriberOnly(t *testing.T) {
	t.Parallel()
	url, p := sharedRedis(t), prefix(t)
	pub, sub := newBus(t, url, p, redisbus.Hooks{}), newBus(t, url, p, redisbus.Hooks{})
	doc, marker := crdt.NewDocID(), crdt.NewDocID()
	first, cancelFirst := subscribe(t, sub, doc)
	second, cancelSecond := subscribe(t, sub, doc)
	marks, _ := subscribe(t, sub, marker)
	// One connection delivers in order: once the marker arrives, whatever
	// was published before it on doc has been delivered.
	sync := func() {
		publish(t, pub, marker, rooms.BusMessage{Kind: rooms.BusResync})
		marks.waitKind(t, rooms.BusResync)
	}

	cancelFirst()
	publish(t, pub, doc, rooms.BusMessage{Kind: rooms.BusChanges, Changes: []byte("one")})
	sync()
	if m := second.next(t); string(m.Changes) != "one" {
		t.Fatalf("remaining subscriber got %+v", m)
	}
	first.empty(t)

	cancelSecond()
	cancelSecond() // a second call does nothing
	publish(t, pub, doc, rooms.BusMessage{Kind: rooms.BusChanges, Changes: []byte("two")})
	sync()
	first.empty(t)
	second.empty(t)

	again, _ := subscribe(t, sub, doc) // the channel is subscribed anew
	publish(t, pub, doc, rooms.BusMessage{Kind: rooms.BusChanges, Changes: []byte("three")})
	if m := again.next(t); string(m.Changes) != "three" {
		t.Fatalf("resubscribed got %+v", m)
	}
}

func TestFailedPublishMakesOtherNodesResync(t *testing.T) {
	t.Parallel()
	url, p := sharedRedis(t), prefix(t)
	recovered := make(chan int, 4)
	pub := newBus(t, url, p, redisbus.Hooks{Recovered: func(n int) { recovered <- n }})
	sub := newBus(t, url, p, redisbus.Hooks{})
	doc := crdt.NewDocID()
	got, _ := subscribe(t, sub, doc)

	ctx, cancel := context.WithCancel(t.Context())
	cancel() // the message is lost before it leaves
	if err := pub.Publish(ctx, doc, rooms.BusMessage{Kind: rooms.BusChanges, Changes: []byte("lost")}); err == nil {
		t.Fatal("publish with a cancelled context succeeded")
	}
	got.waitKind(t, rooms.BusResync)
	select {
	case n := <-recovered:
		if n != 1 {
			t.Fatalf("recovered %d documents, want 1", n)
		}
	case <-time.After(wait):
		t.Fatal("no recovery reported")
	}
	publish(t, pub, doc, rooms.BusMessage{Kind: rooms.BusChanges, Changes: []byte("after")})
	if m := got.next(t); string(m.Changes) != "after" {
		t.Fatalf("got %+v", m)
	}
}

func TestClosedBusFailsCleanly(t *testing.T) {
	t.Parallel()
	b := newBus(t, sharedRedis(t), prefix(t), redisbus.Hooks{})
	doc := crdt.NewDocID()
	_, cancel := subscribe(t, b, doc)
	if err := b.Close(); err != nil {
		t.Fatal(err)
	}
	cancel() // after Close: nothing to do
	if err := b.Publish(t.Context(), doc, rooms.BusMessage{Kind: rooms.BusResync}); !errors.Is(err, redisbus.ErrClosed) {
		t.Fatalf("Publish after Close = %v", err)
	}
	if _, err := b.Subscribe(t.Context(), doc, func(rooms.BusMessage) {}); !errors.Is(err, redisbus.ErrClosed) {
		t.Fatalf("Subscribe after Close = %v", err)
	}
	if err := b.Ping(t.Context()); !errors.Is(err, redisbus.ErrClosed) {
		t.Fatalf("Ping after Close = %v", err)
	}
	if err := b.Close(); err != nil {
		t.Fatalf("second Close = %v", err)
	}
}

func TestNewRejectsBadURLAndUnreachableRedis(t *testing.T) {
	t.Parallel()
	tests := []struct{ name, url string }{
		{"not a redis url", "http://127.0.0.1:6379"},
		{"nothing listening", "redis://127.0.0.1:1/0"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(t.Context(), 5*time.Second)
			defer cancel()
			if b, err := redisbus.New(ctx, tt.url, redisbus.Options{}); err == nil {
				b.Close()
				t.Fatalf("New(%q) succeeded", tt.url)
			}
		})
	}
}

// TestRedisRestartBringsResyncAndPublishingResumes restarts a private
// redis-server under two nodes: the subscriber gets a Resync for each
// subscribed document once it is back (including one subscribed during
// the outage), publishes fail while Redis is down, and both directions
// work again afterwards without touching the buses.
func TestRedisRestartBringsResyncAndPublishingResumes(t *testing.T) {
	t.Parallel()
	srv := testservices.StartRedis(t)
	reconnected := make(chan struct{}, 4)
	sub := newBus(t, srv.URL(), "", redisbus.Hooks{Reconnected: func() { reconnected <- struct{}{} }})
	pub := newBus(t, srv.URL(), "", redisbus.Hooks{})
	doc, during := crdt.NewDocID(), crdt.NewDocID()
	got, _ := subscribe(t, sub, doc)
	publish(t, pub, doc, rooms.BusMessage{Kind: rooms.BusChanges, Changes: []byte("before")})
	got.next(t)

	srv.Stop()
	ctx, cancel := context.WithTimeout(t.Context(), 5*time.Second)
	defer cancel()
	if err := pub.Publish(ctx, doc, rooms.BusMessage{Kind: rooms.BusChanges, Changes: []byte("lost")}); err == nil {
		t.Fatal("publish succeeded with redis stopped")
	}
	start := time.Now()
	if err := pub.Publish(ctx, doc, rooms.BusMessage{Kind: rooms.BusChanges}); !errors.Is(err, redisbus.ErrDown) {
		t.Fatalf("publish while down = %v, want ErrDown", err)
	}
	if d := time.Since(start); d > time.Second {
		t.Errorf("publish while down took %v", d) // a generous bound: it does no I/O
	}
	gotDuring, _ := subscribe(t, sub, during) // succeeds; subscribed when redis is back

	srv.Start(t)
	got.waitKind(t, rooms.BusResync)
	gotDuring.waitKind(t, rooms.BusResync)
	select {
	case <-reconnected:
	case <-time.After(wait):
		t.Fatal("Reconnected hook not called")
	}
	// Publishing resumes by itself: retry until the publisher has
	// noticed (its recovery loop probes with backoff).
	deadline := time.Now().Add(wait)
	for _, d := range []struct {
		doc crdt.DocID
		s   sink
	}{{doc, got}, {during, gotDuring}} {
		for {
			err := pub.Publish(t.Context(), d.doc, rooms.BusMessage{Kind: rooms.BusChanges, Changes: []byte("after")})
			if err == nil {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("publishing never resumed: %v", err)
			}
			time.Sleep(20 * time.Millisecond)
		}
		if m := d.s.next(t); string(m.Changes) != "after" {
			t.Fatalf("after restart got %+v", m)
		}
	}
	for {
		err := sub.Ping(t.Context())
		if err == nil {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("Ping after restart: %v", err)
		}
		time.Sleep(20 * time.Millisecond)
	}
}
