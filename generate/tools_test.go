package generate

import (
	"encoding/json"
	"maps"
	"net/http"
	"slices"
	"strings"
	"testing"

	openai "github.com/sashabaranov/go-openai"

	"github.com/casual-dev/casual/canvas"
	"github.com/casual-dev/casual/crdt"
)

// asToolCall turns an op line into the function name and arguments a
// model would send for it.
func asToolCall(t *testing.T, line string) (name, args string) {
	t.Helper()
	var fields map[string]json.RawMessage
	if err := json.Unmarshal([]byte(line), &fields); err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(fields["op"], &name); err != nil {
		t.Fatal(err)
	}
	delete(fields, "op")
	b, _ := json.Marshal(fields)
	return name, string(b)
}

// interleave sends the argument pieces of several calls round-robin, as
// a model streaming parallel tool calls may; each call's first delta
// carries its id and name.
func interleave(w *sse, calls map[int][]string, names map[int]string, started map[int]bool) {
	for i := 0; ; i++ {
		sent := false
		for _, idx := range slices.Sorted(maps.Keys(calls)) {
			pieces := calls[idx]
			if i >= len(pieces) {
				continue
			}
			sent = true
			if !started[idx] {
				started[idx] = true
				w.toolCall(idx, "call_"+names[idx], names[idx], pieces[i])
				continue
			}
			w.toolCall(idx, "", "", pieces[i])
		}
		if !sent {
			return
		}
	}
}

func TestToolCallOpsReachAnotherPeerWhileTheStreamIsStillOpen(t *testing.T) {
	names := map[int]string{}
	args := map[int]string{}
	for i, op := range buildOps {
		names[i], args[i] = asToolCall(t, op)
	}
	half := len(args[1]) / 2
	release := make(chan struct{})
	ended := make(chan struct{})
	fake := newFakeAI(t, func(_ int, w *sse, r *http.Request) {
		defer close(ended)
		started := map[int]bool{}
		// Call 0 completes; call 1, interleaved with it, is only half sent.
		interleave(w, map[int][]string{0: chunks(args[0], 3), 1: chunks(args[1][:half], 3)}, names, started)
		select {
		case <-release:
		case <-r.Context().Done():
			return
		}
		interleave(w, map[int][]string{1: chunks(args[1][half:], 4)}, names, started)
		interleave(w, map[int][]string{2: chunks(args[2], 5), 3: chunks(args[3], 2)}, names, started)
		// The handler before the event bound to it: calls apply in the
		// order they complete.
		interleave(w, map[int][]string{4: chunks(args[4], 7)}, names, started)
		interleave(w, map[int][]string{5: chunks(args[5], 3)}, names, started)
		w.finish("tool_calls")
		w.usage(500, 200)
		w.done()
	})
	env := startEnv(t, fake.config(), Options{})
	ctx := testCtx(t)
	run := env.start(ctx, Request{Prompt: "a task list"})
	h := env.open(ctx, run.AppID)
	if err := h.WaitFor(ctx, hasComponent("title")); err != nil {
		t.Fatal(err)
	}
	select {
	case <-ended:
		t.Fatal("the stream ended before the peer saw the first tool call's op")
	default:
	}
	if has(h, "row") {
		t.Fatal("a half-sent tool call was applied")
	}
	if r := env.applied(ctx, run.ID, 1); r.Status != StatusRunning || r.OpsApplied != 1 || r.Cursor != "title" {
		t.Fatalf("mid-stream run = status %s, applied %d, cursor %q", r.Status, r.OpsApplied, r.Cursor)
	}
	close(release)
	run = env.wait(ctx, run.ID)
	if run.Status != StatusDone || run.OpsApplied != len(buildOps) || run.OpsSkipped != 0 {
		t.Fatalf("run = %s, applied %d, skipped %+v", run.Status, run.OpsApplied, run.Skipped)
	}
	var targets []string
	for _, a := range run.Applied {
		targets = append(targets, a.Target)
	}
	if want := []string{"title", "row", "draft", "add", "addTask", "add"}; !slices.Equal(targets, want) {
		t.Fatalf("applied %v, want %v", targets, want)
	}
	if err := h.WaitFor(ctx, func(d *crdt.Doc) bool { v, _ := d.Get("components", "add", "handlers", "click"); return v == "addTask" }); err != nil {
		t.Fatal(err)
	}
	h.Read(func(d *crdt.Doc) {
		if ps := canvas.Validate(d); len(ps) > 0 {
			t.Errorf("document invalid: %v", ps)
		}
		if tree, err := canvas.Materialize(d); err != nil || tree.Node("draft") == nil || tree.Node("draft").Parent != "row" {
			t.Errorf("draft is not in row: %v", err)
		}
	})

	fake.mu.Lock()
	req := fake.reqs[0]
	fake.mu.Unlock()
	if req.ToolChoice != "auto" || !strings.Contains(req.Messages[0].Content, "call the operation functions") {
		t.Fatalf("tool choice %v; system prompt mentions tools: %v", req.ToolChoice, strings.Contains(req.Messages[0].Content, "call the operation"))
	}
	var got []string
	for _, tool := range req.Tools {
		got = append(got, tool.Function.Name)
		if tool.Function.Name != "create" {
			continue
		}
		params, _ := json.Marshal(tool.Function.Parameters)
		var schema struct {
			Properties map[string]struct{ Type string }
			Required   []string
		}
		json.Unmarshal(params, &schema)
		if !slices.Equal(schema.Required, []string{"type"}) || schema.Properties["props"].Type != "object" ||
			schema.Properties["index"].Type != "integer" || schema.Properties["parent"].Type != "string" || len(schema.Properties) != 10 {
			t.Errorf("create's parameters = %s", params)
		}
	}
	if !slices.Equal(got, canvas.OpNames()) {
		t.Fatalf("tools = %v, want every op %v", got, canvas.OpNames())
	}
}

