package execute_test

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/casual-dev/casual/canvas"
	"github.com/casual-dev/casual/collab"
	"github.com/casual-dev/casual/collab/client"
	"github.com/casual-dev/casual/collab/wire"
	"github.com/casual-dev/casual/crdt"
	"github.com/casual-dev/casual/execute"
	"github.com/casual-dev/casual/rooms"
	"github.com/casual-dev/casual/store/embedded"
)

// startServer runs the sync server (embedded store, rooms, collab) that
// the peers of a test connect to in process.
func startServer(t testing.TB) *collab.Server {
	t.Helper()
	cs, _ := newServer(t, rooms.Hooks{}, time.Second)
	return cs
}

// newServer is startServer with room hooks and an idle-unload delay,
// returning the rooms too.
func newServer(t testing.TB, hooks rooms.Hooks, unload time.Duration) (*collab.Server, *rooms.Manager) {
	t.Helper()
	ctx := context.Background()
	st, err := embedded.Open(ctx, t.TempDir(), embedded.Options{})
	if err != nil {
		t.Fatal(err)
	}
	sid, err := st.StorageID(ctx)
	if err != nil {
		t.Fatal(err)
	}
	mgr := rooms.NewManager(st, rooms.Config{Hooks: hooks}, unload)
	cs := collab.NewServer(collab.Config{PeerID: "casual-test", StorageID: sid}, mgr, nil, nil)
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if err := cs.Shutdown(ctx); err != nil {
			t.Error(err)
		}
		st.Close()
	})
	return cs, mgr
}

func dialer(cs *collab.Server, actor string) func(context.Context) (client.Transport, error) {
	return func(ctx context.Context) (client.Transport, error) {
		return cs.Connect(ctx, collab.Credentials{Actor: actor}), nil
	}
}

// newPeer starts an executor peer; it is closed before the server.
func newPeer(t testing.TB, cs *collab.Server, cfg execute.PeerConfig) *execute.Peer {
	t.Helper()
	if cfg.Engine == nil {
		cfg.Engine = newEngine(t, nil)
	}
	if cfg.Dial == nil {
		cfg.Dial = dialer(cs, "executor")
	}
	p, err := execute.NewPeer(testCtx(t), cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { p.Close() })
	return p
}

