package rooms

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"sync/atomic"
	"time"

	"github.com/casual-dev/casual/crdt"
	"github.com/casual-dev/casual/internal/backoff"
	"github.com/casual-dev/casual/store"
)

// Config tunes rooms. Zero values take the defaults noted.
type Config struct {
	// MaxDocBytes refuses changes that would grow a document's stored size
	// past it (default 64 MiB).
	MaxDocBytes int64
	// PresenceTTL forgets a peer's presence this long after its last
	// ephemeral message (default 45 s, the JS Presence peer TTL).
	PresenceTTL time.Duration
	// InboxSize bounds the queue of events waiting for the room (default 256;
	// senders wait when it is full, which slows a flooding peer down).
	InboxSize int
	// CompactMinBytes: incremental chunks are compacted into a snapshot once
	// they add up to at least max(snapshot size, CompactMinBytes)
	// (default 64 KiB).
	CompactMinBytes int64
	Logger          *slog.Logger
	Hooks           Hooks
	// Bus, if set, shares accepted changes and presence with the rooms of
	// other nodes; NodeID names this node on it.
	Bus    Bus
	NodeID string
}

// Hooks report what rooms do, for metrics. Nil fields are skipped.
type Hooks struct {
	// Persisted: one append of a room's changes, from call to commit.
	Persisted func(d time.Duration, bytes int, err error)
	// Compacted: one compaction.
	Compacted func(d time.Duration, err error)
	// Dropped: a peer removed from a room for err.
	Dropped func(err error)
	// Refused: a sync message refused for err.
	Refused func(err error)
	// BusPublished and BusReceived count bus traffic; latency is the
	// publisher-to-here delay of received changes.
	BusPublished func(kind BusKind, err error)
	BusReceived  func(kind BusKind, latency time.Duration)
	// CaughtUp: a room reloaded from the store after a gap.
	CaughtUp func(err error)
	// Stored runs on the room's goroutine after each round that stored new
	// changes, with read access to the document (it must be quick and must
	// not keep d). The executor uses it to notice runs queued by browsers.
	Stored func(id crdt.DocID, d *crdt.Doc)
	// FannedOut: a round's changes went to peers in one shared message
	// (peers in sync) and to others through the core, one call each.
	FannedOut func(shared, individual int)
}

func (c Config) withDefaults() Config {
	if c.MaxDocBytes <= 0 {
		c.MaxDocBytes = 64 << 20
	}
	if c.PresenceTTL <= 0 {
		c.PresenceTTL = 45 * time.Second
	}
	if c.InboxSize <= 0 {
		c.InboxSize = 256
	}
	if c.CompactMinBytes <= 0 {
		c.CompactMinBytes = 64 << 10
	}
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
	return c
}

// maxBatch bounds how many queued events one persist round takes in.
const maxBatch = 512

type member struct {
	peer    Peer
	ss      *crdt.SyncState
	syncing bool // exchanged sync/request on this connection
	wants   bool // asked for the doc while we had none: push it when it appears
	needGen bool
	// sentHeads are the heads our last sync message to the peer announced.
	sentHeads []crdt.Hash
	// fast: the peer acknowledged everything we sent, so each round's new
	// changes reach it in the round's one shared fan-out message (built
	// without the core: crdt.FanoutMessage), and its bare acknowledgements
	// are not fed to the core. Anything else it sends goes to the core and
	// ends fast mode until it is in sync again. The core's sync state for
	// the peer is then behind, which costs at most a resent change.
	fast bool
	// held are replies generated right after each message from the peer
	// (as the JS repo does: generating only once per round can miss the
	// reply that acknowledges a change), sent once the round is stored.
	held [][]byte
	// refused are the peer's changes we refused, by hash, with their
	// dependencies: its later messages are read without them (refused.go).
	refused map[crdt.Hash][]crdt.Hash
}

type presence struct {
	sessionID string
	count     float64
	data      []byte
	at        time.Time
}

// PresenceEntry is the latest ephemeral payload a peer sent in this room.
type PresenceEntry struct {
	PeerID string
	Data   []byte
	At     time.Time
}

type evKind int

const (
	evSync evKind = iota + 1
	evEphemeral
	evLeave
	evDo
	evPresence
	evRemote
)

type event struct {
	kind    evKind
	peer    Peer
	access  Access
	request bool
	data    []byte
	eph     Out
	fn      func(*crdt.Doc) error
	reply   chan error
	pres    chan []PresenceEntry
	remote  BusMessage
}

