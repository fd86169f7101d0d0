package canvas

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"slices"
	"testing"

	"github.com/casual-dev/casual/crdt"
)

// TestConcurrentEditsConverge is the property test: random adds, moves
// (including A into B and B into A at once), prop and layout updates,
// deletes and page edits on 3-5 replicas forked from one document, merged
// in random orders, must leave every replica materializing the same valid
// tree, with every component shown exactly once and none lost; writing
// the repairs back on every replica at once must converge too.
func TestConcurrentEditsConverge(t *testing.T) {
	seeds := 12
	if testing.Short() {
		seeds = 3
	}
	cycles := 0
	for seed := uint64(1); seed <= uint64(seeds); seed++ {
		t.Run(fmt.Sprint("seed", seed), func(t *testing.T) { cycles += runConvergence(t, seed) })
	}
	if cycles == 0 {
		t.Error("no run produced a cycle to repair")
	}
}

type fleet struct {
	t        *testing.T
	rnd      *rand.Rand
	docs     []*crdt.Doc
	created  map[string]bool
	deleted  map[string]bool
	attempts int
	applied  int
}

// runConvergence runs one seeded scenario and returns how many cycles
// merging produced.
func runConvergence(t *testing.T, seed uint64) (cycles int) {
	rnd := seeded(seed)
	base := crdt.New()
	must(t, base.SetActorID(fmt.Sprintf("%016x%016x", seed, 0)))
	must(t, NewApp(base, "fleet", "landing"))
	commit(t, base)
	f := &fleet{t: t, rnd: rnd, created: map[string]bool{}, deleted: map[string]bool{}}
	for id := range components(t, base) {
		f.created[id] = true
	}
	for i := range 3 + rnd.IntN(3) {
		d, err := base.Fork()
		must(t, err)
		must(t, d.SetActorID(fmt.Sprintf("%016x%016x", seed, i+1)))
		f.docs = append(f.docs, d)
	}
	for round := range 4 {
		f.crossMove()
		for i, d := range f.docs {
			a := Actor{ID: fmt.Sprint("r", i), Rand: rand.New(rand.NewPCG(seed, uint64(round*10+i)))}
			for range 3 + rnd.IntN(6) {
				f.randomOp(d, a)
			}
			commit(t, d)
		}
		if round == 3 || rnd.IntN(2) == 0 {
			f.mergeAll()
			_, repairs := Materialize(f.docs[0])
			for _, r := range repairs {
				if r.Kind == RepairCycle {
					cycles++
				}
			}
			f.check()
		} else {
			f.mergeSome()
		}
	}
	for _, d := range f.docs { // every replica writes the repairs at once
		_, repairs := Materialize(d)
		must(t, ApplyRepairs(d, repairs))
		commit(t, d)
	}
	f.mergeAll()
	tr := f.check()
	for _, d := range f.docs {
		if _, repairs := Materialize(d); len(repairs) > 0 {
			t.Fatalf("repairs left after ApplyRepairs on every replica: %+v", repairs)
		}
		assertValid(t, d)
	}
	if f.applied < f.attempts/3 {
		t.Fatalf("only %d of %d random operations applied, %d components left", f.applied, f.attempts, tr.Len())
	}
	return cycles
}

// crossMove has replica 0 move container X into Y while replica 1 moves
// Y into X: merged naively, that is a cycle.
func (f *fleet) crossMove() {
	tr, _ := Materialize(f.docs[0])
	var boxes []string
	for _, id := range sortedKeys(tr.nodes) {
		if canContain(tr.Node(id).Type) {
			boxes = append(boxes, id)
		}
	}
	if len(boxes) < 2 {
		return
	}
	x, y := boxes[f.rnd.IntN(len(boxes))], boxes[f.rnd.IntN(len(boxes))]
	f.try(f.docs[0], Actor{}, func(d *crdt.Doc, a Actor) error { return MoveComponent(d, a, MoveSpec{ID: x, Parent: y}) })
	f.try(f.docs[1], Actor{}, func(d *crdt.Doc, a Actor) error { return MoveComponent(d, a, MoveSpec{ID: y, Parent: x}) })
}

