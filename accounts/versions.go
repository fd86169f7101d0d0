package accounts

import (
	"context"
	"encoding/json"
	"slices"

	"github.com/casual-dev/casual/canvas"
	"github.com/casual-dev/casual/crdt"
)

// CurrentVersion names the document as it is now, wherever a version id
// is expected (diffs).
const CurrentVersion = "current"

// CreateVersion names the app's current state (editors): its heads, a
// label and the author.
func (s *Service) CreateVersion(ctx context.Context, p Principal, appID, label string) (Version, error) {
	if _, _, err := s.appFor(ctx, p, appID, RoleEditor); err != nil {
		return Version{}, err
	}
	label, err := checkName("label", label, true)
	if err != nil {
		return Version{}, err
	}
	var heads []crdt.Hash
	if err := s.withDoc(ctx, appID, func(d *crdt.Doc) error { heads = d.Heads(); return nil }); err != nil {
		return Version{}, err
	}
	if len(heads) == 0 {
		return Version{}, invalidf("the app's document is empty")
	}
	id, err := s.newID("ver")
	if err != nil {
		return Version{}, err
	}
	v := Version{ID: id, AppID: appID, Label: label, Heads: headStrings(heads), AuthorID: p.UserID, CreatedAt: s.now()}
	return v, s.st.CreateVersion(ctx, v)
}

// Versions lists an app's versions, newest first (viewers).
func (s *Service) Versions(ctx context.Context, p Principal, appID string) ([]Version, error) {
	if _, _, err := s.appFor(ctx, p, appID, RoleViewer); err != nil {
		return nil, err
	}
	return s.st.ListVersions(ctx, appID)
}

// VersionState is an app as of a version.
type VersionState struct {
	Version Version
	Meta    map[string]any
	Tree    *canvas.Tree
}

// VersionAt returns the app as it was at a version (viewers).
func (s *Service) VersionAt(ctx context.Context, p Principal, appID, versionID string) (VersionState, error) {
	if _, _, err := s.appFor(ctx, p, appID, RoleViewer); err != nil {
		return VersionState{}, err
	}
	v, doc, err := s.docAt(ctx, appID, versionID)
	if err != nil {
		return VersionState{}, err
	}
	meta, _ := doc.Get("meta")
	m, _ := meta.(map[string]any)
	tree, _ := canvas.Materialize(doc)
	return VersionState{Version: v, Meta: m, Tree: tree}, nil
}

// docAt returns a copy of the document at a version (or now, for
// CurrentVersion).
func (s *Service) docAt(ctx context.Context, appID, versionID string) (Version, *crdt.Doc, error) {
	if versionID == CurrentVersion {
		doc, err := s.snapshot(ctx, appID)
		if err != nil {
			return Version{}, nil, err
		}
		return Version{ID: CurrentVersion, AppID: appID, Label: "current", Heads: headStrings(doc.Heads())}, doc, nil
	}
	v, err := s.st.GetVersion(ctx, appID, versionID)
	if err != nil {
		return Version{}, nil, err
	}
	heads, err := parseHeads(v.Heads)
	if err != nil {
		return Version{}, nil, err
	}
	doc, err := s.snapshot(ctx, appID, heads...)
	return v, doc, err
}

// ComponentChange is a component present in both states of a diff whose
// fields differ.
type ComponentChange struct {
	ID     string
	Fields []string // type, page, parent, index, props, layout, style, bindings, handlers
	Before canvas.Component
	After  canvas.Component
}

// Diff is what changed between two states of an app.
type Diff struct {
	From, To     Version
	Added        []canvas.Component
	Removed      []canvas.Component
	Changed      []ComponentChange
	PagesAdded   []string
	PagesRemoved []string
	PagesChanged []string
}

// DiffVersions compares two versions (either may be CurrentVersion),
// component by component, from materialized trees (viewers).
func (s *Service) DiffVersions(ctx context.Context, p Principal, appID, from, to string) (Diff, error) {
	if _, _, err := s.appFor(ctx, p, appID, RoleViewer); err != nil {
		return Diff{}, err
	}
	fv, fdoc, err := s.docAt(ctx, appID, from)
	if err != nil {
		return Diff{}, err
	}
	tv, tdoc, err := s.docAt(ctx, appID, to)
	if err != nil {
		return Diff{}, err
	}
	a, _ := canvas.Materialize(fdoc)
	b, _ := canvas.Materialize(tdoc)
	d := diffTrees(a, b)
	d.From, d.To = fv, tv
	return d, nil
}

func diffTrees(a, b *canvas.Tree) Diff {
	d := Diff{Added: []canvas.Component{}, Removed: []canvas.Component{}, Changed: []ComponentChange{},
		PagesAdded: []string{}, PagesRemoved: []string{}, PagesChanged: []string{}}
	ca, cb := components(a), components(b)
	for _, id := range sortedKeys(cb) {
		after := cb[id]
		before, ok := ca[id]
		if !ok {
			d.Added = append(d.Added, after)
			continue
		}
		if f := changedFields(before, after); len(f) > 0 {
			d.Changed = append(d.Changed, ComponentChange{ID: id, Fields: f, Before: before, After: after})
		}
	}
	for _, id := range sortedKeys(ca) {
		if _, ok := cb[id]; !ok {
			d.Removed = append(d.Removed, ca[id])
		}
	}
	pa, pb := pages(a), pages(b)
	for _, id := range sortedKeys(pb) {
		if old, ok := pa[id]; !ok {
			d.PagesAdded = append(d.PagesAdded, id)
		} else if old != pb[id] {
			d.PagesChanged = append(d.PagesChanged, id)
		}
	}
	for _, id := range sortedKeys(pa) {
		if _, ok := pb[id]; !ok {
			d.PagesRemoved = append(d.PagesRemoved, id)
		}
	}
	return d
}

func components(t *canvas.Tree) map[string]canvas.Component {
	out := map[string]canvas.Component{}
	var walk func(ns []*canvas.Node)
	walk = func(ns []*canvas.Node) {
		for _, n := range ns {
			out[n.ID] = n.Component
			walk(n.Children)
		}
	}
	for _, p := range t.Pages {
		walk(p.Children)
	}
	return out
}

type pageInfo struct{ name, route, index string }

func pages(t *canvas.Tree) map[string]pageInfo {
	out := map[string]pageInfo{}
	for _, p := range t.Pages {
		out[p.ID] = pageInfo{p.Name, p.Route, p.Index}
	}
	return out
}

func changedFields(a, b canvas.Component) []string {
	var out []string
	for _, f := range []struct {
		name string
		x, y any
	}{
		{"type", a.Type, b.Type}, {"page", a.Page, b.Page}, {"parent", a.Parent, b.Parent}, {"index", a.Index, b.Index},
		{"props", a.Props, b.Props}, {"layout", a.Layout, b.Layout}, {"style", a.Style, b.Style},
		{"bindings", a.Bindings, b.Bindings}, {"handlers", a.Handlers, b.Handlers},
	} {
		if !sameJSON(f.x, f.y) {
			out = append(out, f.name)
		}
	}
	return out
}

// sameJSON compares plain values as JSON, so every number kind of the
// document compares by value and map order does not matter.
func sameJSON(x, y any) bool {
	a, err1 := json.Marshal(x)
	b, err2 := json.Marshal(y)
	return err1 == nil && err2 == nil && string(a) == string(b)
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}
