package main

import (
	"context"
	"encoding/json"
	"net/http"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/casual-dev/casual/accounts/accountstest"
	"github.com/casual-dev/casual/generate"
	generatepg "github.com/casual-dev/casual/generate/postgres"
)

// TestAIRunHistorySurvivesARestart, for each store: a run's history is
// served after the server restarts, and a run the previous process left
// running is marked failed ("interrupted") when its node starts again.
func TestAIRunHistorySurvivesARestart(t *testing.T) {
	for _, c := range []struct {
		name string
		// env returns the store settings; put writes a run into the stopped
		// server's history as a crashed process would have left it.
		env func(t *testing.T, dataDir string) []string
		put func(t *testing.T, dataDir string, env []string, r generate.Run)
	}{
		{"embedded",
			func(*testing.T, string) []string { return nil },
			func(t *testing.T, dataDir string, _ []string, r generate.Run) {
				s, err := generate.OpenBoltStore(filepath.Join(dataDir, "ai-runs.db"))
				if err != nil {
					t.Fatal(err)
				}
				defer s.Close()
				if err := s.Put(context.Background(), r); err != nil {
					t.Fatal(err)
				}
			}},
		{"postgres",
			func(t *testing.T, _ string) []string {
				return []string{"CASUAL_STORE=" + accountstest.PostgresSchema(t)}
			},
			func(t *testing.T, _ string, env []string, r generate.Run) {
				pool, err := pgxpool.New(context.Background(), strings.TrimPrefix(env[0], "CASUAL_STORE="))
				if err != nil {
					t.Fatal(err)
				}
				defer pool.Close()
				s, err := generatepg.New(context.Background(), pool, generatepg.Options{})
				if err != nil {
					t.Fatal(err)
				}
				if err := s.Put(context.Background(), r); err != nil {
					t.Fatal(err)
				}
			}},
	} {
		t.Run(c.name, func(t *testing.T) {
			dataDir := t.TempDir()
			env := c.env(t, dataDir)
			procEnv := append([]string{"CASUAL_NODE_ID=ai-node"}, env...)
			addr := freeAddr(t)
			p := startProc(t, addr, dataDir, procEnv...)
			base := "http://" + addr

			run := aiCall(t, "POST", base+"/v1/generate/manifest", `{"prompt":"a counter"}`, http.StatusAccepted)
			deadline := time.Now().Add(20 * time.Second)
			for run.Status != generate.StatusDone {
				if time.Now().After(deadline) || run.Status.Final() {
					t.Fatalf("run = %s %+v", run.Status, run.Error)
				}
				time.Sleep(20 * time.Millisecond)
				run = aiCall(t, "GET", base+"/v1/generate/runs/"+run.ID, "", http.StatusOK)
			}
			p.stop()

			left := generate.Run{ID: "left-running", AppID: run.AppID, Kind: generate.KindManifest, Mode: generate.ModeLive,
				Status: generate.StatusRunning, Prompt: "a todo list", Node: "ai-node", CreatedAt: time.Now().UTC()}
			other := left
			other.ID, other.Node = "other-node", "another-node"
			c.put(t, dataDir, env, left)
			c.put(t, dataDir, env, other)

			startProc(t, addr, dataDir, procEnv...)
			again := aiCall(t, "GET", base+"/v1/generate/runs/"+run.ID, "", http.StatusOK)
			if a, b := mustJSON(t, again), mustJSON(t, run); a != b {
				t.Fatalf("run after restart:\n got %s\nwant %s", a, b)
			}
			got := aiCall(t, "GET", base+"/v1/generate/runs/left-running", "", http.StatusOK)
			if got.Status != generate.StatusFailed || got.Error == nil || got.Error.Code != "interrupted" || got.FinishedAt.IsZero() {
				t.Fatalf("run left running = %s %+v", got.Status, got.Error)
			}
			if got := aiCall(t, "GET", base+"/v1/generate/runs/other-node", "", http.StatusOK); got.Status != generate.StatusRunning {
				t.Fatalf("another node's run = %s, want it left alone", got.Status)
			}
		})
	}
}

func aiCall(t *testing.T, method, url, body string, want int) generate.Run {
	t.Helper()
	req, _ := http.NewRequest(method, url, strings.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	var r generate.Run
	if err := json.NewDecoder(res.Body).Decode(&r); err != nil || res.StatusCode != want {
		t.Fatalf("%s %s = %d (%v), want %d", method, url, res.StatusCode, err, want)
	}
	return r
}

func mustJSON(t *testing.T, v any) string {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}
