package execute

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"sync"
	"time"

	"github.com/casual-dev/casual/collab/client"
	"github.com/casual-dev/casual/crdt"
)

// PeerConfig configures a Peer.
type PeerConfig struct {
	// ID names this executor in claims and the history; unique per node
	// (default "executor-" + random). The lowest id wins concurrent claims.
	ID string
	// Dial connects to the sync server: for the in-process peer,
	//
	//	func(ctx context.Context) (client.Transport, error) {
	//		return collabServer.Connect(ctx, collab.Credentials{Actor: "executor"}), nil
	//	}
	//
	// The peer dials once per watched document, so that releasing a
	// document closes its connection and lets the server unload it. ctx
	// ends when the peer closes: an in-process session may live as long.
	Dial    func(ctx context.Context) (client.Transport, error)
	Engine  *Engine
	History History // default an in-memory history
	// ClaimSettle is how long a claimer waits, after the server has
	// acknowledged its claim, for concurrent claims to arrive before
	// deciding who won. With executors sharing one History (one node, or
	// one database) the History decides and 0 is right; with several nodes
	// and separate histories, set it above the cross-node delay (50 ms).
	ClaimSettle time.Duration
	// Lease is how long a claim holds a run (default 30 s); the executor
	// renews it every Lease/3 while the handler runs. A run whose lease
	// lapses (its executor died or lost the server) is taken over: see
	// Peer.
	Lease time.Duration
	// IdleRelease: a watched document that has had no queued or running
	// run, and no activity, for this long is released — its connection
	// closed so the server can unload it (default 1 min). Notify or Watch
	// opens it again.
	IdleRelease time.Duration
	// ShowRunningAfter: a run is marked running in the document once it
	// has lasted this long (default 10 ms); a quicker run goes from queued
	// to completed in one change, which saves the document a round of
	// sync per run. Negative: at once.
	ShowRunningAfter time.Duration
	// KeepRuns bounds finished runs kept in a document (default 100); the
	// executor deletes older ones, which stay in the history.
	KeepRuns int
	// Clock is the time source for leases and idle release (default the
	// system clock); tests inject a fake one.
	Clock  Clock
	Logger *slog.Logger
}

// Clock tells the time and wakes waiters, for leases and idle release.
type Clock interface {
	Now() time.Time
	// After returns a channel that receives once d has passed.
	After(d time.Duration) <-chan time.Time
}

type systemClock struct{}

func (systemClock) Now() time.Time                         { return time.Now() }
func (systemClock) After(d time.Duration) <-chan time.Time { return time.After(d) }

// MaxAttempts is how many times a run is started before an executor lost
// during it makes it fail with code "executor_lost".
const MaxAttempts = 2

