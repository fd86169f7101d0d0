package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"runtime/pprof"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/casual-dev/casual/collab/client"
	"github.com/casual-dev/casual/crdt"
	"github.com/casual-dev/casual/internal/testservices"
	"github.com/casual-dev/casual/store"
	"github.com/casual-dev/casual/store/postgres"
)

// The tests in this file run three `casual serve` processes sharing a
// private PostgreSQL and a private Redis (so they can be stopped without
// disturbing other tests), and break one piece at a time.

// cluster is three nodes over one store and one bus.
type cluster struct {
	t     *testing.T
	pg    *testservices.Postgres
	redis *testservices.Redis
	nodes []*proc
}

func startCluster(t *testing.T, n int) *cluster {
	t.Helper()
	c := &cluster{t: t, pg: testservices.StartPostgres(t), redis: testservices.StartRedis(t)}
	for i := range n {
		c.nodes = append(c.nodes, startProc(t, freeAddr(t), t.TempDir(),
			"CASUAL_STORE="+c.pg.DSN(), "CASUAL_REDIS="+c.redis.URL(),
			fmt.Sprintf("CASUAL_PEER_ID=casual-node-%d", i), fmt.Sprintf("CASUAL_NODE_ID=node-%d", i)))
	}
	return c
}

func (c *cluster) addrs() []string {
	out := make([]string, len(c.nodes))
	for i, p := range c.nodes {
		out[i] = p.addr
	}
	return out
}

// connect joins node i as a new client.
func (c *cluster) connect(ctx context.Context, i int) *client.Client {
	c.t.Helper()
	cl, err := dialNode(ctx, c.nodes[i].addr)
	if err != nil {
		c.t.Fatal(err)
	}
	c.t.Cleanup(func() { cl.Close() })
	return cl
}

func dialNode(ctx context.Context, addr string) (*client.Client, error) {
	tr, err := client.DialWebSocket(ctx, "ws://"+addr+"/sync")
	if err != nil {
		return nil, err
	}
	return client.New(ctx, tr, client.Options{})
}

// create makes a document on node i with one acknowledged change.
func (c *cluster) create(ctx context.Context, i int) (*client.Client, *client.Handle) {
	c.t.Helper()
	cl := c.connect(ctx, i)
	h, err := cl.Create(ctx)
	if err != nil {
		c.t.Fatal(err)
	}
	set(c.t, ctx, h, "created", "yes")
	return cl, h
}

// find opens doc on a new client of node i.
func (c *cluster) find(ctx context.Context, i int, doc crdt.DocID) *client.Handle {
	c.t.Helper()
	h, err := c.connect(ctx, i).Find(ctx, doc)
	if err != nil {
		c.t.Fatalf("node %d: %v", i, err)
	}
	return h
}

// set changes key to v and waits for the acknowledgement.
func set(t *testing.T, ctx context.Context, h *client.Handle, key string, v any) {
	t.Helper()
	if err := h.Change(ctx, "", func(d *crdt.Doc) error { return d.Set([]any{key}, v) }); err != nil {
		t.Fatal(err)
	}
	if err := h.WaitAcked(ctx); err != nil {
		t.Fatal(err)
	}
}

func hasKeys(keys []string) func(*crdt.Doc) bool {
	return func(d *crdt.Doc) bool {
		for _, k := range keys {
			if v, _ := d.Get(k); v == nil {
				return false
			}
		}
		return true
	}
}

// waitKeys waits until every handle has every key.
func waitKeys(t *testing.T, ctx context.Context, keys []string, hs ...*client.Handle) {
	t.Helper()
	for i, h := range hs {
		if err := h.WaitFor(ctx, hasKeys(keys)); err != nil {
			var missing []string
			h.Read(func(d *crdt.Doc) {
				for _, k := range keys {
					if v, _ := d.Get(k); v == nil {
						missing = append(missing, k)
					}
				}
			})
			t.Fatalf("replica %d lacks %d of %d keys (%v): %v", i, len(missing), len(keys), missing[:min(len(missing), 5)], err)
		}
	}
}

// stored loads doc straight from the cluster's database.
func (c *cluster) stored(ctx context.Context, doc crdt.DocID) *crdt.Doc {
	c.t.Helper()
	st, err := postgres.Open(ctx, c.pg.DSN(), postgres.Options{})
	if err != nil {
		c.t.Fatal(err)
	}
	defer st.Close()
	chunks, err := st.Load(ctx, string(doc))
	if err != nil {
		c.t.Fatal(err)
	}
	d, err := crdt.Load(store.Concat(chunks))
	if err != nil {
		c.t.Fatal(err)
	}
	return d
}

