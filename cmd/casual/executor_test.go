package main

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/casual-dev/casual/collab/client"
	"github.com/casual-dev/casual/crdt"
)

// TestRunQueuedInTheDocumentIsExecuted is what the embed's run mode does:
// a client writes runs.<id> = {handler, input, status: "queued"} straight
// into the app document; the executor notices it, runs the handler, and
// every peer sees the result and the state patch — whether the handler
// returns {state} (the counter template's inc) or changes ctx.state in
// place (as the AI planner's handlers do).
func TestRunQueuedInTheDocumentIsExecuted(t *testing.T) {
	ctx := testCtx(t, 60*time.Second)
	addr := freeAddr(t)
	startProc(t, addr, t.TempDir())
	id := newCounterApp(t, addr)

	c, err := dialNode(ctx, addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	h, err := c.Find(ctx, id)
	if err != nil {
		t.Fatal(err)
	}
	if err := h.Change(ctx, "handler", func(d *crdt.Doc) error {
		return d.Set([]any{"handlers", "mut"}, map[string]any{"name": "mut", "lang": "js",
			"source": crdt.Text("export default function ({ state }) {\n  state.count = (state.count || 0) + 10;\n}\n")})
	}); err != nil {
		t.Fatal(err)
	}
	countIn := func(d *crdt.Doc) int64 {
		switch v, _ := d.Get("state", "count"); x := v.(type) {
		case int64:
			return x
		case float64:
			return int64(x)
		}
		return 0
	}
	count := func() (n int64) {
		h.Read(func(d *crdt.Doc) { n = countIn(d) })
		return n
	}
	for i, tt := range []struct {
		handler string
		add     int64
	}{{"inc", 1}, {"mut", 10}} {
		before, run := count(), fmt.Sprintf("run-%d", i)
		if err := h.Change(ctx, "click", func(d *crdt.Doc) error {
			return d.Set([]any{"runs", run}, map[string]any{
				"handler": tt.handler, "input": map[string]any{}, "status": "queued", "by": "embed"})
		}); err != nil {
			t.Fatal(err)
		}
		var status, errMsg any
		err := h.WaitFor(ctx, func(d *crdt.Doc) bool {
			status, _ = d.Get("runs", run, "status")
			errMsg, _ = d.Get("runs", run, "error")
			return status == "completed" || status == "failed"
		})
		if err != nil || status != "completed" {
			t.Fatalf("%s: run status %v (error %v): %v", tt.handler, status, errMsg, err)
		}
		if err := h.WaitFor(ctx, func(d *crdt.Doc) bool { return countIn(d) == before+tt.add }); err != nil {
			t.Fatalf("%s: state.count = %d, want %d", tt.handler, count(), before+tt.add)
		}
	}
}

// TestExecutorReleasesIdleDocuments: once nobody has the app open and it
// has no runs to do, the executor lets go of it and the room unloads
// (casual_rooms_loaded drops to 0); a run queued when someone opens the
// app again still executes.
func TestExecutorReleasesIdleDocuments(t *testing.T) {
	ctx := testCtx(t, 60*time.Second)
	addr := freeAddr(t)
	startProc(t, addr, t.TempDir(), "CASUAL_EXECUTOR_IDLE=300ms", "CASUAL_IDLE_UNLOAD=100ms")
	id := newCounterApp(t, addr)
	click := func(run string) {
		t.Helper()
		c, err := dialNode(ctx, addr)
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		h, err := c.Find(ctx, id)
		if err != nil {
			t.Fatal(err)
		}
		if err := h.Change(ctx, "click", func(d *crdt.Doc) error {
			return d.Set([]any{"runs", run}, map[string]any{"handler": "inc", "status": "queued", "by": "embed"})
		}); err != nil {
			t.Fatal(err)
		}
		var status any
		err = h.WaitFor(ctx, func(d *crdt.Doc) bool {
			status, _ = d.Get("runs", run, "status")
			return status == "completed" || status == "failed"
		})
		if err != nil || status != "completed" {
			t.Fatalf("%s: status %v: %v", run, status, err)
		}
	}
	click("run-1")
	waitRoomsLoaded(t, addr, 0)
	click("run-2") // the room loads again, and the executor comes back
	waitRoomsLoaded(t, addr, 0)
}

// waitRoomsLoaded polls /metrics until casual_rooms_loaded is want.
func waitRoomsLoaded(t *testing.T, addr string, want int) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	line := fmt.Sprintf("casual_rooms_loaded %d", want)
	var last string
	for time.Now().Before(deadline) {
		resp, err := http.Get("http://" + addr + "/metrics")
		if err == nil {
			b, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			for _, l := range strings.Split(string(b), "\n") {
				if strings.HasPrefix(l, "casual_rooms_loaded ") {
					last = l
				}
			}
			if last == line {
				return
			}
		}
		time.Sleep(50 * time.Millisecond)
	}
	t.Fatalf("rooms loaded: %q, want %q", last, line)
}