// Peer is the executor's replica: it watches documents for queued runs,
// claims them, runs them on the Engine and writes the results back, as
// changes of its own actor.
//
// How a run is claimed so that one executor runs it, even with several:
//  1. A run is taken only when no other run of the document is claimed and
//     unfinished, oldest first, among the runs the replica has. With a
//     shared History that is not enough (a run queued on another node may
//     not have arrived, and a quick run's claim is only in the History), so
//     History.Claim also refuses a run while another run of the app is
//     held, and the winner waits until its replica has the heads the app's
//     last finished run left (Claim.After; recorded by Finish once the
//     server acknowledged them). Runs of one app thus never overlap, and
//     each sees the state its predecessor wrote.
//  2. With executors sharing one History (one node, or one PostgreSQL
//     database: ClaimSettle 0), History.Claim decides: it is atomic, so
//     of executors that see the same queued run at once exactly one
//     passes; the others try again when the document changes, soon after
//     (5 ms, doubling up to 1 s), or at the latest when the winner's lease
//     ends.
//  3. With separate histories (ClaimSettle set), the claims in the
//     document decide first: the executor writes
//     runs.<id>["claim:<its id>"] = now (distinct keys of the run's map, so
//     concurrent claims all survive the merge), waits until the server
//     has acknowledged it (its reply carries every change the server had,
//     including earlier claims), then ClaimSettle for later concurrent
//     ones; the winner is the lowest executor id among the claims, on
//     which every replica with the same claims agrees. The winner then
//     also fences through its History.Claim. Separate histories do not
//     see each other's runs: runs of one app are serialized only as far
//     as the replicas see each other's claims.
//  4. The winner runs the handler. Once the run has lasted
//     ShowRunningAfter it writes status running, executor, startedAt,
//     attempts, leaseUntil (now + Lease) and, after a shared History's
//     claim, its claim key; it renews the lease in the History and the
//     document every Lease/3. It writes status, output or error, logs,
//     metrics and the state patch in one change — with the start fields
//     too if the run was quicker than ShowRunningAfter.
//
// Recovery, when an executor dies or is cut off mid-run: a claimed,
// unfinished run whose lease has ended (leaseUntil, or its claims' time +
// Lease if it never started) is taken over by any executor watching the
// document (a run whose start never reached the document stays queued,
// and is taken over in the History once the lease there ended). If it was started fewer than MaxAttempts times it is
// re-queued (claims and executor removed, status queued) and runs again;
// otherwise it fails with error code "executor_lost". An executor writes
// a result only while it holds the lease (its renewals succeeded and its
// leaseUntil has not passed), so a run's output and state patch are
// applied at most once even if its first executor was only slow: that
// executor drops its result. Handlers have no other effects. Leases are
// compared with each node's clock: keep nodes' clocks within a fraction
// of Lease.
type Peer struct {
	cfg   PeerConfig
	log   *slog.Logger
	eng   *Engine
	hist  History
	clock Clock

	ctx    context.Context // ends every watch
	cancel context.CancelFunc
	wg     sync.WaitGroup

	mu       sync.Mutex
	watches  map[crdt.DocID]*watch
	opening  map[crdt.DocID]bool // Notify is watching them
	closed   bool
	ran      int64 // runs this peer executed
	released int64 // documents released when idle
}

type watch struct {
	cl     *client.Client
	h      *client.Handle
	cancel context.CancelFunc
	done   chan struct{}
	active time.Time // last activity; guarded by Peer.mu
}

// NewPeer returns a peer watching nothing yet.
func NewPeer(ctx context.Context, cfg PeerConfig) (*Peer, error) {
	if cfg.Dial == nil || cfg.Engine == nil {
		return nil, errors.New("execute: PeerConfig needs Dial and Engine")
	}
	if cfg.ID == "" {
		cfg.ID = "executor-" + NewRunID()[4:12]
	}
	if cfg.History == nil {
		cfg.History = NewMemHistory(0)
	}
	if cfg.KeepRuns <= 0 {
		cfg.KeepRuns = 100
	}
	if cfg.Lease <= 0 {
		cfg.Lease = 30 * time.Second
	}
	if cfg.ShowRunningAfter == 0 {
		cfg.ShowRunningAfter = 10 * time.Millisecond
	}
	if cfg.IdleRelease <= 0 {
		cfg.IdleRelease = time.Minute
	}
	if cfg.Clock == nil {
		cfg.Clock = systemClock{}
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	pctx, cancel := context.WithCancel(context.Background())
	return &Peer{cfg: cfg, log: cfg.Logger.With(slog.String("executor", cfg.ID)), eng: cfg.Engine,
		hist: cfg.History, clock: cfg.Clock, ctx: pctx, cancel: cancel,
		watches: map[crdt.DocID]*watch{}, opening: map[crdt.DocID]bool{}}, nil
}

// ID returns the executor id.
func (p *Peer) ID() string { return p.cfg.ID }

// Ran returns how many runs this peer has executed.
func (p *Peer) Ran() int64 {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.ran
}

// Released returns how many times the peer released an idle document.
func (p *Peer) Released() int64 {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.released
}

// Watching reports whether the peer has doc open.
func (p *Peer) Watching(doc crdt.DocID) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.watches[doc] != nil
}

