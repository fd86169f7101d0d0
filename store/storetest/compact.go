package storetest

import (
	"testing"

	"github.com/casual-dev/casual/store"
)

var compactTests = []contractTest{
	{"CompactReplacesExactlyTheNamedChunks", testCompactReplacesNamed},
	{"CompactKeepsChunksAnotherNodeAppended", testCompactKeepsOtherNode},
	{"CompactWithSnapshotAlreadyStored", testCompactSameSnapshot},
	{"CompactOfUnknownDocStoresTheSnapshot", testCompactUnknownDoc},
}

func testCompactReplacesNamed(t *testing.T, open Opener) {
	s, _ := open(t)
	var cs []store.Chunk
	for range 10 {
		data := randomBytes(t, 100)
		mustAppend(t, s, "doc", data)
		cs = append(cs, chunk(store.Incremental, data))
	}
	s1 := chunk(store.Snapshot, randomBytes(t, 300))
	mustCompact(t, s, "doc", s1.Data, refs(cs[:5]))
	want := append([]store.Chunk{s1}, cs[5:]...)
	wantChunks(t, mustLoad(t, s, "doc"), want)

	n0 := chunk(store.Incremental, randomBytes(t, 50))
	mustAppend(t, s, "doc", n0.Data)
	want = append(want, n0)
	wantChunks(t, mustLoad(t, s, "doc"), want)

	// A second compaction replaces the first snapshot and some chunks; the
	// snapshot's kind in the ref does not matter, its hash does.
	s2 := chunk(store.Snapshot, randomBytes(t, 400))
	replaced := append([]store.ChunkRef{s1.ChunkRef}, refs(cs[5:8])...)
	mustCompact(t, s, "doc", s2.Data, replaced)
	wantChunks(t, mustLoad(t, s, "doc"), []store.Chunk{s2, cs[8], cs[9], n0})
}

// testCompactKeepsOtherNode: node A loads the document and compacts what it
// loaded while node B, which loaded it too, appends a change meanwhile.
func testCompactKeepsOtherNode(t *testing.T, open Opener) {
	s, _ := open(t)
	a := newEditor("a")
	appendChanges(t, s, "doc", a, 10)
	loaded := mustLoad(t, s, "doc")

	b := &editor{doc: wantDoc(t, loaded, a.doc.Heads()), key: "b"}
	fromB := b.change(t)
	mustAppend(t, s, "doc", fromB)

	snap := a.doc.Save()
	mustCompact(t, s, "doc", snap, refs(loaded))
	got := mustLoad(t, s, "doc")
	wantChunks(t, got, []store.Chunk{chunk(store.Snapshot, snap), chunk(store.Incremental, fromB)})
	d := wantDoc(t, got, b.doc.Heads())
	for key, want := range map[string]int64{"a": 10, "b": 1} {
		if v, err := d.Get(key); err != nil || v != want {
			t.Fatalf("loaded %s = %v, %v; want %d", key, v, err, want)
		}
	}
}

func testCompactSameSnapshot(t *testing.T, open Opener) {
	// compacted appends 5 changes and compacts them into snap.
	compacted := func(t *testing.T, s store.Store, e *editor) (snap []byte, replaced []store.ChunkRef) {
		appendChanges(t, s, "doc", e, 5)
		replaced = refs(mustLoad(t, s, "doc"))
		snap = e.doc.Save()
		mustCompact(t, s, "doc", snap, replaced)
		return snap, replaced
	}
	// savedAsIncremental stores a whole saved document as the first chunk
	// (as a node may for a new document), then one more change.
	savedAsIncremental := func(t *testing.T, s store.Store, e *editor) (snap, next []byte) {
		for range 3 {
			e.change(t)
		}
		snap = e.doc.Save()
		mustAppend(t, s, "doc", snap)
		next = e.change(t)
		mustAppend(t, s, "doc", next)
		return snap, next
	}
	tests := []struct {
		name  string
		setup func(t *testing.T, s store.Store, e *editor) (snap []byte, replaced []store.ChunkRef, want []store.Chunk)
	}{
		{"RetriedWithTheSameArguments", func(t *testing.T, s store.Store, e *editor) ([]byte, []store.ChunkRef, []store.Chunk) {
			snap, replaced := compacted(t, s, e)
			return snap, replaced, []store.Chunk{chunk(store.Snapshot, snap)}
		}},
		{"ReplacedNamesTheSnapshotItself", func(t *testing.T, s store.Store, e *editor) ([]byte, []store.ChunkRef, []store.Chunk) {
			snap, _ := compacted(t, s, e)
			return snap, refs(mustLoad(t, s, "doc")), []store.Chunk{chunk(store.Snapshot, snap)}
		}},
		{"SnapshotStoredAsIncrementalAndReplaced", func(t *testing.T, s store.Store, e *editor) ([]byte, []store.ChunkRef, []store.Chunk) {
			snap, next := savedAsIncremental(t, s, e)
			return snap, []store.ChunkRef{store.RefOf(store.Incremental, snap)},
				[]store.Chunk{chunk(store.Snapshot, snap), chunk(store.Incremental, next)}
		}},
		{"SnapshotStoredAsIncrementalNotReplaced", func(t *testing.T, s store.Store, e *editor) ([]byte, []store.ChunkRef, []store.Chunk) {
			snap, next := savedAsIncremental(t, s, e)
			return snap, nil, []store.Chunk{chunk(store.Snapshot, snap), chunk(store.Incremental, next)}
		}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			s, _ := open(t)
			e := newEditor("k")
			snap, replaced, want := tc.setup(t, s, e)
			mustCompact(t, s, "doc", snap, replaced)
			got := mustLoad(t, s, "doc")
			wantChunks(t, got, want)
			wantDoc(t, got, e.doc.Heads())
		})
	}
}

func testCompactUnknownDoc(t *testing.T, open Opener) {
	s, _ := open(t)
	e := newEditor("k")
	e.change(t)
	snap := e.doc.Save()
	// Refs that are not stored (removed by an earlier compaction) are ignored.
	gone := []store.ChunkRef{store.RefOf(store.Incremental, []byte("long gone"))}
	mustCompact(t, s, "doc", snap, gone)
	got := mustLoad(t, s, "doc")
	wantChunks(t, got, []store.Chunk{chunk(store.Snapshot, snap)})
	wantDoc(t, got, e.doc.Heads())
}
