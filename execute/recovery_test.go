package execute_test

import (
	"context"
	"fmt"
	"log/slog"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/casual-dev/casual/collab"
	"github.com/casual-dev/casual/collab/client"
	"github.com/casual-dev/casual/crdt"
	"github.com/casual-dev/casual/execute"
	"github.com/casual-dev/casual/execute/historytest"
	"github.com/casual-dev/casual/rooms"
)

// fakeClock is a Clock that moves only when told to.
type fakeClock struct {
	mu      sync.Mutex
	now     time.Time
	waiters []fakeWaiter
}

type fakeWaiter struct {
	at time.Time
	ch chan time.Time
}

func newFakeClock(now time.Time) *fakeClock { return &fakeClock{now: now} }

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *fakeClock) After(d time.Duration) <-chan time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	ch := make(chan time.Time, 1)
	if d <= 0 {
		ch <- c.now
		return ch
	}
	c.waiters = append(c.waiters, fakeWaiter{at: c.now.Add(d), ch: ch})
	return ch
}

// Advance moves the clock and wakes the waiters it passes.
func (c *fakeClock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
	c.waiters = slices.DeleteFunc(c.waiters, func(w fakeWaiter) bool {
		if w.at.After(c.now) {
			return false
		}
		w.ch <- c.now
		return true
	})
}

// waitForWaiter blocks until someone waits for the clock to reach at: a
// peer has looked at the document and decided to wait for that moment.
func (c *fakeClock) waitForWaiter(t *testing.T, at time.Time) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for time.Now().Before(deadline) {
		c.mu.Lock()
		found := slices.ContainsFunc(c.waiters, func(w fakeWaiter) bool { return w.at.Equal(at) })
		c.mu.Unlock()
		if found {
			return
		}
		time.Sleep(time.Millisecond)
	}
	t.Fatalf("nobody waits for %v", at)
}

// deadRun writes, as an executor that then died would have, run id of
// handler started at start with a lease until leaseUntil, after attempts
// starts; and records its claim in hist.
func deadRun(t *testing.T, h *client.Handle, hist execute.History, id, handler string, start, leaseUntil time.Time, attempts int) {
	t.Helper()
	err := h.Change(testCtx(t), "dead executor", func(d *crdt.Doc) error {
		return d.Set([]any{"runs", id}, map[string]any{
			"handler": handler, "status": execute.StatusRunning, "by": "test", "at": start.UnixMilli(),
			"claim:exec-dead": start.UnixMilli(), "executor": "exec-dead", "startedAt": start.UnixMilli(),
			"leaseUntil": leaseUntil.UnixMilli(), "attempts": int64(attempts)})
	})
	if err != nil {
		t.Fatal(err)
	}
	ok, err := hist.Claim(testCtx(t), execute.Record{ID: id, App: string(h.ID()), Handler: handler, Status: execute.StatusRunning,
		Executor: "exec-dead", QueuedAt: start, StartedAt: &start, LeaseUntil: &leaseUntil, Attempts: attempts})
	if err != nil || !ok.Won {
		t.Fatalf("dead executor's claim: %+v %v", ok, err)
	}
	if err := h.WaitAcked(testCtx(t)); err != nil {
		t.Fatal(err)
	}
}

func statusOf(h *client.Handle, id string) any {
	var v any
	h.Read(func(d *crdt.Doc) { v, _ = d.Get("runs", id, "status") })
	return v
}

