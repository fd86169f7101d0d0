package loadgen

import (
	"bytes"
	"context"
	"log/slog"
	"net/http/httptest"
	"os"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/casual-dev/casual/collab/client"
	"github.com/casual-dev/casual/collab/client/clienttest"
	"github.com/casual-dev/casual/crdt"
)

const testTimeout = 30 * time.Second

func quiet() *slog.Logger {
	return slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
}

// tinyRun is the smallest run that exercises every measurement.
func tinyRun() Config {
	return Config{Rooms: 2, ClientsPerRoom: 3, WritersPerRoom: 1, Updates: 10, Rate: 200,
		Timeout: testTimeout, Logger: quiet()}
}

func TestRunTinyBenchmark(t *testing.T) {
	tests := []struct {
		name  string
		setup func(t *testing.T, cfg *Config)
	}{
		{"reference server", func(t *testing.T, cfg *Config) {
			cfg.URL, cfg.ServerPID = clienttest.NodeServer(t)
		}},
		{"relay over websocket", func(t *testing.T, cfg *Config) {
			r := clienttest.NewRelay()
			srv := httptest.NewServer(r)
			t.Cleanup(func() {
				r.Close()
				srv.Close()
			})
			cfg.URL = "ws" + strings.TrimPrefix(srv.URL, "http") + "/sync"
		}},
		{"light readers, reference server", func(t *testing.T, cfg *Config) {
			cfg.URL, cfg.ServerPID = clienttest.NodeServer(t)
			cfg.LightReaders, cfg.ClientsPerRoom = true, 4
		}},
		{"light readers, relay, two writers unpaced", func(t *testing.T, cfg *Config) {
			r := clienttest.NewRelay()
			t.Cleanup(r.Close)
			cfg.Dial = func(context.Context) (client.Transport, error) { return r.Connect(), nil }
			cfg.LightReaders, cfg.ClientsPerRoom, cfg.WritersPerRoom, cfg.Rate = true, 5, 2, 0
		}},
		{"relay over pipes, two writers unpaced", func(t *testing.T, cfg *Config) {
			r := clienttest.NewRelay()
			t.Cleanup(r.Close)
			cfg.Dial = func(context.Context) (client.Transport, error) { return r.Connect(), nil }
			cfg.WritersPerRoom, cfg.Rate = 2, 0
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := tinyRun()
			tt.setup(t, &cfg)
			var out bytes.Buffer
			res, err := Run(context.Background(), cfg, &out)
			t.Logf("\n%s", out.String())
			if err != nil {
				t.Fatal(err)
			}
			w, c, u := cfg.WritersPerRoom, cfg.ClientsPerRoom, cfg.Updates
			wantUpdates := cfg.Rooms * w * u
			// every update is seen by every other client of its room
			wantSeen := cfg.Rooms * w * u * (c - 1)
			switch {
			case !res.Converged:
				t.Error("replicas did not converge")
			case res.Updates != wantUpdates || res.Ack.N != wantUpdates:
				t.Errorf("updates %d, acks %d, want %d", res.Updates, res.Ack.N, wantUpdates)
			case res.Fanout.N != wantSeen || res.Missing != 0:
				t.Errorf("fan-out samples %d (missing %d), want %d", res.Fanout.N, res.Missing, wantSeen)
			case res.Fanout.P50 <= 0 || res.Fanout.Max < res.Fanout.P99 || res.Ack.P99 < res.Ack.P50:
				t.Errorf("implausible latencies %+v %+v", res.Fanout, res.Ack)
			case res.Clients != cfg.Rooms*c || res.ConnectTime <= 0 || res.UpdatesPerSec <= 0 || res.Dropped != 0:
				t.Errorf("result %+v", res)
			case cfg.ServerPID > 0 && (res.RSSBefore <= 0 || res.RSSAfter <= 0):
				t.Errorf("server rss %d → %d", res.RSSBefore, res.RSSAfter)
			case !strings.Contains(out.String(), "fan-out") || !regexp.MustCompile(`converged +true`).MatchString(out.String()):
				t.Errorf("report lacks rows:\n%s", out.String())
			}
		})
	}
}

func TestRunIdleHoldsConnectionsAndSamplesMemory(t *testing.T) {
	r := clienttest.NewRelay()
	t.Cleanup(r.Close)
	cfg := Config{Rooms: 3, ClientsPerRoom: 20, Idle: true, Hold: time.Millisecond,
		ServerPID: os.Getpid(), // the relay runs in this process
		Dial:      func(context.Context) (client.Transport, error) { return r.Connect(), nil },
		Timeout:   testTimeout, Logger: quiet()}
	var out bytes.Buffer
	res, err := Run(context.Background(), cfg, &out)
	if err != nil {
		t.Fatal(err)
	}
	if !res.Converged || res.Clients != 60 || res.Updates != 0 || res.RSSAfter <= 0 {
		t.Fatalf("result %+v\n%s", res, out.String())
	}
	if !strings.Contains(out.String(), "server rss") || strings.Contains(out.String(), "fan-out") {
		t.Fatalf("idle report:\n%s", out.String())
	}
}

