package canvas

import (
	"bytes"
	"encoding/json"
	"fmt"
	"slices"
	"strings"

	"github.com/casual-dev/casual/crdt"
)

// Op is one flat operation, the form the AI co-editor streams as JSON
// lines. "op" names the operation; the other fields it allows are:
//
//	create        id?, type, page?, parent?, before|after|index?, props?, layout?, style?
//	move          id, page?, parent?, before|after|index?
//	update        id, props?, layout?, style?   (a null value unsets a key)
//	delete        id
//	setBinding    id, prop, expr
//	unsetBinding  id, prop
//	bindEvent     id, event, handler
//	unbindEvent   id, event
//	setHandler    handler?, name, lang, source? | module?, limits?
//	deleteHandler handler
//	addPage       page?, name, route?, before|after|index?
//	renamePage    page, name?, route?
//	reorderPage   page, before|after|index?
//	deletePage    page
//	setTheme      tokens                        (a null value unsets a token)
//
// Decoding is strict: unknown ops, fields an op does not take, and values
// of the wrong JSON type are ErrInvalidOp.
type Op struct {
	Op      string         `json:"op"`
	ID      string         `json:"id,omitempty"`
	Type    string         `json:"type,omitempty"`
	Page    string         `json:"page,omitempty"`
	Parent  string         `json:"parent,omitempty"`
	Before  string         `json:"before,omitempty"`
	After   string         `json:"after,omitempty"`
	Index   *int           `json:"index,omitempty"`
	Props   map[string]any `json:"props,omitempty"`
	Layout  map[string]any `json:"layout,omitempty"`
	Style   map[string]any `json:"style,omitempty"`
	Prop    string         `json:"prop,omitempty"`
	Expr    string         `json:"expr,omitempty"`
	Event   string         `json:"event,omitempty"`
	Handler string         `json:"handler,omitempty"`
	Name    string         `json:"name,omitempty"`
	Route   string         `json:"route,omitempty"`
	Lang    string         `json:"lang,omitempty"`
	Source  string         `json:"source,omitempty"`
	Module  string         `json:"module,omitempty"`
	Limits  map[string]any `json:"limits,omitempty"`
	Tokens  map[string]any `json:"tokens,omitempty"`
}

// opFields lists, per op, the fields it takes; required ones are marked
// with a leading '!'.
var opFields = map[string][]string{
	"create":        {"id", "!type", "page", "parent", "before", "after", "index", "props", "layout", "style"},
	"move":          {"!id", "page", "parent", "before", "after", "index"},
	"update":        {"!id", "props", "layout", "style"},
	"delete":        {"!id"},
	"setBinding":    {"!id", "!prop", "!expr"},
	"unsetBinding":  {"!id", "!prop"},
	"bindEvent":     {"!id", "!event", "!handler"},
	"unbindEvent":   {"!id", "!event"},
	"setHandler":    {"handler", "!name", "!lang", "source", "module", "limits"},
	"deleteHandler": {"!handler"},
	"addPage":       {"page", "!name", "route", "before", "after", "index"},
	"renamePage":    {"!page", "name", "route"},
	"reorderPage":   {"!page", "before", "after", "index"},
	"deletePage":    {"!page"},
	"setTheme":      {"!tokens"},
}

// OpNames returns the names of the operations ParseOp accepts, sorted.
func OpNames() []string {
	names := make([]string, 0, len(opFields))
	for name := range opFields {
		names = append(names, name)
	}
	slices.Sort(names)
	return names
}

// OpFields returns the fields op takes besides "op" (their JSON names in
// Op) and which of them it requires; ok is false for an unknown op.
func OpFields(op string) (fields, required []string, ok bool) {
	all, ok := opFields[op]
	for _, f := range all {
		if name, req := strings.CutPrefix(f, "!"); req {
			fields, required = append(fields, name), append(required, name)
		} else {
			fields = append(fields, f)
		}
	}
	return fields, required, ok
}

// ParseOp decodes one JSON operation strictly.
func ParseOp(line []byte) (Op, error) {
	var op Op
	err := op.UnmarshalJSON(line)
	return op, err
}

