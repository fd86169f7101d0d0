package execute_test

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/casual-dev/casual/execute"
)

// quickJS returns the engine's WASM, built by scripts/build-quickjs.sh.
// Missing, it fails the test in CI and skips it elsewhere.
func quickJS(t testing.TB) []byte {
	t.Helper()
	path := os.Getenv("CASUAL_QUICKJS_WASM")
	if path == "" {
		path = filepath.Join("..", execute.DefaultQuickJSPath)
	}
	b, err := os.ReadFile(path)
	if err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("quickjs engine missing (%v): CI must run bash scripts/build-quickjs.sh first", err)
		}
		t.Skipf("quickjs engine missing (%v): build it with bash scripts/build-quickjs.sh", err)
	}
	return b
}

// engineCache is the on-disk compilation cache the tests share, within a
// run and across runs, so only the first compiles QuickJS.
func engineCache() string { return filepath.Join(os.TempDir(), "casual-execute-test-cache") }

func newEngine(t testing.TB, tweak func(*execute.Config)) *execute.Engine {
	t.Helper()
	cfg := execute.Config{QuickJS: quickJS(t), CacheDir: engineCache(), Blobs: execute.NewMemBlobs(), Warm: 2, MaxConcurrent: 4}
	if tweak != nil {
		tweak(&cfg)
	}
	e, err := execute.New(testCtx(t), cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := e.Close(context.Background()); err != nil {
			t.Error(err)
		}
	})
	return e
}

func testCtx(t testing.TB) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	t.Cleanup(cancel)
	return ctx
}

func containsFold(s, sub string) bool {
	return strings.Contains(strings.ToLower(s), strings.ToLower(sub))
}
