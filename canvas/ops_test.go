package canvas

import (
	"errors"
	"reflect"
	"strings"
	"testing"

	"github.com/casual-dev/casual/crdt"
)

// unchanged runs f and fails if it changed the document.
func unchanged(t *testing.T, d *crdt.Doc, f func() error) error {
	t.Helper()
	before, _ := d.Get()
	err := f()
	after, _ := d.Get()
	if !reflect.DeepEqual(before, after) {
		t.Errorf("failed operation changed the document (err %v)", err)
	}
	return err
}

func TestAddComponentPlacesAndFillsDefaults(t *testing.T) {
	d := newTestApp(t, "counter")
	actor := Actor{ID: "ada", Run: "run-1", Rand: seeded(1)}
	id, err := AddComponent(d, actor, ComponentSpec{Type: "image", Parent: "buttons", Position: Position{After: "decrement"},
		Props: map[string]any{"src": "https://example.com/x.png"}, Style: map[string]any{"borderRadius": 4}})
	must(t, err)
	if !strings.HasPrefix(id, "image-") || checkID("component", id) != nil {
		t.Fatalf("generated id %q", id)
	}
	tr, _ := Materialize(d)
	if got := childIDs(tr.Node("buttons")); got != "decrement "+id+" increment reset" {
		t.Fatalf("children = %s", got)
	}
	n := tr.Node(id)
	if n.Page != "home" || n.Layout["w"] != 320.0 || n.Style["borderRadius"] != 4.0 || n.CreatedBy != "ada" || n.AIRun != "run-1" {
		t.Fatalf("node = %+v", n.Component)
	}
	h, err := AddComponent(d, Actor{}, ComponentSpec{ID: "h", Type: "heading", Position: AtIndex(0)})
	must(t, err)
	tr, _ = Materialize(d)
	if tr.Pages[0].Children[0].ID != h || tr.Node(h).Props["text"] != "Heading" {
		t.Fatalf("heading not first with default text: %+v", tr.Node(h).Component)
	}
	if pos := get(t, d, "components", "h", "pos"); !reflect.DeepEqual(pos, map[string]any{"parent": nil, "index": tr.Node(h).Index}) {
		t.Fatalf("pos = %#v", pos)
	}
	if by := get(t, d, "components", "h", "meta", "createdBy"); by != d.ActorID() {
		t.Fatalf("createdBy = %v, want the doc actor", by)
	}
	assertValid(t, d)
}

func TestAddComponentErrors(t *testing.T) {
	d := newTestApp(t, "landing")
	cases := []struct {
		name string
		spec ComponentSpec
		want error
	}{
		{"unknown type", ComponentSpec{Type: "blink"}, ErrUnknownType},
		{"bad id", ComponentSpec{ID: "a b", Type: "text"}, ErrInvalidID},
		{"duplicate id", ComponentSpec{ID: "hero", Type: "text"}, ErrDuplicateID},
		{"unknown page", ComponentSpec{Type: "text", Page: "nope"}, ErrUnknownPage},
		{"unknown parent", ComponentSpec{Type: "text", Parent: "nope"}, ErrUnknownComponent},
		{"parent not container", ComponentSpec{Type: "text", Parent: "headline"}, ErrNotContainer},
		{"parent on other page", ComponentSpec{Type: "text", Page: "about", Parent: "hero"}, ErrInvalidPosition},
		{"unknown prop", ComponentSpec{Type: "text", Props: map[string]any{"colour": "red"}}, ErrInvalidProp},
		{"wrong prop type", ComponentSpec{Type: "text", Props: map[string]any{"text": 3}}, ErrInvalidProp},
		{"enum outside values", ComponentSpec{Type: "button", Props: map[string]any{"variant": "huge"}}, ErrInvalidProp},
		{"required prop without default", ComponentSpec{Type: "image"}, ErrInvalidProp},
		{"bad url", ComponentSpec{Type: "link", Props: map[string]any{"href": "javascript:x"}}, ErrInvalidProp},
		{"unknown layout key", ComponentSpec{Type: "text", Layout: map[string]any{"float": "left"}}, ErrInvalidProp},
		{"bad style value", ComponentSpec{Type: "text", Style: map[string]any{"color": "#zzz"}}, ErrInvalidProp},
		{"before a non-sibling", ComponentSpec{Type: "text", Position: Position{Before: "headline"}}, ErrInvalidPosition},
		{"two position hints", ComponentSpec{Type: "text", Position: Position{Before: "hero", After: "rule"}}, ErrInvalidPosition},
		{"index out of range", ComponentSpec{Type: "text", Position: AtIndex(99)}, ErrInvalidPosition},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			err := unchanged(t, d, func() error { _, err := AddComponent(d, Actor{}, c.spec); return err })
			wantErr(t, err, c.want)
		})
	}
	var pe *PropError
	_, err := AddComponent(d, Actor{}, ComponentSpec{ID: "x", Type: "text", Props: map[string]any{"text": 3}})
	if !errors.As(err, &pe) || pe.Group != "props" || pe.Name != "text" || pe.Type != "text" || pe.Component != "x" {
		t.Fatalf("PropError = %+v", pe)
	}
}

