// Package historytest is the contract test suite every execute.History
// and execute.BlobStore passes: memory, bbolt (a directory for blobs) and
// PostgreSQL run the same tests.
package historytest

import (
	"context"
	"errors"
	"fmt"
	"reflect"
	"sync"
	"testing"
	"time"

	"github.com/casual-dev/casual/execute"
)

// Open returns two handles on one new, empty store, both closed by the
// caller's cleanup: the same value twice for stores one process opens
// once (memory, a bbolt file), two connections for a database, standing
// for two nodes.
type Open func(t *testing.T) (a, b execute.History)

// Run runs the contract tests.
func Run(t *testing.T, open Open) {
	tests := []struct {
		name string
		fn   func(t *testing.T, a, b execute.History)
	}{
		{"PutGetList", testPutGetList},
		{"GetMissing", testGetMissing},
		{"ClaimOneWinner", testClaimOneWinner},
		{"LeaseTakeover", testLeaseTakeover},
		{"FinishedIsNeverClaimed", testFinishedIsNeverClaimed},
		{"ConcurrentClaims", testConcurrentClaims},
		{"OneRunPerApp", testOneRunPerApp},
		{"ConcurrentClaimsOfOneApp", testConcurrentClaimsOfOneApp},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			a, b := open(t)
			tc.fn(t, a, b)
		})
	}
}

// base is a fixed time, so records compare equal after a round trip.
var base = time.Date(2026, 5, 1, 12, 0, 0, 0, time.UTC)

func at(d time.Duration) *time.Time {
	t := base.Add(d)
	return &t
}

func ctxOf(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	t.Cleanup(cancel)
	return ctx
}

func running(app, id, executor string, start, lease time.Duration) execute.Record {
	return execute.Record{ID: id, App: app, Handler: "h", Status: execute.StatusRunning, Executor: executor,
		QueuedAt: base, StartedAt: at(start), LeaseUntil: at(start + lease), Attempts: 1}
}

func mustGet(t *testing.T, h execute.History, id string) execute.Record {
	t.Helper()
	rec, err := h.Get(ctxOf(t), id)
	if err != nil {
		t.Fatalf("get %s: %v", id, err)
	}
	return rec
}

func testPutGetList(t *testing.T, a, b execute.History) {
	ctx := ctxOf(t)
	full := execute.Record{ID: "run-full", App: "app-1", Handler: "add", Status: execute.StatusFailed,
		Input: map[string]any{"a": 1.5, "list": []any{"x", nil}}, Output: "out",
		Error: &execute.RunError{Code: "timeout", Message: "wall time limit of 1s exceeded"},
		Logs:  []string{"one", "two"}, By: "api", Executor: "exec-1", QueuedAt: base,
		StartedAt: at(time.Millisecond), FinishedAt: at(1500 * time.Millisecond), LeaseUntil: at(time.Minute),
		Attempts: 2, DurationMs: 1000.5, MemoryBytes: 3 << 20, Cost: 3.0015}
	if err := a.Put(ctx, full); err != nil {
		t.Fatal(err)
	}
	if got := mustGet(t, b, "run-full"); !reflect.DeepEqual(got, full) {
		t.Errorf("round trip:\n got %+v\nwant %+v", got, full)
	}
	// Newest first, at most limit, one app only; a Put replaces.
	for i := range 5 {
		rec := execute.Record{ID: fmt.Sprintf("run-%d", i), App: "app-2", Handler: "h", Status: execute.StatusQueued,
			QueuedAt: base.Add(time.Duration(i) * time.Second)}
		if err := a.Put(ctx, rec); err != nil {
			t.Fatal(err)
		}
	}
	done := execute.Record{ID: "run-3", App: "app-2", Handler: "h", Status: execute.StatusCompleted,
		Output: 3.0, QueuedAt: base.Add(3 * time.Second)}
	if err := b.Put(ctx, done); err != nil {
		t.Fatal(err)
	}
	list, err := b.List(ctx, "app-2", 3)
	if err != nil {
		t.Fatal(err)
	}
	var ids []string
	for _, r := range list {
		ids = append(ids, r.ID+":"+r.Status)
	}
	if want := []string{"run-4:queued", "run-3:completed", "run-2:queued"}; !reflect.DeepEqual(ids, want) {
		t.Errorf("list = %v, want %v", ids, want)
	}
	if list, err := a.List(ctx, "app-3", 10); err != nil || len(list) != 0 {
		t.Errorf("list of an app without runs = %v, %v", list, err)
	}
	if list, err := a.List(ctx, "app-1", 10); err != nil || len(list) != 1 || list[0].ID != "run-full" {
		t.Errorf("list of app-1 = %v, %v", list, err)
	}
}

