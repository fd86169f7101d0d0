package generate

import (
	"errors"
	"net/http"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/fxamacker/cbor/v2"

	"github.com/casual-dev/casual/canvas"
	"github.com/casual-dev/casual/collab/client"
	"github.com/casual-dev/casual/crdt"
)

var buildOps = []string{
	`{"op":"create","id":"title","type":"heading","props":{"text":"Tasks","level":1}}`,
	`{"op":"create","id":"row","type":"stack","layout":{"direction":"row","gap":8}}`,
	`{"op":"create","id":"draft","type":"input","parent":"row","props":{"placeholder":"What needs doing?"}}`,
	`{"op":"create","id":"add","type":"button","parent":"row","props":{"label":"Add"}}`,
	`{"op":"setHandler","handler":"addTask","name":"addTask","lang":"js","source":"export default function ({ state }) { state.n = (state.n || 0) + 1; }"}`,
	`{"op":"bindEvent","id":"add","event":"click","handler":"addTask"}`,
}

func TestOpsReachAnotherPeerWhileTheStreamIsStillOpen(t *testing.T) {
	release := make(chan struct{})
	ended := make(chan struct{})
	text := opLines(buildOps...)
	first := strings.IndexByte(text, '\n') + 1
	fake := newFakeAI(t, func(_ int, w *sse, r *http.Request) {
		defer close(ended)
		for _, c := range chunks(text[:first], 7) {
			w.content(c)
		}
		select { // hold the stream open until the test saw the first op elsewhere
		case <-release:
		case <-r.Context().Done():
			return
		}
		for _, c := range chunks(text[first:], 5) {
			w.content(c)
		}
		w.usage(321, 123)
		w.done()
	})
	cfg := fake.config()
	cfg.PresenceHeartbeat = 10 * time.Millisecond
	env := startEnv(t, cfg, Options{})
	ctx := testCtx(t)
	run := env.start(ctx, Request{Prompt: "a task list"})
	if !run.NewApp || run.Status != StatusQueued && run.Status != StatusRunning {
		t.Fatalf("started run = %+v", run)
	}
	h := env.open(ctx, run.AppID)
	if err := h.WaitFor(ctx, hasComponent("title")); err != nil {
		t.Fatal(err)
	}
	select {
	case <-ended:
		t.Fatal("the stream ended before the peer saw its first op")
	default:
	}
	if r := env.applied(ctx, run.ID, 1); r.Status != StatusRunning || r.OpsApplied != 1 || r.Cursor != "title" {
		t.Fatalf("mid-stream run = status %s, applied %d, cursor %q", r.Status, r.OpsApplied, r.Cursor)
	}
	pres := waitPresence(t, h, func(p presenceMsg) bool { return p.Type == "snapshot" && p.State["cursor"] == "title" })
	if want := map[string]any{"kind": "ai", "name": "Casual AI", "runId": run.ID, "status": "running", "cursor": "title"}; !canvas.SameValue(pres.State, want) {
		t.Fatalf("presence state = %v, want %v", pres.State, want)
	}
	close(release)
	run = env.wait(ctx, run.ID)
	if run.Status != StatusDone || run.OpsApplied != len(buildOps) || run.OpsSkipped != 0 {
		t.Fatalf("run = %s, applied %d, skipped %v", run.Status, run.OpsApplied, run.Skipped)
	}
	if run.TokensIn != 321 || run.TokensOut != 123 || run.TokensEstimated || run.CostUSD != 0 || run.Model != "fake-model" {
		t.Fatalf("usage = in %d out %d estimated %v cost %v model %s", run.TokensIn, run.TokensOut, run.TokensEstimated, run.CostUSD, run.Model)
	}
	if err := h.WaitFor(ctx, func(d *crdt.Doc) bool { v, _ := d.Get("components", "add", "handlers", "click"); return v == "addTask" }); err != nil {
		t.Fatal(err)
	}
	h.Read(func(d *crdt.Doc) {
		if ps := canvas.Validate(d); len(ps) > 0 {
			t.Errorf("document invalid: %v", ps)
		}
		if v, _ := d.Get("components", "draft", "meta", "aiRun"); v != run.ID {
			t.Errorf("meta.aiRun = %v, want %s", v, run.ID)
		}
		tagged := 0
		changes, _ := d.Changes()
		for _, c := range changes {
			if c.Message == "ai-run:"+run.ID {
				tagged++
			}
		}
		if tagged != len(buildOps)+1 { // one per op, and the new app
			t.Errorf("%d changes tagged ai-run:%s, want %d", tagged, run.ID, len(buildOps)+1)
		}
	})
	waitPresence(t, h, func(p presenceMsg) bool { return p.Type == "snapshot" && p.State["status"] == "done" })
}

