package postgres_test

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/casual-dev/casual/internal/pgtest"
	"github.com/casual-dev/casual/store"
	"github.com/casual-dev/casual/store/postgres"
	"github.com/casual-dev/casual/store/storetest"
)

// testDSN is the database tests run against (pgtest.DSN).
func testDSN() string { return pgtest.DSN() }

// newSchema creates an empty schema for one test, dropped when the test
// ends (pgtest.NewSchema). Tests and storetest's parallel subtests each
// get their own, so they share the server and nothing else.
func newSchema(t testing.TB) (schema, dsn string) { return pgtest.NewSchema(t, "casual_test") }

// dsnWith adds connection parameters to dsn (pgtest.WithParams).
func dsnWith(_ testing.TB, dsn string, params map[string]string) string {
	return pgtest.WithParams(dsn, params)
}

// openStore opens dsn and closes the store when the test ends.
func openStore(t testing.TB, dsn string, opts postgres.Options) *postgres.Store {
	t.Helper()
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.NewTextHandler(t.Output(), &slog.HandlerOptions{Level: slog.LevelWarn}))
	}
	if opts.MaxConns == 0 {
		opts.MaxConns = 4 // parallel tests share the server's 100 connections
	}
	s, err := postgres.Open(t.Context(), dsn, opts)
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	t.Cleanup(func() {
		if err := s.Close(); err != nil && !errors.Is(err, store.ErrClosed) {
			t.Errorf("Close: %v", err)
		}
	})
	return s
}

func TestContract(t *testing.T) {
	storetest.Run(t, func(t *testing.T) (store.Store, func() store.Store) {
		_, dsn := newSchema(t)
		open := func() store.Store { return openStore(t, dsn, postgres.Options{AutoMigrate: true}) }
		return open(), open
	})
}

// TestOptionsSchemaSetsTheSearchPath: a store opened with Options.Schema
// keeps its tables there, apart from another schema's store.
func TestOptionsSchemaSetsTheSearchPath(t *testing.T) {
	a, _ := newSchema(t)
	b, _ := newSchema(t)
	sa := openStore(t, testDSN(), postgres.Options{Schema: a, AutoMigrate: true})
	sb := openStore(t, testDSN(), postgres.Options{Schema: b, AutoMigrate: true})
	if _, err := sa.Append(t.Context(), "doc", []byte("in a")); err != nil {
		t.Fatal(err)
	}
	if _, err := sb.Load(t.Context(), "doc"); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("Load from schema %s: %v, want ErrNotFound", b, err)
	}
	ida, _ := sa.StorageID(t.Context())
	idb, _ := sb.StorageID(t.Context())
	if ida == idb {
		t.Fatalf("both schemas have storage id %s", ida)
	}
	var n int
	q := "SELECT count(*) FROM " + pgx.Identifier{a, "chunks"}.Sanitize()
	if err := sb.Pool().QueryRow(t.Context(), q).Scan(&n); err != nil || n != 1 {
		t.Fatalf("%s: %d rows, %v; want 1", q, n, err)
	}
}

// TestTwoNodesAppendingTheSameChunksStoreEachOnce: two nodes load the same
// document and both persist the same changes at once.
func TestTwoNodesAppendingTheSameChunksStoreEachOnce(t *testing.T) {
	const chunks = 100
	_, dsn := newSchema(t)
	nodes := []*postgres.Store{
		openStore(t, dsn, postgres.Options{AutoMigrate: true}),
		openStore(t, dsn, postgres.Options{AutoMigrate: true}),
	}
	ids := make([]string, len(nodes))
	for i, n := range nodes {
		var err error
		if ids[i], err = n.StorageID(t.Context()); err != nil {
			t.Fatal(err)
		}
	}
	if ids[0] != ids[1] {
		t.Fatalf("nodes on one database have storage ids %v", ids)
	}
	data := make([][]byte, chunks)
	for i := range data {
		data[i] = fmt.Appendf(nil, "change %d", i)
	}
	// Several appenders per node, so each node's batches hold many chunks
	// that the other node's batches insert at the same time.
	var wg sync.WaitGroup
	for n, node := range nodes {
		for g := range 4 {
			wg.Go(func() {
				for i := g; i < chunks; i += 4 {
					j := i
					if n == 1 {
						j = chunks - 1 - i // the other node goes the other way
					}
					if _, err := node.Append(t.Context(), "doc", data[j]); err != nil {
						t.Errorf("node %d append %d: %v", n, j, err)
						return
					}
				}
			})
		}
	}
	wg.Wait()
	got, err := nodes[0].Load(t.Context(), "doc")
	if err != nil {
		t.Fatal(err)
	}
	seen := map[string]int{}
	for _, c := range got {
		seen[string(c.Data)]++
	}
	if len(got) != chunks || len(seen) != chunks {
		t.Fatalf("loaded %d chunks, %d distinct; want %d once each", len(got), len(seen), chunks)
	}
}

