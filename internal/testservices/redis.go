package testservices

import (
	"bufio"
	"fmt"
	"net"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// Redis is a private redis-server without persistence.
type Redis struct {
	bin  string
	port int

	mu   sync.Mutex
	proc *proc // nil while stopped
}

// StartRedis starts redis-server on a free loopback port; the test's
// cleanup stops it. It skips t if redis-server is not installed (fails it
// when CI=true).
func StartRedis(t testing.TB) *Redis {
	t.Helper()
	bin, err := exec.LookPath("redis-server")
	if err != nil {
		missing(t, "redis-server is not installed (apt-get install redis-server)")
	}
	r := &Redis{bin: bin, port: freePort(t)}
	t.Cleanup(r.Stop)
	if err := r.start(); err != nil {
		t.Fatal(err)
	}
	return r
}

// Addr returns host:port.
func (r *Redis) Addr() string { return net.JoinHostPort("127.0.0.1", strconv.Itoa(r.port)) }

// URL returns redis://127.0.0.1:port/0.
func (r *Redis) URL() string { return "redis://" + r.Addr() + "/0" }

func (r *Redis) start() error {
	r.mu.Lock()
	defer r.mu.Unlock()
	cmd := exec.Command(r.bin, "--port", strconv.Itoa(r.port), "--bind", "127.0.0.1",
		"--save", "", "--appendonly", "no", "--daemonize", "no", "--loglevel", "warning")
	p, err := startProc(cmd)
	if err != nil {
		return fmt.Errorf("testservices: redis: %w", err)
	}
	if err := p.waitReady("redis-server", r.ping); err != nil {
		return fmt.Errorf("testservices: %w", err)
	}
	r.proc = p
	return nil
}

// ping sends PING and expects +PONG.
func (r *Redis) ping() error {
	c, err := net.DialTimeout("tcp", r.Addr(), time.Second)
	if err != nil {
		return err
	}
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(time.Second))
	if _, err := c.Write([]byte("PING\r\n")); err != nil {
		return err
	}
	line, err := bufio.NewReader(c).ReadString('\n')
	if err != nil {
		return err
	}
	if !strings.HasPrefix(line, "+PONG") {
		return fmt.Errorf("%w: %q", errNotReady, line)
	}
	return nil
}

// Stop shuts the server down (SIGTERM) and waits for it. Stopping a
// stopped server does nothing.
func (r *Redis) Stop() { r.halt(syscall.SIGTERM) }

// Kill ends the server with SIGKILL, as a crash would.
func (r *Redis) Kill() { r.halt(os.Kill) }

func (r *Redis) halt(sig os.Signal) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.proc != nil {
		r.proc.stop(sig)
		r.proc = nil
	}
}

// Restart stops the server if it runs and starts a fresh one on the same
// port: everything it held is gone, and its clients' connections break.
func (r *Redis) Restart(t testing.TB) {
	t.Helper()
	r.Stop()
	if err := r.start(); err != nil {
		t.Fatal(err)
	}
}

// Start starts a stopped server again on the same port.
func (r *Redis) Start(t testing.TB) {
	t.Helper()
	r.mu.Lock()
	running := r.proc != nil
	r.mu.Unlock()
	if running {
		t.Fatal("testservices: redis already running")
	}
	if err := r.start(); err != nil {
		t.Fatal(err)
	}
}
