package storetest

import (
	"errors"
	"fmt"
	"sync"
	"testing"

	"github.com/casual-dev/casual/crdt"
	"github.com/casual-dev/casual/store"
)

var concurrencyTests = []contractTest{
	{"ConcurrentAppendsAcrossDocsAllLand", testConcurrentAppends},
	{"CompactRacingAppendsLosesNoChange", testCompactRacingAppends},
	{"AppendsRacingCloseAreStoredOrErrClosed", testAppendsRacingClose},
}

func testConcurrentAppends(t *testing.T, open Opener) {
	const goroutines, appends, docs = 16, 50, 8
	s, _ := open(t)
	var wg sync.WaitGroup
	for g := range goroutines {
		wg.Go(func() {
			for i := range appends {
				data := fmt.Appendf(nil, "g=%d i=%d", g, i)
				if _, err := s.Append(t.Context(), fmt.Sprintf("doc-%d", (g+i)%docs), data); err != nil {
					t.Errorf("goroutine %d append %d: %v", g, i, err)
					return
				}
			}
		})
	}
	wg.Wait()
	if t.Failed() {
		return
	}
	total := 0
	for d := range docs {
		doc := fmt.Sprintf("doc-%d", d)
		last := map[int]int{} // goroutine -> its last i seen in this doc
		for _, c := range mustLoad(t, s, doc) {
			var g, i int
			if _, err := fmt.Sscanf(string(c.Data), "g=%d i=%d", &g, &i); err != nil {
				t.Fatalf("%s holds a chunk nobody appended: %q", doc, c.Data)
			}
			if (g+i)%docs != d {
				t.Fatalf("chunk g=%d i=%d landed in %s", g, i, doc)
			}
			if prev, ok := last[g]; ok && prev >= i {
				t.Fatalf("%s: goroutine %d's append %d loads after its append %d", doc, g, prev, i)
			}
			last[g] = i
			total++
		}
	}
	if total != goroutines*appends {
		t.Fatalf("loaded %d chunks, appended %d", total, goroutines*appends)
	}
}

// testCompactRacingAppends: writers append changes to one document while a
// compactor keeps loading it, saving a snapshot and compacting what it
// loaded. Every change must survive.
func testCompactRacingAppends(t *testing.T, open Opener) {
	const writers, changes = 4, 25
	s, _ := open(t)
	first := make(chan struct{})
	var once sync.Once
	editors := make([]*editor, writers)
	var wg sync.WaitGroup
	for w := range writers {
		editors[w] = newEditor(fmt.Sprintf("w%d", w))
		wg.Go(func() {
			defer once.Do(func() { close(first) }) // even if it failed early
			for range changes {
				data, err := editors[w].tryChange()
				if err == nil {
					_, err = s.Append(t.Context(), "doc", data)
				}
				if err != nil {
					t.Errorf("writer %d: %v", w, err)
					return
				}
				once.Do(func() { close(first) })
			}
		})
	}
	writersDone := make(chan struct{})
	go func() { wg.Wait(); close(writersDone) }()
	defer func() { <-writersDone }() // also when a check below fails

	<-first
	compactions := 0
	for done := false; !done; {
		select {
		case <-writersDone:
			done = true // one last compaction after every append returned
		default:
		}
		chunks := mustLoad(t, s, "doc")
		d, err := crdt.Load(store.Concat(chunks))
		if err != nil {
			t.Fatalf("compaction %d: load: %v", compactions, err)
		}
		mustCompact(t, s, "doc", d.Save(), refs(chunks))
		compactions++
	}
	if t.Failed() {
		return
	}
	got := mustLoad(t, s, "doc")
	if len(got) != 1 || got[0].Kind != store.Snapshot {
		t.Fatalf("after the last compaction: %v, want one snapshot", refs(got))
	}
	d, err := crdt.Load(store.Concat(got))
	if err != nil {
		t.Fatalf("load: %v", err)
	}
	for w, e := range editors {
		if v, err := d.Get(e.key); err != nil || v != int64(changes) {
			t.Errorf("writer %d's key = %v, %v; want %d (after %d compactions)", w, v, err, changes, compactions)
		}
		for _, h := range e.doc.Heads() {
			if !d.HasChange(h) {
				t.Errorf("writer %d's head %s is missing", w, h)
			}
		}
	}
}

// testAppendsRacingClose: appends that Close interrupts either succeed, and
// are then stored, or fail with ErrClosed.
func testAppendsRacingClose(t *testing.T, open Opener) {
	const goroutines, warmup, limit = 8, 5, 10_000
	s, reopen := open(t)
	acked := make([][]store.ChunkRef, goroutines)
	var warm, wg sync.WaitGroup
	warm.Add(goroutines)
	for g := range goroutines {
		wg.Go(func() {
			defer func() {
				if len(acked[g]) < warmup {
					warm.Done() // stopped early: do not hang the test
				}
			}()
			for i := range limit {
				ref, err := s.Append(t.Context(), fmt.Sprintf("doc-%d", g), fmt.Appendf(nil, "g=%d i=%d", g, i))
				if err != nil {
					if !errors.Is(err, store.ErrClosed) {
						t.Errorf("goroutine %d: Append during Close: %v, want ErrClosed", g, err)
					}
					return
				}
				acked[g] = append(acked[g], ref)
				if len(acked[g]) == warmup {
					warm.Done()
				}
			}
		})
	}
	defer wg.Wait() // also when a check below fails
	warm.Wait()
	if err := s.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	wg.Wait()

	s = reopen()
	for g, want := range acked {
		got := refs(mustLoad(t, s, fmt.Sprintf("doc-%d", g)))
		// An Append interrupted by Close may have been stored; no other.
		if len(got) < len(want) || len(got) > len(want)+1 {
			t.Fatalf("goroutine %d: %d chunks stored, %d acknowledged", g, len(got), len(want))
		}
		for i := range want {
			if got[i] != want[i] {
				t.Fatalf("goroutine %d: chunk %d = %+v, acknowledged %+v", g, i, got[i], want[i])
			}
		}
	}
}