// Notify tells the peer that doc has a queued run: a watched document
// stays open (the idle period starts again); another is watched, in the
// background. It never blocks, so a room may call it after storing a
// change.
func (p *Peer) Notify(doc crdt.DocID) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.closed || p.opening[doc] {
		return
	}
	if w := p.watches[doc]; w != nil {
		w.active = p.clock.Now()
		return
	}
	p.opening[doc] = true
	p.wg.Add(1)
	go func() {
		defer p.wg.Done()
		_, err := p.Watch(p.ctx, doc)
		p.mu.Lock()
		delete(p.opening, doc)
		p.mu.Unlock()
		if err != nil && p.ctx.Err() == nil {
			p.log.Warn("could not watch document", slog.String("doc", string(doc)), slog.Any("err", err))
		}
	}()
}

// Watch makes the peer open doc and execute its queued runs until it is
// idle (see PeerConfig.IdleRelease), Unwatch or Close. Call it, or Notify,
// whenever a document may get runs: when a stored change leaves a queued
// run in it, and before queueing a run through the API (Executor.Execute
// does). Watching a watched document only restarts its idle period. ctx
// bounds connecting and fetching the document only.
func (p *Peer) Watch(ctx context.Context, doc crdt.DocID) (*client.Handle, error) {
	if h := p.touch(doc); h != nil {
		return h, nil
	}
	p.mu.Lock()
	closed := p.closed
	p.mu.Unlock()
	if closed {
		return nil, ErrClosed
	}
	// The transport lives as long as the peer (an in-process session ends
	// with the context it was dialed with); ctx bounds the rest.
	t, err := p.cfg.Dial(p.ctx)
	if err != nil {
		return nil, fmt.Errorf("watch %s: dial: %w", doc, err)
	}
	// One connection per document, each its own peer: the server replaces
	// a connection that joins with the peer id of another.
	cl, err := client.New(ctx, t, client.Options{PeerID: p.cfg.ID + "-" + string(doc), Logger: p.cfg.Logger})
	if err != nil {
		return nil, fmt.Errorf("watch %s: join: %w", doc, err)
	}
	h, err := cl.Find(ctx, doc)
	if err != nil {
		cl.Close()
		return nil, fmt.Errorf("watch %s: %w", doc, err)
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.closed {
		cl.Close()
		return nil, ErrClosed
	}
	if w := p.watches[doc]; w != nil { // a concurrent Watch won
		cl.Close()
		w.active = p.clock.Now()
		return w.h, nil
	}
	wctx, cancel := context.WithCancel(p.ctx)
	w := &watch{cl: cl, h: h, cancel: cancel, done: make(chan struct{}), active: p.clock.Now()}
	p.watches[doc] = w
	p.wg.Add(1)
	go func() {
		defer p.wg.Done()
		defer close(w.done)
		defer cl.Close()
		defer cancel()
		p.loop(wctx, doc, w)
	}()
	return h, nil
}

// Touch restarts doc's idle period if the peer watches it, and reports
// whether it does: a room that stored a change calls it first, and looks
// for queued runs (HasQueuedRun, then Notify) only in documents the peer
// does not watch, which already sees every change.
func (p *Peer) Touch(doc crdt.DocID) bool { return p.touch(doc) != nil }

// touch restarts doc's idle period and returns its handle, if watched.
func (p *Peer) touch(doc crdt.DocID) *client.Handle {
	p.mu.Lock()
	defer p.mu.Unlock()
	if w := p.watches[doc]; w != nil {
		w.active = p.clock.Now()
		return w.h
	}
	return nil
}

// Unwatch stops executing runs of doc, waits for a run under way, and
// closes the document's connection.
func (p *Peer) Unwatch(doc crdt.DocID) {
	p.mu.Lock()
	w := p.watches[doc]
	delete(p.watches, doc)
	p.mu.Unlock()
	if w != nil {
		w.cancel()
		<-w.done
	}
}

// Close stops every watch and disconnects. Runs under way are abandoned
// (their status stays running until their lease lapses).
func (p *Peer) Close() error {
	p.mu.Lock()
	if p.closed {
		p.mu.Unlock()
		return nil
	}
	p.closed = true
	p.mu.Unlock()
	p.cancel()
	p.wg.Wait()
	return nil
}

// loop executes doc's runs, one at a time, whenever the replica changes
// or a lease lapses, and releases the document once it is idle.
func (p *Peer) loop(ctx context.Context, doc crdt.DocID, w *watch) {
	log := p.log.With(slog.String("doc", string(doc)))
	h := w.h
	finished := map[string]float64{}
	var seen []crdt.Hash
	var wake time.Time // a lease to look at again; zero: none
	busy := true       // the document has queued or unfinished runs
	fences := 0        // claims refused in a row
	for {
		p.mu.Lock()
		deadline := w.active.Add(p.cfg.IdleRelease)
		p.mu.Unlock()
		if busy || !wake.IsZero() && wake.Before(deadline) {
			deadline = wake // zero when busy without a lease to watch: wait for a change
		}
		changed, err := p.waitChange(ctx, h, seen, deadline)
		if err != nil {
			if ctx.Err() == nil {
				log.Warn("stop watching", slog.Any("err", err))
			}
			p.drop(doc, w)
			return
		}
		now := p.clock.Now()
		if changed {
			p.mu.Lock()
			w.active = now
			p.mu.Unlock()
		} else if !busy && p.release(doc, w, now) {
			log.Debug("released idle document")
			return
		}
		for {
			var pk pick
			h.Read(func(d *crdt.Doc) {
				seen = d.Heads()
				pk = pickRun(d, finished, p.clock.Now(), p.cfg.Lease)
			})
			busy, wake = pk.busy, pk.wake
			if pk.kind == pickNone {
				break
			}
			var err error
			if pk.kind == pickLapsed {
				err = p.recover(ctx, doc, h, pk.run)
			} else {
				err = p.process(ctx, doc, h, pk.run, finished)
			}
			p.mu.Lock()
			w.active = p.clock.Now()
			p.mu.Unlock()
			if fenced := (*fencedError)(nil); errors.As(err, &fenced) {
				// Usually the holder is finishing: try again soon, then
				// less often, and at the latest when its lease ends.
				retry := min(5*time.Millisecond<<min(fences, 8), time.Second)
				fences++
				wake = p.clock.Now().Add(retry)
				if fenced.until.Before(wake) {
					wake = fenced.until
				}
				break
			}
			fences = 0
			if err != nil {
				if ctx.Err() != nil {
					return
				}
				log.Warn("run", slog.String("run", pk.run.ID), slog.Any("err", err))
				// Try again on the next change, or in a second (the
				// History may be briefly unreachable); never spin.
				wake = p.clock.Now().Add(time.Second)
				break
			}
		}
	}
}

// waitChange waits until the replica's heads differ from seen (true), or
// the clock reaches deadline if it is not zero (false).
func (p *Peer) waitChange(ctx context.Context, h *client.Handle, seen []crdt.Hash, deadline time.Time) (bool, error) {
	changed := func(d *crdt.Doc) bool { return !slices.Equal(d.Heads(), seen) }
	if deadline.IsZero() {
		return true, h.WaitFor(ctx, changed)
	}
	wctx, cancel := context.WithCancel(ctx)
	defer cancel()
	timer := p.clock.After(deadline.Sub(p.clock.Now()))
	fired := make(chan struct{})
	go func() { // ends with wctx, at the latest when waitChange returns
		select {
		case <-timer:
			close(fired)
			cancel()
		case <-wctx.Done():
		}
	}()
	err := h.WaitFor(wctx, changed)
	if err == nil {
		return true, nil
	}
	if ctx.Err() == nil {
		select {
		case <-fired:
			return false, nil
		default:
		}
	}
	return false, err
}

// release forgets doc if it has been idle for IdleRelease at now, and
// reports whether it did; the loop then returns and its connection
// closes, so the server can unload the document.
func (p *Peer) release(doc crdt.DocID, w *watch, now time.Time) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	if now.Sub(w.active) < p.cfg.IdleRelease || p.watches[doc] != w {
		return false
	}
	delete(p.watches, doc)
	p.released++
	return true
}

