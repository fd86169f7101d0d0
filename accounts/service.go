package accounts

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base32"
	"encoding/base64"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/mail"
	"strings"
	"sync"
	"time"
	"unicode/utf8"

	"github.com/casual-dev/casual/crdt"
	"github.com/casual-dev/casual/rooms"
)

// Rooms is how the service reaches app documents: *rooms.Manager.
type Rooms interface {
	Acquire(ctx context.Context, id crdt.DocID) (*rooms.Room, error)
	Release(id crdt.DocID)
}

// DocDeleter removes a document's stored chunks when its app is purged
// from the trash: store.Store.
type DocDeleter interface {
	Delete(ctx context.Context, doc string) error
}

// Config configures New. Store and Rooms are required.
type Config struct {
	Store Store
	Rooms Rooms
	// Docs, if set, deletes the documents of apps purged from the trash.
	Docs DocDeleter
	// Mailer delivers verification and reset links (default LogMailer).
	Mailer Mailer
	// Access, if set, hears about every change that may withdraw or
	// lower someone's access, so open sync sockets are checked again.
	Access AccessNotifier
	// Secret signs tokens (at least 32 bytes); nil uses the store's
	// generated key, so every node sharing the store agrees.
	Secret []byte
	// BaseURL is where links in mails point (default http://127.0.0.1:8080).
	BaseURL string
	// AuthOff lets everyone do everything as the local user, without
	// signing in. Only for a server listening on loopback (see
	// CheckAuthOff).
	AuthOff bool
	// Clock and Rand default to time.Now and crypto/rand.
	Clock func() time.Time
	Rand  io.Reader
	// Lifetimes (defaults: access 15 min, refresh 7 days, email
	// verification 48 h, password reset 1 h, trash 30 days, shares at
	// most 1 year).
	AccessTTL   time.Duration
	RefreshTTL  time.Duration
	VerifyTTL   time.Duration
	ResetTTL    time.Duration
	TrashTTL    time.Duration
	MaxShareTTL time.Duration
	// InviteTTL is how long an invitation waits for its sign-up (default
	// 14 days).
	InviteTTL time.Duration
	// Argon2 are the password hashing costs (default DefaultArgon2).
	Argon2 Argon2Params
	// Issuer names the tokens' issuer and the TOTP account (default casual).
	Issuer string
	Logger *slog.Logger
}

func (c Config) withDefaults() Config {
	if c.Mailer == nil {
		c.Mailer = LogMailer{Logger: c.Logger}
	}
	if c.BaseURL == "" {
		c.BaseURL = "http://127.0.0.1:8080"
	}
	c.BaseURL = strings.TrimRight(c.BaseURL, "/")
	if c.Clock == nil {
		c.Clock = time.Now
	}
	if c.Rand == nil {
		c.Rand = rand.Reader
	}
	for _, d := range []struct {
		v   *time.Duration
		def time.Duration
	}{{&c.AccessTTL, 15 * time.Minute}, {&c.RefreshTTL, 7 * 24 * time.Hour}, {&c.VerifyTTL, 48 * time.Hour},
		{&c.ResetTTL, time.Hour}, {&c.TrashTTL, 30 * 24 * time.Hour}, {&c.MaxShareTTL, 365 * 24 * time.Hour},
		{&c.InviteTTL, 14 * 24 * time.Hour}} {
		if *d.v <= 0 {
			*d.v = d.def
		}
	}
	if c.Argon2 == (Argon2Params{}) {
		c.Argon2 = DefaultArgon2()
	}
	if c.Issuer == "" {
		c.Issuer = "casual"
	}
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
	return c
}

// LocalUserID is the user everything is done as when auth is off.
const LocalUserID = "local"

// Service is the accounts domain. Its methods are safe for concurrent use.
type Service struct {
	cfg   Config
	st    Store
	rooms Rooms
	log   *slog.Logger
	sign  signer
	// dummyHash is verified against when an email is unknown, so a failed
	// sign-in takes as long whether or not the account exists.
	dummyHash string

	idMu   sync.Mutex
	lastMs int64
	seq    uint16

	// expiries are the timers that re-check share-token sockets when their
	// share expires (watchShareExpiry); Close stops them.
	expMu    sync.Mutex
	expiries map[string]*time.Timer
	closed   bool
}

// New returns a service over cfg.Store, creating the signing key (unless
// cfg.Secret is set) and, with AuthOff, the local user.
func New(ctx context.Context, cfg Config) (*Service, error) {
	if cfg.Store == nil || cfg.Rooms == nil {
		return nil, errors.New("accounts: Config.Store and Config.Rooms are required")
	}
	cfg = cfg.withDefaults()
	key := cfg.Secret
	if key == nil {
		k, err := cfg.Store.SigningKey(ctx)
		if err != nil {
			return nil, fmt.Errorf("accounts: %w", err)
		}
		key = k
	}
	if len(key) < 32 {
		return nil, fmt.Errorf("accounts: the signing secret has %d bytes, want at least 32", len(key))
	}
	s := &Service{cfg: cfg, st: cfg.Store, rooms: cfg.Rooms, log: cfg.Logger, sign: signer{key: key, issuer: cfg.Issuer}}
	dummy := make([]byte, 16)
	if _, err := io.ReadFull(cfg.Rand, dummy); err != nil {
		return nil, fmt.Errorf("accounts: %w", err)
	}
	h, err := hashPassword(cfg.Argon2, cfg.Rand, hex.EncodeToString(dummy))
	if err != nil {
		return nil, fmt.Errorf("accounts: %w", err)
	}
	s.dummyHash = h
	if cfg.AuthOff {
		if err := s.ensureLocalUser(ctx); err != nil {
			return nil, err
		}
	}
	return s, nil
}

