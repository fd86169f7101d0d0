package canvas

import (
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/casual-dev/casual/crdt"
)

// Template is a starter app NewApp can create.
type Template struct {
	ID          string `json:"id"`
	Name        string `json:"name"`
	Description string `json:"description"`
}

type template struct {
	Template
	state  map[string]any
	tokens map[string]any
	ops    []Op
}

// BlankTemplate is the template of an app with one empty page.
const BlankTemplate = "blank"

// Templates lists the starter templates, blank first.
func Templates() []Template {
	out := make([]Template, len(templates))
	for i, t := range templates {
		out[i] = t.Template
	}
	return out
}

// NewApp turns an empty document into an app built from a template (""
// means BlankTemplate). The template is first built on a scratch document,
// so a failure leaves doc untouched. Edits are left uncommitted.
func NewApp(doc *crdt.Doc, name, templateID string) error {
	if templateID == "" {
		templateID = BlankTemplate
	}
	i := slices.IndexFunc(templates, func(t template) bool { return t.ID == templateID })
	if i < 0 {
		return errf(ErrUnknownTemplate, "%q", templateID)
	}
	if v, err := Version(doc); !errors.Is(err, ErrNotInitialized) {
		return errf(ErrAlreadyInitialized, "document has content (schema version %d, %v)", v, err)
	}
	if name == "" {
		name = templates[i].Name
	}
	if !validText(name, 200) {
		return errf(ErrInvalidOp, "app name must be at most 200 bytes of text")
	}
	if err := templates[i].build(crdt.New(), name); err != nil {
		return err
	}
	return templates[i].build(doc, name)
}

func (t template) build(doc *crdt.Doc, name string) error {
	root := map[string]any{
		"schema":     int64(SchemaVersion),
		"meta":       map[string]any{"name": name, "description": t.Description, "createdAt": time.Now().UTC().Format(time.RFC3339)},
		"pages":      map[string]any{},
		"components": map[string]any{},
		"handlers":   map[string]any{},
		"state":      cloneMap(t.state),
		"runs":       map[string]any{},
		"theme":      map[string]any{"tokens": cloneMap(t.tokens)},
	}
	for _, k := range sortedKeys(root) {
		v := root[k]
		if m, ok := v.(map[string]any); ok && m == nil {
			v = map[string]any{}
		}
		if err := doc.Set([]any{k}, v); err != nil {
			return fmt.Errorf("new app: %w", err)
		}
	}
	actor := Actor{ID: "template:" + t.ID}
	for _, op := range t.ops {
		if _, err := Apply(doc, actor, op); err != nil {
			return fmt.Errorf("template %s: %s: %w", t.ID, op, err)
		}
	}
	return nil
}

// Helpers that keep the template data below readable.
func page(id, name, route string) Op { return Op{Op: "addPage", Page: id, Name: name, Route: route} }

func root(page, id, typ string, kv ...any) Op {
	return Op{Op: "create", ID: id, Type: typ, Page: page, Props: obj(kv...)}
}

func child(parent, id, typ string, kv ...any) Op {
	return Op{Op: "create", ID: id, Type: typ, Parent: parent, Props: obj(kv...)}
}

func withLayout(op Op, kv ...any) Op { op.Layout = obj(kv...); return op }

func bind(id, prop, expr string) Op { return Op{Op: "setBinding", ID: id, Prop: prop, Expr: expr} }

func on(id, event, handler string) Op {
	return Op{Op: "bindEvent", ID: id, Event: event, Handler: handler}
}

func js(id, name, source string) Op {
	return Op{Op: "setHandler", Handler: id, Name: name, Lang: "js", Source: source}
}

var baseTokens = map[string]any{"primary": "#4f46e5", "background": "#ffffff", "text": "#111827", "radius": 8.0, "font": "Inter, system-ui, sans-serif"}

