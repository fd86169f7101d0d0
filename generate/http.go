package generate

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
)

// maxBodyBytes bounds a request body.
const maxBodyBytes = 1 << 20

// Routes registers the generation API on mux:
//
//	POST /v1/generate/analyze      {prompt}                          → Intent
//	POST /v1/generate/manifest     {prompt, appId?, mode?}           → 202 Run
//	POST /v1/generate/components   {prompt, appId, selection, mode?} → 202 Run
//	POST /v1/generate/optimize     {appId, prompt?, mode?}           → 202 Run
//	POST /v1/generate/explain      {appId, componentId?}             → Explanation
//	GET  /v1/generate/runs?appId=&limit=                             → {runs: [Run]}
//	GET  /v1/generate/runs/{id}                                      → Run
//	POST /v1/generate/runs/{id}/cancel|accept|reject|revert          → Run
//
// Errors are {"error": {"code", "message"}}. Who may call these is
// decided by Options.Authorize.
func (g *Generator) Routes(mux *http.ServeMux) {
	mux.HandleFunc("POST /v1/generate/analyze", g.handleAnalyze)
	mux.HandleFunc("POST /v1/generate/manifest", g.handleStart(KindManifest))
	mux.HandleFunc("POST /v1/generate/components", g.handleStart(KindComponents))
	mux.HandleFunc("POST /v1/generate/optimize", g.handleStart(KindOptimize))
	mux.HandleFunc("POST /v1/generate/explain", g.handleExplain)
	mux.HandleFunc("GET /v1/generate/runs", g.handleList)
	mux.HandleFunc("GET /v1/generate/runs/{id}", g.handleGet)
	mux.HandleFunc("POST /v1/generate/runs/{id}/{action}", g.handleAction)
}

// errForbidden is what an Authorize failure is answered with.
var errForbidden = errors.New("forbidden")

// authorize asks Options.Authorize about app; it returns who is asking.
func (g *Generator) authorize(r *http.Request, app string) (string, error) {
	if g.authz == nil {
		return "", nil
	}
	by, err := g.authz(r, app)
	if err != nil {
		return "", fmt.Errorf("%w: %v", errForbidden, err)
	}
	return by, nil
}

func (g *Generator) handleAnalyze(w http.ResponseWriter, r *http.Request) {
	var body struct {
		Prompt string `json:"prompt"`
	}
	if !decode(w, r, &body) {
		return
	}
	if _, err := g.authorize(r, ""); err != nil {
		writeError(w, err)
		return
	}
	in, err := g.Analyze(r.Context(), body.Prompt)
	if err != nil {
		writeError(w, err)
		return
	}
	writeJSON(w, http.StatusOK, in)
}

func (g *Generator) handleStart(kind Kind) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		var req Request
		if !decode(w, r, &req) {
			return
		}
		if req.Kind != "" && req.Kind != kind {
			writeError(w, fmt.Errorf("%w: kind %q on the %s endpoint", ErrInvalidRequest, req.Kind, kind))
			return
		}
		req.Kind = kind
		by, err := g.authorize(r, req.AppID)
		if err != nil {
			writeError(w, err)
			return
		}
		req.By = by
		run, err := g.Start(r.Context(), req)
		if err != nil {
			writeError(w, err)
			return
		}
		writeJSON(w, http.StatusAccepted, run)
	}
}

func (g *Generator) handleExplain(w http.ResponseWriter, r *http.Request) {
	var body struct {
		AppID       string `json:"appId"`
		ComponentID string `json:"componentId"`
	}
	if !decode(w, r, &body) {
		return
	}
	if _, err := g.authorize(r, body.AppID); err != nil {
		writeError(w, err)
		return
	}
	ex, err := g.Explain(r.Context(), body.AppID, body.ComponentID)
	if err != nil {
		writeError(w, err)
		return
	}
	writeJSON(w, http.StatusOK, ex)
}

