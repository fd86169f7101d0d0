package generate

import (
	"context"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/casual-dev/casual/canvas"
)

// planner is the offline model: it maps common requests to fixed op
// streams, deterministically, and sends them through the same parse and
// apply path as a model's output.
type planner struct{}

func (planner) Name() string { return PlannerModel }

func (planner) Stream(ctx context.Context, j *job, emit func(string) error) (streamStats, error) {
	st := streamStats{Reported: false}
	for _, m := range j.msgs {
		st.In += estimateTokens(len(m.Content))
	}
	sent := 0
	for _, op := range plan(j) {
		if ctx.Err() != nil {
			return st, context.Cause(ctx)
		}
		line := op.String() + "\n"
		sent += len(line)
		st.Out = estimateTokens(sent)
		if err := emit(line); err != nil {
			return st, err
		}
	}
	return st, nil
}

// plan returns the planner's operations for a job.
func plan(j *job) []canvas.Op {
	if j.kind == KindOptimize {
		return optimizeOps(j.snap)
	}
	r := matchRecipe(j.prompt)
	if r == nil {
		r = fallbackRecipe(j.prompt)
	}
	ops := r.ops()
	if j.snap != nil {
		ops = uniquify(ops, j.snap)
		ops = placeInSelection(ops, j.snap, j.selection)
	}
	return ops
}

// recipe is one request the planner knows.
type recipe struct {
	id, title string
	keywords  []string // phrases of the normalized prompt (lowercase words)
	intent    Intent   // Components is filled from ops
	ops       func() []canvas.Op
}

// matchRecipe returns the first recipe whose keyword the prompt contains
// as whole words, or nil.
func matchRecipe(prompt string) *recipe {
	norm := " " + normalize(prompt) + " "
	for _, r := range recipes() {
		for _, k := range r.keywords {
			if strings.Contains(norm, " "+k+" ") {
				return &r
			}
		}
	}
	return nil
}

// normalize lowercases and keeps letters and digits, words separated by
// one space.
func normalize(s string) string {
	return strings.Join(strings.FieldsFunc(strings.ToLower(s), func(r rune) bool {
		return !unicode.IsLetter(r) && !unicode.IsDigit(r)
	}), " ")
}

// fallbackRecipe drafts a section titled after the request.
func fallbackRecipe(prompt string) *recipe {
	title := strings.Join(strings.Fields(prompt), " ")
	if title == "" {
		title = "New section"
	}
	first, size := utf8.DecodeRuneInString(title)
	title = truncate(string(unicode.ToUpper(first))+title[size:], 80)
	return &recipe{id: "section", title: title,
		intent: Intent{Goal: title, Features: []string{}, Data: []string{}, Integrations: []string{}, Complexity: "low"},
		ops: func() []canvas.Op {
			return []canvas.Op{
				withLayout(create("section", "container", "", "as", "section"), "gap", 12.0),
				create("section-title", "heading", "section", "text", title, "level", 2.0),
				create("section-text", "text", "section", "text",
					"A first draft. The offline planner builds todo lists, login, contact and sign-up forms, counters, calculators, dashboards, landing pages, tables of records and settings pages; connect a model for anything else.",
					"variant", "muted"),
			}
		}}
}

// uniquify renames the ids a plan defines that the app already uses
// (id-2, id-3...) and rewrites every reference to them.
func uniquify(ops []canvas.Op, s *snapshot) []canvas.Op {
	taken := map[string]bool{}
	for _, p := range s.tree.Pages {
		taken["pages/"+p.ID] = true
	}
	for _, id := range componentIDs(s.tree) {
		taken["components/"+id] = true
	}
	for _, h := range s.hands {
		taken["handlers/"+h] = true
	}
	rename := map[string]string{} // kind/id → new id
	define := func(kind, id string) {
		if id == "" || !taken[kind+"/"+id] {
			taken[kind+"/"+id] = true
			return
		}
		for n := 2; ; n++ {
			cand := id + "-" + strconv.Itoa(n)
			if !taken[kind+"/"+cand] {
				taken[kind+"/"+cand] = true
				rename[kind+"/"+id] = cand
				return
			}
		}
	}
	for _, op := range ops {
		switch op.Op {
		case "create":
			define("components", op.ID)
		case "setHandler":
			define("handlers", op.Handler)
		case "addPage":
			define("pages", op.Page)
		}
	}
	ref := func(kind, id string) string {
		if n, ok := rename[kind+"/"+id]; ok {
			return n
		}
		return id
	}
	out := make([]canvas.Op, len(ops))
	for i, op := range ops {
		op.ID, op.Parent = ref("components", op.ID), ref("components", op.Parent)
		op.Before, op.After = ref("components", op.Before), ref("components", op.After)
		op.Handler, op.Page = ref("handlers", op.Handler), ref("pages", op.Page)
		out[i] = op
	}
	return out
}

// placeInSelection puts the plan's top-level components inside the first
// selected container, or right after the first selected component.
func placeInSelection(ops []canvas.Op, s *snapshot, selection []string) []canvas.Op {
	var sel *canvas.Node
	for _, id := range selection {
		if sel = s.tree.Node(id); sel != nil {
			break
		}
	}
	if sel == nil {
		return ops
	}
	t, _ := canvas.Registry().Lookup(sel.Type)
	prev := sel.ID
	for i, op := range ops {
		if op.Op != "create" || op.Parent != "" || op.Page != "" {
			continue
		}
		if t.Container {
			ops[i].Parent = sel.ID
			continue
		}
		ops[i].Parent, ops[i].After = sel.Parent, prev
		if sel.Parent == "" {
			ops[i].Page = sel.Page
		}
		prev = op.ID
	}
	return ops
}