func (f *fleet) randomOp(d *crdt.Doc, a Actor) {
	tr, _ := Materialize(d)
	ids := sortedKeys(tr.nodes)
	node := func() string {
		if len(ids) == 0 {
			return "none"
		}
		return ids[f.rnd.IntN(len(ids))]
	}
	switch k := f.rnd.IntN(100); {
	case k < 35:
		f.try(d, a, func(d *crdt.Doc, a Actor) error {
			id, err := AddComponent(d, a, f.randomSpec(tr, ids))
			if err == nil {
				f.created[id] = true
			}
			return err
		})
	case k < 60:
		spec := MoveSpec{ID: node(), Position: f.randomPosition(tr, ids)}
		if f.rnd.IntN(3) > 0 {
			spec.Parent = node()
		} else {
			spec.Page = f.page(tr)
		}
		f.try(d, a, func(d *crdt.Doc, a Actor) error { return MoveComponent(d, a, spec) })
	case k < 75:
		id := node()
		f.try(d, a, func(d *crdt.Doc, a Actor) error { return UpdateProps(d, a, id, f.randomProps(tr.Node(id))) })
	case k < 83:
		id := node()
		f.try(d, a, func(d *crdt.Doc, a Actor) error {
			return UpdateLayout(d, a, id, map[string]any{"gap": float64(f.rnd.IntN(40)), "w": nil})
		})
	case k < 90:
		id := node()
		f.try(d, a, func(d *crdt.Doc, a Actor) error { return DeleteComponent(d, a, id) })
	case k < 97:
		f.try(d, a, func(d *crdt.Doc, a Actor) error {
			_, err := AddPage(d, a, PageSpec{Name: fmt.Sprint("P", f.rnd.IntN(1000)), Position: AtIndex(0)})
			return err
		})
	case k < 99 && len(tr.Pages) > 0:
		f.try(d, a, func(d *crdt.Doc, a Actor) error { return RenamePage(d, a, tr.Pages[0].ID, "Renamed", "") })
	default:
		pg := f.page(tr)
		f.try(d, a, func(d *crdt.Doc, a Actor) error { return DeletePage(d, a, pg) })
	}
}

// try runs an operation, tracks what it deleted, and tolerates the
// validation errors random operations run into.
func (f *fleet) try(d *crdt.Doc, a Actor, op func(*crdt.Doc, Actor) error) {
	f.attempts++
	before, _ := d.Keys("components")
	err := op(d, a)
	if err != nil {
		for _, ok := range []error{ErrCycle, ErrNotContainer, ErrInvalidPosition, ErrUnknownComponent, ErrUnknownPage, ErrLastPage, ErrInvalidProp} {
			if errors.Is(err, ok) {
				return
			}
		}
		f.t.Fatalf("unexpected error: %v", err)
	}
	f.applied++
	after, _ := d.Keys("components")
	for _, id := range before {
		if !slices.Contains(after, id) {
			f.deleted[id] = true
		}
	}
}

func (f *fleet) randomSpec(tr *Tree, ids []string) ComponentSpec {
	types := Registry().Types()
	ct := types[f.rnd.IntN(len(types))]
	spec := ComponentSpec{Type: ct.Type, Position: f.randomPosition(tr, ids)}
	if f.rnd.IntN(2) == 0 && len(ids) > 0 {
		spec.Parent = ids[f.rnd.IntN(len(ids))]
	} else {
		spec.Page = f.page(tr)
	}
	if ct.Type == "image" {
		spec.Props = map[string]any{"src": "/logo.png"}
	}
	return spec
}

// randomPosition is often a hint that does not fit; the operation then
// fails validation, which is part of what is tested.
func (f *fleet) randomPosition(tr *Tree, ids []string) Position {
	switch f.rnd.IntN(4) {
	case 0:
		return AtIndex(f.rnd.IntN(3))
	case 1:
		if len(ids) > 0 {
			return Position{Before: ids[f.rnd.IntN(len(ids))]}
		}
	case 2:
		if len(ids) > 0 {
			return Position{After: ids[f.rnd.IntN(len(ids))]}
		}
	}
	return Position{}
}

