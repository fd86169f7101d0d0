package generate

import (
	"encoding/json"
	"fmt"
	"slices"
	"strings"

	"github.com/casual-dev/casual/canvas"
	"github.com/casual-dev/casual/crdt"
)

// Kind is what a run is asked to do.
type Kind string

// The kinds of runs.
const (
	KindManifest   Kind = "manifest"   // build a new app or change an existing one
	KindComponents Kind = "components" // add or regenerate components, scoped to a selection
	KindOptimize   Kind = "optimize"   // improve layout and consistency
	kindAnalyze    Kind = "analyze"    // one-shot: structured intent
	kindExplain    Kind = "explain"    // one-shot: the app or a component in words
)

// job is one request to a model, with what the prompt was built from (the
// offline planner reads those instead of the messages).
type job struct {
	kind      Kind
	prompt    string
	selection []string
	newApp    bool
	snap      *snapshot
	msgs      []message
	// onCall, when set, receives the operations the model sends as tool
	// calls; the model is offered them as tools (see opTools).
	onCall func(toolCall) error
}

// snapshot is what a job knows of the document when it starts.
type snapshot struct {
	name   string
	tree   *canvas.Tree
	hands  []string // handler ids, sorted
	state  []string // top-level state keys, sorted
	tokens map[string]any
}

func takeSnapshot(d *crdt.Doc) *snapshot {
	s := &snapshot{}
	s.tree, _ = canvas.Materialize(d)
	if v, _ := d.Get("meta", "name"); v != nil {
		s.name, _ = v.(string)
	}
	s.hands, _ = d.Keys("handlers")
	s.state, _ = d.Keys("state")
	slices.Sort(s.hands)
	slices.Sort(s.state)
	if v, _ := d.Get("theme", "tokens"); v != nil {
		s.tokens, _ = v.(map[string]any)
	}
	return s
}

// maxPromptComponents bounds the components listed in a prompt; the rest
// are counted.
const maxPromptComponents = 400

const opGrammar = `Operations, one JSON object per line ("*" marks required fields):
{"op":"create","id":"short-id","type":"*registry type","page":"page id","parent":"container id","after":"sibling id","props":{},"layout":{},"style":{}}
{"op":"update","id":"*","props":{},"layout":{},"style":{}}   (writes only the keys given; null unsets a key)
{"op":"move","id":"*","parent":"container id","page":"page id","before"|"after":"sibling id"}
{"op":"delete","id":"*"}
{"op":"setHandler","handler":"id","name":"*identifier","lang":"js","source":"export default function ({ state, event, input }) { ... }"}
{"op":"setBinding","id":"*","prop":"*","expr":"*JS expression over state (and item inside a list)"}
{"op":"bindEvent","id":"*","event":"*one of the type's events","handler":"*handler id"}
{"op":"unsetBinding","id":"*","prop":"*"}  {"op":"unbindEvent","id":"*","event":"*"}  {"op":"deleteHandler","handler":"*"}
{"op":"addPage","page":"id","name":"*","route":"/path"}  {"op":"renamePage","page":"*","name":"","route":""}
{"op":"setTheme","tokens":{"primary":"#4f46e5"}}`

const opRules = `Rules:
- Output only operations, one per line: no prose, no code fences, no arrays, no comments.
- Each line is applied as soon as it is complete: create parents before children and handlers before binding events to them.
- Use only the component types, props, layout and style keys of the registry, with values of the listed types.
- Give every new component a short, readable, unused id (kebab-case). Never create an id that already exists: update or move it.
- Change only what the request needs; update writes only the keys you give, so never repeat unchanged values.
- Omit "page" to use the first page; omit position fields to append at the end.`

const opToolsRule = `- You may instead call the operation functions, one call per operation, with the same fields; calls and lines are applied alike, each as soon as it is complete.`

// buildMessages returns the chat messages of a job.
func buildMessages(j *job) []message {
	var sys strings.Builder
	sys.WriteString("You are the AI co-editor of Casual, a collaborative app builder. ")
	switch j.kind {
	case kindAnalyze:
		sys.WriteString(`Analyze an app request. Answer with one JSON object and nothing else:
{"goal":"one sentence","features":["..."],"components":["registry types the app needs"],"data":["records or state it keeps"],"integrations":["outside services, if any"],"complexity":"low|medium|high"}

`)
		sys.WriteString(compactRegistry())
		return []message{{"system", sys.String()}, {"user", j.prompt}}
	case kindExplain:
		sys.WriteString("Explain what an app does, in plain words for its builders, in at most 200 words. Mention pages, the main components, the state they show and what each handler does.\n\n")
		sys.WriteString(compactDocument(j.snap, j.selection))
		return []message{{"system", sys.String()}, {"user", j.prompt}}
	}
	sys.WriteString("You edit the app the user is building by emitting operations on its document.\n\n")
	sys.WriteString(opGrammar + "\n\n" + opRules + "\n")
	if j.onCall != nil {
		sys.WriteString(opToolsRule + "\n")
	}
	sys.WriteString("\n")
	sys.WriteString(compactRegistry())
	sys.WriteString("\n")
	sys.WriteString(compactDocument(j.snap, j.selection))
	var user strings.Builder
	switch {
	case j.kind == KindOptimize:
		user.WriteString("Improve the layout and consistency of this app: spacing, alignment, heading levels, button variants, labels. Use update and move only; keep every component, binding and handler.\n")
	case j.kind == KindComponents:
		user.WriteString("Add or regenerate components for the request below, scoped to the selected components: create new ones inside a selected container, or update or replace the selected ones. Do not touch anything else.\n")
	case j.newApp:
		user.WriteString("Build a new app for the request below. It has one empty page, \"home\".\n")
	default:
		user.WriteString("Change the app as the request below asks.\n")
	}
	if j.prompt != "" {
		user.WriteString("\nRequest: " + j.prompt)
	}
	return []message{{"system", sys.String()}, {"user", user.String()}}
}

