package canvas

import (
	"regexp"
	"slices"

	"github.com/casual-dev/casual/crdt"
)

const maxExprLen = 4096

// SetBinding binds a prop of a component to an expression evaluated
// against the app state (for example "state.count").
func SetBinding(doc *crdt.Doc, actor Actor, id, prop, expr string) error {
	return edit(doc, actor, func(p *plan) error {
		n := p.a.tree().Node(id)
		if n == nil {
			return errf(ErrUnknownComponent, "%q", id)
		}
		typ, ok := registry.get(n.Type)
		if !ok {
			return errf(ErrUnknownType, "component %s has type %q", id, n.Type)
		}
		if _, ok := typ.Prop(prop); !ok {
			return errf(ErrInvalidBinding, "%s has no prop %q", n.Type, prop)
		}
		if expr == "" || !validText(expr, maxExprLen) {
			return errf(ErrInvalidBinding, "expression for %s.%s must be 1-%d bytes of text", id, prop, maxExprLen)
		}
		return p.set([]any{"components", id, "bindings", prop}, expr)
	})
}

// UnsetBinding removes a binding; removing an absent one does nothing.
func UnsetBinding(doc *crdt.Doc, actor Actor, id, prop string) error {
	return edit(doc, actor, func(p *plan) error {
		if p.a.tree().Node(id) == nil {
			return errf(ErrUnknownComponent, "%q", id)
		}
		return p.del([]any{"components", id, "bindings", prop})
	})
}

// BindEvent makes an event of a component (one its type lists) run a
// handler.
func BindEvent(doc *crdt.Doc, actor Actor, id, event, handler string) error {
	return edit(doc, actor, func(p *plan) error {
		n := p.a.tree().Node(id)
		if n == nil {
			return errf(ErrUnknownComponent, "%q", id)
		}
		typ, ok := registry.get(n.Type)
		if !ok {
			return errf(ErrUnknownType, "component %s has type %q", id, n.Type)
		}
		if !slices.Contains(typ.Events, event) {
			return errf(ErrInvalidEvent, "%s has no event %q (it has %v)", n.Type, event, typ.Events)
		}
		if p.a.handlers[handler] == nil {
			return errf(ErrUnknownHandler, "%q", handler)
		}
		return p.set([]any{"components", id, "handlers", event}, handler)
	})
}

// UnbindEvent removes an event's handler; removing an absent one does
// nothing.
func UnbindEvent(doc *crdt.Doc, actor Actor, id, event string) error {
	return edit(doc, actor, func(p *plan) error {
		if p.a.tree().Node(id) == nil {
			return errf(ErrUnknownComponent, "%q", id)
		}
		return p.del([]any{"components", id, "handlers", event})
	})
}

// HandlerSpec describes app logic: JavaScript source (kept as
// collaborative Text) or an uploaded WASM module by blob hash.
type HandlerSpec struct {
	ID     string // optional; generated as handler-XXXXXXXX when empty
	Name   string
	Lang   string // "js" or "wasm"
	Source string // js only
	Module string // wasm only: "sha256:<64 hex>"
	Limits map[string]any
}

var (
	handlerName = regexp.MustCompile(`^[A-Za-z_$][A-Za-z0-9_$]{0,63}$`)
	moduleHash  = regexp.MustCompile(`^sha256:[0-9a-f]{64}$`)
	limitKeys   = []PropSchema{
		num("timeoutMs", 0, ptr(1), ptr(600_000)),
		num("memoryMb", 0, ptr(1), ptr(4096)),
		num("outputBytes", 0, ptr(1), ptr(64<<20)),
	}
)

const maxSourceLen = 1 << 20

// SetHandler creates or replaces a handler and returns its id. Replacing
// edits the existing source Text by its differing part only.
func SetHandler(doc *crdt.Doc, actor Actor, spec HandlerSpec) (id string, err error) {
	err = edit(doc, actor, func(p *plan) error {
		id, err = p.setHandler(spec)
		return err
	})
	if err != nil {
		return "", err
	}
	return id, nil
}