func (g *Generator) handleList(w http.ResponseWriter, r *http.Request) {
	app := r.URL.Query().Get("appId")
	limit := 50
	if s := r.URL.Query().Get("limit"); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil || n < 1 || n > 1000 {
			writeError(w, fmt.Errorf("%w: limit must be 1-1000", ErrInvalidRequest))
			return
		}
		limit = n
	}
	if _, err := g.authorize(r, app); err != nil {
		writeError(w, err)
		return
	}
	runs, err := g.List(r.Context(), app, limit)
	if err != nil {
		writeError(w, err)
		return
	}
	if runs == nil {
		runs = []Run{}
	}
	writeJSON(w, http.StatusOK, map[string]any{"runs": runs})
}

// runFor returns the run named in the path after checking the caller may
// see its app.
func (g *Generator) runFor(w http.ResponseWriter, r *http.Request) (Run, bool) {
	run, err := g.Get(r.Context(), r.PathValue("id"))
	if err == nil {
		_, err = g.authorize(r, run.AppID)
	}
	if err != nil {
		writeError(w, err)
		return Run{}, false
	}
	return run, true
}

func (g *Generator) handleGet(w http.ResponseWriter, r *http.Request) {
	if run, ok := g.runFor(w, r); ok {
		writeJSON(w, http.StatusOK, run)
	}
}

func (g *Generator) handleAction(w http.ResponseWriter, r *http.Request) {
	actions := map[string]func(context.Context, string) (Run, error){
		"cancel": g.Cancel, "accept": g.Accept, "reject": g.Reject, "revert": g.Revert,
	}
	act, ok := actions[r.PathValue("action")]
	if !ok {
		writeJSON(w, http.StatusNotFound, errorBody("not_found", "unknown action; want cancel, accept, reject or revert"))
		return
	}
	run, ok := g.runFor(w, r)
	if !ok {
		return
	}
	run, err := act(r.Context(), run.ID)
	if err != nil {
		writeError(w, err)
		return
	}
	writeJSON(w, http.StatusOK, run)
}

// decode reads a JSON body strictly; on failure it answers 400 and
// returns false. An empty body decodes as {}.
func decode(w http.ResponseWriter, r *http.Request, v any) bool {
	dec := json.NewDecoder(http.MaxBytesReader(w, r.Body, maxBodyBytes))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil && !errors.Is(err, io.EOF) {
		var tooBig *http.MaxBytesError
		if errors.As(err, &tooBig) {
			writeJSON(w, http.StatusRequestEntityTooLarge, errorBody("too_large", fmt.Sprintf("body over %d bytes", maxBodyBytes)))
			return false
		}
		writeJSON(w, http.StatusBadRequest, errorBody("bad_request", "body: "+err.Error()))
		return false
	}
	return true
}

// writeError answers err with its status and code.
func writeError(w http.ResponseWriter, err error) {
	status := http.StatusInternalServerError
	code := errorCode(err)
	switch {
	case errors.Is(err, errForbidden):
		status, code = http.StatusForbidden, "forbidden"
	case errors.Is(err, ErrInvalidRequest):
		status = http.StatusBadRequest
	case errors.Is(err, ErrRunNotFound), errors.Is(err, ErrAppNotFound):
		status = http.StatusNotFound
	case errors.Is(err, ErrConflict):
		status = http.StatusConflict
	case errors.Is(err, ErrRateLimited):
		status = http.StatusTooManyRequests
		wait := defaultRetryAfter
		if pe := (*ProviderError)(nil); errors.As(err, &pe) && pe.RetryAfter > 0 {
			wait = pe.RetryAfter
		}
		w.Header().Set("Retry-After", retryAfterSeconds(wait))
	case errors.Is(err, ErrTimeout), errors.Is(err, context.DeadlineExceeded):
		status = http.StatusGatewayTimeout
	case errors.Is(err, ErrAuth), errors.Is(err, ErrUnknownModel), errors.Is(err, ErrProvider):
		status = http.StatusBadGateway
	case errors.Is(err, ErrClosed):
		status = http.StatusServiceUnavailable
	}
	writeJSON(w, status, errorBody(code, err.Error()))
}

func errorBody(code, msg string) map[string]any {
	return map[string]any{"error": map[string]string{"code": code, "message": msg}}
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	json.NewEncoder(w).Encode(v) // the client may be gone; nothing to do then
}