// TestAppendsSurviveTerminatedBackends kills the pool's connections
// (pg_terminate_backend) again and again while appenders run: an Append
// may fail, the next one (the room's retry) succeeds on a new connection,
// and every acknowledged chunk is stored.
func TestAppendsSurviveTerminatedBackends(t *testing.T) {
	const appenders, rounds, perRound = 4, 5, 20
	_, dsn := newSchema(t)
	app := "casual_test_" + randomHex(t, 8)
	s := openStore(t, dsnWith(t, dsn, map[string]string{"application_name": app}), postgres.Options{AutoMigrate: true})
	admin, err := pgx.Connect(t.Context(), testDSN())
	if err != nil {
		t.Fatal(err)
	}
	defer admin.Close(context.Background())

	progress := make(chan struct{}, appenders*perRound)
	stop := make(chan struct{})
	acked := make([][]string, appenders) // chunk data per appender
	failures := make([]int, appenders)
	var wg sync.WaitGroup
	halt := sync.OnceFunc(func() { close(stop); wg.Wait() })
	defer halt() // also when a check below fails
	for a := range appenders {
		wg.Go(func() {
			for i := 0; ; i++ {
				select {
				case <-stop:
					return
				default:
				}
				data := fmt.Sprintf("a=%d i=%d", a, i)
				if err := appendWithRetry(t.Context(), s, fmt.Sprintf("doc-%d", a), []byte(data), &failures[a]); err != nil {
					t.Errorf("appender %d: %v", a, err)
					return
				}
				acked[a] = append(acked[a], data)
				select {
				case progress <- struct{}{}:
				default:
				}
			}
		})
	}
	terminated := 0
	for range rounds {
		for range perRound {
			select {
			case <-progress:
			case <-time.After(30 * time.Second):
				t.Fatal("appenders made no progress")
			}
		}
		terminated += terminate(t, admin, app)
	}
	halt()
	if t.Failed() {
		return
	}
	if terminated == 0 {
		t.Fatal("terminated no backend: the test did not test anything")
	}
	t.Logf("terminated %d backends; failed appends per appender %v", terminated, failures)
	for a, want := range acked {
		chunks, err := loadWithRetry(t.Context(), s, fmt.Sprintf("doc-%d", a))
		if err != nil {
			t.Fatal(err)
		}
		var got []string
		for _, c := range chunks {
			got = append(got, string(c.Data))
		}
		// Acknowledged chunks are stored, in order; an Append that failed
		// was retried with the same bytes, so nothing else is.
		if !slices.Equal(got, want) {
			t.Fatalf("doc-%d holds %d chunks, %d acknowledged:\n%q\nwant %q", a, len(got), len(want), got, want)
		}
	}
}

