package generate

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gorilla/websocket"
	openai "github.com/sashabaranov/go-openai"

	"github.com/casual-dev/casual/canvas"
	"github.com/casual-dev/casual/collab"
	"github.com/casual-dev/casual/collab/client"
	"github.com/casual-dev/casual/crdt"
	"github.com/casual-dev/casual/rooms"
	"github.com/casual-dev/casual/store/embedded"
)

// testEnv is the whole stack on loopback: embedded store, rooms, the
// collab server behind a WebSocket /sync endpoint, and a generator whose
// routes share the HTTP server.
type testEnv struct {
	t   testing.TB
	cs  *collab.Server
	ws  string // ws://.../sync
	api string // http://...
	gen *Generator
}

// startEnv starts the stack; cfg is the generator's config (empty APIKey:
// offline planner).
func startEnv(t testing.TB, cfg Config, opts Options) *testEnv {
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
	mgr := rooms.NewManager(st, rooms.Config{}, time.Second)
	cs := collab.NewServer(collab.Config{PeerID: "casual-test", StorageID: sid}, mgr, nil, nil)
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	gen, err := New(cfg, cs, opts)
	if err != nil {
		t.Fatal(err)
	}
	sctx, cancel := context.WithCancel(ctx)
	var wg sync.WaitGroup
	mux := http.NewServeMux()
	upgrader := websocket.Upgrader{CheckOrigin: func(*http.Request) bool { return true }}
	mux.HandleFunc("GET /sync", func(w http.ResponseWriter, r *http.Request) {
		conn, err := upgrader.Upgrade(w, r, nil)
		if err != nil {
			return
		}
		tr := collab.NewWebSocket(conn, cs.Config().MaxFrameBytes, cs.Config().PongWait())
		wg.Add(1)
		go func() {
			defer wg.Done()
			_ = cs.Serve(sctx, tr, collab.Credentials{RemoteAddr: r.RemoteAddr})
		}()
	})
	gen.Routes(mux)
	hs := httptest.NewServer(mux)
	t.Cleanup(func() {
		ctx, cancelWait := context.WithTimeout(context.Background(), 20*time.Second)
		defer cancelWait()
		if err := gen.Close(ctx); err != nil {
			t.Error(err)
		}
		if err := cs.Shutdown(ctx); err != nil {
			t.Error(err)
		}
		cancel()
		wg.Wait()
		hs.Close()
		st.Close()
	})
	return &testEnv{t: t, cs: cs, ws: "ws" + strings.TrimPrefix(hs.URL, "http") + "/sync", api: hs.URL, gen: gen}
}

func testCtx(t testing.TB) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	t.Cleanup(cancel)
	return ctx
}

// peer connects a browser-like client over WebSocket.
func (e *testEnv) peer(ctx context.Context) *client.Client {
	e.t.Helper()
	tr, err := client.DialWebSocket(ctx, e.ws)
	if err != nil {
		e.t.Fatal(err)
	}
	c, err := client.New(ctx, tr, client.Options{Logger: slog.New(slog.DiscardHandler), EphemeralBuffer: 1024})
	if err != nil {
		e.t.Fatal(err)
	}
	e.t.Cleanup(func() { c.Close() })
	return c
}

// open finds an app as a fresh WebSocket peer.
func (e *testEnv) open(ctx context.Context, app string) *client.Handle {
	e.t.Helper()
	h, err := e.peer(ctx).Find(ctx, crdt.DocID(app))
	if err != nil {
		e.t.Fatal(err)
	}
	return h
}

// newApp creates an app from a template as a human peer and returns its
// handle once the server has it.
func (e *testEnv) newApp(ctx context.Context, template string) *client.Handle {
	e.t.Helper()
	h, err := e.peer(ctx).Create(ctx)
	if err != nil {
		e.t.Fatal(err)
	}
	if err := h.Change(ctx, "", func(d *crdt.Doc) error { return canvas.NewApp(d, "test", template) }); err != nil {
		e.t.Fatal(err)
	}
	if err := h.WaitAcked(ctx); err != nil {
		e.t.Fatal(err)
	}
	return h
}

func (e *testEnv) start(ctx context.Context, req Request) Run {
	e.t.Helper()
	r, err := e.gen.Start(ctx, req)
	if err != nil {
		e.t.Fatal(err)
	}
	return r
}

func (e *testEnv) wait(ctx context.Context, id string) Run {
	e.t.Helper()
	r, err := e.gen.Wait(ctx, id)
	if err != nil {
		e.t.Fatal(err)
	}
	return r
}

// applied waits until run id's record counts at least n applied ops (the
// record follows each op's document change, so a peer can see the change
// first) and returns it.
func (e *testEnv) applied(ctx context.Context, id string, n int) Run {
	e.t.Helper()
	for {
		r, err := e.gen.Get(ctx, id)
		if err == nil && r.OpsApplied >= n {
			return r
		}
		select {
		case <-ctx.Done():
			e.t.Fatalf("run %s never counted %d applied ops: %+v %v", id, n, r, err)
		case <-time.After(time.Millisecond):
		}
	}
}

