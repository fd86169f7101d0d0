package crdt

import (
	"encoding/binary"
	"errors"
	"maps"
	"math/rand/v2"
	"os"
	"testing"

	"github.com/automerge/automerge-go"
)

// testdata/doc-with-marks.automerge was saved by JS Automerge 3.5 with a
// bold mark on "hello". The bundled 2023 core predates marks but keeps
// their changes as they are: it loads them, and saves them back intact
// (the JS interop tests check that JS reads the mark back).
func TestDocumentWithMarksLoadsAndKeepsItsChanges(t *testing.T) {
	raw, err := os.ReadFile("testdata/doc-with-marks.automerge")
	if err != nil {
		t.Fatal(err)
	}
	d, err := Load(raw)
	if err != nil {
		t.Fatal(err)
	}
	if v, _ := d.Get("text"); v != "hello world" {
		t.Fatalf("text = %v", v)
	}
	before, _ := d.Changes()
	again, err := Load(d.Save())
	if err != nil {
		t.Fatal(err)
	}
	after, _ := again.Changes()
	if len(before) != 2 || len(after) != 2 || before[1].Hash != after[1].Hash {
		t.Fatalf("the marks change did not survive a save: %d → %d changes", len(before), len(after))
	}
}

// testdata/sync-v2.bin is a sync message in the V2 format (0x43) that JS
// sends to peers that advertised V2 support (we never do). The bundled core
// cannot decode it: it must be refused as an error, harmlessly.
func TestSyncMessageV2IsRefusedCleanly(t *testing.T) {
	msg, err := os.ReadFile("testdata/sync-v2.bin")
	if err != nil {
		t.Fatal(err)
	}
	d := New()
	if err := d.Set([]any{"k"}, "v"); err != nil {
		t.Fatal(err)
	}
	before := d.Heads()
	if _, err := d.NewSyncState().Receive(msg); !errors.Is(err, ErrCorrupt) {
		t.Fatalf("Receive(v2) err = %v, want ErrCorrupt", err)
	}
	if got := d.Heads(); len(got) != 1 || got[0] != before[0] {
		t.Fatal("refused message changed the document")
	}
	if _, err := InspectSyncMessage(msg); !errors.Is(err, ErrCorrupt) {
		t.Fatalf("Inspect(v2) err = %v", err)
	}
}

// The fuzzer found this: a change claiming sequence 48 of an actor the
// document has never seen. The bundled core applies it and then saves
// bytes that no longer load. It must be refused, the document untouched.
func TestOutOfSequenceChangeIsRefused(t *testing.T) {
	src := New()
	src.Set([]any{"x"}, "y")
	src.Commit("")
	chs, _ := src.Changes()
	forged := withSeq(t, chs[0].Raw, 48)

	// Unchecked, the core takes it and the document is ruined.
	victim := New()
	victim.Set([]any{"k"}, "v")
	victim.Commit("")
	am, err := automerge.LoadChanges(forged)
	if err != nil {
		t.Fatal(err)
	}
	if err := victim.am.Apply(am...); err != nil {
		t.Fatalf("core refused the forged change itself (%v): the guard is no longer needed", err)
	}
	if _, err := Load(victim.Save()); err == nil {
		t.Fatal("forged change did not break the document: the guard is no longer needed")
	}

	// Through Receive it is refused and the document stays loadable.
	d := New()
	d.Set([]any{"k"}, "v")
	d.Commit("")
	if _, err := d.NewSyncState().Receive(syncMessageWith(forged)); !errors.Is(err, ErrInvalidChange) {
		t.Fatalf("Receive = %v, want ErrInvalidChange", err)
	}
	if _, err := Load(d.Save()); err != nil {
		t.Fatalf("document no longer loads: %v", err)
	}
}

// withSeq rewrites the sequence number of an uncompressed change chunk
// with no dependencies, fixing its length and checksum.
func withSeq(t *testing.T, chunk []byte, seq uint64) []byte {
	return withSeqDeps(t, chunk, seq)
}