// TestLapsedLeaseIsRecovered: runs left running by an executor that died
// block their app until their lease lapses; then a run started once is
// re-queued and run again, and a run already started twice fails with
// executor_lost. Runs queued behind them then execute.
func TestLapsedLeaseIsRecovered(t *testing.T) {
	const lease = 30 * time.Second
	t0 := time.Now().Truncate(time.Millisecond)
	tests := []struct {
		name       string
		attempts   int
		wantStatus string
		wantN      int64 // state.n after the blocked run and the one behind it
	}{
		{"started once: re-queued", 1, execute.StatusCompleted, 2},
		{"started twice: failed", 2, execute.StatusFailed, 1},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			cs := startServer(t)
			clock := newFakeClock(t0.Add(time.Second))
			hist := execute.NewMemHistory(0)
			browser := newClient(t, cs, "browser")
			h := newApp(t, browser, map[string]string{
				"inc": `export default ({state}) => ({output: (state.n ?? 0) + 1, state: {n: (state.n ?? 0) + 1}})`,
			})
			deadRun(t, h, hist, "run-lost", "inc", t0, t0.Add(lease), tc.attempts)
			next := queue(t, h, "inc", nil)
			p := newPeer(t, cs, execute.PeerConfig{ID: "exec-live", History: hist, Lease: lease, Clock: clock})
			if _, err := p.Watch(testCtx(t), h.ID()); err != nil {
				t.Fatal(err)
			}
			// The live executor waits for the lease (and a millisecond).
			clock.waitForWaiter(t, t0.Add(lease+time.Millisecond))
			if st := statusOf(h, "run-lost"); st != execute.StatusRunning {
				t.Fatalf("before the lease lapsed: status %v", st)
			}
			if st := statusOf(h, next); st != execute.StatusQueued {
				t.Fatalf("the run behind a running one: status %v, want queued", st)
			}
			clock.Advance(lease)
			run := waitRun(t, h, "run-lost")
			if run["status"] != tc.wantStatus {
				t.Fatalf("recovered run: %v", run)
			}
			if tc.wantStatus == execute.StatusCompleted {
				if run["executor"] != "exec-live" || run["attempts"] != int64(2) || run["output"] != int64(1) {
					t.Errorf("re-run: %v", run)
				}
				if _, stale := run["claim:exec-dead"]; stale {
					t.Errorf("the dead executor's claim survived the re-queue: %v", run)
				}
			} else {
				e, _ := run["error"].(map[string]any)
				if e["code"] != "executor_lost" || !containsFold(fmt.Sprint(e["message"]), "exec-dead") {
					t.Errorf("lost run: error %v", run["error"])
				}
			}
			if run := waitRun(t, h, next); run["status"] != execute.StatusCompleted {
				t.Errorf("the run behind: %v", run)
			}
			if got := stateOf(h, "n"); got != tc.wantN {
				t.Errorf("state.n = %v, want %d", got, tc.wantN)
			}
			rec := waitHistory(t, hist, "run-lost", execute.Record.Finished)
			if rec.Status != tc.wantStatus || rec.Executor != "exec-live" {
				t.Errorf("history: %+v", rec)
			}
		})
	}
}

// TestExecutorThatLostItsLeaseDropsItsResult: while a handler runs, its
// lease is taken over (as after a network partition); the executor's
// renewal finds out, stops the run and writes no result, so the run's
// effects are applied at most once.
func TestExecutorThatLostItsLeaseDropsItsResult(t *testing.T) {
	const lease = 30 * time.Second
	cs := startServer(t)
	clock := newFakeClock(time.Now())
	hist := execute.NewMemHistory(0)
	logs := newLogWatch()
	p := newPeer(t, cs, execute.PeerConfig{ID: "exec-slow", History: hist, Lease: lease, Clock: clock, Logger: slog.New(logs),
		Engine: newEngine(t, func(c *execute.Config) { c.MaxLimits.Timeout = time.Minute })})
	browser := newClient(t, cs, "browser")
	h := newApp(t, browser, nil)
	err := h.Change(testCtx(t), "handler", func(d *crdt.Doc) error {
		return d.Set([]any{"handlers", "spin"}, map[string]any{"name": "spin", "lang": "js",
			"source": crdt.Text(`export default () => { while (true) {} }`), "limits": map[string]any{"timeoutMs": int64(50000)}})
	})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := p.Watch(testCtx(t), h.ID()); err != nil {
		t.Fatal(err)
	}
	id := queue(t, h, "spin", nil)
	if err := h.WaitFor(testCtx(t), func(d *crdt.Doc) bool {
		st, _ := d.Get("runs", id, "status")
		return st == execute.StatusRunning
	}); err != nil {
		t.Fatal(err)
	}
	// Another executor takes the run over in the shared history.
	later := clock.Now().Add(2 * lease)
	until := later.Add(lease)
	ok, err := hist.Claim(testCtx(t), execute.Record{ID: id, App: string(h.ID()), Handler: "spin", Status: execute.StatusRunning,
		Executor: "exec-other", StartedAt: &later, LeaseUntil: &until, Attempts: 2})
	if err != nil || !ok.Won {
		t.Fatalf("takeover: %+v %v", ok, err)
	}
	clock.waitForWaiter(t, clock.Now().Add(lease/3))
	clock.Advance(lease / 3) // the slow executor's renewal is due
	logs.waitFor(t, "lease lost: result dropped")
	if st := statusOf(h, id); st != execute.StatusRunning {
		t.Errorf("status %v, want running (left to its new holder)", st)
	}
	if p.Ran() != 0 {
		t.Errorf("the executor counted %d runs, want 0", p.Ran())
	}
	if rec, err := hist.Get(testCtx(t), id); err != nil || rec.Executor != "exec-other" || rec.Finished() {
		t.Errorf("history: %+v %v", rec, err)
	}
}