// AuthOff reports whether the service runs without sign-in.
func (s *Service) AuthOff() bool { return s.cfg.AuthOff }

// Config returns the effective configuration.
func (s *Service) Config() Config { return s.cfg }

func (s *Service) ensureLocalUser(ctx context.Context) error {
	if _, err := s.st.GetUser(ctx, LocalUserID); err == nil {
		return nil
	} else if !errors.Is(err, ErrNotFound) {
		return fmt.Errorf("accounts: local user: %w", err)
	}
	now := s.now()
	u := User{ID: LocalUserID, Email: "local@localhost", Name: "Local user", PasswordHash: "!", EmailVerified: true,
		BackupCodes: []string{}, CreatedAt: now, UpdatedAt: now}
	if err := s.st.CreateUser(ctx, u); err != nil && !errors.Is(err, ErrConflict) {
		return fmt.Errorf("accounts: local user: %w", err)
	}
	return nil
}

// CheckAuthOff returns an error unless addr (host:port) listens on
// loopback only: signing in may be turned off only there.
func CheckAuthOff(addr string) error {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return fmt.Errorf("auth off: %w", err)
	}
	if host == "localhost" {
		return nil
	}
	if ip := net.ParseIP(host); ip != nil && ip.IsLoopback() {
		return nil
	}
	return fmt.Errorf("auth off is only allowed on a loopback address (127.0.0.1, ::1, localhost), not %q", addr)
}

// now is the service's clock at the stores' precision.
func (s *Service) now() time.Time { return s.cfg.Clock().UTC().Truncate(time.Microsecond) }

// randomToken returns a URL-safe secret of n random bytes.
func (s *Service) randomToken(n int) (string, error) {
	b := make([]byte, n)
	if _, err := io.ReadFull(s.cfg.Rand, b); err != nil {
		return "", fmt.Errorf("random: %w", err)
	}
	return base64.RawURLEncoding.EncodeToString(b), nil
}

var idEncoding = base32.NewEncoding("0123456789abcdefghijklmnopqrstuv").WithPadding(base32.NoPadding)

// newID returns prefix_<26 chars>: a millisecond timestamp and sequence
// (so ids of one node sort by creation) and 64 random bits.
func (s *Service) newID(prefix string) (string, error) {
	ms := s.cfg.Clock().UnixMilli()
	s.idMu.Lock()
	if ms <= s.lastMs {
		ms = s.lastMs
		s.seq++
		if s.seq == 0 { // 65536 ids in one millisecond: borrow the next
			ms++
		}
	} else {
		s.seq = 0
	}
	s.lastMs = ms
	seq := s.seq
	s.idMu.Unlock()
	var b [16]byte
	binary.BigEndian.PutUint64(b[:8], uint64(ms)<<16|uint64(seq))
	if _, err := io.ReadFull(s.cfg.Rand, b[8:]); err != nil {
		return "", fmt.Errorf("random: %w", err)
	}
	return prefix + "_" + idEncoding.EncodeToString(b[:]), nil
}

// digest is how tokens are stored: random tokens need no slow hash.
func digest(token string) string {
	sum := sha256.Sum256([]byte(token))
	return hex.EncodeToString(sum[:])
}

// normalizeEmail lower-cases and checks an address.
func normalizeEmail(email string) (string, error) {
	e := strings.ToLower(strings.TrimSpace(email))
	a, err := mail.ParseAddress(e)
	at := strings.LastIndex(e, "@")
	if err != nil || a.Address != e || len(e) > 254 || at < 1 {
		return "", invalidf("%q is not an email address", truncate(email, 100))
	}
	if domain := e[at+1:]; !strings.Contains(domain, ".") && domain != "localhost" {
		return "", invalidf("%q is not an email address", truncate(email, 100))
	}
	return e, nil
}

// checkName validates a display name (of a user, org, app, version).
func checkName(what, name string, required bool) (string, error) {
	n := strings.TrimSpace(name)
	switch {
	case required && n == "":
		return "", invalidf("%s is required", what)
	case !utf8.ValidString(n) || len(n) > 200:
		return "", invalidf("%s must be at most 200 bytes of text", what)
	}
	for _, r := range n {
		if r < 0x20 || r == 0x7f {
			return "", invalidf("%s must not contain control characters", what)
		}
	}
	return n, nil
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "…"
}

// client describes who made a request, for sessions and the audit log.
type client struct{ ip, userAgent string }

type clientKey struct{}

// WithClient returns ctx carrying the caller's address and user agent,
// which sessions and audit events record.
func WithClient(ctx context.Context, ip, userAgent string) context.Context {
	return context.WithValue(ctx, clientKey{}, client{ip: ip, userAgent: truncate(userAgent, 300)})
}

func clientOf(ctx context.Context) client {
	c, _ := ctx.Value(clientKey{}).(client)
	return c
}