func TestMalformedToolCallsAreSkippedAndReported(t *testing.T) {
	type call struct {
		name, args string
		code       string // "" applied
	}
	calls := []call{
		{"create", `{"id":"box","type":"container"}`, ""},
		{"explode", `{"id":"x"}`, SkipParse},
		{"create", `{"id":"w","type":"widget"}`, SkipInvalid},
		{"update", `{"id":"ghost","props":{"text":"x"}}`, SkipUnknownTarget},
		{"create", `{"id": oops, "type": "text"}`, SkipParse},
		{"create", `{"op":"delete","id":"box"}`, SkipParse},
		{"create", `{"id":"a1","type":"text","parent":"box","props":{"text":"}{"}}{"id":"a2","type":"text","parent":"box"}`, ""}, // two objects: two ops
		{"create", `"just text"`, SkipParse},                                                                                     // reported when the stream ends
		{"create", `{"id":"cut","type":"te`, SkipParse},                                                                          // cut off by the stream's end
	}
	line := `{"op":"create","id":"note","type":"text","parent":"box","props":{"text":"from a line"}}` + "\n"
	fake := newFakeAI(t, func(_ int, w *sse, _ *http.Request) {
		started := map[int]bool{}
		names := map[int]string{}
		for i, c := range calls {
			names[i] = c.name
		}
		interleave(w, map[int][]string{0: chunks(calls[0].args, 4)}, names, started)
		for _, c := range chunks(line, 5) { // JSON lines work in the same stream
			w.content(c)
		}
		for i, c := range calls[1:] { // one after the other, so skips are reported in order
			interleave(w, map[int][]string{i + 1: chunks(c.args, 4)}, names, started)
		}
		w.finish("tool_calls")
		w.done()
	})
	env := startEnv(t, fake.config(), Options{})
	ctx := testCtx(t)
	run := env.wait(ctx, env.start(ctx, Request{Prompt: "x"}).ID)

	var want []string
	for _, c := range calls {
		if c.code != "" {
			want = append(want, c.code)
		}
	}
	var got []string
	for _, s := range run.Skipped {
		got = append(got, s.Code)
		if !strings.HasPrefix(s.Reason, "tool call") && s.Code == SkipParse || s.Reason == "" || s.Line < 1 || s.Op == "" {
			t.Errorf("skip without tool call reason, line or op: %+v", s)
		}
	}
	if run.Status != StatusDone || run.OpsApplied != 4 || !slices.Equal(got, want) {
		t.Fatalf("run %s applied %d, skips %v, want 4 and %v\n%+v", run.Status, run.OpsApplied, got, want, run.Skipped)
	}
	h := env.open(ctx, run.AppID)
	if err := h.WaitFor(ctx, func(d *crdt.Doc) bool { return hasComponent("a2")(d) && hasComponent("note")(d) }); err != nil {
		t.Fatal(err)
	}
	h.Read(func(d *crdt.Doc) {
		if ps := canvas.Validate(d); len(ps) > 0 {
			t.Fatalf("document invalid: %v", ps)
		}
		if v, _ := d.Get("components", "a1", "props", "text"); v != "}{" {
			t.Errorf("a1 text = %v: braces inside strings split the call", v)
		}
	})
}

