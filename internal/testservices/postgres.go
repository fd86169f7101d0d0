package testservices

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
)

// Postgres is a private PostgreSQL server with trust authentication. It
// runs with fsync off, so it survives a clean Restart but not a crash of
// the machine: fine for throwaway instances, not a durability test.
type Postgres struct {
	bin  string // directory of initdb and postgres
	dir  string // data directory is dir/data; the socket lives in dir
	port int
	user *runAs

	mu   sync.Mutex
	proc *proc
}

// StartPostgres initialises a cluster in a temporary directory and starts
// it on a free loopback port; the test's cleanup stops it and removes the
// directory. It skips t if the PostgreSQL server binaries are not
// installed (fails it when CI=true). Running as root (as CI does), the
// server runs as the postgres user, since initdb refuses root.
func StartPostgres(t testing.TB) *Postgres {
	t.Helper()
	bin := postgresBinDir()
	if bin == "" {
		missing(t, "PostgreSQL server binaries not found in /usr/lib/postgresql/*/bin or PATH (apt-get install postgresql)")
	}
	user, err := serverUser()
	if err != nil {
		missing(t, err.Error())
	}
	// Not t.TempDir: its parent is private to root, and the server may
	// run as another user.
	dir, err := os.MkdirTemp("", "casual-pg-")
	if err != nil {
		t.Fatal(err)
	}
	p := &Postgres{bin: bin, dir: dir, port: freePort(t), user: user}
	t.Cleanup(func() {
		p.Stop()
		_ = os.RemoveAll(dir)
	})
	if err := user.own(dir); err != nil {
		t.Fatalf("testservices: postgres: %v", err)
	}
	if err := p.initdb(); err != nil {
		t.Fatal(err)
	}
	if err := p.start(); err != nil {
		t.Fatal(err)
	}
	return p
}

// postgresBinDir returns the newest /usr/lib/postgresql/N/bin holding
// initdb and postgres, else the directory of initdb on PATH, else "".
func postgresBinDir() string {
	dirs, _ := filepath.Glob("/usr/lib/postgresql/*/bin")
	slices.SortFunc(dirs, func(a, b string) int { return versionOf(b) - versionOf(a) })
	for _, d := range dirs {
		if isExec(filepath.Join(d, "initdb")) && isExec(filepath.Join(d, "postgres")) {
			return d
		}
	}
	if p, err := exec.LookPath("initdb"); err == nil && isExec(filepath.Join(filepath.Dir(p), "postgres")) {
		return filepath.Dir(p)
	}
	return ""
}

func versionOf(binDir string) int {
	n, _ := strconv.Atoi(filepath.Base(filepath.Dir(binDir)))
	return n
}

func isExec(path string) bool {
	fi, err := os.Stat(path)
	return err == nil && !fi.IsDir() && fi.Mode()&0o111 != 0
}

// DSN returns a postgres:// URL of the server's postgres database.
func (p *Postgres) DSN() string {
	return fmt.Sprintf("postgres://postgres@127.0.0.1:%d/postgres?sslmode=disable", p.port)
}

// Port returns the TCP port the server listens on.
func (p *Postgres) Port() int { return p.port }

func (p *Postgres) command(name string, args ...string) *exec.Cmd {
	cmd := exec.Command(filepath.Join(p.bin, name), args...)
	cmd.Dir = p.dir
	cmd.Env = []string{"PATH=" + p.bin + ":/usr/bin:/bin", "LANG=C", "LC_ALL=C", "HOME=" + p.dir}
	cmd.SysProcAttr = &syscall.SysProcAttr{}
	p.user.apply(cmd.SysProcAttr)
	return cmd
}

func (p *Postgres) initdb() error {
	cmd := p.command("initdb", "-D", filepath.Join(p.dir, "data"), "-U", "postgres", "-A", "trust",
		"-E", "UTF8", "--locale=C", "--no-sync")
	if out, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("testservices: initdb: %w\n%s", err, out)
	}
	return nil
}

func (p *Postgres) start() error {
	p.mu.Lock()
	defer p.mu.Unlock()
	cmd := p.command("postgres", "-D", filepath.Join(p.dir, "data"), "-p", strconv.Itoa(p.port),
		"-c", "listen_addresses=127.0.0.1", "-c", "unix_socket_directories="+p.dir,
		"-c", "fsync=off", "-c", "synchronous_commit=off", "-c", "full_page_writes=off",
		"-c", "max_connections=300", "-c", "shared_buffers=16MB")
	proc, err := startProc(cmd)
	if err != nil {
		return fmt.Errorf("testservices: postgres: %w", err)
	}
	if err := proc.waitReady("postgres", p.ping); err != nil {
		return fmt.Errorf("testservices: %w", err)
	}
	p.proc = proc
	return nil
}

func (p *Postgres) ping() error {
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	c, err := pgx.Connect(ctx, p.DSN())
	if err != nil {
		return err
	}
	defer c.Close(ctx)
	return c.Ping(ctx)
}

// Stop shuts the server down (fast shutdown: sessions are ended,
// committed data kept) and waits for it. Stopping a stopped server does
// nothing.
func (p *Postgres) Stop() {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.proc != nil {
		p.proc.stop(syscall.SIGINT)
		p.proc = nil
	}
}

// Start starts a stopped server again on the same port and data.
func (p *Postgres) Start(t testing.TB) {
	t.Helper()
	p.mu.Lock()
	running := p.proc != nil
	p.mu.Unlock()
	if running {
		t.Fatal("testservices: postgres already running")
	}
	if err := p.start(); err != nil {
		t.Fatal(err)
	}
}

// Restart stops the server if it runs and starts it again on the same
// port and data; its clients' connections break.
func (p *Postgres) Restart(t testing.TB) {
	t.Helper()
	p.Stop()
	if err := p.start(); err != nil {
		t.Fatal(err)
	}
}
