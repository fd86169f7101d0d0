package canvas

import (
	"reflect"
	"testing"

	"github.com/casual-dev/casual/crdt"
)

func components(t *testing.T, d *crdt.Doc) map[string]any {
	t.Helper()
	return get(t, d, "components").(map[string]any)
}

func undoOnce(t *testing.T, u *Undo, d *crdt.Doc) {
	t.Helper()
	if ok, err := u.Undo(d); !ok || err != nil {
		t.Fatalf("Undo = %v, %v", ok, err)
	}
	commit(t, d)
}

func redoOnce(t *testing.T, u *Undo, d *crdt.Doc) {
	t.Helper()
	if ok, err := u.Redo(d); !ok || err != nil {
		t.Fatalf("Redo = %v, %v", ok, err)
	}
	commit(t, d)
}

func TestUndoRedoEveryOperation(t *testing.T) {
	d := newTestApp(t, "landing")
	u := NewUndo()
	a := Actor{ID: "ada", Undo: u, Rand: seeded(5)}
	ops := []func() error{
		func() error {
			_, err := AddComponent(d, a, ComponentSpec{ID: "new", Type: "text", Parent: "hero"})
			return err
		},
		func() error { return UpdateProps(d, a, "headline", map[string]any{"text": "Changed", "level": 2}) },
		func() error { return UpdateStyle(d, a, "tagline", map[string]any{"color": "#000"}) },
		func() error { return MoveComponent(d, a, MoveSpec{ID: "f1", Page: "about"}) },
		func() error { return DeleteComponent(d, a, "features") },
		func() error { return SetBinding(d, a, "footer", "text", "state.year") },
		func() error {
			_, err := SetHandler(d, a, HandlerSpec{ID: "h", Name: "h", Lang: "js", Source: "1"})
			return err
		},
		func() error { _, err := AddPage(d, a, PageSpec{ID: "p", Name: "P"}); return err },
		func() error { return DeletePage(d, a, "about") },
		func() error { return SetThemeTokens(d, a, map[string]any{"primary": "#000000"}) },
	}
	var states []any
	for _, op := range ops {
		s, _ := d.Get()
		states = append(states, s)
		must(t, op())
		commit(t, d)
	}
	final, _ := d.Get()
	for i := len(ops) - 1; i >= 0; i-- {
		undoOnce(t, u, d)
		if s, _ := d.Get(); !sameValue(s, states[i]) {
			t.Fatalf("undo of op %d did not restore the state before it", i)
		}
	}
	if ok, _ := u.Undo(d); ok {
		t.Fatal("undo past the start")
	}
	for range ops {
		redoOnce(t, u, d)
	}
	if s, _ := d.Get(); !sameValue(s, final) {
		t.Fatal("redo of everything did not restore the final state")
	}
	assertValid(t, d)
}

func TestUndoGroupRevertsAsOne(t *testing.T) {
	d := newTestApp(t, "counter")
	u := NewUndo()
	a := Actor{Undo: u}
	before := components(t, d)
	u.Begin("drag")
	for _, i := range []int{0, 2, 1} {
		must(t, MoveComponent(d, a, MoveSpec{ID: "reset", Parent: "buttons", Position: AtIndex(i)}))
	}
	u.Begin("nested")
	must(t, UpdateProps(d, a, "reset", map[string]any{"label": "Zero"}))
	if _, err := u.Undo(d); err == nil {
		t.Fatal("undo inside an open group")
	}
	u.End()
	u.End()
	commit(t, d)
	if names := u.Names(); len(names) != 1 || names[0] != "drag" {
		t.Fatalf("groups = %v", names)
	}
	undoOnce(t, u, d)
	if !sameValue(components(t, d), before) {
		t.Fatal("group not undone as one")
	}
}

func TestUndoKeepsOthersChanges(t *testing.T) {
	a := newTestApp(t, "counter")
	b, err := a.Fork()
	must(t, err)
	u := NewUndo()
	ua := Actor{Undo: u}
	must(t, UpdateProps(a, ua, "increment", map[string]any{"label": "A's"}))
	must(t, UpdateProps(a, ua, "decrement", map[string]any{"label": "A's too"}))
	_, err = AddComponent(a, ua, ComponentSpec{ID: "made-by-a", Type: "text", Page: "home"})
	must(t, err)
	commit(t, a)
	must(t, b.Merge(a))
	// b overwrites one of a's props and edits inside a's new component.
	must(t, UpdateProps(b, Actor{}, "increment", map[string]any{"label": "B's"}))
	must(t, UpdateProps(b, Actor{}, "made-by-a", map[string]any{"text": "B edited"}))
	commit(t, b)
	must(t, a.Merge(b))

	undoOnce(t, u, a) // the add: removed although b edited inside it
	if get(t, a, "components", "made-by-a") != nil {
		t.Fatal("undo did not remove the component this actor created")
	}
	undoOnce(t, u, a) // decrement's label: still a's, reverted
	undoOnce(t, u, a) // increment's label: b's now, kept
	if l := get(t, a, "components", "increment", "props", "label"); l != "B's" {
		t.Fatalf("undo overwrote b's change: %v", l)
	}
	if l := get(t, a, "components", "decrement", "props", "label"); l != "−" {
		t.Fatalf("decrement label = %v", l)
	}
	redoOnce(t, u, a) // no-op: nothing was undone for increment
	redoOnce(t, u, a)
	redoOnce(t, u, a)
	if l := get(t, a, "components", "made-by-a", "props", "text"); l != "B edited" {
		t.Fatalf("redo lost b's edit inside the component: %v", l)
	}
	if l := get(t, a, "components", "increment", "props", "label"); l != "B's" {
		t.Fatalf("increment label = %v", l)
	}
}