// hasComponent is a WaitFor predicate.
func hasComponent(id string) func(d *crdt.Doc) bool {
	return func(d *crdt.Doc) bool { v, _ := d.Get("components", id); return v != nil }
}

func prop(h *client.Handle, id, key string) any {
	var v any
	h.Read(func(d *crdt.Doc) { v, _ = d.Get("components", id, "props", key) })
	return v
}

// fakeAI is an OpenAI-compatible chat completions server speaking the real
// SSE wire format. handle answers the n-th request (from 0).
type fakeAI struct {
	srv    *httptest.Server
	handle func(n int, w *sse, r *http.Request)
	mu     sync.Mutex
	reqs   []openai.ChatCompletionRequest
}

func newFakeAI(t testing.TB, handle func(n int, w *sse, r *http.Request)) *fakeAI {
	f := &fakeAI{handle: handle}
	f.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/v1/chat/completions" || r.Header.Get("Authorization") != "Bearer test-key" {
			http.Error(w, `{"error":{"message":"bad path or key","type":"invalid_request_error"}}`, http.StatusBadRequest)
			return
		}
		var req openai.ChatCompletionRequest
		body, _ := io.ReadAll(r.Body)
		if err := json.Unmarshal(body, &req); err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		f.mu.Lock()
		n := len(f.reqs)
		f.reqs = append(f.reqs, req)
		f.mu.Unlock()
		f.handle(n, &sse{w: w}, r)
	}))
	t.Cleanup(f.srv.Close)
	return f
}

func (f *fakeAI) requests() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return len(f.reqs)
}

// config returns a generator config that talks to the fake.
func (f *fakeAI) config() Config {
	return Config{BaseURL: f.srv.URL + "/v1", APIKey: "test-key", Model: "fake-model", RetryBackoff: time.Millisecond}
}

// sse writes server-sent events as OpenAI does.
type sse struct {
	w       http.ResponseWriter
	started bool
}

func (s *sse) event(v any) {
	if !s.started {
		s.w.Header().Set("Content-Type", "text/event-stream")
		s.w.WriteHeader(http.StatusOK)
		s.started = true
	}
	b, _ := json.Marshal(v)
	fmt.Fprintf(s.w, "data: %s\n\n", b)
	s.w.(http.Flusher).Flush()
}

// content sends one delta of the assistant's text.
func (s *sse) content(text string) {
	s.event(map[string]any{"id": "chatcmpl-1", "object": "chat.completion.chunk", "created": 1, "model": "fake-model",
		"choices": []any{map[string]any{"index": 0, "delta": map[string]any{"content": text}, "finish_reason": nil}}})
}

// toolCall sends one delta of a streamed tool call, as OpenAI does: the
// first delta of a call carries its id, type and name, the later ones
// only its index and the next piece of its arguments.
func (s *sse) toolCall(index int, id, name, args string) {
	call := map[string]any{"index": index, "function": map[string]any{"arguments": args}}
	if id != "" {
		call["id"], call["type"] = id, "function"
		call["function"] = map[string]any{"name": name, "arguments": args}
	}
	s.event(map[string]any{"id": "chatcmpl-1", "object": "chat.completion.chunk", "created": 1, "model": "fake-model",
		"choices": []any{map[string]any{"index": 0, "delta": map[string]any{"tool_calls": []any{call}}, "finish_reason": nil}}})
}

// finish sends the last choice chunk with its finish reason.
func (s *sse) finish(reason string) {
	s.event(map[string]any{"id": "chatcmpl-1", "object": "chat.completion.chunk", "created": 1, "model": "fake-model",
		"choices": []any{map[string]any{"index": 0, "delta": map[string]any{}, "finish_reason": reason}}})
}

// usage sends the final usage chunk (stream_options.include_usage).
func (s *sse) usage(in, out int) {
	s.event(map[string]any{"id": "chatcmpl-1", "object": "chat.completion.chunk", "created": 1, "model": "fake-model",
		"choices": []any{}, "usage": map[string]any{"prompt_tokens": in, "completion_tokens": out, "total_tokens": in + out}})
}

func (s *sse) done() {
	fmt.Fprint(s.w, "data: [DONE]\n\n")
	s.w.(http.Flusher).Flush()
}

// fail answers with an HTTP error in OpenAI's error format.
func (s *sse) fail(status int, msg string) {
	s.w.Header().Set("Content-Type", "application/json")
	s.w.WriteHeader(status)
	fmt.Fprintf(s.w, `{"error":{"message":%q,"type":"test_error","code":null}}`, msg)
}

// chunks splits text into pieces of about n bytes, cutting anywhere
// (mid-line, mid-JSON) except inside a UTF-8 sequence.
func chunks(text string, n int) []string {
	var out []string
	for len(text) > 0 {
		k := min(n, len(text))
		for k < len(text) && text[k]&0xc0 == 0x80 {
			k++
		}
		out = append(out, text[:k])
		text = text[k:]
	}
	return out
}

// opLines joins ops as the JSON lines a model would stream.
func opLines(ops ...string) string { return strings.Join(ops, "\n") + "\n" }
