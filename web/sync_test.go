package web_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"github.com/casual-dev/casual/collab"
	"github.com/casual-dev/casual/collab/client"
	"github.com/casual-dev/casual/collab/wire"
	"github.com/casual-dev/casual/crdt"
	"github.com/casual-dev/casual/rooms"
)

func asCloseError(err error, ce **websocket.CloseError) bool { return errors.As(err, ce) }

func setKey(k string, v any) func(d *crdt.Doc) error {
	return func(d *crdt.Doc) error { return d.Set([]any{k}, v) }
}

func hasKey(k string, v any) func(d *crdt.Doc) bool {
	return func(d *crdt.Doc) bool { got, _ := d.Get(k); return got == v }
}

func TestCreateFindAndConcurrentEditsConverge(t *testing.T) {
	s := startServer(t, nil)
	ctx := testCtx(t)
	a, b := s.connect(t), s.connect(t)
	ha, err := a.Create(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if err := ha.Change(ctx, "title", setKey("title", "Todo")); err != nil {
		t.Fatal(err)
	}
	if err := ha.WaitAcked(ctx); err != nil {
		t.Fatal(err)
	}
	hb, err := b.Find(ctx, ha.ID())
	if err != nil {
		t.Fatal(err)
	}
	if err := hb.WaitFor(ctx, hasKey("title", "Todo")); err != nil {
		t.Fatal(err)
	}
	// concurrent edits from both sides, to different and to the same key
	for i := 0; i < 20; i++ {
		if err := ha.Change(ctx, "", setKey(fmt.Sprintf("a%d", i), int64(i))); err != nil {
			t.Fatal(err)
		}
		if err := hb.Change(ctx, "", setKey(fmt.Sprintf("b%d", i), int64(i))); err != nil {
			t.Fatal(err)
		}
		ha.Change(ctx, "", setKey("same", "a"))
		hb.Change(ctx, "", setKey("same", "b"))
	}
	converged := func(d *crdt.Doc) bool {
		a, _ := d.Get("a19")
		b, _ := d.Get("b19")
		return a == int64(19) && b == int64(19)
	}
	if err := ha.WaitFor(ctx, converged); err != nil {
		t.Fatal(err)
	}
	if err := hb.WaitFor(ctx, converged); err != nil {
		t.Fatal(err)
	}
	waitSameHeads(t, ctx, ha, hb)
	var sa, sb any
	ha.Read(func(d *crdt.Doc) { sa, _ = d.Get("same") })
	hb.Read(func(d *crdt.Doc) { sb, _ = d.Get("same") })
	if sa != sb {
		t.Fatalf("same key diverged: %v vs %v", sa, sb)
	}
}

func waitSameHeads(t *testing.T, ctx context.Context, hs ...*client.Handle) {
	t.Helper()
	for {
		same := true
		h0 := fmt.Sprint(hs[0].Heads())
		for _, h := range hs[1:] {
			same = same && fmt.Sprint(h.Heads()) == h0
		}
		if same {
			return
		}
		select {
		case <-ctx.Done():
			t.Fatal("heads never converged")
		case <-time.After(20 * time.Millisecond):
		}
	}
}

func TestPresenceIsRelayedToOtherPeers(t *testing.T) {
	s := startServer(t, nil)
	ctx := testCtx(t)
	a, b, c := s.connect(t), s.connect(t), s.connect(t)
	ha, _ := a.Create(ctx)
	ha.Change(ctx, "", setKey("k", "v"))
	ha.WaitAcked(ctx)
	hb, err := b.Find(ctx, ha.ID())
	if err != nil {
		t.Fatal(err)
	}
	hc, err := c.Find(ctx, ha.ID())
	if err != nil {
		t.Fatal(err)
	}
	if err := hb.Broadcast(ctx, []byte{0xa1, 0x61, 'x', 0x05}); err != nil {
		t.Fatal(err)
	}
	for _, h := range []*client.Handle{ha, hc} {
		select {
		case e := <-h.Ephemeral():
			if e.SenderID != b.PeerID() || !bytes.Equal(e.Data, []byte{0xa1, 0x61, 'x', 0x05}) {
				t.Fatalf("relayed %+v", e)
			}
		case <-ctx.Done():
			t.Fatal("presence not relayed")
		}
	}
	select {
	case e := <-hb.Ephemeral():
		t.Fatalf("sender got its own presence back: %+v", e)
	case <-time.After(100 * time.Millisecond):
	}
}

func TestUnknownDocIsUnavailableThenPushedWhenItAppears(t *testing.T) {
	s := startServer(t, nil)
	ctx := testCtx(t)
	waiter := s.connect(t)
	id := crdt.NewDocID()
	hw, err := waiter.Find(ctx, id)
	if !errors.Is(err, client.ErrUnavailable) {
		t.Fatalf("Find(unknown) = %v, want ErrUnavailable", err)
	}
	// another peer brings the document into existence under that id
	author := s.raw(t)
	author.join("author")
	doc := crdt.New()
	doc.Set([]any{"hello"}, "world")
	doc.Commit("")
	author.syncDoc(id, doc)
	if err := hw.WaitFor(ctx, hasKey("hello", "world")); err != nil {
		t.Fatalf("the waiting peer never received the document: %v", err)
	}
}

func TestDocumentsSurviveRestartOfTheRoom(t *testing.T) {
	s := startServer(t, func(_ *collab.Config, _ *rooms.Config) {})
	ctx := testCtx(t)
	a := s.connect(t)
	ha, _ := a.Create(ctx)
	ha.Change(ctx, "", setKey("k", "kept"))
	if err := ha.WaitAcked(ctx); err != nil {
		t.Fatal(err)
	}
	a.Close()
	for s.rooms.Loaded() != 0 { // idle unload after 1 s
		select {
		case <-ctx.Done():
			t.Fatal("room never unloaded")
		case <-time.After(50 * time.Millisecond):
		}
	}
	b := s.connect(t)
	hb, err := b.Find(ctx, ha.ID())
	if err != nil {
		t.Fatal(err)
	}
	if err := hb.WaitFor(ctx, hasKey("k", "kept")); err != nil {
		t.Fatal(err)
	}
}

// TestBadInputGetsPreciseErrorAndHarmsNoOne sends each kind of bad input on
// its own connection, checks the error code, then checks the server still
// syncs a shared document between two good peers.
func TestBadInputGetsPreciseErrorAndHarmsNoOne(t *testing.T) {
	s := startServer(t, func(c *collab.Config, r *rooms.Config) {
		c.MaxFrameBytes = 64 << 10
		c.MaxDocsPerConn = 3
		c.RateBurst = 50
		c.RatePerSec = 10
		r.MaxDocBytes = 32 << 10
	})
	ctx := testCtx(t)
	good1, good2 := s.connect(t), s.connect(t)
	shared, _ := good1.Create(ctx)
	shared.Change(ctx, "", setKey("n", int64(0)))
	shared.WaitAcked(ctx)
	other, err := good2.Find(ctx, shared.ID())
	if err != nil {
		t.Fatal(err)
	}
	docID := string(crdt.NewDocID())
	sync := func(peer, doc string, data []byte) *wire.Message {
		return &wire.Message{Type: wire.TypeSync, SenderID: peer, TargetID: "casual-test", DocumentID: doc, Data: data}
	}
	tests := []struct {
		name  string
		join  bool
		send  func(r *rawConn)
		code  string
		close int // expected close code, 0 = connection stays usable
	}{
		{"malformed CBOR", true, func(r *rawConn) { r.sendBytes([]byte{0xbf, 0x01, 0xff, 0x13}) }, "malformed_message", 0},
		{"wrong field type", true, func(r *rawConn) { r.sendBytes([]byte("\xa2\x64type\x64sync\x68senderId\x05")) }, "malformed_message", 0},
		{"unknown message type", true, func(r *rawConn) {
			r.send(&wire.Message{Type: "teleport", SenderID: "raw"})
		}, "unknown_message_type", 0},
		{"text frame", true, func(r *rawConn) { r.conn.WriteMessage(websocket.TextMessage, []byte(`{"type":"sync"}`)) }, "text_frame", 0},
		{"message before join", false, func(r *rawConn) { r.send(sync("raw", docID, []byte{0x42, 0, 0, 0, 0, 0})) }, "join_required", 0},
		{"senderId of another peer", true, func(r *rawConn) { r.send(sync(good1.PeerID(), docID, []byte{0x42})) }, "sender_mismatch", 0},
		{"invalid document id", true, func(r *rawConn) { r.send(sync("raw", "not-a-doc-id", []byte{0x42})) }, "invalid_document_id", 0},
		{"undecodable sync data", true, func(r *rawConn) {
			r.send(sync("raw", string(shared.ID()), []byte{0x42, 0x01, 0xff, 0xee}))
		}, "sync_failed", 0},
		{"too many documents", true, func(r *rawConn) {
			for i := 0; i < 4; i++ {
				r.send(&wire.Message{Type: wire.TypeRequest, SenderID: "raw", DocumentID: string(crdt.NewDocID()), Data: emptySync})
			}
		}, "too_many_documents", 0},
		{"oversized frame", true, func(r *rawConn) {
			r.send(sync("raw", docID, bytes.Repeat([]byte{0x42}, 70<<10)))
		}, "frame_too_large", websocket.CloseMessageTooBig},
		{"unsupported protocol version", false, func(r *rawConn) {
			r.send(&wire.Message{Type: wire.TypeJoin, SenderID: "raw", SupportedProtocolVersions: []string{"2"}})
		}, "unsupported_protocol_version", websocket.CloseProtocolError},
		{"unmasked frame", true, func(r *rawConn) { r.writeRaw(rawFrame(0x82, false, []byte{0xa0})) }, "bad_frame", websocket.CloseProtocolError},
		{"reserved bits set", true, func(r *rawConn) { r.writeRaw(rawFrame(0x82|0x40, true, []byte{0xa0})) }, "bad_frame", websocket.CloseProtocolError},
		{"reserved opcode", true, func(r *rawConn) { r.writeRaw(rawFrame(0x83, true, []byte{0xa0})) }, "bad_frame", websocket.CloseProtocolError},
		{"fragmented ping", true, func(r *rawConn) { r.writeRaw(rawFrame(0x09, true, []byte("hi"))) }, "bad_frame", websocket.CloseProtocolError},
		{"continuation of nothing", true, func(r *rawConn) { r.writeRaw(rawFrame(0x80, true, []byte{0xa0})) }, "bad_frame", websocket.CloseProtocolError},
		{"oversized frame header", true, func(r *rawConn) {
			// only the header of a 1 GiB frame: refused before any payload
			r.writeRaw([]byte{0x82, 0xff, 0, 0, 0, 0, 0x40, 0, 0, 0, 1, 2, 3, 4})
		}, "frame_too_large", websocket.CloseMessageTooBig},
		{"message flood", true, func(r *rawConn) {
			for i := 0; i < 200; i++ {
				if r.conn.WriteMessage(websocket.BinaryMessage, []byte("\xa2\x64type\x74remote-heads-changed\x68senderId\x63raw")) != nil {
					return
				}
			}
		}, "rate_limited", websocket.CloseTryAgainLater},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := s.raw(t)
			if tt.join {
				r.join("raw")
			}
			tt.send(r)
			e := r.expectError(tt.code)
			if e.Message == "" || e.SenderID != "casual-test" {
				t.Fatalf("error message lacks text or sender: %+v", e)
			}
			if tt.close != 0 {
				if code := r.expectClosed(); code != tt.close {
					t.Fatalf("close code %d, want %d", code, tt.close)
				}
				return
			}
			// the connection still works: a request is answered
			if !tt.join {
				r.join("raw")
			}
			r.send(&wire.Message{Type: wire.TypeRequest, SenderID: "raw", DocumentID: string(crdt.NewDocID()), Data: emptySync})
			if tt.name == "too many documents" {
				r.expectError("too_many_documents")
				return
			}
			for {
				m := r.next()
				if m.Type == wire.TypeDocUnavailable {
					break
				}
			}
		})
	}
	// the good peers and their document are unaffected
	if err := shared.Change(ctx, "", setKey("n", int64(42))); err != nil {
		t.Fatal(err)
	}
	if err := other.WaitFor(ctx, hasKey("n", int64(42))); err != nil {
		t.Fatal(err)
	}
}