var templates = []template{
	{Template: Template{BlankTemplate, "Blank app", "One empty page."}, tokens: baseTokens,
		ops: []Op{page("home", "Home", "/")}},
	{Template: Template{"todo", "Todo list", "Add, tick off and clear tasks."}, tokens: baseTokens,
		state: map[string]any{"todos": []any{}, "draft": ""},
		ops: []Op{
			page("home", "Home", "/"),
			root("home", "title", "heading", "text", "My todos", "level", 1.0),
			withLayout(root("home", "add-row", "stack"), "direction", "row", "gap", 8.0),
			child("add-row", "draft", "input", "placeholder", "What needs doing?", "name", "draft"),
			child("add-row", "add", "button", "label", "Add"),
			root("home", "todos", "list", "emptyText", "Nothing to do"),
			child("todos", "todo-done", "checkbox"),
			root("home", "remaining", "text", "text", "0 left", "variant", "muted"),
			root("home", "clear", "button", "label", "Clear completed", "variant", "ghost"),
			js("addTodo", "addTodo", "export default function ({ state }) {\n  const title = state.draft.trim();\n  if (!title) return {};\n  return { state: { todos: [...state.todos, { title, done: false }], draft: \"\" } };\n}\n"),
			js("toggleTodo", "toggleTodo", "export default function ({ state, event }) {\n  const todos = state.todos.map((t, i) => i === event.index ? { ...t, done: !t.done } : t);\n  return { state: { todos } };\n}\n"),
			js("clearDone", "clearDone", "export default function ({ state }) {\n  return { state: { todos: state.todos.filter(t => !t.done) } };\n}\n"),
			bind("draft", "value", "state.draft"),
			bind("todos", "items", "state.todos"),
			bind("todo-done", "label", "item.title"),
			bind("todo-done", "checked", "item.done"),
			bind("remaining", "text", "`${state.todos.filter(t => !t.done).length} left`"),
			on("add", "click", "addTodo"),
			on("todo-done", "change", "toggleTodo"),
			on("clear", "click", "clearDone"),
		}},
	{Template: Template{"contact-form", "Contact form", "A form that collects a name, an email and a message."}, tokens: baseTokens,
		state: map[string]any{"sent": false},
		ops: []Op{
			page("home", "Contact", "/"),
			root("home", "title", "heading", "text", "Get in touch", "level", 1.0),
			root("home", "intro", "text", "text", "We usually answer within a day."),
			root("home", "form", "form", "submitLabel", "Send", "resetOnSubmit", true),
			child("form", "name", "input", "label", "Name", "name", "name", "required", true),
			child("form", "email", "input", "label", "Email", "name", "email", "kind", "email", "required", true),
			child("form", "message", "textarea", "label", "Message", "name", "message", "rows", 5.0),
			child("form", "send", "button", "label", "Send", "type", "submit"),
			root("home", "thanks", "text", "text", "Thanks! We got your message.", "variant", "muted"),
			js("submitContact", "submitContact", "export default function ({ input }) {\n  if (!input.email.includes(\"@\")) throw new Error(\"invalid email\");\n  return { output: { received: input }, state: { sent: true } };\n}\n"),
			on("form", "submit", "submitContact"),
			bind("thanks", "text", "state.sent ? 'Thanks! We got your message.' : ''"),
		}},
	{Template: Template{"dashboard", "Dashboard", "Key numbers, a chart and a table, with a settings page."},
		tokens: map[string]any{"primary": "#0ea5e9", "background": "#f8fafc", "text": "#0f172a", "radius": 12.0},
		state: map[string]any{"users": 1280.0, "revenue": "$24.5k", "churn": "2.1%",
			"series": []any{map[string]any{"x": "Mon", "y": 12.0}, map[string]any{"x": "Tue", "y": 19.0}, map[string]any{"x": "Wed", "y": 15.0}}},
		ops: []Op{
			page("overview", "Overview", "/"),
			page("settings", "Settings", "/settings"),
			root("overview", "title", "heading", "text", "Overview", "level", 1.0),
			withLayout(root("overview", "stats", "grid"), "columns", 3.0, "gap", 16.0),
			child("stats", "users", "stat", "label", "Users", "value", "0", "trend", "up"),
			child("stats", "revenue", "stat", "label", "Revenue", "value", "$0", "trend", "up"),
			child("stats", "churn", "stat", "label", "Churn", "value", "0%", "trend", "down"),
			root("overview", "trend-card", "card", "title", "Signups this week"),
			child("trend-card", "trend", "chart", "kind", "line", "xKey", "x", "yKey", "y"),
			root("overview", "table-card", "card", "title", "Recent customers"),
			child("table-card", "customers", "table", "columns", []any{"name", "plan", "since"},
				"rows", []any{map[string]any{"name": "Ada", "plan": "Pro", "since": "2024-01-02"}}),
			root("settings", "settings-title", "heading", "text", "Settings", "level", 1.0),
			root("settings", "dark", "switch", "label", "Dark mode", "name", "dark"),
			bind("users", "value", "String(state.users)"),
			bind("revenue", "value", "state.revenue"),
			bind("churn", "value", "state.churn"),
			bind("trend", "data", "state.series"),
		}},
	{Template: Template{"counter", "Counter", "A number with buttons to change it."}, tokens: baseTokens,
		state: map[string]any{"count": 0.0},
		ops: []Op{
			page("home", "Counter", "/"),
			root("home", "title", "heading", "text", "Counter", "level", 1.0),
			root("home", "value", "stat", "label", "Count", "value", "0"),
			withLayout(root("home", "buttons", "stack"), "direction", "row", "gap", 8.0),
			child("buttons", "decrement", "button", "label", "−", "variant", "secondary"),
			child("buttons", "increment", "button", "label", "+"),
			child("buttons", "reset", "button", "label", "Reset", "variant", "ghost"),
			js("inc", "increment", "export default function ({ state }) {\n  return { state: { count: state.count + 1 } };\n}\n"),
			js("dec", "decrement", "export default function ({ state }) {\n  return { state: { count: state.count - 1 } };\n}\n"),
			js("zero", "reset", "export default function () {\n  return { state: { count: 0 } };\n}\n"),
			bind("value", "value", "String(state.count)"),
			on("increment", "click", "inc"),
			on("decrement", "click", "dec"),
			on("reset", "click", "zero"),
		}},
	{Template: Template{"landing", "Landing page", "A hero, three features and an about page."},
		tokens: map[string]any{"primary": "#e11d48", "background": "#fff7ed", "text": "#1c1917", "radius": 16.0},
		ops: []Op{
			page("home", "Home", "/"),
			page("about", "About", "/about"),
			withLayout(root("home", "hero", "container", "as", "header"), "direction", "column", "gap", 16.0, "align", "center"),
			child("hero", "headline", "heading", "text", "Build apps together, live", "level", 1.0),
			child("hero", "tagline", "text", "text", "Drag, drop, and ship with your team and an AI co-editor.", "variant", "lead"),
			child("hero", "cta", "link", "text", "Learn more", "href", "/about"),
			withLayout(root("home", "features", "grid"), "columns", 3.0, "gap", 24.0),
			child("features", "f1", "card", "title", "Real-time"),
			child("f1", "f1-icon", "icon", "name", "zap"),
			child("f1", "f1-text", "text", "text", "Everyone sees every change as it happens."),
			child("features", "f2", "card", "title", "Offline-first"),
			child("f2", "f2-icon", "icon", "name", "wifi-off"),
			child("f2", "f2-text", "text", "text", "Keep working without a connection; changes merge later."),
			child("features", "f3", "card", "title", "Embeddable"),
			child("f3", "f3-icon", "icon", "name", "code"),
			child("f3", "f3-text", "text", "text", "Put your app in any page with one iframe."),
			root("home", "rule", "divider"),
			root("home", "footer", "text", "text", "© Casual", "variant", "caption"),
			root("about", "about-title", "heading", "text", "About us", "level", 1.0),
			root("about", "about-body", "markdown", "source", "We build **collaborative** tools.\n\n- Local-first\n- Open protocols\n"),
		}},
}
