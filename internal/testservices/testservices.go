// Package testservices starts private, throwaway Redis and PostgreSQL
// servers for fault tests: a test can stop, restart or kill its own
// instance without disturbing the machine's shared services, which other
// tests use in parallel. Each instance listens on a free loopback port,
// keeps its files in a temporary directory and is stopped by the test's
// cleanup (and killed with the test binary, on Linux).
//
// When a server's binaries are missing the test is skipped, unless the
// environment variable CI is "true": there a missing binary fails it.
package testservices

import (
	"bytes"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"sync"
	"syscall"
	"testing"
	"time"
)

const (
	startTimeout = 30 * time.Second
	stopTimeout  = 30 * time.Second
	pollEvery    = 20 * time.Millisecond
)

// missing skips (or, in CI, fails) t because what is absent.
func missing(t testing.TB, what string) {
	t.Helper()
	if os.Getenv("CI") == "true" {
		t.Fatalf("testservices: %s (required when CI=true)", what)
	}
	t.Skipf("testservices: %s; skipping", what)
}

// freePort returns a loopback TCP port nothing listens on right now.
func freePort(t testing.TB) int {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("testservices: free port: %v", err)
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port
}

// proc is one run of a server binary.
type proc struct {
	cmd    *exec.Cmd
	out    *tailBuffer
	exited chan struct{}
}

// startProc starts cmd with its output kept for error messages.
func startProc(cmd *exec.Cmd) (*proc, error) {
	p := &proc{cmd: cmd, out: &tailBuffer{max: 64 << 10}, exited: make(chan struct{})}
	cmd.Stdout, cmd.Stderr = p.out, p.out
	if cmd.SysProcAttr == nil {
		cmd.SysProcAttr = &syscall.SysProcAttr{}
	}
	dieWithParent(cmd.SysProcAttr)
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("start %s: %w", cmd.Path, err)
	}
	go func() { _ = cmd.Wait(); close(p.exited) }()
	return p, nil
}

// stop sends sig, waits for the exit, and kills the process if it is
// still there after stopTimeout.
func (p *proc) stop(sig os.Signal) {
	select {
	case <-p.exited:
		return
	default:
	}
	_ = p.cmd.Process.Signal(sig)
	select {
	case <-p.exited:
	case <-time.After(stopTimeout):
		_ = p.cmd.Process.Kill()
		<-p.exited
	}
}

// waitReady polls ready until it succeeds, the process exits or
// startTimeout passes.
func (p *proc) waitReady(name string, ready func() error) error {
	deadline := time.Now().Add(startTimeout)
	for {
		err := ready()
		if err == nil {
			return nil
		}
		select {
		case <-p.exited:
			return fmt.Errorf("%s exited before it was ready: %v\n%s", name, p.cmd.ProcessState, p.out)
		default:
		}
		if time.Now().After(deadline) {
			p.stop(os.Kill)
			return fmt.Errorf("%s not ready after %v: %w\n%s", name, startTimeout, err, p.out)
		}
		time.Sleep(pollEvery)
	}
}

// tailBuffer keeps the last max bytes written to it.
type tailBuffer struct {
	mu  sync.Mutex
	max int
	buf bytes.Buffer
}

func (b *tailBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.buf.Write(p)
	if extra := b.buf.Len() - b.max; extra > 0 {
		b.buf.Next(extra)
	}
	return len(p), nil
}

func (b *tailBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// errNotReady is what a readiness probe returns while a server starts.
var errNotReady = errors.New("not ready")
