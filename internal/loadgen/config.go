// Package loadgen is the engine of `casual bench`: it opens rooms of Go
// automerge-repo clients against a sync server, has writers send timed
// updates, and measures connection time, fan-out latency (send to visible in
// every other replica), acknowledged-write latency, throughput, the
// server's memory per connection, and convergence.
//
// Every client lives in this process and owns one goroutine (its reader);
// idle clients add nothing else, so ten thousand idle connections are cheap.
package loadgen

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/casual-dev/casual/collab/client"
)

// Defaults for Config fields left zero.
const (
	DefaultConnectConcurrency = 64
	DefaultTimeout            = time.Minute
)

// Config describes one benchmark run.
type Config struct {
	// URL is the server's sync endpoint, ws://host/sync; a comma-separated
	// list spreads the connections over several nodes round-robin.
	URL string
	// Dial, if set, opens transports instead of dialling URL (tests,
	// in-process servers).
	Dial func(ctx context.Context) (client.Transport, error)

	Rooms          int     // documents, each with its own clients
	ClientsPerRoom int     // connections per room
	WritersPerRoom int     // of those, how many write
	Updates        int     // updates per writer
	Rate           float64 // updates per second per writer; 0 = as fast as acks allow

	// LightReaders makes every client that does not write a light reader:
	// it speaks the protocol and answers sync messages from the change
	// headers alone, holding no document, so the load generator's CPU goes
	// to the server under test instead of to 50 replicas applying every
	// update. Writers (and each room's creator) stay full replicas, and
	// convergence is still checked (light readers compare change heads).
	LightReaders bool
	// Idle only connects the clients (each opens its room's document) and
	// holds them: no writes. For the idle-connection memory test.
	Idle bool
	// Hold keeps every connection open this long once all are up, before
	// the server's memory is sampled and writing starts.
	Hold time.Duration
	// ServerPID, if set, is the server process whose resident memory
	// (/proc/PID/status VmRSS) is sampled before connecting and once all
	// connections are up.
	ServerPID int
	// ConnectConcurrency bounds connections being opened at once.
	ConnectConcurrency int
	// Timeout bounds each waiting phase: connecting, fan-out after the
	// writers' schedule, convergence.
	Timeout time.Duration
	// Logger receives progress; default slog.Default().
	Logger *slog.Logger
}

// Validate reports the first problem with cfg, in flag terms.
func (cfg Config) Validate() error {
	var errs []error
	check := func(bad bool, format string, args ...any) {
		if bad {
			errs = append(errs, fmt.Errorf(format, args...))
		}
	}
	check(cfg.URL == "" && cfg.Dial == nil, "url: required (ws://host/sync)")
	check(cfg.Rooms < 1, "rooms: %d, want at least 1", cfg.Rooms)
	check(cfg.ClientsPerRoom < 1, "clients per room: %d, want at least 1", cfg.ClientsPerRoom)
	check(cfg.WritersPerRoom < 0 || cfg.WritersPerRoom > cfg.ClientsPerRoom,
		"writers per room: %d, want 0..%d (clients per room)", cfg.WritersPerRoom, cfg.ClientsPerRoom)
	check(cfg.Updates < 0, "updates: %d, want at least 0", cfg.Updates)
	check(cfg.Rate < 0, "rate: %v, want at least 0 (0 = unpaced)", cfg.Rate)
	check(cfg.Hold < 0, "hold: %v, want at least 0", cfg.Hold)
	check(cfg.ServerPID < 0, "server pid: %d", cfg.ServerPID)
	check(cfg.ConnectConcurrency < 0, "connect concurrency: %d, want at least 1", cfg.ConnectConcurrency)
	check(cfg.Timeout < 0, "timeout: %v, want at least 0", cfg.Timeout)
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("bench config: %w", err)
	}
	return nil
}

func (cfg Config) withDefaults() Config {
	if cfg.ConnectConcurrency == 0 {
		cfg.ConnectConcurrency = DefaultConnectConcurrency
	}
	if cfg.Timeout == 0 {
		cfg.Timeout = DefaultTimeout
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	return cfg
}
