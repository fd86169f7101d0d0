package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"time"

	"github.com/casual-dev/casual/internal/loadgen"
)

// bench runs the protocol load generator (internal/loadgen) against any
// server that speaks automerge-repo: ours, or the Node reference server.
func bench(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("bench", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var cfg loadgen.Config
	fs.StringVar(&cfg.URL, "url", "ws://127.0.0.1:8080/sync", "server sync endpoint; comma-separated for a cluster (connections spread round-robin)")
	fs.IntVar(&cfg.Rooms, "rooms", 1, "documents (R)")
	fs.IntVar(&cfg.ClientsPerRoom, "clients", 10, "connections per room (C)")
	fs.IntVar(&cfg.WritersPerRoom, "writers", 1, "writers per room (W)")
	fs.IntVar(&cfg.Updates, "updates", 100, "updates per writer (U)")
	fs.Float64Var(&cfg.Rate, "rate", 10, "updates per second per writer (0 = as fast as acks allow)")
	fs.BoolVar(&cfg.LightReaders, "light-readers", false, "clients that do not write hold no document: they answer sync from change headers (measures the server, not the clients)")
	fs.BoolVar(&cfg.Idle, "idle", false, "only connect and hold (idle-connection memory)")
	fs.DurationVar(&cfg.Hold, "hold", 0, "hold all connections this long before measuring/writing")
	fs.IntVar(&cfg.ServerPID, "pid", 0, "server PID: report its RSS before and after connecting")
	fs.IntVar(&cfg.ConnectConcurrency, "connect-concurrency", 64, "connections opened at once")
	fs.DurationVar(&cfg.Timeout, "timeout", 2*time.Minute, "bound on each waiting phase")
	verbose := fs.Bool("v", false, "log progress")
	if err := fs.Parse(args); err != nil {
		return err
	}
	level := slog.LevelWarn
	if *verbose {
		level = slog.LevelInfo
	}
	cfg.Logger = slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: level}))
	if err := cfg.Validate(); err != nil {
		return fmt.Errorf("bench: %w", err)
	}
	res, err := loadgen.Run(ctx, cfg, stdout)
	if err != nil {
		return fmt.Errorf("bench: %w", err)
	}
	if !cfg.Idle && !res.Converged {
		return fmt.Errorf("bench: replicas did not converge")
	}
	return nil
}