func (f *fleet) randomProps(n *Node) map[string]any {
	if n == nil {
		return map[string]any{"x": 1}
	}
	ct, ok := Registry().Lookup(n.Type)
	if !ok || len(ct.Props) == 0 {
		return map[string]any{}
	}
	s := ct.Props[f.rnd.IntN(len(ct.Props))]
	v := s.Default
	switch s.Type {
	case TypeString:
		v = fmt.Sprint("v", f.rnd.IntN(100))
	case TypeNumber:
		lo, hi := 0.0, 100.0
		if s.Min != nil {
			lo = *s.Min
		}
		if s.Max != nil {
			hi = *s.Max
		}
		v = lo + float64(f.rnd.IntN(int(hi-lo)+1))
	case TypeBool:
		v = f.rnd.IntN(2) == 0
	case TypeEnum:
		v = s.Values[f.rnd.IntN(len(s.Values))]
	case TypeColor:
		v = fmt.Sprintf("#%06x", f.rnd.IntN(1<<24))
	case TypeURL:
		v = "https://example.com/" + fmt.Sprint(f.rnd.IntN(9))
	case TypeArray, TypeJSON:
		v = []any{fmt.Sprint(f.rnd.IntN(9))}
	}
	return map[string]any{s.Name: v}
}

// mergeSome merges a few random pairs, one way.
func (f *fleet) mergeSome() {
	for range f.rnd.IntN(len(f.docs)) + 1 {
		i, j := f.rnd.IntN(len(f.docs)), f.rnd.IntN(len(f.docs))
		if i != j { // crdt: d.Merge(d) deadlocks
			must(f.t, f.docs[i].Merge(f.docs[j]))
		}
	}
}

// mergeAll brings every replica up to date, in a random order.
func (f *fleet) mergeAll() {
	order := f.rnd.Perm(len(f.docs))
	hub := f.docs[order[0]]
	for _, i := range order[1:] {
		must(f.t, hub.Merge(f.docs[i]))
	}
	for _, i := range f.rnd.Perm(len(f.docs)) {
		if f.docs[i] != hub {
			must(f.t, f.docs[i].Merge(hub))
		}
	}
}

// check asserts that all replicas show the same tree, every component
// exactly once, and exactly the components created and not deleted.
func (f *fleet) check() *Tree {
	t := f.t
	var want []string
	for id := range f.created {
		if !f.deleted[id] {
			want = append(want, id)
		}
	}
	slices.Sort(want)
	var first string
	var tree *Tree
	for i, d := range f.docs {
		tr, _ := Materialize(d)
		js := treeJSON(t, tr)
		if i == 0 {
			first, tree = js, tr
		} else if js != first {
			t.Fatalf("replica %d materializes differently:\n%s\n%s", i, first, js)
		}
		var shown []string
		var walk func(parent string, ns []*Node)
		walk = func(parent string, ns []*Node) {
			for _, n := range ns {
				if n.Parent != parent {
					t.Fatalf("%s listed under %q but says parent %q", n.ID, parent, n.Parent)
				}
				shown = append(shown, n.ID)
				walk(n.ID, n.Children)
			}
		}
		for _, p := range tr.Pages {
			walk("", p.Children)
		}
		slices.Sort(shown)
		if len(slices.Compact(slices.Clone(shown))) != len(shown) {
			t.Fatalf("a component is shown twice: %v", shown)
		}
		if !slices.Equal(shown, want) || len(shown) != len(components(t, d)) {
			t.Fatalf("shown %v\nwant %v", shown, want)
		}
	}
	return tree
}

func (f *fleet) page(tr *Tree) string {
	if len(tr.Pages) == 0 {
		return "none"
	}
	return tr.Pages[f.rnd.IntN(len(tr.Pages))].ID
}