// drop forgets w after its loop failed, so a later Watch starts afresh.
func (p *Peer) drop(doc crdt.DocID, w *watch) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.watches[doc] == w {
		delete(p.watches, doc)
	}
}

// errTaken: the run was claimed by someone else first.
var errTaken = errors.New("run already claimed")

// process claims run r and, if this peer wins, executes it.
func (p *Peer) process(ctx context.Context, doc crdt.DocID, h *client.Handle, r docRun, finished map[string]float64) error {
	if p.cfg.ClaimSettle > 0 {
		// Separate histories: the claims in the document decide first.
		won, err := p.claim(ctx, h, r.ID)
		if err != nil || !won {
			return err
		}
	}
	start := p.clock.Now()
	lease := &leaseState{until: start.Add(p.cfg.Lease)}
	rec := Record{ID: r.ID, App: string(doc), Handler: r.Handler, Status: StatusRunning, Input: r.Input,
		By: r.By, Executor: p.cfg.ID, QueuedAt: time.UnixMilli(int64(r.At)), StartedAt: &start,
		Attempts: r.Attempts + 1}
	rec.LeaseUntil = &lease.until
	c, err := p.hist.Claim(ctx, rec)
	if err != nil {
		return err
	}
	if !c.Won {
		return p.fencedOut(c, r)
	}
	// The app's previous run may have been finished by another executor
	// whose result has not reached this replica yet: run on its state.
	if err := p.waitHeads(ctx, h, c.After); err != nil {
		return fmt.Errorf("run %s: %w", r.ID, err)
	}
	// Only the winner writes status: a loser's concurrent "running" could
	// otherwise outlive the winner's "completed" in the merge. The start
	// (with the claim key, when a shared History decided) is written once
	// the run has lasted ShowRunningAfter; a quicker run's start goes in
	// the change with its result, saving the document a round of sync.
	var job Job
	var jobErr error
	var open bool
	h.Read(func(d *crdt.Doc) {
		cur, ok := readRun(d, r.ID)
		if open = ok && !cur.finished(); open {
			job, jobErr = handlerJob(d, r)
		}
	})
	if !open {
		return nil
	}
	startFields := func(d *crdt.Doc) error {
		fields := map[string]any{"status": StatusRunning, "executor": p.cfg.ID, "startedAt": start.UnixMilli(),
			"leaseUntil": lease.until.UnixMilli(), "attempts": int64(rec.Attempts)}
		if p.cfg.ClaimSettle == 0 {
			fields[claimPrefix+p.cfg.ID] = start.UnixMilli()
		}
		for _, k := range sortedKeys(fields) {
			if err := d.Set([]any{"runs", r.ID, k}, fields[k]); err != nil {
				return err
			}
		}
		return nil
	}
	var res Result
	runErr := jobErr
	if runErr == nil {
		rctx, stop := context.WithCancel(ctx)
		kept := make(chan struct{})
		go func() { // stopped by stop() below
			defer close(kept)
			p.keep(rctx, ctx, stop, h, rec, lease, startFields)
		}()
		res, runErr = p.eng.Run(rctx, job)
		stop()
		<-kept
	}
	if ctx.Err() != nil {
		return ctx.Err() // shutting down: leave it running, not failed
	}
	end := p.clock.Now()
	if lease.lost || !end.Before(lease.until) {
		// Another executor may have taken the run over: its result, not
		// this one, is the run's.
		p.log.Warn("lease lost: result dropped", slog.String("run", r.ID))
		return nil
	}
	p.mu.Lock()
	p.ran++
	p.mu.Unlock()
	err = h.Change(ctx, "execute: finish "+r.ID, func(d *crdt.Doc) error {
		cur, ok := readRun(d, r.ID)
		switch {
		case !ok || cur.finished():
			return errTaken
		case lease.started && (cur.Executor != p.cfg.ID || cur.Attempts != rec.Attempts):
			return errTaken // re-queued by someone who thought this executor lost
		case !lease.started:
			if err := startFields(d); err != nil {
				return err
			}
		}
		if err := writeResult(d, r.ID, res, runErr, end); err != nil {
			return err
		}
		finished[r.ID] = r.At
		return pruneRuns(d, finished, p.cfg.KeepRuns)
	})
	if errors.Is(err, errTaken) {
		p.log.Warn("run taken over: result dropped", slog.String("run", r.ID))
		return nil
	}
	if err != nil {
		return fmt.Errorf("finish run %s: %w", r.ID, err)
	}
	fillRecord(&rec, res, runErr, end)
	return p.finish(ctx, h, rec)
}

