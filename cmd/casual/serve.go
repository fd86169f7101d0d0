package main

import (
	"context"
	"errors"
	"fmt"
	"github.com/casual-dev/casual/accounts"
	accountsapi "github.com/casual-dev/casual/accounts/api"
	accountsembedded "github.com/casual-dev/casual/accounts/embedded"
	accountspg "github.com/casual-dev/casual/accounts/postgres"
	"github.com/casual-dev/casual/collab/client"
	"github.com/casual-dev/casual/crdt"
	"github.com/casual-dev/casual/execute"
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

	"github.com/casual-dev/casual/collab"
	"github.com/casual-dev/casual/generate"
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
			Stored: func(id crdt.DocID, d *crdt.Doc) {
				if execute.HasQueuedRun(d) {
					runs.watch(id)
				}
			},
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
	svc, err := accounts.New(ctx, accounts.Config{
		Store: acctStore, Rooms: mgr, Docs: st, Secret: secretOf(cfg),
		BaseURL: cfg.PublicURL, AuthOff: !cfg.Auth, Logger: log,
	})
	if err != nil {
		return fmt.Errorf("accounts: %w", err)
	}
	auth := svc.Authorizer()

	cs := collab.NewServer(collab.Config{
		PeerID: cfg.PeerID, StorageID: storageID, MaxFrameBytes: cfg.MaxFrameBytes,
		MaxDocsPerConn: cfg.MaxDocsPerConn, RatePerSec: cfg.RatePerSec, RateBurst: cfg.RateBurst,
		SendQueue: cfg.SendQueue, PingInterval: cfg.PingInterval, Logger: log,
	}, mgr, auth, metrics)

	ws := web.New(web.Config{
		Collab: cs, Gatherer: reg, Logger: log, Checks: checks,
	})

	if cfg.Pprof {
		ws.Handle("/debug/pprof/", http.HandlerFunc(pprof.Index))
		ws.Handle("/debug/pprof/profile", http.HandlerFunc(pprof.Profile))
		ws.Handle("/debug/pprof/heap", pprof.Handler("heap"))
		ws.Handle("/debug/pprof/goroutine", pprof.Handler("goroutine"))
	}
	pages := ui.New(ui.Config{Apps: ui.RoomApps{Rooms: mgr}, Tokens: embedSigner(cfg), Logger: log})
	pages.Routes(ws)

	api, err := accountsapi.New(accountsapi.Config{Service: svc, Presence: accountsapi.RoomsPresence{Rooms: mgr},
		PublicURL: cfg.PublicURL, TrustProxy: cfg.TrustProxy, Logger: log})
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

	exec, err := execute.Open(ctx, execute.Options{
		DataDir: filepath.Join(cfg.DataDir, "execute"), QuickJSPath: cfg.QuickJSWasm,
		Dial: func(ctx context.Context) (client.Transport, error) {
			return cs.Connect(ctx, collab.Credentials{Actor: "executor"}), nil
		},
		NodeID: "executor-" + cfg.NodeID, Registerer: reg, Logger: log,
		Authorize: httpAuthorizer(auth),
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

	gen, err := generate.New(cfg.AI, cs, generate.Options{Logger: log, Authorize: generateAuthorizer(auth, cfg.Auth)})
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

// embedSigner signs embed tokens with --embed-key; nil lets ui pick a
// random key (tokens then die with the process).
func embedSigner(cfg Config) ui.TokenSigner {
	if cfg.EmbedKey == "" {
		return nil
	}
	return ui.HMACSigner{Key: []byte(cfg.EmbedKey)}
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

// runWatcher asks the executor to watch documents in which someone queued
// a run (a browser writing runs.<id> = {status: "queued"} directly). A
// watched document stays open while the executor runs (the protocol has no
// way to stop syncing one document).
type runWatcher struct {
	log *slog.Logger

	mu       sync.Mutex
	peer     *execute.Peer
	ctx      context.Context
	cancel   context.CancelFunc
	watching map[crdt.DocID]bool
	wg       sync.WaitGroup
}

func (w *runWatcher) start(p *execute.Peer) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.peer = p
	w.ctx, w.cancel = context.WithCancel(context.Background())
	w.watching = map[crdt.DocID]bool{}
}

// watch never blocks: it runs on a room's goroutine.
func (w *runWatcher) watch(id crdt.DocID) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.peer == nil || w.watching[id] || w.ctx.Err() != nil {
		return
	}
	w.watching[id] = true
	w.wg.Add(1)
	go func() {
		defer w.wg.Done()
		if _, err := w.peer.Watch(w.ctx, id); err != nil && w.ctx.Err() == nil {
			w.log.Warn("executor could not watch document", slog.String("doc", string(id)), slog.Any("err", err))
			w.mu.Lock()
			delete(w.watching, id)
			w.mu.Unlock()
		}
	}()
}

func (w *runWatcher) stop() {
	w.mu.Lock()
	if w.cancel != nil {
		w.cancel()
	}
	w.mu.Unlock()
	w.wg.Wait()
}
