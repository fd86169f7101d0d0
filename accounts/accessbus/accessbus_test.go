package accessbus_test

import (
	"context"
	"errors"
	"net"
	"sync/atomic"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/casual-dev/casual/accounts"
	"github.com/casual-dev/casual/accounts/accessbus"
	"github.com/casual-dev/casual/accounts/accountstest"
	"github.com/casual-dev/casual/collab"
	"github.com/casual-dev/casual/collab/client"
	"github.com/casual-dev/casual/crdt"
	"github.com/casual-dev/casual/internal/redistest"
	"github.com/casual-dev/casual/internal/testservices"
)

// sharedRedis returns a client of the machine's Redis (redistest).
func sharedRedis(t *testing.T) *redis.Client { return redistest.Client(t) }

func newBus(t *testing.T, opts accessbus.Options) *accessbus.Bus {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), 5*time.Second)
	defer cancel()
	b, err := accessbus.New(ctx, opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := b.Close(); err != nil {
			t.Error(err)
		}
	})
	return b
}

// connect opens a sync session on cs as a browser would, with token.
func connect(t *testing.T, ctx context.Context, cs *collab.Server, token string) *client.Client {
	t.Helper()
	peerEnd, serverEnd := client.Pipe()
	done := make(chan struct{})
	sctx, stop := context.WithCancel(context.Background())
	go func() {
		defer close(done)
		cs.Serve(sctx, serverEnd, collab.Credentials{Token: token, RemoteAddr: "127.0.0.1:1"})
	}()
	c, err := client.New(ctx, peerEnd, client.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close(); stop(); <-done })
	return c
}

// TestAccessChangeReachesSocketsOnAnotherNode: two nodes share the
// accounts store and a Redis; a viewer connected to node B is removed
// through node A, and B cuts the viewer's socket.
func TestAccessChangeReachesSocketsOnAnotherNode(t *testing.T) {
	rdb := sharedRedis(t)
	channel := "casual-test:access:" + t.Name() + ":" + string(crdt.NewDocID())
	busA := newBus(t, accessbus.Options{Redis: rdb, Node: "a", Channel: channel})
	busB := newBus(t, accessbus.Options{Redis: rdb, Node: "b", Channel: channel})
	st := accountstest.NewStack(t, "embedded", func(c *accounts.Config) { c.Access = busA })
	svc := st.Service
	csA := collab.NewServer(collab.Config{PeerID: "node-a"}, st.Rooms, svc.Authorizer(), nil)
	csB := collab.NewServer(collab.Config{PeerID: "node-b"}, st.Rooms, svc.Authorizer(), nil)
	busA.Listen(csA.Reauthorize)
	busB.Listen(csB.Reauthorize)
	for _, cs := range []*collab.Server{csA, csB} {
		t.Cleanup(func() {
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			cs.Shutdown(ctx)
		})
	}

	ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
	defer cancel()
	_, annTok, err := svc.Register(ctx, accounts.RegisterInput{Email: "ann@example.com", Password: "correct horse battery"})
	if err != nil {
		t.Fatal(err)
	}
	cat, catTok, err := svc.Register(ctx, accounts.RegisterInput{Email: "cat@example.com", Password: "correct horse battery"})
	if err != nil {
		t.Fatal(err)
	}
	ann, err := svc.Authenticate(ctx, annTok.AccessToken)
	if err != nil {
		t.Fatal(err)
	}
	app, err := svc.CreateApp(ctx, ann, accounts.CreateAppInput{Name: "Shared"})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := svc.ShareApp(ctx, ann, app.ID, cat.Email, accounts.RoleViewer); err != nil {
		t.Fatal(err)
	}
	onA, onB := connect(t, ctx, csA, annTok.AccessToken), connect(t, ctx, csB, catTok.AccessToken)
	if _, err := onA.Find(ctx, crdt.DocID(app.ID)); err != nil {
		t.Fatal(err)
	}
	if _, err := onB.Find(ctx, crdt.DocID(app.ID)); err != nil {
		t.Fatal(err)
	}

	if err := svc.UnshareApp(ctx, ann, app.ID, cat.ID); err != nil {
		t.Fatal(err)
	}
	for {
		select {
		case m := <-onB.Errors():
			if m.DocumentID != app.ID {
				continue
			}
			if m.Code != "access_revoked" {
				t.Fatalf("viewer on node B got %+v, want access_revoked", m)
			}
		case <-ctx.Done():
			t.Fatal("the viewer on node B was not cut")
		}
		break
	}
	select {
	case m := <-onA.Errors():
		t.Fatalf("the owner on node A got %+v", m)
	default:
	}
}

