package client_test

import (
	"context"
	"errors"
	"io"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"github.com/casual-dev/casual/collab/client"
	"github.com/casual-dev/casual/collab/client/clienttest"
	"github.com/casual-dev/casual/collab/wire"
	"github.com/casual-dev/casual/crdt"
)

// fakeServer returns a client joined over a Pipe whose server end the test
// drives by hand.
func fakeServer(t *testing.T, ctx context.Context) (*client.Client, client.Transport) {
	t.Helper()
	a, b := client.Pipe()
	t.Cleanup(func() { b.Close() })
	sid := "storage-1"
	peer, err := wire.Encode(&wire.Message{Type: wire.TypePeer, SenderID: "srv",
		PeerMetadata: &wire.PeerMetadata{StorageID: &sid}, SelectedProtocolVersion: "1"})
	if err != nil {
		t.Fatal(err)
	}
	if err := b.Send(ctx, peer); err != nil { // buffered: ready before join
		t.Fatal(err)
	}
	c, err := client.New(ctx, a, client.Options{PeerID: "peer-t"})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	join := recvMessage(t, ctx, b)
	if join.Type != wire.TypeJoin || join.SenderID != "peer-t" || join.PeerMetadata == nil ||
		!join.PeerMetadata.IsEphemeral || len(join.SupportedProtocolVersions) != 1 {
		t.Fatalf("join = %+v", join)
	}
	if c.ServerPeerID() != "srv" || c.ServerStorageID() != "storage-1" {
		t.Fatalf("server %q %q", c.ServerPeerID(), c.ServerStorageID())
	}
	return c, b
}

func recvMessage(t *testing.T, ctx context.Context, tr client.Transport) *wire.Message {
	t.Helper()
	f, err := tr.Recv(ctx)
	if err != nil {
		t.Fatal(err)
	}
	m, err := wire.Decode(f)
	if err != nil {
		t.Fatal(err)
	}
	return m
}

// readLoops counts running read goroutines of clients.
func readLoops() int {
	buf := make([]byte, 1<<20)
	for {
		n := runtime.Stack(buf, true)
		if n < len(buf) {
			return strings.Count(string(buf[:n]), "client.(*Client).readLoop")
		}
		buf = make([]byte, 2*len(buf))
	}
}

// settle yields until the read goroutines number want: a goroutine just
// started may be missing from a stack dump, and one returning may still be
// on its way out right after Close.
func settle(want int) int {
	n := readLoops()
	for i := 0; i < 1000 && n != want; i++ {
		runtime.Gosched()
		n = readLoops()
	}
	return n
}

func TestConnectionEndStopsTheClient(t *testing.T) {
	tests := []struct {
		name    string
		end     func(c *client.Client, server client.Transport)
		wantErr error
	}{
		{"client closes", func(c *client.Client, _ client.Transport) { c.Close() }, client.ErrClosed},
		{"server hangs up", func(_ *client.Client, s client.Transport) { s.Close() }, io.EOF},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), testTimeout)
			defer cancel()
			before := settle(0)
			c, server := fakeServer(t, ctx)
			if n := settle(before + 1); n != before+1 {
				t.Fatalf("%d read goroutines after New, want %d", n, before+1)
			}
			h, err := c.Create(ctx)
			if err != nil {
				t.Fatal(err)
			}
			waiting := make(chan error, 1)
			go func() { waiting <- h.WaitFor(ctx, func(*crdt.Doc) bool { return false }) }()
			tt.end(c, server)
			<-c.Done()
			if err := <-waiting; !errors.Is(err, client.ErrClosed) || !errors.Is(err, tt.wantErr) {
				t.Fatalf("WaitFor = %v, want %v", err, tt.wantErr)
			}
			if err := c.Close(); err != nil {
				t.Fatalf("Close: %v", err)
			}
			if err := c.Close(); err != nil {
				t.Fatalf("second Close: %v", err)
			}
			if n := settle(before); n != before {
				t.Fatalf("%d read goroutines after Close, want %d", n, before)
			}
			if !errors.Is(c.Err(), tt.wantErr) {
				t.Fatalf("Err = %v, want %v", c.Err(), tt.wantErr)
			}
			if err := h.Change(ctx, "", set("k", "v")); !errors.Is(err, client.ErrClosed) {
				t.Fatalf("Change after end = %v", err)
			}
		})
	}
}

func TestWaitAckedWaitsForTheServersHeads(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), testTimeout)
	defer cancel()
	c, server := fakeServer(t, ctx)
	h, err := c.Create(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if err := h.Change(ctx, "", set("k", "v")); err != nil {
		t.Fatal(err)
	}
	short, cancelShort := context.WithTimeout(ctx, 50*time.Millisecond)
	defer cancelShort()
	if err := h.WaitAcked(short); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("WaitAcked before any server message = %v", err)
	}
	// Play the server: sync until the client's message carries no more news.
	doc := crdt.New()
	ss := doc.NewSyncState()
	acked := make(chan error, 1)
	go func() { acked <- h.WaitAcked(ctx) }()
	for {
		m := recvMessage(t, ctx, server)
		if m.Type != wire.TypeSync || m.DocumentID != string(h.ID()) || m.TargetID != "srv" {
			t.Fatalf("client sent %+v", m)
		}
		if _, err := ss.Receive(m.Data); err != nil {
			t.Fatal(err)
		}
		out, ok, err := ss.Generate()
		if err != nil {
			t.Fatal(err)
		}
		if !ok {
			break
		}
		f, err := wire.Encode(&wire.Message{Type: wire.TypeSync, SenderID: "srv", TargetID: c.PeerID(),
			DocumentID: string(h.ID()), Data: out})
		if err != nil {
			t.Fatal(err)
		}
		if err := server.Send(ctx, f); err != nil {
			t.Fatal(err)
		}
		if v, _ := doc.Get("k"); v == "v" {
			break
		}
	}
	if err := <-acked; err != nil {
		t.Fatalf("WaitAcked after the server has the change: %v", err)
	}
}

func TestReadLimitEndsConnectionOnHugeFrame(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), testTimeout)
	defer cancel()
	url := relayURL(t, clienttest.NewRelay())
	dial := func(ctx context.Context) (client.Transport, error) { return client.DialWebSocket(ctx, url) }
	a := connect(t, ctx, dial)
	tr, err := client.DialWebSocket(ctx, url, client.WithReadLimit(1024))
	if err != nil {
		t.Fatal(err)
	}
	b, err := client.New(ctx, tr, client.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	ha, err := a.Create(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if err := ha.Change(ctx, "", set("big", strings.Repeat("x", 8192))); err != nil {
		t.Fatal(err)
	}
	if err := ha.WaitAcked(ctx); err != nil {
		t.Fatal(err)
	}
	if _, err := b.Find(ctx, ha.ID()); !errors.Is(err, client.ErrClosed) {
		t.Fatalf("Find of a too-large document = %v, want the connection to end", err)
	}
	if !errors.Is(b.Err(), websocket.ErrReadLimit) {
		t.Fatalf("Err = %v, want read limit", b.Err())
	}
}