// terminate ends the backends of connections named app and returns how
// many it ended. The pids are read first: in one statement, PostgreSQL may
// call pg_terminate_backend before filtering by name.
func terminate(t *testing.T, admin *pgx.Conn, app string) int {
	t.Helper()
	rows, err := admin.Query(t.Context(), `SELECT pid FROM pg_stat_activity WHERE application_name = $1`, app)
	if err != nil {
		t.Fatalf("list backends: %v", err)
	}
	pids, err := pgx.CollectRows(rows, pgx.RowTo[int32])
	if err != nil {
		t.Fatalf("list backends: %v", err)
	}
	n := 0
	for _, pid := range pids {
		var ok bool
		if err := admin.QueryRow(t.Context(), `SELECT pg_terminate_backend($1)`, pid).Scan(&ok); err != nil {
			t.Fatalf("terminate backend %d: %v", pid, err)
		}
		if ok {
			n++
		}
	}
	return n
}

// appendWithRetry appends as a room does: again and again until it
// succeeds, counting failures.
func appendWithRetry(ctx context.Context, s store.Store, doc string, data []byte, failures *int) error {
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	for {
		_, err := s.Append(ctx, doc, data)
		if err == nil {
			return nil
		}
		if ctx.Err() != nil || errors.Is(err, store.ErrClosed) {
			return fmt.Errorf("append kept failing: %w", err)
		}
		*failures++
		select {
		case <-time.After(5 * time.Millisecond):
		case <-ctx.Done():
		}
	}
}

func loadWithRetry(ctx context.Context, s store.Store, doc string) ([]store.Chunk, error) {
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	for {
		chunks, err := s.Load(ctx, doc)
		if err == nil || errors.Is(err, store.ErrNotFound) || ctx.Err() != nil {
			return chunks, err
		}
		select {
		case <-time.After(5 * time.Millisecond):
		case <-ctx.Done():
		}
	}
}

func TestRejectsInvalidInput(t *testing.T) {
	_, dsn := newSchema(t)
	s := openStore(t, dsn, postgres.Options{AutoMigrate: true})
	ctx := t.Context()
	tests := []struct {
		name string
		call func() error
	}{
		{"AppendEmptyDocID", func() error { _, err := s.Append(ctx, "", []byte("x")); return err }},
		{"AppendDocIDWithNUL", func() error { _, err := s.Append(ctx, "a\x00b", []byte("x")); return err }},
		{"AppendDocIDNotUTF8", func() error { _, err := s.Append(ctx, "a\xffb", []byte("x")); return err }},
		{"AppendLongDocID", func() error {
			_, err := s.Append(ctx, strings.Repeat("d", postgres.MaxDocIDLen+1), []byte("x"))
			return err
		}},
		{"LoadEmptyDocID", func() error { _, err := s.Load(ctx, ""); return err }},
		{"DeleteEmptyDocID", func() error { return s.Delete(ctx, "") }},
		{"CompactEmptySnapshot", func() error { _, err := s.Compact(ctx, "doc", nil, nil); return err }},
		{"CompactBadRef", func() error {
			_, err := s.Compact(ctx, "doc", []byte("x"), []store.ChunkRef{{Kind: store.Incremental, Hash: "zz"}})
			return err
		}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if err := tc.call(); err == nil {
				t.Fatal("want an error")
			}
		})
	}
	if _, err := s.Load(ctx, "doc"); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("rejected calls wrote something: Load err = %v", err)
	}
}

func TestObserveReportsCommitsAndLoads(t *testing.T) {
	_, dsn := newSchema(t)
	var mu sync.Mutex
	got := map[string][]int{}
	s := openStore(t, dsn, postgres.Options{AutoMigrate: true, Observe: func(op string, n int, _ time.Duration) {
		mu.Lock()
		defer mu.Unlock()
		got[op] = append(got[op], n)
	}})
	for _, c := range []string{"a", "b"} {
		if _, err := s.Append(t.Context(), "doc", []byte(c)); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := s.Load(t.Context(), "doc"); err != nil {
		t.Fatal(err)
	}
	mu.Lock()
	defer mu.Unlock()
	if !slices.Equal(got["commit"], []int{1, 1}) || !slices.Equal(got["load"], []int{2}) {
		t.Fatalf("observed %v", got)
	}
}

func randomHex(t testing.TB, n int) string {
	t.Helper()
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		t.Fatal(err)
	}
	return hex.EncodeToString(b)
}