// logWatch is a slog handler tests wait on for a message.
type logWatch struct {
	mu   sync.Mutex
	msgs []string
	ch   chan struct{} // closed and replaced on each message
}

func newLogWatch() *logWatch { return &logWatch{ch: make(chan struct{})} }

func (l *logWatch) Enabled(context.Context, slog.Level) bool { return true }
func (l *logWatch) WithAttrs([]slog.Attr) slog.Handler       { return l }
func (l *logWatch) WithGroup(string) slog.Handler            { return l }
func (l *logWatch) Handle(_ context.Context, r slog.Record) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.msgs = append(l.msgs, r.Message)
	close(l.ch)
	l.ch = make(chan struct{})
	return nil
}

func (l *logWatch) waitFor(t *testing.T, msg string) {
	t.Helper()
	ctx := testCtx(t)
	for {
		l.mu.Lock()
		found, ch := slices.Contains(l.msgs, msg), l.ch
		l.mu.Unlock()
		if found {
			return
		}
		select {
		case <-ch:
		case <-ctx.Done():
			t.Fatalf("no log %q", msg)
		}
	}
}

// pgHistories returns two PostgreSQL histories on one fresh schema, on
// separate pools: what two nodes sharing the database have.
func pgHistories(t testing.TB) [2]execute.History {
	a, b := historytest.PostgresHistories(t)
	return [2]execute.History{a, b}
}

// TestExecutorsSharingPostgresRunEachRunOnce: two executors, each with its
// own connection pool to the executions table (two nodes), watch the same
// apps and race for every run; the table's claim lets exactly one run
// each.
func TestExecutorsSharingPostgresRunEachRunOnce(t *testing.T) {
	const apps, runs = 3, 15
	cs := startServer(t)
	eng := newEngine(t, nil)
	hists := pgHistories(t)
	peers := []*execute.Peer{
		newPeer(t, cs, execute.PeerConfig{ID: "exec-b", Engine: eng, History: hists[0]}),
		newPeer(t, cs, execute.PeerConfig{ID: "exec-a", Engine: eng, History: hists[1]}),
	}
	browser := newClient(t, cs, "browser")
	var handles []*client.Handle
	for range apps {
		h := newApp(t, browser, map[string]string{
			"inc": `export default ({state}) => ({output: (state.n ?? 0) + 1, state: {n: (state.n ?? 0) + 1}})`,
		})
		for _, p := range peers {
			if _, err := p.Watch(testCtx(t), h.ID()); err != nil {
				t.Fatal(err)
			}
		}
		handles = append(handles, h)
	}
	ids := make([][]string, apps)
	var wg sync.WaitGroup
	for a, h := range handles {
		wg.Go(func() {
			for range runs {
				ids[a] = append(ids[a], queue(t, h, "inc", nil))
			}
		})
	}
	wg.Wait()
	// Runs of one app never overlap, whichever executor runs them, and
	// each sees the state its predecessor wrote: the outputs are 1..runs
	// (in some order: an executor may not have seen an earlier run yet),
	// and the counter ends at runs, no increment lost.
	for a, h := range handles {
		outputs := map[int64]string{}
		for _, id := range ids[a] {
			run := waitRun(t, h, id)
			// The history is written just after the document.
			rec := waitHistory(t, hists[a%2], id, execute.Record.Finished)
			if rec.Status != execute.StatusCompleted || rec.Executor != run["executor"] {
				t.Errorf("history of %s: %+v (document: %v)", id, rec, run)
			}
			out, _ := run["output"].(int64)
			if prev, dup := outputs[out]; dup || out < 1 || out > runs {
				t.Errorf("app %d: run %s output %v (also the output of %s): two runs overlapped", a, id, run["output"], prev)
			}
			outputs[out] = id
		}
		if err := h.WaitFor(testCtx(t), func(d *crdt.Doc) bool { n, _ := d.Get("state", "n"); return n == int64(runs) }); err != nil {
			var n any
			h.Read(func(d *crdt.Doc) { n, _ = d.Get("state", "n") })
			t.Errorf("app %d: state.n = %v, want %d: %v", a, n, runs, err)
		}
	}
	if n := peers[0].Ran() + peers[1].Ran(); n != apps*runs {
		t.Errorf("executors ran %d + %d runs, want %d in all", peers[0].Ran(), peers[1].Ran(), apps*runs)
	}
	list, err := hists[0].List(testCtx(t), string(handles[0].ID()), 100)
	if err != nil || len(list) != runs {
		t.Errorf("GET executions of app 0: %d records, %v; want %d", len(list), err, runs)
	}
}