// compactRegistry lists every component type on one line:
// type (category, container): prop:type=default* ...; events.
func compactRegistry() string {
	reg := canvas.Registry()
	var b strings.Builder
	b.WriteString("Component registry (type: props; * required; = default):\n")
	for _, t := range reg.Types() {
		fmt.Fprintf(&b, "%s", t.Type)
		if t.Container {
			b.WriteString(" [container]")
		}
		b.WriteString(": ")
		props := make([]string, 0, len(t.Props))
		for _, p := range t.Props {
			props = append(props, compactSchema(p))
		}
		b.WriteString(strings.Join(props, ", "))
		if len(t.Events) > 0 {
			b.WriteString("; events: " + strings.Join(t.Events, ", "))
		}
		b.WriteString("\n")
	}
	for _, g := range []struct {
		name string
		keys []canvas.PropSchema
	}{{"layout", reg.Layout()}, {"style", reg.Style()}} {
		keys := make([]string, 0, len(g.keys))
		for _, p := range g.keys {
			keys = append(keys, compactSchema(p))
		}
		fmt.Fprintf(&b, "%s keys: %s\n", g.name, strings.Join(keys, ", "))
	}
	return b.String()
}

func compactSchema(p canvas.PropSchema) string {
	s := p.Name
	if p.Required {
		s += "*"
	}
	s += ":"
	if p.Type == canvas.TypeEnum {
		s += strings.Join(p.Values, "|")
	} else {
		s += string(p.Type)
	}
	switch d := p.Default.(type) {
	case nil:
	case string:
		if d != "" {
			s += "=" + truncate(d, 20)
		}
	case []any:
	default:
		s += "=" + fmt.Sprint(d)
	}
	return s
}

// compactDocument describes the app: pages, the component tree with
// props, bindings and events, handlers, state keys and theme tokens; the
// selected components in full.
func compactDocument(s *snapshot, selection []string) string {
	var b strings.Builder
	fmt.Fprintf(&b, "Current app %q.\n", s.name)
	listed := 0
	for i, p := range s.tree.Pages {
		first := ""
		if i == 0 {
			first = ", first page"
		}
		fmt.Fprintf(&b, "Page %s %q route %s%s:\n", p.ID, p.Name, p.Route, first)
		if len(p.Children) == 0 {
			b.WriteString("  (empty)\n")
		}
		var walk func(ns []*canvas.Node, depth int)
		walk = func(ns []*canvas.Node, depth int) {
			for _, n := range ns {
				if listed++; listed > maxPromptComponents {
					return
				}
				b.WriteString(strings.Repeat("  ", depth) + componentLine(n) + "\n")
				walk(n.Children, depth+1)
			}
		}
		walk(p.Children, 1)
	}
	if listed > maxPromptComponents {
		fmt.Fprintf(&b, "(%d more components not listed)\n", listed-maxPromptComponents)
	}
	if len(s.hands) > 0 {
		fmt.Fprintf(&b, "Handlers: %s\n", strings.Join(s.hands, ", "))
	}
	if len(s.state) > 0 {
		fmt.Fprintf(&b, "State keys: %s\n", strings.Join(s.state, ", "))
	}
	if len(s.tokens) > 0 {
		fmt.Fprintf(&b, "Theme tokens: %s\n", compactJSON(s.tokens, 300))
	}
	if len(selection) > 0 {
		b.WriteString("Selected components (the request is about these):\n")
		for _, id := range selection {
			n := s.tree.Node(id)
			if n == nil {
				continue
			}
			full, _ := json.Marshal(n.Component)
			b.WriteString(truncate(string(full), 4000) + "\n")
		}
	}
	return b.String()
}

func componentLine(n *canvas.Node) string {
	line := n.ID + " " + n.Type
	if len(n.Props) > 0 {
		line += " " + compactJSON(n.Props, 240)
	}
	if len(n.Bindings) > 0 {
		line += " bindings " + compactJSON(n.Bindings, 200)
	}
	if len(n.Handlers) > 0 {
		line += " on " + compactJSON(n.Handlers, 120)
	}
	return line
}

// compactJSON encodes v with long strings shortened, then caps the whole.
func compactJSON(v any, max int) string {
	b, err := json.Marshal(shorten(v))
	if err != nil {
		return "?"
	}
	return truncate(string(b), max)
}

func shorten(v any) any {
	switch x := v.(type) {
	case string:
		return truncate(x, 60)
	case map[string]any:
		out := make(map[string]any, len(x))
		for k, e := range x {
			out[k] = shorten(e)
		}
		return out
	case []any:
		if len(x) > 5 {
			return append(shortenAll(x[:5]), fmt.Sprintf("…%d more", len(x)-5))
		}
		return shortenAll(x)
	}
	return v
}

func shortenAll(xs []any) []any {
	out := make([]any, len(xs))
	for i, e := range xs {
		out[i] = shorten(e)
	}
	return out
}
