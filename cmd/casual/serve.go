package main

import (
	"context"
	"errors"
	"fmt"
	"github.com/casual-dev/casual/accounts"
	"github.com/casual-dev/casual/accounts/accessbus"
	accountsapi "github.com/casual-dev/casual/accounts/api"
	accountsembedded "github.com/casual-dev/casual/accounts/embedded"
	accountspg "github.com/casual-dev/casual/accounts/postgres"
	"github.com/casual-dev/casual/collab/client"
	"github.com/casual-dev/casual/crdt"
	"github.com/casual-dev/casual/execute"
	executionspg "github.com/casual-dev/casual/execute/postgres"
	"github.com/jackc/pgx/v5/pgxpool"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/pprof"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/redis/go-redis/v9"
	"github.com/redis/go-redis/v9/maintnotifications"

	"github.com/casual-dev/casual/collab"
	"github.com/casual-dev/casual/generate"
	generatepg "github.com/casual-dev/casual/generate/postgres"
	"github.com/casual-dev/casual/rooms"
	"github.com/casual-dev/casual/rooms/redisbus"
	"github.com/casual-dev/casual/signaling"
	"github.com/casual-dev/casual/store"
	"github.com/casual-dev/casual/store/embedded"
	"github.com/casual-dev/casual/store/postgres"
	"github.com/casual-dev/casual/web"
	"github.com/casual-dev/casual/web/ui"
)

