package canvas

import (
	"encoding/json"
	"fmt"
	"math"
	"net/url"
	"regexp"
	"slices"
	"strings"
	"unicode/utf8"
)

// PropType is the kind of value a property holds.
type PropType string

// The property types of the registry.
const (
	TypeString PropType = "string"
	TypeNumber PropType = "number"
	TypeBool   PropType = "bool"
	TypeEnum   PropType = "enum"  // a string out of Values
	TypeColor  PropType = "color" // #hex, rgb()/hsl(), a CSS name, $token or var(--token)
	TypeURL    PropType = "url"   // http(s), mailto, tel, data:image/ or relative
	TypeJSON   PropType = "json"  // any JSON value
	TypeArray  PropType = "array" // a JSON array
)

// PropSchema describes one property of a component type (or one layout or
// style key).
type PropSchema struct {
	Name        string   `json:"name"`
	Type        PropType `json:"type"`
	Default     any      `json:"default,omitempty"`
	Values      []string `json:"values,omitempty"` // allowed values of an enum
	Required    bool     `json:"required,omitempty"`
	Min         *float64 `json:"min,omitempty"`
	Max         *float64 `json:"max,omitempty"`
	Description string   `json:"description,omitempty"`
}

// ComponentType describes one kind of component.
type ComponentType struct {
	Type          string         `json:"type"`
	Category      string         `json:"category"` // layout, content, inputs or data
	Description   string         `json:"description"`
	Container     bool           `json:"container"` // whether it can have children
	Props         []PropSchema   `json:"props"`
	Events        []string       `json:"events"` // events a handler can be bound to
	DefaultLayout map[string]any `json:"defaultLayout"`
}

// Prop returns the schema of the named property.
func (t ComponentType) Prop(name string) (PropSchema, bool) {
	for _, p := range t.Props {
		if p.Name == name {
			return p, true
		}
	}
	return PropSchema{}, false
}

// RegistryView is a read-only view of the component registry. Everything
// it returns is a copy.
type RegistryView struct {
	types  []ComponentType
	byName map[string]int
	layout []PropSchema
	style  []PropSchema
}

var registry = newRegistry(componentTypes(), layoutKeys(), styleKeys())

// Registry returns the component registry.
func Registry() *RegistryView { return registry }

func newRegistry(types []ComponentType, layout, style []PropSchema) *RegistryView {
	r := &RegistryView{types: types, byName: make(map[string]int), layout: layout, style: style}
	for i, t := range types {
		r.byName[t.Type] = i
	}
	return r
}

// Lookup returns the named component type.
func (r *RegistryView) Lookup(typ string) (ComponentType, bool) {
	t, ok := r.get(typ)
	if !ok {
		return ComponentType{}, false
	}
	return t.clone(), true
}

// Types returns every component type in registry order.
func (r *RegistryView) Types() []ComponentType {
	out := make([]ComponentType, len(r.types))
	for i, t := range r.types {
		out[i] = t.clone()
	}
	return out
}

// Layout returns the schema of the keys allowed in a component's layout.
func (r *RegistryView) Layout() []PropSchema { return cloneSchemas(r.layout) }

// Style returns the schema of the keys allowed in a component's style.
func (r *RegistryView) Style() []PropSchema { return cloneSchemas(r.style) }

// MarshalJSON encodes the registry for the builder page and the AI prompt:
// {"schema":1,"components":[…],"layout":[…],"style":[…]}.
func (r *RegistryView) MarshalJSON() ([]byte, error) {
	return json.Marshal(struct {
		Schema     int             `json:"schema"`
		Components []ComponentType `json:"components"`
		Layout     []PropSchema    `json:"layout"`
		Style      []PropSchema    `json:"style"`
	}{SchemaVersion, r.types, r.layout, r.style})
}

func (r *RegistryView) get(typ string) (*ComponentType, bool) {
	i, ok := r.byName[typ]
	if !ok {
		return nil, false
	}
	return &r.types[i], true
}

func (t ComponentType) clone() ComponentType {
	t.Props = cloneSchemas(t.Props)
	t.Events = slices.Clone(t.Events)
	t.DefaultLayout = cloneMap(t.DefaultLayout)
	return t
}

func cloneSchemas(ps []PropSchema) []PropSchema {
	out := slices.Clone(ps)
	for i := range out {
		out[i].Default = cloneValue(out[i].Default)
		out[i].Values = slices.Clone(out[i].Values)
	}
	return out
}

func schemaOf(ps []PropSchema, name string) (PropSchema, bool) {
	for _, p := range ps {
		if p.Name == name {
			return p, true
		}
	}
	return PropSchema{}, false
}

const maxStringLen = 1 << 16

var (
	hexColor  = regexp.MustCompile(`^#([0-9a-fA-F]{3,4}|[0-9a-fA-F]{6}|[0-9a-fA-F]{8})$`)
	funcColor = regexp.MustCompile(`^(rgb|rgba|hsl|hsla)\([0-9.,%\s/a-z]+\)$`)
	nameColor = regexp.MustCompile(`^[a-zA-Z]{3,24}$`)
	tokenRef  = regexp.MustCompile(`^(\$[a-zA-Z][a-zA-Z0-9_.-]{0,63}|var\(--[a-zA-Z0-9_-]{1,64}\))$`)
)

