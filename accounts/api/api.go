// Package api is the REST face of package accounts under /v1: sign-up and
// sign-in, users, organizations, apps (with sharing, versions, forks,
// export/import), the audit log and collaboration sessions, following the
// product plan's route list. Bodies are JSON; callers authenticate with
// "Authorization: Bearer <access or share token>"; every error is
// {"error": {"code", "message"}} with a fitting status. The OpenAPI 3.1
// description is served at /v1/openapi.json, generated from the same route
// table the handlers are registered from.
package api

import (
	"context"
	"errors"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/casual-dev/casual/accounts"
	"github.com/casual-dev/casual/crdt"
	"github.com/casual-dev/casual/rooms"
)

// Presence reports who is in a document's room now. RoomsPresence backs
// it with a rooms.Manager.
type Presence interface {
	Presence(ctx context.Context, doc crdt.DocID) ([]rooms.PresenceEntry, error)
}

// RoomsPresence reads presence from the open rooms of a manager; a
// document whose room is not open has nobody in it.
type RoomsPresence struct{ Rooms *rooms.Manager }

// Presence implements Presence.
func (p RoomsPresence) Presence(ctx context.Context, doc crdt.DocID) ([]rooms.PresenceEntry, error) {
	r := p.Rooms.Lookup(doc)
	if r == nil {
		return nil, nil
	}
	entries, err := r.Presence(ctx)
	if errors.Is(err, rooms.ErrRoomClosed) {
		return nil, nil
	}
	return entries, err
}

// Limits are the request rate limits (token buckets). Zero fields take the
// defaults noted.
type Limits struct {
	// AuthPerMinute and AuthBurst limit each client address on the sign-in,
	// sign-up, refresh, verification, reset and two-factor endpoints, and
	// sign-in attempts per email address (default 10/min, burst 20).
	AuthPerMinute float64
	AuthBurst     int
	// PerSecond and Burst limit each user (or address, when anonymous) on
	// every other endpoint (default 20/s, burst 100).
	PerSecond float64
	Burst     int
}

func (l Limits) withDefaults() Limits {
	if l.AuthPerMinute <= 0 {
		l.AuthPerMinute = 10
	}
	if l.AuthBurst <= 0 {
		l.AuthBurst = 20
	}
	if l.PerSecond <= 0 {
		l.PerSecond = 20
	}
	if l.Burst <= 0 {
		l.Burst = 100
	}
	return l
}

// Config configures New.
type Config struct {
	Service *accounts.Service
	// Presence backs GET /v1/collaboration/sessions/{id}; nil reports
	// nobody.
	Presence Presence
	// PublicURL is the server's address as browsers reach it, for share
	// links and sync URLs (default: from each request's Host).
	PublicURL string
	// TrustProxy takes the client address from X-Forwarded-For and the
	// scheme from X-Forwarded-Proto (only behind a proxy that sets them).
	TrustProxy bool
	Limits     Limits
	// Redis, if set, keeps the rate limits' buckets, so every API instance
	// on that Redis shares them (in memory, per instance, otherwise). The
	// API does not close it.
	Redis *redis.Client
	// RedisPrefix starts the buckets' keys (default "casual:ratelimit:").
	RedisPrefix string
	// MaxBodyBytes bounds JSON bodies (default 1 MiB); imports may be up
	// to accounts.MaxImportBytes.
	MaxBodyBytes int64
	// Clock drives the rate limiters (default time.Now).
	Clock  func() time.Time
	Logger *slog.Logger
}

// API serves the /v1 routes.
type API struct {
	cfg     Config
	svc     *accounts.Service
	log     *slog.Logger
	authLim bucketSet
	userLim bucketSet
	routes  []route
	spec    []byte
	// paths answers 405 for a known path with another method.
	paths *http.ServeMux
}

// New returns the API.
func New(cfg Config) (*API, error) {
	if cfg.Service == nil {
		return nil, errors.New("api: Config.Service is required")
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.Clock == nil {
		cfg.Clock = time.Now
	}
	if cfg.MaxBodyBytes <= 0 {
		cfg.MaxBodyBytes = 1 << 20
	}
	cfg.PublicURL = strings.TrimRight(cfg.PublicURL, "/")
	lim := cfg.Limits.withDefaults()
	a := &API{cfg: cfg, svc: cfg.Service, log: cfg.Logger,
		authLim: buckets(cfg, "auth:", lim.AuthPerMinute/60, lim.AuthBurst),
		userLim: buckets(cfg, "user:", lim.PerSecond, lim.Burst),
		paths:   http.NewServeMux()}
	a.routes = a.table()
	spec, err := a.openAPI()
	if err != nil {
		return nil, err
	}
	a.spec = spec
	seen := map[string]bool{}
	for _, rt := range a.routes {
		if !seen[rt.path] {
			seen[rt.path] = true
			a.paths.HandleFunc(rt.path, a.methodNotAllowed)
		}
	}
	return a, nil
}

// Routes registers every /v1 route on mux, and a catch-all that answers
// unknown /v1 paths with a JSON 404 (or 405 for a known path).
func (a *API) Routes(mux *http.ServeMux) {
	for _, rt := range a.routes {
		mux.Handle(rt.method+" "+rt.path, a.handler(rt))
	}
	mux.HandleFunc("/v1/", a.notFound)
}

// Handler returns the routes on a mux of their own.
func (a *API) Handler() http.Handler {
	mux := http.NewServeMux()
	a.Routes(mux)
	return mux
}

// handler wraps a route: client info, authentication, rate limits, and
// errors as JSON.
func (a *API) handler(rt route) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ip := a.clientIP(r)
		r = r.WithContext(accounts.WithClient(r.Context(), ip, r.UserAgent()))
		var p accounts.Principal
		if rt.auth != authNone {
			var err error
			if p, err = a.principal(r); err != nil {
				a.fail(w, r, err)
				return
			}
			if rt.auth == authRequired && p.Anonymous() {
				a.fail(w, r, accounts.ErrUnauthenticated)
				return
			}
		}
		if err := a.limit(r.Context(), rt, ip, p); err != nil {
			a.fail(w, r, err)
			return
		}
		if err := rt.h(w, r, p); err != nil {
			a.fail(w, r, err)
		}
	})
}

