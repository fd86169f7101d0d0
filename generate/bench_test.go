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
// in the model's stream (the fake server sends the chunk that completes
// it) to its arrival at another peer over WebSocket: SSE parsing,
// validation, apply, commit, sync to the server, fan-out, and the peer
// applying the sync message. Ops arrive in halves, as models split them:
// as JSON lines, or as tool calls (each call's arguments in two deltas).
// Each run carries at most opsPerRun ops, so the document size stays as
// in a real generation whatever b.N is.
func BenchmarkOpToRemotePeer(b *testing.B) {
	b.Run("lines", func(b *testing.B) {
		benchOpToRemotePeer(b, func(w *sse, i int, id string) {
			line := fmt.Sprintf(`{"op":"create","id":%q,"type":"text","props":{"text":"item %d"}}`+"\n", id, i)
			w.content(line[:len(line)/2])
			w.content(line[len(line)/2:])
		})
	})
	b.Run("toolcalls", func(b *testing.B) {
		benchOpToRemotePeer(b, func(w *sse, i int, id string) {
			args := fmt.Sprintf(`{"id":%q,"type":"text","props":{"text":"item %d"}}`, id, i)
			w.toolCall(i, "call_"+id, "create", args[:len(args)/2])
			w.toolCall(i, "", "", args[len(args)/2:])
		})
	})
}

func benchOpToRemotePeer(b *testing.B, send func(w *sse, i int, id string)) {
	const opsPerRun = 200
	sends := make(chan func(*sse)) // nil ends the stream
	fake := newFakeAI(b, func(_ int, w *sse, r *http.Request) {
		for {
			select {
			case f := <-sends:
				if f == nil {
					w.done()
					return
				}
				f(w)
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
				sends <- nil
				env.wait(ctx, run.ID)
			}
			run = env.start(ctx, Request{Prompt: "bench"})
			h = env.open(ctx, run.AppID)
			b.StartTimer()
		}
		id := fmt.Sprintf("c%d", i)
		var start time.Time
		sends <- func(w *sse) {
			send(w, i, id)
			start = time.Now() // the fake server sent the completing chunk
		}
		sends <- func(*sse) {} // returns once the send above finished: start is set
		wctx, wcancel := context.WithTimeout(ctx, 20*time.Second)
		err := h.WaitFor(wctx, hasComponent(id))
		wcancel()
		if err != nil {
			b.Fatal(err)
		}
		lat = append(lat, time.Since(start))
	}
	b.StopTimer()
	sends <- nil
	env.wait(ctx, run.ID)
	slices.Sort(lat)
	ms := func(q float64) float64 { return float64(lat[int(q*float64(len(lat)-1))]) / float64(time.Millisecond) }
	b.ReportMetric(ms(0.50), "p50-ms")
	b.ReportMetric(ms(0.99), "p99-ms")
}