// TestIdleDocumentIsReleasedAndReopened: once a document has had no runs
// to do for IdleRelease, the executor closes its connection to it and the
// server unloads the room; a run queued later opens it again (the room's
// Stored hook notifies the peer, as casual serve wires it) and executes.
func TestIdleDocumentIsReleasedAndReopened(t *testing.T) {
	const idle = time.Minute
	var target atomic.Pointer[execute.Peer]
	cs, mgr := startServerWith(t, rooms.Hooks{Stored: func(id crdt.DocID, d *crdt.Doc) {
		if p := target.Load(); p != nil && execute.HasQueuedRun(d) {
			p.Notify(id)
		}
	}})
	clock := newFakeClock(time.Now())
	p := newPeer(t, cs, execute.PeerConfig{ID: "exec-1", IdleRelease: idle, Clock: clock})
	target.Store(p)

	browser := newClient(t, cs, "browser")
	h := newApp(t, browser, map[string]string{
		"inc": `export default ({state}) => ({output: (state.n ?? 0) + 1, state: {n: (state.n ?? 0) + 1}})`,
	})
	doc := h.ID()
	first := queue(t, h, "inc", nil)
	if run := waitRun(t, h, first); run["output"] != int64(1) {
		t.Fatalf("first run: %v", run)
	}
	if !p.Watching(doc) {
		t.Fatal("the executor is not watching the document it ran")
	}
	browser.Close()
	// The executor's loop waits for the idle period to end, then lets go.
	// (The clock has not moved: the period ends at now + idle. Other
	// waiters, such as a lease renewal of a run that lasted long enough to
	// start one, are not the one to look for.)
	clock.waitForWaiter(t, clock.Now().Add(idle))
	clock.Advance(idle)
	waitUntil(t, "the executor releases the document", func() bool { return !p.Watching(doc) })
	if p.Released() != 1 {
		t.Errorf("released %d documents, want 1", p.Released())
	}
	waitUntil(t, "the room unloads", func() bool { return mgr.Lookup(doc) == nil })

	// Later, someone opens the app and clicks: the run executes.
	late := newClient(t, cs, "late")
	h2, err := late.Find(testCtx(t), doc)
	if err != nil {
		t.Fatal(err)
	}
	second := queue(t, h2, "inc", nil)
	if run := waitRun(t, h2, second); run["status"] != execute.StatusCompleted || run["output"] != int64(2) {
		t.Fatalf("run after the release: %v", run)
	}
	if !p.Watching(doc) {
		t.Error("the executor is not watching the document again")
	}
}

// waitHistory waits until the history has a record of id for which cond
// holds, and returns it.
func waitHistory(t *testing.T, hist execute.History, id string, cond func(execute.Record) bool) execute.Record {
	t.Helper()
	var rec execute.Record
	var err error
	waitUntil(t, "the history records "+id, func() bool {
		rec, err = hist.Get(testCtx(t), id)
		return err == nil && cond(rec)
	})
	return rec
}

// waitUntil polls cond (state owned by other goroutines, with no event to
// wait on) until it holds, failing the test after 30 s.
func waitUntil(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting until %s", what)
		}
		time.Sleep(2 * time.Millisecond)
	}
}

// startServerWith is startServer with room hooks and a short idle unload,
// returning the rooms too.
func startServerWith(t testing.TB, hooks rooms.Hooks) (*collab.Server, *rooms.Manager) {
	t.Helper()
	return newServer(t, hooks, 20*time.Millisecond)
}

