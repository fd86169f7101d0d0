package generate

import (
	"context"
	"errors"
	"net/http"
	"slices"
	"testing"

	"github.com/casual-dev/casual/canvas"
	"github.com/casual-dev/casual/collab/client"
	"github.com/casual-dev/casual/crdt"
)

// streamOf is a fake model that streams text in small chunks.
func streamOf(text string) func(int, *sse, *http.Request) {
	return func(_ int, w *sse, _ *http.Request) {
		for _, c := range chunks(text, 11) {
			w.content(c)
		}
		w.done()
	}
}

var suggestionOps = opLines(
	`{"op":"create","id":"note","type":"text","props":{"text":"Click the buttons"}}`,
	`{"op":"update","id":"title","props":{"text":"Clicker"}}`,
	`{"op":"delete","id":"reset"}`,
)

func TestSuggestionStaysOffTheRoomUntilAccepted(t *testing.T) {
	fake := newFakeAI(t, streamOf(suggestionOps))
	env := startEnv(t, fake.config(), Options{})
	ctx := testCtx(t)
	app := env.newApp(ctx, "counter")
	run := env.wait(ctx, env.start(ctx, Request{Prompt: "x", AppID: string(app.ID()), Mode: ModeSuggest}).ID)
	if run.Status != StatusDone || run.OpsApplied != 3 || run.Suggestion == nil || run.Suggestion.State != SuggestionPending {
		t.Fatalf("run = %s applied %d suggestion %+v", run.Status, run.OpsApplied, run.Suggestion)
	}
	want := Diff{
		Added:   []DiffEntry{{ID: "note", Type: "text", Page: "home"}},
		Removed: []DiffEntry{{ID: "reset", Type: "button", Page: "home"}},
		Changed: []DiffEntry{{ID: "title", Type: "heading", Page: "home", Fields: []string{"props.text"}}},
	}
	if !sameDiff(run.Suggestion.Diff, want) {
		t.Fatalf("diff = %+v, want %+v", run.Suggestion.Diff, want)
	}
	fresh := env.open(ctx, string(app.ID()))
	if v := prop(fresh, "title", "text"); v != "Counter" || has(fresh, "note") || !has(fresh, "reset") {
		t.Fatalf("the pending suggestion reached the room: title %v, note %v, reset %v", v, has(fresh, "note"), has(fresh, "reset"))
	}

	run, err := env.gen.Accept(ctx, run.ID)
	if err != nil || run.Suggestion.State != SuggestionAccepted {
		t.Fatalf("accept = %+v, %v", run.Suggestion, err)
	}
	accepted := func(d *crdt.Doc) bool {
		t, _ := d.Get("components", "title", "props", "text")
		r, _ := d.Get("components", "reset")
		n, _ := d.Get("components", "note")
		return t == "Clicker" && r == nil && n != nil
	}
	if err := app.WaitFor(ctx, accepted); err != nil {
		t.Fatal(err)
	}
	for _, act := range []func(context.Context, string) (Run, error){env.gen.Accept, env.gen.Reject} {
		if _, err := act(ctx, run.ID); !errors.Is(err, ErrConflict) {
			t.Fatalf("second accept/reject = %v, want ErrConflict", err)
		}
	}

	run, err = env.gen.Revert(ctx, run.ID)
	if err != nil || !run.Reverted {
		t.Fatalf("revert accepted suggestion = %v, %v", run.Reverted, err)
	}
	reverted := func(d *crdt.Doc) bool {
		t, _ := d.Get("components", "title", "props", "text")
		r, _ := d.Get("components", "reset")
		n, _ := d.Get("components", "note")
		return t == "Counter" && r != nil && n == nil
	}
	if err := app.WaitFor(ctx, reverted); err != nil {
		t.Fatal(err)
	}
	app.Read(func(d *crdt.Doc) {
		if ps := canvas.Validate(d); len(ps) > 0 {
			t.Fatalf("document invalid after revert: %v", ps)
		}
	})
}

