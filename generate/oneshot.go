package generate

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"unicode/utf8"

	"github.com/casual-dev/casual/crdt"
)

// Analyze reads a request as structured intent: goal, features,
// components, data, integrations and complexity. Offline, the planner
// answers from its recipes.
func (g *Generator) Analyze(ctx context.Context, prompt string) (Intent, error) {
	prompt = strings.TrimSpace(prompt)
	if prompt == "" || len(prompt) > maxPromptBytes || !utf8.ValidString(prompt) {
		return Intent{}, fmt.Errorf("%w: prompt must be 1 to %d bytes of UTF-8", ErrInvalidRequest, maxPromptBytes)
	}
	if _, ok := g.model.(planner); ok {
		return plannerIntent(prompt), nil
	}
	j := &job{kind: kindAnalyze, prompt: prompt}
	j.msgs = buildMessages(j)
	text, _, err := complete(ctx, g.model, j)
	if err != nil {
		return Intent{}, fmt.Errorf("analyze: %w", err)
	}
	var in Intent
	if err := json.Unmarshal([]byte(extractJSON(text)), &in); err != nil {
		return Intent{}, &ProviderError{Message: "the model's analysis is not JSON: " + truncate(text, 200), Kind: ErrProvider}
	}
	for _, l := range []*[]string{&in.Features, &in.Components, &in.Data, &in.Integrations} {
		if *l == nil {
			*l = []string{}
		}
	}
	if !slices.Contains([]string{"low", "medium", "high"}, in.Complexity) {
		in.Complexity = "medium"
	}
	in.Recipe, in.Model = "", g.model.Name()
	return in, nil
}

// extractJSON returns the outermost {...} of a model's answer, which may
// come wrapped in prose or a code fence.
func extractJSON(s string) string {
	i, j := strings.IndexByte(s, '{'), strings.LastIndexByte(s, '}')
	if i < 0 || j < i {
		return s
	}
	return s[i : j+1]
}

// Explanation is an app or a component described in words.
type Explanation struct {
	Text  string `json:"text"`
	Model string `json:"model"`
}

// Explain describes an app, or one of its components, in words.
func (g *Generator) Explain(ctx context.Context, appID, component string) (Explanation, error) {
	id, err := crdt.ParseDocID(appID)
	if err != nil {
		return Explanation{}, fmt.Errorf("%w: appId: %v", ErrInvalidRequest, err)
	}
	sess, err := g.open(ctx, "ai-explain-"+newRunID(), id)
	if err != nil {
		return Explanation{}, fmt.Errorf("explain: %w", err)
	}
	var snap *snapshot
	sess.h.Read(func(d *crdt.Doc) { snap = takeSnapshot(d) })
	sess.close()
	if _, ok := g.model.(planner); ok {
		return Explanation{Text: explainOffline(snap, component), Model: PlannerModel}, nil
	}
	j := &job{kind: kindExplain, prompt: "Explain the whole app.", snap: snap}
	if component != "" {
		if snap.tree.Node(component) == nil {
			return Explanation{}, fmt.Errorf("%w: no component %q", ErrInvalidRequest, truncate(component, 64))
		}
		j.prompt, j.selection = "Explain component "+component+" and its role in the app.", []string{component}
	}
	j.msgs = buildMessages(j)
	text, _, err := complete(ctx, g.model, j)
	if err != nil {
		return Explanation{}, fmt.Errorf("explain: %w", err)
	}
	return Explanation{Text: strings.TrimSpace(text), Model: g.model.Name()}, nil
}