func testGetMissing(t *testing.T, a, _ execute.History) {
	if _, err := a.Get(ctxOf(t), "run-nope"); !errors.Is(err, execute.ErrNotFound) {
		t.Errorf("get of a missing run: %v, want ErrNotFound", err)
	}
}

func claim(t *testing.T, h execute.History, rec execute.Record) bool {
	t.Helper()
	return claimed(t, h, rec).Won
}

func claimed(t *testing.T, h execute.History, rec execute.Record) execute.Claim {
	t.Helper()
	c, err := h.Claim(ctxOf(t), rec)
	if err != nil {
		t.Fatalf("claim %s by %s: %v", rec.ID, rec.Executor, err)
	}
	return c
}

func testClaimOneWinner(t *testing.T, a, b execute.History) {
	ctx := ctxOf(t)
	// A queued record (as the API writes) is claimable.
	if err := a.Put(ctx, execute.Record{ID: "run-1", App: "app", Handler: "h", Status: execute.StatusQueued, QueuedAt: base}); err != nil {
		t.Fatal(err)
	}
	if !claim(t, a, running("app", "run-1", "exec-a", 0, time.Minute)) {
		t.Fatal("first claim lost")
	}
	if claim(t, b, running("app", "run-1", "exec-b", time.Second, time.Minute)) {
		t.Fatal("a second executor claimed a run under lease")
	}
	if !claim(t, b, running("app", "run-1", "exec-a", time.Second, time.Minute)) {
		t.Error("the holder could not claim its run again")
	}
	if got := mustGet(t, b, "run-1"); got.Executor != "exec-a" || got.Status != execute.StatusRunning {
		t.Errorf("record = %+v", got)
	}
	// The same run id in another app is another run.
	if !claim(t, b, running("other-app", "run-1", "exec-b", time.Second, time.Minute)) {
		t.Error("a claim in another app lost")
	}
	ok, err := b.Renew(ctx, "app", "run-1", "exec-b", *at(2 * time.Minute))
	if err != nil || ok {
		t.Errorf("renew by a non-holder = %v, %v", ok, err)
	}
	ok, err = b.Renew(ctx, "app", "run-missing", "exec-a", *at(2 * time.Minute))
	if err != nil || ok {
		t.Errorf("renew of a missing run = %v, %v", ok, err)
	}
	fin := running("app", "run-1", "exec-b", 0, time.Minute)
	fin.Status = execute.StatusCompleted
	if ok, err := b.Finish(ctx, fin); err != nil || ok {
		t.Errorf("finish by a non-holder = %v, %v", ok, err)
	}
	fin.Executor = "exec-a"
	if ok, err := a.Finish(ctx, fin); err != nil || !ok {
		t.Errorf("finish by the holder = %v, %v", ok, err)
	}
	if list, err := b.List(ctx, "app", 10); err != nil || len(list) != 1 || list[0].Status != execute.StatusCompleted {
		t.Errorf("after finish: %+v %v", list, err)
	}
	// Finishing a run the history never saw records it.
	orphan := running("app", "run-orphan", "exec-a", 0, time.Minute)
	orphan.Status = execute.StatusFailed
	if ok, err := a.Finish(ctx, orphan); err != nil || !ok {
		t.Errorf("finish of an unrecorded run = %v, %v", ok, err)
	}
}

