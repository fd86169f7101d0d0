// Command devserver is a test-only casual server with the builder and
// embed routes mounted: the wiring of cmd/casual/serve.go (embedded store,
// rooms, collab, web) plus package ui. The browser tests in js/builder run
// it when CASUAL_BIN is not set. Same CLI surface as `casual serve` for
// what the tests use:
//
//	devserver serve --addr 127.0.0.1:8080 --data-dir ./data
//
// CASUAL_EMBED_KEY (at least 16 bytes) signs embed tokens; unset, a random
// key is used.
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
	"github.com/casual-dev/casual/store/embedded"
	"github.com/casual-dev/casual/web"
	"github.com/casual-dev/casual/web/ui"
)

func main() {
	if err := run(os.Args[1:]); err != nil {
		fmt.Fprintln(os.Stderr, "devserver:", err)
		os.Exit(1)
	}
}

func run(args []string) error {
	if len(args) > 0 && args[0] == "serve" {
		args = args[1:]
	}
	fs := flag.NewFlagSet("devserver", flag.ContinueOnError)
	addr := fs.String("addr", envOr("CASUAL_ADDR", "127.0.0.1:8080"), "listen address")
	dataDir := fs.String("data-dir", envOr("CASUAL_DATA_DIR", "./data"), "embedded store directory")
	if err := fs.Parse(args); err != nil {
		return err
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	log := slog.New(slog.NewJSONHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelInfo}))

	st, err := embedded.Open(ctx, *dataDir, embedded.Options{Logger: log})
	if err != nil {
		return err
	}
	defer st.Close()
	sid, err := st.StorageID(ctx)
	if err != nil {
		return err
	}
	reg := prometheus.NewRegistry()
	var mgr *rooms.Manager
	metrics := collab.NewMetrics(reg, func() int { return mgr.Loaded() })
	mgr = rooms.NewManager(st, rooms.Config{Logger: log}, 30*time.Second)
	cs := collab.NewServer(collab.Config{PeerID: "casual-dev", StorageID: sid, Logger: log}, mgr, nil, metrics)
	ws := web.New(web.Config{Collab: cs, Gatherer: reg, Logger: log})

	var signer ui.TokenSigner
	if k := os.Getenv("CASUAL_EMBED_KEY"); k != "" {
		signer = ui.HMACSigner{Key: []byte(k)}
	}
	pages := ui.New(ui.Config{Apps: ui.RoomApps{Rooms: mgr}, Tokens: signer, Logger: log})
	// The UI's routes sit in front of the web server: its more specific
	// patterns (GET /{$} among them) win, everything else falls through.
	mux := http.NewServeMux()
	pages.Routes(mux)
	mux.Handle("/", ws)

	ln, err := net.Listen("tcp", *addr)
	if err != nil {
		return fmt.Errorf("listen: %w", err)
	}
	hs := &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}
	errc := make(chan error, 1)
	go func() { errc <- hs.Serve(ln) }()
	log.Info("devserver serving", slog.String("addr", ln.Addr().String()), slog.String("data_dir", *dataDir))
	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
	}
	sctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	if err := hs.Shutdown(sctx); err != nil && !errors.Is(err, http.ErrServerClosed) {
		log.Warn("http shutdown", slog.Any("err", err))
	}
	if err := cs.Shutdown(sctx); err != nil {
		log.Warn("collab shutdown", slog.Any("err", err))
	}
	ws.Close()
	return nil // the deferred st.Close stores the rest
}

func envOr(k, def string) string {
	if v := os.Getenv(k); v != "" {
		return v
	}
	return def
}