// withSeqDeps also sets the change's dependencies.
func withSeqDeps(t *testing.T, chunk []byte, seq uint64, deps ...Hash) []byte {
	t.Helper()
	r := reader{b: chunk[9:]}
	body := r.take(r.count())
	br := reader{b: body}
	if br.count() != 0 {
		t.Fatal("change has dependencies")
	}
	actor := br.bytes()
	br.count64() // old seq
	rest := br.b
	nb := binary.AppendUvarint(nil, uint64(len(deps)))
	for _, d := range deps {
		nb = append(nb, d[:]...)
	}
	nb = binary.AppendUvarint(nb, uint64(len(actor)))
	nb = append(nb, actor...)
	nb = binary.AppendUvarint(nb, seq)
	nb = append(nb, rest...)
	h := changeHash(nb)
	out := append([]byte{}, changeMagic[:]...)
	out = append(out, h[:4]...)
	out = append(out, chunkChange)
	out = binary.AppendUvarint(out, uint64(len(nb)))
	return append(out, nb...)
}

// syncMessageWith frames one change as a V1 sync message.
func syncMessageWith(change []byte) []byte {
	h, _ := parseChangeHeader(change)
	m := []byte{syncMessageV1, 1}
	m = append(m, h.hash[:]...)
	m = append(m, 0, 0, 1) // no need, no have, one change
	m = binary.AppendUvarint(m, uint64(len(change)))
	return append(m, change...)
}

// A legitimate peer can send a change before its predecessor (the core
// holds it until its dependencies arrive), so a sequence gap alone is not
// refused. But a forged change held that way must still be caught when
// the message that would release it arrives.
func TestHeldForgedChangeIsCaughtWhenReleased(t *testing.T) {
	releaser := New() // an innocent-looking change the forged one waits for
	releaser.Set([]any{"r"}, int64(1))
	releaser.Commit("")
	rchs, _ := releaser.Changes()
	y := rchs[0]

	src := New()
	src.Set([]any{"x"}, "y")
	src.Commit("")
	chs, _ := src.Changes()
	forged := withSeqDeps(t, chs[0].Raw, 48, y.Hash)

	d := New()
	d.Set([]any{"k"}, "v")
	d.Commit("")
	if _, err := d.NewSyncState().Receive(syncMessageWith(forged)); err != nil {
		t.Fatalf("a change waiting for dependencies was refused: %v", err)
	}
	if _, err := d.NewSyncState().Receive(syncMessageWith(y.Raw)); !errors.Is(err, ErrInvalidChange) {
		t.Fatalf("releasing the forged change: err = %v, want ErrInvalidChange", err)
	}
	if _, err := Load(d.Save()); err != nil {
		t.Fatalf("document no longer loads: %v", err)
	}
}

// Out-of-order delivery of honest changes (what a Bloom-filter false
// positive causes) is accepted, and the document ends complete.
func TestHonestOutOfOrderChangesAreAccepted(t *testing.T) {
	src := New()
	for i := 0; i < 3; i++ {
		src.Set([]any{"n"}, int64(i))
		src.Commit("")
	}
	chs, _ := src.Changes()
	d := New()
	for _, i := range []int{2, 1, 0} {
		if _, err := d.NewSyncState().Receive(syncMessageWith(chs[i].Raw)); err != nil {
			t.Fatalf("change %d: %v", i, err)
		}
	}
	if v, _ := d.Get("n"); v != int64(2) {
		t.Fatalf("n = %v", v)
	}
	if _, err := Load(d.Save()); err != nil {
		t.Fatal(err)
	}
}

// The per-actor sequence cache is kept up to date by every operation that
// adds changes (rebuilding it from the history each time made receiving
// O(history)); it must always equal a rebuild.
func TestSequenceCacheMatchesHistory(t *testing.T) {
	a, b := New(), New()
	check := func(d *Doc, when string) {
		t.Helper()
		if d.seqs == nil {
			if _, err := d.actorSeqs(); err != nil {
				t.Fatal(err)
			}
		}
		cached := maps.Clone(d.seqs)
		d.seqs = nil
		fresh, _ := d.actorSeqs()
		if !maps.Equal(cached, fresh) {
			t.Fatalf("%s: cache %v, history %v", when, cached, fresh)
		}
	}
	sa, sb := a.NewSyncState(), b.NewSyncState()
	for i := 0; i < 20; i++ {
		a.Set([]any{"a"}, int64(i))
		a.Commit("")
		check(a, "after commit")
		b.Set([]any{"b"}, int64(i))
		b.Commit("")
		if m, ok, _ := sa.Generate(); ok {
			sb.Receive(m)
			check(b, "after receive")
		}
		if m, ok, _ := sb.Generate(); ok {
			sa.Receive(m)
			check(a, "after receive")
		}
		if i%5 == 0 {
			f, _ := b.Fork()
			f.Set([]any{"f"}, int64(i))
			f.Commit("")
			a.Merge(f)
			check(a, "after merge")
			a.LoadIncremental(b.Save())
			check(a, "after load incremental")
		}
	}
}