func TestToolsCanBeTurnedOff(t *testing.T) {
	fake := newFakeAI(t, func(_ int, w *sse, _ *http.Request) {
		w.content(opLines(buildOps[0]))
		w.done()
	})
	cfg := fake.config()
	cfg.NoTools = true
	env := startEnv(t, cfg, Options{})
	ctx := testCtx(t)
	if run := env.wait(ctx, env.start(ctx, Request{Prompt: "x"}).ID); run.Status != StatusDone || run.OpsApplied != 1 {
		t.Fatalf("run %s applied %d", run.Status, run.OpsApplied)
	}
	fake.mu.Lock()
	req := fake.reqs[0]
	fake.mu.Unlock()
	if len(req.Tools) != 0 || req.ToolChoice != nil || strings.Contains(req.Messages[0].Content, "operation functions") {
		t.Fatalf("tools offered with NoTools: %d tools, choice %v", len(req.Tools), req.ToolChoice)
	}
}

func TestObjectScannerFindsTheEndAcrossPieces(t *testing.T) {
	text := `  {"a":"}\"{","b":[{"c":1}],"d":{}}rest`
	for _, size := range []int{1, 2, 3, 7, len(text)} {
		var s objectScanner
		consumed := 0
		closed := false
		for _, p := range chunks(text, size) {
			n, c := s.feed(p)
			consumed += n
			if c {
				closed = true
				break
			}
		}
		if !closed || text[:consumed] != `  {"a":"}\"{","b":[{"c":1}],"d":{}}` {
			t.Errorf("pieces of %d: closed %v after %q", size, closed, text[:consumed])
		}
	}
}

// assemble feeds args to a tool call assembler in pieces of n bytes, as
// one call (index 0), and returns what it emitted, the stream's end
// included.
func assemble(t *testing.T, args string, n int) []toolCall {
	var got []toolCall
	tc := newToolCalls(func(c toolCall) error { got = append(got, c); return nil })
	zero := 0
	for i, p := range chunks(args, n) {
		d := openai.ToolCall{Index: &zero, Function: openai.FunctionCall{Arguments: p}}
		if i == 0 {
			d.ID, d.Function.Name = "call_1", "create"
		}
		if err := tc.feed([]openai.ToolCall{d}); err != nil {
			t.Fatal(err)
		}
	}
	if err := tc.flush(); err != nil {
		t.Fatal(err)
	}
	return got
}

// FuzzToolCallArguments checks that any cut of a tool call's arguments
// gives the same operations as the whole text, and that none crashes the
// op parser.
func FuzzToolCallArguments(f *testing.F) {
	f.Add(`{"id":"a","type":"text","props":{"text":"}{\""}}{"id":"b","type":"text"}`, 3)
	f.Add(`  {"id":"cut","type":"te`, 1)
	f.Add(`"not an object"`, 2)
	f.Fuzz(func(t *testing.T, args string, n int) {
		if n <= 0 || len(args) > 1<<16 {
			return
		}
		whole := assemble(t, args, len(args)+1)
		if got := assemble(t, args, n); !slices.Equal(got, whole) {
			t.Fatalf("pieces of %d gave %+v, whole gave %+v", n, got, whole)
		}
		for _, c := range whole {
			if c.name != "create" {
				t.Fatalf("call named %q", c.name)
			}
			if !c.incomplete {
				canvas.ParseOp([]byte(c.args)) // must not panic
			}
		}
	})
}
