package main

import (
	"os"
	"os/exec"
	"path/filepath"
	"testing"
)

// TestInteropWithAutomergeRepoClient runs the node --test suites in
// js/interop (the real @automerge/automerge-repo 2.5.6 client) against the
// built binary. scripts/setup.sh installs their dependencies.
func TestInteropWithAutomergeRepoClient(t *testing.T) {
	runNodeSuite(t, "test:interop")
}

// TestBrowserWebRTC runs js/webrtc in headless Chromium against the built
// binary: a page syncs over a server-terminated data channel, and two pages
// open a direct channel through the signaling relay.
func TestBrowserWebRTC(t *testing.T) {
	runNodeSuite(t, "test:webrtc")
}

// TestBuilderInBrowser runs js/builder/test in headless Chromium against
// the built binary: two builders editing one app, and the embed page in a
// host page on another origin.
func TestBuilderInBrowser(t *testing.T) {
	runNodeSuite(t, "test:builder")
}

func runNodeSuite(t *testing.T, script string) {
	js, err := filepath.Abs("../../js")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(js, "node_modules")); err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("js/node_modules missing: scripts/setup.sh must run first (%v)", err)
		}
		t.Skip("js/node_modules missing: run scripts/setup.sh")
	}
	cmd := exec.Command("npm", "--prefix", js, "run", "--silent", script)
	wasm, _ := filepath.Abs("../../build/quickjs.wasm") // built by scripts/setup.sh
	cmd.Env = append(os.Environ(), "CASUAL_BIN="+binPath, "CASUAL_QUICKJS_WASM="+wasm)
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("%s failed: %v\n%s", script, err, out)
	}
	if testing.Verbose() {
		t.Logf("%s", out)
	}
}