// finish records a finished run in the History, once the server has the
// change with its result: the History then gives the next run of the app
// the heads to wait for (see History.Claim), which must reach every
// replica. If the server does not acknowledge the change, the run stays
// held until its lease lapses, and its fate is what the server's document
// says (see Peer, recovery).
func (p *Peer) finish(ctx context.Context, h *client.Handle, rec Record) error {
	h.Read(func(d *crdt.Doc) {
		rec.Heads = rec.Heads[:0]
		for _, x := range d.Heads() {
			rec.Heads = append(rec.Heads, x.String())
		}
	})
	actx, cancel := context.WithTimeout(ctx, p.cfg.Lease/3)
	defer cancel()
	if err := h.WaitAcked(actx); err != nil {
		return fmt.Errorf("record run %s: the server has not acknowledged its result: %w", rec.ID, err)
	}
	rec.LeaseUntil = nil
	if ok, err := p.hist.Finish(ctx, rec); err != nil || !ok {
		if err == nil {
			err = errors.New("another executor holds it")
		}
		return fmt.Errorf("record run %s: %w", rec.ID, err)
	}
	return nil
}

// waitHeads waits, at most Lease/3, until the replica has every change of
// heads (hex, as History keeps them).
func (p *Peer) waitHeads(ctx context.Context, h *client.Handle, heads []string) error {
	if len(heads) == 0 {
		return nil
	}
	want := make([]crdt.Hash, 0, len(heads))
	for _, x := range heads {
		hash, err := crdt.ParseHash(x)
		if err != nil {
			return fmt.Errorf("previous run's heads: %w", err)
		}
		want = append(want, hash)
	}
	wctx, cancel := context.WithTimeout(ctx, p.cfg.Lease/3)
	defer cancel()
	err := h.WaitFor(wctx, func(d *crdt.Doc) bool {
		for _, w := range want {
			if !d.HasChange(w) {
				return false
			}
		}
		return true
	})
	if err != nil {
		return fmt.Errorf("wait for the previous run's result: %w", err)
	}
	return nil
}

