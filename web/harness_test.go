package web_test

import (
	"context"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/gorilla/websocket"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/casual-dev/casual/collab"
	"github.com/casual-dev/casual/collab/client"
	"github.com/casual-dev/casual/collab/wire"
	"github.com/casual-dev/casual/crdt"
	"github.com/casual-dev/casual/rooms"
	"github.com/casual-dev/casual/store/embedded"
	"github.com/casual-dev/casual/web"
)

type testServer struct {
	url   string // ws://.../sync
	http  string
	cs    *collab.Server
	rooms *rooms.Manager
}

// startServer runs the whole stack (embedded store, rooms, collab, web)
// on 127.0.0.1:0; tweak adjusts the protocol limits.
func startServer(t *testing.T, tweak func(*collab.Config, *rooms.Config)) *testServer {
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
	rcfg := rooms.Config{}
	if tweak != nil {
		tweak(&ccfg, &rcfg)
	}
	reg := prometheus.NewRegistry()
	var mgr *rooms.Manager
	metrics := collab.NewMetrics(reg, func() int { return mgr.Loaded() })
	mgr = rooms.NewManager(st, rcfg, time.Second)
	cs := collab.NewServer(ccfg, mgr, nil, metrics)
	ws := web.New(web.Config{Collab: cs, Gatherer: reg})
	hs := httptest.NewServer(ws)
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if err := cs.Shutdown(ctx); err != nil {
			t.Error(err)
		}
		ws.Close()
		hs.Close()
		st.Close()
	})
	return &testServer{url: "ws" + strings.TrimPrefix(hs.URL, "http") + "/sync", http: hs.URL, cs: cs, rooms: mgr}
}

func testCtx(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	t.Cleanup(cancel)
	return ctx
}

func (s *testServer) connect(t *testing.T) *client.Client {
	t.Helper()
	ctx := testCtx(t)
	tr, err := client.DialWebSocket(ctx, s.url)
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

// rawConn is a bare WebSocket for sending what no well-behaved client would.
type rawConn struct {
	t    *testing.T
	conn *websocket.Conn
}

func (s *testServer) raw(t *testing.T) *rawConn {
	t.Helper()
	conn, _, err := websocket.DefaultDialer.Dial(s.url, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	return &rawConn{t: t, conn: conn}
}

func (r *rawConn) send(m *wire.Message) {
	r.t.Helper()
	b, err := wire.Encode(m)
	if err != nil {
		r.t.Fatal(err)
	}
	r.sendBytes(b)
}

func (r *rawConn) sendBytes(b []byte) {
	r.t.Helper()
	if err := r.conn.WriteMessage(websocket.BinaryMessage, b); err != nil {
		r.t.Fatal(err)
	}
}

func (r *rawConn) join(peer string) {
	r.t.Helper()
	r.send(&wire.Message{Type: wire.TypeJoin, SenderID: peer, SupportedProtocolVersions: []string{"1"}})
	if m := r.next(); m.Type != wire.TypePeer {
		r.t.Fatalf("join answered with %+v", m)
	}
}

// next reads the next message; a closed connection fails the test.
func (r *rawConn) next() *wire.Message {
	r.t.Helper()
	m, err := r.read()
	if err != nil {
		r.t.Fatal(err)
	}
	return m
}

func (r *rawConn) read() (*wire.Message, error) {
	r.conn.SetReadDeadline(time.Now().Add(10 * time.Second))
	typ, b, err := r.conn.ReadMessage()
	if err != nil {
		return nil, err
	}
	if typ != websocket.BinaryMessage {
		r.t.Fatalf("server sent frame type %d, want binary", typ)
	}
	m, err := wire.Decode(b)
	if err != nil {
		r.t.Fatalf("server sent undecodable frame: %v", err)
	}
	return m, nil
}

// expectError reads until an error message arrives and returns it.
func (r *rawConn) expectError(code string) *wire.Message {
	r.t.Helper()
	for i := 0; i < 10; i++ {
		m := r.next()
		if m.Type == wire.TypeError {
			if m.Code != code {
				r.t.Fatalf("error code %q (%s), want %q", m.Code, m.Message, code)
			}
			return m
		}
	}
	r.t.Fatalf("no %s error", code)
	return nil
}

// expectClosed reads until the server closes and returns the close code.
func (r *rawConn) expectClosed() int {
	r.t.Helper()
	for i := 0; i < 20; i++ {
		_, err := r.read()
		if err != nil {
			var ce *websocket.CloseError
			if ok := asCloseError(err, &ce); ok {
				return ce.Code
			}
			return -1
		}
	}
	r.t.Fatal("server kept the connection open")
	return 0
}

// syncDoc runs the sync protocol for doc under id until the server has it.
func (r *rawConn) syncDoc(id crdt.DocID, doc *crdt.Doc) {
	r.t.Helper()
	ss := doc.NewSyncState()
	for i := 0; i < 20; i++ {
		msg, ok, err := ss.Generate()
		if err != nil {
			r.t.Fatal(err)
		}
		if !ok {
			return
		}
		r.send(&wire.Message{Type: wire.TypeSync, SenderID: "author", TargetID: "casual-test", DocumentID: string(id), Data: msg})
		m := r.next()
		if m.Type != wire.TypeSync {
			r.t.Fatalf("got %s while syncing", m.Type)
		}
		if _, err := ss.Receive(m.Data); err != nil {
			r.t.Fatal(err)
		}
	}
	r.t.Fatal("sync did not settle")
}

// writeRaw writes bytes straight to the socket, under the WebSocket
// framing: for frames no WebSocket library would write.
func (r *rawConn) writeRaw(b []byte) {
	r.t.Helper()
	if _, err := r.conn.NetConn().Write(b); err != nil {
		r.t.Fatal(err)
	}
}

// rawFrame encodes one client frame: b0 is the first header byte (FIN,
// RSV, opcode); masked frames use a fixed key.
func rawFrame(b0 byte, masked bool, payload []byte) []byte {
	out := []byte{b0}
	var mask byte
	if masked {
		mask = 0x80
	}
	switch n := len(payload); {
	case n < 126:
		out = append(out, mask|byte(n))
	case n < 1<<16:
		out = append(out, mask|126, byte(n>>8), byte(n))
	default:
		out = append(out, mask|127, 0, 0, 0, 0, byte(n>>24), byte(n>>16), byte(n>>8), byte(n))
	}
	if !masked {
		return append(out, payload...)
	}
	key := []byte{0x12, 0x34, 0x56, 0x78}
	out = append(out, key...)
	for i, c := range payload {
		out = append(out, c^key[i%4])
	}
	return out
}