// emptySync is the sync message of an empty document (what JS sends in a request).
var emptySync = []byte{0x42, 0x00, 0x00, 0x01, 0x00, 0x00, 0x00, 0x02, 0x02, 0x84}

func TestDocumentSizeLimitRefusesGrowth(t *testing.T) {
	s := startServer(t, func(c *collab.Config, r *rooms.Config) { r.MaxDocBytes = 16 << 10 })
	ctx := testCtx(t)
	a := s.connect(t)
	h, _ := a.Create(ctx)
	h.Change(ctx, "", setKey("small", "ok"))
	if err := h.WaitAcked(ctx); err != nil {
		t.Fatal(err)
	}
	big := strings.Repeat("x", 40<<10)
	h.Change(ctx, "", setKey("big", big))
	select {
	case e := <-a.Errors():
		if e.Code != "document_too_large" || e.Limit != 16<<10 {
			t.Fatalf("error %+v", e)
		}
	case <-ctx.Done():
		t.Fatal("no document_too_large error")
	}
	b := s.connect(t)
	hb, err := b.Find(ctx, h.ID())
	if err != nil {
		t.Fatal(err)
	}
	hb.Read(func(d *crdt.Doc) {
		if v, _ := d.Get("big"); v != nil {
			t.Fatal("oversized change was stored")
		}
		if v, _ := d.Get("small"); v != "ok" {
			t.Fatal("earlier change lost")
		}
	})
}

