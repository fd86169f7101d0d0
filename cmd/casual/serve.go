package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"

	"github.com/casual-dev/casual/collab"
	"github.com/casual-dev/casual/rooms"
	"github.com/casual-dev/casual/store"
	"github.com/casual-dev/casual/store/embedded"
	"github.com/casual-dev/casual/store/postgres"
	"github.com/casual-dev/casual/web"
)

func serve(ctx context.Context, cfg Config, logOut io.Writer) error {
	log := slog.New(slog.NewJSONHandler(logOut, &slog.HandlerOptions{Level: cfg.LogLevel}))
	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))

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

	mgr = rooms.NewManager(st, rooms.Config{
		MaxDocBytes: cfg.MaxDocBytes, PresenceTTL: cfg.PresenceTTL, Logger: log,
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
		},
	}, cfg.IdleUnload)

	cs := collab.NewServer(collab.Config{
		PeerID: cfg.PeerID, StorageID: storageID, MaxFrameBytes: cfg.MaxFrameBytes,
		MaxDocsPerConn: cfg.MaxDocsPerConn, RatePerSec: cfg.RatePerSec, RateBurst: cfg.RateBurst,
		SendQueue: cfg.SendQueue, PingInterval: cfg.PingInterval, Logger: log,
	}, mgr, nil, metrics)

	ws := web.New(web.Config{
		Collab: cs, Gatherer: reg, Logger: log,
		Checks: []web.Check{{Name: "store", Fn: func(ctx context.Context) error {
			_, err := st.StorageID(ctx)
			return err
		}}},
	})

	ln, err := net.Listen("tcp", cfg.Addr)
	if err != nil {
		return fmt.Errorf("listen: %w", err)
	}
	hs := &http.Server{Handler: ws, ReadHeaderTimeout: 10 * time.Second}
	errc := make(chan error, 1)
	go func() { errc <- hs.Serve(ln) }()
	log.Info("casual serving", slog.String("addr", ln.Addr().String()), slog.String("data_dir", cfg.DataDir),
		slog.String("peer_id", cfg.PeerID), slog.String("storage_id", storageID))

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
	if err := cs.Shutdown(sctx); err != nil {
		log.Error("shutdown", slog.Any("err", err))
	}
	ws.Close()
	if err := st.Close(); err != nil {
		return fmt.Errorf("close store: %w", err)
	}
	log.Info("stopped")
	return nil
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
	fmt.Fprintln(stdout, "migrations applied")
	return nil
}
