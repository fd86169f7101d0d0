// Package web is the HTTP face of the server: the WebSocket upgrade for
// /sync, health and readiness, Prometheus metrics, and the static pages.
// It is thin: it parses, authenticates, and calls the packages below.
package web

import (
	"context"
	"encoding/json"
	"log/slog"
	"net/http"
	"sync"
	"time"

	"github.com/gorilla/websocket"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/casual-dev/casual/collab"
)

// Check is one readiness probe (store reachable, bus connected...).
type Check struct {
	Name string
	Fn   func(ctx context.Context) error
}

// Config wires the web server.
type Config struct {
	Collab   *collab.Server
	Gatherer prometheus.Gatherer
	Checks   []Check
	Logger   *slog.Logger
}

// Server serves HTTP.
type Server struct {
	cfg      Config
	log      *slog.Logger
	upgrader websocket.Upgrader
	mux      *http.ServeMux
	// ctx ends every WebSocket session when the server shuts down.
	ctx    context.Context
	cancel context.CancelFunc
}

// New returns the HTTP server's handler set.
func New(cfg Config) *Server {
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	ctx, cancel := context.WithCancel(context.Background())
	s := &Server{cfg: cfg, log: cfg.Logger, mux: http.NewServeMux(), ctx: ctx, cancel: cancel}
	s.upgrader = websocket.Upgrader{
		ReadBufferSize:  256,          // frames are read by the collab server, not gorilla
		WriteBufferPool: &sync.Pool{}, // idle connections hold no write buffer
		// Any page may open a sync socket: access is decided per document
		// from the token, never from ambient cookies alone.
		CheckOrigin:       func(*http.Request) bool { return true },
		EnableCompression: false,
	}
	s.mux.HandleFunc("GET /sync", s.handleSync)
	s.mux.HandleFunc("GET /healthz", s.handleHealth)
	s.mux.HandleFunc("GET /readyz", s.handleReady)
	if cfg.Gatherer != nil {
		s.mux.Handle("GET /metrics", promhttp.HandlerFor(cfg.Gatherer, promhttp.HandlerOpts{}))
	}
	s.mux.HandleFunc("GET /info", s.handleIndex)
	return s
}

// Handle registers another route (used by the packages wired in cmd).
func (s *Server) Handle(pattern string, h http.Handler) { s.mux.Handle(pattern, h) }

// ServeHTTP implements http.Handler.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) { s.mux.ServeHTTP(w, r) }

// Close ends every WebSocket session; the collab server's Shutdown waits
// for them.
func (s *Server) Close() { s.cancel() }

func (s *Server) handleSync(w http.ResponseWriter, r *http.Request) {
	if !websocket.IsWebSocketUpgrade(r) {
		writeJSON(w, http.StatusBadRequest, errorBody("not_websocket", "connect with a WebSocket client (automerge-repo network-websocket)"))
		return
	}
	conn, err := s.upgrader.Upgrade(w, r, nil)
	if err != nil {
		return // the upgrader already answered
	}
	cred := collab.Credentials{Token: tokenOf(r), RemoteAddr: r.RemoteAddr}
	// The session outlives this handler, which returns at once: net/http
	// then releases the connection's request buffers and the handler's
	// stack, which an idle WebSocket would otherwise keep; the collab
	// server reads the socket only when bytes arrive.
	// Authentication failures are told over the socket (an error message,
	// then close): an HTTP 401 here crashes Node automerge-repo clients.
	s.cfg.Collab.ServeWebSocket(s.ctx, conn, cred)
}

func tokenOf(r *http.Request) string {
	if t := r.URL.Query().Get("token"); t != "" {
		return t
	}
	if c, err := r.Cookie("casual_token"); err == nil {
		return c.Value
	}
	return ""
}

func (s *Server) handleHealth(w http.ResponseWriter, r *http.Request) {
	writeJSON(w, http.StatusOK, map[string]any{"status": "ok"})
}

func (s *Server) handleReady(w http.ResponseWriter, r *http.Request) {
	ctx, cancel := context.WithTimeout(r.Context(), 3*time.Second)
	defer cancel()
	status, code := map[string]string{}, http.StatusOK
	for _, c := range s.cfg.Checks {
		if err := c.Fn(ctx); err != nil {
			status[c.Name] = err.Error()
			code = http.StatusServiceUnavailable
		} else {
			status[c.Name] = "ok"
		}
	}
	if s.ctx.Err() != nil {
		status["server"], code = "shutting down", http.StatusServiceUnavailable
	}
	writeJSON(w, code, map[string]any{"ready": code == http.StatusOK, "checks": status})
}

func (s *Server) handleIndex(w http.ResponseWriter, r *http.Request) {
	cfg := s.cfg.Collab.Config()
	writeJSON(w, http.StatusOK, map[string]any{
		"service":   "casual",
		"sync":      "ws://" + r.Host + "/sync",
		"peerId":    cfg.PeerID,
		"storageId": cfg.StorageID,
		"endpoints": []string{"/sync", "/signal", "/rtc/offer", "/rtc/config", "/healthz", "/readyz", "/metrics", "/", "/edit/{app}", "/embed/{app}"},
	})
}

func errorBody(code, msg string) map[string]any {
	return map[string]any{"error": map[string]string{"code": code, "message": msg}}
}

func writeJSON(w http.ResponseWriter, code int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	_ = json.NewEncoder(w).Encode(v)
}