// A change the core holds for a missing dependency can arrive by
// LoadIncremental (another node's changes) and be let in later by a
// Receive that brings the dependency. The sequence cache must learn of
// it then, or the actor's next change is refused as out of sequence.
func TestChangeHeldFromLoadIsCountedWhenReceiveReleasesIt(t *testing.T) {
	base := New()
	base.Set([]any{"base"}, int64(1))
	base.Commit("")

	writer, _ := base.Fork() // actor A: x1 depends on y (actor B)
	other, _ := base.Fork()
	other.Set([]any{"y"}, int64(1))
	y, _, _ := other.Commit("")
	writer.Merge(other)
	writer.Set([]any{"x"}, int64(1))
	writer.Commit("")

	d, _ := base.Fork()
	if _, err := d.actorSeqs(); err != nil { // the cache is built, as in a busy room
		t.Fatal(err)
	}
	held, _ := writer.Changes(y) // x1 alone: y is missing here
	if len(held) != 1 {
		t.Fatalf("%d changes after y", len(held))
	}
	if err := d.LoadIncremental(held[0].Raw); err != nil {
		t.Fatal(err)
	}
	ych, _ := other.Changes(base.Heads()...)
	if _, err := d.NewSyncState().Receive(syncMessageWith(ych[0].Raw)); err != nil {
		t.Fatal(err)
	}
	if !d.HasChange(held[0].Hash) {
		t.Fatal("the held change was not let in")
	}
	writer.Set([]any{"x"}, int64(2))
	writer.Commit("")
	next, _ := writer.Changes(held[0].Hash)
	if _, err := d.NewSyncState().Receive(syncMessageWith(next[0].Raw)); err != nil {
		t.Fatalf("the writer's next change was refused: %v", err)
	}
}

// Honest changes reach a document in any order, by a Receive (a peer) or
// LoadIncremental (another node's changes), and none is refused; the
// sequence cache always equals a rebuild.
func TestSequenceCacheSurvivesAnyDeliveryOrder(t *testing.T) {
	for seed := range int64(40) {
		rng := rand.New(rand.NewPCG(uint64(seed), 1))
		base := New()
		base.Set([]any{"base"}, int64(0))
		base.Commit("")
		writers := make([]*Doc, 3)
		for i := range writers {
			writers[i], _ = base.Fork()
		}
		// the writers edit and now and then merge each other's work, so
		// changes depend across actors
		for step := range 30 {
			w := writers[rng.IntN(len(writers))]
			if rng.IntN(4) == 0 {
				w.Merge(writers[rng.IntN(len(writers))])
			}
			w.Set([]any{"k"}, int64(step))
			w.Commit("")
		}
		var all []Change
		seen := map[Hash]bool{}
		for _, w := range writers {
			chs, _ := w.Changes(base.Heads()...)
			for _, c := range chs {
				if !seen[c.Hash] {
					seen[c.Hash] = true
					all = append(all, c)
				}
			}
		}
		rng.Shuffle(len(all), func(i, j int) { all[i], all[j] = all[j], all[i] })

		d, _ := base.Fork()
		d.actorSeqs()
		for i, c := range all {
			var err error
			if rng.IntN(2) == 0 {
				_, err = d.NewSyncState().Receive(syncMessageWith(c.Raw))
			} else {
				err = d.LoadIncremental(c.Raw)
			}
			if err != nil {
				t.Fatalf("seed %d: change %d of %d refused: %v", seed, i, len(all), err)
			}
			if d.seqs != nil {
				cached := maps.Clone(d.seqs)
				d.seqs = nil
				if fresh, _ := d.actorSeqs(); !maps.Equal(cached, fresh) {
					t.Fatalf("seed %d, after change %d: cache %v, history %v", seed, i, cached, fresh)
				}
			}
		}
		for _, c := range all {
			if !d.HasChange(c.Hash) {
				t.Fatalf("seed %d: change %s never applied", seed, c.Hash)
			}
		}
	}
}
