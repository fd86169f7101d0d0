package generate

import (
	"flag"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/casual-dev/casual/canvas"
	"github.com/casual-dev/casual/crdt"
)

var update = flag.Bool("update", false, "rewrite the planner's golden files")

// blankApp returns a committed blank app document.
func blankApp(t *testing.T, template string) *crdt.Doc {
	t.Helper()
	d := crdt.New()
	if err := canvas.NewApp(d, "test", template); err != nil {
		t.Fatal(err)
	}
	if _, _, err := d.Commit(""); err != nil {
		t.Fatal(err)
	}
	return d
}

// applyAll applies ops to d as the AI would, failing on any refusal.
func applyAll(t *testing.T, d *crdt.Doc, ops []canvas.Op) {
	t.Helper()
	for _, op := range ops {
		if _, err := canvas.Apply(d, canvas.Actor{ID: AIActor}, op); err != nil {
			t.Fatalf("%s: %v", op, err)
		}
	}
	if _, _, err := d.Commit(""); err != nil {
		t.Fatal(err)
	}
	if ps := canvas.Validate(d); len(ps) > 0 {
		t.Fatalf("document invalid: %v", ps)
	}
}

func TestPlannerGoldenOutputs(t *testing.T) {
	for _, c := range []struct{ prompt, recipe string }{
		{"a todo list", "todo"},
		{"Login form", "login"},
		{"A contact form for my bakery", "contact"},
		{"a simple counter", "counter"},
		{"calculator", "calculator"},
		{"dashboard with chart", "dashboard"},
		{"landing page for a startup", "landing"},
		{"table of records", "table"},
		{"settings page", "settings"},
		{"signup flow", "signup"},
		{"a recipe book", "section"}, // no recipe: the fallback draft
	} {
		t.Run(c.recipe, func(t *testing.T) {
			got := "section"
			if r := matchRecipe(c.prompt); r != nil {
				got = r.id
			}
			if got != c.recipe {
				t.Fatalf("%q matched %q, want %q", c.prompt, got, c.recipe)
			}
			d := blankApp(t, "")
			ops := plan(&job{kind: KindManifest, prompt: c.prompt, newApp: true, snap: takeSnapshot(d)})
			var text strings.Builder
			for _, op := range ops {
				text.WriteString(op.String() + "\n")
			}
			golden := filepath.Join("testdata", "planner", c.recipe+".jsonl")
			if *update {
				if err := os.WriteFile(golden, []byte(text.String()), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			want, err := os.ReadFile(golden)
			if err != nil {
				t.Fatalf("%v (run go test -run TestPlannerGoldenOutputs -update)", err)
			}
			if text.String() != string(want) {
				t.Fatalf("planner output for %q differs from %s:\n%s", c.prompt, golden, text.String())
			}
			applyAll(t, d, ops)
		})
	}
}

func TestPlannerRenamesIdsTheAppAlreadyUses(t *testing.T) {
	d := blankApp(t, "")
	j := &job{kind: KindManifest, prompt: "todo list", snap: takeSnapshot(d)}
	applyAll(t, d, plan(j))
	j.snap = takeSnapshot(d)
	again := plan(j)
	applyAll(t, d, again)
	var ids []string
	for _, op := range again[:3] {
		ids = append(ids, op.ID+"/"+op.Parent)
	}
	if want := []string{"todo-app-2/", "todo-add-row-2/todo-app-2", "todo-draft-2/todo-add-row-2"}; !slices.Equal(ids, want) {
		t.Fatalf("second todo list ids = %v, want %v", ids, want)
	}
	if last := again[len(again)-1]; last.ID != "todo-clear-2" || last.Handler != "clearDone-2" {
		t.Fatalf("references not rewritten: %s", last)
	}
}

func TestPlannerPlacesComponentsInTheSelection(t *testing.T) {
	for _, c := range []struct {
		selection   string
		wantParent  string
		wantPage    string
		wantAfter   []string // of the top-level creates, in order
		description string
	}{
		{"buttons", "buttons", "", []string{"", "", "", ""}, "into a selected container"},
		{"title", "", "home", []string{"title", "contact-title", "contact-intro", "contact-form"}, "after a selected leaf"},
	} {
		t.Run(c.description, func(t *testing.T) {
			d := blankApp(t, "counter")
			ops := plan(&job{kind: KindComponents, prompt: "contact form", selection: []string{"ghost", c.selection}, snap: takeSnapshot(d)})
			var after []string
			for _, op := range ops {
				if op.Op == "create" && !strings.HasPrefix(op.Parent, "contact-") {
					if op.Parent != c.wantParent || op.Page != c.wantPage {
						t.Fatalf("%s placed in parent %q page %q", op.ID, op.Parent, op.Page)
					}
					after = append(after, op.After)
				}
			}
			if !slices.Equal(after, c.wantAfter) {
				t.Fatalf("after = %v, want %v", after, c.wantAfter)
			}
			applyAll(t, d, ops)
		})
	}
}

func TestPlannerOptimizeEvensOutSpacingAndHeadings(t *testing.T) {
	d := blankApp(t, "landing")
	if err := canvas.UpdateProps(d, canvas.Actor{}, "headline", map[string]any{"level": 2}); err != nil {
		t.Fatal(err)
	}
	ops := plan(&job{kind: KindOptimize, snap: takeSnapshot(d)})
	var got []string
	for _, op := range ops {
		got = append(got, op.String())
	}
	want := []string{
		`{"op":"update","id":"hero","layout":{"gap":12}}`,
		`{"op":"update","id":"headline","props":{"level":1}}`,
		`{"op":"update","id":"features","layout":{"gap":16}}`,
		`{"op":"update","id":"f1","layout":{"gap":12}}`,
		`{"op":"update","id":"f2","layout":{"gap":12}}`,
		`{"op":"update","id":"f3","layout":{"gap":12}}`,
	}
	if !slices.Equal(got, want) {
		t.Fatalf("optimize ops:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	applyAll(t, d, ops)
	if again := plan(&job{kind: KindOptimize, snap: takeSnapshot(d)}); len(again) != 0 {
		t.Fatalf("optimize is not idempotent: %v", again)
	}
}

func TestPlannerAnalyzesIntentOffline(t *testing.T) {
	for _, c := range []struct {
		prompt, recipe, complexity string
		components                 []string
	}{
		{"a todo list", "todo", "low", []string{"card", "stack", "input", "button", "list", "checkbox", "text"}},
		{"Dashboard with charts", "dashboard", "medium", []string{"stack", "heading", "select", "grid", "stat", "card", "chart", "table"}},
		{"a recipe book", "", "low", []string{"container", "heading", "text"}},
	} {
		in := plannerIntent(c.prompt)
		if in.Recipe != c.recipe || in.Complexity != c.complexity || !slices.Equal(in.Components, c.components) ||
			in.Goal == "" || in.Model != PlannerModel || in.Features == nil || in.Integrations == nil {
			t.Errorf("intent of %q = %+v", c.prompt, in)
		}
	}
}

func TestPlannerStreamsThroughTheSamePipeline(t *testing.T) {
	env := startEnv(t, Config{}, Options{})
	ctx := testCtx(t)
	run := env.wait(ctx, env.start(ctx, Request{Prompt: "a calculator"}).ID)
	golden, err := os.ReadFile(filepath.Join("testdata", "planner", "calculator.jsonl"))
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.Count(string(golden), "\n")
	if run.Status != StatusDone || run.Model != PlannerModel || run.OpsApplied != lines || run.OpsSkipped != 0 || run.CostUSD != 0 {
		t.Fatalf("planner run = %s %s applied %d/%d skipped %v", run.Status, run.Model, run.OpsApplied, lines, run.Skipped)
	}
	h := env.open(ctx, run.AppID)
	if err := h.WaitFor(ctx, func(d *crdt.Doc) bool {
		v, _ := d.Get("components", "calc-clear", "handlers", "click")
		return v == "pressKey"
	}); err != nil {
		t.Fatal(err)
	}
	var name any
	h.Read(func(d *crdt.Doc) { name, _ = d.Get("meta", "name") })
	if name != "Calculator" {
		t.Fatalf("new app named %v", name)
	}
}