// Room is the live session around one document.
type Room struct {
	id    crdt.DocID
	cfg   Config
	st    Storage
	log   *slog.Logger
	inbox chan *event
	done  chan struct{}
	stop  context.CancelFunc

	// Owned by the run goroutine.
	doc      *crdt.Doc
	members  map[string]*member
	presence map[string]*presence
	chunks   []store.ChunkRef // what is stored, for compaction
	snapSize int64
	incSize  int64
	pending  [][]byte // changes not yet stored
	dirty    bool
	flushed  []crdt.Hash  // the heads at the end of the last round
	replies  []chan error // Do calls waiting for their changes to be stored
	now      func() time.Time
	behind   atomic.Bool // the bus dropped something for us: catch up from the store
	unsub    func()
}

// newRoom makes a room that is not running yet: the manager subscribes it
// to the bus before loading the document, so nothing published in between
// is missed (such messages wait in the inbox).
func newRoom(id crdt.DocID, st Storage, cfg Config) *Room {
	return &Room{
		id: id, cfg: cfg, st: st, log: cfg.Logger.With(slog.String("doc", string(id))),
		inbox: make(chan *event, cfg.InboxSize), done: make(chan struct{}),
		members: map[string]*member{}, presence: map[string]*presence{}, now: time.Now,
	}
}

// start runs the room's goroutine over the loaded document.
func (r *Room) start(doc *crdt.Doc, chunks []store.Chunk) {
	r.doc = doc
	r.flushed = doc.Heads()
	for _, c := range chunks {
		r.chunks = append(r.chunks, c.ChunkRef)
		if c.Kind == store.Snapshot {
			r.snapSize += int64(c.Size)
		} else {
			r.incSize += int64(c.Size)
		}
	}
	ctx, cancel := context.WithCancel(context.Background())
	r.stop = cancel
	go r.run(ctx)
}

// fromBus hands the room a message from another node. It never blocks the
// bus: if the inbox is full the message is dropped and the room catches up
// from the store instead.
func (r *Room) fromBus(msg BusMessage) {
	if msg.Node == r.cfg.NodeID && msg.Kind != BusResync {
		return
	}
	select {
	case r.inbox <- &event{kind: evRemote, remote: msg}:
	default:
		r.behind.Store(true)
	}
}

// ID returns the document id.
func (r *Room) ID() crdt.DocID { return r.id }

func (r *Room) send(ctx context.Context, ev *event) error {
	select {
	case r.inbox <- ev:
		return nil
	case <-r.done:
		return ErrRoomClosed
	case <-ctx.Done():
		return ctx.Err()
	}
}

// Sync hands the room a sync (or, with request, a request) message from
// peer. Replies and errors reach the peer through Deliver.
func (r *Room) Sync(ctx context.Context, p Peer, access Access, data []byte, request bool) error {
	return r.send(ctx, &event{kind: evSync, peer: p, access: access, data: data, request: request})
}

// Ephemeral relays a presence/awareness message from p to the room's other
// peers; msg keeps the original sender, session and count.
func (r *Room) Ephemeral(ctx context.Context, p Peer, msg Out) error {
	msg.Kind = OutEphemeral
	msg.DocID = r.id
	return r.send(ctx, &event{kind: evEphemeral, peer: p, eph: msg})
}

// Leave removes p from the room.
func (r *Room) Leave(ctx context.Context, p Peer) error {
	return r.send(ctx, &event{kind: evLeave, peer: p})
}

// Do runs fn on the room's goroutine with the document. Changes fn commits
// are stored before Do returns, then sent to every peer.
func (r *Room) Do(ctx context.Context, fn func(*crdt.Doc) error) error {
	reply := make(chan error, 1)
	if err := r.send(ctx, &event{kind: evDo, fn: fn, reply: reply}); err != nil {
		return err
	}
	select {
	case err := <-reply:
		return err
	case <-r.done:
		return ErrRoomClosed
	case <-ctx.Done():
		return ctx.Err()
	}
}