func TestRejectedSuggestionNeverReachesTheRoom(t *testing.T) {
	fake := newFakeAI(t, streamOf(suggestionOps))
	env := startEnv(t, fake.config(), Options{})
	ctx := testCtx(t)
	app := env.newApp(ctx, "counter")
	run := env.wait(ctx, env.start(ctx, Request{Prompt: "x", AppID: string(app.ID()), Mode: ModeSuggest}).ID)
	run, err := env.gen.Reject(ctx, run.ID)
	if err != nil || run.Suggestion.State != SuggestionRejected {
		t.Fatalf("reject = %+v, %v", run.Suggestion, err)
	}
	for name, act := range map[string]func(context.Context, string) (Run, error){
		"accept": env.gen.Accept, "reject": env.gen.Reject, "revert": env.gen.Revert,
	} {
		if _, err := act(ctx, run.ID); !errors.Is(err, ErrConflict) {
			t.Errorf("%s after reject = %v, want ErrConflict", name, err)
		}
	}
	fresh := env.open(ctx, string(app.ID()))
	if has(fresh, "note") || !has(fresh, "reset") || prop(fresh, "title", "text") != "Counter" {
		t.Fatal("a rejected suggestion changed the document")
	}
	live := env.wait(ctx, env.start(ctx, Request{Prompt: "x", AppID: string(app.ID())}).ID)
	if _, err := env.gen.Accept(ctx, live.ID); !errors.Is(err, ErrConflict) {
		t.Fatalf("accept of a live run = %v, want ErrConflict", err)
	}
}

func TestHumanEditsDuringARunAreKept(t *testing.T) {
	release := make(chan struct{})
	before := opLines(
		`{"op":"create","id":"btn","type":"button","props":{"label":"AI label"}}`,
		`{"op":"create","id":"gone","type":"text","props":{"text":"temporary"}}`,
	)
	after := opLines(
		`{"op":"update","id":"btn","props":{"label":"AI second","size":"lg"}}`,
		`{"op":"update","id":"gone","props":{"text":"too late"}}`,
		`{"op":"create","id":"gone","type":"text","props":{"text":"back again"}}`,
		`{"op":"delete","id":"mine"}`,
		`{"op":"update","id":"title","props":{"text":"AI title","level":2}}`,
	)
	fake := newFakeAI(t, func(_ int, w *sse, r *http.Request) {
		w.content(before)
		select {
		case <-release:
		case <-r.Context().Done():
			return
		}
		for _, c := range chunks(after, 9) {
			w.content(c)
		}
		w.done()
	})
	env := startEnv(t, fake.config(), Options{})
	ctx := testCtx(t)
	app := env.newApp(ctx, "counter")
	run := env.start(ctx, Request{Prompt: "x", AppID: string(app.ID())})
	if err := app.WaitFor(ctx, hasComponent("gone")); err != nil {
		t.Fatal(err)
	}
	human := canvas.Actor{ID: "human"}
	err := app.Change(ctx, "human", func(d *crdt.Doc) error {
		return errors.Join(
			canvas.UpdateProps(d, human, "btn", map[string]any{"label": "Human label"}),
			canvas.UpdateProps(d, human, "title", map[string]any{"text": "Human title"}),
			canvas.DeleteComponent(d, human, "gone"),
			func() error {
				_, err := canvas.AddComponent(d, human, canvas.ComponentSpec{ID: "mine", Type: "text", Props: map[string]any{"text": "mine"}})
				return err
			}(),
		)
	})
	if err != nil {
		t.Fatal(err)
	}
	// The guard works on what the AI's replica has seen: let the human's
	// change reach it before the model goes on.
	if err := aiReplica(t, env, run.ID).WaitFor(ctx, hasComponent("mine")); err != nil {
		t.Fatal(err)
	}
	close(release)
	run = env.wait(ctx, run.ID)
	var codes []string
	for _, s := range run.Skipped {
		codes = append(codes, s.Code+":"+s.Target)
	}
	wantCodes := []string{SkipKeptHumanEdit + ":btn", SkipDeletedMeanwhile + ":gone", SkipDeletedMeanwhile + ":gone",
		SkipKeptHumanEdit + ":mine", SkipKeptHumanEdit + ":title"}
	if run.Status != StatusDone || run.OpsApplied != 4 || !slices.Equal(codes, wantCodes) {
		t.Fatalf("run %s applied %d, skipped %v, want 4 and %v", run.Status, run.OpsApplied, codes, wantCodes)
	}
	done := func(d *crdt.Doc) bool {
		v, _ := d.Get("components", "title", "props", "level")
		return canvas.SameValue(v, 2)
	}
	if err := app.WaitFor(ctx, done); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		id, key string
		want    any
	}{{"btn", "label", "Human label"}, {"btn", "size", "lg"}, {"title", "text", "Human title"}, {"mine", "text", "mine"}} {
		if got := prop(app, c.id, c.key); got != c.want {
			t.Errorf("%s.%s = %v, want %v", c.id, c.key, got, c.want)
		}
	}
	if has(app, "gone") {
		t.Error("the AI brought back a component the human deleted")
	}
}

