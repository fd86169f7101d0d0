package postgres_test

import (
	"errors"
	"io"
	"net"
	"strconv"
	"sync"
	"testing"

	"github.com/jackc/pgx/v5"

	"github.com/casual-dev/casual/store"
	"github.com/casual-dev/casual/store/postgres"
)

// TestAppendFailsWhilePostgresIsUnreachable puts a TCP proxy between the
// store and the server and cuts it, as a server restart or a network
// failure would: Appends fail (never report success for a write that did
// not commit), and once the proxy is back they succeed again without
// reopening the store.
func TestAppendFailsWhilePostgresIsUnreachable(t *testing.T) {
	_, dsn := newSchema(t)
	cfg, err := pgx.ParseConfig(dsn)
	if err != nil {
		t.Fatal(err)
	}
	p := startProxy(t, net.JoinHostPort(cfg.Host, strconv.Itoa(int(cfg.Port))))
	host, port, _ := net.SplitHostPort(p.addr())
	s := openStore(t, dsnWith(t, dsn, map[string]string{"host": host, "port": port}), postgres.Options{AutoMigrate: true})
	ctx := t.Context()

	before := []byte("before the outage")
	if _, err := s.Append(ctx, "doc", before); err != nil {
		t.Fatal(err)
	}
	p.setDown(true)
	during := []byte("during the outage")
	for i := range 3 {
		if ref, err := s.Append(ctx, "doc", during); err == nil {
			t.Fatalf("Append %d while the database is unreachable = %+v, want an error", i, ref)
		} else if errors.Is(err, store.ErrClosed) {
			t.Fatalf("Append %d: %v, want a database error", i, err)
		}
	}
	if _, err := s.Load(ctx, "doc"); err == nil || errors.Is(err, store.ErrNotFound) {
		t.Fatalf("Load while the database is unreachable: %v, want an error", err)
	}

	p.setDown(false)
	var failures int
	if err := appendWithRetry(ctx, s, "doc", during, &failures); err != nil {
		t.Fatal(err)
	}
	t.Logf("%d failed appends after the database came back", failures)
	chunks, err := s.Load(ctx, "doc")
	if err != nil {
		t.Fatal(err)
	}
	if len(chunks) != 2 || string(chunks[0].Data) != string(before) || string(chunks[1].Data) != string(during) {
		t.Fatalf("loaded %v, want the chunk from before and from after the outage", chunks)
	}
}

// proxy forwards TCP connections to target; while down it cuts the ones
// it has and refuses new ones (accepting and closing them at once).
type proxy struct {
	ln     net.Listener
	target string
	wg     sync.WaitGroup

	mu    sync.Mutex
	down  bool
	conns map[net.Conn]struct{}
}

// startProxy listens on 127.0.0.1:0; the test's cleanup stops it.
func startProxy(t *testing.T, target string) *proxy {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p := &proxy{ln: ln, target: target, conns: map[net.Conn]struct{}{}}
	p.wg.Go(p.accept)
	t.Cleanup(func() {
		ln.Close()
		p.setDown(true) // cut every connection
		p.wg.Wait()
	})
	return p
}

func (p *proxy) addr() string { return p.ln.Addr().String() }

func (p *proxy) accept() {
	for {
		c, err := p.ln.Accept()
		if err != nil {
			return // closed by the cleanup
		}
		p.wg.Go(func() { p.serve(c) })
	}
}

func (p *proxy) serve(client net.Conn) {
	if !p.track(client) {
		client.Close()
		return
	}
	defer p.untrack(client)
	server, err := net.Dial("tcp", p.target)
	if err != nil {
		return
	}
	if !p.track(server) {
		server.Close()
		return
	}
	defer p.untrack(server)
	var pipes sync.WaitGroup
	pipe := func(dst, src net.Conn) {
		io.Copy(dst, src)
		// One side ended: end both, so the other copy returns too.
		dst.Close()
		src.Close()
	}
	pipes.Go(func() { pipe(server, client) })
	pipes.Go(func() { pipe(client, server) })
	pipes.Wait()
}

// track registers c, or reports false while the proxy is down.
func (p *proxy) track(c net.Conn) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.down {
		return false
	}
	p.conns[c] = struct{}{}
	return true
}

func (p *proxy) untrack(c net.Conn) {
	p.mu.Lock()
	defer p.mu.Unlock()
	delete(p.conns, c)
	c.Close()
}

func (p *proxy) setDown(down bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.down = down
	if down {
		for c := range p.conns {
			c.Close()
		}
	}
}