func serve(ctx context.Context, cfg Config, logOut io.Writer) error {
	log := slog.New(slog.NewJSONHandler(logOut, &slog.HandlerOptions{Level: cfg.LogLevel}))
	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))

	runs := &runWatcher{log: log}
	defer runs.stop()
	var metrics *collab.Metrics
	var mgr *rooms.Manager
	metrics = collab.NewMetrics(reg, func() int { return mgr.Loaded() })

	st, err := openStore(ctx, cfg, log)
	if err != nil {
		return err
	}
	defer st.Close()
	storageID, err := st.StorageID(ctx)
	if err != nil {
		return err
	}

	checks := []web.Check{{Name: "store", Fn: func(ctx context.Context) error {
		_, err := st.StorageID(ctx)
		return err
	}}}
	rcfg := rooms.Config{
		MaxDocBytes: cfg.MaxDocBytes, PresenceTTL: cfg.PresenceTTL, Logger: log, NodeID: cfg.NodeID,
		Hooks: rooms.Hooks{
			Persisted: func(d time.Duration, _ int, err error) {
				if err == nil {
					metrics.Persist.Observe(d.Seconds())
				} else {
					metrics.Errors.WithLabelValues("persist").Inc()
				}
			},
			Compacted: func(d time.Duration, err error) {
				if err == nil {
					metrics.Compact.Observe(d.Seconds())
				}
			},
			Dropped: func(err error) { metrics.Dropped.WithLabelValues(collab.ErrorCode(err)).Inc() },
			FannedOut: func(shared, core int) {
				metrics.FanOut.WithLabelValues("shared").Add(float64(shared))
				metrics.FanOut.WithLabelValues("core").Add(float64(core))
			},
			Stored: runs.stored,
		},
	}
	bus, err := openBus(ctx, cfg, log, reg, &rcfg.Hooks)
	if err != nil {
		return err
	}
	if bus != nil {
		defer bus.Close()
		rcfg.Bus = bus // only when set: a nil *Bus in the interface is not nil
		checks = append(checks, web.Check{Name: "bus", Fn: bus.Ping})
	}
	mgr = rooms.NewManager(st, rcfg, cfg.IdleUnload)

	acctStore, err := openAccountsStore(ctx, cfg, st)
	if err != nil {
		return fmt.Errorf("accounts store: %w", err)
	}
	defer acctStore.Close()
	acct, err := openAccountsRedis(ctx, cfg, log)
	if err != nil {
		return err
	}
	defer acct.close()
	svc, err := accounts.New(ctx, accounts.Config{
		Store: acctStore, Rooms: mgr, Docs: st, Secret: secretOf(cfg), Mailer: acct.mailer, Access: acct.access,
		BaseURL: cfg.PublicURL, AuthOff: !cfg.Auth, Logger: log,
	})
	if err != nil {
		return fmt.Errorf("accounts: %w", err)
	}
	defer svc.Close()
	auth := svc.Authorizer()

	cs := collab.NewServer(collab.Config{
		PeerID: cfg.PeerID, StorageID: storageID, MaxFrameBytes: cfg.MaxFrameBytes,
		MaxDocsPerConn: cfg.MaxDocsPerConn, RatePerSec: cfg.RatePerSec, RateBurst: cfg.RateBurst,
		SendQueue: cfg.SendQueue, PingInterval: cfg.PingInterval, Logger: log,
	}, mgr, auth, metrics)
	acct.access.Listen(cs.Reauthorize) // access changes re-check open sockets, on every node

	ws := web.New(web.Config{
		Collab: cs, Gatherer: reg, Logger: log, Checks: checks,
	})

	if cfg.Pprof {
		ws.Handle("/debug/pprof/", http.HandlerFunc(pprof.Index))
		ws.Handle("/debug/pprof/profile", http.HandlerFunc(pprof.Profile))
		ws.Handle("/debug/pprof/heap", pprof.Handler("heap"))
		ws.Handle("/debug/pprof/goroutine", pprof.Handler("goroutine"))
	}
	var appCreator ui.AppCreator = ui.RoomApps{Rooms: mgr}
	if cfg.Auth { // apps are made through POST /v1/apps, which records their owner
		appCreator = nil
	}
	pages := ui.New(ui.Config{Apps: appCreator, Tokens: embedSigner(cfg, svc), Auth: cfg.Auth, Logger: log})
	pages.Routes(ws)

	api, err := accountsapi.New(accountsapi.Config{Service: svc, Presence: accountsapi.RoomsPresence{Rooms: mgr},
		PublicURL: cfg.PublicURL, TrustProxy: cfg.TrustProxy, Redis: acct.redis, Logger: log})
	if err != nil {
		return fmt.Errorf("accounts api: %w", err)
	}
	ws.Handle("/v1/", api.Handler())
	janitorCtx, stopJanitor := context.WithCancel(context.Background())
	janitorDone := make(chan struct{})
	go func() { // purges apps deleted more than 30 days ago
		defer close(janitorDone)
		if err := svc.RunJanitor(janitorCtx, time.Hour); err != nil && !errors.Is(err, context.Canceled) {
			log.Error("janitor", slog.Any("err", err))
		}
	}()
	defer func() { stopJanitor(); <-janitorDone }()

	hist, blobs, err := openExecutions(ctx, cfg, st)
	if err != nil {
		return fmt.Errorf("executor: %w", err)
	}
	exec, err := execute.Open(ctx, execute.Options{
		DataDir: filepath.Join(cfg.DataDir, "execute"), QuickJSPath: cfg.QuickJSWasm,
		Dial: func(ctx context.Context) (client.Transport, error) {
			return cs.Connect(ctx, collab.Credentials{Actor: "executor"}), nil
		},
		NodeID: "executor-" + cfg.NodeID, Registerer: reg, Logger: log,
		Authorize: httpAuthorizer(auth), AuthorizeRun: runAuthorizer(auth), History: hist, Blobs: blobs,
		Peer: execute.PeerConfig{Lease: cfg.ExecutorLease, IdleRelease: cfg.ExecutorIdle},
	})
	if err != nil { // a missing QuickJS engine is not an error here: runs fail saying how to build it
		return fmt.Errorf("executor: %w", err)
	}
	exec.Routes(ws)
	runs.start(exec.Peer)
	defer func() {
		cctx, cancel := context.WithTimeout(context.Background(), cfg.ShutdownTimeout)
		defer cancel()
		exec.Close(cctx)
	}()

	if cfg.IdleTrim > 0 {
		trimCtx, stopTrim := context.WithCancel(ctx)
		trimDone := make(chan struct{})
		go func() {
			defer close(trimDone)
			trimWhenIdle(trimCtx, cfg.IdleTrim, cs.Received, log)
		}()
		defer func() { stopTrim(); <-trimDone }()
	}

	runStore, closeRuns, err := openRunStore(ctx, cfg, st)
	if err != nil {
		return fmt.Errorf("ai run history: %w", err)
	}
	defer closeRuns()
	gen, err := generate.New(cfg.AI, cs, generate.Options{Logger: log, Authorize: generateAuthorizer(auth, cfg.Auth),
		Store: runStore, Node: cfg.NodeID})
	if err != nil {
		return fmt.Errorf("ai co-editor: %w", err)
	}
	genRoutes := http.NewServeMux()
	gen.Routes(genRoutes)
	ws.Handle("/v1/generate/", genRoutes)

	sigMetrics := signaling.NewMetrics(reg)
	gw, err := signaling.NewGateway(cs, signaling.GatewayConfig{
		ICEServers: cfg.ICEServers, NAT1To1IPs: cfg.RTCPublicIPs,
		UDPPortMin: cfg.RTCPortMin, UDPPortMax: cfg.RTCPortMax,
		Auth: auth, Metrics: sigMetrics, Logger: log,
	})
	if err != nil {
		return fmt.Errorf("webrtc: %w", err)
	}
	relay := signaling.NewRelay(signaling.RelayConfig{Auth: auth, Metrics: sigMetrics, Logger: log})
	gw.Register(ws)
	ws.Handle("GET /signal", relay)

	ln, err := net.Listen("tcp", cfg.Addr)
	if err != nil {
		return fmt.Errorf("listen: %w", err)
	}
	hs := &http.Server{Handler: ws, ReadHeaderTimeout: 10 * time.Second}
	errc := make(chan error, 1)
	go func() { errc <- hs.Serve(ln) }()
	log.Info("casual serving", slog.String("addr", ln.Addr().String()), slog.String("data_dir", cfg.DataDir),
		slog.String("peer_id", cfg.PeerID), slog.String("storage_id", storageID), slog.Bool("bus", bus != nil))

	select {
	case err := <-errc:
		return fmt.Errorf("http: %w", err)
	case <-ctx.Done():
	}
	log.Info("shutting down")
	sctx, cancel := context.WithTimeout(context.Background(), cfg.ShutdownTimeout)
	defer cancel()
	if err := hs.Shutdown(sctx); err != nil && !errors.Is(err, http.ErrServerClosed) {
		log.Warn("http shutdown", slog.Any("err", err))
	}
	if err := gen.Close(sctx); err != nil { // before the sessions: cancelled runs deliver what they completed
		log.Warn("ai shutdown", slog.Any("err", err))
	}
	if err := relay.Close(sctx); err != nil {
		log.Warn("signaling shutdown", slog.Any("err", err))
	}
	if err := gw.Close(sctx); err != nil {
		log.Warn("webrtc shutdown", slog.Any("err", err))
	}
	if err := cs.Shutdown(sctx); err != nil {
		log.Error("shutdown", slog.Any("err", err))
	}
	ws.Close()
	if bus != nil { // after the rooms, which publish their last changes
		if err := bus.Close(); err != nil {
			log.Warn("close bus", slog.Any("err", err))
		}
	}
	if err := st.Close(); err != nil {
		return fmt.Errorf("close store: %w", err)
	}
	log.Info("stopped")
	return nil
}

