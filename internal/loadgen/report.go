package loadgen

import (
	"fmt"
	"io"
	"text/tabwriter"
	"time"
)

// report prints res as a table.
func report(out io.Writer, cfg Config, res Result) {
	tw := tabwriter.NewWriter(out, 0, 0, 2, ' ', 0)
	mode := fmt.Sprintf("%d writers/room, %d updates/writer", cfg.WritersPerRoom, cfg.Updates)
	if cfg.Rate > 0 {
		mode += fmt.Sprintf(" at %g/s", cfg.Rate)
	}
	if cfg.Idle {
		mode = "idle"
	}
	fmt.Fprintf(tw, "rooms\t%d × %d clients (%s)\n", res.Rooms, cfg.ClientsPerRoom, mode)
	fmt.Fprintf(tw, "connect\t%v for %d clients\n", round(res.ConnectTime), res.Clients)
	if cfg.ServerPID > 0 {
		fmt.Fprintf(tw, "server rss\t%s before, %s with all connected, %s per connection\n",
			size(res.RSSBefore), size(res.RSSAfter), size(res.RSSPerConn))
	}
	if !cfg.Idle {
		fmt.Fprintf(tw, "updates\t%d in %v (%.1f/s)\n", res.Updates, round(res.WriteTime), res.UpdatesPerSec)
		fmt.Fprintf(tw, "fan-out\t%s, %d missing\n", latency(res.Fanout), res.Missing)
		fmt.Fprintf(tw, "ack\t%s\n", latency(res.Ack))
		if res.FailedWriters > 0 {
			fmt.Fprintf(tw, "failed\t%d writers stopped before their last update was acknowledged\n", res.FailedWriters)
		}
	}
	fmt.Fprintf(tw, "converged\t%v\n", res.Converged)
	if res.Dropped > 0 {
		fmt.Fprintf(tw, "dropped\t%d connections ended early\n", res.Dropped)
	}
	tw.Flush()
}

func latency(l Latency) string {
	if l.N == 0 {
		return "n=0"
	}
	return fmt.Sprintf("n=%d p50=%v p95=%v p99=%v max=%v", l.N, round(l.P50), round(l.P95), round(l.P99), round(l.Max))
}

func round(d time.Duration) time.Duration {
	switch {
	case d >= time.Second:
		return d.Round(time.Millisecond)
	case d >= time.Millisecond:
		return d.Round(10 * time.Microsecond)
	}
	return d.Round(time.Microsecond)
}

func size(n int64) string {
	switch {
	case n >= 1<<30 || n <= -1<<30:
		return fmt.Sprintf("%.2f GiB", float64(n)/(1<<30))
	case n >= 1<<20 || n <= -1<<20:
		return fmt.Sprintf("%.1f MiB", float64(n)/(1<<20))
	case n >= 1<<10 || n <= -1<<10:
		return fmt.Sprintf("%.1f KiB", float64(n)/(1<<10))
	}
	return fmt.Sprintf("%d B", n)
}
