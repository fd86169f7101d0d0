package embedded_test

import (
	"encoding/binary"
	"fmt"
	"os"
	"sync/atomic"
	"testing"
	"time"

	"github.com/casual-dev/casual/crdt"
	"github.com/casual-dev/casual/store"
	"github.com/casual-dev/casual/store/embedded"
)

// BenchmarkAppendParallel appends small unique chunks from many goroutines
// across 16 documents, as a server persisting many busy rooms does, and
// reports how many appends each synced write-ahead-log group carried.
func BenchmarkAppendParallel(b *testing.B) {
	var commits, appends atomic.Int64
	s := openStore(b, b.TempDir(), embedded.Options{Observe: func(op string, n int, _ time.Duration) {
		if op == "wal" {
			commits.Add(1)
			appends.Add(int64(n))
		}
	}})
	var workers atomic.Int64
	b.SetParallelism(16) // 16 × GOMAXPROCS appenders
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		w := workers.Add(1)
		doc := fmt.Sprintf("doc-%d", w%16)
		chunk := make([]byte, 64) // Append copies, so one buffer will do
		binary.BigEndian.PutUint64(chunk, uint64(w))
		for i := uint64(0); pb.Next(); i++ {
			binary.BigEndian.PutUint64(chunk[8:], i)
			if _, err := s.Append(b.Context(), doc, chunk); err != nil {
				b.Error(err)
				return
			}
		}
	})
	b.StopTimer()
	if c := commits.Load(); c > 0 {
		b.ReportMetric(float64(c)/float64(b.N), "syncs/op")
		b.ReportMetric(float64(appends.Load())/float64(c), "appends/sync")
	}
}

// BenchmarkLoad1MB loads a document of about 1 MB holding 100k changes,
// stored as one snapshot: Store reads the chunks only, StoreAndCRDT also
// decodes them with crdt.Load, as a room does when it opens a document.
func BenchmarkLoad1MB(b *testing.B) {
	const changes = 100_000
	snap := buildDoc(b, changes)
	if out := os.Getenv("CASUAL_BENCH_DOC_OUT"); out != "" { // for js/bench/coldload.mjs
		if err := os.WriteFile(out, snap, 0o644); err != nil {
			b.Fatal(err)
		}
	}
	s := openStore(b, b.TempDir(), embedded.Options{})
	if _, err := s.Compact(b.Context(), "doc", snap, nil); err != nil {
		b.Fatal(err)
	}
	load := func(b *testing.B) []store.Chunk {
		chunks, err := s.Load(b.Context(), "doc")
		if err != nil {
			b.Fatal(err)
		}
		return chunks
	}
	b.Run("Store", func(b *testing.B) {
		b.SetBytes(int64(len(snap)))
		for b.Loop() {
			load(b)
		}
	})
	b.Run("StoreAndCRDT", func(b *testing.B) {
		b.SetBytes(int64(len(snap)))
		for b.Loop() {
			if _, err := crdt.Load(store.Concat(load(b))); err != nil {
				b.Fatal(err)
			}
		}
	})
}

// buildDoc makes a document of n small commits, each setting a new key of
// one map, and returns it saved.
func buildDoc(b *testing.B, n int) []byte {
	b.Helper()
	start := time.Now()
	d := crdt.New()
	for i := range n {
		// A scrambled value so the saved document does not compress to
		// nothing: about 11 bytes per change.
		v := fmt.Sprintf("%016x", uint64(i)*0x9e3779b97f4a7c15)
		if err := d.Set([]any{"keys", fmt.Sprintf("k%06d", i)}, v); err != nil {
			b.Fatal(err)
		}
		if _, _, err := d.Commit(""); err != nil {
			b.Fatal(err)
		}
	}
	snap := d.Save()
	b.Logf("built %d changes, %d bytes saved, in %v", n, len(snap), time.Since(start).Round(time.Millisecond))
	return snap
}
