package canvas

import (
	"encoding/json"
	"slices"
	"strings"
	"testing"
)

func TestRegistryHasTheIssueTypes(t *testing.T) {
	want := map[string][]string{
		"layout":  {"container", "stack", "grid", "card", "tabs", "modal", "divider", "spacer"},
		"content": {"text", "heading", "markdown", "image", "icon", "link", "badge", "avatar", "code"},
		"inputs":  {"button", "input", "textarea", "select", "checkbox", "radio", "switch", "slider", "date", "file"},
		"data":    {"table", "list", "chart", "form", "progress", "stat"},
	}
	types := Registry().Types()
	if len(types) < 30 {
		t.Fatalf("%d types, want >= 30", len(types))
	}
	for cat, names := range want {
		for _, n := range names {
			ct, ok := Registry().Lookup(n)
			if !ok || ct.Category != cat {
				t.Errorf("type %q: found %v, category %q, want %q", n, ok, ct.Category, cat)
			}
		}
	}
}

func TestRegistryDefaultsPassTheirSchemas(t *testing.T) {
	check := func(where string, ps []PropSchema) {
		for _, p := range ps {
			if d, _ := p.Default.(string); p.Type == TypeEnum && !slices.Contains(p.Values, d) {
				t.Errorf("%s.%s: enum default %v not in %v", where, p.Name, p.Default, p.Values)
			}
			if p.Default == nil {
				continue
			}
			if _, err := p.Check(p.Default); err != nil {
				t.Errorf("%s.%s: default %v: %v", where, p.Name, p.Default, err)
			}
		}
	}
	for _, ct := range Registry().Types() {
		check(ct.Type, ct.Props)
		for k, v := range ct.DefaultLayout {
			s, ok := schemaOf(Registry().Layout(), k)
			if !ok {
				t.Errorf("%s: default layout key %q unknown", ct.Type, k)
			} else if _, err := s.Check(v); err != nil {
				t.Errorf("%s: default layout %s: %v", ct.Type, k, err)
			}
		}
	}
	check("layout", Registry().Layout())
	check("style", Registry().Style())
}

func TestRegistryIsImmutable(t *testing.T) {
	ct, _ := Registry().Lookup("select")
	ct.Props[0].Name = "hacked"
	ct.Events[0] = "hacked"
	for i := range ct.Props {
		if arr, ok := ct.Props[i].Default.([]any); ok && len(arr) > 0 {
			arr[0] = "hacked"
		}
	}
	Registry().Types()[0].Props = nil
	again, _ := Registry().Lookup("select")
	b, _ := json.Marshal(again)
	if slices.Contains(again.Events, "hacked") || again.Props[0].Name == "hacked" || strings.Contains(string(b), "hacked") {
		t.Fatalf("registry changed through a returned copy: %s", b)
	}
}

func TestRegistryMarshalsAsJSON(t *testing.T) {
	b, err := json.Marshal(Registry())
	if err != nil {
		t.Fatal(err)
	}
	var got struct {
		Schema     int             `json:"schema"`
		Components []ComponentType `json:"components"`
		Layout     []PropSchema    `json:"layout"`
		Style      []PropSchema    `json:"style"`
	}
	if err := json.Unmarshal(b, &got); err != nil {
		t.Fatal(err)
	}
	if got.Schema != SchemaVersion || len(got.Components) != len(Registry().Types()) || len(got.Layout) == 0 || len(got.Style) == 0 {
		t.Fatalf("decoded registry = schema %d, %d types, %d layout, %d style", got.Schema, len(got.Components), len(got.Layout), len(got.Style))
	}
	btn := got.Components[slices.IndexFunc(got.Components, func(c ComponentType) bool { return c.Type == "button" })]
	label, _ := btn.Prop("label")
	if !label.Required || label.Default != "Button" || label.Type != TypeString {
		t.Fatalf("button.label = %+v", label)
	}
}

func TestPropSchemaCheck(t *testing.T) {
	min0, max10 := 0.0, 10.0
	cases := []struct {
		name string
		s    PropSchema
		v    any
		ok   bool
	}{
		{"string", PropSchema{Type: TypeString}, "hi", true},
		{"string rejects number", PropSchema{Type: TypeString}, 1.0, false},
		{"number from int", PropSchema{Type: TypeNumber}, 3, true},
		{"number in range", PropSchema{Type: TypeNumber, Min: &min0, Max: &max10}, 10.0, true},
		{"number out of range", PropSchema{Type: TypeNumber, Min: &min0, Max: &max10}, 11.0, false},
		{"number rejects string", PropSchema{Type: TypeNumber}, "1", false},
		{"bool", PropSchema{Type: TypeBool}, false, true},
		{"bool rejects string", PropSchema{Type: TypeBool}, "true", false},
		{"enum member", PropSchema{Type: TypeEnum, Values: []string{"a", "b"}}, "b", true},
		{"enum non-member", PropSchema{Type: TypeEnum, Values: []string{"a", "b"}}, "c", false},
		{"color hex", PropSchema{Type: TypeColor}, "#4f46e5", true},
		{"color rgb", PropSchema{Type: TypeColor}, "rgb(1, 2, 3)", true},
		{"color token", PropSchema{Type: TypeColor}, "$primary", true},
		{"color name", PropSchema{Type: TypeColor}, "rebeccapurple", true},
		{"color garbage", PropSchema{Type: TypeColor}, "#12", false},
		{"url https", PropSchema{Type: TypeURL}, "https://example.com/a.png", true},
		{"url relative", PropSchema{Type: TypeURL}, "/about", true},
		{"url javascript", PropSchema{Type: TypeURL}, "javascript:alert(1)", false},
		{"url protocol-relative", PropSchema{Type: TypeURL}, "//evil.example", false},
		{"json object", PropSchema{Type: TypeJSON}, map[string]any{"a": []any{1.0}}, true},
		{"json rejects struct", PropSchema{Type: TypeJSON}, struct{}{}, false},
		{"array", PropSchema{Type: TypeArray}, []any{"a"}, true},
		{"array rejects object", PropSchema{Type: TypeArray}, map[string]any{}, false},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, err := c.s.Check(c.v)
			if (err == nil) != c.ok {
				t.Fatalf("Check(%v) err = %v, want ok=%v", c.v, err, c.ok)
			}
		})
	}
}