// TestClusterExecutorsRunEachRunOnce: two nodes share PostgreSQL (and so
// the executions table) and Redis; clients of both queue runs of the
// counter's inc in one app at once. Both nodes' executors watch the app,
// and every run is executed exactly once: the count is the number of
// runs, and either node's API lists each run, completed.
func TestClusterExecutorsRunEachRunOnce(t *testing.T) {
	ctx := testCtx(t, 120*time.Second)
	c := startCluster(t, 2)
	id := newCounterApp(t, c.nodes[0].addr)
	const perNode = 10
	handles := []*client.Handle{c.find(ctx, 0, id), c.find(ctx, 1, id)}
	var wg sync.WaitGroup
	var runs []string
	var mu sync.Mutex
	for i, h := range handles {
		wg.Go(func() {
			for j := range perNode {
				run := fmt.Sprintf("run-n%d-%d", i, j)
				err := h.Change(ctx, "click", func(d *crdt.Doc) error {
					return d.Set([]any{"runs", run}, map[string]any{"handler": "inc", "status": "queued", "by": "embed"})
				})
				if err != nil {
					t.Error(err)
					return
				}
				mu.Lock()
				runs = append(runs, run)
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	for _, h := range handles {
		err := h.WaitFor(ctx, func(d *crdt.Doc) bool {
			for _, run := range runs {
				if st, _ := d.Get("runs", run, "status"); st != "completed" {
					return false
				}
			}
			return true
		})
		if err != nil {
			t.Fatalf("runs did not all complete: %v", err)
		}
	}
	// Runs of the app never overlapped, on either node: each saw the
	// count its predecessor wrote, so no increment was lost.
	for i, h := range handles {
		err := h.WaitFor(ctx, func(d *crdt.Doc) bool {
			n, _ := d.Get("state", "count")
			return fmt.Sprint(n) == fmt.Sprint(2*perNode)
		})
		if err != nil {
			var n any
			h.Read(func(d *crdt.Doc) { n, _ = d.Get("state", "count") })
			t.Errorf("node %d: state.count = %v, want %d: two runs overlapped", i, n, 2*perNode)
		}
	}
	// Each run executed exactly once across the two nodes: the executors'
	// run counters add up to the number of runs.
	ran := 0.0
	for i := range c.nodes {
		if v := c.metric(ctx, i, `casual_execute_runs_total{lang="js",outcome="ok"}`); v > 0 {
			ran += v
		}
	}
	if ran != 2*perNode {
		t.Errorf("the executors ran %v runs, want %d: a run executed twice or not at all", ran, 2*perNode)
	}
	executors := map[string]int{}
	for _, node := range c.nodes {
		var list struct {
			Executions []struct{ ID, Status, Executor string }
		}
		waitFor := time.Now().Add(30 * time.Second)
		for {
			resp, err := http.Get("http://" + node.addr + "/v1/apps/" + string(id) + "/executions?limit=100")
			if err != nil {
				t.Fatal(err)
			}
			list.Executions = nil
			json.NewDecoder(resp.Body).Decode(&list)
			resp.Body.Close()
			done := 0
			for _, e := range list.Executions {
				if e.Status == "completed" {
					done++
				}
			}
			if done == 2*perNode || time.Now().After(waitFor) {
				break
			}
			time.Sleep(50 * time.Millisecond) // the history is written just after the document
		}
		if len(list.Executions) != 2*perNode {
			t.Fatalf("node %s lists %d executions, want %d", node.addr, len(list.Executions), 2*perNode)
		}
		clear(executors)
		for _, e := range list.Executions {
			if e.Status != "completed" {
				t.Errorf("node %s: %s is %s", node.addr, e.ID, e.Status)
			}
			executors[e.Executor]++
		}
	}
	t.Logf("runs per executor: %v", executors)
}

// newCounterApp creates an app from the counter template through the
// server at addr and returns its id.
func newCounterApp(t *testing.T, addr string) crdt.DocID {
	t.Helper()
	resp, err := http.Post("http://"+addr+"/app/new?template=counter&name=c", "", nil)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var app struct{ ID string }
	json.NewDecoder(resp.Body).Decode(&app)
	id, err := crdt.ParseDocID(app.ID)
	if err != nil {
		t.Fatalf("new app: %v (%d)", err, resp.StatusCode)
	}
	return id
}
