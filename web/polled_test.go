package web_test

import (
	"runtime"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"github.com/casual-dev/casual/collab"
	"github.com/casual-dev/casual/collab/wire"
	"github.com/casual-dev/casual/crdt"
	"github.com/casual-dev/casual/rooms"
)

// eventually polls cond until it holds or 10 s pass.
func eventually(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("never happened: %s", what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// On Linux the server reads sockets through its poller: a connected peer
// that sends nothing holds no goroutine on the server.
func TestIdleConnectionsHoldNoGoroutine(t *testing.T) {
	if runtime.GOOS != "linux" {
		t.Skip("the connection poller is Linux-only; elsewhere each connection has a reader goroutine")
	}
	s := startServer(t, nil)
	ctx := testCtx(t)
	owner := s.connect(t)
	doc, err := owner.Create(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if err := doc.Change(ctx, "", setKey("n", int64(1))); err != nil {
		t.Fatal(err)
	}
	if err := doc.WaitAcked(ctx); err != nil {
		t.Fatal(err)
	}
	settle := func() int {
		runtime.GC()
		return runtime.NumGoroutine()
	}
	before := settle()
	const peers = 40
	for i := range peers {
		r := s.raw(t)
		peer := "idle-" + string(rune('a'+i%26)) + string(rune('a'+i/26))
		r.join(peer)
		r.send(&wire.Message{Type: wire.TypeRequest, SenderID: peer, DocumentID: string(doc.ID()), Data: emptySync})
		if m := r.next(); m.Type != wire.TypeSync {
			t.Fatalf("request answered with %+v", m)
		}
	}
	eventually(t, "sessions registered", func() bool { return s.cs.Connections() == peers+1 })
	// Raw clients run no goroutines; whatever the count grew by is the
	// server's, and must not grow with the connections.
	var grown int
	eventually(t, "server goroutines settle below one per idle connection", func() bool {
		grown = settle() - before
		return grown < 5
	})
	// The idle peers still hear changes, and a write wakes the server.
	if err := doc.Change(ctx, "", setKey("n", int64(2))); err != nil {
		t.Fatal(err)
	}
	if err := doc.WaitAcked(ctx); err != nil {
		t.Fatal(err)
	}
}

// A message may arrive in fragments, with control frames between them, and
// each frame split over many TCP writes.
func TestFragmentedMessageInTinyWrites(t *testing.T) {
	s := startServer(t, nil)
	r := s.raw(t)
	pongs := make(chan string, 1)
	r.conn.SetPongHandler(func(p string) error { pongs <- p; return nil })
	join, err := wire.Encode(&wire.Message{Type: wire.TypeJoin, SenderID: "frag", SupportedProtocolVersions: []string{"1"}})
	if err != nil {
		t.Fatal(err)
	}
	third := len(join) / 3
	var stream []byte
	stream = append(stream, rawFrame(0x02, true, join[:third])...)            // binary, not final
	stream = append(stream, rawFrame(0x89, true, []byte("are you there"))...) // ping in between
	stream = append(stream, rawFrame(0x00, true, join[third:2*third])...)     // continuation
	stream = append(stream, rawFrame(0x80, true, join[2*third:])...)          // final continuation
	for i := range stream {
		r.writeRaw(stream[i : i+1])
	}
	if m := r.next(); m.Type != wire.TypePeer || m.TargetID != "frag" {
		t.Fatalf("join answered with %+v", m)
	}
	select {
	case p := <-pongs:
		if p != "are you there" {
			t.Fatalf("pong %q, want the ping's payload", p)
		}
	default:
		t.Fatal("no pong for the ping sent between fragments")
	}
	// A large message (gorilla fragments it every 4 KiB) is understood too.
	r.send(&wire.Message{Type: wire.TypeRequest, SenderID: "frag", DocumentID: string(crdt.NewDocID()),
		Data: append([]byte{0x42, 0, 0, 0, 0}, make([]byte, 20<<10)...)})
	for {
		m := r.next()
		if m.Type == wire.TypeError || m.Type == wire.TypeDocUnavailable {
			break
		}
	}
}

// A peer that answers no ping is dropped; its room is left.
func TestSilentPeerIsDropped(t *testing.T) {
	s := startServer(t, func(c *collab.Config, _ *rooms.Config) { c.PingInterval = 40 * time.Millisecond })
	r := s.raw(t)
	r.join("silent")
	// The client never reads again, so it never answers a ping.
	eventually(t, "the silent peer's session ends", func() bool { return s.cs.Connections() == 0 })
}

// A close frame from the client is answered with a close frame.
func TestClientCloseIsEchoed(t *testing.T) {
	s := startServer(t, nil)
	r := s.raw(t)
	r.join("leaver")
	if err := r.conn.WriteMessage(websocket.CloseMessage, websocket.FormatCloseMessage(websocket.CloseNormalClosure, "bye")); err != nil {
		t.Fatal(err)
	}
	if code := r.expectClosed(); code != websocket.CloseNormalClosure {
		t.Fatalf("close code %d, want %d", code, websocket.CloseNormalClosure)
	}
	eventually(t, "the session ends", func() bool { return s.cs.Connections() == 0 })
}
