package embedded_test

import (
	"context"
	"errors"
	"log/slog"
	"slices"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/casual-dev/casual/store"
	"github.com/casual-dev/casual/store/embedded"
	"github.com/casual-dev/casual/store/storetest"
)

func TestContract(t *testing.T) {
	storetest.Run(t, func(t *testing.T) (store.Store, func() store.Store) {
		dir := t.TempDir()
		open := func() store.Store { return openStore(t, dir, embedded.Options{}) }
		return open(), open
	})
}

// openStore opens dir and closes the store when the test ends.
func openStore(t testing.TB, dir string, opts embedded.Options) *embedded.Store {
	t.Helper()
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.NewTextHandler(t.Output(), &slog.HandlerOptions{Level: slog.LevelWarn}))
	}
	s, err := embedded.Open(t.Context(), dir, opts)
	if err != nil {
		t.Fatalf("Open(%s): %v", dir, err)
	}
	t.Cleanup(func() {
		if err := s.Close(); err != nil && !errors.Is(err, store.ErrClosed) {
			t.Errorf("Close: %v", err)
		}
	})
	return s
}

// TestAppendsWaitingDuringACommitShareTheNext holds the writer inside its
// first commit (in Observe) until every other Append is waiting for it,
// then checks they were all written in one transaction.
func TestAppendsWaitingDuringACommitShareTheNext(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		const waiting = 20
		release := make(chan struct{})
		var mu sync.Mutex
		var batches []int
		s, err := embedded.Open(t.Context(), t.TempDir(), embedded.Options{
			Observe: func(op string, batch int, _ time.Duration) {
				if op != "wal" { // the durable group write of appends
					return
				}
				mu.Lock()
				batches = append(batches, batch)
				first := len(batches) == 1
				mu.Unlock()
				if first {
					<-release
				}
			},
		})
		if err != nil {
			t.Fatal(err)
		}
		defer s.Close()

		var wg sync.WaitGroup
		appendChunk := func(data string) {
			if _, err := s.Append(context.Background(), "doc", []byte(data)); err != nil {
				t.Errorf("Append(%s): %v", data, err)
			}
		}
		wg.Go(func() { appendChunk("first") })
		synctest.Wait() // the writer is parked in Observe after the first commit
		for i := range waiting {
			wg.Go(func() { appendChunk(string(rune('a' + i))) })
		}
		synctest.Wait() // every other Append is waiting for the writer
		close(release)
		wg.Wait()

		mu.Lock()
		defer mu.Unlock()
		if want := []int{1, waiting}; !slices.Equal(batches, want) {
			t.Fatalf("group write sizes %v, want %v", batches, want)
		}
	})
}

func TestMaxBatchCapsATransaction(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		release := make(chan struct{})
		var mu sync.Mutex
		var batches []int
		s, err := embedded.Open(t.Context(), t.TempDir(), embedded.Options{
			MaxBatch: 4,
			Observe: func(op string, batch int, _ time.Duration) {
				if op != "wal" {
					return
				}
				mu.Lock()
				batches = append(batches, batch)
				first := len(batches) == 1
				mu.Unlock()
				if first {
					<-release
				}
			},
		})
		if err != nil {
			t.Fatal(err)
		}
		defer s.Close()
		var wg sync.WaitGroup
		for i := range 11 {
			wg.Go(func() {
				if _, err := s.Append(context.Background(), "doc", []byte{byte(i)}); err != nil {
					t.Error(err)
				}
			})
			if i == 0 {
				synctest.Wait()
			}
		}
		synctest.Wait()
		close(release)
		wg.Wait()
		mu.Lock()
		defer mu.Unlock()
		if want := []int{1, 4, 4, 2}; !slices.Equal(batches, want) {
			t.Fatalf("group write sizes %v, want %v", batches, want)
		}
	})
}

func TestObserveReportsLoads(t *testing.T) {
	var mu sync.Mutex
	got := map[string][]int{}
	s := openStore(t, t.TempDir(), embedded.Options{Observe: func(op string, n int, _ time.Duration) {
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
	// Two logged appends, moved into bbolt in one transaction before the
	// Load that needs them.
	if !slices.Equal(got["wal"], []int{1, 1}) || !slices.Equal(got["commit"], []int{2}) || !slices.Equal(got["load"], []int{2}) {
		t.Fatalf("observed %v", got)
	}
}

func TestOpenFailsWhileDirIsInUse(t *testing.T) {
	dir := t.TempDir()
	openStore(t, dir, embedded.Options{})
	ctx, cancel := context.WithTimeout(t.Context(), 100*time.Millisecond)
	defer cancel()
	s, err := embedded.Open(ctx, dir, embedded.Options{})
	if err == nil {
		s.Close()
		t.Fatal("second Open of a directory in use succeeded")
	}
	t.Logf("second Open: %v", err)
}

func TestRejectsInvalidInput(t *testing.T) {
	s := openStore(t, t.TempDir(), embedded.Options{})
	ctx := t.Context()
	tests := []struct {
		name string
		call func() error
	}{
		{"AppendEmptyDocID", func() error { _, err := s.Append(ctx, "", []byte("x")); return err }},
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
