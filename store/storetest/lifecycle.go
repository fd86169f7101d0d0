package storetest

import (
	"context"
	"errors"
	"testing"

	"github.com/casual-dev/casual/store"
)

var lifecycleTests = []contractTest{
	{"DeleteRemovesEveryChunk", testDelete},
	{"DataSurvivesReopen", testSurvivesReopen},
	{"CancelledContextFailsAndWritesNothing", testCancelledContext},
	{"ClosedStoreFailsWithErrClosed", testClosed},
}

func testDelete(t *testing.T, open Opener) {
	s, _ := open(t)
	e := newEditor("k")
	appendChanges(t, s, "doc", e, 3)
	mustCompact(t, s, "doc", e.doc.Save(), refs(mustLoad(t, s, "doc")))
	appendChanges(t, s, "doc", e, 2)
	for _, doc := range []string{"doc", "doc", "never-written"} {
		if err := s.Delete(t.Context(), doc); err != nil {
			t.Fatalf("Delete(%s): %v", doc, err)
		}
		wantNotFound(t, s, doc)
	}
	// The document can start again, with no trace of its old chunks.
	again := []byte("a fresh start")
	mustAppend(t, s, "doc", again)
	wantChunks(t, mustLoad(t, s, "doc"), []store.Chunk{chunk(store.Incremental, again)})
}

func testSurvivesReopen(t *testing.T, open Opener) {
	s, reopen := open(t)
	e := newEditor("k")
	appendChanges(t, s, "compacted", e, 10)
	mustCompact(t, s, "compacted", e.doc.Save(), refs(mustLoad(t, s, "compacted")))
	appendChanges(t, s, "compacted", e, 3)
	f := newEditor("k")
	appendChanges(t, s, "plain", f, 5)
	appendChanges(t, s, "deleted", newEditor("k"), 2)
	if err := s.Delete(t.Context(), "deleted"); err != nil {
		t.Fatalf("Delete: %v", err)
	}
	before := map[string][]store.Chunk{
		"compacted": mustLoad(t, s, "compacted"),
		"plain":     mustLoad(t, s, "plain"),
	}
	if err := s.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}

	s = reopen()
	for doc, want := range before {
		wantChunks(t, mustLoad(t, s, doc), want)
	}
	wantDoc(t, mustLoad(t, s, "compacted"), e.doc.Heads())
	wantDoc(t, mustLoad(t, s, "plain"), f.doc.Heads())
	wantNotFound(t, s, "deleted")
	// And it keeps working: appends go after what was there.
	next := e.change(t)
	mustAppend(t, s, "compacted", next)
	wantChunks(t, mustLoad(t, s, "compacted"), append(before["compacted"], chunk(store.Incremental, next)))
}

func testCancelledContext(t *testing.T, open Opener) {
	type call func(ctx context.Context, s store.Store, old store.ChunkRef) error
	tests := []struct {
		name string
		call call
	}{
		{"StorageID", func(ctx context.Context, s store.Store, _ store.ChunkRef) error {
			_, err := s.StorageID(ctx)
			return err
		}},
		{"AppendToExistingDoc", func(ctx context.Context, s store.Store, _ store.ChunkRef) error {
			_, err := s.Append(ctx, "doc", []byte("not written"))
			return err
		}},
		{"AppendToNewDoc", func(ctx context.Context, s store.Store, _ store.ChunkRef) error {
			_, err := s.Append(ctx, "new", []byte("not written"))
			return err
		}},
		{"Load", func(ctx context.Context, s store.Store, _ store.ChunkRef) error {
			_, err := s.Load(ctx, "doc")
			return err
		}},
		{"Compact", func(ctx context.Context, s store.Store, old store.ChunkRef) error {
			_, err := s.Compact(ctx, "doc", []byte("not written"), []store.ChunkRef{old})
			return err
		}},
		{"Delete", func(ctx context.Context, s store.Store, _ store.ChunkRef) error {
			return s.Delete(ctx, "doc")
		}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			s, _ := open(t)
			old := []byte("stored before")
			ref := mustAppend(t, s, "doc", old)
			ctx, cancel := context.WithCancel(t.Context())
			cancel()
			if err := tc.call(ctx, s, ref); !errors.Is(err, context.Canceled) {
				t.Fatalf("%s with cancelled ctx: err = %v, want context.Canceled", tc.name, err)
			}
			wantChunks(t, mustLoad(t, s, "doc"), []store.Chunk{chunk(store.Incremental, old)})
			wantNotFound(t, s, "new")
		})
	}
}

func testClosed(t *testing.T, open Opener) {
	s, _ := open(t)
	ref := mustAppend(t, s, "doc", []byte("stored before"))
	if err := s.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	ctx := t.Context()
	tests := []struct {
		name string
		call func() error
	}{
		{"StorageID", func() error { _, err := s.StorageID(ctx); return err }},
		{"Append", func() error { _, err := s.Append(ctx, "doc", []byte("late")); return err }},
		{"Load", func() error { _, err := s.Load(ctx, "doc"); return err }},
		{"LoadUnknown", func() error { _, err := s.Load(ctx, "unknown"); return err }},
		{"Compact", func() error {
			_, err := s.Compact(ctx, "doc", []byte("late"), []store.ChunkRef{ref})
			return err
		}},
		{"Delete", func() error { return s.Delete(ctx, "doc") }},
		{"Close", s.Close},
	}
	for _, tc := range tests {
		if err := tc.call(); !errors.Is(err, store.ErrClosed) {
			t.Errorf("%s after Close: err = %v, want ErrClosed", tc.name, err)
		}
	}
}