func checkStored(t *testing.T, d *crdt.Doc, keys []string) {
	t.Helper()
	for _, k := range keys {
		if v, _ := d.Get(k); v == nil {
			t.Errorf("acknowledged key %s is not in the store", k)
		}
	}
}

// waitReady waits until every running node's /readyz says 200.
func (c *cluster) waitReady(ctx context.Context, nodes ...int) {
	c.t.Helper()
	for _, i := range nodes {
		for {
			resp, err := http.Get("http://" + c.nodes[i].addr + "/readyz")
			if err == nil {
				resp.Body.Close()
				if resp.StatusCode == http.StatusOK {
					break
				}
			}
			select {
			case <-ctx.Done():
				c.t.Fatalf("node %d never ready again: %v", i, err)
			case <-time.After(50 * time.Millisecond):
			}
		}
	}
}

// metric returns the value of the sample named name (with its labels)
// on node i's /metrics, or -1 if it has none.
func (c *cluster) metric(ctx context.Context, i int, name string) float64 {
	c.t.Helper()
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, "http://"+c.nodes[i].addr+"/metrics", nil)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		c.t.Fatal(err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		c.t.Fatal(err)
	}
	for _, line := range strings.Split(string(body), "\n") {
		if v, ok := strings.CutPrefix(line, name+" "); ok {
			f, err := strconv.ParseFloat(v, 64)
			if err != nil {
				c.t.Fatalf("metric %s: %v", line, err)
			}
			return f
		}
	}
	return -1
}

func keysFor(prefix string, n int) []string {
	out := make([]string, n)
	for i := range out {
		out[i] = fmt.Sprintf("%s-%02d", prefix, i)
	}
	return out
}