// openBus connects to the Redis bus if one is configured (nil if not) and
// points the rooms' bus hooks at its metrics.
func openBus(ctx context.Context, cfg Config, log *slog.Logger, reg prometheus.Registerer, hooks *rooms.Hooks) (*redisbus.Bus, error) {
	if cfg.Redis == "" {
		return nil, nil
	}
	m := newBusMetrics(reg)
	m.hook(hooks)
	bus, err := redisbus.New(ctx, cfg.Redis, redisbus.Options{Logger: log, Hooks: m.busHooks()})
	if err != nil {
		return nil, fmt.Errorf("open bus: %w", err)
	}
	log.Info("bus connected", slog.String("node_id", cfg.NodeID))
	return bus, nil
}

func openStore(ctx context.Context, cfg Config, log *slog.Logger) (store.Store, error) {
	if cfg.Store == "embedded" {
		return embedded.Open(ctx, cfg.DataDir, embedded.Options{Logger: log})
	}
	return postgres.Open(ctx, cfg.Store, postgres.Options{Logger: log, AutoMigrate: cfg.AutoMigrate})
}

// migrate applies the database migrations of a postgres store.
func migrate(ctx context.Context, args []string, stdout io.Writer, getenv func(string) string) error {
	cfg, err := loadConfig(args, getenv)
	if err != nil {
		return fmt.Errorf("configuration: %w", err)
	}
	if cfg.Store == "embedded" {
		return errors.New("migrate: the embedded store needs no migrations; pass --store postgres://… or set CASUAL_STORE")
	}
	if err := postgres.MigrateDSN(ctx, cfg.Store); err != nil {
		return err
	}
	pool, err := pgxpool.New(ctx, cfg.Store)
	if err != nil {
		return fmt.Errorf("migrate accounts: %w", err)
	}
	defer pool.Close()
	if err := accountspg.Migrate(ctx, pool); err != nil {
		return fmt.Errorf("migrate accounts: %w", err)
	}
	if err := executionspg.Migrate(ctx, pool); err != nil {
		return err
	}
	if err := generatepg.Migrate(ctx, pool); err != nil {
		return err
	}
	fmt.Fprintln(stdout, "migrations applied")
	return nil
}