// TestRunWaitsForAnotherExecutorsRunOfTheApp: executors sharing a History
// run the runs of an app one at a time. While another executor holds a run
// of the app that this replica has not even seen (queued on another node),
// a queued run waits; once the History says that run finished, the queued
// run starts only when the replica has that run's result, so that it reads
// the state that run wrote and no increment is lost.
func TestRunWaitsForAnotherExecutorsRunOfTheApp(t *testing.T) {
	const lease = 30 * time.Second
	ctx := testCtx(t)
	cs := startServer(t)
	clock := newFakeClock(time.Now().Truncate(time.Millisecond))
	hist := execute.NewMemHistory(0)
	browser := newClient(t, cs, "browser")
	h := newApp(t, browser, map[string]string{
		"inc": `export default ({state}) => ({output: (state.n ?? 0) + 1, state: {n: (state.n ?? 0) + 1}})`,
	})
	doc := h.ID()

	// The other executor, on another node, holds run-elsewhere.
	start := clock.Now()
	until := start.Add(lease)
	elsewhere := execute.Record{ID: "run-elsewhere", App: string(doc), Handler: "inc", Status: execute.StatusRunning,
		Executor: "exec-other", QueuedAt: start, StartedAt: &start, LeaseUntil: &until, Attempts: 1}
	if c, err := hist.Claim(ctx, elsewhere); err != nil || !c.Won {
		t.Fatalf("the other executor's claim: %+v %v", c, err)
	}

	logs := newLogWatch()
	p := newPeer(t, cs, execute.PeerConfig{ID: "exec-live", History: hist, Lease: lease, Clock: clock,
		Logger: slog.New(logs)})
	if _, err := p.Watch(ctx, doc); err != nil {
		t.Fatal(err)
	}
	id := queue(t, h, "inc", nil)
	logs.waitFor(t, "lost the fence")
	if st := statusOf(h, id); st != execute.StatusQueued {
		t.Fatalf("the run started while another run of the app was held: status %v", st)
	}

	// The other executor finishes: its result (state.n = 10) is made in
	// its replica, not yet sent, and the History hears of it with its heads.
	var otherDoc *crdt.Doc
	var err error
	h.Read(func(d *crdt.Doc) { otherDoc, err = d.Fork() })
	if err != nil {
		t.Fatal(err)
	}
	err = otherDoc.Set([]any{"runs", "run-elsewhere"}, map[string]any{"handler": "inc", "status": execute.StatusCompleted,
		"executor": "exec-other", "output": int64(10), "at": start.UnixMilli()})
	if err == nil {
		err = otherDoc.Set([]any{"state", "n"}, int64(10))
	}
	if err == nil {
		_, _, err = otherDoc.Commit("execute: finish run-elsewhere")
	}
	if err != nil {
		t.Fatal(err)
	}
	var heads []string
	for _, x := range otherDoc.Heads() {
		heads = append(heads, x.String())
	}
	fin := elsewhere
	fin.Status, fin.Heads, fin.LeaseUntil = execute.StatusCompleted, heads, nil
	if ok, err := hist.Finish(ctx, fin); err != nil || !ok {
		t.Fatalf("finish: %v %v", ok, err)
	}
	// The live executor tries again (its retries follow its clock) and
	// wins the claim; it must still wait for the other's result.
	for i := 0; ; i++ {
		if rec, err := hist.Get(ctx, id); err == nil && rec.Executor == "exec-live" {
			break
		}
		if i == 20 {
			t.Fatal("the live executor never claimed the run")
		}
		clock.Advance(time.Second)
		time.Sleep(5 * time.Millisecond)
	}
	time.Sleep(200 * time.Millisecond) // room for a wrong executor to run now
	if st := statusOf(h, id); st != execute.StatusQueued {
		t.Fatalf("the run started before the previous run's result reached the replica: status %v", st)
	}
	// Now the other executor's result reaches the server.
	other := newClient(t, cs, "exec-other")
	oh, err := other.Find(ctx, doc)
	if err != nil {
		t.Fatal(err)
	}
	if err := oh.Change(ctx, "", func(d *crdt.Doc) error { return d.Merge(otherDoc) }); err != nil {
		t.Fatal(err)
	}
	run := waitRun(t, h, id)
	if run["status"] != execute.StatusCompleted || run["output"] != int64(11) {
		t.Fatalf("run after the other's: %v, want output 11", run)
	}
	if err := h.WaitFor(ctx, func(d *crdt.Doc) bool { n, _ := d.Get("state", "n"); return n == int64(11) }); err != nil {
		t.Errorf("state.n = %v, want 11", stateOf(h, "n"))
	}
}