// TestWithoutRedisOnlyThisNodeHears: the local bus calls its listener
// with the change, and nothing else.
func TestWithoutRedisOnlyThisNodeHears(t *testing.T) {
	b := newBus(t, accessbus.Options{})
	b.AccessChanged(t.Context(), collab.AccessChange{Subject: "before listening"}) // nobody: no socket yet
	var got []collab.AccessChange
	b.Listen(func(_ context.Context, ch collab.AccessChange) { got = append(got, ch) })
	want := collab.AccessChange{Doc: crdt.NewDocID(), Subject: "usr_1"}
	b.AccessChanged(t.Context(), want)
	if len(got) != 1 || got[0] != want {
		t.Fatalf("listener got %v, want [%v]", got, want)
	}
}

// TestReconnectedBusRechecksEverything: changes published while a node's
// subscriber connection was down are lost, so when it comes back the node
// re-checks every open socket.
func TestReconnectedBusRechecksEverything(t *testing.T) {
	srv := testservices.StartRedis(t)
	ro, err := redis.ParseURL(srv.URL())
	if err != nil {
		t.Fatal(err)
	}
	rdb := redis.NewClient(ro)
	t.Cleanup(func() { rdb.Close() })
	b := newBus(t, accessbus.Options{Redis: rdb, Node: "b"})
	got := make(chan collab.AccessChange, 16)
	b.Listen(func(_ context.Context, ch collab.AccessChange) { got <- ch })

	srv.Restart(t)
	select {
	case ch := <-got:
		if ch != (collab.AccessChange{}) {
			t.Fatalf("after reconnecting: %+v, want a re-check of everything", ch)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("no re-check after the bus reconnected")
	}
	// and messages flow again
	other := newBus(t, accessbus.Options{Redis: rdb, Node: "a"})
	want := collab.AccessChange{Doc: crdt.NewDocID(), Subject: "usr_1"}
	deadline := time.After(30 * time.Second)
	for {
		other.AccessChanged(t.Context(), want)
		select {
		case ch := <-got:
			if ch == want {
				return
			}
		case <-time.After(200 * time.Millisecond):
			continue
		case <-deadline:
			t.Fatal("changes do not cross after the restart")
		}
	}
}

// TestChangeThatFailedToPublishIsPublishedAgain: node a cannot reach Redis
// to publish (node b still listens); once it can, the change goes out and
// b re-checks its sockets. Before, it was only logged, and b's sockets kept
// access that a had withdrawn.
func TestChangeThatFailedToPublishIsPublishedAgain(t *testing.T) {
	sharedRedis(t) // skips without Redis
	var broken atomic.Bool
	ro, err := redis.ParseURL(redistest.URL())
	if err != nil {
		t.Fatal(err)
	}
	ro.Dialer = func(ctx context.Context, network, addr string) (net.Conn, error) {
		if broken.Load() {
			return nil, errors.New("test: node a cannot reach redis")
		}
		var d net.Dialer
		return d.DialContext(ctx, network, addr)
	}
	rdbA := redis.NewClient(ro)
	t.Cleanup(func() { rdbA.Close() })
	channel := "casual-test:access:" + t.Name() + ":" + string(crdt.NewDocID())
	busA := newBus(t, accessbus.Options{Redis: rdbA, Node: "a", Channel: channel}) // subscribed before the break
	busB := newBus(t, accessbus.Options{Redis: sharedRedis(t), Node: "b", Channel: channel})
	got := make(chan collab.AccessChange, 4)
	busB.Listen(func(_ context.Context, ch collab.AccessChange) { got <- ch })

	broken.Store(true)
	want := collab.AccessChange{Doc: crdt.NewDocID(), Subject: "user-1"}
	busA.AccessChanged(t.Context(), want)
	select {
	case ch := <-got:
		t.Fatalf("b heard %+v while a could not publish", ch)
	default:
	}
	broken.Store(false)
	select {
	case ch := <-got:
		if ch != want {
			t.Fatalf("b heard %+v, want %+v", ch, want)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("the change was never published once Redis was reachable again")
	}
}
