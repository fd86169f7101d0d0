package execute_test

import (
	"errors"
	"fmt"
	"os"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/casual-dev/casual/collab/client"
	"github.com/casual-dev/casual/crdt"
	"github.com/casual-dev/casual/execute"
)

// TestThousandQueuedRunsCompleteOnBoundedInstances queues 1,000 runs over
// 20 apps at once; every run completes, while the engine never holds more
// instances than its concurrency bound and the heap stays small.
func TestThousandQueuedRunsCompleteOnBoundedInstances(t *testing.T) {
	if testing.Short() {
		t.Skip("load test")
	}
	const apps, perApp, maxConcurrent = 20, 50, 4
	cs := startServer(t)
	// A generous wall time: this test is about throughput and memory, and
	// runs under -race on busy machines.
	eng := newEngine(t, func(c *execute.Config) { c.MaxConcurrent, c.Warm, c.Limits.Timeout = maxConcurrent, 2, 10*time.Second })
	p := newPeer(t, cs, execute.PeerConfig{ID: "exec-1", Engine: eng})
	browser := newClient(t, cs, "browser")
	src := `export default ({input, state}) => ({output: input * 2, state: {total: (state.total ?? 0) + input}})`

	handles := make([]*client.Handle, apps)
	for i := range handles {
		handles[i] = newApp(t, browser, map[string]string{"double": src})
		if _, err := p.Watch(testCtx(t), handles[i].ID()); err != nil {
			t.Fatal(err)
		}
	}
	var before runtime.MemStats
	runtime.ReadMemStats(&before)
	// Each app gets its 50 runs in one change: all 1,000 are queued at once.
	var wg sync.WaitGroup
	for _, h := range handles {
		wg.Go(func() {
			err := h.Change(testCtx(t), "queue", func(d *crdt.Doc) error {
				for i := range perApp {
					if _, err := execute.QueueRun(d, execute.RunRequest{Handler: "double", Input: i + 1}); err != nil {
						return err
					}
				}
				return nil
			})
			if err != nil {
				t.Error(err)
			}
		})
	}
	wg.Wait()
	const want = perApp * (perApp + 1) / 2
	for _, h := range handles {
		err := h.WaitFor(testCtx(t), func(d *crdt.Doc) bool {
			v, _ := d.Get("state", "total")
			return v == int64(want)
		})
		if err != nil {
			t.Fatalf("app %s: total = %v, want %d; unfinished or failed runs: %v", h.ID(), stateOf(h, "total"), want, unsuccessful(h))
		}
	}
	if p.Ran() != apps*perApp {
		t.Errorf("ran %d runs, want %d", p.Ran(), apps*perApp)
	}
	st := eng.Stats()
	t.Logf("engine: %+v", st)
	if st.LiveHigh > maxConcurrent {
		t.Errorf("%d instances were live at once, want at most %d", st.LiveHigh, maxConcurrent)
	}
	var after runtime.MemStats
	runtime.ReadMemStats(&after)
	if grew := int64(after.HeapInuse) - int64(before.HeapInuse); grew > 512<<20 {
		t.Errorf("heap grew by %d MiB", grew>>20)
	}
	// The bound: 1,000 runs without exceeding 2 GiB resident. This
	// process holds the server, the executor, its wasm instances and the
	// clients, so its peak covers the server's.
	if peak, err := peakRSS(); err == nil {
		t.Logf("peak RSS of the whole test process: %d MiB", peak>>20)
		if peak > 2<<30 {
			t.Errorf("peak RSS %d MiB, over 2 GiB", peak>>20)
		}
	}
}

// peakRSS reads this process's peak resident set size (Linux VmHWM).
func peakRSS() (int64, error) {
	b, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return 0, err
	}
	for line := range strings.Lines(string(b)) {
		if rest, ok := strings.CutPrefix(line, "VmHWM:"); ok {
			kb, err := strconv.ParseInt(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(rest), "kB")), 10, 64)
			return kb << 10, err
		}
	}
	return 0, errors.New("no VmHWM in /proc/self/status")
}

// unsuccessful lists the runs of h that did not complete, with their status
// and error.
func unsuccessful(h *client.Handle) []string {
	var out []string
	h.Read(func(d *crdt.Doc) {
		ids, _ := d.Keys("runs")
		for _, id := range ids {
			st, _ := d.Get("runs", id, "status")
			if st != execute.StatusCompleted {
				e, _ := d.Get("runs", id, "error")
				out = append(out, fmt.Sprintf("%s: %v %v", id, st, e))
			}
		}
	})
	return out
}
