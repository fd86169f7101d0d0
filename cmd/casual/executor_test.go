package main

import (
	"encoding/json"
	"fmt"
	"net/http"
	"testing"
	"time"

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
	resp, err := http.Post("http://"+addr+"/app/new?template=counter&name=c", "", nil)
	if err != nil {
		t.Fatal(err)
	}
	var app struct{ ID string }
	json.NewDecoder(resp.Body).Decode(&app)
	resp.Body.Close()
	id, err := crdt.ParseDocID(app.ID)
	if err != nil {
		t.Fatalf("new app: %v (%d)", err, resp.StatusCode)
	}

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
