package execute_test

import (
	"context"
	"slices"
	"testing"
	"time"

	"github.com/casual-dev/casual/execute"
)

// reportPercentiles adds p50 and p99 of the samples, in ms, to b's result.
func reportPercentiles(b *testing.B, samples []time.Duration) {
	if len(samples) == 0 {
		return
	}
	slices.Sort(samples)
	at := func(q float64) float64 {
		return float64(samples[int(q*float64(len(samples)-1))]) / float64(time.Millisecond)
	}
	b.ReportMetric(at(0.50), "p50-ms")
	b.ReportMetric(at(0.99), "p99-ms")
}

// BenchmarkWarmTrivialHandler: one JavaScript run on a warm instance, as
// Engine.Run sees it (request encoding, the run in a fresh JS context,
// answer decoding). "idle" leaves the instance time between runs to build
// its next context, as between clicks; "back-to-back" puts that on the
// critical path, as under sustained load, with one instance; "pool of 4"
// is back to back on the default pool (2 × GOMAXPROCS warm instances),
// which hands each run the instance idle longest, so its context is
// usually built.
func BenchmarkWarmTrivialHandler(b *testing.B) {
	for _, bc := range []struct {
		name      string
		pause     time.Duration
		instances int
	}{{"idle", 5 * time.Millisecond, 1}, {"back-to-back", 0, 1}, {"pool of 4", 0, 4}} {
		b.Run(bc.name, func(b *testing.B) {
			e := newEngine(b, func(c *execute.Config) { c.Warm, c.MaxConcurrent = bc.instances, bc.instances })
			ctx := context.Background()
			job := execute.Job{Lang: "js", Source: `export default ({input}) => ({output: input + 1})`, Input: 1}
			samples := make([]time.Duration, 0, b.N)
			b.ReportAllocs()
			for b.Loop() {
				if bc.pause > 0 {
					b.StopTimer()
					time.Sleep(bc.pause)
					b.StartTimer()
				}
				start := time.Now()
				if _, err := e.Run(ctx, job); err != nil {
					b.Fatal(err)
				}
				samples = append(samples, time.Since(start))
			}
			reportPercentiles(b, samples)
		})
	}
}

// BenchmarkColdStart: a new engine (compiled code from the on-disk cache,
// one instance started) and its first run, as after a server restart.
func BenchmarkColdStart(b *testing.B) {
	wasm := quickJS(b)
	dir := b.TempDir()
	ctx := context.Background()
	cfg := execute.Config{QuickJS: wasm, CacheDir: dir, Warm: 1, MaxConcurrent: 1}
	warm, err := execute.New(ctx, cfg) // fills the cache
	if err != nil {
		b.Fatal(err)
	}
	warm.Close(ctx)
	job := execute.Job{Lang: "js", Source: `export default () => ({output: 1})`}
	samples := make([]time.Duration, 0, b.N)
	for b.Loop() {
		start := time.Now()
		e, err := execute.New(ctx, cfg)
		if err != nil {
			b.Fatal(err)
		}
		if _, err := e.Run(ctx, job); err != nil {
			b.Fatal(err)
		}
		samples = append(samples, time.Since(start))
		b.StopTimer()
		e.Close(ctx)
		b.StartTimer()
	}
	reportPercentiles(b, samples)
}

// BenchmarkQueuedToVisible: a browser queues a run in the document; the time
// until another peer sees it completed, through the sync server, the
// executor peer and the store.
func BenchmarkQueuedToVisible(b *testing.B) {
	cs := startServer(b)
	p := newPeer(b, cs, execute.PeerConfig{ID: "exec-1", KeepRuns: 20})
	alice := newClient(b, cs, "alice")
	h := newApp(b, alice, map[string]string{"inc": `export default ({state}) => ({state: {n: (state.n ?? 0) + 1}})`})
	bob := newClient(b, cs, "bob")
	hb, err := bob.Find(testCtx(b), h.ID())
	if err != nil {
		b.Fatal(err)
	}
	if _, err := p.Watch(testCtx(b), h.ID()); err != nil {
		b.Fatal(err)
	}
	samples := make([]time.Duration, 0, b.N)
	for b.Loop() {
		start := time.Now()
		id := queue(b, h, "inc", nil)
		waitRun(b, hb, id)
		samples = append(samples, time.Since(start))
	}
	reportPercentiles(b, samples)
}
