package canvas

import (
	"cmp"
	"slices"

	"github.com/casual-dev/casual/crdt"
)

// Tree is an app document read as pages of ordered component trees.
type Tree struct {
	Pages []*PageNode `json:"pages"`
	nodes map[string]*Node
	pages map[string]*PageNode
}

// PageNode is one page and its top-level components.
type PageNode struct {
	ID       string  `json:"id"`
	Name     string  `json:"name"`
	Route    string  `json:"route"`
	Index    string  `json:"index"`
	Children []*Node `json:"children"`
}

// Component is one component's fields as materialized: Page and Parent
// are where it is shown (after repair), not necessarily what is stored.
type Component struct {
	ID        string            `json:"id"`
	Type      string            `json:"type"`
	Page      string            `json:"page"`
	Parent    string            `json:"parent,omitempty"` // empty: page root
	Index     string            `json:"index"`
	Props     map[string]any    `json:"props"`
	Layout    map[string]any    `json:"layout"`
	Style     map[string]any    `json:"style"`
	Bindings  map[string]string `json:"bindings"`
	Handlers  map[string]string `json:"handlers"`
	CreatedBy string            `json:"createdBy,omitempty"`
	AIRun     string            `json:"aiRun,omitempty"`
}

// Node is a component with its ordered children.
type Node struct {
	Component
	Children []*Node `json:"children"`
}

// Node returns the component with the given id, or nil.
func (t *Tree) Node(id string) *Node { return t.nodes[id] }

// Page returns the page with the given id, or nil.
func (t *Tree) Page(id string) *PageNode { return t.pages[id] }

// Len returns the number of components in the tree.
func (t *Tree) Len() int { return len(t.nodes) }

// children returns the ordered children of parent ("" for the page root).
func (t *Tree) children(page, parent string) []*Node {
	if parent != "" {
		if n := t.nodes[parent]; n != nil {
			return n.Children
		}
		return nil
	}
	if p := t.pages[page]; p != nil {
		return p.Children
	}
	return nil
}

// descendants returns n and everything below it, parents first.
func (n *Node) descendants() []*Node {
	out := []*Node{n}
	for i := 0; i < len(out); i++ {
		out = append(out, out[i].Children...)
	}
	return out
}

// RepairKind says why a component had to be moved while materializing.
type RepairKind string

// The repairs Materialize can ask for.
const (
	RepairOrphan       RepairKind = "orphan"       // parent does not exist
	RepairNotContainer RepairKind = "notContainer" // parent cannot have children
	RepairCycle        RepairKind = "cycle"        // parent chain loops
	RepairMissingPage  RepairKind = "missingPage"  // page does not exist
	RepairPageMismatch RepairKind = "pageMismatch" // page differs from its parent's
	RepairNoPages      RepairKind = "noPages"      // components but no page at all
)

// RecoveredPage is the id of the page a repair creates when components
// exist but every page was deleted.
const RecoveredPage = "recovered"

// Repair is one deterministic fix Materialize made while reading; every
// replica computes the same repairs from the same document.
type Repair struct {
	Kind      RepairKind `json:"kind"`
	Component string     `json:"component,omitempty"`
	Page      string     `json:"page,omitempty"` // write this page ("" keeps it)
	Detach    bool       `json:"detach,omitempty"`
	Index     string     `json:"index,omitempty"` // with Detach: pos becomes {parent: null, index}
}

// Materialize reads the document as a tree. Components whose parent chain
// loops, dangles or passes through a non-container are shown at their
// page's root (in a cycle, the member with the smallest id is detached);
// components whose page is missing go to the first page (pages sort by
// (index, id)); children follow their parent's page. The returned repairs
// describe those fixes; ApplyRepairs persists them. A document that is not
// a readable version-1 app materializes as an empty tree (Validate says
// why).
func Materialize(doc *crdt.Doc) (*Tree, []Repair) {
	a, err := load(doc)
	if err != nil {
		return &Tree{nodes: map[string]*Node{}, pages: map[string]*PageNode{}}, nil
	}
	return buildTree(a.pages, a.comps)
}

