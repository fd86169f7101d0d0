package loadgen

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"time"
)

// Result is what one run measured.
type Result struct {
	Rooms, Clients, Writers int

	ConnectTime time.Duration // from the first dial until every client has its document

	Updates       int           // updates written and acknowledged
	FailedWriters int           // writers that stopped early (timeout, lost connection)
	WriteTime     time.Duration // from the first update until the last acknowledgement
	UpdatesPerSec float64       // Updates / WriteTime
	Fanout        Latency       // send → visible in another replica, per (update, replica)
	Missing       int           // (update, replica) pairs never seen before the timeout
	Ack           Latency       // Change → WaitAcked, per update

	// Server memory (bytes), when Config.ServerPID is set: before
	// connecting, once every connection is up (after Hold), and the growth
	// divided by the number of connections.
	RSSBefore, RSSAfter, RSSPerConn int64

	Converged bool // every replica of every room ended with identical heads
	Dropped   int  // clients whose connection ended during the run
}

// Run performs one benchmark and prints a human summary to out.
func Run(ctx context.Context, cfg Config, out io.Writer) (Result, error) {
	if err := cfg.Validate(); err != nil {
		return Result{}, err
	}
	cfg = cfg.withDefaults()
	res := Result{Rooms: cfg.Rooms, Clients: cfg.Rooms * cfg.ClientsPerRoom}
	if !cfg.Idle {
		res.Writers = cfg.Rooms * cfg.WritersPerRoom
	}
	var err error
	if cfg.ServerPID > 0 {
		if res.RSSBefore, err = readRSS(cfg.ServerPID); err != nil {
			return res, err
		}
	}
	b := newBench(cfg)
	defer b.closeAll()

	start := time.Now()
	if err := b.connect(ctx); err != nil {
		return res, err
	}
	res.ConnectTime = time.Since(start)
	cfg.Logger.Info("bench: connected", slog.Int("clients", res.Clients), slog.Duration("took", res.ConnectTime))

	if cfg.Hold > 0 {
		select {
		case <-time.After(cfg.Hold):
		case <-ctx.Done():
			return res, fmt.Errorf("bench: hold: %w", ctx.Err())
		}
	}
	if cfg.ServerPID > 0 {
		if res.RSSAfter, err = readRSS(cfg.ServerPID); err != nil {
			return res, err
		}
		res.RSSPerConn = (res.RSSAfter - res.RSSBefore) / int64(res.Clients)
	}
	if !cfg.Idle {
		if err := b.write(ctx, &res); err != nil {
			return res, err
		}
	}
	if res.Converged, err = b.converge(ctx); err != nil {
		return res, err
	}
	res.Dropped = b.dropped()
	report(out, cfg, res)
	return res, nil
}