func TestReadOnlyEndpointsAnswer(t *testing.T) {
	s := startServer(t, nil)
	for path, want := range map[string]string{"/healthz": `"ok"`, "/readyz": `"ready":true`, "/metrics": "casual_connections"} {
		resp, err := http.Get(s.http + path)
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != 200 || !strings.Contains(string(body), want) {
			t.Errorf("GET %s = %d %s", path, resp.StatusCode, body)
		}
	}
	resp, err := http.Get(s.http + "/sync")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusBadRequest {
		t.Errorf("GET /sync without upgrade = %d", resp.StatusCode)
	}
}

func TestInProcessPeerSyncsWithWebSocketPeer(t *testing.T) {
	s := startServer(t, nil)
	ctx := testCtx(t)
	ai, err := client.New(ctx, s.cs.Connect(ctx, collab.Credentials{Actor: "ai"}), client.Options{PeerID: "ai-peer"})
	if err != nil {
		t.Fatal(err)
	}
	defer ai.Close()
	h, _ := ai.Create(ctx)
	h.Change(ctx, "", setKey("by", "ai"))
	if err := h.WaitAcked(ctx); err != nil {
		t.Fatal(err)
	}
	browser := s.connect(t)
	hb, err := browser.Find(ctx, h.ID())
	if err != nil {
		t.Fatal(err)
	}
	if err := hb.WaitFor(ctx, hasKey("by", "ai")); err != nil {
		t.Fatal(err)
	}
	hb.Change(ctx, "", setKey("reply", "human"))
	if err := h.WaitFor(ctx, hasKey("reply", "human")); err != nil {
		t.Fatal(err)
	}
}
