package rooms

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/casual-dev/casual/crdt"
)

// memBus is an in-process Bus; while drop is set it loses every message.
type memBus struct {
	mu   sync.Mutex
	subs map[crdt.DocID]map[int]func(BusMessage)
	next int
	drop bool
}

func newMemBus() *memBus { return &memBus{subs: map[crdt.DocID]map[int]func(BusMessage){}} }

func (b *memBus) Subscribe(ctx context.Context, doc crdt.DocID, fn func(BusMessage)) (func(), error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.subs[doc] == nil {
		b.subs[doc] = map[int]func(BusMessage){}
	}
	b.next++
	n := b.next
	b.subs[doc][n] = fn
	return func() { b.mu.Lock(); delete(b.subs[doc], n); b.mu.Unlock() }, nil
}

func (b *memBus) Publish(ctx context.Context, doc crdt.DocID, msg BusMessage) error {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.drop {
		return nil // lost without a trace, as pub/sub can
	}
	for _, fn := range b.subs[doc] {
		fn(msg)
	}
	return nil
}

func (b *memBus) resync(doc crdt.DocID) {
	b.mu.Lock()
	defer b.mu.Unlock()
	for _, fn := range b.subs[doc] {
		fn(BusMessage{Kind: BusResync})
	}
}

func twoNodes(t *testing.T) (*Manager, *Manager, *memBus) {
	st, bus := newMem(), newMemBus()
	n1 := NewManager(st, Config{Bus: bus, NodeID: "n1", PresenceTTL: time.Minute}, time.Minute)
	n2 := NewManager(st, Config{Bus: bus, NodeID: "n2", PresenceTTL: time.Minute}, time.Minute)
	t.Cleanup(func() { n1.Close(); n2.Close() })
	return n1, n2, bus
}

// waitFor settles rp with r until pred holds.
func (rp *replica) waitFor(t *testing.T, r *Room, pred func(*crdt.Doc) bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !pred(rp.doc) {
		if time.Now().After(deadline) {
			t.Fatalf("%s never saw the expected state", rp.p.id)
		}
		rp.settle(t, r, Write)
	}
}

func key(k string, v any) func(*crdt.Doc) bool {
	return func(d *crdt.Doc) bool { got, _ := d.Get(k); return got == v }
}

func TestChangesCrossNodesOverTheBus(t *testing.T) {
	n1, n2, _ := twoNodes(t)
	id := crdt.NewDocID()
	ctx := context.Background()
	r1, _ := n1.Acquire(ctx, id)
	r2, _ := n2.Acquire(ctx, id)
	a, b := newReplica("a"), newReplica("b")
	a.set(t, "from", "a")
	a.settle(t, r1, Write)
	b.waitFor(t, r2, key("from", "a"))
	b.set(t, "back", "b")
	b.settle(t, r2, Write)
	a.waitFor(t, r1, key("back", "b"))
}

func TestLostBusMessageIsRecoveredFromTheStore(t *testing.T) {
	n1, n2, bus := twoNodes(t)
	id := crdt.NewDocID()
	ctx := context.Background()
	r1, _ := n1.Acquire(ctx, id)
	r2, _ := n2.Acquire(ctx, id)
	a, b := newReplica("a"), newReplica("b")
	a.set(t, "first", int64(1))
	a.settle(t, r1, Write)
	b.waitFor(t, r2, key("first", int64(1)))

	bus.mu.Lock()
	bus.drop = true
	bus.mu.Unlock()
	a.set(t, "lost", "on the bus")
	a.settle(t, r1, Write)
	bus.mu.Lock()
	bus.drop = false
	bus.mu.Unlock()

	// the next change depends on the lost one: node 2 sees the gap
	a.set(t, "next", "depends on lost")
	a.settle(t, r1, Write)
	b.waitFor(t, r2, key("lost", "on the bus"))
	b.waitFor(t, r2, key("next", "depends on lost"))
}

func TestResyncCatchesUpWithoutFurtherChanges(t *testing.T) {
	n1, n2, bus := twoNodes(t)
	id := crdt.NewDocID()
	ctx := context.Background()
	r1, _ := n1.Acquire(ctx, id)
	r2, _ := n2.Acquire(ctx, id)
	a, b := newReplica("a"), newReplica("b")
	b.settle(t, r2, Write)
	bus.mu.Lock()
	bus.drop = true
	bus.mu.Unlock()
	a.set(t, "during", "outage")
	a.settle(t, r1, Write)
	bus.mu.Lock()
	bus.drop = false
	bus.mu.Unlock()
	bus.resync(id) // what the bus does after reconnecting
	b.waitFor(t, r2, key("during", "outage"))
}

func TestPresenceCrossesNodes(t *testing.T) {
	n1, n2, _ := twoNodes(t)
	id := crdt.NewDocID()
	ctx := context.Background()
	r1, _ := n1.Acquire(ctx, id)
	r2, _ := n2.Acquire(ctx, id)
	a, b := newPeer("a", 8), newPeer("b", 8)
	r2.Ephemeral(ctx, b, Out{SenderID: "b", SessionID: "s", Count: 1, Data: []byte("hi")})
	r1.Ephemeral(ctx, a, Out{SenderID: "a", SessionID: "s", Count: 1, Data: []byte("cursor")})
	o := b.next(t)
	if o.Kind != OutEphemeral || o.SenderID != "a" || string(o.Data) != "cursor" {
		t.Fatalf("node 2 peer got %+v", o)
	}
}
