package generate

import (
	"context"
	"fmt"
	"net/http"
	"slices"
	"testing"
	"time"

	"github.com/casual-dev/casual/collab/client"
)

// BenchmarkOpToRemotePeer measures the time from an operation completing
// in the model's stream (the fake server sends the chunk holding its
// newline) to its arrival at another peer over WebSocket: SSE parsing,
// validation, apply, commit, sync to the server, fan-out, and the peer
// applying the sync message. Ops arrive in halves, as models split them.
// Each run carries at most opsPerRun ops, so the document size stays as
// in a real generation whatever b.N is.
func BenchmarkOpToRemotePeer(b *testing.B) {
	const opsPerRun = 200
	lines := make(chan string)
	fake := newFakeAI(b, func(_ int, w *sse, r *http.Request) {
		for {
			select {
			case l := <-lines:
				if l == "" {
					w.done()
					return
				}
				w.content(l)
			case <-r.Context().Done():
				return
			}
		}
	})
	cfg := fake.config()
	cfg.MaxOps = opsPerRun + 1
	env := startEnv(b, cfg, Options{})
	ctx, cancel := context.WithCancel(context.Background()) // b.N decides how long
	b.Cleanup(cancel)
	lat := make([]time.Duration, 0, b.N)
	var (
		run Run
		h   *client.Handle
	)
	b.ResetTimer()
	for i := range b.N {
		if i%opsPerRun == 0 {
			b.StopTimer()
			if h != nil {
				lines <- ""
				env.wait(ctx, run.ID)
			}
			run = env.start(ctx, Request{Prompt: "bench"})
			h = env.open(ctx, run.AppID)
			b.StartTimer()
		}
		id := fmt.Sprintf("c%d", i)
		line := fmt.Sprintf(`{"op":"create","id":%q,"type":"text","props":{"text":"item %d"}}`+"\n", id, i)
		lines <- line[:len(line)/2]
		lines <- line[len(line)/2:]
		start := time.Now() // the fake server has the completing chunk
		wctx, wcancel := context.WithTimeout(ctx, 20*time.Second)
		err := h.WaitFor(wctx, hasComponent(id))
		wcancel()
		if err != nil {
			b.Fatal(err)
		}
		lat = append(lat, time.Since(start))
	}
	b.StopTimer()
	lines <- ""
	env.wait(ctx, run.ID)
	slices.Sort(lat)
	ms := func(q float64) float64 { return float64(lat[int(q*float64(len(lat)-1))]) / float64(time.Millisecond) }
	b.ReportMetric(ms(0.50), "p50-ms")
	b.ReportMetric(ms(0.99), "p99-ms")
}