// busMetrics count what crosses the bus between nodes.
type busMetrics struct {
	published  *prometheus.CounterVec // kind, result
	received   *prometheus.CounterVec // kind
	catchUps   *prometheus.CounterVec // result
	latency    prometheus.Histogram
	reconnects prometheus.Counter
}

func newBusMetrics(reg prometheus.Registerer) *busMetrics {
	m := &busMetrics{
		published: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "casual_bus_published_total", Help: "Messages published to other nodes, by kind and result (ok/error)."},
			[]string{"kind", "result"}),
		received: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "casual_bus_received_total", Help: "Messages from other nodes handled by rooms, by kind."}, []string{"kind"}),
		catchUps: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "casual_bus_catchups_total", Help: "Rooms reloaded from the store after a gap on the bus, by result."},
			[]string{"result"}),
		latency: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name: "casual_bus_latency_seconds", Help: "Publisher-to-room delay of changes and presence from other nodes.",
			Buckets: prometheus.ExponentialBuckets(0.0001, 2, 16)}),
		reconnects: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "casual_bus_reconnects_total", Help: "Times the bus subscriber connection came back after failing."}),
	}
	reg.MustRegister(m.published, m.received, m.catchUps, m.latency, m.reconnects)
	return m
}

// hook sets the bus fields of h.
func (m *busMetrics) hook(h *rooms.Hooks) {
	h.BusPublished = func(k rooms.BusKind, err error) {
		m.published.WithLabelValues(busKind(k), result(err)).Inc()
	}
	h.BusReceived = func(k rooms.BusKind, latency time.Duration) {
		m.received.WithLabelValues(busKind(k)).Inc()
		if k != rooms.BusResync && latency > 0 {
			m.latency.Observe(latency.Seconds())
		}
	}
	h.CaughtUp = func(err error) {
		if errors.Is(err, store.ErrNotFound) {
			err = nil
		}
		m.catchUps.WithLabelValues(result(err)).Inc()
	}
}

func (m *busMetrics) busHooks() redisbus.Hooks {
	return redisbus.Hooks{Reconnected: m.reconnects.Inc}
}

func busKind(k rooms.BusKind) string {
	switch k {
	case rooms.BusChanges:
		return "changes"
	case rooms.BusPresence:
		return "presence"
	case rooms.BusResync:
		return "resync"
	}
	return "unknown"
}

func result(err error) string {
	if err != nil {
		return "error"
	}
	return "ok"
}