// optimizeOps evens out an app: one gap for stacks, cards and forms,
// another for grids, the first heading of each page at level 1. It only
// emits updates for what differs.
func optimizeOps(s *snapshot) []canvas.Op {
	var ops []canvas.Op
	for _, p := range s.tree.Pages {
		firstHeading := true
		var walk func(ns []*canvas.Node)
		walk = func(ns []*canvas.Node) {
			for _, n := range ns {
				want := map[string]float64{"grid": 16, "stack": 8, "container": 12, "card": 12, "form": 12}
				if gap, ok := want[n.Type]; ok && len(n.Children) > 0 && !canvas.SameValue(n.Layout["gap"], gap) {
					ops = append(ops, canvas.Op{Op: "update", ID: n.ID, Layout: map[string]any{"gap": gap}})
				}
				if n.Type == "heading" {
					if firstHeading && !canvas.SameValue(n.Props["level"], 1.0) {
						ops = append(ops, canvas.Op{Op: "update", ID: n.ID, Props: map[string]any{"level": 1.0}})
					}
					firstHeading = false
				}
				walk(n.Children)
			}
		}
		walk(p.Children)
	}
	return ops
}

// Intent is the structured reading of a request (POST /v1/generate/analyze).
type Intent struct {
	Goal         string   `json:"goal"`
	Features     []string `json:"features"`
	Components   []string `json:"components"`
	Data         []string `json:"data"`
	Integrations []string `json:"integrations"`
	Complexity   string   `json:"complexity"` // low, medium or high
	Recipe       string   `json:"recipe,omitempty"`
	Model        string   `json:"model"`
}

// plannerIntent analyzes a prompt offline.
func plannerIntent(prompt string) Intent {
	r := matchRecipe(prompt)
	if r == nil {
		r = fallbackRecipe(prompt)
	} else {
		r.intent.Recipe = r.id
	}
	in := r.intent
	in.Model = PlannerModel
	in.Components = []string{}
	for _, op := range r.ops() {
		if op.Op == "create" && !slices.Contains(in.Components, op.Type) {
			in.Components = append(in.Components, op.Type)
		}
	}
	return in
}

// explainOffline describes an app (or one component) from its document.
func explainOffline(s *snapshot, component string) string {
	if component != "" {
		n := s.tree.Node(component)
		if n == nil {
			return fmt.Sprintf("There is no component %q in this app.", component)
		}
		return describeComponent(n)
	}
	var b strings.Builder
	fmt.Fprintf(&b, "%q has %d page(s) and %d component(s).", s.name, len(s.tree.Pages), s.tree.Len())
	for _, p := range s.tree.Pages {
		fmt.Fprintf(&b, " Page %q (%s) shows", p.Name, p.Route)
		if len(p.Children) == 0 {
			b.WriteString(" nothing yet.")
			continue
		}
		parts := make([]string, 0, len(p.Children))
		for _, n := range p.Children {
			parts = append(parts, summary(n))
		}
		b.WriteString(" " + strings.Join(parts, "; ") + ".")
	}
	if len(s.hands) > 0 {
		fmt.Fprintf(&b, " Its logic is in %d handler(s): %s.", len(s.hands), strings.Join(s.hands, ", "))
	}
	if len(s.state) > 0 {
		fmt.Fprintf(&b, " It keeps %s in its state.", strings.Join(s.state, ", "))
	}
	return b.String()
}

func summary(n *canvas.Node) string {
	s := "a " + n.Type
	for _, k := range []string{"title", "text", "label"} {
		if v, ok := n.Props[k].(string); ok && v != "" {
			s += fmt.Sprintf(" %q", truncate(v, 40))
			break
		}
	}
	if c := countAll(n.Children); c > 0 {
		s += fmt.Sprintf(" with %d component(s) inside", c)
	}
	return s
}

func countAll(ns []*canvas.Node) int {
	c := len(ns)
	for _, n := range ns {
		c += countAll(n.Children)
	}
	return c
}

func describeComponent(n *canvas.Node) string {
	var b strings.Builder
	fmt.Fprintf(&b, "%s is %s on page %s", n.ID, summary(n), n.Page)
	if n.Parent != "" {
		fmt.Fprintf(&b, ", inside %s", n.Parent)
	}
	b.WriteString(".")
	for _, k := range sortedKeys(n.Bindings) {
		fmt.Fprintf(&b, " Its %s shows %s.", k, n.Bindings[k])
	}
	for _, k := range sortedKeys(n.Handlers) {
		fmt.Fprintf(&b, " On %s it runs %s.", k, n.Handlers[k])
	}
	if n.AIRun != "" {
		fmt.Fprintf(&b, " It was made by AI run %s.", n.AIRun)
	}
	return b.String()
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}

// Helpers that keep the recipes readable.

func create(id, typ, parent string, kv ...any) canvas.Op {
	return canvas.Op{Op: "create", ID: id, Type: typ, Parent: parent, Props: obj(kv...)}
}

func withLayout(op canvas.Op, kv ...any) canvas.Op { op.Layout = obj(kv...); return op }

func handler(id, source string) canvas.Op {
	return canvas.Op{Op: "setHandler", Handler: id, Name: id, Lang: "js", Source: source}
}

func bind(id, prop, expr string) canvas.Op {
	return canvas.Op{Op: "setBinding", ID: id, Prop: prop, Expr: expr}
}

func on(id, event, h string) canvas.Op {
	return canvas.Op{Op: "bindEvent", ID: id, Event: event, Handler: h}
}

func obj(kv ...any) map[string]any {
	if len(kv) == 0 {
		return nil
	}
	m := make(map[string]any, len(kv)/2)
	for i := 0; i+1 < len(kv); i += 2 {
		m[kv[i].(string)] = kv[i+1]
	}
	return m
}

func list(xs ...any) []any { return xs }
