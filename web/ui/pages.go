package ui

import (
	"context"
	"errors"
	"html/template"
	"log/slog"
	"net/http"
	"strings"
	"time"

	"github.com/casual-dev/casual/crdt"
)

// pageTemplate is the HTML shell of both pages: the stylesheet, the
// configuration as inert JSON (no inline script, so the CSP can forbid
// them), and the module.
var pageTemplate = template.Must(template.New("page").Parse(`<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{{.Title}}</title>
<link rel="icon" href="data:,">
<link rel="stylesheet" href="{{.CSS}}">
<script id="casual-config" type="application/json">{{.Config}}</script>
<script type="module" src="{{.JS}}"></script>
</head>
<body class="{{.BodyClass}}"><div id="root"></div></body>
</html>
`))

// errorTemplate is what an embed shows when its token is refused. It runs
// no script and connects nowhere.
var errorTemplate = template.Must(template.New("error").Parse(`<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Embed unavailable</title>
<style>
body{margin:0;font:15px/1.5 system-ui,sans-serif;color:#1f2937;background:#f9fafb;display:grid;place-items:center;min-height:100vh}
.box{max-width:420px;padding:24px 28px;border:1px solid #e5e7eb;border-radius:12px;background:#fff;text-align:center}
h1{font-size:17px;margin:0 0 6px}p{margin:0;color:#6b7280}
</style>
</head>
<body><div class="box" id="embed-error" data-error="{{.Code}}"><h1>{{.Title}}</h1><p>{{.Message}}</p></div></body>
</html>
`))

type pageData struct {
	Title, CSS, JS, BodyClass string
	Config                    any // rendered as JSON by html/template
}

const builderCSP = "default-src 'self'; script-src 'self' 'wasm-unsafe-eval'; style-src 'self' 'unsafe-inline'; " +
	"img-src * data: blob:; connect-src 'self'; frame-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'self'"

func (u *UI) handleBuilder(w http.ResponseWriter, r *http.Request) {
	app := r.PathValue("app")
	if app != "" {
		id, err := crdt.ParseDocID(app)
		if err != nil {
			http.Error(w, "not an app id: "+err.Error(), http.StatusNotFound)
			return
		}
		app = string(id)
	}
	if !u.assets.has("builder.js") {
		http.Error(w, "the builder page is not built into this binary: run scripts/build-web.sh, then rebuild", http.StatusServiceUnavailable)
		return
	}
	h := w.Header()
	h.Set("Content-Security-Policy", builderCSP)
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Referrer-Policy", "same-origin")
	h.Set("Cache-Control", "no-cache")
	u.render(w, http.StatusOK, pageData{
		Title: "Casual builder", CSS: u.assets.url("builder.css"), JS: u.assets.url("builder.js"), BodyClass: "builder",
		Config: map[string]any{
			"app": app, "sync": u.cfg.SyncPath, "wasm": u.assets.url("automerge.wasm"), "auth": u.cfg.Auth,
		},
	})
}

// embedError is how a refused token is shown and answered.
type embedError struct {
	Status               int
	Code, Title, Message string
}

func classifyTokenError(err error) embedError {
	switch {
	case errors.Is(err, ErrTokenExpired):
		return embedError{http.StatusUnauthorized, "expired", "This embed link has expired",
			"Ask the app's owner for a new embed code."}
	case errors.Is(err, ErrTokenRevoked):
		return embedError{http.StatusUnauthorized, "revoked", "This embed link was revoked",
			"The app's owner turned this embed off. Ask them for a new embed code."}
	case errors.Is(err, ErrTokenWrongApp):
		return embedError{http.StatusForbidden, "wrong_app", "This embed link is for another app",
			"The token does not grant access to this app."}
	case errors.Is(err, ErrTokenWrongPage):
		return embedError{http.StatusForbidden, "wrong_page", "This embed link is for another page",
			"The token does not grant access to this page of the app."}
	case errors.Is(err, errNoToken):
		return embedError{http.StatusUnauthorized, "missing", "This embed needs a token",
			"Embed links carry a token: copy the embed code from the builder."}
	}
	return embedError{http.StatusUnauthorized, "invalid", "This embed link is not valid",
		"The token is damaged or was not issued by this server."}
}

var errNoToken = errors.New("no embed token")

func (u *UI) handleEmbed(w http.ResponseWriter, r *http.Request) {
	id, err := crdt.ParseDocID(r.PathValue("app"))
	if err != nil {
		u.embedRefused(w, r, embedError{http.StatusNotFound, "not_found", "No such app", "The embed address does not name an app."})
		return
	}
	token := r.URL.Query().Get("token")
	page := r.URL.Query().Get("page")
	claims, err := u.verify(r.Context(), token)
	if err == nil {
		err = claims.CheckTarget(string(id), page)
	}
	if err != nil {
		u.log.Info("embed refused", slog.String("doc", string(id)), slog.Any("err", err))
		u.embedRefused(w, r, classifyTokenError(err))
		return
	}
	if !u.assets.has("embed.js") {
		http.Error(w, "the embed page is not built into this binary: run scripts/build-web.sh, then rebuild", http.StatusServiceUnavailable)
		return
	}
	if page == "" {
		page = claims.Page
	}
	h := w.Header()
	h.Set("Content-Security-Policy", embedCSP(claims.Origins))
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Referrer-Policy", "no-referrer")
	h.Set("Cache-Control", "no-store")
	u.render(w, http.StatusOK, pageData{
		Title: "Casual app", CSS: u.assets.url("embed.css"), JS: u.assets.url("embed.js"), BodyClass: "embed",
		Config: map[string]any{
			"app": string(id), "page": page, "lockPage": claims.Page != "", "mode": claims.Mode,
			"origins": claims.Origins, "token": token, "expires": claims.Expires,
			"sync": u.cfg.SyncPath, "wasm": u.assets.url("automerge.wasm"), "auth": u.cfg.Auth,
		},
	})
}

func (u *UI) verify(ctx context.Context, token string) (EmbedClaims, error) {
	if token == "" {
		return EmbedClaims{}, errNoToken
	}
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	return u.cfg.Tokens.Verify(ctx, token)
}

// embedCSP lets only the token's origins frame the page. The error page
// sets none: it holds nothing of the app, and the host must be able to
// show why the embed is refused.
func embedCSP(origins []string) string {
	fa := "'none'"
	if len(origins) > 0 {
		fa = strings.Join(origins, " ")
	}
	return "default-src 'self'; script-src 'self' 'wasm-unsafe-eval'; style-src 'self' 'unsafe-inline'; " +
		"img-src * data: blob:; connect-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors " + fa
}

func (u *UI) embedRefused(w http.ResponseWriter, r *http.Request, e embedError) {
	h := w.Header()
	h.Set("Content-Security-Policy", "default-src 'none'; style-src 'unsafe-inline'")
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Cache-Control", "no-store")
	h.Set("Content-Type", "text/html; charset=utf-8")
	w.WriteHeader(e.Status)
	if err := errorTemplate.Execute(w, e); err != nil {
		u.log.Warn("render embed error", slog.Any("err", err))
	}
}

func (u *UI) render(w http.ResponseWriter, code int, d pageData) {
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	var b strings.Builder
	if err := pageTemplate.Execute(&b, d); err != nil {
		u.log.Error("render page", slog.Any("err", err))
		http.Error(w, "render failed", http.StatusInternalServerError)
		return
	}
	w.WriteHeader(code)
	_, _ = w.Write([]byte(b.String()))
}
