package execute_test

import (
	"context"
	"errors"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/casual-dev/casual/execute"
)

func TestUploadedModulesRunAndAreContained(t *testing.T) {
	blobs := execute.NewMemBlobs()
	e := newEngine(t, func(c *execute.Config) { c.Blobs = blobs })
	ctx := testCtx(t)
	put := func(b []byte) string {
		key, err := blobs.Put(ctx, b)
		if err != nil {
			t.Fatal(err)
		}
		return key
	}
	limits := execute.Limits{Timeout: 30 * time.Second, Memory: 4 << 20, Output: 1 << 20}
	tests := []struct {
		name   string
		module []byte
		want   error
		msg    string
		output any
		state  map[string]any
		logs   []string
	}{
		{name: "echo", module: echoModule(),
			output: map[string]any{"input": map[string]any{"n": 1.0}, "state": map[string]any{"count": 2.0}, "event": nil}},
		{name: "state patch", module: printModule(1, `{"output":"ok","state":{"count":3}}`, 0),
			output: "ok", state: map[string]any{"count": 3.0}},
		{name: "stderr is logs", module: printModule(2, "one\ntwo\n", 0), logs: []string{"one", "two"}},
		{name: "malformed", module: []byte("\x00asm\x01\x00\x00\x00garbage"), want: execute.ErrInvalidHandler, msg: "malformed module"},
		{name: "not wasm", module: []byte("#!/bin/sh\nrm -rf /\n"), want: execute.ErrInvalidHandler, msg: "malformed module"},
		{name: "trap", module: trapModule(), want: execute.ErrHandler, msg: "unreachable"},
		{name: "exit code", module: printModule(2, "boom\n", 3), want: execute.ErrHandler, msg: "exited with code 3: boom"},
		{name: "infinite loop", module: loopModule(), want: execute.ErrTimeout, msg: "wall time limit of 300ms"},
		{name: "memory grab", module: growModule(), want: execute.ErrMemory, msg: "memory limit of 4 MiB"},
		{name: "initial memory", module: bigMemoryModule(128), want: execute.ErrMemory, msg: "starts with 8 MiB"},
		{name: "output flood", module: floodModule(), want: execute.ErrOutputTooLarge, msg: "output limit of 1 MiB"},
		{name: "not json", module: printModule(1, "hello", 0), want: execute.ErrInvalidHandler, msg: "one JSON object"},
		{name: "foreign import", module: importModule(), want: execute.ErrInvalidHandler, msg: "env.open_socket"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			lim := limits
			if tc.want == execute.ErrTimeout {
				lim.Timeout = 300 * time.Millisecond
			}
			res, err := e.Run(ctx, execute.Job{Lang: "wasm", Module: put(tc.module), Limits: lim,
				Input: map[string]any{"n": 1}, State: map[string]any{"count": 2}})
			if tc.want != nil {
				if !errors.Is(err, tc.want) {
					t.Fatalf("err = %v, want %v", err, tc.want)
				}
				if !strings.Contains(err.Error(), tc.msg) {
					t.Errorf("err = %q, want it to mention %q", err, tc.msg)
				}
				return
			}
			if err != nil {
				t.Fatalf("run: %v", err)
			}
			if !reflect.DeepEqual(res.Output, tc.output) || !reflect.DeepEqual(res.State, tc.state) {
				t.Errorf("got output %#v state %#v, want %#v %#v", res.Output, res.State, tc.output, tc.state)
			}
			if tc.logs != nil && !reflect.DeepEqual(res.Logs, tc.logs) {
				t.Errorf("logs = %q, want %q", res.Logs, tc.logs)
			}
		})
	}
	if _, err := e.Run(ctx, execute.Job{Lang: "wasm", Module: "sha256:" + strings.Repeat("0", 64)}); !errors.Is(err, execute.ErrNotFound) {
		t.Errorf("missing module: err = %v, want ErrNotFound", err)
	}
	// JavaScript still runs after all that.
	if res, err := e.Run(ctx, execute.Job{Lang: "js", Source: `export default () => ({output: 1})`}); err != nil || res.Output != 1.0 {
		t.Errorf("js after hostile modules: %v %v", res.Output, err)
	}
}

func TestValidateRefusesModulesThatCannotRun(t *testing.T) {
	e := newEngine(t, nil)
	for name, b := range map[string][]byte{"malformed": []byte("nope"), "import": importModule()} {
		if err := e.Validate(context.Background(), b); !errors.Is(err, execute.ErrInvalidHandler) {
			t.Errorf("%s: err = %v, want ErrInvalidHandler", name, err)
		}
	}
	if err := e.Validate(context.Background(), echoModule()); err != nil {
		t.Errorf("echo: %v", err)
	}
}
