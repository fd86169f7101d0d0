package canvas

import (
	"strings"
	"testing"
)

func TestBindingsAndEvents(t *testing.T) {
	d := newTestApp(t, "counter")
	must(t, SetBinding(d, Actor{}, "title", "text", "'Count: ' + state.count"))
	must(t, BindEvent(d, Actor{}, "decrement", "click", "zero"))
	tr, _ := Materialize(d)
	if tr.Node("title").Bindings["text"] != "'Count: ' + state.count" || tr.Node("decrement").Handlers["click"] != "zero" {
		t.Fatalf("bindings %v handlers %v", tr.Node("title").Bindings, tr.Node("decrement").Handlers)
	}
	must(t, UnsetBinding(d, Actor{}, "title", "text"))
	must(t, UnbindEvent(d, Actor{}, "decrement", "click"))
	must(t, UnsetBinding(d, Actor{}, "title", "text")) // absent: no-op
	tr, _ = Materialize(d)
	if len(tr.Node("title").Bindings) != 0 || len(tr.Node("decrement").Handlers) != 0 {
		t.Fatalf("bindings %v handlers %v", tr.Node("title").Bindings, tr.Node("decrement").Handlers)
	}
	assertValid(t, d)
}

func TestHandlers(t *testing.T) {
	d := newTestApp(t, "counter")
	id, err := SetHandler(d, Actor{}, HandlerSpec{Name: "double", Lang: "js", Source: "state.count *= 2",
		Limits: map[string]any{"timeoutMs": 500}})
	must(t, err)
	if !strings.HasPrefix(id, "handler-") {
		t.Fatalf("id %q", id)
	}
	// Replacing the source splices the Text: a concurrent edit elsewhere
	// in the source survives.
	other, err := d.Fork()
	must(t, err)
	commit(t, d)
	_, err = SetHandler(d, Actor{}, HandlerSpec{ID: id, Name: "double", Lang: "js", Source: "state.count *= 2;"})
	must(t, err)
	must(t, other.SpliceText([]any{"handlers", id, "source"}, 0, 0, "// x2\n"))
	commit(t, d)
	commit(t, other)
	must(t, d.Merge(other))
	if src := get(t, d, "handlers", id, "source"); src != "// x2\nstate.count *= 2;" {
		t.Fatalf("merged source = %q", src)
	}
	if get(t, d, "handlers", id, "limits") != nil {
		t.Fatal("limits not removed on replace")
	}
	_, err = SetHandler(d, Actor{}, HandlerSpec{ID: "mod", Name: "mod", Lang: "wasm", Module: "sha256:" + strings.Repeat("ab", 32)})
	must(t, err)
	must(t, DeleteHandler(d, Actor{}, "inc"))
	if get(t, d, "handlers", "inc") != nil || get(t, d, "components", "increment", "handlers", "click") != nil {
		t.Fatal("handler or its event binding left behind")
	}
	assertValid(t, d)
}

func TestThemeTokens(t *testing.T) {
	d := newTestApp(t, "counter")
	must(t, SetThemeTokens(d, Actor{}, map[string]any{"accent": "#ff0000", "space.md": 12, "font": nil}))
	tokens := get(t, d, "theme", "tokens").(map[string]any)
	if tokens["accent"] != "#ff0000" || tokens["space.md"] != 12.0 || tokens["font"] != nil || tokens["primary"] == nil {
		t.Fatalf("tokens = %v", tokens)
	}
}

func TestBindingHandlerThemeErrors(t *testing.T) {
	d := newTestApp(t, "counter")
	js := func(h HandlerSpec) func() error {
		return func() error { _, err := SetHandler(d, Actor{}, h); return err }
	}
	cases := []struct {
		name string
		f    func() error
		want error
	}{
		{"binding unknown component", func() error { return SetBinding(d, Actor{}, "nope", "text", "x") }, ErrUnknownComponent},
		{"binding unknown prop", func() error { return SetBinding(d, Actor{}, "title", "nope", "x") }, ErrInvalidBinding},
		{"binding empty expr", func() error { return SetBinding(d, Actor{}, "title", "text", "") }, ErrInvalidBinding},
		{"unset binding unknown component", func() error { return UnsetBinding(d, Actor{}, "nope", "text") }, ErrUnknownComponent},
		{"event unknown component", func() error { return BindEvent(d, Actor{}, "nope", "click", "inc") }, ErrUnknownComponent},
		{"event the type lacks", func() error { return BindEvent(d, Actor{}, "title", "submit", "inc") }, ErrInvalidEvent},
		{"event unknown handler", func() error { return BindEvent(d, Actor{}, "increment", "click", "nope") }, ErrUnknownHandler},
		{"unbind unknown component", func() error { return UnbindEvent(d, Actor{}, "nope", "click") }, ErrUnknownComponent},
		{"handler bad lang", js(HandlerSpec{Name: "f", Lang: "python"}), ErrInvalidHandler},
		{"handler bad name", js(HandlerSpec{Name: "two words", Lang: "js"}), ErrInvalidHandler},
		{"handler bad id", js(HandlerSpec{ID: "a b", Name: "f", Lang: "js"}), ErrInvalidID},
		{"js with module", js(HandlerSpec{Name: "f", Lang: "js", Module: "sha256:00"}), ErrInvalidHandler},
		{"wasm with source", js(HandlerSpec{Name: "f", Lang: "wasm", Source: "x"}), ErrInvalidHandler},
		{"wasm bad hash", js(HandlerSpec{Name: "f", Lang: "wasm", Module: "md5:abc"}), ErrInvalidHandler},
		{"unknown limit", js(HandlerSpec{Name: "f", Lang: "js", Limits: map[string]any{"cpus": 2}}), ErrInvalidHandler},
		{"limit out of range", js(HandlerSpec{Name: "f", Lang: "js", Limits: map[string]any{"timeoutMs": 0}}), ErrInvalidHandler},
		{"delete unknown handler", func() error { return DeleteHandler(d, Actor{}, "nope") }, ErrUnknownHandler},
		{"theme bad name", func() error { return SetThemeTokens(d, Actor{}, map[string]any{"9lives": "x"}) }, ErrInvalidTheme},
		{"theme bad value", func() error { return SetThemeTokens(d, Actor{}, map[string]any{"ok": "x", "bad": []any{1}}) }, ErrInvalidTheme},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) { wantErr(t, unchanged(t, d, c.f), c.want) })
	}
}
