package client_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/casual-dev/casual/collab/client"
	"github.com/casual-dev/casual/collab/client/clienttest"
	"github.com/casual-dev/casual/collab/wire"
	"github.com/casual-dev/casual/crdt"
)

// testTimeout bounds every wait; nothing here depends on being fast.
const testTimeout = 20 * time.Second

// dialer opens a new transport to a server under test.
type dialer func(ctx context.Context) (client.Transport, error)

type backend struct {
	name string
	dial func(t *testing.T) dialer
}

// backends are the servers every behaviour test runs against: the in-test
// relay over Pipe and over WebSocket, and the reference JS server.
var backends = []backend{
	{"relay-pipe", func(t *testing.T) dialer {
		r := clienttest.NewRelay()
		t.Cleanup(r.Close)
		return func(context.Context) (client.Transport, error) { return r.Connect(), nil }
	}},
	{"relay-ws", func(t *testing.T) dialer {
		url := relayURL(t, clienttest.NewRelay())
		return func(ctx context.Context) (client.Transport, error) { return client.DialWebSocket(ctx, url) }
	}},
	{"node", func(t *testing.T) dialer {
		url, _ := clienttest.NodeServer(t)
		return func(ctx context.Context) (client.Transport, error) { return client.DialWebSocket(ctx, url) }
	}},
}

func relayURL(t *testing.T, r *clienttest.Relay) string {
	srv := httptest.NewServer(r)
	t.Cleanup(func() {
		r.Close()
		srv.Close()
	})
	return "ws" + strings.TrimPrefix(srv.URL, "http") + "/sync"
}

func forEachBackend(t *testing.T, fn func(t *testing.T, ctx context.Context, dial dialer)) {
	for _, b := range backends {
		t.Run(b.name, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), testTimeout)
			defer cancel()
			fn(t, ctx, b.dial(t))
		})
	}
}

func connect(t *testing.T, ctx context.Context, dial dialer) *client.Client {
	t.Helper()
	tr, err := dial(ctx)
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

func set(key string, v any) func(d *crdt.Doc) error {
	return func(d *crdt.Doc) error { return d.Set([]any{key}, v) }
}

func has(key string, want any) func(d *crdt.Doc) bool {
	return func(d *crdt.Doc) bool {
		v, err := d.Get(key)
		return err == nil && v == want
	}
}

// shared creates a document on a, gives it a first change, and opens it on b.
func shared(t *testing.T, ctx context.Context, a, b *client.Client) (ha, hb *client.Handle) {
	t.Helper()
	ha, err := a.Create(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if err := ha.Change(ctx, "init", set("title", "hello")); err != nil {
		t.Fatal(err)
	}
	if err := ha.WaitAcked(ctx); err != nil {
		t.Fatal(err)
	}
	hb, err = b.Find(ctx, ha.ID())
	if err != nil {
		t.Fatal(err)
	}
	return ha, hb
}

func TestClientsCreateFindAndConverge(t *testing.T) {
	forEachBackend(t, func(t *testing.T, ctx context.Context, dial dialer) {
		a, b := connect(t, ctx, dial), connect(t, ctx, dial)
		if a.ServerPeerID() == "" || a.ServerStorageID() == "" {
			t.Fatalf("server peer %q storage %q", a.ServerPeerID(), a.ServerStorageID())
		}
		ha, hb := shared(t, ctx, a, b)
		var title any
		hb.Read(func(d *crdt.Doc) { title, _ = d.Get("title") })
		if title != "hello" {
			t.Fatalf("b found title %v", title)
		}
		// Concurrent edits from both sides reach the other and merge.
		for i := range 5 {
			if err := ha.Change(ctx, "a", set(fmt.Sprintf("a%d", i), int64(i))); err != nil {
				t.Fatal(err)
			}
			if err := hb.Change(ctx, "b", set(fmt.Sprintf("b%d", i), int64(i))); err != nil {
				t.Fatal(err)
			}
		}
		if err := hb.WaitFor(ctx, has("a4", int64(4))); err != nil {
			t.Fatal(err)
		}
		if err := ha.WaitFor(ctx, has("b4", int64(4))); err != nil {
			t.Fatal(err)
		}
		for _, h := range []*client.Handle{ha, hb} {
			if err := h.WaitAcked(ctx); err != nil {
				t.Fatal(err)
			}
		}
		sameHeads := func(d *crdt.Doc) bool { return slices.Equal(d.Heads(), ha.Heads()) }
		if err := hb.WaitFor(ctx, sameHeads); err != nil {
			t.Fatalf("heads never converged: %v", err)
		}
	})
}

func TestFindReportsUnavailableAndStillReceivesLaterPush(t *testing.T) {
	forEachBackend(t, func(t *testing.T, ctx context.Context, dial dialer) {
		a, b := connect(t, ctx, dial), connect(t, ctx, dial)
		ha, err := a.Create(ctx) // not announced until its first change
		if err != nil {
			t.Fatal(err)
		}
		hb, err := b.Find(ctx, ha.ID())
		if !errors.Is(err, client.ErrUnavailable) || hb == nil {
			t.Fatalf("Find = %v, %v; want a handle and ErrUnavailable", hb, err)
		}
		if err := ha.Change(ctx, "first", set("title", "late")); err != nil {
			t.Fatal(err)
		}
		if err := hb.WaitReady(ctx); err != nil {
			t.Fatal(err)
		}
		if err := hb.WaitFor(ctx, has("title", "late")); err != nil {
			t.Fatal(err)
		}
	})
}

func TestWaitAckedMeansServerHasTheChange(t *testing.T) {
	forEachBackend(t, func(t *testing.T, ctx context.Context, dial dialer) {
		a := connect(t, ctx, dial)
		ha, err := a.Create(ctx)
		if err != nil {
			t.Fatal(err)
		}
		for i := range 3 {
			if err := ha.Change(ctx, "", set("n", int64(i))); err != nil {
				t.Fatal(err)
			}
			if err := ha.WaitAcked(ctx); err != nil {
				t.Fatal(err)
			}
		}
		// The writer leaves; a newcomer gets everything from the server.
		a.Close()
		b := connect(t, ctx, dial)
		hb, err := b.Find(ctx, ha.ID())
		if err != nil {
			t.Fatal(err)
		}
		if err := hb.WaitFor(ctx, has("n", int64(2))); err != nil {
			t.Fatal(err)
		}
	})
}

func TestEphemeralIsRelayedAndDeduplicated(t *testing.T) {
	forEachBackend(t, func(t *testing.T, ctx context.Context, dial dialer) {
		a, b := connect(t, ctx, dial), connect(t, ctx, dial)
		ha, hb := shared(t, ctx, a, b)
		// A repeats count 1 (as a JS client echoing a relayed message does):
		// b must drop it.
		if err := ha.Broadcast(ctx, []byte("\x61a")); err != nil {
			t.Fatal(err)
		}
		first := recvEphemeral(t, ctx, hb)
		dup, err := wire.Encode(&wire.Message{Type: wire.TypeEphemeral, SenderID: a.PeerID(),
			TargetID: a.ServerPeerID(), DocumentID: string(ha.ID()), Data: []byte("\x63dup"),
			Count: wire.Count(first.Count), SessionID: first.SessionID})
		if err != nil {
			t.Fatal(err)
		}
		if err := a.SendRaw(ctx, dup); err != nil {
			t.Fatal(err)
		}
		if err := ha.Broadcast(ctx, []byte("\x61b")); err != nil {
			t.Fatal(err)
		}
		second := recvEphemeral(t, ctx, hb)
		if first.SenderID != a.PeerID() || first.Count != 1 || !bytes.Equal(first.Data, []byte("\x61a")) {
			t.Fatalf("first = %+v", first)
		}
		if second.Count != 2 || second.SessionID != first.SessionID || !bytes.Equal(second.Data, []byte("\x61b")) {
			t.Fatalf("second = %+v (the duplicate must be dropped)", second)
		}
	})
}

func recvEphemeral(t *testing.T, ctx context.Context, h *client.Handle) client.Ephemeral {
	t.Helper()
	select {
	case e := <-h.Ephemeral():
		return e
	case <-ctx.Done():
		t.Fatal("no ephemeral message")
		return client.Ephemeral{}
	}
}

func TestServerErrorsAreDelivered(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), testTimeout)
	defer cancel()
	r := clienttest.NewRelay()
	t.Cleanup(r.Close)
	c := connect(t, ctx, func(context.Context) (client.Transport, error) { return r.Connect(), nil })
	tests := []struct {
		name  string
		frame []byte
	}{
		{"garbage", []byte{0xff, 0x00}},
		{"not a map", []byte{0x83, 1, 2, 3}},
		{"sync without data", []byte("\xa3\x64type\x64sync\x68senderId\x61a\x6adocumentId\x61b")},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if err := c.SendRaw(ctx, tt.frame); err != nil {
				t.Fatal(err)
			}
			select {
			case m := <-c.Errors():
				if m.Code != "malformed" || m.Message == "" {
					t.Fatalf("error message %+v", m)
				}
			case <-ctx.Done():
				t.Fatal("no error message")
			}
		})
	}
}

