package canvas

import (
	"math/rand/v2"

	"github.com/casual-dev/casual/crdt"
)

// Actor says who performs an operation and how it is recorded.
type Actor struct {
	ID   string     // recorded as meta.createdBy; defaults to the document's actor id
	Run  string     // AI run id, recorded as meta.aiRun
	Undo *Undo      // when set, the operation is recorded for this actor's undo
	Rand *rand.Rand // source of generated ids and index jitter; nil uses a shared one
}

// ComponentSpec describes a component to add. Page may be left empty when
// Parent is set (the parent's page is used) or to mean the first page.
type ComponentSpec struct {
	ID     string // optional; generated as type-XXXXXXXX when empty
	Type   string
	Page   string
	Parent string // empty: the page root
	Position
	Props  map[string]any
	Layout map[string]any // merged over the type's default layout
	Style  map[string]any
}

// MoveSpec says where to move a component. With Parent set, Page may be
// empty or must be the parent's page; without, the component goes to the
// root of Page (or of its current page when Page is empty too).
type MoveSpec struct {
	ID     string
	Page   string
	Parent string
	Position
}

// edit runs one operation: load, validate into a plan, then write.
func edit(doc *crdt.Doc, actor Actor, f func(p *plan) error) error {
	a, err := load(doc)
	if err != nil {
		return err
	}
	p := newPlan(a, actor)
	if err := f(p); err != nil {
		return err
	}
	return p.apply()
}

// AddComponent adds a component and returns its id.
func AddComponent(doc *crdt.Doc, actor Actor, spec ComponentSpec) (id string, err error) {
	err = edit(doc, actor, func(p *plan) error {
		id, err = p.addComponent(spec)
		return err
	})
	if err != nil {
		return "", err
	}
	return id, nil
}

func (p *plan) addComponent(spec ComponentSpec) (string, error) {
	typ, ok := registry.get(spec.Type)
	if !ok {
		return "", errf(ErrUnknownType, "%q", spec.Type)
	}
	id := spec.ID
	if id == "" {
		id = newID(spec.Type, p.a.comps, p.actor.Rand)
	} else if err := checkID("component", id); err != nil {
		return "", err
	} else if _, dup := p.a.comps[id]; dup {
		return "", errf(ErrDuplicateID, "component %q", id)
	}
	t := p.a.tree()
	page, err := p.target(spec.Page, spec.Parent)
	if err != nil {
		return "", err
	}
	props, err := checkGroup(id, typ, "props", typ.Props, spec.Props, false)
	if err != nil {
		return "", err
	}
	if err := fillRequired(id, typ, props); err != nil {
		return "", err
	}
	layout := cloneMap(typ.DefaultLayout)
	if layout == nil {
		layout = map[string]any{}
	}
	for k, v := range spec.Layout {
		layout[k] = v
	}
	if layout, err = checkGroup(id, typ, "layout", registry.layout, layout, false); err != nil {
		return "", err
	}
	style, err := checkGroup(id, typ, "style", registry.style, spec.Style, false)
	if err != nil {
		return "", err
	}
	pl, err := place(nodeSiblings(t.children(page, spec.Parent)), "", spec.Position, p.actor.Rand)
	if err != nil {
		return "", err
	}
	meta := map[string]any{"createdBy": p.actor.ID}
	if p.actor.ID == "" {
		meta["createdBy"] = p.a.doc.ActorID()
	}
	if p.actor.Run != "" {
		meta["aiRun"] = p.actor.Run
	}
	comp := map[string]any{
		"type": spec.Type, "page": page, "pos": posValue(spec.Parent, pl.key),
		"props": props, "layout": layout, "style": style,
		"bindings": map[string]any{}, "handlers": map[string]any{}, "meta": meta,
	}
	if err := p.set([]any{"components", id}, comp); err != nil {
		return "", err
	}
	return id, p.rebalanceSiblings(t, pl.rebalance)
}

// target validates where a component goes and returns its page.
func (p *plan) target(page, parent string) (string, error) {
	t := p.a.tree()
	if parent != "" {
		n := t.Node(parent)
		if n == nil {
			return "", errf(ErrUnknownComponent, "parent %q", parent)
		}
		if pt, ok := registry.get(n.Type); !ok || !pt.Container {
			return "", errf(ErrNotContainer, "parent %s is a %q", parent, n.Type)
		}
		if page != "" && page != n.Page {
			return "", errf(ErrInvalidPosition, "parent %s is on page %s, not %s", parent, n.Page, page)
		}
		return n.Page, nil
	}
	if page == "" {
		if len(t.Pages) == 0 || p.a.pages[t.Pages[0].ID] == nil {
			return "", errf(ErrUnknownPage, "the app has no page")
		}
		return t.Pages[0].ID, nil
	}
	if t.Page(page) == nil || p.a.pages[page] == nil {
		return "", errf(ErrUnknownPage, "%q", page)
	}
	return page, nil
}