// newClient connects a peer standing for a browser.
func newClient(t testing.TB, cs *collab.Server, id string) *client.Client {
	t.Helper()
	c, err := client.New(testCtx(t), cs.Connect(testCtx(t), collab.Credentials{Actor: id}), client.Options{PeerID: id})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

// newApp creates an app with the given JavaScript handlers (id → source)
// and waits until the server has it.
func newApp(t testing.TB, c *client.Client, handlers map[string]string) *client.Handle {
	t.Helper()
	ctx := testCtx(t)
	h, err := c.Create(ctx)
	if err != nil {
		t.Fatal(err)
	}
	err = h.Change(ctx, "new app", func(d *crdt.Doc) error {
		if err := canvas.NewApp(d, "Test", ""); err != nil {
			return err
		}
		for id, src := range handlers {
			if _, err := canvas.SetHandler(d, canvas.Actor{}, canvas.HandlerSpec{ID: id, Name: id, Lang: "js", Source: src}); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if err := h.WaitAcked(ctx); err != nil {
		t.Fatal(err)
	}
	return h
}

// queue adds a run and returns its id.
func queue(t testing.TB, h *client.Handle, handler string, input any) string {
	t.Helper()
	var id string
	err := h.Change(testCtx(t), "click", func(d *crdt.Doc) error {
		var err error
		id, err = execute.QueueRun(d, execute.RunRequest{Handler: handler, Input: input, By: "test"})
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	return id
}

// waitRun waits until the replica shows run id finished and returns it.
func waitRun(t testing.TB, h *client.Handle, id string) map[string]any {
	t.Helper()
	var run map[string]any
	err := h.WaitFor(testCtx(t), func(d *crdt.Doc) bool {
		v, _ := d.Get("runs", id)
		run, _ = v.(map[string]any)
		return run != nil && (run["status"] == execute.StatusCompleted || run["status"] == execute.StatusFailed)
	})
	if err != nil {
		t.Fatalf("run %s did not finish: %v (last seen %v)", id, err, run)
	}
	return run
}

func stateOf(h *client.Handle, key string) any {
	var v any
	h.Read(func(d *crdt.Doc) { v, _ = d.Get("state", key) })
	return v
}

func TestPeerRunsQueuedRunsAndWritesResults(t *testing.T) {
	cs := startServer(t)
	hist := execute.NewMemHistory(0)
	p := newPeer(t, cs, execute.PeerConfig{ID: "exec-1", History: hist})
	browser := newClient(t, cs, "browser")
	h := newApp(t, browser, map[string]string{
		"add":   `export default ({input, state}) => { console.log("adding", input.a, input.b); return {output: input.a + input.b, state: {last: input.a + input.b, seen: (state.seen ?? 0) + 1}} }`,
		"fails": `export default () => { throw new Error("bad input") }`,
		"spin":  `export default () => { while (true) {} }`,
		"reset": `export default () => ({output: [1, null, {a: null}], state: {last: null}})`,
	})
	if _, err := p.Watch(testCtx(t), h.ID()); err != nil {
		t.Fatal(err)
	}

	id := queue(t, h, "add", map[string]any{"a": 2, "b": 40})
	run := waitRun(t, h, id)
	if run["status"] != execute.StatusCompleted || run["output"] != int64(42) || run["executor"] != "exec-1" {
		t.Fatalf("run = %v", run)
	}
	if logs, _ := run["logs"].([]any); len(logs) != 1 || logs[0] != "adding 2 40" {
		t.Errorf("logs = %v", run["logs"])
	}
	m, _ := run["metrics"].(map[string]any)
	if d, _ := m["durationMs"].(float64); d <= 0 || m["memoryBytes"].(int64) <= 0 {
		t.Errorf("metrics = %v", m)
	}
	if got := stateOf(h, "last"); got != int64(42) {
		t.Errorf("state.last = %v, want 42", got)
	}

	id = queue(t, h, "reset", nil)
	if run := waitRun(t, h, id); run["status"] != execute.StatusCompleted || fmt.Sprint(run["output"]) != "[1 <nil> map[a:<nil>]]" {
		t.Errorf("reset: run = %v", run)
	}
	if got := stateOf(h, "last"); got != nil {
		t.Errorf("state.last = %v after a null patch, want it deleted", got)
	}

	tests := []struct{ handler, code, msg string }{
		{"fails", "error", "Error: bad input"},
		{"spin", "timeout", "wall time limit of 1s exceeded"},
		{"missing", "invalid", `handler "missing" does not exist`},
	}
	for _, tc := range tests {
		var id string
		if tc.handler == "missing" { // as a client that skips QueueRun's check might
			id = "run-missing"
			h.Change(testCtx(t), "", func(d *crdt.Doc) error {
				return d.Set([]any{"runs", id}, map[string]any{"handler": "missing", "status": "queued", "at": time.Now().UnixMilli()})
			})
		} else {
			id = queue(t, h, tc.handler, nil)
		}
		run := waitRun(t, h, id)
		e, _ := run["error"].(map[string]any)
		if run["status"] != execute.StatusFailed || e["code"] != tc.code || !containsFold(fmt.Sprint(e["message"]), tc.msg) {
			t.Errorf("%s: run = %v, want failed %s mentioning %q", tc.handler, run, tc.code, tc.msg)
		}
	}
	// The server and the executor are healthy: a new peer reads the app
	// and a run still completes.
	other := newClient(t, cs, "late")
	h2, err := other.Find(testCtx(t), h.ID())
	if err != nil {
		t.Fatal(err)
	}
	id = queue(t, h2, "add", map[string]any{"a": 1, "b": 1})
	if run := waitRun(t, h2, id); run["output"] != int64(2) {
		t.Errorf("after the failures: run = %v", run)
	}
	if got := stateOf(h2, "seen"); got != int64(2) {
		t.Errorf("state.seen = %v, want 2", got)
	}
	rec := waitHistory(t, hist, id, execute.Record.Finished) // written just after the document
	if rec.Status != execute.StatusCompleted || rec.Executor != "exec-1" || rec.DurationMs <= 0 {
		t.Errorf("history: %+v", rec)
	}
}

func TestCounterClickedFromTwoPeersKeepsBothIncrements(t *testing.T) {
	cs := startServer(t)
	p := newPeer(t, cs, execute.PeerConfig{ID: "exec-1"})
	alice := newClient(t, cs, "alice")
	ha := newApp(t, alice, map[string]string{
		"increment": `export default ({state}) => ({state: {count: (state.count ?? 0) + 1}})`,
	})
	bob := newClient(t, cs, "bob")
	hb, err := bob.Find(testCtx(t), ha.ID())
	if err != nil {
		t.Fatal(err)
	}
	if _, err := p.Watch(testCtx(t), ha.ID()); err != nil {
		t.Fatal(err)
	}
	const clicks = 5
	ids := make(chan string, 2*clicks)
	var wg sync.WaitGroup
	for _, h := range []*client.Handle{ha, hb} {
		wg.Go(func() {
			for range clicks {
				ids <- queue(t, h, "increment", nil)
			}
		})
	}
	wg.Wait()
	close(ids)
	for id := range ids {
		waitRun(t, ha, id)
	}
	for _, h := range []*client.Handle{ha, hb} {
		err := h.WaitFor(testCtx(t), func(d *crdt.Doc) bool {
			v, _ := d.Get("state", "count")
			return v == int64(2*clicks)
		})
		if err != nil {
			t.Fatalf("count = %v, want %d", stateOf(h, "count"), 2*clicks)
		}
	}
}

// TestTwoExecutorsRaceAndOneRunsEachRun has two executors claim every run
// at once. With a shared history (memory, or PostgreSQL through two pools)
// a gate holds each executor's History.Claim until both have made one;
// with separate histories, a gate on their connections holds each one's
// claim in the document until the other has made its own, so neither saw
// the other's. Each run is still executed exactly once.
func TestTwoExecutorsRaceAndOneRunsEachRun(t *testing.T) {
	tests := []struct {
		name   string
		shared bool
		settle time.Duration
		hists  func(t *testing.T) [2]execute.History
	}{
		{"shared history", true, 0, func(*testing.T) [2]execute.History {
			h := execute.NewMemHistory(0)
			return [2]execute.History{h, h}
		}},
		{"postgres history, two pools", true, 0, func(t *testing.T) [2]execute.History { return pgHistories(t) }},
		{"document claims only", false, 100 * time.Millisecond, func(*testing.T) [2]execute.History {
			return [2]execute.History{execute.NewMemHistory(0), execute.NewMemHistory(0)}
		}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			cs := startServer(t)
			eng := newEngine(t, nil)
			hists := tc.hists(t)
			gate := &claimGate{}
			dial := gate.dial(cs)
			if tc.shared { // only the winner of the History writes to the document
				dial = nil
				for i, h := range hists {
					hists[i] = &gatedHistory{History: h, g: gate}
				}
			}
			peers := []*execute.Peer{
				newPeer(t, cs, execute.PeerConfig{ID: "exec-b", Engine: eng, History: hists[0], ClaimSettle: tc.settle, Dial: dial}),
				newPeer(t, cs, execute.PeerConfig{ID: "exec-a", Engine: eng, History: hists[1], ClaimSettle: tc.settle, Dial: dial}),
			}
			browser := newClient(t, cs, "browser")
			h := newApp(t, browser, map[string]string{
				"inc": `export default ({state}) => ({output: (state.n ?? 0) + 1, state: {n: (state.n ?? 0) + 1}})`,
			})
			var replicas []*client.Handle
			for _, p := range peers {
				r, err := p.Watch(testCtx(t), h.ID())
				if err != nil {
					t.Fatal(err)
				}
				replicas = append(replicas, r)
			}
			const runs = 5
			for i := range runs {
				// Once the server has all the executors wrote, the next
				// change either sends is its claim.
				for _, r := range replicas {
					if err := r.WaitAcked(testCtx(t)); err != nil {
						t.Fatal(err)
					}
				}
				gate.arm()
				id := queue(t, h, "inc", nil)
				run := waitRun(t, h, id)
				if run["output"] != int64(i+1) {
					t.Fatalf("run %d: %v", i, run)
				}
				if tc.shared {
					// Both went to the fence; the winner alone claimed it in
					// the document.
					if n := gate.passed(); n != 2 {
						t.Fatalf("run %d: %d claims reached the history, want 2", i, n)
					}
					a, b := run["claim:exec-a"] != nil, run["claim:exec-b"] != nil
					if a == b || run["claim:"+fmt.Sprint(run["executor"])] == nil {
						t.Errorf("run %d: want the claim of its executor only: %v", i, run)
					}
				} else {
					err := h.WaitFor(testCtx(t), func(d *crdt.Doc) bool {
						a, _ := d.Get("runs", id, "claim:exec-a")
						b, _ := d.Get("runs", id, "claim:exec-b")
						return a != nil && b != nil
					})
					if err != nil {
						t.Fatalf("run %d: want claims by both executors: %v", i, err)
					}
				}
				if !tc.shared && run["executor"] != "exec-a" {
					t.Errorf("run %d ran on %v, want exec-a (the lowest id)", i, run["executor"])
				}
			}
			if n := peers[0].Ran() + peers[1].Ran(); n != runs {
				t.Errorf("executors ran %d + %d runs, want %d in all", peers[0].Ran(), peers[1].Ran(), runs)
			}
			if got := stateOf(h, "n"); got != int64(runs) {
				t.Errorf("state.n = %v, want %d", got, runs)
			}
		})
	}
}

// claimGate holds, once armed, each executor's next change (its claim)
// until both executors have one waiting; then lets everything through.
type claimGate struct {
	mu      sync.Mutex
	armed   bool
	held    int
	release chan struct{}
}

func (g *claimGate) arm() {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.armed, g.held, g.release = true, 0, make(chan struct{})
}

// enter counts one claim; it returns the channel to wait on, nil if the
// gate is not armed.
func (g *claimGate) enter() <-chan struct{} {
	g.mu.Lock()
	defer g.mu.Unlock()
	if !g.armed {
		return nil
	}
	g.held++
	if g.held == 2 {
		g.armed = false
		close(g.release)
	}
	return g.release
}

// passed returns how many claims the last arming let through.
func (g *claimGate) passed() int {
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.held
}

// gatedHistory holds History.Claim at the gate.
type gatedHistory struct {
	execute.History
	g *claimGate
}

func (h *gatedHistory) Claim(ctx context.Context, rec execute.Record) (execute.Claim, error) {
	if ch := h.g.enter(); ch != nil {
		select {
		case <-ch:
		case <-ctx.Done():
			return execute.Claim{}, ctx.Err()
		}
	}
	return h.History.Claim(ctx, rec)
}

func (g *claimGate) dial(cs *collab.Server) func(context.Context) (client.Transport, error) {
	return func(ctx context.Context) (client.Transport, error) {
		return &gatedTransport{Transport: cs.Connect(ctx, collab.Credentials{Actor: "executor"}), g: g}, nil
	}
}

type gatedTransport struct {
	client.Transport
	g *claimGate
}

func (t *gatedTransport) Send(ctx context.Context, frame []byte) error {
	if ch := t.hold(frame); ch != nil {
		select {
		case <-ch:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	return t.Transport.Send(ctx, frame)
}

// hold returns the channel to wait on if frame is a new change to hold.
func (t *gatedTransport) hold(frame []byte) <-chan struct{} {
	m, err := wire.Decode(frame)
	if err != nil || m.Type != wire.TypeSync {
		return nil
	}
	info, err := crdt.InspectSyncMessage(m.Data)
	if err != nil || info.Changes == 0 {
		return nil
	}
	return t.g.enter()
}
