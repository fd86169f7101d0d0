package storetest

import (
	"bytes"
	"slices"
	"testing"

	"github.com/casual-dev/casual/store"
)

var basicTests = []contractTest{
	{"StorageIDIsStableAcrossCallsAndReopen", testStorageIDStable},
	{"AppendThenLoadReturnsTheBytes", testAppendThenLoad},
	{"LoadOfUnknownDocIsNotFound", testLoadUnknown},
	{"AppendRejectsEmptyChunk", testAppendEmpty},
	{"SameBytesAppendedTwiceAreStoredOnce", testAppendDedupe},
	{"DocsAreIndependent", testDocsIndependent},
	{"IncrementalsLoadInFirstAppendOrder", testAppendOrder},
	{"AppendedChangesLoadAsTheDocument", testAppendedChangesLoad},
	{"LoadedBytesBelongToTheCaller", testNoAliasing},
	{"LargeChunkRoundTrips", testLargeChunk},
}

func testStorageIDStable(t *testing.T, open Opener) {
	s, reopen := open(t)
	id, err := s.StorageID(t.Context())
	if err != nil || id == "" {
		t.Fatalf("StorageID = %q, %v", id, err)
	}
	if again, err := s.StorageID(t.Context()); err != nil || again != id {
		t.Fatalf("second StorageID = %q, %v; want %q", again, err, id)
	}
	if err := s.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	s = reopen()
	if again, err := s.StorageID(t.Context()); err != nil || again != id {
		t.Fatalf("StorageID after reopen = %q, %v; want %q", again, err, id)
	}
}

func testAppendThenLoad(t *testing.T, open Opener) {
	s, _ := open(t)
	data := []byte("chunk one")
	mustAppend(t, s, "doc", data)
	wantChunks(t, mustLoad(t, s, "doc"), []store.Chunk{chunk(store.Incremental, data)})
}

func testLoadUnknown(t *testing.T, open Opener) {
	s, _ := open(t)
	wantNotFound(t, s, "never-written")
	mustAppend(t, s, "other", []byte("x"))
	wantNotFound(t, s, "never-written")
}

func testAppendEmpty(t *testing.T, open Opener) {
	s, _ := open(t)
	for _, data := range [][]byte{nil, {}} {
		if ref, err := s.Append(t.Context(), "doc", data); err == nil {
			t.Fatalf("Append(%#v) = %+v, want an error", data, ref)
		}
	}
	wantNotFound(t, s, "doc")
}

func testAppendDedupe(t *testing.T, open Opener) {
	s, _ := open(t)
	x, y := []byte("same bytes"), []byte("other bytes")
	first := mustAppend(t, s, "doc", x)
	mustAppend(t, s, "doc", y)
	if again := mustAppend(t, s, "doc", x); again != first {
		t.Fatalf("second Append ref = %+v, want %+v", again, first)
	}
	// Stored once, and still where it was first appended.
	wantChunks(t, mustLoad(t, s, "doc"), []store.Chunk{chunk(store.Incremental, x), chunk(store.Incremental, y)})
}

func testDocsIndependent(t *testing.T, open Opener) {
	s, _ := open(t)
	shared, onlyA := []byte("in both docs"), []byte("only in a")
	mustAppend(t, s, "a", shared)
	mustAppend(t, s, "a", onlyA)
	mustAppend(t, s, "b", shared)
	wantChunks(t, mustLoad(t, s, "b"), []store.Chunk{chunk(store.Incremental, shared)})
	if err := s.Delete(t.Context(), "a"); err != nil {
		t.Fatalf("Delete(a): %v", err)
	}
	wantNotFound(t, s, "a")
	wantChunks(t, mustLoad(t, s, "b"), []store.Chunk{chunk(store.Incremental, shared)})
}

func testAppendOrder(t *testing.T, open Opener) {
	s, _ := open(t)
	// Random bytes, so neither hash nor byte order matches append order.
	var want []store.Chunk
	for range 40 {
		// At least 16 random bytes: shorter chunks can collide and are
		// then rightly stored once.
		data := randomBytes(t, 16+len(want)%7*13)
		mustAppend(t, s, "doc", data)
		want = append(want, chunk(store.Incremental, data))
	}
	wantChunks(t, mustLoad(t, s, "doc"), want)
}

func testAppendedChangesLoad(t *testing.T, open Opener) {
	s, _ := open(t)
	e := newEditor("n")
	appendChanges(t, s, "doc", e, 30)
	d := wantDoc(t, mustLoad(t, s, "doc"), e.doc.Heads())
	if v, err := d.Get("n"); err != nil || v != int64(30) {
		t.Fatalf("loaded n = %v, %v; want 30", v, err)
	}
}

func testNoAliasing(t *testing.T, open Opener) {
	s, _ := open(t)
	data := []byte("original bytes")
	orig := slices.Clone(data)
	mustAppend(t, s, "doc", data)
	data[0] = 'X' // the caller reuses its buffer
	got := mustLoad(t, s, "doc")
	wantChunks(t, got, []store.Chunk{chunk(store.Incremental, orig)})
	got[0].Data[0] = 'Y' // and scribbles over what Load gave it
	got[0].Data = append(got[0].Data, "more"...)
	wantChunks(t, mustLoad(t, s, "doc"), []store.Chunk{chunk(store.Incremental, orig)})
}

func testLargeChunk(t *testing.T, open Opener) {
	s, _ := open(t)
	big := randomBytes(t, 8<<20)
	mustAppend(t, s, "inc", big)
	got := mustLoad(t, s, "inc")
	if len(got) != 1 || !bytes.Equal(got[0].Data, big) {
		t.Fatalf("8 MiB incremental did not round-trip (%d chunks)", len(got))
	}
	mustCompact(t, s, "snap", big, nil)
	got = mustLoad(t, s, "snap")
	if len(got) != 1 || got[0].Kind != store.Snapshot || !bytes.Equal(got[0].Data, big) {
		t.Fatalf("8 MiB snapshot did not round-trip (%d chunks)", len(got))
	}
}
