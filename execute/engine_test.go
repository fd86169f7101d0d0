package execute_test

import (
	"errors"
	"reflect"
	"testing"

	"github.com/casual-dev/casual/execute"
)

func TestJavaScriptHandlersReturnOutputAndState(t *testing.T) {
	e := newEngine(t, nil)
	tests := []struct {
		name   string
		source string
		input  any
		state  any
		output any
		patch  map[string]any
		logs   []string
	}{
		{name: "sync", source: `export default ({input}) => ({output: input.a + input.b})`,
			input: map[string]any{"a": 2, "b": 3}, output: 5.0},
		{name: "async", source: `export default async ({input}) => { await null; return {output: input.toUpperCase()} }`,
			input: "hi", output: "HI"},
		{name: "state patch", source: `export default ({state}) => ({state: {count: (state.count ?? 0) + 1}})`,
			state: map[string]any{"count": 41}, patch: map[string]any{"count": 42.0}},
		{name: "nothing", source: `export default () => {}`},
		{name: "console", source: `export default () => { console.log("a", 1, {b: 2}); console.error("bad"); return {output: true} }`,
			output: true, logs: []string{`a 1 {"b":2}`, "[error] bad"}},
		{name: "rounding", source: `export default () => ({output: [(2.5).toFixed(0), (-2.5).toFixed(0), (1.005).toFixed(2),
			(1.45).toFixed(1), (0.125).toFixed(2), (2.5).toPrecision(1), (0.125).toExponential(1), String(0.1+0.2)]})`,
			output: []any{"3", "-3", "1.00", "1.4", "0.13", "3", "1.3e-1", "0.30000000000000004"}},
		{name: "event", source: `export default ({event}) => ({output: event.type})`, output: "click"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			res, err := e.Run(testCtx(t), execute.Job{Lang: "js", Source: tc.source, Input: tc.input, State: tc.state,
				Event: map[string]any{"type": "click"}})
			if err != nil {
				t.Fatalf("run: %v (logs %v)", err, res.Logs)
			}
			if !reflect.DeepEqual(res.Output, tc.output) {
				t.Errorf("output = %#v, want %#v", res.Output, tc.output)
			}
			if !reflect.DeepEqual(res.State, tc.patch) {
				t.Errorf("state = %#v, want %#v", res.State, tc.patch)
			}
			if len(tc.logs) > 0 && !reflect.DeepEqual(res.Logs, tc.logs) {
				t.Errorf("logs = %q, want %q", res.Logs, tc.logs)
			}
			if res.MemoryPeak <= 0 {
				t.Errorf("memory peak = %d", res.MemoryPeak)
			}
		})
	}
}

func TestHandlerErrorsAreReported(t *testing.T) {
	e := newEngine(t, nil)
	tests := []struct {
		name   string
		source string
		want   error
		msg    string
	}{
		{"throws", `export default () => { throw new TypeError("nope") }`, execute.ErrHandler, "TypeError: nope"},
		{"rejects", `export default async () => { throw new Error("later") }`, execute.ErrHandler, "Error: later"},
		{"syntax", `export default () => {`, execute.ErrInvalidHandler, "SyntaxError"},
		{"no default", `export const f = 1`, execute.ErrInvalidHandler, "default"},
		{"not a function", `export default 42`, execute.ErrInvalidHandler, "must be a function"},
		{"bad return", `export default () => 42`, execute.ErrInvalidHandler, "returns {output?, state?}"},
		{"bad state", `export default () => ({state: [1]})`, execute.ErrInvalidHandler, "state must be an object"},
		{"never settles", `export default () => new Promise(() => {})`, execute.ErrHandler, "never settled"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := e.Run(testCtx(t), execute.Job{Lang: "js", Source: tc.source})
			if !errors.Is(err, tc.want) {
				t.Fatalf("err = %v, want %v", err, tc.want)
			}
			if !containsFold(err.Error(), tc.msg) {
				t.Errorf("err = %q, want it to mention %q", err, tc.msg)
			}
		})
	}
}
