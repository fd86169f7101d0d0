// Package storetest holds the contract tests every store.Store must pass.
// An implementation's own test calls Run with a function that opens a
// fresh, empty store:
//
//	func TestContract(t *testing.T) {
//		storetest.Run(t, func(t *testing.T) (store.Store, func() store.Store) {
//			dir := t.TempDir()
//			open := func() store.Store { s, err := embedded.Open(t.Context(), dir, embedded.Options{}); ...; return s }
//			return open(), open
//		})
//	}
package storetest

import (
	"bytes"
	"crypto/rand"
	"errors"
	"fmt"
	"slices"
	"testing"

	"github.com/casual-dev/casual/crdt"
	"github.com/casual-dev/casual/store"
)

// Opener opens a new, empty store for one test. reopen opens the same
// storage again, as a restarted process would (for the embedded store: the
// same directory; for Postgres: a new pool on the same database); tests call
// it only after closing the previous handle. The opener registers cleanups
// with t that close whatever it opened; a cleanup must accept the
// store.ErrClosed that Close returns for an already closed store.
//
// Run calls the opener from parallel subtests, so it must be safe for
// concurrent use.
type Opener func(t *testing.T) (s store.Store, reopen func() store.Store)

type contractTest struct {
	name string
	run  func(t *testing.T, open Opener)
}

// Run runs every contract test against the stores open returns, each as a
// parallel subtest named for the behaviour it checks.
func Run(t *testing.T, open Opener) {
	var tests []contractTest
	tests = append(tests, basicTests...)
	tests = append(tests, compactTests...)
	tests = append(tests, lifecycleTests...)
	tests = append(tests, concurrencyTests...)
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			tc.run(t, open)
		})
	}
}

// editor makes real Automerge changes, one incremental chunk at a time.
type editor struct {
	doc *crdt.Doc
	key string
	n   int64
}

func newEditor(key string) *editor { return &editor{doc: crdt.New(), key: key} }

// change commits one edit and returns it as an incremental chunk.
func (e *editor) change(t testing.TB) []byte {
	t.Helper()
	b, err := e.tryChange()
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// tryChange is change for goroutines other than the test's.
func (e *editor) tryChange() ([]byte, error) {
	e.n++
	if err := e.doc.Set([]any{e.key}, e.n); err != nil {
		return nil, fmt.Errorf("set: %w", err)
	}
	if _, ok, err := e.doc.Commit("edit"); err != nil || !ok {
		return nil, fmt.Errorf("commit: ok=%v err=%v", ok, err)
	}
	b := e.doc.SaveIncremental()
	if len(b) == 0 {
		return nil, errors.New("SaveIncremental returned nothing after a commit")
	}
	return b, nil
}

// appendChanges appends n fresh changes of e to doc.
func appendChanges(t testing.TB, s store.Store, doc string, e *editor, n int) {
	t.Helper()
	for range n {
		mustAppend(t, s, doc, e.change(t))
	}
}

func mustAppend(t testing.TB, s store.Store, doc string, data []byte) store.ChunkRef {
	t.Helper()
	ref, err := s.Append(t.Context(), doc, data)
	if err != nil {
		t.Fatalf("Append(%s): %v", doc, err)
	}
	if want := store.RefOf(store.Incremental, data); ref.Hash != want.Hash || ref.Size != want.Size {
		t.Fatalf("Append(%s) ref = %+v, want hash %s size %d", doc, ref, want.Hash, want.Size)
	}
	return ref
}

func mustCompact(t testing.TB, s store.Store, doc string, snap []byte, replaced []store.ChunkRef) {
	t.Helper()
	ref, err := s.Compact(t.Context(), doc, snap, replaced)
	if err != nil {
		t.Fatalf("Compact(%s): %v", doc, err)
	}
	if want := store.RefOf(store.Snapshot, snap); ref != want {
		t.Fatalf("Compact(%s) ref = %+v, want %+v", doc, ref, want)
	}
}

func mustLoad(t testing.TB, s store.Store, doc string) []store.Chunk {
	t.Helper()
	chunks, err := s.Load(t.Context(), doc)
	if err != nil {
		t.Fatalf("Load(%s): %v", doc, err)
	}
	for i, c := range chunks {
		if want := store.RefOf(c.Kind, c.Data); c.ChunkRef != want {
			t.Fatalf("Load(%s) chunk %d ref = %+v, its bytes give %+v", doc, i, c.ChunkRef, want)
		}
	}
	return chunks
}

func refs(chunks []store.Chunk) []store.ChunkRef {
	out := make([]store.ChunkRef, len(chunks))
	for i, c := range chunks {
		out[i] = c.ChunkRef
	}
	return out
}

// chunk builds the expected chunk of kind with data.
func chunk(kind store.Kind, data []byte) store.Chunk {
	return store.Chunk{ChunkRef: store.RefOf(kind, data), Data: data}
}

// wantChunks fails unless got holds exactly want, in order.
func wantChunks(t testing.TB, got, want []store.Chunk) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("got %d chunks %v, want %d %v", len(got), refs(got), len(want), refs(want))
	}
	for i := range want {
		if got[i].ChunkRef != want[i].ChunkRef || !bytes.Equal(got[i].Data, want[i].Data) {
			t.Fatalf("chunk %d = %+v, want %+v", i, got[i].ChunkRef, want[i].ChunkRef)
		}
	}
}

// wantDoc fails unless the concatenated chunks load as a document with
// exactly the given heads.
func wantDoc(t testing.TB, chunks []store.Chunk, heads []crdt.Hash) *crdt.Doc {
	t.Helper()
	d, err := crdt.Load(store.Concat(chunks))
	if err != nil {
		t.Fatalf("crdt.Load(concat of %d chunks): %v", len(chunks), err)
	}
	if got := d.Heads(); !slices.Equal(got, heads) {
		t.Fatalf("loaded heads %v, want %v", got, heads)
	}
	return d
}

func wantNotFound(t testing.TB, s store.Store, doc string) {
	t.Helper()
	if chunks, err := s.Load(t.Context(), doc); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("Load(%s) = %d chunks, err %v; want ErrNotFound", doc, len(chunks), err)
	}
}

func randomBytes(t testing.TB, n int) []byte {
	t.Helper()
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		t.Fatal(err)
	}
	return b
}
