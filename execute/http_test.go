package execute_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/casual-dev/casual/canvas"
	"github.com/casual-dev/casual/collab"
	"github.com/casual-dev/casual/collab/client"
	"github.com/casual-dev/casual/crdt"
	"github.com/casual-dev/casual/execute"
	"github.com/casual-dev/casual/execute/historytest"
	"github.com/casual-dev/casual/execute/postgres"
)

type apiServer struct {
	url string
	cs  *collab.Server
}

// startAPI runs the sync server and an Executor (blob directory, and the
// bbolt history unless hist is set, in a temporary data dir) with its
// routes on a loopback server.
func startAPI(t *testing.T, hist execute.History, authorize func(*http.Request, string, bool) error) *apiServer {
	t.Helper()
	return startNode(t, startServer(t), "exec-api", hist, nil, authorize)
}

// startNode runs an Executor on cs (one node of several when they share
// cs, a history and blobs) with its routes on a loopback server.
func startNode(t *testing.T, cs *collab.Server, id string, hist execute.History, blobs execute.BlobStore,
	authorize func(*http.Request, string, bool) error) *apiServer {
	t.Helper()
	x, err := execute.Open(testCtx(t), execute.Options{
		DataDir:   t.TempDir(),
		Dial:      dialer(cs, "executor"),
		NodeID:    id,
		Engine:    execute.Config{QuickJS: quickJS(t), CacheDir: engineCache(), Warm: 1},
		Authorize: authorize,
		History:   hist,
		Blobs:     blobs,
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := x.Close(context.Background()); err != nil {
			t.Error(err)
		}
	})
	mux := http.NewServeMux()
	x.Routes(mux)
	hs := httptest.NewServer(mux)
	t.Cleanup(hs.Close)
	return &apiServer{url: hs.URL, cs: cs}
}

func (s *apiServer) do(t *testing.T, method, path string, body any) (int, map[string]any, http.Header) {
	t.Helper()
	var rd io.Reader
	switch b := body.(type) {
	case nil:
	case []byte:
		rd = bytes.NewReader(b)
	default:
		j, _ := json.Marshal(b)
		rd = bytes.NewReader(j)
	}
	req, _ := http.NewRequestWithContext(testCtx(t), method, s.url+path, rd)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var out map[string]any
	if err := json.NewDecoder(resp.Body).Decode(&out); err != nil {
		t.Fatalf("%s %s: decode: %v", method, path, err)
	}
	return resp.StatusCode, out, resp.Header
}

// TestExecutionAPI: the API answers from the bbolt history of a single
// node and from the PostgreSQL executions table alike.
func TestExecutionAPI(t *testing.T) {
	t.Run("bbolt", func(t *testing.T) { testExecutionAPI(t, nil) })
	t.Run("postgres", func(t *testing.T) { testExecutionAPI(t, pgHistories(t)[0]) })
}

