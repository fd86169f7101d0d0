package canvas

import (
	"cmp"
	"slices"

	"github.com/casual-dev/casual/crdt"
)

// Problem is one thing wrong with a document. It is an error wrapping the
// sentinel that names the kind of problem (errors.Is(p, ErrUnknownType)).
type Problem struct {
	Path string // slash-separated, such as "components/btn1/props/label"
	Err  error
}

// Error returns the path and the problem.
func (p Problem) Error() string { return p.Path + ": " + p.Err.Error() }

// Unwrap returns the underlying error.
func (p Problem) Unwrap() error { return p.Err }

// Validate checks a whole document against the schema and the registry,
// including what Materialize would repair, and returns the problems
// sorted by path (none for a valid app).
func Validate(doc *crdt.Doc) []Problem {
	a, err := load(doc)
	if err != nil {
		return []Problem{{"schema", err}}
	}
	v := &validator{a: a}
	v.topLevel()
	v.pages()
	_, repairs := buildTree(a.pages, a.comps)
	for _, r := range repairs {
		v.repair(r)
	}
	for _, id := range sortedKeys(a.comps) {
		v.component(id, a.comps[id])
	}
	for _, id := range sortedKeys(a.handlers) {
		v.handler(id, a.handlers[id])
	}
	v.theme()
	slices.SortStableFunc(v.out, func(x, y Problem) int { return cmp.Compare(x.Path, y.Path) })
	return v.out
}

type validator struct {
	a   *app
	out []Problem
}

func (v *validator) add(path string, err error) { v.out = append(v.out, Problem{path, err}) }

func (v *validator) topLevel() {
	for _, k := range []string{"meta", "pages", "components", "handlers", "state", "runs", "theme"} {
		val, err := v.a.doc.Get(k)
		if err != nil {
			v.add(k, err)
			continue
		}
		m, ok := val.(map[string]any)
		if !ok {
			v.add(k, errf(ErrCorruptDocument, "want a map, got %s", kindOf(val)))
			continue
		}
		if k == "pages" || k == "components" || k == "handlers" {
			for _, id := range sortedKeys(m) {
				if _, ok := m[id].(map[string]any); !ok {
					v.add(k+"/"+id, errf(ErrCorruptDocument, "want a map, got %s", kindOf(m[id])))
				}
			}
		}
	}
}

func (v *validator) pages() {
	routes := make(map[string]string)
	for _, id := range sortedKeys(v.a.pages) {
		m := v.a.pages[id]
		if err := checkPageName(getString(m, "name")); err != nil {
			v.add("pages/"+id+"/name", err)
		}
		route := getString(m, "route")
		if !routePattern.MatchString(route) {
			v.add("pages/"+id+"/route", errf(ErrInvalidPage, "route %q", route))
		} else if other, dup := routes[route]; dup {
			v.add("pages/"+id+"/route", errf(ErrInvalidPage, "route %q is also page %s's", route, other))
		}
		routes[route] = id
		if !ValidIndex(getString(m, "index")) {
			v.add("pages/"+id+"/index", errf(ErrInvalidIndex, "%v", m["index"]))
		}
	}
}

func (v *validator) repair(r Repair) {
	kinds := map[RepairKind]error{
		RepairOrphan: ErrUnknownComponent, RepairNotContainer: ErrNotContainer, RepairCycle: ErrCycle,
		RepairMissingPage: ErrUnknownPage, RepairPageMismatch: ErrInvalidPosition, RepairNoPages: ErrUnknownPage,
	}
	path := "pages"
	if r.Component != "" {
		path = "components/" + r.Component + "/pos"
	}
	v.add(path, errf(kinds[r.Kind], "needs repair (%s)", r.Kind))
}

func (v *validator) component(id string, m map[string]any) {
	at := "components/" + id
	typ, ok := registry.get(getString(m, "type"))
	if !ok {
		v.add(at+"/type", errf(ErrUnknownType, "%v", m["type"]))
		return
	}
	pos := getMap(m, "pos")
	if pos == nil {
		v.add(at+"/pos", errf(ErrCorruptDocument, "missing pos"))
	} else {
		if _, ok := pos["parent"].(string); !ok && pos["parent"] != nil {
			v.add(at+"/pos/parent", errf(ErrCorruptDocument, "want an id or null, got %s", kindOf(pos["parent"])))
		}
		if !ValidIndex(getString(pos, "index")) {
			v.add(at+"/pos/index", errf(ErrInvalidIndex, "%v", pos["index"]))
		}
	}
	for _, g := range []struct {
		name    string
		schemas []PropSchema
	}{{"props", typ.Props}, {"layout", registry.layout}, {"style", registry.style}} {
		vals := getMap(m, g.name)
		if _, err := checkGroup(id, typ, g.name, g.schemas, vals, false); err != nil {
			v.add(at+"/"+g.name, err)
		}
		if g.name == "props" {
			if err := requiredPresent(id, typ, vals); err != nil {
				v.add(at+"/props", err)
			}
		}
	}
	for _, prop := range sortedKeys(getMap(m, "bindings")) {
		expr, _ := getMap(m, "bindings")[prop].(string)
		if _, ok := typ.Prop(prop); !ok || expr == "" {
			v.add(at+"/bindings/"+prop, errf(ErrInvalidBinding, "binding of %q to %q", prop, expr))
		}
	}
	for _, ev := range sortedKeys(getMap(m, "handlers")) {
		h, _ := getMap(m, "handlers")[ev].(string)
		switch {
		case !slices.Contains(typ.Events, ev):
			v.add(at+"/handlers/"+ev, errf(ErrInvalidEvent, "%s has no event %q", typ.Type, ev))
		case v.a.handlers[h] == nil:
			v.add(at+"/handlers/"+ev, errf(ErrUnknownHandler, "%q", h))
		}
	}
}

// requiredPresent reports a required prop that is missing.
func requiredPresent(id string, typ *ComponentType, props map[string]any) error {
	for _, s := range typ.Props {
		if _, ok := props[s.Name]; s.Required && !ok {
			return &PropError{id, typ.Type, "props", s.Name, "is required"}
		}
	}
	return nil
}

func (v *validator) handler(id string, m map[string]any) {
	spec := HandlerSpec{ID: id, Name: getString(m, "name"), Lang: getString(m, "lang"),
		Source: getString(m, "source"), Module: getString(m, "module"), Limits: getMap(m, "limits")}
	if _, err := checkHandler(spec); err != nil {
		v.add("handlers/"+id, err)
	}
}

func (v *validator) theme() {
	tokens, err := v.a.doc.Get("theme", "tokens")
	if err != nil {
		v.add("theme/tokens", err)
		return
	}
	m, _ := tokens.(map[string]any)
	for _, k := range sortedKeys(m) {
		switch x := m[k].(type) {
		case string, float64, int64, uint64:
			if !tokenName.MatchString(k) {
				v.add("theme/tokens/"+k, errf(ErrInvalidTheme, "name %q", k))
			}
		default:
			v.add("theme/tokens/"+k, errf(ErrInvalidTheme, "want a string or a number, got %s", kindOf(x)))
		}
	}
}
