// Package generatetest is the contract every generate.RunStore
// implementation must meet, run against each of them (memory, bbolt,
// PostgreSQL) by their own tests.
package generatetest

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/casual-dev/casual/generate"
)

// Open returns an empty store for one test; the store is closed by the
// test's cleanup.
type Open func(t *testing.T) generate.RunStore

// T0 is the time the contract's runs are created around.
var T0 = time.Date(2026, 3, 1, 9, 0, 0, 0, time.UTC)

// RunStore runs the contract against stores made by open.
func RunStore(t *testing.T, open Open) {
	for _, c := range []struct {
		name string
		fn   func(*testing.T, generate.RunStore)
	}{
		{"GetMissingIsNotFound", testGetMissing},
		{"PutThenGetKeepsEveryField", testRoundTrip},
		{"PutReplaces", testReplace},
		{"ListNewestFirstPerApp", testList},
		{"InterruptFailsUnfinishedRunsOfItsNode", testInterrupt},
		{"ConcurrentPuts", testConcurrent},
	} {
		t.Run(c.name, func(t *testing.T) { c.fn(t, open(t)) })
	}
}

func ctxOf(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	t.Cleanup(cancel)
	return ctx
}

// run returns a queued run of app created minutes after T0.
func run(id, app string, minutes int) generate.Run {
	return generate.Run{ID: id, AppID: app, Kind: generate.KindManifest, Mode: generate.ModeLive,
		Status: generate.StatusQueued, Prompt: "a todo list", Model: "fake-model", Node: "node-a",
		Applied: []generate.AppliedOp{}, Skipped: []generate.SkippedOp{},
		CreatedAt: T0.Add(time.Duration(minutes) * time.Minute)}
}

// full is a finished suggest-mode run with every field set.
func full() generate.Run {
	r := run("full", "app-1", 0)
	r.Kind, r.Mode, r.Status = generate.KindComponents, generate.ModeSuggest, generate.StatusDone
	r.Prompt = "make it \u00e9l\u00e9gant \u2014 and keep NUL \u0000 and <html> & \"quotes\""
	r.Selection = []string{"card", "title"}
	r.By, r.NewApp, r.Cursor = "user-7", true, "title"
	r.Applied = []generate.AppliedOp{{Line: 1, Op: "create", Target: "card"}, {Line: 3, Op: "update", Target: "title"}}
	r.Skipped = []generate.SkippedOp{{Line: 2, Op: "create", Target: "w", Code: generate.SkipInvalid, Reason: "unknown type", Text: `{"op":"create"}`}}
	r.OpsApplied, r.OpsSkipped = 2, 1
	r.TokensIn, r.TokensOut, r.TokensEstimated, r.CostUSD, r.Retries = 1200, 340, true, 0.000384, 2
	r.Error = &generate.RunError{Code: "provider", Message: "partial"}
	r.Suggestion = &generate.Suggestion{State: generate.SuggestionPending, Diff: generate.Diff{
		Added:   []generate.DiffEntry{{ID: "card", Type: "card", Page: "home"}},
		Removed: []generate.DiffEntry{},
		Changed: []generate.DiffEntry{{ID: "title", Type: "heading", Page: "home", Fields: []string{"props.text"}}},
	}}
	r.Reverted = true
	r.StartedAt = T0.Add(1500 * time.Millisecond)
	r.FinishedAt = T0.Add(4*time.Second + 123456789)
	return r
}

// same fails unless got and want encode to the same JSON (what the API
// serves).
func same(t *testing.T, what string, got, want any) {
	t.Helper()
	g, _ := json.Marshal(got)
	w, _ := json.Marshal(want)
	if string(g) != string(w) {
		t.Fatalf("%s:\n got %s\nwant %s", what, g, w)
	}
}

func put(t *testing.T, s generate.RunStore, runs ...generate.Run) {
	t.Helper()
	for _, r := range runs {
		if err := s.Put(ctxOf(t), r); err != nil {
			t.Fatalf("put %s: %v", r.ID, err)
		}
	}
}

func get(t *testing.T, s generate.RunStore, id string) generate.Run {
	t.Helper()
	r, err := s.Get(ctxOf(t), id)
	if err != nil {
		t.Fatalf("get %s: %v", id, err)
	}
	return r
}

func ids(runs []generate.Run) []string {
	var out []string
	for _, r := range runs {
		out = append(out, r.ID)
	}
	return out
}

func testGetMissing(t *testing.T, s generate.RunStore) {
	if _, err := s.Get(ctxOf(t), "nope"); !errors.Is(err, generate.ErrRunNotFound) {
		t.Fatalf("Get(missing) = %v, want ErrRunNotFound", err)
	}
}

func testRoundTrip(t *testing.T, s generate.RunStore) {
	want := full()
	put(t, s, want)
	got := get(t, s, want.ID)
	same(t, "stored run", got, want)
	got.Selection[0] = "changed"
	got.Suggestion.Diff.Added[0].ID = "changed"
	same(t, "run after the caller changed its copy", get(t, s, want.ID), want)
}