type presenceMsg struct {
	Type    string         `cbor:"type"`
	State   map[string]any `cbor:"state"`
	Channel string         `cbor:"channel"`
	Value   any            `cbor:"value"`
}

// waitPresence reads the handle's ephemeral messages until one is an AI
// presence message matching ok.
func waitPresence(t *testing.T, h *client.Handle, ok func(presenceMsg) bool) presenceMsg {
	t.Helper()
	dec, _ := cbor.DecOptions{DefaultMapType: reflect.TypeOf(map[string]any(nil))}.DecMode()
	timeout := time.After(20 * time.Second)
	for {
		select {
		case e := <-h.Ephemeral():
			var m struct {
				P presenceMsg `cbor:"__presence"`
			}
			if err := dec.Unmarshal(e.Data, &m); err != nil {
				t.Fatalf("presence is not CBOR: %v", err)
			}
			if ok(m.P) {
				return m.P
			}
		case <-timeout:
			t.Fatal("no matching presence message")
		}
	}
}

func TestCancelStopsTheStreamAndKeepsCompletedOps(t *testing.T) {
	streamCancelled := make(chan struct{})
	fake := newFakeAI(t, func(_ int, w *sse, r *http.Request) {
		w.content(opLines(buildOps[0], buildOps[1]))
		w.content(`{"op":"create","id":"half`) // an op cut off by the cancel
		<-r.Context().Done()
		close(streamCancelled)
	})
	env := startEnv(t, fake.config(), Options{})
	ctx := testCtx(t)
	run := env.start(ctx, Request{Prompt: "x"})
	h := env.open(ctx, run.AppID)
	if err := h.WaitFor(ctx, hasComponent("row")); err != nil {
		t.Fatal(err)
	}
	run, err := env.gen.Cancel(ctx, run.ID)
	if err != nil {
		t.Fatal(err)
	}
	if run.Status != StatusCancelled || run.Error == nil || run.Error.Code != "cancelled" || run.OpsApplied != 2 || run.OpsSkipped != 0 {
		t.Fatalf("cancelled run = %+v", run)
	}
	select {
	case <-streamCancelled:
	case <-ctx.Done():
		t.Fatal("the model request was not cancelled")
	}
	fresh := env.open(ctx, run.AppID)
	if err := fresh.WaitFor(ctx, hasComponent("row")); err != nil {
		t.Fatal(err)
	}
	if again, err := env.gen.Cancel(ctx, run.ID); err != nil || again.Status != StatusCancelled {
		t.Fatalf("cancel again = %v, %v", again.Status, err)
	}
}

func TestMalformedOutputIsSkippedAndReported(t *testing.T) {
	lines := []struct {
		text string
		code string // "" applied, "-" ignored silently
	}{
		{`{"op":"create","id":"box","type":"container"}`, ""},
		{"```json", "-"},
		{`{"op":"create","id":"broken","type":"text"`, SkipParse},
		{`{"op":"explode","id":"x"}`, SkipParse},
		{`{"op":"create","id":"w","type":"widget"}`, SkipInvalid},
		{`{"op":"create","id":"h1","type":"heading","props":{"level":99}}`, SkipInvalid},
		{`{"op":"create","id":"h2","type":"heading","props":{"colour":"red"}}`, SkipInvalid},
		{`{"op":"update","props":{"text":"no id"}}`, SkipParse},
		{`{"op":"update","id":"ghost","props":{"text":"x"}}`, SkipUnknownTarget},
		{`{"op":"create","id":"in-ghost","type":"text","parent":"ghost"}`, SkipUnknownTarget},
		{"", "-"},
		{`Sure! Here are the operations:`, SkipParse},
		{`{"op":"create","id":"ok","type":"text","parent":"box","props":{"text":"fine"}},`, ""},
		{`{"op":"create","id":"box","type":"container"}`, SkipInvalid},
		{"```", "-"},
	}
	var text strings.Builder
	for _, l := range lines {
		text.WriteString(l.text + "\n")
	}
	fake := newFakeAI(t, func(_ int, w *sse, _ *http.Request) {
		for _, c := range chunks(text.String(), 3) {
			w.content(c)
		}
		w.done() // no usage: tokens are estimated
	})
	env := startEnv(t, fake.config(), Options{})
	ctx := testCtx(t)
	run := env.wait(ctx, env.start(ctx, Request{Prompt: "x"}).ID)
	var wantSkips []string
	line := 0
	for _, l := range lines {
		if l.code == "-" {
			continue
		}
		line++
		if l.code != "" {
			wantSkips = append(wantSkips, l.code)
		}
	}
	var gotSkips []string
	for _, s := range run.Skipped {
		gotSkips = append(gotSkips, s.Code)
		if s.Reason == "" || s.Line < 1 || s.Line > line {
			t.Errorf("skip without reason or line: %+v", s)
		}
	}
	if run.Status != StatusDone || run.OpsApplied != 2 || !slices.Equal(gotSkips, wantSkips) {
		t.Fatalf("run %s applied %d, skips %v, want 2 and %v\n%+v", run.Status, run.OpsApplied, gotSkips, wantSkips, run.Skipped)
	}
	if !run.TokensEstimated || run.TokensOut == 0 || run.TokensIn == 0 {
		t.Fatalf("estimated tokens = in %d out %d (estimated %v)", run.TokensIn, run.TokensOut, run.TokensEstimated)
	}
	h := env.open(ctx, run.AppID)
	if err := h.WaitFor(ctx, hasComponent("ok")); err != nil {
		t.Fatal(err)
	}
	h.Read(func(d *crdt.Doc) {
		if ps := canvas.Validate(d); len(ps) > 0 {
			t.Fatalf("document invalid: %v", ps)
		}
	})
}