// Check validates v against the schema and returns it normalized (numbers
// become float64), or a reason why it is invalid.
func (s PropSchema) Check(v any) (any, error) {
	v, err := plainJSON(v, 0)
	if err != nil {
		return nil, err
	}
	switch s.Type {
	case TypeString:
		return checkString(v)
	case TypeNumber:
		f, ok := v.(float64)
		if !ok {
			return nil, fmt.Errorf("want a number, got %s", kindOf(v))
		}
		if s.Min != nil && f < *s.Min || s.Max != nil && f > *s.Max {
			return nil, fmt.Errorf("%v is out of range [%v, %v]", f, deref(s.Min), deref(s.Max))
		}
		return f, nil
	case TypeBool:
		if _, ok := v.(bool); !ok {
			return nil, fmt.Errorf("want a bool, got %s", kindOf(v))
		}
		return v, nil
	case TypeEnum:
		str, ok := v.(string)
		if !ok || !slices.Contains(s.Values, str) {
			return nil, fmt.Errorf("want one of %s", strings.Join(s.Values, ", "))
		}
		return v, nil
	case TypeColor:
		str, ok := v.(string)
		if !ok || !(hexColor.MatchString(str) || funcColor.MatchString(str) ||
			nameColor.MatchString(str) || tokenRef.MatchString(str)) {
			return nil, fmt.Errorf("want a color (#hex, rgb(), hsl(), a name or $token), got %v", v)
		}
		return v, nil
	case TypeURL:
		return checkURL(v)
	case TypeJSON:
		return v, nil
	case TypeArray:
		if _, ok := v.([]any); !ok {
			return nil, fmt.Errorf("want an array, got %s", kindOf(v))
		}
		return v, nil
	}
	return nil, fmt.Errorf("schema has unknown type %q", s.Type)
}

func checkString(v any) (any, error) {
	str, ok := v.(string)
	if !ok {
		return nil, fmt.Errorf("want a string, got %s", kindOf(v))
	}
	if len(str) > maxStringLen {
		return nil, fmt.Errorf("string longer than %d bytes", maxStringLen)
	}
	return v, nil
}

func checkURL(v any) (any, error) {
	str, ok := v.(string)
	if !ok {
		return nil, fmt.Errorf("want a URL string, got %s", kindOf(v))
	}
	switch {
	case str == "", strings.HasPrefix(str, "data:image/"):
		return v, nil
	case strings.HasPrefix(str, "/") && !strings.HasPrefix(str, "//"),
		strings.HasPrefix(str, "#"), strings.HasPrefix(str, "./"), strings.HasPrefix(str, "?"):
		if _, err := url.Parse(str); err == nil {
			return v, nil
		}
	default:
		u, err := url.Parse(str)
		if err == nil && slices.Contains([]string{"http", "https", "mailto", "tel"}, strings.ToLower(u.Scheme)) {
			return v, nil
		}
	}
	return nil, fmt.Errorf("want an http(s), mailto, tel, data:image or relative URL, got %q", truncate(str, 80))
}

// plainJSON checks that v is a JSON value (nil, bool, number, string,
// []any, map[string]any) and returns it with every number as float64.
func plainJSON(v any, depth int) (any, error) {
	if depth > 32 {
		return nil, fmt.Errorf("value nested deeper than 32 levels")
	}
	switch x := v.(type) {
	case nil, bool:
		return v, nil
	case string:
		if !utf8.ValidString(x) {
			return nil, fmt.Errorf("string is not valid UTF-8")
		}
		return v, nil
	case float64:
		if math.IsNaN(x) || math.IsInf(x, 0) {
			return nil, fmt.Errorf("number is not finite")
		}
		return x, nil
	case float32:
		return plainJSON(float64(x), depth)
	case int:
		return float64(x), nil
	case int64:
		return float64(x), nil
	case uint64:
		return float64(x), nil
	case json.Number:
		f, err := x.Float64()
		if err != nil {
			return nil, fmt.Errorf("bad number %q", x)
		}
		return plainJSON(f, depth)
	case []any:
		out := make([]any, len(x))
		for i, e := range x {
			n, err := plainJSON(e, depth+1)
			if err != nil {
				return nil, err
			}
			out[i] = n
		}
		return out, nil
	case map[string]any:
		out := make(map[string]any, len(x))
		for k, e := range x {
			n, err := plainJSON(e, depth+1)
			if err != nil {
				return nil, err
			}
			out[k] = n
		}
		return out, nil
	}
	return nil, fmt.Errorf("%T is not a JSON value", v)
}

func kindOf(v any) string {
	switch v.(type) {
	case nil:
		return "null"
	case bool:
		return "bool"
	case float64:
		return "number"
	case string:
		return "string"
	case []any:
		return "array"
	case map[string]any:
		return "object"
	}
	return fmt.Sprintf("%T", v)
}

func deref(f *float64) any {
	if f == nil {
		return "∞"
	}
	return *f
}

func cloneMap(m map[string]any) map[string]any {
	if m == nil {
		return nil
	}
	out := make(map[string]any, len(m))
	for k, v := range m {
		out[k] = cloneValue(v)
	}
	return out
}

func cloneValue(v any) any {
	switch x := v.(type) {
	case map[string]any:
		return cloneMap(x)
	case []any:
		out := make([]any, len(x))
		for i, e := range x {
			out[i] = cloneValue(e)
		}
		return out
	}
	return v
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "…"
}