// TestClusterConvergesAndCarriesPresence spreads six clients over three
// nodes: concurrent edits converge everywhere, and presence from a client
// of node 0 reaches the clients of nodes 1 and 2.
func TestClusterConvergesAndCarriesPresence(t *testing.T) {
	t.Parallel()
	ctx := testCtx(t, 60*time.Second)
	c := startCluster(t, 3)
	owner, first := c.create(ctx, 0)
	hs := []*client.Handle{first}
	for i := 1; i < 6; i++ {
		hs = append(hs, c.find(ctx, i%3, first.ID()))
	}

	var all []string
	var wg sync.WaitGroup
	errs := make(chan error, len(hs))
	for i, h := range hs {
		keys := keysFor(fmt.Sprintf("client%d", i), 10)
		all = append(all, keys...)
		wg.Go(func() {
			for _, k := range keys {
				if err := h.Change(ctx, "", func(d *crdt.Doc) error { return d.Set([]any{k}, k) }); err != nil {
					errs <- err
					return
				}
			}
			errs <- h.WaitAcked(ctx)
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
	waitKeys(t, ctx, append(all, "created"), hs...)
	heads := hs[0].Heads()
	for i, h := range hs {
		if !slices.Equal(h.Heads(), heads) {
			t.Errorf("client %d heads %v, client 0 %v", i, h.Heads(), heads)
		}
	}

	cursor := []byte{0xa1, 0x66, 'c', 'u', 'r', 's', 'o', 'r', 0x07} // {"cursor": 7}
	if err := first.Broadcast(ctx, cursor); err != nil {
		t.Fatal(err)
	}
	for i, h := range hs[1:] {
		select {
		case e := <-h.Ephemeral():
			if e.SenderID != owner.PeerID() || string(e.Data) != string(cursor) {
				t.Errorf("client %d got presence %+v", i+1, e)
			}
		case <-ctx.Done():
			t.Fatalf("presence from node 0 never reached client %d (node %d)", i+1, (i+1)%3)
		}
	}
}

// editor is a test client that does what the JS client does when its
// connection drops: it dials the next node, joins, finds the document
// again and carries on. It remembers which changes were acknowledged.
type editor struct {
	name  string
	addrs []string
	next  int
	doc   crdt.DocID
	cl    *client.Client
	h     *client.Handle

	mu         sync.Mutex
	acked      []string
	reconnects int
	addr       string // the node connected to, for failure reports
	last       string // the key being written, for failure reports
	err        error  // why run ended early
	events     []string
}

// log keeps a line for the failure report.
func (e *editor) log(format string, args ...any) {
	e.mu.Lock()
	defer e.mu.Unlock()
	if len(e.events) == 40 {
		e.events = e.events[1:]
	}
	e.events = append(e.events, time.Now().Format("15:04:05.000 ")+fmt.Sprintf(format, args...))
}

func (e *editor) connect(ctx context.Context) error {
	for {
		addr := e.addrs[e.next%len(e.addrs)]
		e.next++
		cl, err := dialNode(ctx, addr)
		if err == nil {
			h, ferr := cl.Find(ctx, e.doc)
			if ferr == nil {
				e.mu.Lock()
				e.cl, e.h, e.addr = cl, h, addr
				e.mu.Unlock()
				return nil
			}
			cl.Close()
			err = ferr
		}
		e.log("%s: connect to %s: %v", e.name, addr, err)
		select {
		case <-ctx.Done():
			return fmt.Errorf("%s: no node to reconnect to: %w", e.name, err)
		case <-time.After(50 * time.Millisecond):
		}
	}
}

// write sets key and waits for the acknowledgement, reconnecting and
// writing again if the connection drops first.
func (e *editor) write(ctx context.Context, key string) error {
	e.mu.Lock()
	e.last = key
	e.mu.Unlock()
	for {
		err := e.h.Change(ctx, "", func(d *crdt.Doc) error { return d.Set([]any{key}, e.name) })
		if err == nil {
			err = e.h.WaitAcked(ctx)
		}
		if err == nil {
			e.mu.Lock()
			e.acked = append(e.acked, key)
			e.mu.Unlock()
			return nil
		}
		if ctx.Err() != nil {
			return fmt.Errorf("%s: %w", e.name, err)
		}
		// Anything else means the connection is going: a send can fail on
		// a dying connection before the read loop has seen its end, and a
		// node may drop a replica that reads too slowly. A JS client
		// reconnects; so does the editor.
		e.log("%s: reconnecting after: %v", e.name, err)
		e.cl.Close()
		if err := e.connect(ctx); err != nil {
			return err
		}
		e.mu.Lock()
		e.reconnects++
		e.mu.Unlock()
	}
}

func (e *editor) progress() (acked, reconnects int) {
	e.mu.Lock()
	defer e.mu.Unlock()
	return len(e.acked), e.reconnects
}

// run writes keys until stop is closed, at most editorRate a second: as
// fast as acks allow, six replicas under -race fan out more than their
// read loops can apply, and the test measured backlog instead of faults.
func (e *editor) run(ctx context.Context, stop <-chan struct{}) (err error) {
	defer func() {
		e.cl.Close()
		e.mu.Lock()
		e.err = err
		e.mu.Unlock()
	}()
	pace := time.NewTicker(time.Second / editorRate)
	defer pace.Stop()
	for i := 0; ; i++ {
		select {
		case <-stop:
			return nil
		case <-pace.C:
		}
		if err := e.write(ctx, fmt.Sprintf("%s-%03d", e.name, i)); err != nil {
			return err
		}
	}
}

const editorRate = 20

// waitProgress waits until cond holds for every editor.
func waitProgress(t *testing.T, ctx context.Context, eds []*editor, what string, cond func(i, acked, reconnects int) bool) {
	t.Helper()
	for {
		ok := true
		for i, e := range eds {
			if a, r := e.progress(); !cond(i, a, r) {
				ok = false
			}
			e.mu.Lock()
			err := e.err
			e.mu.Unlock()
			if err != nil && ctx.Err() == nil {
				t.Fatalf("editor %s quit: %v", e.name, err)
			}
		}
		if ok {
			return
		}
		select {
		case <-ctx.Done():
			var state []string
			for _, e := range eds {
				a, r := e.progress()
				state = append(state, fmt.Sprintf("%s: %d acked, %d reconnects", e.name, a, r))
				e.mu.Lock()
				var errs []string
				for more := true; more; {
					select {
					case m := <-e.cl.Errors():
						errs = append(errs, m.Code+": "+m.Message)
					default:
						more = false
					}
				}
				t.Logf("%s: on %s, connection err %v, heads %v, last key %q, errors from the server %q, events:\n%s",
					e.name, e.addr, e.cl.Err(), e.h.Heads(), e.last, errs, strings.Join(e.events, "\n"))
				e.mu.Unlock()
			}
			var dump strings.Builder
			pprof.Lookup("goroutine").WriteTo(&dump, 1)
			t.Logf("goroutines:\n%s", dump.String())
			t.Fatalf("editors never %s: %s", what, strings.Join(state, "; "))
		case <-time.After(20 * time.Millisecond):
		}
	}
}

// TestClusterKillNineMovesClientsWithoutLosingAcknowledgedChanges kills
// a node with SIGKILL while six editors (two per node) write: the killed
// node's editors reconnect to the others and carry on, and every change
// any editor saw acknowledged is on the surviving nodes and in the store.
func TestClusterKillNineMovesClientsWithoutLosingAcknowledgedChanges(t *testing.T) {
	t.Parallel()
	ctx := testCtx(t, 80*time.Second)
	c := startCluster(t, 3)
	_, h := c.create(ctx, 0)
	addrs := c.addrs()
	var eds []*editor
	for i := range 6 {
		node := i % 3
		e := &editor{name: fmt.Sprintf("ed%d", i), doc: h.ID(),
			addrs: append(slices.Clone(addrs[node:]), addrs[:node]...)}
		if err := e.connect(ctx); err != nil {
			t.Fatal(err)
		}
		eds = append(eds, e)
	}
	stop := make(chan struct{})
	errs := make(chan error, len(eds))
	var wg sync.WaitGroup
	for _, e := range eds {
		wg.Go(func() { errs <- e.run(ctx, stop) })
	}
	stopped := false
	halt := func() {
		if !stopped {
			stopped = true
			close(stop)
			wg.Wait()
		}
	}
	defer halt()

	waitProgress(t, ctx, eds, "got going", func(_, acked, _ int) bool { return acked >= 5 })
	c.nodes[2].kill()
	base := make([]int, len(eds))
	for i, e := range eds {
		base[i], _ = e.progress()
	}
	waitProgress(t, ctx, eds, "carried on after the kill", func(i, acked, reconnects int) bool {
		moved := i%3 != 2 || reconnects > 0
		return moved && acked >= base[i]+10
	})
	halt()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}

	var acked []string
	for _, e := range eds {
		acked = append(acked, e.acked...)
	}
	t.Logf("%d acknowledged changes, %d before the kill", len(acked), sum(base))
	waitKeys(t, ctx, acked, c.find(ctx, 0, h.ID()), c.find(ctx, 1, h.ID()))
	checkStored(t, c.stored(ctx, h.ID()), acked)
}

func sum(xs []int) int {
	n := 0
	for _, x := range xs {
		n += x
	}
	return n
}

// TestClusterRedisRestartLosesNoFanOut stops Redis while a client on each
// node writes: the changes are stored but cannot be fanned out. Once Redis
// is back every node catches up by itself (nothing else is written to
// prompt it), and fan-out works again.
func TestClusterRedisRestartLosesNoFanOut(t *testing.T) {
	t.Parallel()
	ctx := testCtx(t, 60*time.Second)
	c := startCluster(t, 3)
	_, h0 := c.create(ctx, 0)
	hs := []*client.Handle{h0, c.find(ctx, 1, h0.ID()), c.find(ctx, 2, h0.ID())}
	set(t, ctx, hs[1], "before", 1)
	waitKeys(t, ctx, []string{"before"}, hs...)

	c.redis.Stop()
	var during []string
	for i, h := range hs {
		for _, k := range keysFor(fmt.Sprintf("outage-node%d", i), 5) {
			set(t, ctx, h, k, int64(i)) // acknowledged: the store works
			during = append(during, k)
		}
	}
	c.redis.Start(t)
	waitKeys(t, ctx, during, hs...)
	for i := range c.nodes { // they caught up from the store, and said so
		for _, m := range []string{"casual_bus_reconnects_total", `casual_bus_catchups_total{result="ok"}`} {
			if v := c.metric(ctx, i, m); v < 1 {
				t.Errorf("node %d: %s = %v after the restart", i, m, v)
			}
		}
	}

	var after []string
	for i, h := range hs {
		k := fmt.Sprintf("after-node%d", i)
		set(t, ctx, h, k, int64(i))
		after = append(after, k)
	}
	waitKeys(t, ctx, after, hs...)
	c.waitReady(ctx, 0, 1, 2)
}

// TestClusterPostgresRestartHoldsAcknowledgements stops PostgreSQL: a
// change made meanwhile is not acknowledged (the node keeps retrying the
// write), and is acknowledged, fanned out and stored once the database is
// back.
func TestClusterPostgresRestartHoldsAcknowledgements(t *testing.T) {
	t.Parallel()
	ctx := testCtx(t, 60*time.Second)
	c := startCluster(t, 3)
	_, h0 := c.create(ctx, 0)
	hs := []*client.Handle{h0, c.find(ctx, 1, h0.ID()), c.find(ctx, 2, h0.ID())}
	acked := []string{"created"}
	for i, h := range hs {
		k := fmt.Sprintf("before-node%d", i)
		set(t, ctx, h, k, int64(i))
		acked = append(acked, k)
	}

	c.pg.Stop()
	if err := h0.Change(ctx, "", func(d *crdt.Doc) error { return d.Set([]any{"during"}, "outage") }); err != nil {
		t.Fatal(err)
	}
	short, cancel := context.WithTimeout(ctx, 2*time.Second)
	err := h0.WaitAcked(short)
	cancel()
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("WaitAcked while postgres is down = %v, want no acknowledgement (deadline exceeded)", err)
	}
	c.pg.Start(t)
	if err := h0.WaitAcked(ctx); err != nil {
		t.Fatalf("no acknowledgement after postgres came back: %v", err)
	}
	acked = append(acked, "during")
	waitKeys(t, ctx, acked, hs...)
	set(t, ctx, hs[2], "after", "restart")
	acked = append(acked, "after")
	waitKeys(t, ctx, acked, hs...)
	checkStored(t, c.stored(ctx, h0.ID()), acked)
}

// TestClusterConcurrentLoadStoresEachChangeOnce has nodes 0 and 1 load
// one document at the same moment and both take edits at once: every
// change is stored, and no chunk is stored twice.
func TestClusterConcurrentLoadStoresEachChangeOnce(t *testing.T) {
	t.Parallel()
	ctx := testCtx(t, 60*time.Second)
	c := startCluster(t, 3)
	_, creator := c.create(ctx, 2)
	doc := creator.ID()
	cl0, cl1 := c.connect(ctx, 0), c.connect(ctx, 1)

	const perNode = 30
	hs := make([]*client.Handle, 2)
	errs := make(chan error, 2)
	ready := make(chan struct{})
	var wg sync.WaitGroup
	for i, cl := range []*client.Client{cl0, cl1} {
		wg.Go(func() {
			<-ready // both Finds leave together: both nodes load at once
			h, err := cl.Find(ctx, doc)
			if err != nil {
				errs <- err
				return
			}
			hs[i] = h
			for _, k := range keysFor(fmt.Sprintf("node%d", i), perNode) {
				if err := h.Change(ctx, "", func(d *crdt.Doc) error { return d.Set([]any{k}, int64(i)) }); err != nil {
					errs <- err
					return
				}
			}
			errs <- h.WaitAcked(ctx)
		})
	}
	close(ready)
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
	all := append(append([]string{"created"}, keysFor("node0", perNode)...), keysFor("node1", perNode)...)
	waitKeys(t, ctx, all, creator, hs[0], hs[1])

	conn, err := pgx.Connect(ctx, c.pg.DSN())
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	var rows, dups int
	if err := conn.QueryRow(ctx, `SELECT count(*), count(*) FILTER (WHERE n > 1) FROM
		(SELECT count(*) AS n FROM chunks WHERE doc = $1 GROUP BY hash) per_hash`, string(doc)).Scan(&rows, &dups); err != nil {
		t.Fatal(err)
	}
	if rows == 0 || dups != 0 {
		t.Fatalf("%d distinct chunks, %d stored more than once", rows, dups)
	}
	d := c.stored(ctx, doc)
	checkStored(t, d, all)
	changes, err := d.Changes()
	if err != nil {
		t.Fatal(err)
	}
	if len(changes) != len(all) {
		t.Errorf("store holds %d changes, want %d (one per edit)", len(changes), len(all))
	}
	t.Logf("%d chunks hold %d changes", rows, len(changes))
}

func TestClusterConfigNeedsSharedStoreForRedis(t *testing.T) {
	env := map[string]string{"CASUAL_PEER_ID": "casual-a"}
	getenv := func(k string) string { return env[k] }
	tests := []struct {
		name    string
		args    []string
		wantErr string
		check   func(Config) bool
	}{
		{"single node by default", nil, "", func(c Config) bool { return c.Redis == "" && c.NodeID == "casual-a" }},
		{"node id flag", []string{"--node-id", "n7"}, "", func(c Config) bool { return c.NodeID == "n7" }},
		{"redis with postgres", []string{"--store", "postgres://db/x", "--redis", "redis://r:6379/0"}, "",
			func(c Config) bool { return c.Redis == "redis://r:6379/0" }},
		{"redis without a shared store", []string{"--redis", "redis://r:6379/0"}, "needs a store the nodes share", nil},
		{"not a redis url", []string{"--store", "postgres://db/x", "--redis", "r:6379"}, "--redis / CASUAL_REDIS", nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, err := loadConfig(tt.args, getenv)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("err = %v, want it to mention %q", err, tt.wantErr)
				}
				return
			}
			if err != nil || !tt.check(c) {
				t.Fatalf("config %+v, err %v", c, err)
			}
		})
	}
}
