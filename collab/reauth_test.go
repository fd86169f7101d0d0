package collab_test

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/casual-dev/casual/collab"
	"github.com/casual-dev/casual/collab/client"
	"github.com/casual-dev/casual/collab/wire"
	"github.com/casual-dev/casual/crdt"
	"github.com/casual-dev/casual/rooms"
	"github.com/casual-dev/casual/store/embedded"
)

// rules is an Authorizer whose answers a test sets: the token is the
// subject, and it has one access level for every document.
type rules struct {
	mu     sync.Mutex
	access map[string]rooms.Access
	// hold, when set, makes the next Authorize read its answer, signal
	// held, and wait for release before returning it: an authorization
	// that races with an access change.
	hold    bool
	held    chan struct{}
	release chan struct{}
}

func (r *rules) set(token string, a rooms.Access) {
	r.mu.Lock()
	r.access[token] = a
	r.mu.Unlock()
}

func (r *rules) Authenticate(context.Context, collab.Credentials) error { return nil }

func (r *rules) Authorize(_ context.Context, cred collab.Credentials, _ crdt.DocID) (rooms.Access, error) {
	r.mu.Lock()
	a, hold := r.access[cred.Token], r.hold
	r.hold = false
	r.mu.Unlock()
	if hold {
		close(r.held)
		<-r.release
	}
	return a, nil
}

func (r *rules) Subject(cred collab.Credentials) string { return cred.Token }

type fixture struct {
	cs    *collab.Server
	rules *rules
}

func newFixture(t *testing.T) *fixture {
	t.Helper()
	st, err := embedded.Open(t.Context(), t.TempDir(), embedded.Options{})
	if err != nil {
		t.Fatal(err)
	}
	mgr := rooms.NewManager(st, rooms.Config{}, time.Second)
	r := &rules{access: map[string]rooms.Access{}}
	cs := collab.NewServer(collab.Config{PeerID: "server"}, mgr, r, nil)
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if err := cs.Shutdown(ctx); err != nil {
			t.Error(err)
		}
		st.Close()
	})
	return &fixture{cs: cs, rules: r}
}

// connect opens a session for token with the given access.
func (f *fixture) connect(t *testing.T, ctx context.Context, token string, a rooms.Access) *client.Client {
	t.Helper()
	f.rules.set(token, a)
	peerEnd, serverEnd := client.Pipe()
	done := make(chan struct{})
	sctx, stop := context.WithCancel(context.Background())
	go func() {
		defer close(done)
		f.cs.Serve(sctx, serverEnd, collab.Credentials{Token: token})
	}()
	c, err := client.New(ctx, peerEnd, client.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close(); stop(); <-done })
	return c
}

func ctxOf(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(t.Context(), 20*time.Second)
	t.Cleanup(cancel)
	return ctx
}

func nextError(t *testing.T, ctx context.Context, c *client.Client) wire.Message {
	t.Helper()
	select {
	case m := <-c.Errors():
		return m
	case <-ctx.Done():
		t.Fatal("no error message")
	}
	return wire.Message{}
}

func noError(t *testing.T, c *client.Client) {
	t.Helper()
	select {
	case m := <-c.Errors():
		t.Fatalf("unexpected error %+v", m)
	default:
	}
}

func set(key string, v any) func(d *crdt.Doc) error {
	return func(d *crdt.Doc) error { return d.Set([]any{key}, v) }
}

func has(key string, want any) func(d *crdt.Doc) bool {
	return func(d *crdt.Doc) bool { v, _ := d.Get(key); return v == want }
}