// fencedError: another executor holds the run, or another run of the app,
// in the History; look at the document again when it changes, or at the
// latest at until (the loop retries sooner: the holder's finish reaches
// the document just before the History).
type fencedError struct{ until time.Time }

func (e *fencedError) Error() string { return "another executor holds the run or the app" }

// fencedOut is what process returns when the History refused the claim.
func (p *Peer) fencedOut(c Claim, r docRun) error {
	until := c.HeldUntil
	if until.IsZero() {
		until = p.clock.Now().Add(p.cfg.Lease)
	}
	p.log.Debug("lost the fence", slog.String("run", r.ID))
	return &fencedError{until: until.Add(time.Millisecond)}
}

// leaseState is a run's lease as its executor holds it; guarded by the
// renewer until it stops, then read by process.
type leaseState struct {
	until   time.Time
	lost    bool
	started bool // the run's start is in the document
}

// keep looks after a run while its handler runs, until ctx ends: after
// ShowRunningAfter it writes the run's start into the document, then it
// renews the lease every Lease/3, in the History and the document. If the
// History says another executor holds the run, or the run was finished
// meanwhile, it marks the lease lost and stops the run.
//
// Its changes to the document use wctx, the watch's context, not ctx: a
// change whose context ends before it is sent stays in the replica until
// the next exchange, and the start of a run should reach the others now.
func (p *Peer) keep(ctx, wctx context.Context, stop context.CancelFunc, h *client.Handle, rec Record, lease *leaseState,
	startFields func(*crdt.Doc) error) {
	show := time.NewTimer(p.cfg.ShowRunningAfter) // a display delay, not a lease: real time
	select {
	case <-ctx.Done():
		show.Stop()
		return
	case <-show.C:
	}
	err := h.Change(wctx, "execute: start "+rec.ID, func(d *crdt.Doc) error {
		if cur, ok := readRun(d, rec.ID); !ok || cur.finished() {
			return errTaken
		}
		return startFields(d)
	})
	switch {
	case err == nil:
		lease.started = true
	case errors.Is(err, errTaken):
		lease.lost = true
		stop()
		return
	case wctx.Err() != nil:
		return
	default:
		// The finish change will carry the start.
		p.log.Warn("start run", slog.String("run", rec.ID), slog.Any("err", err))
	}
	for {
		select {
		case <-ctx.Done():
			return
		case <-p.clock.After(p.cfg.Lease / 3):
		}
		until := p.clock.Now().Add(p.cfg.Lease)
		ok, err := p.hist.Renew(ctx, rec.App, rec.ID, rec.Executor, until)
		if err != nil {
			if ctx.Err() == nil {
				p.log.Warn("renew lease", slog.String("run", rec.ID), slog.Any("err", err))
			}
			continue // the lease still runs; try again
		}
		if !ok {
			lease.lost = true
			stop()
			return
		}
		lease.until = until
		if !lease.started {
			continue
		}
		err = h.Change(wctx, "execute: renew "+rec.ID, func(d *crdt.Doc) error {
			return d.Set([]any{"runs", rec.ID, "leaseUntil"}, until.UnixMilli())
		})
		if err != nil && wctx.Err() == nil {
			p.log.Warn("renew lease in the document", slog.String("run", rec.ID), slog.Any("err", err))
		}
	}
}