func (p *plan) setHandler(spec HandlerSpec) (string, error) {
	id := spec.ID
	if id == "" {
		id = newID("handler", p.a.handlers, p.actor.Rand)
	} else if err := checkID("handler", id); err != nil {
		return "", err
	}
	h, err := checkHandler(spec)
	if err != nil {
		return "", err
	}
	if p.a.handlers[id] == nil {
		return id, p.set([]any{"handlers", id}, h)
	}
	for _, k := range []string{"name", "lang", "source", "module", "limits"} {
		path := []any{"handlers", id, k}
		if v, ok := h[k]; ok {
			err = p.set(path, v)
		} else {
			err = p.del(path)
		}
		if err != nil {
			return "", err
		}
	}
	return id, nil
}

func checkHandler(spec HandlerSpec) (map[string]any, error) {
	if !handlerName.MatchString(spec.Name) {
		return nil, errf(ErrInvalidHandler, "name %q: want an identifier of at most 64 characters", truncate(spec.Name, 80))
	}
	h := map[string]any{"name": spec.Name, "lang": spec.Lang}
	switch spec.Lang {
	case "js":
		if spec.Module != "" {
			return nil, errf(ErrInvalidHandler, "a js handler has source, not a module")
		}
		if !validText(spec.Source, maxSourceLen) && spec.Source != "" {
			return nil, errf(ErrInvalidHandler, "source must be at most %d bytes of text", maxSourceLen)
		}
		h["source"] = spec.Source
	case "wasm":
		if spec.Source != "" {
			return nil, errf(ErrInvalidHandler, "a wasm handler has a module, not source")
		}
		if !moduleHash.MatchString(spec.Module) {
			return nil, errf(ErrInvalidHandler, "module %q: want sha256:<64 lowercase hex>", truncate(spec.Module, 80))
		}
		h["module"] = spec.Module
	default:
		return nil, errf(ErrInvalidHandler, "lang %q: want js or wasm", spec.Lang)
	}
	if len(spec.Limits) > 0 {
		limits := make(map[string]any, len(spec.Limits))
		for _, k := range sortedKeys(spec.Limits) {
			s, ok := schemaOf(limitKeys, k)
			if !ok {
				return nil, errf(ErrInvalidHandler, "unknown limit %q (want timeoutMs, memoryMb, outputBytes)", k)
			}
			v, err := s.Check(spec.Limits[k])
			if err != nil {
				return nil, errf(ErrInvalidHandler, "limit %s: %v", k, err)
			}
			limits[k] = v
		}
		h["limits"] = limits
	}
	return h, nil
}

// DeleteHandler deletes a handler and unbinds every event that ran it.
func DeleteHandler(doc *crdt.Doc, actor Actor, id string) error {
	return edit(doc, actor, func(p *plan) error {
		if p.a.handlers[id] == nil {
			return errf(ErrUnknownHandler, "%q", id)
		}
		for _, cid := range sortedKeys(p.a.comps) {
			hs := getMap(p.a.comps[cid], "handlers")
			for _, ev := range sortedKeys(hs) {
				if hs[ev] == id {
					if err := p.del([]any{"components", cid, "handlers", ev}); err != nil {
						return err
					}
				}
			}
		}
		return p.del([]any{"handlers", id})
	})
}

var tokenName = regexp.MustCompile(`^[A-Za-z][A-Za-z0-9_.-]{0,63}$`)

// SetThemeTokens sets design tokens (strings or numbers, for example
// "primary": "#4f46e5"); a nil value unsets one.
func SetThemeTokens(doc *crdt.Doc, actor Actor, tokens map[string]any) error {
	return edit(doc, actor, func(p *plan) error {
		for _, k := range sortedKeys(tokens) {
			if !tokenName.MatchString(k) {
				return errf(ErrInvalidTheme, "name %q", truncate(k, 80))
			}
			switch v := tokens[k].(type) {
			case nil:
			case string:
				if !validText(v, 1024) {
					return errf(ErrInvalidTheme, "%s: value must be at most 1024 bytes of text", k)
				}
			default:
				if _, err := num(k, 0, nil, nil).Check(v); err != nil {
					return errf(ErrInvalidTheme, "%s: want a string or a number: %v", k, err)
				}
			}
		}
		for _, k := range sortedKeys(tokens) {
			path := []any{"theme", "tokens", k}
			var err error
			if tokens[k] == nil {
				err = p.del(path)
			} else {
				v, _ := plainJSON(tokens[k], 0)
				err = p.set(path, v)
			}
			if err != nil {
				return err
			}
		}
		return nil
	})
}