func TestRetriesBeforeTheStreamStarts(t *testing.T) {
	for _, c := range []struct {
		name     string
		failures []int
	}{
		{"429 then success", []int{http.StatusTooManyRequests}},
		{"500 then success", []int{http.StatusInternalServerError}},
		{"503 twice then success", []int{http.StatusServiceUnavailable, http.StatusServiceUnavailable}},
	} {
		t.Run(c.name, func(t *testing.T) {
			fake := newFakeAI(t, func(n int, w *sse, _ *http.Request) {
				if n < len(c.failures) {
					w.fail(c.failures[n], "try again")
					return
				}
				w.content(opLines(buildOps[0]))
				w.done()
			})
			env := startEnv(t, fake.config(), Options{})
			ctx := testCtx(t)
			run := env.wait(ctx, env.start(ctx, Request{Prompt: "x"}).ID)
			if run.Status != StatusDone || run.OpsApplied != 1 || run.Retries != len(c.failures) || fake.requests() != len(c.failures)+1 {
				t.Fatalf("run %s applied %d retries %d after %d requests (%+v)", run.Status, run.OpsApplied, run.Retries, fake.requests(), run.Error)
			}
		})
	}
}

func TestProviderFailuresAreTypedErrors(t *testing.T) {
	for _, c := range []struct {
		status   int
		want     error
		code     string
		requests int
	}{
		{http.StatusUnauthorized, ErrAuth, "auth", 1},
		{http.StatusForbidden, ErrAuth, "auth", 1},
		{http.StatusNotFound, ErrUnknownModel, "unknown_model", 1},
		{http.StatusBadRequest, ErrProvider, "provider", 1},
		{http.StatusTooManyRequests, ErrRateLimited, "rate_limited", 3}, // MaxRetries 2
	} {
		t.Run(http.StatusText(c.status), func(t *testing.T) {
			fake := newFakeAI(t, func(_ int, w *sse, _ *http.Request) { w.fail(c.status, "nope") })
			cfg := fake.config()
			cfg.MaxRetries = 2
			env := startEnv(t, cfg, Options{})
			ctx := testCtx(t)
			_, err := env.gen.Analyze(ctx, "a todo list")
			var pe *ProviderError
			if !errors.Is(err, c.want) || !errors.As(err, &pe) || pe.StatusCode != c.status || !strings.Contains(err.Error(), "nope") {
				t.Fatalf("Analyze error = %v, want %v with status %d", err, c.want, c.status)
			}
			run := env.wait(ctx, env.start(ctx, Request{Prompt: "x"}).ID)
			if run.Status != StatusFailed || run.Error == nil || run.Error.Code != c.code {
				t.Fatalf("run = %s %+v, want failed with %s", run.Status, run.Error, c.code)
			}
			if fake.requests() != 2*c.requests {
				t.Fatalf("%d requests, want %d", fake.requests(), 2*c.requests)
			}
		})
	}
}

func TestModelTimeoutFailsTheRunAndKeepsItsOps(t *testing.T) {
	fake := newFakeAI(t, func(_ int, w *sse, r *http.Request) {
		w.content(opLines(buildOps[0]))
		<-r.Context().Done() // a model that stalls
	})
	cfg := fake.config()
	cfg.Timeout = 300 * time.Millisecond
	env := startEnv(t, cfg, Options{})
	ctx := testCtx(t)
	run := env.wait(ctx, env.start(ctx, Request{Prompt: "x"}).ID)
	if run.Status != StatusFailed || run.Error == nil || run.Error.Code != "timeout" || run.OpsApplied != 1 {
		t.Fatalf("run = %s applied %d error %+v", run.Status, run.OpsApplied, run.Error)
	}
	if err := env.open(ctx, run.AppID).WaitFor(ctx, hasComponent("title")); err != nil {
		t.Fatal(err)
	}
}

