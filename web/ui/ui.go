// Package ui serves the browser side of casual: the multiplayer builder
// page, the embeddable app page (/embed/{appId}) with its signed embed
// tokens, the component registry and templates the builder reads, app
// creation from a template, and the bundled assets (built from js/builder
// by scripts/build-web.sh into dist/, which is embedded in the binary).
//
// The pages themselves talk to the server over the automerge-repo
// protocol on /sync like any other client; this package only hands them
// their HTML, configuration and assets.
package ui

import (
	"context"
	"crypto/rand"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"strings"
	"time"

	"github.com/casual-dev/casual/canvas"
	"github.com/casual-dev/casual/crdt"
)

// Router is where Routes registers its handlers: an *http.ServeMux, or
// the web server (web.Server.Handle).
type Router interface {
	Handle(pattern string, h http.Handler)
}

// AppCreator creates app documents: a new document built from a starter
// template (canvas.NewApp), stored before CreateApp returns.
type AppCreator interface {
	CreateApp(ctx context.Context, name, template string) (crdt.DocID, error)
}

// Config wires the pages.
type Config struct {
	// Apps creates app documents for POST /app/new. Nil: the endpoint
	// answers 501 and the builder creates blank apps itself.
	Apps AppCreator
	// Tokens signs and verifies embed tokens. Nil: an HMACSigner with a
	// random key, so tokens stop working when the process restarts.
	Tokens TokenSigner
	// Auth tells the builder that accounts are on: it signs people in
	// (through /v1/auth), lists and creates apps through /v1/apps and
	// connects to the sync socket with their access token.
	Auth bool
	// SyncPath is the WebSocket endpoint the pages connect to (default
	// /sync).
	SyncPath string
	Logger   *slog.Logger
	// Now is the clock for token expiry (default time.Now).
	Now func() time.Time
}

// UI serves the pages. Create it with New.
type UI struct {
	cfg    Config
	log    *slog.Logger
	assets *assets
}

// New returns the pages' handlers.
func New(cfg Config) *UI {
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.SyncPath == "" {
		cfg.SyncPath = "/sync"
	}
	if cfg.Tokens == nil {
		key := make([]byte, 32)
		_, _ = rand.Read(key)
		cfg.Tokens = HMACSigner{Key: key, Now: cfg.Now}
		cfg.Logger.Warn("no embed signing key configured: using a random one; embed tokens stop working on restart")
	}
	u := &UI{cfg: cfg, log: cfg.Logger, assets: loadAssets()}
	if !u.assets.has("builder.js") {
		cfg.Logger.Warn("builder assets are not built into this binary: run scripts/build-web.sh, then rebuild")
	}
	return u
}

// Routes registers every route of the pages:
//
//	GET  /                          builder: create or open an app
//	GET  /edit/{app}                builder: edit an app
//	GET  /embed/{app}?token=…       the app, live, for an iframe
//	GET  /app/registry              component registry (canvas.Registry)
//	GET  /app/templates             starter templates
//	POST /app/new?template=&name=   create an app from a template
//	POST /app/{app}/embed-token     sign an embed token for an app
//	GET  /ui/{file}                 bundled assets
func (u *UI) Routes(r Router) {
	r.Handle("GET /{$}", http.HandlerFunc(u.handleBuilder))
	r.Handle("GET /edit/{app}", http.HandlerFunc(u.handleBuilder))
	r.Handle("GET /embed/{app}", http.HandlerFunc(u.handleEmbed))
	r.Handle("GET /app/registry", http.HandlerFunc(u.handleRegistry))
	r.Handle("GET /app/templates", http.HandlerFunc(u.handleTemplates))
	r.Handle("POST /app/new", http.HandlerFunc(u.handleNewApp))
	r.Handle("POST /app/{app}/embed-token", http.HandlerFunc(u.handleEmbedToken))
	r.Handle("GET /ui/{file...}", http.HandlerFunc(u.assets.serve))
}

func (u *UI) handleRegistry(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Cache-Control", "no-cache")
	writeJSON(w, http.StatusOK, canvas.Registry())
}

func (u *UI) handleTemplates(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Cache-Control", "no-cache")
	writeJSON(w, http.StatusOK, map[string]any{"templates": canvas.Templates(), "create": u.cfg.Apps != nil})
}