func testExecutionAPI(t *testing.T, hist execute.History) {
	s := startAPI(t, hist, nil)
	browser := newClient(t, s.cs, "builder")
	h := newApp(t, browser, map[string]string{
		"greet": `export default async ({input}) => { console.log("hi"); return {output: "hello " + input.name} }`,
	})
	app := "/v1/apps/" + string(h.ID())

	code, rec, _ := s.do(t, "POST", app+"/execute", map[string]any{"handler": "greet", "input": map[string]any{"name": "ada"}, "wait": true})
	if code != http.StatusOK || rec["status"] != "completed" || rec["output"] != "hello ada" || rec["executor"] != "exec-api" {
		t.Fatalf("execute and wait: %d %v", code, rec)
	}
	if logs, _ := rec["logs"].([]any); len(logs) != 1 || rec["durationMs"].(float64) <= 0 || rec["memoryBytes"].(float64) <= 0 {
		t.Errorf("record lacks logs or metrics: %v", rec)
	}

	code, queued, hdr := s.do(t, "POST", app+"/execute", map[string]any{"handler": "greet", "input": map[string]any{"name": "bob"}})
	if code != http.StatusAccepted || queued["status"] != "queued" || hdr.Get("Location") != "/v1/executions/"+queued["id"].(string) {
		t.Fatalf("execute: %d %v %v", code, queued, hdr)
	}
	waitRun(t, h, queued["id"].(string))
	var got map[string]any
	waitUntil(t, "the history has the result", func() bool { // written just after the document
		code, got, _ = s.do(t, "GET", "/v1/executions/"+queued["id"].(string), nil)
		return code != http.StatusOK || got["status"] == "completed" || got["status"] == "failed"
	})
	if code != http.StatusOK || got["output"] != "hello bob" || got["status"] != "completed" || got["attempts"] != 1.0 {
		t.Errorf("get: %d %v", code, got)
	}
	code, list, _ := s.do(t, "GET", app+"/executions", nil)
	execs, _ := list["executions"].([]any)
	if code != http.StatusOK || len(execs) != 2 || execs[0].(map[string]any)["id"] != queued["id"] {
		t.Errorf("list: %d %v", code, list)
	}

	// Modules: upload, point a handler at it, run it.
	uploadEcho(t, s, h)
	code, rec, _ = s.do(t, "POST", app+"/execute", map[string]any{"handler": "echo", "input": 7, "wait": true})
	if out, _ := rec["output"].(map[string]any); code != http.StatusOK || out["input"] != 7.0 {
		t.Errorf("wasm run: %d %v", code, rec)
	}

	tests := []struct {
		name, method, path string
		body               any
		code               int
		errCode            string
	}{
		{"unknown handler", "POST", app + "/execute", map[string]any{"handler": "nope"}, http.StatusNotFound, "not_found"},
		{"no handler", "POST", app + "/execute", map[string]any{}, http.StatusBadRequest, "bad_request"},
		{"bad json", "POST", app + "/execute", []byte("{"), http.StatusBadRequest, "bad_request"},
		{"bad app id", "POST", "/v1/apps/not-a-doc/execute", map[string]any{"handler": "greet"}, http.StatusBadRequest, "bad_app_id"},
		{"unknown execution", "GET", "/v1/executions/run-unknown", nil, http.StatusNotFound, "not_found"},
		{"malformed module", "POST", app + "/modules", []byte("\x00asm junk"), http.StatusUnprocessableEntity, "invalid_module"},
		{"bad limit", "GET", app + "/executions?limit=0", nil, http.StatusBadRequest, "bad_request"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			code, body, _ := s.do(t, tc.method, tc.path, tc.body)
			e, _ := body["error"].(map[string]any)
			if code != tc.code || e["code"] != tc.errCode {
				t.Errorf("%d %v, want %d %s", code, body, tc.code, tc.errCode)
			}
		})
	}
}

func TestExecutionAPIAsksAuthorize(t *testing.T) {
	s := startAPI(t, nil, func(r *http.Request, app string, write bool) error {
		switch {
		case r.Header.Get("Authorization") == "":
			return execute.ErrUnauthenticated
		case write:
			return errors.New("viewers cannot run handlers")
		}
		return nil
	})
	browser := newClient(t, s.cs, "builder")
	h := newApp(t, browser, map[string]string{"f": `export default () => {}`})
	code, _, _ := s.do(t, "POST", "/v1/apps/"+string(h.ID())+"/execute", map[string]any{"handler": "f"})
	if code != http.StatusUnauthorized {
		t.Errorf("no credentials: %d, want 401", code)
	}
}

// TestModuleUploadedOnOneNodeRunsOnAnother: nodes sharing PostgreSQL share
// uploaded modules, so a run executes on whichever node claims it.
func TestModuleUploadedOnOneNodeRunsOnAnother(t *testing.T) {
	cs := startServer(t)
	ha, hb := historytest.PostgresHistories(t)
	a := startNode(t, cs, "exec-a", ha, ha.(*postgres.History).Blobs(), nil)
	b := startNode(t, cs, "exec-b", hb, hb.(*postgres.History).Blobs(), nil)
	h := newApp(t, newClient(t, cs, "browser"), nil)
	app := "/v1/apps/" + string(h.ID())
	uploadEcho(t, a, h) // through node a
	code, rec, _ := b.do(t, "POST", app+"/execute", map[string]any{"handler": "echo", "input": 7, "wait": true})
	if out, _ := rec["output"].(map[string]any); code != http.StatusOK || rec["executor"] != "exec-b" || out["input"] != 7.0 {
		t.Errorf("run through node b: %d %v", code, rec)
	}
}

// uploadEcho uploads echoModule through s and points the app's handler
// "echo" at it, and waits until the server has the handler.
func uploadEcho(t *testing.T, s *apiServer, h *client.Handle) {
	t.Helper()
	code, up, _ := s.do(t, "POST", "/v1/apps/"+string(h.ID())+"/modules", echoModule())
	if code != http.StatusCreated {
		t.Fatalf("upload: %d %v", code, up)
	}
	err := h.Change(testCtx(t), "wasm handler", func(d *crdt.Doc) error {
		_, err := canvas.SetHandler(d, canvas.Actor{}, canvas.HandlerSpec{ID: "echo", Name: "echo", Lang: "wasm", Module: up["module"].(string)})
		return err
	})
	if err == nil {
		err = h.WaitAcked(testCtx(t))
	}
	if err != nil {
		t.Fatal(err)
	}
}