func TestUndoDoesNotResurrectDeletedComponents(t *testing.T) {
	a := newTestApp(t, "counter")
	b, err := a.Fork()
	must(t, err)
	u := NewUndo()
	must(t, UpdateProps(a, Actor{Undo: u}, "reset", map[string]any{"label": "Clear"}))
	commit(t, a)
	must(t, DeleteComponent(b, Actor{}, "reset"))
	commit(t, b)
	must(t, a.Merge(b))
	undoOnce(t, u, a)
	if get(t, a, "components", "reset") != nil {
		t.Fatal("undo recreated a component someone else deleted")
	}
}

// TestUndoRedoRoundTripsWithConcurrentEditors: undo n times then redo n
// times returns this actor's components to the same state, while a second
// replica keeps editing other components and both merge both ways.
func TestUndoRedoRoundTripsWithConcurrentEditors(t *testing.T) {
	a := newTestApp(t, "landing")
	b, err := a.Fork()
	must(t, err)
	u := NewUndo()
	ua := Actor{ID: "a", Undo: u, Rand: seeded(6)}
	mine := []string{"hero", "headline", "tagline", "cta", "features", "f1", "f1-icon", "f1-text", "mine"}
	others := []string{"f2-text", "f3-text", "footer", "about-title"}
	sync := func() {
		commit(t, a)
		commit(t, b)
		must(t, a.Merge(b))
		must(t, b.Merge(a))
	}
	bEdit := func(round int) {
		for _, id := range others {
			must(t, UpdateProps(b, Actor{}, id, map[string]any{"text": id + " by b " + string(rune('0'+round))}))
		}
		must(t, UpdateStyle(b, Actor{}, "f3-text", map[string]any{"opacity": float64(round) / 100}))
	}
	steps := []func() error{
		func() error {
			_, err := AddComponent(a, ua, ComponentSpec{ID: "mine", Type: "badge", Parent: "hero"})
			return err
		},
		func() error { return UpdateProps(a, ua, "headline", map[string]any{"text": "A"}) },
		func() error { return MoveComponent(a, ua, MoveSpec{ID: "cta", Parent: "hero", Position: AtIndex(0)}) },
		func() error { return UpdateLayout(a, ua, "features", map[string]any{"columns": 2}) },
		func() error { return MoveComponent(a, ua, MoveSpec{ID: "f1", Page: "about"}) },
		func() error { return DeleteComponent(a, ua, "tagline") },
		func() error { return UpdateProps(a, ua, "mine", map[string]any{"tone": "success"}) },
	}
	for i, step := range steps {
		must(t, step())
		if i%2 == 0 {
			bEdit(i)
		}
		sync()
	}
	done := pick(components(t, a), mine)
	for i := range steps {
		undoOnce(t, u, a)
		bEdit(10 + i)
		sync()
	}
	for i := range steps {
		redoOnce(t, u, a)
		bEdit(20 + i)
		sync()
	}
	if got := pick(components(t, a), mine); !reflect.DeepEqual(got, done) {
		t.Fatalf("after undo×%d and redo×%d:\n got %v\nwant %v", len(steps), len(steps), got, done)
	}
	if l := get(t, a, "components", "footer", "props", "text"); l != "footer by b "+string(rune('0'+26)) {
		t.Fatalf("b's latest edit lost: %v", l)
	}
	va, _ := a.Get()
	vb, _ := b.Get()
	if !reflect.DeepEqual(va, vb) {
		t.Fatal("replicas differ")
	}
	assertValid(t, a)
}

func pick(m map[string]any, ids []string) map[string]any {
	out := map[string]any{}
	for _, id := range ids {
		out[id] = m[id]
	}
	return out
}

func TestUndoLimitsAndRedoClearing(t *testing.T) {
	d := newTestApp(t, "counter")
	u := NewUndo()
	a := Actor{Undo: u}
	for i := 0; i < UndoLevels+10; i++ {
		must(t, UpdateLayout(d, a, "buttons", map[string]any{"gap": i + 1}))
	}
	n := 0
	for u.CanUndo() {
		undoOnce(t, u, d)
		n++
	}
	if n != UndoLevels {
		t.Fatalf("undid %d groups, want %d", n, UndoLevels)
	}
	if g := get(t, d, "components", "buttons", "layout", "gap"); g != 10.0 {
		t.Fatalf("gap after undoing %d = %v", UndoLevels, g)
	}
	redoOnce(t, u, d)
	must(t, UpdateLayout(d, a, "buttons", map[string]any{"gap": 99}))
	if u.CanRedo() {
		t.Fatal("a new operation did not clear redo")
	}
	if ok, _ := u.Redo(d); ok {
		t.Fatal("redo after a new operation")
	}
}
