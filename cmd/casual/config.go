package main

import (
	"errors"
	"flag"
	"fmt"
	"github.com/casual-dev/casual/accounts"
	"github.com/casual-dev/casual/generate"
	"github.com/casual-dev/casual/signaling"
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
	Redis           string
	NodeID          string
	LogLevel        slog.Level
	PeerID          string
	IdleUnload      time.Duration
	IdleTrim        time.Duration
	MaxFrameBytes   int64
	MaxDocBytes     int64
	MaxDocsPerConn  int
	RatePerSec      float64
	RateBurst       int
	SendQueue       int
	PingInterval    time.Duration
	PresenceTTL     time.Duration
	ShutdownTimeout time.Duration
	Pprof           bool
	EmbedKey        string
	QuickJSWasm     string
	ExecutorLease   time.Duration
	ExecutorIdle    time.Duration
	Auth            bool
	Secret          string
	PublicURL       string
	SMTPURL         string
	MailFrom        string
	TrustProxy      bool
	AI              generate.Config
	ICEServers      []signaling.ICEServer
	RTCPublicIPs    []string
	RTCPortMin      uint16
	RTCPortMax      uint16
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
		{"redis", "CASUAL_REDIS", "", "redis:// URL of the bus between nodes sharing a postgres store (empty: single node)", func(c *Config, v string) error {
			if v != "" && !strings.HasPrefix(v, "redis://") && !strings.HasPrefix(v, "rediss://") {
				return fmt.Errorf("want a redis://host:6379/0 or rediss:// URL")
			}
			c.Redis = v
			return nil
		}},
		{"node-id", "CASUAL_NODE_ID", "", "this node's name on the bus, unique among nodes (default the peer id)", func(c *Config, v string) error {
			c.NodeID = v
			return nil
		}},
		{"log-level", "CASUAL_LOG_LEVEL", "info", "debug, info, warn or error", func(c *Config, v string) error {
			return c.LogLevel.UnmarshalText([]byte(v))
		}},
		{"peer-id", "CASUAL_PEER_ID", "", "server peerId in the protocol (default casual-<hostname>)", func(c *Config, v string) error {
			c.PeerID = v
			return nil
		}},
		{"idle-unload", "CASUAL_IDLE_UNLOAD", "30s", "unload a document this long after its last peer left", dur(func(c *Config) *time.Duration { return &c.IdleUnload })},
		{"idle-trim", "CASUAL_IDLE_TRIM", "10s", "when no message arrived for this long, return free memory to the OS (0: never)", durOrZero(func(c *Config) *time.Duration { return &c.IdleTrim })},
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
		{"pprof", "CASUAL_PPROF", "false", "serve Go profiles at /debug/pprof/ (keep off on public addresses)", func(c *Config, v string) error {
			b, err := strconv.ParseBool(v)
			c.Pprof = b
			return err
		}},
		{"ice-servers", "CASUAL_ICE_SERVERS", "", "STUN/TURN URLs for WebRTC, comma-separated (turn:user:pass@host:port for credentials); none needed on one machine or a LAN", func(c *Config, v string) error {
			servers, err := parseICEServers(v)
			c.ICEServers = servers
			return err
		}},
		{"rtc-public-ip", "CASUAL_RTC_PUBLIC_IP", "", "public address(es) of a server behind 1:1 NAT, comma-separated, announced in WebRTC answers", func(c *Config, v string) error {
			c.RTCPublicIPs = splitList(v)
			for _, ip := range c.RTCPublicIPs {
				if net.ParseIP(ip) == nil {
					return fmt.Errorf("%q is not an IP address", ip)
				}
			}
			return nil
		}},
		{"rtc-udp-ports", "CASUAL_RTC_UDP_PORTS", "", "UDP port range for WebRTC, like 50000-50100 (empty: any)", func(c *Config, v string) error {
			if v == "" {
				return nil
			}
			lo, hi, ok := strings.Cut(v, "-")
			a, err1 := strconv.ParseUint(lo, 10, 16)
			b, err2 := strconv.ParseUint(hi, 10, 16)
			if !ok || err1 != nil || err2 != nil || a == 0 || a > b {
				return errors.New("want a range like 50000-50100")
			}
			c.RTCPortMin, c.RTCPortMax = uint16(a), uint16(b)
			return nil
		}},
		{"embed-key", "CASUAL_EMBED_KEY", "", "secret (16+ bytes) signing embed tokens; empty: a random key, so tokens die with the process", func(c *Config, v string) error {
			if v != "" && len(v) < 16 {
				return errors.New("want at least 16 bytes")
			}
			c.EmbedKey = v
			return nil
		}},
		{"openai-base-url", "CASUAL_OPENAI_BASE_URL", "", "OpenAI-compatible API for the AI co-editor (OpenAI, Azure, Ollama, vLLM, LM Studio); empty: api.openai.com", func(c *Config, v string) error {
			c.AI.BaseURL = v
			return nil
		}},
		{"openai-api-key", "CASUAL_OPENAI_API_KEY", "", "API key; empty: the built-in offline planner serves AI requests", func(c *Config, v string) error {
			c.AI.APIKey = v
			return nil
		}},
		{"openai-model", "CASUAL_OPENAI_MODEL", "", "model name (empty: gpt-4o-mini)", func(c *Config, v string) error {
			c.AI.Model = v
			return nil
		}},
		{"openai-timeout", "CASUAL_OPENAI_TIMEOUT", "2m", "timeout of one model request", dur(func(c *Config) *time.Duration { return &c.AI.Timeout })},
		{"openai-tools", "CASUAL_OPENAI_TOOLS", "true", "offer the AI's operations to the model as tool calls (false: JSON lines only, for servers that reject tools)", func(c *Config, v string) error {
			b, err := strconv.ParseBool(v)
			c.AI.NoTools = !b
			return err
		}},
		{"auth", "CASUAL_AUTH", "off", "on: accounts and per-document permissions on every request and sync message; off: everyone may do everything (accepted only on a loopback address)", func(c *Config, v string) error {
			switch v {
			case "on":
				c.Auth = true
			case "off":
				c.Auth = false
			default:
				return errors.New("want on or off")
			}
			return nil
		}},
		{"secret", "CASUAL_SECRET", "", "key (32+ bytes) signing access, refresh and share tokens; empty: one is generated and kept in the accounts store", func(c *Config, v string) error {
			if v != "" && len(v) < 32 {
				return errors.New("want at least 32 bytes")
			}
			c.Secret = v
			return nil
		}},
		{"public-url", "CASUAL_PUBLIC_URL", "", "the server's public base URL, for links in mails and share URLs (default http://<addr>)", func(c *Config, v string) error {
			c.PublicURL = strings.TrimSuffix(v, "/")
			return nil
		}},
		{"smtp-url", "CASUAL_SMTP_URL", "", "SMTP server for account mail (verification, reset, invitations): smtp://user:pass@host:587 (STARTTLS when offered) or smtps://host:465; empty: mail is only logged", func(c *Config, v string) error {
			c.SMTPURL = v
			return nil
		}},
		{"mail-from", "CASUAL_MAIL_FROM", "", "sender of account mail, like 'Casual <no-reply@example.com>' (needed with --smtp-url)", func(c *Config, v string) error {
			c.MailFrom = v
			return nil
		}},
		{"trust-proxy", "CASUAL_TRUST_PROXY", "false", "trust X-Forwarded-For/Proto (behind a reverse proxy)", func(c *Config, v string) error {
			b, err := strconv.ParseBool(v)
			c.TrustProxy = b
			return err
		}},
		{"quickjs-wasm", "CASUAL_QUICKJS_WASM", "build/quickjs.wasm", "the QuickJS engine the executor runs JavaScript handlers in (scripts/build-quickjs.sh builds it)", func(c *Config, v string) error {
			c.QuickJSWasm = v
			return nil
		}},
		{"executor-lease", "CASUAL_EXECUTOR_LEASE", "30s", "how long an executor holds a run without renewing it; a run whose executor is lost is re-queued once, then fails with executor_lost", dur(func(c *Config) *time.Duration { return &c.ExecutorLease })},
		{"executor-idle", "CASUAL_EXECUTOR_IDLE", "1m", "the executor lets go of a document (so it can unload) after this long without queued or running runs", dur(func(c *Config) *time.Duration { return &c.ExecutorIdle })},
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

// durOrZero is dur where 0 (off) is allowed too.
func durOrZero(f func(*Config) *time.Duration) func(*Config, string) error {
	return func(c *Config, v string) error {
		d, err := time.ParseDuration(v)
		if err != nil || d < 0 {
			return errors.New("want a duration like 10s, or 0 for never")
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
		v := &flagValue{s: s.def, isBool: s.def == "true" || s.def == "false"}
		if e := getenv(s.env); e != "" {
			v.s = e
		}
		vals[s.name] = &v.s
		fs.Var(v, s.name, fmt.Sprintf("%s (env %s, default %q)", s.help, s.env, s.def))
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
	if !c.Auth && c.Addr != "" {
		if err := accounts.CheckAuthOff(c.Addr); err != nil {
			errs = append(errs, fmt.Errorf("--auth / CASUAL_AUTH = off: %w (pass --auth on)", err))
		}
	}
	if c.PublicURL == "" {
		c.PublicURL = "http://" + c.Addr
	}
	if err := c.AI.Validate(); err != nil {
		errs = append(errs, err)
	}
	if c.PeerID == "" {
		host, _ := os.Hostname()
		c.PeerID = "casual-" + host
	}
	if c.NodeID == "" {
		c.NodeID = c.PeerID
	}
	if c.SMTPURL != "" {
		if _, err := accounts.NewSMTPMailer(c.SMTPURL, c.MailFrom); err != nil {
			errs = append(errs, fmt.Errorf("--smtp-url / CASUAL_SMTP_URL, --mail-from / CASUAL_MAIL_FROM: %w", err))
		}
	}
	if c.Redis != "" && c.Store == "embedded" {
		errs = append(errs, errors.New("--redis / CASUAL_REDIS needs a store the nodes share: set --store postgres://…"))
	}
	return c, errors.Join(errs...)
}

// flagValue holds a setting's text until it is validated; boolean settings
// accept a bare --flag.
type flagValue struct {
	s      string
	isBool bool
}

func (v *flagValue) String() string     { return v.s }
func (v *flagValue) Set(s string) error { v.s = s; return nil }
func (v *flagValue) IsBoolFlag() bool   { return v.isBool }

func splitList(v string) []string {
	var out []string
	for _, f := range strings.Split(v, ",") {
		if f = strings.TrimSpace(f); f != "" {
			out = append(out, f)
		}
	}
	return out
}

// parseICEServers reads stun:host:port and turn:user:pass@host:port URLs.
func parseICEServers(v string) ([]signaling.ICEServer, error) {
	var out []signaling.ICEServer
	for _, u := range splitList(v) {
		scheme, rest, ok := strings.Cut(u, ":")
		if !ok || (scheme != "stun" && scheme != "stuns" && scheme != "turn" && scheme != "turns") {
			return nil, fmt.Errorf("%q: want stun:, stuns:, turn: or turns: URLs", u)
		}
		srv := signaling.ICEServer{URLs: []string{u}}
		if cred, host, ok := strings.Cut(rest, "@"); ok {
			user, pass, _ := strings.Cut(cred, ":")
			srv = signaling.ICEServer{URLs: []string{scheme + ":" + host}, Username: user, Credential: pass}
		}
		out = append(out, srv)
	}
	return out, nil
}