func (u *UI) handleNewApp(w http.ResponseWriter, r *http.Request) {
	if u.cfg.Apps == nil {
		writeError(w, http.StatusNotImplemented, "not_configured", "this server cannot create apps; create a blank app in the page")
		return
	}
	q := r.URL.Query()
	name, tpl := strings.TrimSpace(q.Get("name")), q.Get("template")
	if len(name) > 200 {
		writeError(w, http.StatusBadRequest, "invalid_name", "app name must be at most 200 bytes")
		return
	}
	ctx, cancel := context.WithTimeout(r.Context(), 15*time.Second)
	defer cancel()
	id, err := u.cfg.Apps.CreateApp(ctx, name, tpl)
	switch {
	case errors.Is(err, canvas.ErrUnknownTemplate):
		writeError(w, http.StatusBadRequest, "unknown_template", err.Error())
		return
	case errors.Is(err, canvas.ErrInvalidOp):
		writeError(w, http.StatusBadRequest, "invalid_name", err.Error())
		return
	case err != nil:
		u.log.Error("create app", slog.String("template", tpl), slog.Any("err", err))
		writeError(w, http.StatusInternalServerError, "create_failed", "could not create the app")
		return
	}
	u.log.Info("app created", slog.String("doc", string(id)), slog.String("template", tpl))
	writeJSON(w, http.StatusCreated, map[string]string{"id": string(id), "url": id.URL(), "edit": "/edit/" + string(id)})
}

// tokenRequest is the body of POST /app/{app}/embed-token.
type tokenRequest struct {
	Page    string   `json:"page"`
	Mode    string   `json:"mode"`
	Origins []string `json:"origins"`
	TTL     string   `json:"ttl"` // Go duration, default 720h
}

// handleEmbedToken signs a token for the app. It serves --auth off, where
// anyone who can reach the server may edit every app, so anyone may also
// embed one. With accounts on the signer refuses (ErrSigningUnavailable):
// embeds are then revocable shares made by the app's admins through the
// accounts API.
func (u *UI) handleEmbedToken(w http.ResponseWriter, r *http.Request) {
	app, err := crdt.ParseDocID(r.PathValue("app"))
	if err != nil {
		writeError(w, http.StatusBadRequest, "invalid_app", err.Error())
		return
	}
	var req tokenRequest
	dec := json.NewDecoder(http.MaxBytesReader(w, r.Body, 16<<10))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&req); err != nil {
		writeError(w, http.StatusBadRequest, "invalid_body", err.Error())
		return
	}
	ttl := 720 * time.Hour
	if req.TTL != "" {
		if ttl, err = time.ParseDuration(req.TTL); err != nil || ttl <= 0 || ttl > MaxTokenTTL {
			writeError(w, http.StatusBadRequest, "invalid_ttl", fmt.Sprintf("ttl: want a duration up to %s", MaxTokenTTL))
			return
		}
	}
	if req.Mode == "" {
		req.Mode = ModeView
	}
	origins := make([]string, 0, len(req.Origins))
	for _, o := range req.Origins {
		if o = NormalizeOrigin(o); o != "" {
			origins = append(origins, o)
		}
	}
	now := u.cfg.Now()
	claims := EmbedClaims{Version: tokenVersion, App: string(app), Page: req.Page, Mode: req.Mode,
		Origins: origins, Expires: now.Add(ttl).Unix(), Issued: now.Unix()}
	token, err := u.cfg.Tokens.Sign(claims)
	if errors.Is(err, ErrSigningUnavailable) {
		writeError(w, http.StatusNotImplemented, "not_configured",
			err.Error()+": create an embed share with POST /v1/apps/"+string(app)+"/shares {\"kind\":\"embed\"}")
		return
	}
	if err != nil {
		writeError(w, http.StatusBadRequest, "invalid_claims", err.Error())
		return
	}
	embedURL := "/embed/" + string(app) + "?token=" + token
	writeJSON(w, http.StatusOK, map[string]any{
		"token": token, "expires": claims.ExpiresAt().UTC().Format(time.RFC3339), "path": embedURL,
	})
}

func writeJSON(w http.ResponseWriter, code int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	_ = json.NewEncoder(w).Encode(v)
}

func writeError(w http.ResponseWriter, code int, kind, msg string) {
	writeJSON(w, code, map[string]any{"error": map[string]string{"code": kind, "message": msg}})
}