// accountsRedis is what accounts use beside their store: the mailer, and,
// with --redis, the Redis client that shares rate limits and carries
// access changes between nodes.
type accountsRedis struct {
	redis  *redis.Client // nil without --redis
	access *accessbus.Bus
	mailer accounts.Mailer // nil: the service's default (log only)
}

func openAccountsRedis(ctx context.Context, cfg Config, log *slog.Logger) (*accountsRedis, error) {
	a := &accountsRedis{}
	if cfg.SMTPURL != "" {
		m, err := accounts.NewSMTPMailer(cfg.SMTPURL, cfg.MailFrom)
		if err != nil {
			return nil, err
		}
		a.mailer = m
	}
	if cfg.Redis != "" {
		ro, err := redis.ParseURL(cfg.Redis)
		if err != nil {
			return nil, fmt.Errorf("accounts redis: %w", err)
		}
		// fail fast: a rate limit check waits on it, and falls back to this
		// node's own buckets when Redis does not answer
		ro.ContextTimeoutEnabled = true
		for _, d := range []struct {
			v   *time.Duration
			def time.Duration
		}{{&ro.DialTimeout, 2 * time.Second}, {&ro.ReadTimeout, time.Second}, {&ro.WriteTimeout, time.Second}} {
			if *d.v == 0 { // unless the URL says otherwise
				*d.v = d.def
			}
		}
		ro.MaintNotificationsConfig = &maintnotifications.Config{Mode: maintnotifications.ModeDisabled}
		a.redis = redis.NewClient(ro)
	}
	bus, err := accessbus.New(ctx, accessbus.Options{Redis: a.redis, Node: cfg.NodeID, Logger: log})
	if err != nil {
		a.close()
		return nil, err
	}
	a.access = bus
	return a, nil
}

func (a *accountsRedis) close() {
	if a.access != nil {
		a.access.Close()
	}
	if a.redis != nil {
		a.redis.Close()
	}
}

// accountsStore is what serve needs of an accounts store.
type accountsStore interface {
	accounts.Store
	Close() error
}

// openAccountsStore keeps accounts beside the documents: in the data
// directory (bbolt) for the embedded store, in the same database for
// PostgreSQL.
func openAccountsStore(ctx context.Context, cfg Config, st store.Store) (accountsStore, error) {
	if pg, ok := st.(*postgres.Store); ok {
		return accountspg.New(ctx, pg.Pool(), accountspg.Options{AutoMigrate: cfg.AutoMigrate})
	}
	return accountsembedded.OpenDir(ctx, cfg.DataDir)
}

// openRunStore keeps the AI co-editor's run history beside the documents:
// <data dir>/ai-runs.db (bbolt) for the embedded store, the same database
// for PostgreSQL. close releases it (after the generator has closed).
func openRunStore(ctx context.Context, cfg Config, st store.Store) (generate.RunStore, func() error, error) {
	if pg, ok := st.(*postgres.Store); ok {
		rs, err := generatepg.New(ctx, pg.Pool(), generatepg.Options{AutoMigrate: cfg.AutoMigrate})
		return rs, func() error { return nil }, err
	}
	rs, err := generate.OpenBoltStore(filepath.Join(cfg.DataDir, "ai-runs.db"))
	if err != nil {
		return nil, nil, err
	}
	return rs, rs.Close, nil
}

// secretOf returns --secret as a key, nil (the store's generated key) when
// it is not set.
func secretOf(cfg Config) []byte {
	if cfg.Secret == "" {
		return nil
	}
	return []byte(cfg.Secret)
}

// credentialsOf reads an HTTP request's token: bearer, ?token= or the
// casual_token cookie.
func credentialsOf(r *http.Request) collab.Credentials {
	cred := collab.Credentials{Token: r.URL.Query().Get("token"), RemoteAddr: r.RemoteAddr}
	if h := r.Header.Get("Authorization"); strings.HasPrefix(h, "Bearer ") {
		cred.Token = strings.TrimPrefix(h, "Bearer ")
	} else if c, err := r.Cookie("casual_token"); cred.Token == "" && err == nil {
		cred.Token = c.Value
	}
	return cred
}