// recover handles run r, claimed and unfinished, whose lease lapsed: it is
// re-queued if it was started fewer than MaxAttempts times, else failed
// with code executor_lost.
func (p *Peer) recover(ctx context.Context, doc crdt.DocID, h *client.Handle, r docRun) error {
	now := p.clock.Now()
	lapsed := func(d *crdt.Doc) (docRun, bool) {
		cur, ok := readRun(d, r.ID)
		return cur, ok && cur.claimed() && !cur.finished() && now.After(cur.leaseEnd(p.cfg.Lease))
	}
	if r.Attempts < MaxAttempts {
		err := h.Change(ctx, "execute: re-queue "+r.ID, func(d *crdt.Doc) error {
			cur, ok := lapsed(d)
			if !ok {
				return errTaken
			}
			for _, c := range cur.Claims {
				if err := d.Delete("runs", r.ID, claimPrefix+c); err != nil {
					return err
				}
			}
			for _, k := range []string{"executor", "startedAt", "leaseUntil"} {
				if v, _ := d.Get("runs", r.ID, k); v != nil {
					if err := d.Delete("runs", r.ID, k); err != nil {
						return err
					}
				}
			}
			return d.Set([]any{"runs", r.ID, "status"}, StatusQueued)
		})
		if err != nil && !errors.Is(err, errTaken) {
			return fmt.Errorf("re-queue run %s: %w", r.ID, err)
		}
		p.log.Info("run re-queued: its executor was lost", slog.String("run", r.ID), slog.String("lost", r.Executor))
		return nil
	}
	// Fence the failure like a run, so one executor writes it.
	lease := now.Add(p.cfg.Lease)
	rec := Record{ID: r.ID, App: string(doc), Handler: r.Handler, Status: StatusRunning, Input: r.Input,
		By: r.By, Executor: p.cfg.ID, QueuedAt: time.UnixMilli(int64(r.At)), StartedAt: &now, LeaseUntil: &lease,
		Attempts: r.Attempts}
	c, err := p.hist.Claim(ctx, rec)
	if err != nil {
		return err
	}
	if !c.Won {
		return p.fencedOut(c, r) // its lease in the History runs on
	}
	lost := &HandlerError{Err: ErrExecutorLost, Message: fmt.Sprintf(
		"executor lost: %s stopped renewing its lease; the run was started %d times", truncate(r.Executor, 80), r.Attempts)}
	err = h.Change(ctx, "execute: lost "+r.ID, func(d *crdt.Doc) error {
		if _, ok := lapsed(d); !ok {
			return errTaken
		}
		return writeResult(d, r.ID, Result{}, lost, now)
	})
	if errors.Is(err, errTaken) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("fail lost run %s: %w", r.ID, err)
	}
	fillRecord(&rec, Result{}, lost, now)
	return p.finish(ctx, h, rec)
}