func TestMaxOpsStopsTheStream(t *testing.T) {
	fake := newFakeAI(t, func(_ int, w *sse, _ *http.Request) {
		w.content(opLines(buildOps...))
		w.done()
	})
	cfg := fake.config()
	cfg.MaxOps = 2
	env := startEnv(t, cfg, Options{})
	ctx := testCtx(t)
	run := env.wait(ctx, env.start(ctx, Request{Prompt: "x"}).ID)
	if run.Status != StatusDone || run.OpsApplied != 2 || len(run.Skipped) != 1 || run.Skipped[0].Code != SkipLimit {
		t.Fatalf("run = %s applied %d skipped %+v", run.Status, run.OpsApplied, run.Skipped)
	}
}

func TestPromptCarriesDocumentRegistryAndSelection(t *testing.T) {
	fake := newFakeAI(t, func(_ int, w *sse, _ *http.Request) { w.done() })
	env := startEnv(t, fake.config(), Options{})
	ctx := testCtx(t)
	app := env.newApp(ctx, "counter")
	env.wait(ctx, env.start(ctx, Request{Kind: KindComponents, Prompt: "make the buttons bigger",
		AppID: string(app.ID()), Selection: []string{"buttons"}}).ID)
	fake.mu.Lock()
	req := fake.reqs[0]
	fake.mu.Unlock()
	if !req.Stream || req.StreamOptions == nil || !req.StreamOptions.IncludeUsage || req.Model != "fake-model" || len(req.Messages) != 2 {
		t.Fatalf("request = %+v", req)
	}
	sys, user := req.Messages[0].Content, req.Messages[1].Content
	for _, want := range []string{
		`{"op":"create"`, "button: label*:string=Button", "layout keys:", // grammar and registry
		`Page home "Counter"`, `increment button {"label":"+"}`, // the document
		`"id":"buttons","type":"stack"`, // the selection, in full
	} {
		if !strings.Contains(sys, want) {
			t.Errorf("system prompt lacks %q", want)
		}
	}
	if !strings.Contains(user, "make the buttons bigger") || !strings.Contains(user, "selected components") {
		t.Errorf("user prompt = %q", user)
	}
}

func TestCloseStopsRunsAndDeliversTheirCompletedOps(t *testing.T) {
	fake := newFakeAI(t, func(_ int, w *sse, r *http.Request) {
		w.content(opLines(buildOps[0]))
		<-r.Context().Done()
	})
	env := startEnv(t, fake.config(), Options{})
	ctx := testCtx(t)
	run := env.start(ctx, Request{Prompt: "x"})
	if err := aiReplica(t, env, run.ID).WaitFor(ctx, hasComponent("title")); err != nil {
		t.Fatal(err)
	}
	if err := env.gen.Close(ctx); err != nil {
		t.Fatal(err)
	}
	if run, _ = env.gen.Get(ctx, run.ID); run.Status != StatusCancelled || run.Error.Code != "closed" || run.OpsApplied != 1 {
		t.Fatalf("run after Close = %s %+v applied %d", run.Status, run.Error, run.OpsApplied)
	}
	if err := env.open(ctx, run.AppID).WaitFor(ctx, hasComponent("title")); err != nil {
		t.Fatal(err)
	}
	if _, err := env.gen.Start(ctx, Request{Prompt: "x"}); !errors.Is(err, ErrClosed) {
		t.Fatalf("Start after Close = %v, want ErrClosed", err)
	}
}

func TestRunsBeyondMaxRunsWaitQueued(t *testing.T) {
	fake := newFakeAI(t, func(_ int, w *sse, r *http.Request) {
		w.content(opLines(buildOps[0]))
		<-r.Context().Done()
	})
	cfg := fake.config()
	cfg.MaxRuns = 1
	env := startEnv(t, cfg, Options{})
	ctx := testCtx(t)
	first := env.start(ctx, Request{Prompt: "x"})
	if err := aiReplica(t, env, first.ID).WaitFor(ctx, hasComponent("title")); err != nil {
		t.Fatal(err)
	}
	second := env.start(ctx, Request{Prompt: "y"})
	if r, _ := env.gen.Get(ctx, second.ID); r.Status != StatusQueued {
		t.Fatalf("second run is %s while the first generates", r.Status)
	}
	second, err := env.gen.Cancel(ctx, second.ID)
	if err != nil || second.Status != StatusCancelled || !second.StartedAt.IsZero() {
		t.Fatalf("cancelled queued run = %s started %v, %v", second.Status, second.StartedAt, err)
	}
	env.applied(ctx, first.ID, 1)
	if r, _ := env.gen.Cancel(ctx, first.ID); r.Status != StatusCancelled || r.OpsApplied != 1 {
		t.Fatalf("first run = %s applied %d", r.Status, r.OpsApplied)
	}
}