func TestNewReturnsJoinRefusal(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), testTimeout)
	defer cancel()
	r := clienttest.NewRelay()
	r.Reject = func(join *wire.Message) *wire.Message {
		return &wire.Message{Type: wire.TypeError, Message: "token expired", Code: "unauthorized"}
	}
	t.Cleanup(r.Close)
	_, err := client.New(ctx, r.Connect(), client.Options{PeerID: "peer-x"})
	var se *client.ServerError
	if !errors.As(err, &se) || se.Code != "unauthorized" || se.Message != "token expired" {
		t.Fatalf("New err = %v, want the server's error", err)
	}
	if !strings.Contains(err.Error(), "token expired") {
		t.Fatalf("error text %q lacks the server's message", err)
	}
}

// TestChangeWhoseSendWasCancelledStillReachesOthers: a Change whose context
// has ended keeps its change (it is committed) though its message is not
// sent. The handle's sync state must not count that message as sent: it
// would never send the change, and it and the server would ask each other
// for it without end. The change goes out with the next exchange.
func TestChangeWhoseSendWasCancelledStillReachesOthers(t *testing.T) {
	forEachBackend(t, func(t *testing.T, ctx context.Context, dial dialer) {
		a, b := connect(t, ctx, dial), connect(t, ctx, dial)
		ha, hb := shared(t, ctx, a, b)
		gone, cancel := context.WithCancel(ctx)
		cancel()
		if err := ha.Change(gone, "", set("late", "yes")); !errors.Is(err, context.Canceled) {
			t.Fatalf("change on an ended context: %v, want context.Canceled", err)
		}
		if err := hb.Change(ctx, "", set("other", "b")); err != nil {
			t.Fatal(err)
		}
		if err := hb.WaitFor(ctx, has("late", "yes")); err != nil {
			t.Fatalf("the change never reached the other client: %v", err)
		}
		if err := ha.WaitAcked(ctx); err != nil {
			t.Fatal(err)
		}
	})
}