// claim writes this peer's claim on run id, lets concurrent claims arrive,
// and reports whether this peer won.
func (p *Peer) claim(ctx context.Context, h *client.Handle, id string) (bool, error) {
	err := h.Change(ctx, "execute: claim "+id, func(d *crdt.Doc) error {
		r, ok := readRun(d, id)
		if !ok || r.claimed() || r.finished() {
			return errTaken // nothing was edited
		}
		return d.Set([]any{"runs", id, claimPrefix + p.cfg.ID}, p.clock.Now().UnixMilli())
	})
	if errors.Is(err, errTaken) {
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("claim %s: %w", id, err)
	}
	if p.cfg.ClaimSettle > 0 {
		// Without a settle time the History fence decides, and waiting
		// for the server would only add a durable round trip.
		actx, cancel := context.WithTimeout(ctx, 10*time.Second)
		defer cancel()
		if err := h.WaitAcked(actx); err != nil {
			return false, fmt.Errorf("claim %s: wait for the server: %w", id, err)
		}
		t := time.NewTimer(p.cfg.ClaimSettle)
		select {
		case <-t.C:
		case <-ctx.Done():
			t.Stop()
			return false, ctx.Err()
		}
	}
	var winner string
	h.Read(func(d *crdt.Doc) {
		r, _ := readRun(d, id)
		winner = r.winner()
	})
	return winner == p.cfg.ID, nil
}

func fillRecord(rec *Record, res Result, runErr error, end time.Time) {
	rec.FinishedAt = &end
	rec.Status = StatusCompleted
	rec.Output = res.Output
	rec.Logs = res.Logs
	if runErr != nil {
		rec.Status = StatusFailed
		rec.Error = &RunError{Code: Outcome(runErr), Message: runErr.Error()}
	}
	rec.DurationMs = ms(res.Duration)
	rec.MemoryBytes = res.MemoryPeak
	rec.Cost = max(float64(res.MemoryPeak)/(1<<20), 1) * res.Duration.Seconds()
}