func TestRunFailsWhenServerIsUnreachable(t *testing.T) {
	cfg := tinyRun()
	cfg.URL = "ws://127.0.0.1:1/sync"
	if _, err := Run(context.Background(), cfg, &bytes.Buffer{}); err == nil ||
		!strings.Contains(err.Error(), "bench-r") {
		t.Fatalf("Run against nothing = %v, want a dial error naming the client", err)
	}
}

func TestConfigValidate(t *testing.T) {
	tests := []struct {
		name    string
		edit    func(*Config)
		wantErr string
	}{
		{"ok", func(*Config) {}, ""},
		{"no url", func(c *Config) { c.URL = "" }, "url: required"},
		{"no rooms", func(c *Config) { c.Rooms = 0 }, "rooms: 0"},
		{"more writers than clients", func(c *Config) { c.WritersPerRoom = 4 }, "writers per room: 4"},
		{"negative rate", func(c *Config) { c.Rate = -1 }, "rate: -1"},
		{"negative updates", func(c *Config) { c.Updates = -1 }, "updates: -1"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := tinyRun()
			cfg.URL = "ws://x/sync"
			tt.edit(&cfg)
			err := cfg.Validate()
			if tt.wantErr == "" && err != nil || tt.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tt.wantErr)) {
				t.Fatalf("Validate = %v, want %q", err, tt.wantErr)
			}
		})
	}
}

func TestSummarize(t *testing.T) {
	ms := func(ns ...int) []time.Duration {
		out := make([]time.Duration, len(ns))
		for i, n := range ns {
			out[i] = time.Duration(n) * time.Millisecond
		}
		return out
	}
	hundred := make([]int, 100)
	for i := range hundred {
		hundred[i] = 100 - i // reversed: summarize sorts
	}
	tests := []struct {
		name string
		in   []time.Duration
		want Latency
	}{
		{"empty", nil, Latency{}},
		{"one", ms(7), Latency{N: 1, P50: 7 * time.Millisecond, P95: 7 * time.Millisecond, P99: 7 * time.Millisecond, Max: 7 * time.Millisecond}},
		{"hundred", ms(hundred...), Latency{N: 100, P50: 50 * time.Millisecond, P95: 95 * time.Millisecond, P99: 99 * time.Millisecond, Max: 100 * time.Millisecond}},
		{"two", ms(1, 2), Latency{N: 2, P50: time.Millisecond, P95: 2 * time.Millisecond, P99: 2 * time.Millisecond, Max: 2 * time.Millisecond}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := summarize(tt.in); got != tt.want {
				t.Fatalf("summarize = %+v, want %+v", got, tt.want)
			}
		})
	}
}

func TestReadRSSOfThisProcess(t *testing.T) {
	n, err := readRSS(os.Getpid())
	if err != nil || n < 1<<20 {
		t.Fatalf("readRSS = %d, %v", n, err)
	}
	if _, err := readRSS(1 << 30); err == nil {
		t.Fatal("readRSS of a missing process succeeded")
	}
}

func TestTrackerCountsEachOtherWritersUpdateOnce(t *testing.T) {
	d := crdt.New()
	put := func(w, seq int) {
		t.Helper()
		if err := d.Set([]any{updateKey(w, seq)}, time.Now().UnixNano()); err != nil {
			t.Fatal(err)
		}
		if _, _, err := d.Commit(""); err != nil {
			t.Fatal(err)
		}
	}
	// Writers 0..2 with 2 updates each, seen from client 1 (itself a writer).
	tr := newTracker(1, 3, 2)
	steps := []struct {
		add       [][2]int // (writer, seq) made visible before the scan
		done      bool
		seen      int
		remaining int
	}{
		{nil, false, 0, 4},
		{[][2]int{{0, 0}, {1, 0}, {1, 1}}, false, 1, 3}, // own updates are not counted
		{[][2]int{{2, 1}}, false, 1, 3},                 // out of order: waits for seq 0
		{[][2]int{{2, 0}}, false, 3, 1},
		{nil, false, 3, 1}, // a rescan counts nothing twice
		{[][2]int{{0, 1}}, true, 4, 0},
	}
	for i, st := range steps {
		for _, a := range st.add {
			put(a[0], a[1])
		}
		if done := tr.scan(d); done != st.done || len(tr.lat) != st.seen || tr.remaining != st.remaining {
			t.Fatalf("step %d: done %v seen %d remaining %d, want %v %d %d",
				i, done, len(tr.lat), tr.remaining, st.done, st.seen, st.remaining)
		}
	}
}