func testLeaseTakeover(t *testing.T, a, b execute.History) {
	ctx := ctxOf(t)
	if !claim(t, a, running("app", "run-1", "exec-a", 0, 10*time.Second)) {
		t.Fatal("first claim lost")
	}
	// Renewed at 5 s until 20 s: a claim at 15 s is too early.
	if ok, err := a.Renew(ctx, "app", "run-1", "exec-a", *at(20 * time.Second)); err != nil || !ok {
		t.Fatalf("renew = %v, %v", ok, err)
	}
	if claim(t, b, running("app", "run-1", "exec-b", 15*time.Second, 10*time.Second)) {
		t.Fatal("claimed while the renewed lease runs")
	}
	// At 21 s the lease has lapsed: exec-b takes the run over.
	taken := running("app", "run-1", "exec-b", 21*time.Second, 10*time.Second)
	taken.Attempts = 2
	if !claim(t, b, taken) {
		t.Fatal("takeover of a lapsed lease lost")
	}
	if got := mustGet(t, a, "run-1"); got.Executor != "exec-b" || got.Attempts != 2 || !got.LeaseUntil.Equal(*at(31 * time.Second)) {
		t.Errorf("after the takeover: %+v", got)
	}
	// The old holder can neither renew nor finish.
	if ok, err := a.Renew(ctx, "app", "run-1", "exec-a", *at(40 * time.Second)); err != nil || ok {
		t.Errorf("renew by the old holder = %v, %v", ok, err)
	}
	late := running("app", "run-1", "exec-a", 0, 10*time.Second)
	late.Status, late.Output = execute.StatusCompleted, "late"
	if ok, err := a.Finish(ctx, late); err != nil || ok {
		t.Errorf("finish by the old holder = %v, %v", ok, err)
	}
	if got := mustGet(t, b, "run-1"); got.Executor != "exec-b" || got.Status != execute.StatusRunning || got.Output != nil {
		t.Errorf("the old holder changed the record: %+v", got)
	}
}

func testFinishedIsNeverClaimed(t *testing.T, a, b execute.History) {
	rec := running("app", "run-1", "exec-a", 0, time.Second)
	rec.Status, rec.FinishedAt = execute.StatusCompleted, at(time.Second)
	if err := a.Put(ctxOf(t), rec); err != nil {
		t.Fatal(err)
	}
	for _, ex := range []string{"exec-a", "exec-b"} {
		if claim(t, b, running("app", "run-1", ex, time.Hour, time.Second)) {
			t.Errorf("%s claimed a finished run", ex)
		}
	}
}

// raceClaims has perHandle executors on each handle claim the runs
// claimOf(executor, r) for r < runs at once, and returns the won claims.
func raceClaims(t *testing.T, a, b execute.History, perHandle, runs int, claimOf func(executor string, r int) execute.Record) []execute.Record {
	var mu sync.Mutex
	var won []execute.Record
	var wg sync.WaitGroup
	for i, h := range []execute.History{a, b} {
		for j := range perHandle {
			executor := fmt.Sprintf("exec-%d-%d", i, j)
			wg.Go(func() {
				for r := range runs {
					rec := claimOf(executor, r)
					c, err := h.Claim(ctxOf(t), rec)
					if err != nil {
						t.Error(err)
						return
					}
					if c.Won {
						mu.Lock()
						won = append(won, rec)
						mu.Unlock()
					}
				}
			})
		}
	}
	wg.Wait()
	return won
}

// testConcurrentClaims: executors on both handles claim the same runs (of
// different apps) at once; each run has exactly one winner.
func testConcurrentClaims(t *testing.T, a, b execute.History) {
	const runs = 40
	winners := map[string][]string{}
	won := raceClaims(t, a, b, 3, runs, func(executor string, r int) execute.Record {
		id := fmt.Sprintf("run-%d", r)
		return running("app-"+id, id, executor, 0, time.Minute)
	})
	for _, rec := range won {
		winners[rec.ID] = append(winners[rec.ID], rec.Executor)
	}
	for r := range runs {
		id := fmt.Sprintf("run-%d", r)
		if len(winners[id]) != 1 {
			t.Errorf("%s: winners %v, want exactly one", id, winners[id])
			continue
		}
		if got := mustGet(t, a, id); got.Executor != winners[id][0] {
			t.Errorf("%s: stored executor %s, winner %s", id, got.Executor, winners[id][0])
		}
	}
}