func buildTree(pages, comps map[string]map[string]any) (*Tree, []Repair) {
	t := &Tree{nodes: make(map[string]*Node, len(comps)), pages: make(map[string]*PageNode)}
	var repairs []Repair
	for id, m := range pages {
		p := &PageNode{ID: id, Name: getString(m, "name"), Route: getString(m, "route"), Index: getString(m, "index")}
		t.pages[id] = p
		t.Pages = append(t.Pages, p)
	}
	if len(t.Pages) == 0 && len(comps) > 0 {
		p := &PageNode{ID: RecoveredPage, Name: "Recovered", Route: "/", Index: "V"}
		t.pages[p.ID], t.Pages = p, []*PageNode{p}
		repairs = append(repairs, Repair{Kind: RepairNoPages, Page: p.ID})
	}
	slices.SortFunc(t.Pages, func(a, b *PageNode) int {
		return cmp.Or(cmp.Compare(a.Index, b.Index), cmp.Compare(a.ID, b.ID))
	})

	ids := sortedKeys(comps)
	parent := make(map[string]string, len(comps))
	why := make(map[string]RepairKind)
	for _, id := range ids {
		n := &Node{Component: readComponent(id, comps[id])}
		t.nodes[id] = n
		p := n.Parent
		switch pm, ok := comps[p]; {
		case p == "":
		case !ok:
			why[id] = RepairOrphan
		case !canContain(getString(pm, "type")):
			why[id] = RepairNotContainer
		default:
			parent[id] = p
		}
	}
	breakCycles(ids, parent, why)

	for _, id := range ids {
		n := t.nodes[id]
		n.Parent = parent[id]
		n.Page = effectivePage(t, parent, id)
		r := Repair{Component: id, Kind: why[id]}
		if r.Kind != "" {
			r.Detach, r.Index = true, n.Index
			if !ValidIndex(r.Index) {
				r.Index = "V"
			}
			n.Index = r.Index
		}
		if stored := getString(comps[id], "page"); stored != n.Page {
			r.Page = n.Page
			if r.Kind == "" {
				r.Kind = RepairPageMismatch
				if n.Parent == "" {
					r.Kind = RepairMissingPage
				}
			}
		}
		if r.Kind != "" {
			repairs = append(repairs, r)
		}
	}
	for _, id := range ids {
		n := t.nodes[id]
		if n.Parent == "" {
			t.pages[n.Page].Children = append(t.pages[n.Page].Children, n)
		} else {
			t.nodes[n.Parent].Children = append(t.nodes[n.Parent].Children, n)
		}
	}
	for _, n := range t.nodes {
		sortNodes(n.Children)
	}
	for _, p := range t.Pages {
		sortNodes(p.Children)
	}
	return t, repairs
}

// breakCycles detaches, in every cycle of the parent graph, the member
// with the smallest id. The cycles do not depend on visiting order, so the
// choice is the same on every replica.
func breakCycles(ids []string, parent map[string]string, why map[string]RepairKind) {
	const (
		walking = 1
		done    = 2
	)
	state := make(map[string]int, len(ids))
	for _, id := range ids {
		var path []string
		cur := id
		for cur != "" && state[cur] == 0 {
			state[cur] = walking
			path = append(path, cur)
			cur = parent[cur]
		}
		if cur != "" && state[cur] == walking {
			i := slices.Index(path, cur)
			victim := slices.Min(path[i:])
			delete(parent, victim)
			why[victim] = RepairCycle
		}
		for _, p := range path {
			state[p] = done
		}
	}
}

// effectivePage is the page of the component's root ancestor, or the
// first page when that page does not exist.
func effectivePage(t *Tree, parent map[string]string, id string) string {
	for parent[id] != "" {
		id = parent[id]
	}
	if p := t.nodes[id].Page; t.pages[p] != nil {
		return p
	}
	return t.Pages[0].ID
}

func sortNodes(ns []*Node) {
	slices.SortFunc(ns, func(a, b *Node) int {
		return cmp.Or(cmp.Compare(a.Index, b.Index), cmp.Compare(a.ID, b.ID))
	})
}

// canContain reports whether a component of the type may have children.
// Unknown types (from a newer client) are trusted, so reading never
// rewrites what this build does not understand.
func canContain(typ string) bool {
	t, ok := registry.get(typ)
	return !ok || t.Container
}

func readComponent(id string, m map[string]any) Component {
	c := Component{ID: id, Type: getString(m, "type"), Page: getString(m, "page"),
		Props: orEmpty(getMap(m, "props")), Layout: orEmpty(getMap(m, "layout")), Style: orEmpty(getMap(m, "style")),
		Bindings: stringMap(getMap(m, "bindings")), Handlers: stringMap(getMap(m, "handlers"))}
	pos := getMap(m, "pos")
	c.Parent, c.Index = getString(pos, "parent"), getString(pos, "index")
	meta := getMap(m, "meta")
	c.CreatedBy, c.AIRun = getString(meta, "createdBy"), getString(meta, "aiRun")
	return c
}

func orEmpty(m map[string]any) map[string]any {
	if m == nil {
		return map[string]any{}
	}
	return m
}

func stringMap(m map[string]any) map[string]string {
	out := make(map[string]string, len(m))
	for k, v := range m {
		if s, ok := v.(string); ok {
			out[k] = s
		}
	}
	return out
}

// ApplyRepairs writes repairs back into the document, touching only what
// still differs, so it is idempotent, and replicas that apply the same
// repairs concurrently merge to the same document. Edits are left
// uncommitted.
func ApplyRepairs(doc *crdt.Doc, repairs []Repair) error {
	for _, r := range repairs {
		if err := applyRepair(doc, r); err != nil {
			return err
		}
	}
	return nil
}

func applyRepair(doc *crdt.Doc, r Repair) error {
	if r.Kind == RepairNoPages {
		keys, err := doc.Keys("pages")
		if err != nil || len(keys) > 0 {
			return err
		}
		return doc.Set([]any{"pages", r.Page}, map[string]any{"name": "Recovered", "route": "/", "index": "V"})
	}
	v, err := doc.Get("components", r.Component)
	if err != nil {
		return err
	}
	m, ok := v.(map[string]any)
	if !ok {
		return nil // deleted since
	}
	if r.Detach {
		pos := getMap(m, "pos")
		if pos == nil || pos["parent"] != nil || getString(pos, "index") != r.Index {
			newPos := map[string]any{"parent": nil, "index": r.Index}
			if err := doc.Set([]any{"components", r.Component, "pos"}, newPos); err != nil {
				return err
			}
		}
	}
	if r.Page != "" && getString(m, "page") != r.Page {
		return doc.Set([]any{"components", r.Component, "page"}, r.Page)
	}
	return nil
}
