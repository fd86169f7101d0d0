package main

import (
	"bufio"
	"context"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// binPath is the casual binary built once for the tests that run it as a
// separate process.
var binPath string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "casual-bin-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	binPath = filepath.Join(dir, "casual")
	out, err := exec.Command("go", "build", "-o", binPath, ".").CombinedOutput()
	if err != nil {
		fmt.Fprintf(os.Stderr, "build casual: %v\n%s", err, out)
		os.Exit(1)
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

// proc is a casual server running as a child process.
type proc struct {
	t       *testing.T
	cmd     *exec.Cmd
	addr    string
	dataDir string
	exited  chan struct{}

	mu       sync.Mutex
	warnings []string // the last WARN and ERROR lines of its log, for failures
}

func freeAddr(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}

// startProc starts `casual serve` and waits until /readyz answers 200.
func startProc(t *testing.T, addr, dataDir string, env ...string) *proc {
	t.Helper()
	cmd := exec.Command(binPath, "serve", "--addr", addr, "--data-dir", dataDir)
	wasm, _ := filepath.Abs("../../build/quickjs.wasm") // built by scripts/setup.sh
	cmd.Env = append(append(os.Environ(), "CASUAL_QUICKJS_WASM="+wasm), env...)
	stderr, err := cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	p := &proc{t: t, cmd: cmd, addr: addr, dataDir: dataDir, exited: make(chan struct{}), warnings: make([]string, 0, 40)}
	logged := make(chan struct{})
	go func() { // keep the log for failures
		defer close(logged)
		var keep *os.File
		if dir := os.Getenv("CASUAL_TEST_LOGS"); dir != "" {
			keep, _ = os.Create(filepath.Join(dir, strings.ReplaceAll(t.Name(), "/", "_")+"-"+strings.ReplaceAll(addr, ":", "_")+".log"))
			defer keep.Close()
		}
		sc := bufio.NewScanner(stderr)
		sc.Buffer(nil, 1<<20)
		for sc.Scan() {
			if keep != nil {
				fmt.Fprintln(keep, sc.Text())
			}
			if line := sc.Text(); strings.Contains(line, `"level":"WARN"`) || strings.Contains(line, `"level":"ERROR"`) {
				p.mu.Lock()
				if len(p.warnings) == cap(p.warnings) {
					p.warnings = p.warnings[1:]
				}
				p.warnings = append(p.warnings, line)
				p.mu.Unlock()
			}
			if testing.Verbose() {
				t.Log(sc.Text())
			}
		}
	}()
	go func() { <-logged; cmd.Wait(); close(p.exited) }()
	t.Cleanup(func() {
		if t.Failed() {
			p.mu.Lock()
			t.Logf("%s: last warnings and errors:\n%s", addr, strings.Join(p.warnings, "\n"))
			p.mu.Unlock()
		}
		if t.Failed() && os.Getenv("CASUAL_TEST_LOGS") != "" {
			p.cmd.Process.Signal(syscall.SIGQUIT) // goroutine dump into the kept log
			select {
			case <-p.exited:
			case <-time.After(5 * time.Second):
			}
		}
		p.kill()
	})
	deadline := time.Now().Add(20 * time.Second)
	for {
		resp, err := http.Get("http://" + addr + "/readyz")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == 200 {
				return p
			}
		}
		select {
		case <-p.exited:
			t.Fatalf("casual serve exited before it was ready")
		default:
		}
		if time.Now().After(deadline) {
			t.Fatal("casual serve never became ready")
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func (p *proc) kill() {
	if p.cmd.Process != nil {
		p.cmd.Process.Signal(syscall.SIGKILL)
		<-p.exited
	}
}

func (p *proc) stop() {
	p.t.Helper()
	p.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-p.exited:
	case <-time.After(30 * time.Second):
		p.t.Fatal("casual serve did not stop on SIGTERM")
	}
	if code := p.cmd.ProcessState.ExitCode(); code != 0 {
		p.t.Fatalf("casual serve exited %d after SIGTERM", code)
	}
}

func TestConfigFromFlagsAndEnvironment(t *testing.T) {
	env := map[string]string{"CASUAL_ADDR": "127.0.0.1:9999", "CASUAL_RATE": "50"}
	getenv := func(k string) string { return env[k] }
	tests := []struct {
		name    string
		args    []string
		check   func(Config) bool
		wantErr string
	}{
		{"env fills", nil, func(c Config) bool { return c.Addr == "127.0.0.1:9999" && c.RatePerSec == 50 }, ""},
		{"flag beats env", []string{"--addr", "127.0.0.1:1"}, func(c Config) bool { return c.Addr == "127.0.0.1:1" }, ""},
		{"defaults", nil, func(c Config) bool {
			return c.DataDir == "./data" && c.MaxFrameBytes == 64<<20 && c.IdleUnload == 30*time.Second && strings.HasPrefix(c.PeerID, "casual-")
		}, ""},
		{"bad duration named", []string{"--idle-unload", "soon"}, nil, "--idle-unload / CASUAL_IDLE_UNLOAD"},
		{"bad number named", []string{"--max-docs-per-conn", "-3"}, nil, "CASUAL_MAX_DOCS_PER_CONN"},
		{"bad address", []string{"--addr", "nope"}, nil, "--addr"},
		{"stray argument", []string{"extra"}, nil, "unexpected arguments"},
		{"bare boolean flag", []string{"--pprof"}, func(c Config) bool { return c.Pprof }, ""},
		{"bad boolean", []string{"--pprof=maybe"}, nil, "--pprof / CASUAL_PPROF"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, err := loadConfig(tt.args, getenv)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("err = %v, want it to mention %q", err, tt.wantErr)
				}
				return
			}
			if err != nil || !tt.check(c) {
				t.Fatalf("config %+v, err %v", c, err)
			}
		})
	}
}

func TestServeStopsGracefullyOnSIGTERM(t *testing.T) {
	p := startProc(t, freeAddr(t), t.TempDir())
	p.stop()
}

func testCtx(t *testing.T, d time.Duration) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), d)
	t.Cleanup(cancel)
	return ctx
}

// TestREADMEDocumentsEverySetting keeps the README's configuration table
// true: every flag and environment variable of `casual serve` is in it.
func TestREADMEDocumentsEverySetting(t *testing.T) {
	readme, err := os.ReadFile("../../README.md")
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range settings() {
		for _, want := range []string{"`--" + s.name + "`", "`" + s.env + "`"} {
			if !strings.Contains(string(readme), want) {
				t.Errorf("README.md does not document %s", want)
			}
		}
	}
}