// MoveComponent moves a component (with its subtree) to a new parent and
// position. It writes pos as one new object, and the page of every moved
// component when the page changes.
func MoveComponent(doc *crdt.Doc, actor Actor, spec MoveSpec) error {
	return edit(doc, actor, func(p *plan) error { return p.move(spec) })
}

func (p *plan) move(spec MoveSpec) error {
	t := p.a.tree()
	n := t.Node(spec.ID)
	if n == nil {
		return errf(ErrUnknownComponent, "%q", spec.ID)
	}
	page := spec.Page
	if page == "" && spec.Parent == "" {
		page = n.Page
	}
	for up := spec.Parent; up != ""; {
		if up == spec.ID {
			return errf(ErrCycle, "%s cannot move into itself or its descendant %s", spec.ID, spec.Parent)
		}
		a := t.Node(up)
		if a == nil {
			break // target reports it
		}
		up = a.Parent
	}
	page, err := p.target(page, spec.Parent)
	if err != nil {
		return err
	}
	pl, err := place(nodeSiblings(t.children(page, spec.Parent)), spec.ID, spec.Position, p.actor.Rand)
	if err != nil {
		return err
	}
	if err := p.set([]any{"components", spec.ID, "pos"}, posValue(spec.Parent, pl.key)); err != nil {
		return err
	}
	for _, d := range n.descendants() {
		if getString(p.a.comps[d.ID], "page") != page {
			if err := p.set([]any{"components", d.ID, "page"}, page); err != nil {
				return err
			}
		}
	}
	return p.rebalanceSiblings(t, pl.rebalance)
}

// UpdateProps sets props of a component; a nil value unsets one. Each
// prop is its own key, so concurrent edits of different props all survive.
func UpdateProps(doc *crdt.Doc, actor Actor, id string, props map[string]any) error {
	return edit(doc, actor, func(p *plan) error { return p.update(id, "props", props) })
}

// UpdateLayout sets layout keys of a component; a nil value unsets one.
func UpdateLayout(doc *crdt.Doc, actor Actor, id string, layout map[string]any) error {
	return edit(doc, actor, func(p *plan) error { return p.update(id, "layout", layout) })
}

// UpdateStyle sets style keys of a component; a nil value unsets one.
func UpdateStyle(doc *crdt.Doc, actor Actor, id string, style map[string]any) error {
	return edit(doc, actor, func(p *plan) error { return p.update(id, "style", style) })
}

func (p *plan) update(id, group string, vals map[string]any) error {
	n := p.a.tree().Node(id)
	if n == nil {
		return errf(ErrUnknownComponent, "%q", id)
	}
	typ, ok := registry.get(n.Type)
	if !ok {
		return errf(ErrUnknownType, "component %s has type %q", id, n.Type)
	}
	schemas := map[string][]PropSchema{"props": typ.Props, "layout": registry.layout, "style": registry.style}[group]
	checked, err := checkGroup(id, typ, group, schemas, vals, true)
	if err != nil {
		return err
	}
	for _, k := range sortedKeys(checked) {
		path := []any{"components", id, group, k}
		if checked[k] == nil {
			err = p.del(path)
		} else {
			err = p.set(path, checked[k])
		}
		if err != nil {
			return err
		}
	}
	return nil
}

// DeleteComponent deletes a component and its whole subtree.
func DeleteComponent(doc *crdt.Doc, actor Actor, id string) error {
	return edit(doc, actor, func(p *plan) error { return p.deleteComponent(id) })
}

func (p *plan) deleteComponent(id string) error {
	n := p.a.tree().Node(id)
	if n == nil {
		return errf(ErrUnknownComponent, "%q", id)
	}
	for _, d := range n.descendants() {
		if err := p.del([]any{"components", d.ID}); err != nil {
			return err
		}
	}
	return nil
}

// checkGroup validates the values of one group (props, layout or style)
// against its schemas and returns them normalized. With unset, a nil value
// means "remove" (refused for required props); otherwise nil is skipped.
func checkGroup(id string, typ *ComponentType, group string, schemas []PropSchema, vals map[string]any, unset bool) (map[string]any, error) {
	out := make(map[string]any, len(vals))
	for _, k := range sortedKeys(vals) {
		s, ok := schemaOf(schemas, k)
		if !ok {
			return nil, &PropError{id, typ.Type, group, k, "not in the registry"}
		}
		if vals[k] == nil {
			if !unset {
				continue
			}
			if s.Required {
				return nil, &PropError{id, typ.Type, group, k, "is required"}
			}
			out[k] = nil
			continue
		}
		v, err := s.Check(vals[k])
		if err != nil {
			return nil, &PropError{id, typ.Type, group, k, err.Error()}
		}
		out[k] = v
	}
	return out, nil
}

// fillRequired gives required props their default, or fails.
func fillRequired(id string, typ *ComponentType, props map[string]any) error {
	for _, s := range typ.Props {
		if _, ok := props[s.Name]; ok || !s.Required {
			continue
		}
		if s.Default == nil {
			return &PropError{id, typ.Type, "props", s.Name, "is required"}
		}
		props[s.Name] = cloneValue(s.Default)
	}
	return nil
}
