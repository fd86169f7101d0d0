package canvas

import (
	"reflect"
	"testing"

	"github.com/casual-dev/casual/crdt"
)

// rawComponent writes a component straight into the document, bypassing
// validation, to build the broken states concurrent edits can produce.
func rawComponent(t *testing.T, d *crdt.Doc, id, typ, page string, parent any, index string) {
	t.Helper()
	props := map[string]any{}
	if typ == "text" {
		props["text"] = id
	}
	must(t, d.Set([]any{"components", id}, map[string]any{"type": typ, "page": page,
		"pos": map[string]any{"parent": parent, "index": index}, "props": props}))
}

func brokenDoc(t *testing.T) *crdt.Doc {
	d := newTestApp(t, "landing")
	rawComponent(t, d, "orphan", "text", "home", "ghost", "a")
	rawComponent(t, d, "cy-b", "card", "home", "cy-a", "a")
	rawComponent(t, d, "cy-a", "card", "home", "cy-b", "b")
	rawComponent(t, d, "cy-kid", "text", "home", "cy-a", "a")
	rawComponent(t, d, "in-text", "text", "home", "headline", "a")
	rawComponent(t, d, "lost", "text", "gone", nil, "z")
	rawComponent(t, d, "stray", "text", "home", "about-body", "") // parent is not a container, no index
	rawComponent(t, d, "wrong-page", "text", "about", "hero", "k")
	commit(t, d)
	return d
}

func TestMaterializeRepairsDeterministically(t *testing.T) {
	d := brokenDoc(t)
	tr, repairs := Materialize(d)
	got := map[string]Repair{}
	for _, r := range repairs {
		got[r.Component] = r
	}
	want := map[string]Repair{
		"orphan":     {Kind: RepairOrphan, Component: "orphan", Detach: true, Index: "a"},
		"cy-a":       {Kind: RepairCycle, Component: "cy-a", Detach: true, Index: "b"},
		"in-text":    {Kind: RepairNotContainer, Component: "in-text", Detach: true, Index: "a"},
		"lost":       {Kind: RepairMissingPage, Component: "lost", Page: "home"},
		"stray":      {Kind: RepairNotContainer, Component: "stray", Detach: true, Index: "V"},
		"wrong-page": {Kind: RepairPageMismatch, Component: "wrong-page", Page: "home"},
	}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("repairs:\n got %+v\nwant %+v", got, want)
	}
	home := tr.Page("home")
	for _, id := range []string{"orphan", "cy-a", "in-text", "lost"} {
		if n := tr.Node(id); n.Parent != "" || n.Page != "home" {
			t.Errorf("%s at %s/%q, want the home root", id, n.Page, n.Parent)
		}
	}
	if tr.Node("cy-b").Parent != "cy-a" || tr.Node("cy-kid").Parent != "cy-a" {
		t.Error("cycle members not kept under the detached one")
	}
	if tr.Node("wrong-page").Page != "home" || tr.Node("stray").Page != "home" {
		t.Error("pages not following the parent chain")
	}
	seen := map[string]bool{}
	var walk func([]*Node)
	walk = func(ns []*Node) {
		for _, n := range ns {
			if seen[n.ID] {
				t.Fatalf("%s shown twice", n.ID)
			}
			seen[n.ID] = true
			walk(n.Children)
		}
	}
	for _, p := range tr.Pages {
		walk(p.Children)
	}
	if len(seen) != tr.Len() || home == nil {
		t.Fatalf("%d of %d components shown", len(seen), tr.Len())
	}
	if len(Validate(d)) == 0 {
		t.Fatal("Validate found nothing wrong")
	}
}

func TestApplyRepairsIsIdempotentAndConvergesConcurrently(t *testing.T) {
	d := brokenDoc(t)
	before, _ := Materialize(d)
	a, err := d.Fork()
	must(t, err)
	b, err := d.Fork()
	must(t, err)
	for _, r := range []*crdt.Doc{a, b} {
		_, repairs := Materialize(r)
		must(t, ApplyRepairs(r, repairs))
		commit(t, r)
		_, repairs = Materialize(r)
		if len(repairs) != 0 {
			t.Fatalf("repairs left after ApplyRepairs: %+v", repairs)
		}
		must(t, ApplyRepairs(r, repairs))
		if _, ok, _ := r.Commit("again"); ok {
			t.Fatal("second ApplyRepairs wrote something")
		}
	}
	must(t, a.Merge(b))
	must(t, b.Merge(a))
	va, _ := a.Get()
	vb, _ := b.Get()
	if !reflect.DeepEqual(va, vb) {
		t.Fatal("replicas differ after merging concurrent repairs")
	}
	after, repairs := Materialize(a)
	if len(repairs) != 0 {
		t.Fatalf("repairs after merge: %+v", repairs)
	}
	if treeJSON(t, after) != treeJSON(t, before) {
		t.Fatalf("repair changed the shown tree:\n%s\n%s", treeJSON(t, before), treeJSON(t, after))
	}
	for _, p := range Validate(a) {
		if p.Path != "components/stray/pos/index" {
			t.Errorf("problem after repair: %v", p)
		}
	}
}

func TestMaterializeRecoversWhenEveryPageIsGone(t *testing.T) {
	d := newTestApp(t, "counter")
	a, err := d.Fork()
	must(t, err)
	must(t, a.Delete("pages", "home"))
	commit(t, a)
	tr, repairs := Materialize(a)
	if len(tr.Pages) != 1 || tr.Pages[0].ID != RecoveredPage || tr.Len() != 6 {
		t.Fatalf("pages %v, %d components", pageIDs(tr), tr.Len())
	}
	must(t, ApplyRepairs(a, repairs))
	if _, repairs := Materialize(a); len(repairs) != 0 {
		t.Fatalf("repairs left: %+v", repairs)
	}
	assertValid(t, a)
}

func TestMaterializeOfANonAppIsEmpty(t *testing.T) {
	tr, repairs := Materialize(crdt.New())
	if tr.Len() != 0 || len(tr.Pages) != 0 || repairs != nil {
		t.Fatal("empty document materialized to something")
	}
}
