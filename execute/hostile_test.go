package execute_test

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/casual-dev/casual/execute"
)

// TestHostileScriptsAreContained runs scripts that try to escape or exhaust
// the sandbox: each fails with the limit it broke, names the figure, and
// the engine keeps serving.
func TestHostileScriptsAreContained(t *testing.T) {
	e := newEngine(t, nil)
	short := execute.Limits{Timeout: 300 * time.Millisecond}
	// Cases that must hit another limit than time get plenty of it: the
	// race detector makes the engine several times slower.
	roomy := execute.Limits{Timeout: 30 * time.Second}
	tests := []struct {
		name   string
		source string
		limits execute.Limits
		want   error
		msg    string // the error mentions it
	}{
		{"infinite loop", `export default () => { while (true) {} }`, short, execute.ErrTimeout, "wall time limit of 300ms"},
		{"loop catching the interrupt", `export default () => { for (;;) { try { while (true) {} } catch (e) {} } }`, short, execute.ErrTimeout, "300ms"},
		{"async loop", `export default async () => { for (;;) await null }`, short, execute.ErrTimeout, "300ms"},
		{"catastrophic regexp", `export default () => ({output: /(a+)+$/.test("a".repeat(40) + "b")})`, short, execute.ErrTimeout, "300ms"},
		{"memory bomb", `export default () => { const a = []; for (;;) a.push(new Float64Array(1 << 20)) }`, roomy, execute.ErrMemory, "memory limit of 64 MiB"},
		{"object bomb", `export default () => { const a = []; for (;;) a.push({n: a.length, s: "x" + a.length}) }`, execute.Limits{Timeout: 30 * time.Second, Memory: 8 << 20}, execute.ErrMemory, "memory limit of 8 MiB"},
		{"memory bomb caught", `export default () => { const a = []; for (;;) { try { a.push(new Float64Array(1 << 20)) } catch (e) {} } }`, short, execute.ErrTimeout, "300ms"},
		{"slow builtin", `export default () => { for (;;) new Array(1e7).fill(1) }`, short, execute.ErrTimeout, "300ms"},
		{"string bomb", `export default () => { let s = "x"; for (;;) s += s }`, roomy, execute.ErrMemory, "64 MiB"},
		{"small memory limit", `export default () => ({output: "x".repeat(4 << 20).length})`, execute.Limits{Timeout: 30 * time.Second, Memory: 2 << 20}, execute.ErrMemory, "2 MiB"},
		{"deep recursion", `export default () => { const f = n => f(n + 1) + 1; return {output: f(0)} }`, roomy, execute.ErrStackOverflow, "stack limit"},
		{"deep nesting", `export default () => ({output: JSON.parse("[".repeat(1e6))})`, roomy, execute.ErrStackOverflow, "stack"},
		{"huge output", `export default () => ({output: "x".repeat(2 << 20)})`, roomy, execute.ErrOutputTooLarge, "output limit of 1 MiB"},
		{"huge state", `export default () => ({state: {big: "x".repeat(2 << 20)}})`, roomy, execute.ErrOutputTooLarge, "1 MiB"},
		{"require", `export default () => require("fs").readFileSync("/etc/passwd")`, roomy, execute.ErrHandler, "'require' is not defined"},
		{"fetch", `export default async () => fetch("http://127.0.0.1/")`, roomy, execute.ErrHandler, "'fetch' is not defined"},
		{"import std", `import * as std from "std"; export default () => ({output: std.loadFile("/etc/passwd")})`, roomy, execute.ErrInvalidHandler, "cannot import 'std'"},
		{"import os", `import * as os from "os"; export default () => ({output: os.open("/etc/passwd")})`, roomy, execute.ErrInvalidHandler, "cannot import 'os'"},
		{"dynamic import", `export default async () => ({output: await import("os")})`, roomy, execute.ErrHandler, "cannot import 'os'"},
		{"relative import", `import x from "./secret.js"; export default () => ({output: x})`, roomy, execute.ErrInvalidHandler, "cannot import"},
		{"globals", `export default () => { if (typeof process !== "undefined" || typeof setTimeout !== "undefined" || typeof std !== "undefined" || typeof os !== "undefined" || typeof print !== "undefined") throw new Error("host object visible"); return {output: "clean"} }`, roomy, nil, ""},
		{"log flood", `export default () => { for (let i = 0; i < 1e5; i++) console.log("line " + i); return {output: 1} }`, roomy, nil, ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			res, err := e.Run(testCtx(t), execute.Job{Lang: "js", Source: tc.source, Limits: tc.limits})
			if tc.want == nil {
				if err != nil {
					t.Fatalf("run: %v", err)
				}
				if len(res.Logs) > 100 {
					t.Errorf("%d log lines kept, want at most 100", len(res.Logs))
				}
				return
			}
			if !errors.Is(err, tc.want) {
				t.Fatalf("err = %v, want %v", err, tc.want)
			}
			if !strings.Contains(err.Error(), tc.msg) {
				t.Errorf("err = %q, want it to mention %q", err, tc.msg)
			}
		})
	}
	// Still healthy: a plain handler runs, on a bounded number of instances.
	res, err := e.Run(testCtx(t), execute.Job{Lang: "js", Source: `export default () => ({output: "ok"})`})
	if err != nil || res.Output != "ok" {
		t.Fatalf("after the hostile scripts: %v, %v", res.Output, err)
	}
	if st := e.Stats(); st.Killed == 0 || st.LiveHigh > 4 {
		t.Errorf("stats %+v: want kills and at most 4 live instances", st)
	}
}