// testOneRunPerApp: while a run of an app is held, no other run of it can
// be claimed, by anyone; a won claim carries the heads the app's last
// finished run left.
func testOneRunPerApp(t *testing.T, a, b execute.History) {
	ctx := ctxOf(t)
	// Queued records (as the API writes them) hold nothing.
	if err := a.Put(ctx, execute.Record{ID: "run-q", App: "app", Handler: "h", Status: execute.StatusQueued, QueuedAt: base}); err != nil {
		t.Fatal(err)
	}
	if c := claimed(t, a, running("app", "run-1", "exec-a", 0, time.Minute)); !c.Won || len(c.After) != 0 {
		t.Fatalf("first claim = %+v, want won with no heads", c)
	}
	for _, ex := range []string{"exec-b", "exec-a"} {
		c := claimed(t, b, running("app", "run-2", ex, time.Second, time.Minute))
		if c.Won {
			t.Fatalf("%s claimed a second run of an app while another is held", ex)
		}
		if !c.HeldUntil.Equal(*at(time.Minute)) {
			t.Errorf("refused claim: held until %v, want %v", c.HeldUntil, *at(time.Minute))
		}
	}
	if !claim(t, b, running("other-app", "run-2", "exec-b", time.Second, time.Minute)) {
		t.Error("a run of another app was refused")
	}
	fin := running("app", "run-1", "exec-a", 0, time.Minute)
	fin.Status, fin.FinishedAt, fin.Heads = execute.StatusCompleted, at(2*time.Second), []string{"aa01", "bb02"}
	if ok, err := a.Finish(ctx, fin); err != nil || !ok {
		t.Fatalf("finish = %v, %v", ok, err)
	}
	c := claimed(t, b, running("app", "run-2", "exec-b", 3*time.Second, time.Minute))
	if !c.Won || !reflect.DeepEqual(c.After, fin.Heads) {
		t.Fatalf("claim after the finish = %+v, want won after %v", c, fin.Heads)
	}
	// A renewed lease keeps the app held; a lapsed one does not.
	if ok, err := b.Renew(ctx, "app", "run-2", "exec-b", *at(5 * time.Minute)); err != nil || !ok {
		t.Fatalf("renew = %v, %v", ok, err)
	}
	if claim(t, a, running("app", "run-3", "exec-a", 3*time.Minute, time.Minute)) {
		t.Fatal("claimed while another run's renewed lease runs")
	}
	c = claimed(t, a, running("app", "run-3", "exec-a", 6*time.Minute, time.Minute))
	if !c.Won || !reflect.DeepEqual(c.After, fin.Heads) {
		t.Fatalf("claim after the other's lease lapsed = %+v, want won after %v", c, fin.Heads)
	}
	// A finished run's record with no heads keeps the app's last heads.
	fin3 := running("app", "run-3", "exec-a", 6*time.Minute, time.Minute)
	fin3.Status, fin3.FinishedAt = execute.StatusFailed, at(7*time.Minute)
	if ok, err := a.Finish(ctx, fin3); err != nil || !ok {
		t.Fatalf("finish = %v, %v", ok, err)
	}
	if c := claimed(t, b, running("app", "run-4", "exec-b", 8*time.Minute, time.Minute)); !c.Won || !reflect.DeepEqual(c.After, fin.Heads) {
		t.Fatalf("claim = %+v, want won after %v", c, fin.Heads)
	}
}

// testConcurrentClaimsOfOneApp: executors on both handles claim different
// runs of one app at once; exactly one claim wins.
func testConcurrentClaimsOfOneApp(t *testing.T, a, b execute.History) {
	won := raceClaims(t, a, b, 4, 5, func(executor string, r int) execute.Record {
		return running("app", fmt.Sprintf("run-%s-%d", executor, r), executor, 0, time.Minute)
	})
	if len(won) != 1 {
		t.Errorf("won %d claims, want exactly one run of the app: %+v", len(won), won)
	}
}