func testReplace(t *testing.T, s generate.RunStore) {
	r := run("r1", "app-1", 0)
	put(t, s, r)
	r.Status, r.StartedAt, r.OpsApplied = generate.StatusRunning, T0.Add(time.Second), 3
	r.Applied = []generate.AppliedOp{{Line: 1, Op: "create", Target: "a"}}
	put(t, s, r)
	r.Status, r.FinishedAt = generate.StatusDone, T0.Add(2*time.Second)
	put(t, s, r)
	same(t, "replaced run", get(t, s, "r1"), r)
	runs, err := s.List(ctxOf(t), "app-1", 0)
	if err != nil {
		t.Fatal(err)
	}
	if len(runs) != 1 {
		t.Fatalf("List after three puts of one run = %v", ids(runs))
	}
	// A finished run is not interrupted.
	if got, err := s.Interrupt(ctxOf(t), "node-a", generate.RunError{Code: "interrupted", Message: "x"}, T0); err != nil || len(got) != 0 {
		t.Fatalf("Interrupt after the run finished = %v, %v", got, err)
	}
}

func testList(t *testing.T, s generate.RunStore) {
	// Put out of order: List sorts by creation time, not by insertion.
	put(t, s, run("b1", "app-b", 2), run("a3", "app-a", 5), run("a1", "app-a", 1), run("a2", "app-a", 3), run("b2", "app-b", 4))
	for _, c := range []struct {
		app   string
		limit int
		want  []string
	}{
		{"app-a", 0, []string{"a3", "a2", "a1"}},
		{"app-a", 2, []string{"a3", "a2"}},
		{"app-b", 0, []string{"b2", "b1"}},
		{"", 0, []string{"a3", "b2", "a2", "b1", "a1"}},
		{"", 3, []string{"a3", "b2", "a2"}},
		{"app-c", 0, nil},
		{"app", 0, nil}, // a prefix of app ids is not an app
	} {
		runs, err := s.List(ctxOf(t), c.app, c.limit)
		if err != nil {
			t.Fatalf("List(%q, %d): %v", c.app, c.limit, err)
		}
		if got := ids(runs); !slices.Equal(got, c.want) {
			t.Errorf("List(%q, %d) = %v, want %v", c.app, c.limit, got, c.want)
		}
	}
	runs, _ := s.List(ctxOf(t), "app-a", 1)
	same(t, "listed run", runs[0], run("a3", "app-a", 5))
}

func testInterrupt(t *testing.T, s generate.RunStore) {
	queued := run("queued", "app-1", 1)
	running := run("running", "app-1", 2)
	running.Status, running.StartedAt, running.OpsApplied, running.Cursor = generate.StatusRunning, T0.Add(time.Minute), 2, "card"
	done := run("done", "app-1", 3)
	done.Status = generate.StatusDone
	other := run("other-node", "app-2", 4)
	other.Status, other.Node = generate.StatusRunning, "node-b"
	put(t, s, queued, running, done, other)

	e := generate.RunError{Code: "interrupted", Message: "interrupted: server restarted"}
	at := T0.Add(time.Hour)
	got, err := s.Interrupt(ctxOf(t), "node-a", e, at)
	if err != nil {
		t.Fatal(err)
	}
	slices.Sort(got)
	if !slices.Equal(got, []string{"queued", "running"}) {
		t.Fatalf("Interrupt(node-a) = %v, want [queued running]", got)
	}
	for _, r := range []generate.Run{queued, running} {
		want := r
		want.Interrupt(e, at)
		same(t, "interrupted run", get(t, s, r.ID), want)
		if want.Status != generate.StatusFailed || want.Error.Message != e.Message || !want.FinishedAt.Equal(at) || want.Cursor != "" {
			t.Fatalf("Run.Interrupt left %+v", want)
		}
	}
	same(t, "finished run", get(t, s, "done"), done)
	same(t, "another node's run", get(t, s, "other-node"), other)
	if got, err := s.Interrupt(ctxOf(t), "node-a", e, at); err != nil || len(got) != 0 {
		t.Fatalf("second Interrupt = %v, %v", got, err)
	}
	// The interrupted runs are listed as failed too.
	runs, err := s.List(ctxOf(t), "app-1", 0)
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range runs {
		if r.ID != "done" && r.Status != generate.StatusFailed {
			t.Errorf("listed %s is %s", r.ID, r.Status)
		}
	}
}

func testConcurrent(t *testing.T, s generate.RunStore) {
	const writers, updates = 4, 10
	var wg sync.WaitGroup
	errs := make(chan error, writers*updates)
	for w := range writers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			r := run(fmt.Sprintf("w%d", w), "app-1", w)
			for i := range updates {
				r.OpsApplied = i + 1
				if err := s.Put(context.Background(), r); err != nil {
					errs <- err
				}
				if _, err := s.List(context.Background(), "app-1", 0); err != nil {
					errs <- err
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	runs, err := s.List(ctxOf(t), "app-1", 0)
	if err != nil {
		t.Fatal(err)
	}
	if len(runs) != writers {
		t.Fatalf("List = %v, want %d runs", ids(runs), writers)
	}
	for _, r := range runs {
		if r.OpsApplied != updates {
			t.Errorf("%s: opsApplied %d, want the last put's %d", r.ID, r.OpsApplied, updates)
		}
	}
}