// UnmarshalJSON decodes strictly (see Op).
func (o *Op) UnmarshalJSON(b []byte) error {
	var fields map[string]json.RawMessage
	if err := json.Unmarshal(b, &fields); err != nil {
		return errf(ErrInvalidOp, "%v", err)
	}
	var name string
	if err := json.Unmarshal(fields["op"], &name); err != nil || fields["op"] == nil {
		return errf(ErrInvalidOp, `missing or non-string "op"`)
	}
	allowed, ok := opFields[name]
	if !ok {
		return errf(ErrInvalidOp, "unknown op %q", truncate(name, 40))
	}
	for k, v := range fields {
		if k == "op" {
			continue
		}
		if !slices.Contains(allowed, k) && !slices.Contains(allowed, "!"+k) {
			return errf(ErrInvalidOp, "%s does not take %q", name, truncate(k, 40))
		}
		if k != "parent" && bytes.Equal(bytes.TrimSpace(v), []byte("null")) {
			return errf(ErrInvalidOp, "%s: %q is null", name, k)
		}
	}
	for _, k := range allowed {
		if !strings.HasPrefix(k, "!") {
			continue
		}
		switch string(bytes.TrimSpace(fields[k[1:]])) {
		case "", `""`, "{}":
			return errf(ErrInvalidOp, "%s needs a non-empty %q", name, k[1:])
		}
	}
	type plain Op // no UnmarshalJSON
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	var p plain
	if err := dec.Decode(&p); err != nil {
		return errf(ErrInvalidOp, "%s: %v", name, err)
	}
	*o = Op(p)
	return nil
}

// Apply validates and performs one operation and returns the id of what
// it created or changed (component, page or handler; empty for setTheme).
func Apply(doc *crdt.Doc, actor Actor, op Op) (string, error) {
	pos := Position{Before: op.Before, After: op.After, Index: op.Index}
	switch op.Op {
	case "create":
		return AddComponent(doc, actor, ComponentSpec{ID: op.ID, Type: op.Type, Page: op.Page, Parent: op.Parent,
			Position: pos, Props: op.Props, Layout: op.Layout, Style: op.Style})
	case "move":
		return op.ID, MoveComponent(doc, actor, MoveSpec{ID: op.ID, Page: op.Page, Parent: op.Parent, Position: pos})
	case "update":
		return op.ID, edit(doc, actor, func(p *plan) error {
			if op.Props == nil && op.Layout == nil && op.Style == nil {
				return errf(ErrInvalidOp, "update %s: give props, layout or style", op.ID)
			}
			for _, g := range []struct {
				name string
				vals map[string]any
			}{{"props", op.Props}, {"layout", op.Layout}, {"style", op.Style}} {
				if g.vals != nil {
					if err := p.update(op.ID, g.name, g.vals); err != nil {
						return err
					}
				}
			}
			return nil
		})
	case "delete":
		return op.ID, DeleteComponent(doc, actor, op.ID)
	case "setBinding":
		return op.ID, SetBinding(doc, actor, op.ID, op.Prop, op.Expr)
	case "unsetBinding":
		return op.ID, UnsetBinding(doc, actor, op.ID, op.Prop)
	case "bindEvent":
		return op.ID, BindEvent(doc, actor, op.ID, op.Event, op.Handler)
	case "unbindEvent":
		return op.ID, UnbindEvent(doc, actor, op.ID, op.Event)
	case "setHandler":
		return SetHandler(doc, actor, HandlerSpec{ID: op.Handler, Name: op.Name, Lang: op.Lang,
			Source: op.Source, Module: op.Module, Limits: op.Limits})
	case "deleteHandler":
		return op.Handler, DeleteHandler(doc, actor, op.Handler)
	case "addPage":
		return AddPage(doc, actor, PageSpec{ID: op.Page, Name: op.Name, Route: op.Route, Position: pos})
	case "renamePage":
		return op.Page, RenamePage(doc, actor, op.Page, op.Name, op.Route)
	case "reorderPage":
		return op.Page, ReorderPage(doc, actor, op.Page, pos)
	case "deletePage":
		return op.Page, DeletePage(doc, actor, op.Page)
	case "setTheme":
		return "", SetThemeTokens(doc, actor, op.Tokens)
	}
	return "", errf(ErrInvalidOp, "unknown op %q", truncate(op.Op, 40))
}

// String returns the op as JSON, for logs and commit messages.
func (o Op) String() string {
	b, err := json.Marshal(o)
	if err != nil {
		return fmt.Sprintf("op %s: %v", o.Op, err)
	}
	return string(b)
}
