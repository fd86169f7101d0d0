package rooms

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/casual-dev/casual/crdt"
	"github.com/casual-dev/casual/store"
)

// memStorage is an in-memory Storage; gate, when set, holds every Append
// until a value is sent on it.
type memStorage struct {
	mu      sync.Mutex
	chunks  map[string][]store.Chunk
	appends int
	gate    chan struct{}
	fail    error
}

func newMem() *memStorage { return &memStorage{chunks: map[string][]store.Chunk{}} }

func (s *memStorage) Append(ctx context.Context, doc string, data []byte) (store.ChunkRef, error) {
	if s.gate != nil {
		select {
		case <-s.gate:
		case <-ctx.Done():
			return store.ChunkRef{}, ctx.Err()
		}
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.fail != nil {
		return store.ChunkRef{}, s.fail
	}
	ref := store.RefOf(store.Incremental, data)
	s.chunks[doc] = append(s.chunks[doc], store.Chunk{ChunkRef: ref, Data: slices.Clone(data)})
	s.appends++
	return ref, nil
}

func (s *memStorage) Load(ctx context.Context, doc string) ([]store.Chunk, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(s.chunks[doc]) == 0 {
		return nil, store.ErrNotFound
	}
	return slices.Clone(s.chunks[doc]), nil
}

func (s *memStorage) Compact(ctx context.Context, doc string, snap []byte, replaced []store.ChunkRef) (store.ChunkRef, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	ref := store.RefOf(store.Snapshot, snap)
	keep := []store.Chunk{{ChunkRef: ref, Data: slices.Clone(snap)}}
	for _, c := range s.chunks[doc] {
		if !slices.ContainsFunc(replaced, func(r store.ChunkRef) bool { return r.Hash == c.Hash }) {
			keep = append(keep, c)
		}
	}
	s.chunks[doc] = keep
	return ref, nil
}

// fakePeer is a peer with its own replica, fed by the room's messages.
type fakePeer struct {
	id    string
	queue chan Out
	mu    sync.Mutex
	drops []error
}

func newPeer(id string, queue int) *fakePeer { return &fakePeer{id: id, queue: make(chan Out, queue)} }

func (p *fakePeer) ID() string { return p.id }
func (p *fakePeer) Deliver(o Out) bool {
	select {
	case p.queue <- o:
		return true
	default:
		return false
	}
}
func (p *fakePeer) Drop(err error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.drops = append(p.drops, err)
}

func (p *fakePeer) next(t *testing.T) Out {
	t.Helper()
	select {
	case o := <-p.queue:
		return o
	case <-time.After(10 * time.Second):
		t.Fatalf("%s: no message from the room", p.id)
		return Out{}
	}
}

// replica is a peer-side document synced with a room through a fakePeer.
type replica struct {
	p   *fakePeer
	doc *crdt.Doc
	ss  *crdt.SyncState
}

func newReplica(id string) *replica {
	d := crdt.New()
	return &replica{p: newPeer(id, 64), doc: d, ss: d.NewSyncState()}
}

func (rp *replica) send(t *testing.T, r *Room, access Access, request bool) bool {
	t.Helper()
	msg, ok, err := rp.ss.Generate()
	if err != nil {
		t.Fatal(err)
	}
	if ok {
		if err := r.Sync(context.Background(), rp.p, access, msg, request); err != nil {
			t.Fatal(err)
		}
	}
	return ok
}

// settle runs the sync exchange until neither side has anything to say.
func (rp *replica) settle(t *testing.T, r *Room, access Access) {
	t.Helper()
	rp.send(t, r, access, false)
	for {
		select {
		case o := <-rp.p.queue:
			if o.Kind != OutSync {
				continue
			}
			if _, err := rp.ss.Receive(o.Data); err != nil {
				t.Fatal(err)
			}
			rp.send(t, r, access, false)
		case <-time.After(200 * time.Millisecond):
			return
		}
	}
}

func (rp *replica) set(t *testing.T, k string, v any) {
	t.Helper()
	if err := rp.doc.Set([]any{k}, v); err != nil {
		t.Fatal(err)
	}
	if _, _, err := rp.doc.Commit(k); err != nil {
		t.Fatal(err)
	}
}

func newTestManager(st Storage) *Manager {
	return NewManager(st, Config{PresenceTTL: time.Minute}, 50*time.Millisecond)
}

func TestRoomConvergesTwoWriters(t *testing.T) {
	st := newMem()
	m := newTestManager(st)
	defer m.Close()
	id := crdt.NewDocID()
	r, err := m.Acquire(context.Background(), id)
	if err != nil {
		t.Fatal(err)
	}
	a, b := newReplica("a"), newReplica("b")
	a.set(t, "x", "from a")
	a.settle(t, r, Write)
	b.settle(t, r, Write)
	b.set(t, "y", "from b")
	b.settle(t, r, Write)
	a.settle(t, r, Write)
	for _, rp := range []*replica{a, b} {
		x, _ := rp.doc.Get("x")
		y, _ := rp.doc.Get("y")
		if x != "from a" || y != "from b" {
			t.Fatalf("%s sees x=%v y=%v", rp.p.id, x, y)
		}
	}
	if !slices.Equal(a.doc.Heads(), b.doc.Heads()) {
		t.Fatal("replicas diverged")
	}
}

func TestRoomStoresChangeBeforeAcknowledging(t *testing.T) {
	st := newMem()
	st.gate = make(chan struct{})
	m := newTestManager(st)
	defer m.Close()
	r, _ := m.Acquire(context.Background(), crdt.NewDocID())
	a := newReplica("a")
	a.set(t, "k", "v")
	a.send(t, r, Write, false) // heads only
	// the room cannot know the change yet: its reply asks for it
	rep := a.p.next(t)
	a.ss.Receive(rep.Data)
	a.send(t, r, Write, false) // now carries the change
	select {
	case o := <-a.p.queue:
		t.Fatalf("room answered (%v) before the change was stored", o.Kind)
	case <-time.After(200 * time.Millisecond):
	}
	st.gate <- struct{}{}
	ack := a.p.next(t)
	if ack.Kind != OutSync {
		t.Fatalf("got %v after store, want sync ack", ack.Kind)
	}
	st.mu.Lock()
	defer st.mu.Unlock()
	if st.appends != 1 {
		t.Fatalf("appends = %d, want 1", st.appends)
	}
}

func TestRoomRejectsWriteFromViewer(t *testing.T) {
	st := newMem()
	m := newTestManager(st)
	defer m.Close()
	r, _ := m.Acquire(context.Background(), crdt.NewDocID())
	owner, viewer := newReplica("owner"), newReplica("viewer")
	owner.set(t, "title", "hello")
	owner.settle(t, r, Write)
	viewer.settle(t, r, Read)
	if v, _ := viewer.doc.Get("title"); v != "hello" {
		t.Fatalf("viewer does not receive updates: %v", v)
	}
	viewer.set(t, "title", "hacked")
	viewer.send(t, r, Read, false)
	var refused bool
	for i := 0; i < 5 && !refused; i++ {
		o := viewer.p.next(t)
		if o.Kind == OutError {
			refused = errors.Is(o.Err, ErrReadOnly)
		} else if o.Kind == OutSync {
			viewer.ss.Receive(o.Data)
			viewer.send(t, r, Read, false)
		}
	}
	if !refused {
		t.Fatal("viewer's change was not refused with ErrReadOnly")
	}
	owner.settle(t, r, Write)
	if v, _ := owner.doc.Get("title"); v != "hello" {
		t.Fatalf("viewer's change reached another peer: %v", v)
	}
}

func TestRoomAnswersUnavailableThenPushesDoc(t *testing.T) {
	st := newMem()
	m := newTestManager(st)
	defer m.Close()
	r, _ := m.Acquire(context.Background(), crdt.NewDocID())
	waiter := newReplica("waiter")
	waiter.send(t, r, Write, true)
	if o := waiter.p.next(t); o.Kind != OutDocUnavailable {
		t.Fatalf("got %v, want doc-unavailable", o.Kind)
	}
	author := newReplica("author")
	author.set(t, "k", "v")
	author.settle(t, r, Write)
	waiter.settle(t, r, Write)
	if v, _ := waiter.doc.Get("k"); v != "v" {
		t.Fatalf("waiter did not receive the doc once it appeared: %v", v)
	}
}

func TestRoomDropsSlowPeerWithoutStalling(t *testing.T) {
	st := newMem()
	m := newTestManager(st)
	defer m.Close()
	r, _ := m.Acquire(context.Background(), crdt.NewDocID())
	slow := &replica{p: newPeer("slow", 1), doc: crdt.New()}
	slow.ss = slow.doc.NewSyncState()
	slow.send(t, r, Write, true) // joins; its queue of 1 fills with doc-unavailable
	fast := newReplica("fast")
	for i := 0; i < 5; i++ {
		fast.set(t, "n", int64(i))
		fast.settle(t, r, Write)
	}
	if v, _ := fast.doc.Get("n"); v != int64(4) {
		t.Fatalf("fast peer stalled: n=%v", v)
	}
	slow.p.mu.Lock()
	defer slow.p.mu.Unlock()
	if len(slow.p.drops) != 1 || !errors.Is(slow.p.drops[0], ErrSlowPeer) {
		t.Fatalf("slow peer drops = %v", slow.p.drops)
	}
}

func TestRoomRelaysEphemeralOnceInOrder(t *testing.T) {
	st := newMem()
	m := newTestManager(st)
	defer m.Close()
	r, _ := m.Acquire(context.Background(), crdt.NewDocID())
	a, b := newPeer("a", 16), newPeer("b", 16)
	ctx := context.Background()
	r.Ephemeral(ctx, b, Out{SenderID: "b", SessionID: "s", Count: 1, Data: []byte("join")})
	for _, c := range []float64{1, 2, 2, 1, 3} {
		r.Ephemeral(ctx, a, Out{SenderID: "a", SessionID: "s1", Count: c, Data: []byte{byte(c)}})
	}
	var got []float64
	for len(got) < 3 {
		o := b.next(t)
		if o.Kind != OutEphemeral || o.SenderID != "a" {
			t.Fatalf("unexpected %+v", o)
		}
		got = append(got, o.Count)
	}
	if !slices.Equal(got, []float64{1, 2, 3}) {
		t.Fatalf("relayed counts %v", got)
	}
	pres, err := r.Presence(ctx)
	if err != nil || len(pres) != 2 || pres[0].PeerID != "a" || pres[0].Data[0] != 3 {
		t.Fatalf("presence = %+v, %v", pres, err)
	}
	select {
	case o := <-a.queue:
		if o.SenderID == "a" {
			t.Fatal("sender received its own message")
		}
	default:
	}
}

func TestManagerUnloadsIdleRoomAndReloadsIt(t *testing.T) {
	st := newMem()
	m := newTestManager(st)
	defer m.Close()
	id := crdt.NewDocID()
	ctx := context.Background()
	r, _ := m.Acquire(ctx, id)
	if err := r.Do(ctx, func(d *crdt.Doc) error { return d.Set([]any{"k"}, "stored") }); err != nil {
		t.Fatal(err)
	}
	m.Release(id)
	deadline := time.Now().Add(10 * time.Second)
	for m.Loaded() != 0 {
		if time.Now().After(deadline) {
			t.Fatal("idle room was not unloaded")
		}
		time.Sleep(10 * time.Millisecond)
	}
	r2, err := m.Acquire(ctx, id)
	if err != nil {
		t.Fatal(err)
	}
	defer m.Release(id)
	var got any
	r2.Do(ctx, func(d *crdt.Doc) error { got, _ = d.Get("k"); return nil })
	if got != "stored" {
		t.Fatalf("reloaded k = %v", got)
	}
}

func TestRoomRetriesFailedPersistAndNeverAcksMeanwhile(t *testing.T) {
	st := newMem()
	st.fail = errors.New("disk on fire")
	m := newTestManager(st)
	defer m.Close()
	r, _ := m.Acquire(context.Background(), crdt.NewDocID())
	done := make(chan error, 1)
	go func() {
		done <- r.Do(context.Background(), func(d *crdt.Doc) error { return d.Set([]any{"k"}, "v") })
	}()
	select {
	case err := <-done:
		t.Fatalf("Do returned (%v) while the store fails", err)
	case <-time.After(100 * time.Millisecond):
	}
	st.mu.Lock()
	st.fail = nil
	st.mu.Unlock()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if _, err := st.Load(context.Background(), string(r.ID())); err != nil {
		t.Fatal("change not stored after the store recovered")
	}
}

// A change and a heads-only message from the same peer can land in one
// round (the room was busy storing). The heads-only message tells the room
// the peer has everything, so a reply generated only at the end of the
// round would be empty, and the peer would never learn its change was
// stored. Each message must get its reply.
func TestRoomAcknowledgesChangeArrivingWithHeadsOnlyMessage(t *testing.T) {
	st := newMem()
	m := newTestManager(st)
	defer m.Close()
	r, _ := m.Acquire(context.Background(), crdt.NewDocID())
	a := newReplica("a")
	a.set(t, "k", int64(1))
	a.settle(t, r, Write)

	// Keep the room's goroutine busy, without changing the document, while
	// both messages queue up.
	started, release := make(chan struct{}), make(chan struct{})
	go r.Do(context.Background(), func(*crdt.Doc) error { close(started); <-release; return nil })
	<-started

	a.set(t, "k", int64(2))
	want := a.doc.Heads()
	a.send(t, r, Write, false) // carries the change
	headsOnly, ok, _ := a.doc.NewSyncState().Generate()
	if !ok {
		t.Fatal("no heads-only message")
	}
	r.Sync(context.Background(), a.p, Write, headsOnly, false)
	close(release)

	deadline := time.After(10 * time.Second)
	for {
		select {
		case o := <-a.p.queue:
			if o.Kind != OutSync {
				continue
			}
			theirs, err := a.ss.Receive(o.Data)
			if err != nil {
				t.Fatal(err)
			}
			if a.doc.Covers(theirs, want) {
				return
			}
		case <-deadline:
			t.Fatal("the change was never acknowledged")
		}
	}
}

// In a busy room, peers that acknowledged everything get each round's new
// changes in one message built once for all of them (not by the core, per
// peer); a peer that then writes leaves that mode, and everyone still
// converges.
func TestInSyncPeersShareOneFanoutMessage(t *testing.T) {
	var mu sync.Mutex
	var sharedMax int
	m := NewManager(newMem(), Config{PresenceTTL: time.Minute, Hooks: Hooks{FannedOut: func(shared, _ int) {
		mu.Lock()
		defer mu.Unlock()
		sharedMax = max(sharedMax, shared)
	}}}, 50*time.Millisecond)
	defer m.Close()
	r, err := m.Acquire(context.Background(), crdt.NewDocID())
	if err != nil {
		t.Fatal(err)
	}
	writer := newReplica("writer")
	readers := []*replica{newReplica("r1"), newReplica("r2"), newReplica("r3"), newReplica("r4")}
	all := append([]*replica{writer}, readers...)
	writer.set(t, "k", int64(0))
	for _, rp := range all {
		rp.settle(t, r, Write)
	}
	for round := 1; round <= 3; round++ {
		writer.set(t, "k", int64(round))
		writer.send(t, r, Write, false)
		// every reader's next sync message is the same bytes
		var first []byte
		for _, rp := range readers {
			o := rp.p.next(t)
			for o.Kind != OutSync {
				o = rp.p.next(t)
			}
			if first == nil {
				first = o.Data
			} else if !bytes.Equal(first, o.Data) {
				t.Fatalf("round %d: %s got a message of its own, not the shared fan-out", round, rp.p.id)
			}
			if _, err := rp.ss.Receive(o.Data); err != nil {
				t.Fatal(err)
			}
			rp.send(t, r, Write, false) // the acknowledgement
		}
		writer.settle(t, r, Write)
		for _, rp := range readers {
			rp.settle(t, r, Write)
		}
	}
	mu.Lock()
	if sharedMax != len(readers) {
		t.Fatalf("at most %d peers shared a fan-out message, want all %d readers", sharedMax, len(readers))
	}
	mu.Unlock()
	// A reader writes: it leaves fast mode; the others still get it.
	readers[0].set(t, "from-r1", true)
	for i := 0; i < 2; i++ {
		for _, rp := range all {
			rp.settle(t, r, Write)
		}
	}
	for _, rp := range all {
		if v, _ := rp.doc.Get("from-r1"); v != true {
			t.Fatalf("%s lacks the reader's change", rp.p.id)
		}
		if v, _ := rp.doc.Get("k"); v != int64(3) {
			t.Fatalf("%s has k=%v, want 3", rp.p.id, v)
		}
		if !slices.Equal(rp.doc.Heads(), writer.doc.Heads()) {
			t.Fatalf("%s diverged", rp.p.id)
		}
	}
}

// TestRefusedPeerKeepsReceivingAndGoesQuiet: a viewer that edited its
// replica keeps that change (we refuse it), so its heads name a change we
// will never have. It must still get every later change, even when its
// bloom filter claims to have them (a chance match, forced here with a
// filter of all ones), and the exchange must end: fed to the core as they
// are, such heads make both sides answer each other forever.
func TestRefusedPeerKeepsReceivingAndGoesQuiet(t *testing.T) {
	m := newTestManager(newMem())
	defer m.Close()
	r, _ := m.Acquire(context.Background(), crdt.NewDocID())
	owner, viewer := newReplica("owner"), newReplica("viewer")
	owner.set(t, "title", "hello")
	owner.settle(t, r, Write)
	viewer.settle(t, r, Read)

	// Each viewer message claims, through its bloom filter, every change.
	send := func() bool {
		t.Helper()
		msg, ok, err := viewer.ss.Generate()
		if err != nil {
			t.Fatal(err)
		}
		if !ok {
			return false
		}
		sm, err := crdt.ParseSyncMessage(msg)
		if err != nil {
			t.Fatal(err)
		}
		for i := range sm.Have {
			sm.Have[i].Bloom = []byte{1, 10, 7, 0xff, 0xff}
		}
		if err := r.Sync(context.Background(), viewer.p, Read, sm.Encode(), false); err != nil {
			t.Fatal(err)
		}
		return true
	}
	viewer.set(t, "title", "hacked")
	// The owner's change reaches the room first, so the room's answer to
	// the refused message comes from the core, which trusts the filter.
	owner.set(t, "later0", "yes")
	owner.send(t, r, Write, false)
	send()
	sent := 0
	refused := false
	exchange := func() {
		t.Helper()
		for {
			select {
			case o := <-viewer.p.queue:
				switch o.Kind {
				case OutError:
					refused = refused || errors.Is(o.Err, ErrReadOnly)
				case OutSync:
					if _, err := viewer.ss.Receive(o.Data); err != nil {
						t.Fatal(err)
					}
					if send() {
						sent++
					}
				}
				if sent > 50 {
					t.Fatalf("the viewer and the room keep answering each other (%d messages)", sent)
				}
			case <-time.After(300 * time.Millisecond):
				return
			}
		}
	}
	exchange()
	if !refused {
		t.Fatal("the viewer's change was not refused with ErrReadOnly")
	}
	for i := 1; i < 3; i++ {
		owner.set(t, fmt.Sprintf("later%d", i), "yes")
		owner.send(t, r, Write, false)
		exchange()
	}
	for i := range 3 {
		if v, _ := viewer.doc.Get(fmt.Sprintf("later%d", i)); v != "yes" {
			t.Fatalf("viewer lacks the owner's change %d: %v", i, v)
		}
	}
	if v, _ := viewer.doc.Get("title"); v != "hacked" {
		t.Fatalf("viewer's own replica: title %v", v)
	}
	owner.settle(t, r, Write)
	if v, _ := owner.doc.Get("title"); v != "hello" {
		t.Fatalf("the refused change reached the owner: %v", v)
	}
}
