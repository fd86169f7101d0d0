// Command testserver runs the whole server stack (embedded store, rooms,
// collab, web) with the WebRTC gateway and signaling relay mounted, for
// the browser tests in js/webrtc until cmd/casual wires them. It takes
// the arguments js/interop/server.mjs passes: serve --addr A --data-dir D.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/casual-dev/casual/collab"
	"github.com/casual-dev/casual/rooms"
	"github.com/casual-dev/casual/signaling"
	"github.com/casual-dev/casual/store/embedded"
	"github.com/casual-dev/casual/web"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	args := os.Args[1:]
	if len(args) > 0 && args[0] == "serve" {
		args = args[1:]
	}
	fs := flag.NewFlagSet("testserver", flag.ExitOnError)
	addr := fs.String("addr", envOr("CASUAL_ADDR", "127.0.0.1:8080"), "listen address")
	dir := fs.String("data-dir", envOr("CASUAL_DATA_DIR", "./data"), "embedded store directory")
	fs.Parse(args)
	if err := run(ctx, *addr, *dir); err != nil {
		fmt.Fprintln(os.Stderr, "testserver:", err)
		os.Exit(1)
	}
}

func envOr(k, def string) string {
	if v := os.Getenv(k); v != "" {
		return v
	}
	return def
}

func run(ctx context.Context, addr, dir string) error {
	log := slog.New(slog.NewJSONHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelInfo}))
	reg := prometheus.NewRegistry()
	st, err := embedded.Open(ctx, dir, embedded.Options{Logger: log})
	if err != nil {
		return err
	}
	defer st.Close()
	sid, err := st.StorageID(ctx)
	if err != nil {
		return err
	}
	var mgr *rooms.Manager
	metrics := collab.NewMetrics(reg, func() int { return mgr.Loaded() })
	mgr = rooms.NewManager(st, rooms.Config{Logger: log}, 30*time.Second)
	auth := collab.OpenAccess{}
	cs := collab.NewServer(collab.Config{PeerID: "casual-testserver", StorageID: sid, Logger: log}, mgr, auth, metrics)
	sm := signaling.NewMetrics(reg)
	gw, err := signaling.NewGateway(cs, signaling.GatewayConfig{Auth: auth, Metrics: sm, Logger: log})
	if err != nil {
		return err
	}
	relay := signaling.NewRelay(signaling.RelayConfig{Auth: auth, Metrics: sm, Logger: log})
	ws := web.New(web.Config{Collab: cs, Gatherer: reg, Logger: log})
	gw.Register(ws)
	ws.Handle("GET /signal", relay)

	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return fmt.Errorf("listen: %w", err)
	}
	hs := &http.Server{Handler: ws, ReadHeaderTimeout: 10 * time.Second}
	errc := make(chan error, 1)
	go func() { errc <- hs.Serve(ln) }()
	log.Info("testserver serving", slog.String("addr", ln.Addr().String()))
	select {
	case err := <-errc:
		return fmt.Errorf("http: %w", err)
	case <-ctx.Done():
	}
	sctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := hs.Shutdown(sctx); err != nil && !errors.Is(err, http.ErrServerClosed) {
		log.Warn("http shutdown", slog.Any("err", err))
	}
	if err := cs.Shutdown(sctx); err != nil {
		log.Error("shutdown", slog.Any("err", err))
	}
	if err := gw.Close(sctx); err != nil {
		log.Error("gateway close", slog.Any("err", err))
	}
	if err := relay.Close(sctx); err != nil {
		log.Error("relay close", slog.Any("err", err))
	}
	ws.Close()
	return nil
}
