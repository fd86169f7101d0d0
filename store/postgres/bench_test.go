package postgres_test

import (
	"encoding/binary"
	"fmt"
	"sync/atomic"
	"testing"
	"time"

	"github.com/casual-dev/casual/store/postgres"
)

// BenchmarkAppendParallel appends small unique chunks from many goroutines
// across 16 documents, as a node persisting many busy rooms does, and
// reports how many appends each committed transaction carried.
func BenchmarkAppendParallel(b *testing.B) {
	var commits, appends atomic.Int64
	_, dsn := newSchema(b)
	s := openStore(b, dsn, postgres.Options{AutoMigrate: true, Observe: func(op string, n int, _ time.Duration) {
		if op == "commit" {
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
		b.ReportMetric(float64(c)/float64(b.N), "commits/op")
		b.ReportMetric(float64(appends.Load())/float64(c), "appends/commit")
	}
}