func TestOperationsNeedAVersion1App(t *testing.T) {
	_, err := AddComponent(crdt.New(), Actor{}, ComponentSpec{Type: "text"})
	wantErr(t, err, ErrNotInitialized)
	d := newTestApp(t, BlankTemplate)
	must(t, d.Set([]any{"schema"}, int64(SchemaVersion+1)))
	_, err = AddComponent(d, Actor{}, ComponentSpec{Type: "text"})
	wantErr(t, err, ErrSchemaVersion)
}

func TestMoveComponent(t *testing.T) {
	d := newTestApp(t, "landing")
	a := Actor{Rand: seeded(2)}
	must(t, MoveComponent(d, a, MoveSpec{ID: "f3", Parent: "features", Position: AtIndex(0)}))
	tr, _ := Materialize(d)
	if got := childIDs(tr.Node("features")); got != "f3 f1 f2" {
		t.Fatalf("after reorder: %s", got)
	}
	// Moving a subtree to another page moves its descendants' page too.
	must(t, MoveComponent(d, a, MoveSpec{ID: "f1", Page: "about", Position: Position{After: "about-title"}}))
	tr, _ = Materialize(d)
	if got := childIDs(tr.Pages[1]); got != "about-title f1 about-body" {
		t.Fatalf("about page: %s", got)
	}
	for _, id := range []string{"f1", "f1-icon", "f1-text"} {
		if p := get(t, d, "components", id, "page"); p != "about" {
			t.Fatalf("%s page = %v", id, p)
		}
	}
	// Into a container on the same page, page inferred from the parent.
	must(t, MoveComponent(d, a, MoveSpec{ID: "footer", Parent: "hero"}))
	if pos := get(t, d, "components", "footer", "pos").(map[string]any); pos["parent"] != "hero" {
		t.Fatalf("pos = %v", pos)
	}
	assertValid(t, d)
}

func TestMoveComponentErrors(t *testing.T) {
	d := newTestApp(t, "landing")
	cases := []struct {
		name string
		spec MoveSpec
		want error
	}{
		{"unknown component", MoveSpec{ID: "nope"}, ErrUnknownComponent},
		{"into itself", MoveSpec{ID: "features", Parent: "features"}, ErrCycle},
		{"into its descendant", MoveSpec{ID: "features", Parent: "f2"}, ErrCycle},
		{"into a non-container", MoveSpec{ID: "rule", Parent: "headline"}, ErrNotContainer},
		{"unknown parent", MoveSpec{ID: "rule", Parent: "nope"}, ErrUnknownComponent},
		{"unknown page", MoveSpec{ID: "rule", Page: "nope"}, ErrUnknownPage},
		{"parent on another page", MoveSpec{ID: "rule", Page: "about", Parent: "hero"}, ErrInvalidPosition},
		{"relative to itself", MoveSpec{ID: "rule", Position: Position{Before: "rule"}}, ErrInvalidPosition},
		{"after a non-sibling", MoveSpec{ID: "rule", Position: Position{After: "f1"}}, ErrInvalidPosition},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			wantErr(t, unchanged(t, d, func() error { return MoveComponent(d, Actor{}, c.spec) }), c.want)
		})
	}
}

func TestUpdatePropsLayoutStyle(t *testing.T) {
	d := newTestApp(t, "counter")
	must(t, UpdateProps(d, Actor{}, "increment", map[string]any{"label": "Plus", "disabled": true}))
	must(t, UpdateProps(d, Actor{}, "increment", map[string]any{"disabled": nil}))
	must(t, UpdateLayout(d, Actor{}, "buttons", map[string]any{"gap": 4, "direction": nil}))
	must(t, UpdateStyle(d, Actor{}, "title", map[string]any{"color": "$primary", "fontWeight": "bold"}))
	tr, _ := Materialize(d)
	if p := tr.Node("increment").Props; p["label"] != "Plus" || p["disabled"] != nil {
		t.Fatalf("props = %v", p)
	}
	if l := tr.Node("buttons").Layout; l["gap"] != 4.0 || l["direction"] != nil {
		t.Fatalf("layout = %v", l)
	}
	if s := tr.Node("title").Style; s["color"] != "$primary" || s["fontWeight"] != "bold" {
		t.Fatalf("style = %v", s)
	}
	assertValid(t, d)
}