// open creates a document as the owner and opens it in every other client.
func open(t *testing.T, ctx context.Context, owner *client.Client, others ...*client.Client) (*client.Handle, []*client.Handle) {
	t.Helper()
	h, err := owner.Create(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if err := h.Change(ctx, "", set("v", "before")); err != nil {
		t.Fatal(err)
	}
	if err := h.WaitAcked(ctx); err != nil {
		t.Fatal(err)
	}
	var hs []*client.Handle
	for _, c := range others {
		x, err := c.Find(ctx, h.ID())
		if err != nil {
			t.Fatal(err)
		}
		hs = append(hs, x)
	}
	return h, hs
}

func TestReauthorizeCutsOnlyTheSubjectNamed(t *testing.T) {
	f := newFixture(t)
	ctx := ctxOf(t)
	owner := f.connect(t, ctx, "owner", rooms.Write)
	u1, u2 := f.connect(t, ctx, "u1", rooms.Read), f.connect(t, ctx, "u2", rooms.Read)
	h, hs := open(t, ctx, owner, u1, u2)

	f.rules.set("u1", rooms.NoAccess)
	f.rules.set("u2", rooms.NoAccess) // but only u1's change is announced
	f.cs.Reauthorize(ctx, collab.AccessChange{Doc: h.ID(), Subject: "u1"})
	if m := nextError(t, ctx, u1); m.Code != "access_revoked" || m.DocumentID != string(h.ID()) {
		t.Fatalf("u1 got %+v", m)
	}
	if err := h.Change(ctx, "", set("v", "after")); err != nil {
		t.Fatal(err)
	}
	if err := hs[1].WaitFor(ctx, has("v", "after")); err != nil {
		t.Fatalf("u2 was cut too: %v", err)
	}
	noError(t, u2)

	// a change for the whole document reaches u2
	f.cs.Reauthorize(ctx, collab.AccessChange{Doc: h.ID()})
	if m := nextError(t, ctx, u2); m.Code != "access_revoked" {
		t.Fatalf("u2 got %+v", m)
	}
	noError(t, owner)
}

func TestReauthorizeRaisesAndLowersWriteAccess(t *testing.T) {
	f := newFixture(t)
	ctx := ctxOf(t)
	owner, u1 := f.connect(t, ctx, "owner", rooms.Write), f.connect(t, ctx, "u1", rooms.Read)
	h, hs := open(t, ctx, owner, u1)

	f.rules.set("u1", rooms.Write)
	f.cs.Reauthorize(ctx, collab.AccessChange{Subject: "u1"})
	if err := hs[0].Change(ctx, "", set("u1", "as writer")); err != nil {
		t.Fatal(err)
	}
	if err := h.WaitFor(ctx, has("u1", "as writer")); err != nil {
		t.Fatal(err)
	}

	f.rules.set("u1", rooms.Read)
	f.cs.Reauthorize(ctx, collab.AccessChange{Subject: "u1"})
	if err := hs[0].Change(ctx, "", set("u1b", "as reader")); err != nil {
		t.Fatal(err)
	}
	if m := nextError(t, ctx, u1); m.Code != "read_only" {
		t.Fatalf("lowered writer got %+v", m)
	}
	// still a reader
	if err := h.Change(ctx, "", set("owner", "later")); err != nil {
		t.Fatal(err)
	}
	if err := hs[0].WaitFor(ctx, has("owner", "later")); err != nil {
		t.Fatal(err)
	}
	h.Read(func(d *crdt.Doc) {
		if v, _ := d.Get("u1b"); v != nil {
			t.Fatal("a change refused while read-only reached the owner")
		}
	})
}

// TestAccessChangeDuringAuthorizationIsNotMissed: an authorization that
// read the old rules while the access change was announced is checked
// again once its document is open.
func TestAccessChangeDuringAuthorizationIsNotMissed(t *testing.T) {
	f := newFixture(t)
	ctx := ctxOf(t)
	owner, u1 := f.connect(t, ctx, "owner", rooms.Write), f.connect(t, ctx, "u1", rooms.Read)
	h, _ := open(t, ctx, owner)

	f.rules.mu.Lock()
	f.rules.hold, f.rules.held, f.rules.release = true, make(chan struct{}), make(chan struct{})
	f.rules.mu.Unlock()
	found := make(chan error, 1)
	go func() { _, err := u1.Find(ctx, h.ID()); found <- err }()
	select {
	case <-f.rules.held: // u1's authorization has read "read"
	case <-ctx.Done():
		t.Fatal("u1 never asked for the document")
	}
	f.rules.set("u1", rooms.NoAccess)
	f.cs.Reauthorize(ctx, collab.AccessChange{Subject: "u1"}) // u1 has no open document yet
	close(f.rules.release)
	if m := nextError(t, ctx, u1); m.Code != "access_revoked" {
		t.Fatalf("u1 got %+v", m)
	}
	<-found
}