// buckets returns the limiter of one kind of route.
func buckets(cfg Config, kind string, rate float64, burst int) bucketSet {
	mem := newLimiter(rate, burst, cfg.Clock)
	if cfg.Redis == nil {
		return mem
	}
	prefix := cfg.RedisPrefix
	if prefix == "" {
		prefix = "casual:ratelimit:"
	}
	return &redisLimiter{rdb: cfg.Redis, prefix: prefix + kind, rate: rate, burst: burst, now: cfg.Clock,
		fallback: mem, log: cfg.Logger}
}

func (a *API) limit(ctx context.Context, rt route, ip string, p accounts.Principal) error {
	if rt.authLimited {
		return a.authLim.take(ctx, "ip:"+ip)
	}
	key := "ip:" + ip
	switch {
	case p.UserID != "":
		key = "user:" + p.UserID
	case p.Share != nil:
		key = "share:" + p.Share.ID
	}
	return a.userLim.take(ctx, key)
}

// principal authenticates the request's bearer token (none: anonymous).
func (a *API) principal(r *http.Request) (accounts.Principal, error) {
	h := r.Header.Get("Authorization")
	tok := ""
	if h != "" {
		scheme, rest, ok := strings.Cut(h, " ")
		if !ok || !strings.EqualFold(scheme, "Bearer") || strings.TrimSpace(rest) == "" {
			return accounts.Principal{}, errBadAuthHeader
		}
		tok = strings.TrimSpace(rest)
	}
	return a.svc.Authenticate(r.Context(), tok)
}

func (a *API) clientIP(r *http.Request) string {
	if a.cfg.TrustProxy {
		if xff := r.Header.Get("X-Forwarded-For"); xff != "" {
			parts := strings.Split(xff, ",")
			return strings.TrimSpace(parts[len(parts)-1])
		}
	}
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		return r.RemoteAddr
	}
	return host
}

// baseURL is where browsers reach this server.
func (a *API) baseURL(r *http.Request) string {
	if a.cfg.PublicURL != "" {
		return a.cfg.PublicURL
	}
	scheme := "http"
	if r.TLS != nil || a.cfg.TrustProxy && r.Header.Get("X-Forwarded-Proto") == "https" {
		scheme = "https"
	}
	return scheme + "://" + r.Host
}

// syncURL is the WebSocket address of /sync.
func (a *API) syncURL(r *http.Request) string {
	b := a.baseURL(r)
	switch {
	case strings.HasPrefix(b, "https://"):
		return "wss://" + strings.TrimPrefix(b, "https://") + "/sync"
	case strings.HasPrefix(b, "http://"):
		return "ws://" + strings.TrimPrefix(b, "http://") + "/sync"
	}
	return b + "/sync"
}

func (a *API) notFound(w http.ResponseWriter, r *http.Request) {
	if _, pattern := a.paths.Handler(r); pattern != "" {
		a.methodNotAllowed(w, r)
		return
	}
	writeError(w, http.StatusNotFound, "not_found", "no such endpoint: "+r.Method+" "+r.URL.Path+" (see /v1/openapi.json)")
}

func (a *API) methodNotAllowed(w http.ResponseWriter, r *http.Request) {
	_, pattern := a.paths.Handler(r)
	var allow []string
	for _, rt := range a.routes {
		if rt.path == pattern {
			allow = append(allow, rt.method)
		}
	}
	w.Header().Set("Allow", strings.Join(allow, ", "))
	writeError(w, http.StatusMethodNotAllowed, "method_not_allowed", r.Method+" is not allowed on "+r.URL.Path)
}

// Patterns returns the "METHOD /path" pattern of every route Routes
// registers (the OpenAPI test checks each is described).
func (a *API) Patterns() []string {
	out := make([]string, len(a.routes))
	for i, rt := range a.routes {
		out[i] = rt.method + " " + rt.path
	}
	return out
}
