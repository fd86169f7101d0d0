package generate

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"sync/atomic"
	"testing"
	"time"
)

// restart starts a new generator on store, as a restarted server would,
// serving its routes; it returns the generator and its API's base URL.
func restart(t *testing.T, env *testEnv, cfg Config, store RunStore, node string) (*Generator, string) {
	t.Helper()
	gen, err := New(cfg, env.cs, Options{Store: store, Node: node, Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	mux := http.NewServeMux()
	gen.Routes(mux)
	hs := httptest.NewServer(mux)
	t.Cleanup(func() {
		hs.Close()
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		gen.Close(ctx)
	})
	return gen, hs.URL
}

// getRun fetches GET /v1/generate/runs/{id}.
func getRun(t *testing.T, api, id string) (int, Run) {
	t.Helper()
	res, err := http.Get(api + "/v1/generate/runs/" + id)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	body, _ := io.ReadAll(res.Body)
	var r Run
	if res.StatusCode == http.StatusOK {
		if err := json.Unmarshal(body, &r); err != nil {
			t.Fatalf("run body %s: %v", body, err)
		}
	}
	return res.StatusCode, r
}

func openBolt(t *testing.T, path string) *BoltStore {
	t.Helper()
	s, err := OpenBoltStore(path)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

func TestRunHistorySurvivesARestart(t *testing.T) {
	path := filepath.Join(t.TempDir(), "ai-runs.db")
	first := openBolt(t, path)
	env := startEnv(t, Config{}, Options{Store: first, Node: "node-1"})
	ctx := testCtx(t)
	run := env.wait(ctx, env.start(ctx, Request{Prompt: "a todo list"}).ID)
	if run.Status != StatusDone || run.OpsApplied == 0 || run.Node != "node-1" {
		t.Fatalf("run = %s applied %d node %q", run.Status, run.OpsApplied, run.Node)
	}
	if err := env.gen.Close(ctx); err != nil {
		t.Fatal(err)
	}
	if err := first.Close(); err != nil {
		t.Fatal(err)
	}

	_, api := restart(t, env, Config{}, openBolt(t, path), "node-1")
	status, got := getRun(t, api, run.ID)
	if status != http.StatusOK {
		t.Fatalf("GET run after restart = %d", status)
	}
	want, _ := json.Marshal(run)
	if b, _ := json.Marshal(got); string(b) != string(want) {
		t.Fatalf("run after restart:\n got %s\nwant %s", b, want)
	}
	if status, _ := getRun(t, api, "unknown-run"); status != http.StatusNotFound {
		t.Fatalf("GET unknown run = %d, want 404", status)
	}
	res, err := http.Get(api + "/v1/generate/runs?appId=" + run.AppID)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	var list struct{ Runs []Run }
	if err := json.NewDecoder(res.Body).Decode(&list); err != nil || len(list.Runs) != 1 || list.Runs[0].ID != run.ID {
		t.Fatalf("listed after restart: %+v, %v", list.Runs, err)
	}
}

// crashingStore drops every write once crashed, as a process killed
// mid-run never writes the run's end.
type crashingStore struct {
	RunStore
	crashed atomic.Bool
}

func (s *crashingStore) Put(ctx context.Context, r Run) error {
	if s.crashed.Load() {
		return nil
	}
	return s.RunStore.Put(ctx, r)
}

func TestRestartFailsRunsLeftRunning(t *testing.T) {
	fake := newFakeAI(t, func(_ int, w *sse, r *http.Request) {
		w.content(opLines(buildOps[0]))
		<-r.Context().Done() // still generating when the server dies
	})
	path := filepath.Join(t.TempDir(), "ai-runs.db")
	bolt := openBolt(t, path)
	store := &crashingStore{RunStore: bolt}
	cfg := fake.config()
	cfg.PresenceHeartbeat = 5 * time.Millisecond // the beat also stores the run's progress
	env := startEnv(t, cfg, Options{Store: store, Node: "node-1"})
	ctx := testCtx(t)
	run := env.start(ctx, Request{Prompt: "x"})
	if err := aiReplica(t, env, run.ID).WaitFor(ctx, hasComponent("title")); err != nil {
		t.Fatal(err)
	}
	for { // until a beat stored the applied op
		if r, err := bolt.Get(ctx, run.ID); err == nil && r.OpsApplied == 1 {
			break
		}
		select {
		case <-ctx.Done():
			t.Fatal("the run's progress was never stored")
		case <-time.After(5 * time.Millisecond):
		}
	}
	// Another node's run in the same history is none of this node's business.
	other := Run{ID: "other-node-run", AppID: run.AppID, Status: StatusRunning, Node: "node-2", CreatedAt: time.Now().UTC()}
	if err := bolt.Put(ctx, other); err != nil {
		t.Fatal(err)
	}
	store.crashed.Store(true)
	if err := env.gen.Close(ctx); err != nil {
		t.Fatal(err)
	}
	if err := bolt.Close(); err != nil {
		t.Fatal(err)
	}

	reopened := openBolt(t, path)
	if left, _ := reopened.Get(ctx, run.ID); left.Status != StatusRunning {
		t.Fatalf("the crashed server left the run %s, want running", left.Status)
	}
	gen, api := restart(t, env, cfg, reopened, "node-1")
	status, got := getRun(t, api, run.ID)
	if status != http.StatusOK || got.Status != StatusFailed || got.Error == nil ||
		got.Error.Code != "interrupted" || got.Error.Message != "interrupted: server restarted" || got.FinishedAt.IsZero() {
		t.Fatalf("GET run after restart = %d %s %+v finished %v", status, got.Status, got.Error, got.FinishedAt)
	}
	if got.Prompt != "x" || got.StartedAt.IsZero() || got.OpsApplied != 1 || len(got.Applied) != 1 || got.Applied[0].Target != "title" {
		t.Fatalf("interrupted run lost its history: %+v", got)
	}
	if r, err := gen.Get(ctx, other.ID); err != nil || r.Status != StatusRunning {
		t.Fatalf("node-2's run = %s, %v; want it left running", r.Status, err)
	}
	if _, err := gen.Cancel(ctx, run.ID); err != nil {
		t.Fatalf("cancel an interrupted run: %v", err)
	}
}