func TestRevertUndoesTheRunButKeepsLaterEditsOfOthers(t *testing.T) {
	fake := newFakeAI(t, streamOf(opLines(
		`{"op":"create","id":"note","type":"text","props":{"text":"AI note"}}`,
		`{"op":"update","id":"title","props":{"text":"AI title"}}`,
		`{"op":"update","id":"value","props":{"label":"AI count"}}`,
	)))
	env := startEnv(t, fake.config(), Options{})
	ctx := testCtx(t)
	app := env.newApp(ctx, "counter")
	run := env.wait(ctx, env.start(ctx, Request{Prompt: "x", AppID: string(app.ID())}).ID)
	if err := app.WaitFor(ctx, func(d *crdt.Doc) bool { v, _ := d.Get("components", "value", "props", "label"); return v == "AI count" }); err != nil {
		t.Fatal(err)
	}
	human := canvas.Actor{ID: "human"}
	err := app.Change(ctx, "human", func(d *crdt.Doc) error {
		if err := canvas.UpdateProps(d, human, "value", map[string]any{"label": "Human count"}); err != nil {
			return err
		}
		_, err := canvas.AddComponent(d, human, canvas.ComponentSpec{ID: "mine", Type: "text", Props: map[string]any{"text": "mine"}})
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	if err := app.WaitAcked(ctx); err != nil {
		t.Fatal(err)
	}
	run, err = env.gen.Revert(ctx, run.ID)
	if err != nil || !run.Reverted {
		t.Fatalf("revert = %v, %v", run.Reverted, err)
	}
	if err := app.WaitFor(ctx, func(d *crdt.Doc) bool { v, _ := d.Get("components", "note"); return v == nil }); err != nil {
		t.Fatal(err)
	}
	if got := prop(app, "title", "text"); got != "Counter" {
		t.Errorf("title after revert = %v, want the original", got)
	}
	if got := prop(app, "value", "label"); got != "Human count" {
		t.Errorf("value label after revert = %v, want the human's later edit", got)
	}
	if !has(app, "mine") {
		t.Error("revert removed a human's component")
	}
	if _, err := env.gen.Revert(ctx, run.ID); !errors.Is(err, ErrConflict) {
		t.Fatalf("second revert = %v, want ErrConflict", err)
	}
}

func TestRevertOfARunningRunCancelsItFirst(t *testing.T) {
	fake := newFakeAI(t, func(_ int, w *sse, r *http.Request) {
		w.content(opLines(buildOps[0]))
		<-r.Context().Done()
	})
	env := startEnv(t, fake.config(), Options{})
	ctx := testCtx(t)
	run := env.start(ctx, Request{Prompt: "x"})
	h := env.open(ctx, run.AppID)
	if err := h.WaitFor(ctx, hasComponent("title")); err != nil {
		t.Fatal(err)
	}
	run, err := env.gen.Revert(ctx, run.ID)
	if err != nil || !run.Reverted || run.Status != StatusCancelled {
		t.Fatalf("revert = %s reverted %v, %v", run.Status, run.Reverted, err)
	}
	if err := h.WaitFor(ctx, func(d *crdt.Doc) bool { v, _ := d.Get("components", "title"); return v == nil }); err != nil {
		t.Fatal(err)
	}
}

func aiReplica(t *testing.T, env *testEnv, id string) *client.Handle {
	t.Helper()
	rs := env.gen.lookup(id)
	if rs == nil {
		t.Fatalf("run %s is not kept", id)
	}
	return rs.replica
}

func has(h *client.Handle, id string) bool {
	var ok bool
	h.Read(func(d *crdt.Doc) { ok = hasComponent(id)(d) })
	return ok
}

func sameDiff(a, b Diff) bool {
	eq := func(x, y []DiffEntry) bool {
		return slices.EqualFunc(x, y, func(p, q DiffEntry) bool {
			return p.ID == q.ID && p.Type == q.Type && p.Page == q.Page && slices.Equal(p.Fields, q.Fields)
		})
	}
	return eq(a.Added, b.Added) && eq(a.Removed, b.Removed) && eq(a.Changed, b.Changed)
}