// Presence returns the live presence entries of the room's peers.
func (r *Room) Presence(ctx context.Context) ([]PresenceEntry, error) {
	reply := make(chan []PresenceEntry, 1)
	if err := r.send(ctx, &event{kind: evPresence, pres: reply}); err != nil {
		return nil, err
	}
	select {
	case p := <-reply:
		return p, nil
	case <-r.done:
		return nil, ErrRoomClosed
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}

// close stops the room after storing what is pending and compacting, and
// waits for it.
func (r *Room) close() {
	if r.unsub != nil {
		r.unsub()
	}
	r.stop()
	<-r.done
}

func (r *Room) run(ctx context.Context) {
	defer close(r.done)
	tick := time.NewTicker(r.cfg.PresenceTTL / 3)
	defer tick.Stop()
	for {
		select {
		case ev := <-r.inbox:
			r.handle(ev)
			r.drain()
		case <-tick.C:
			r.prunePresence()
			if r.behind.Load() {
				r.catchUp(ctx)
			}
		case <-ctx.Done():
			r.shutdown()
			return
		}
		if r.behind.Load() {
			r.catchUp(ctx)
		}
		r.flush(ctx)
	}
}

func (r *Room) drain() {
	for i := 0; i < maxBatch; i++ {
		select {
		case ev := <-r.inbox:
			r.handle(ev)
		default:
			return
		}
	}
}

// shutdown stores anything pending (nothing, normally: every round ends
// stored) and compacts, with a bounded context of its own.
func (r *Room) shutdown() {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := r.persist(ctx); err != nil {
		r.log.Error("final persist failed", slog.Any("err", err))
	}
	if len(r.chunks) > 1 {
		r.compact(ctx)
	}
	for _, reply := range r.replies {
		reply <- ErrRoomClosed
	}
}

func (r *Room) handle(ev *event) {
	switch ev.kind {
	case evSync:
		r.handleSync(ev)
	case evEphemeral:
		r.handleEphemeral(ev)
	case evLeave:
		if m := r.members[ev.peer.ID()]; m != nil && m.peer == ev.peer {
			delete(r.members, ev.peer.ID())
			delete(r.presence, ev.peer.ID())
		}
	case evDo:
		before := r.doc.Heads()
		err := ev.fn(r.doc)
		if _, _, cerr := r.doc.Commit(""); err == nil {
			err = cerr
		}
		if !slices.Equal(before, r.doc.Heads()) {
			r.changed()
		}
		if err != nil {
			ev.reply <- err
			return
		}
		r.replies = append(r.replies, ev.reply)
	case evRemote:
		r.handleRemote(ev.remote)
	case evPresence:
		r.prunePresence()
		out := make([]PresenceEntry, 0, len(r.presence))
		for id, p := range r.presence {
			out = append(out, PresenceEntry{PeerID: id, Data: p.data, At: p.at})
		}
		slices.SortFunc(out, func(a, b PresenceEntry) int { return compareStrings(a.PeerID, b.PeerID) })
		ev.pres <- out
	}
}

func compareStrings(a, b string) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

// memberFor returns p's membership, replacing one left by an earlier
// connection with the same peerId (its sync state is stale: PR #206).
func (r *Room) memberFor(p Peer) *member {
	m := r.members[p.ID()]
	if m == nil || m.peer != p {
		m = &member{peer: p, ss: r.doc.NewSyncState()}
		r.members[p.ID()] = m
	}
	return m
}

func (r *Room) handleSync(ev *event) {
	m := r.memberFor(ev.peer)
	m.syncing = true
	if err := r.admit(ev); err != nil {
		r.refuse(m, err)
		if !m.noteRefused(ev.data) {
			r.drop(m, errTooManyRefused)
			return
		}
		if len(m.refused) == 0 {
			return
		}
		m.fast = false
		ev.data = r.withoutRefused(m, ev.data, true) // the rest of it still counts
	} else if len(m.refused) > 0 {
		ev.data = r.withoutRefused(m, ev.data, false)
	}
	if m.fast {
		if !ev.request && r.bareAck(m, ev.data) {
			return
		}
		m.fast = false
	}
	before := r.doc.Heads()
	if _, err := m.ss.Receive(ev.data); err != nil {
		// The peer's view of what we have is now unreliable: start over.
		m.ss = r.doc.NewSyncState()
		r.refuse(m, fmt.Errorf("%w: %v", ErrSyncFailed, err))
		if !slices.Equal(before, r.doc.Heads()) { // changes before the bad one still count
			r.changed()
		}
		return
	}
	heads := r.doc.Heads()
	if !slices.Equal(before, heads) {
		r.changed()
	}
	if ev.request && len(heads) == 0 {
		m.wants = true
		m.needGen = false
		if !ev.peer.Deliver(Out{Kind: OutDocUnavailable, DocID: r.id}) {
			r.drop(m, ErrSlowPeer)
		}
		return
	}
	if inSync(ev.data, heads, m.sentHeads) {
		// A bare acknowledgement from a peer that has everything and
		// knows we do: the core would have nothing to say. Skipping the
		// call matters in a busy room, where every change brings one such
		// message from every peer.
		m.needGen = false
		m.fast = true
		return
	}
	r.generate(m)
}

// bareAck reports whether msg only acknowledges: no changes, no needs,
// and heads we have (a fast peer may acknowledge an earlier round while
// the next is on its way).
func (r *Room) bareAck(m *member, msg []byte) bool {
	sm, err := crdt.ParseSyncMessage(msg)
	if err != nil || len(sm.Changes) > 0 || len(sm.Need) > 0 {
		return false
	}
	if sameHeads(sm.Heads, m.sentHeads) || sameHeads(sm.Heads, r.flushed) {
		return true // the usual case, answered without asking the core
	}
	for _, h := range sm.Heads {
		if !r.doc.HasChange(h) {
			return false
		}
	}
	return true
}

// inSync reports whether msg carries no changes and no needs, and both its
// heads and the heads we last sent the peer are ours.
func inSync(msg []byte, ours, sent []crdt.Hash) bool {
	if len(ours) == 0 || !sameHeads(sent, ours) {
		return false
	}
	sm, err := crdt.ParseSyncMessage(msg)
	return err == nil && len(sm.Changes) == 0 && len(sm.Need) == 0 && sameHeads(sm.Heads, ours)
}

// sameHeads compares two sets of heads (ours come sorted; a peer's may not).
func sameHeads(a, b []crdt.Hash) bool {
	if len(a) != len(b) {
		return false
	}
	for _, h := range a {
		if !slices.Contains(b, h) {
			return false
		}
	}
	return true
}

// generate queues the member's next sync message, to be sent at flush.
func (r *Room) generate(m *member) {
	m.needGen = false
	msg, ok, err := m.ss.Generate()
	if err != nil {
		r.log.Error("generate sync message", slog.Any("err", err))
		m.ss = r.doc.NewSyncState()
		return
	}
	if ok {
		m.held = append(m.held, msg)
		if sm, err := crdt.ParseSyncMessage(msg); err == nil {
			m.sentHeads = sm.Heads
		}
	}
}

// admit checks a sync message against the peer's access and the size
// limit before it touches the document.
func (r *Room) admit(ev *event) error {
	size := r.snapSize + r.incSize + int64(len(ev.data))
	if ev.access >= Write && size <= r.cfg.MaxDocBytes {
		return nil
	}
	info, err := crdt.InspectSyncMessage(ev.data)
	if err != nil {
		return fmt.Errorf("%w: %v", ErrSyncFailed, err)
	}
	if info.Changes == 0 {
		return nil
	}
	if ev.access < Write {
		return fmt.Errorf("%w (%d changes in the message)", ErrReadOnly, info.Changes)
	}
	return &LimitError{Err: ErrDocTooLarge, Limit: r.cfg.MaxDocBytes, Got: size}
}

func (r *Room) refuse(m *member, err error) {
	if h := r.cfg.Hooks.Refused; h != nil {
		h(err)
	}
	r.log.Info("sync refused", slog.String("peer", m.peer.ID()), slog.Any("err", err))
	if !m.peer.Deliver(Out{Kind: OutError, DocID: r.id, Err: err}) {
		r.drop(m, ErrSlowPeer)
	}
}

func (r *Room) changed() {
	r.dirty = true
	r.peersNeedGen()
}

func (r *Room) handleEphemeral(ev *event) {
	id := ev.peer.ID()
	r.memberFor(ev.peer)
	p := r.presence[ev.eph.SenderID]
	if p != nil && p.sessionID == ev.eph.SessionID && ev.eph.Count <= p.count {
		return // a duplicate or an echo of something already relayed
	}
	r.presence[ev.eph.SenderID] = &presence{sessionID: ev.eph.SessionID, count: ev.eph.Count, data: ev.eph.Data, at: r.now()}
	r.relay(ev.eph, id)
	if r.cfg.Bus != nil {
		r.publish(BusMessage{Kind: BusPresence, Presence: ev.eph})
	}
}

// relay sends an ephemeral message to every member but except.
func (r *Room) relay(msg Out, except string) {
	for oid, o := range r.members {
		if oid == except {
			continue
		}
		if !o.peer.Deliver(msg) {
			r.drop(o, ErrSlowPeer)
		}
	}
}

func (r *Room) prunePresence() {
	cut := r.now().Add(-r.cfg.PresenceTTL)
	for id, p := range r.presence {
		if p.at.Before(cut) {
			delete(r.presence, id)
		}
	}
}

func (r *Room) drop(m *member, err error) {
	if r.members[m.peer.ID()] != m {
		return
	}
	delete(r.members, m.peer.ID())
	delete(r.presence, m.peer.ID())
	if h := r.cfg.Hooks.Dropped; h != nil {
		h(err)
	}
	r.log.Warn("peer dropped", slog.String("peer", m.peer.ID()), slog.Any("err", err))
	m.peer.Drop(err)
}

// flush ends a round: store what changed, then answer Do calls and send
// every peer that needs one its next sync message. Nothing that reveals a
// change leaves before the change is stored.
func (r *Room) flush(ctx context.Context) {
	if r.dirty {
		if err := r.persist(ctx); err != nil {
			return // ctx done: shutdown stores it
		}
		r.dirty = false
		if h := r.cfg.Hooks.Stored; h != nil {
			h(r.id, r.doc)
		}
	}
	for _, reply := range r.replies {
		reply <- nil
	}
	r.replies = r.replies[:0]
	now := r.doc.Heads()
	heads := len(now) > 0
	var fanout []byte // this round's changes for fast peers, built once
	shared, individual := 0, 0
	for _, m := range r.members {
		if m.needGen && !(m.wants && !heads) {
			if m.fast && sameHeads(m.sentHeads, now) {
				m.needGen = false // it has everything already
			} else if m.fast && sameHeads(m.sentHeads, r.flushed) && len(r.flushed) > 0 {
				if fanout == nil {
					var err error
					if fanout, _, err = r.doc.FanoutMessage(r.flushed); err != nil {
						r.log.Error("fan-out message", slog.Any("err", err))
					}
				}
				if fanout != nil {
					m.held = append(m.held, fanout)
					m.sentHeads = now
					m.needGen = false
					shared++
				}
			}
			if m.needGen {
				m.fast = false
				r.generate(m)
				individual++
			}
		}
		m.needGen = false
		for _, msg := range m.held {
			if !m.peer.Deliver(Out{Kind: OutSync, DocID: r.id, Data: msg}) {
				r.drop(m, ErrSlowPeer)
				break
			}
		}
		m.held = m.held[:0]
	}
	r.flushed = now
	if h := r.cfg.Hooks.FannedOut; h != nil && shared+individual > 0 {
		h(shared, individual)
	}
	if r.incSize >= max(r.snapSize, r.cfg.CompactMinBytes) {
		r.compact(ctx)
	}
}

// persist stores every change not yet stored, retrying until it succeeds
// or ctx ends: a change is never acknowledged before it is stored.
func (r *Room) persist(ctx context.Context) error {
	if inc := r.doc.SaveIncremental(); inc != nil {
		r.pending = append(r.pending, inc)
	}
	wait := 10 * time.Millisecond
	for len(r.pending) > 0 {
		data := r.pending[0]
		if len(r.pending) > 1 {
			data = store.Concat(chunksOf(r.pending))
		}
		start := time.Now()
		ref, err := r.st.Append(ctx, string(r.id), data)
		if h := r.cfg.Hooks.Persisted; h != nil {
			h(time.Since(start), len(data), err)
		}
		if err == nil {
			r.pending = r.pending[:0]
			r.chunks = append(r.chunks, ref)
			r.incSize += int64(ref.Size)
			if r.cfg.Bus != nil {
				r.publish(BusMessage{Kind: BusChanges, Changes: data, Heads: r.doc.Heads()})
			}
			return nil
		}
		r.pending = [][]byte{data}
		r.log.Error("persist failed; retrying", slog.Any("err", err), slog.Duration("backoff", wait))
		if !backoff.Sleep(ctx, wait) {
			return ctx.Err()
		}
		wait = min(wait*2, 2*time.Second)
	}
	return nil
}

func chunksOf(bs [][]byte) []store.Chunk {
	out := make([]store.Chunk, len(bs))
	for i, b := range bs {
		out[i].Data = b
	}
	return out
}

func (r *Room) compact(ctx context.Context) {
	start := time.Now()
	snap := r.doc.Save()
	ref, err := r.st.Compact(ctx, string(r.id), snap, r.chunks)
	if h := r.cfg.Hooks.Compacted; h != nil {
		h(time.Since(start), err)
	}
	if err != nil {
		if !errors.Is(err, context.Canceled) {
			r.log.Error("compact failed", slog.Any("err", err))
		}
		return
	}
	r.chunks = []store.ChunkRef{ref}
	r.snapSize, r.incSize = int64(ref.Size), 0
}