// httpAuthorizer checks an HTTP request against the document access rules
// of /sync: read access, or write access when write is set.
func httpAuthorizer(auth collab.Authorizer) func(r *http.Request, app string, write bool) error {
	return func(r *http.Request, app string, write bool) error {
		cred := credentialsOf(r)
		if err := auth.Authenticate(r.Context(), cred); err != nil {
			return fmt.Errorf("%w: %v", execute.ErrUnauthenticated, err)
		}
		id, err := crdt.ParseDocID(app)
		if err != nil {
			return err
		}
		access, err := auth.Authorize(r.Context(), cred, id)
		if err != nil {
			return err
		}
		if access < rooms.Read || write && access < rooms.Write {
			return fmt.Errorf("%w: %s access to %s", collab.ErrForbidden, access, id)
		}
		return nil
	}
}

// runAuthorizer lets a request queue runs with write access, or with a
// run-mode share (a run embed), when the authorizer knows shares.
func runAuthorizer(auth collab.Authorizer) func(r *http.Request, app string) error {
	runner, ok := auth.(interface {
		CanRun(ctx context.Context, cred collab.Credentials, doc crdt.DocID) error
	})
	check := httpAuthorizer(auth)
	return func(r *http.Request, app string) error {
		if !ok {
			return check(r, app, true)
		}
		id, err := crdt.ParseDocID(app)
		if err != nil {
			return err
		}
		cred := credentialsOf(r)
		if err := auth.Authenticate(r.Context(), cred); err != nil {
			return fmt.Errorf("%w: %v", execute.ErrUnauthenticated, err)
		}
		return runner.CanRun(r.Context(), cred, id)
	}
}

// generateAuthorizer lets a request drive the AI on an app only with write
// access to it; a request for a new app needs a signed-in caller when
// accounts are on.
func generateAuthorizer(auth collab.Authorizer, authOn bool) func(r *http.Request, app string) (string, error) {
	check := httpAuthorizer(auth)
	return func(r *http.Request, app string) (string, error) {
		if app != "" {
			return "user", check(r, app, true)
		}
		cred := credentialsOf(r)
		if authOn && cred.Token == "" {
			return "", fmt.Errorf("%w: sign in to create apps", collab.ErrUnauthorized)
		}
		return "user", auth.Authenticate(r.Context(), cred)
	}
}

// openExecutions returns the execution history and module store of a
// postgres store (the executions and execution_blobs tables, shared by the
// nodes: the history's claim runs each run once and an app's runs one at
// a time; a module uploaded through any node runs on every node), or nils
// for the executor's defaults (bbolt and a directory in the data dir).
func openExecutions(ctx context.Context, cfg Config, st store.Store) (execute.History, execute.BlobStore, error) {
	pg, ok := st.(*postgres.Store)
	if !ok {
		return nil, nil, nil
	}
	h, err := executionspg.New(ctx, pg.Pool(), executionspg.Options{AutoMigrate: cfg.AutoMigrate})
	if err != nil {
		return nil, nil, err
	}
	return h, h.Blobs(), nil
}

// runWatcher tells the executor about documents in which someone queued a
// run (a browser writing runs.<id> = {status: "queued"} directly), from
// the rooms' Stored hook, which exists before the executor does. The
// executor opens such a document, and lets it go once it has been idle
// for --executor-idle.
type runWatcher struct {
	log *slog.Logger

	mu   sync.Mutex
	peer *execute.Peer
}

func (w *runWatcher) start(p *execute.Peer) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.peer = p
}

// stored is the rooms' Stored hook. It never blocks: it runs on a room's
// goroutine. A document the executor watches needs no scan for queued
// runs: the executor sees every change of it.
func (w *runWatcher) stored(id crdt.DocID, d *crdt.Doc) {
	w.mu.Lock()
	p := w.peer
	w.mu.Unlock()
	if p != nil && !p.Touch(id) && execute.HasQueuedRun(d) {
		p.Notify(id)
	}
}

// stop forgets the peer; closing it ends the watches it started.
func (w *runWatcher) stop() {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.peer = nil
}