func TestUpdateErrors(t *testing.T) {
	d := newTestApp(t, "counter")
	cases := []struct {
		name string
		f    func() error
		want error
	}{
		{"unknown component", func() error { return UpdateProps(d, Actor{}, "nope", map[string]any{"label": "x"}) }, ErrUnknownComponent},
		{"unknown prop", func() error { return UpdateProps(d, Actor{}, "increment", map[string]any{"text": "x"}) }, ErrInvalidProp},
		{"unset required", func() error { return UpdateProps(d, Actor{}, "increment", map[string]any{"label": nil}) }, ErrInvalidProp},
		{"one bad among good", func() error {
			return UpdateProps(d, Actor{}, "increment", map[string]any{"label": "ok", "size": "xxl"})
		}, ErrInvalidProp},
		{"layout out of range", func() error { return UpdateLayout(d, Actor{}, "buttons", map[string]any{"columns": 99}) }, ErrInvalidProp},
		{"style unknown key", func() error { return UpdateStyle(d, Actor{}, "title", map[string]any{"zIndex": 3}) }, ErrInvalidProp},
		{"op update without groups", func() error { _, err := Apply(d, Actor{}, Op{Op: "update", ID: "title"}); return err }, ErrInvalidOp},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) { wantErr(t, unchanged(t, d, c.f), c.want) })
	}
}

func TestConcurrentEditsOfDifferentPropsBothSurvive(t *testing.T) {
	a := newTestApp(t, "counter")
	b, err := a.Fork()
	must(t, err)
	must(t, UpdateProps(a, Actor{}, "increment", map[string]any{"label": "Add one"}))
	must(t, UpdateProps(b, Actor{}, "increment", map[string]any{"variant": "outline"}))
	commit(t, a)
	commit(t, b)
	must(t, a.Merge(b))
	if p := get(t, a, "components", "increment", "props").(map[string]any); p["label"] != "Add one" || p["variant"] != "outline" {
		t.Fatalf("props = %v", p)
	}
}

func TestDeleteComponentRemovesSubtree(t *testing.T) {
	d := newTestApp(t, "landing")
	must(t, DeleteComponent(d, Actor{}, "features"))
	tr, _ := Materialize(d)
	for _, id := range []string{"features", "f1", "f2-text", "f3-icon"} {
		if tr.Node(id) != nil || get(t, d, "components", id) != nil {
			t.Fatalf("%s still there", id)
		}
	}
	if tr.Node("hero") == nil {
		t.Fatal("sibling deleted")
	}
	wantErr(t, unchanged(t, d, func() error { return DeleteComponent(d, Actor{}, "features") }), ErrUnknownComponent)
}

func TestInsertRebalancesWhenKeysRunOut(t *testing.T) {
	long := strings.Repeat("V", 30)
	cases := []struct {
		name       string
		keys       [3]string // first, second, last
		after      string
		wantBefore string
	}{
		{"key would pass MaxIndexLen", [3]string{long + "1", long + "2", "x"}, "first", "second"},
		{"equal neighbour keys", [3]string{"V", "V", "x"}, "first", "second"},
		{"malformed neighbour key", [3]string{"V", "V0", "x"}, "first", "second"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			d := newTestApp(t, BlankTemplate)
			for i, id := range []string{"first", "second", "last"} {
				rawComponent(t, d, id, "text", "home", nil, c.keys[i])
			}
			_, err := AddComponent(d, Actor{Rand: seeded(3)}, ComponentSpec{ID: "new", Type: "text", Position: Position{After: c.after}})
			must(t, err)
			tr, _ := Materialize(d)
			if got := childIDs(tr.Pages[0]); got != "first new second last" {
				t.Fatalf("order = %s", got)
			}
			for i, n := range tr.Pages[0].Children {
				if len(n.Index) > MaxIndexLen || !ValidIndex(n.Index) || i > 0 && n.Index <= tr.Pages[0].Children[i-1].Index {
					t.Fatalf("keys after rebalance: %s = %q", n.ID, n.Index)
				}
			}
			if get(t, d, "components", "last", "pos", "index") == "x" {
				t.Fatal("siblings were not rebalanced")
			}
			assertValid(t, d)
		})
	}
}

// childIDs lists the ids of a page's or node's children.
func childIDs(parent any) string {
	var ns []*Node
	switch p := parent.(type) {
	case *Node:
		ns = p.Children
	case *PageNode:
		ns = p.Children
	}
	ids := make([]string, len(ns))
	for i, n := range ns {
		ids[i] = n.ID
	}
	return strings.Join(ids, " ")
}

// BenchmarkOpsOnALargeApp measures one operation on an app with 300
// components: every operation reads the components it validates against.
func BenchmarkOpsOnALargeApp(b *testing.B) {
	d := newTestApp(b, BlankTemplate)
	a := Actor{Rand: seeded(9)}
	for i := 0; i < 300; i++ {
		_, err := AddComponent(d, a, ComponentSpec{Type: "text"})
		must(b, err)
	}
	commit(b, d)
	tr, _ := Materialize(d)
	id := tr.Pages[0].Children[0].ID
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		must(b, UpdateProps(d, a, id, map[string]any{"text": strings.Repeat("x", i%7+1)}))
	}
}
