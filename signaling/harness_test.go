package signaling_test

import (
	"context"
	"errors"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"

	"github.com/casual-dev/casual/collab"
	"github.com/casual-dev/casual/collab/client"
	"github.com/casual-dev/casual/crdt"
	"github.com/casual-dev/casual/rooms"
	"github.com/casual-dev/casual/signaling"
	"github.com/casual-dev/casual/store/embedded"
	"github.com/casual-dev/casual/web"
)

// A Conn serves both sides: the server's sessions and Go clients.
var (
	_ collab.Transport = (*signaling.Conn)(nil)
	_ client.Transport = (*signaling.Conn)(nil)
)

// testAuth accepts every token but "bad" and denies the documents in deny.
type testAuth struct {
	mu   sync.Mutex
	deny map[crdt.DocID]bool
}

func (a *testAuth) Authenticate(_ context.Context, cred collab.Credentials) error {
	if cred.Token == "bad" {
		return errors.New("token revoked")
	}
	return nil
}

func (a *testAuth) Authorize(_ context.Context, _ collab.Credentials, doc crdt.DocID) (rooms.Access, error) {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.deny[doc] {
		return rooms.NoAccess, nil
	}
	return rooms.Write, nil
}

func (a *testAuth) Deny(doc crdt.DocID) {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.deny == nil {
		a.deny = map[crdt.DocID]bool{}
	}
	a.deny[doc] = true
}

type testServer struct {
	http  string // http://127.0.0.1:port
	sync  string // ws://.../sync
	auth  *testAuth
	cs    *collab.Server
	rooms *rooms.Manager
	gw    *signaling.Gateway
	relay *signaling.Relay
	reg   *prometheus.Registry
}

type serverOptions struct {
	collab  func(*collab.Config)
	gateway func(*signaling.GatewayConfig)
	relay   func(*signaling.RelayConfig)
}

// startServer runs the whole stack (embedded store, rooms, collab, web,
// plus the gateway and relay mounted as cmd/casual mounts them) on
// 127.0.0.1:0.
func startServer(t testing.TB, opts serverOptions) *testServer {
	t.Helper()
	ctx := context.Background()
	st, err := embedded.Open(ctx, t.TempDir(), embedded.Options{})
	if err != nil {
		t.Fatal(err)
	}
	sid, err := st.StorageID(ctx)
	if err != nil {
		t.Fatal(err)
	}
	ccfg := collab.Config{PeerID: "casual-test", StorageID: sid}
	if opts.collab != nil {
		opts.collab(&ccfg)
	}
	reg := prometheus.NewRegistry()
	var mgr *rooms.Manager
	cm := collab.NewMetrics(reg, func() int { return mgr.Loaded() })
	sm := signaling.NewMetrics(reg)
	mgr = rooms.NewManager(st, rooms.Config{}, time.Second)
	auth := &testAuth{}
	cs := collab.NewServer(ccfg, mgr, auth, cm)
	gcfg := signaling.GatewayConfig{Auth: auth, Metrics: sm}
	if opts.gateway != nil {
		opts.gateway(&gcfg)
	}
	gw, err := signaling.NewGateway(cs, gcfg)
	if err != nil {
		t.Fatal(err)
	}
	rcfg := signaling.RelayConfig{Auth: auth, Metrics: sm}
	if opts.relay != nil {
		opts.relay(&rcfg)
	}
	relay := signaling.NewRelay(rcfg)
	ws := web.New(web.Config{Collab: cs, Gatherer: reg})
	gw.Register(ws)
	ws.Handle("GET /signal", relay)
	hs := httptest.NewServer(ws)
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if err := cs.Shutdown(ctx); err != nil {
			t.Error(err)
		}
		if err := gw.Close(ctx); err != nil {
			t.Error(err)
		}
		if err := relay.Close(ctx); err != nil {
			t.Error(err)
		}
		ws.Close()
		hs.Close()
		st.Close()
	})
	return &testServer{http: hs.URL, sync: "ws" + strings.TrimPrefix(hs.URL, "http") + "/sync",
		auth: auth, cs: cs, rooms: mgr, gw: gw, relay: relay, reg: reg}
}

func testCtx(t testing.TB) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	t.Cleanup(cancel)
	return ctx
}

// connectWS joins the server over WebSocket.
func (s *testServer) connectWS(t testing.TB) *client.Client {
	t.Helper()
	ctx := testCtx(t)
	tr, err := client.DialWebSocket(ctx, s.sync)
	if err != nil {
		t.Fatal(err)
	}
	c, err := client.New(ctx, tr, client.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

// connectRTC joins the server over a WebRTC peer connection.
func (s *testServer) connectRTC(t testing.TB, opts ...signaling.DialOption) (*client.Client, *signaling.Conn) {
	t.Helper()
	ctx := testCtx(t)
	conn, err := signaling.DialServer(ctx, s.http, "", opts...)
	if err != nil {
		t.Fatal(err)
	}
	c, err := client.New(ctx, conn, client.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c, conn
}

// metric returns the value of a counter or gauge (with labels k=v...).
func (s *testServer) metric(t testing.TB, name string, labels ...string) float64 {
	t.Helper()
	mfs, err := s.reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() != name {
			continue
		}
		for _, m := range mf.GetMetric() {
			if hasLabels(m, labels) {
				if g := m.GetGauge(); g != nil {
					return g.GetValue()
				}
				return m.GetCounter().GetValue()
			}
		}
	}
	return 0
}

func hasLabels(m *dto.Metric, kv []string) bool {
	for i := 0; i+1 < len(kv); i += 2 {
		found := false
		for _, l := range m.GetLabel() {
			if l.GetName() == kv[i] && l.GetValue() == kv[i+1] {
				found = true
			}
		}
		if !found {
			return false
		}
	}
	return true
}

// eventually polls cond until it holds or ctx ends.
func eventually(t testing.TB, ctx context.Context, what string, cond func() bool) {
	t.Helper()
	for !cond() {
		select {
		case <-ctx.Done():
			t.Fatalf("timed out waiting for %s", what)
		case <-time.After(10 * time.Millisecond):
		}
	}
}

func setKey(k string, v any) func(d *crdt.Doc) error {
	return func(d *crdt.Doc) error { return d.Set([]any{k}, v) }
}

func hasKey(k string, v any) func(d *crdt.Doc) bool {
	return func(d *crdt.Doc) bool { got, _ := d.Get(k); return got == v }
}
