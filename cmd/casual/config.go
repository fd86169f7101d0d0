package main

import (
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"net"
	"os"
	"strconv"
	"strings"
	"time"
)

// Config is every setting of `casual serve`. Each field has a flag and a
// CASUAL_* environment variable; a flag wins over the variable.
type Config struct {
	Addr            string
	DataDir         string
	Store           string
	AutoMigrate     bool
	LogLevel        slog.Level
	PeerID          string
	IdleUnload      time.Duration
	MaxFrameBytes   int64
	MaxDocBytes     int64
	MaxDocsPerConn  int
	RatePerSec      float64
	RateBurst       int
	SendQueue       int
	PingInterval    time.Duration
	PresenceTTL     time.Duration
	ShutdownTimeout time.Duration
}

// setting describes one configuration field for flags, env and the README.
type setting struct {
	name, env, def, help string
	set                  func(c *Config, v string) error
}

func settings() []setting {
	return []setting{
		{"addr", "CASUAL_ADDR", "127.0.0.1:8080", "HTTP listen address", func(c *Config, v string) error {
			if _, _, err := net.SplitHostPort(v); err != nil {
				return err
			}
			c.Addr = v
			return nil
		}},
		{"data-dir", "CASUAL_DATA_DIR", "./data", "directory of the embedded store", func(c *Config, v string) error {
			c.DataDir = v
			return nil
		}},
		{"store", "CASUAL_STORE", "embedded", "document store: embedded, or a postgres:// URL", func(c *Config, v string) error {
			if v != "embedded" && !strings.HasPrefix(v, "postgres://") && !strings.HasPrefix(v, "postgresql://") {
				return fmt.Errorf("unknown store %q (use embedded or postgres://user@host:5432/db)", v)
			}
			c.Store = v
			return nil
		}},
		{"migrate", "CASUAL_MIGRATE", "true", "apply database migrations at start (postgres store)", func(c *Config, v string) error {
			b, err := strconv.ParseBool(v)
			c.AutoMigrate = b
			return err
		}},
		{"log-level", "CASUAL_LOG_LEVEL", "info", "debug, info, warn or error", func(c *Config, v string) error {
			return c.LogLevel.UnmarshalText([]byte(v))
		}},
		{"peer-id", "CASUAL_PEER_ID", "", "server peerId in the protocol (default casual-<hostname>)", func(c *Config, v string) error {
			c.PeerID = v
			return nil
		}},
		{"idle-unload", "CASUAL_IDLE_UNLOAD", "30s", "unload a document this long after its last peer left", dur(func(c *Config) *time.Duration { return &c.IdleUnload })},
		{"max-frame-bytes", "CASUAL_MAX_FRAME_BYTES", "67108864", "largest accepted frame", i64(func(c *Config) *int64 { return &c.MaxFrameBytes })},
		{"max-doc-bytes", "CASUAL_MAX_DOC_BYTES", "67108864", "largest stored document; changes past it are refused", i64(func(c *Config) *int64 { return &c.MaxDocBytes })},
		{"max-docs-per-conn", "CASUAL_MAX_DOCS_PER_CONN", "1000", "documents one connection may sync", intv(func(c *Config) *int { return &c.MaxDocsPerConn })},
		{"rate", "CASUAL_RATE", "1000", "messages per second per connection (sustained)", func(c *Config, v string) error {
			f, err := strconv.ParseFloat(v, 64)
			if err != nil || f <= 0 {
				return errors.New("want a positive number")
			}
			c.RatePerSec = f
			return nil
		}},
		{"rate-burst", "CASUAL_RATE_BURST", "5000", "message burst per connection", intv(func(c *Config) *int { return &c.RateBurst })},
		{"send-queue", "CASUAL_SEND_QUEUE", "1024", "messages queued for one peer before it is dropped as too slow", intv(func(c *Config) *int { return &c.SendQueue })},
		{"ping-interval", "CASUAL_PING_INTERVAL", "20s", "WebSocket ping interval; silent peers are dropped after 2.5 intervals", dur(func(c *Config) *time.Duration { return &c.PingInterval })},
		{"presence-ttl", "CASUAL_PRESENCE_TTL", "45s", "forget a peer's presence this long after its last update", dur(func(c *Config) *time.Duration { return &c.PresenceTTL })},
		{"shutdown-timeout", "CASUAL_SHUTDOWN_TIMEOUT", "30s", "how long a graceful shutdown may take", dur(func(c *Config) *time.Duration { return &c.ShutdownTimeout })},
	}
}

func dur(f func(*Config) *time.Duration) func(*Config, string) error {
	return func(c *Config, v string) error {
		d, err := time.ParseDuration(v)
		if err != nil || d <= 0 {
			return errors.New("want a positive duration like 30s")
		}
		*f(c) = d
		return nil
	}
}

func i64(f func(*Config) *int64) func(*Config, string) error {
	return func(c *Config, v string) error {
		n, err := strconv.ParseInt(v, 10, 64)
		if err != nil || n <= 0 {
			return errors.New("want a positive integer")
		}
		*f(c) = n
		return nil
	}
}

func intv(f func(*Config) *int) func(*Config, string) error {
	return func(c *Config, v string) error {
		n, err := strconv.Atoi(v)
		if err != nil || n <= 0 {
			return errors.New("want a positive integer")
		}
		*f(c) = n
		return nil
	}
}

// loadConfig fills a Config from defaults, then the environment, then args.
func loadConfig(args []string, getenv func(string) string) (Config, error) {
	var c Config
	fs := flag.NewFlagSet("serve", flag.ContinueOnError)
	vals := map[string]*string{}
	for _, s := range settings() {
		v := s.def
		if e := getenv(s.env); e != "" {
			v = e
		}
		vals[s.name] = fs.String(s.name, v, fmt.Sprintf("%s (env %s)", s.help, s.env))
	}
	if err := fs.Parse(args); err != nil {
		return c, err
	}
	if fs.NArg() > 0 {
		return c, fmt.Errorf("unexpected arguments: %s", strings.Join(fs.Args(), " "))
	}
	var errs []error
	for _, s := range settings() {
		if err := s.set(&c, *vals[s.name]); err != nil {
			errs = append(errs, fmt.Errorf("--%s / %s = %q: %w", s.name, s.env, *vals[s.name], err))
		}
	}
	if c.PeerID == "" {
		host, _ := os.Hostname()
		c.PeerID = "casual-" + host
	}
	return c, errors.Join(errs...)
}
