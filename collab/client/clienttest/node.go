package clienttest

import (
	"bufio"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// nodeStartTimeout bounds how long the reference server may take to listen.
const nodeStartTimeout = 30 * time.Second

// NodeServer starts the reference automerge-repo server
// (node js/bench/node-server.mjs serve --addr 127.0.0.1:0 --data-dir TMP)
// and returns its WebSocket URL (ws://127.0.0.1:PORT/sync) and process id
// (for memory measurements). The server is
// stopped when the test ends. The test is skipped when js/node_modules is
// missing, unless CI=true, where that is a failure.
func NodeServer(t testing.TB) (url string, pid int) {
	t.Helper()
	root, err := moduleRoot()
	if err != nil {
		t.Fatal(err)
	}
	js := filepath.Join(root, "js")
	if _, err := os.Stat(filepath.Join(js, "node_modules")); err != nil {
		if os.Getenv("CI") != "true" {
			t.Skip("js/node_modules missing (run scripts/setup.sh); skipping the reference-server test")
		}
		t.Fatalf("js/node_modules missing in CI: %v", err)
	}
	cmd := exec.Command("node", filepath.Join(js, "bench", "node-server.mjs"),
		"serve", "--addr", "127.0.0.1:0", "--data-dir", t.TempDir())
	cmd.Dir = js
	stderr, err := cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatalf("start reference server: %v", err)
	}
	var (
		mu   sync.Mutex
		logs strings.Builder
	)
	addr := make(chan string, 1)
	scanned := make(chan struct{})
	go func() { // ends when the server exits and its stderr closes
		defer close(scanned)
		sc := bufio.NewScanner(stderr)
		for sc.Scan() {
			line := sc.Text()
			mu.Lock()
			logs.WriteString(line + "\n")
			mu.Unlock()
			var rec struct{ Msg, Addr string }
			if json.Unmarshal([]byte(line), &rec) == nil && rec.Msg == "listening" {
				select {
				case addr <- rec.Addr:
				default:
				}
			}
		}
		io.Copy(io.Discard, stderr)
	}()
	t.Cleanup(func() {
		stopNode(t, cmd, scanned)
		if t.Failed() {
			mu.Lock()
			t.Logf("reference server log:\n%s", logs.String())
			mu.Unlock()
		}
	})
	select {
	case a := <-addr:
		return "ws://" + a + "/sync", cmd.Process.Pid
	case <-scanned:
		t.Fatal("reference server exited before listening")
	case <-time.After(nodeStartTimeout):
		t.Fatalf("reference server did not listen within %v", nodeStartTimeout)
	}
	return "", 0
}

// stopNode stops the server it started: SIGTERM, then SIGKILL if it has not
// exited (its stderr closed) within 10 s.
func stopNode(t testing.TB, cmd *exec.Cmd, stderrDone <-chan struct{}) {
	if err := cmd.Process.Signal(syscall.SIGTERM); err != nil && !errors.Is(err, os.ErrProcessDone) {
		t.Logf("signal reference server: %v", err)
	}
	select {
	case <-stderrDone:
	case <-time.After(10 * time.Second):
		if err := cmd.Process.Kill(); err != nil {
			t.Logf("kill reference server: %v", err)
		}
		<-stderrDone
	}
	if err := cmd.Wait(); err != nil {
		t.Logf("reference server: %v", err)
	}
}

// moduleRoot finds the directory holding go.mod, upwards from the working
// directory (go test runs in the package directory).
func moduleRoot() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return dir, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", fmt.Errorf("no go.mod above the working directory")
		}
		dir = parent
	}
}
