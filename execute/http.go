package execute

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"time"

	"github.com/casual-dev/casual/collab/client"
	"github.com/casual-dev/casual/crdt"
)

// Router is what Routes registers on: *http.ServeMux, or the web server.
type Router interface {
	Handle(pattern string, h http.Handler)
}

// Request body limits of the API.
const (
	maxExecuteBody = 8 << 20
	maxModuleBody  = 32 << 20
)

// Routes registers the execution API:
//
//	POST /v1/apps/{id}/execute     {handler, input?, event?, wait?} → 202 record, or 200 with the result when wait
//	GET  /v1/apps/{id}/executions  ?limit=50 → {executions: [record...]}, newest first
//	GET  /v1/executions/{id}       → record
//	POST /v1/apps/{id}/modules     body: a WASI module → 201 {module: "sha256:<hex>"}
//
// {id} of an app is its document id. Errors are {error: {code, message}}.
func (x *Executor) Routes(mux Router) {
	mux.Handle("POST /v1/apps/{id}/execute", http.HandlerFunc(x.handleExecute))
	mux.Handle("GET /v1/apps/{id}/executions", http.HandlerFunc(x.handleList))
	mux.Handle("GET /v1/executions/{id}", http.HandlerFunc(x.handleGet))
	mux.Handle("POST /v1/apps/{id}/modules", http.HandlerFunc(x.handleUpload))
}

// app parses and authorizes the app id of the request; on failure it has
// answered.
func (x *Executor) app(w http.ResponseWriter, r *http.Request, write bool) (crdt.DocID, bool) {
	id, err := crdt.ParseDocID(r.PathValue("id"))
	if err != nil {
		writeError(w, http.StatusBadRequest, "bad_app_id", err.Error())
		return "", false
	}
	return id, x.authorize(w, r, string(id), write)
}

func (x *Executor) authorize(w http.ResponseWriter, r *http.Request, app string, write bool) bool {
	if x.opts.Authorize == nil {
		return true
	}
	return x.answerAuth(w, x.opts.Authorize(r, app, write))
}

// answerAuth answers a refused request (401 or 403) and reports whether
// err let it through.
func (x *Executor) answerAuth(w http.ResponseWriter, err error) bool {
	if err == nil {
		return true
	}
	if errors.Is(err, ErrUnauthenticated) {
		writeError(w, http.StatusUnauthorized, "unauthenticated", err.Error())
	} else {
		writeError(w, http.StatusForbidden, "forbidden", err.Error())
	}
	return false
}

type executeBody struct {
	ExecuteRequest
	Wait bool `json:"wait"`
}

func (x *Executor) handleExecute(w http.ResponseWriter, r *http.Request) {
	app, err := crdt.ParseDocID(r.PathValue("id"))
	if err != nil {
		writeError(w, http.StatusBadRequest, "bad_app_id", err.Error())
		return
	}
	if x.opts.AuthorizeRun != nil {
		if !x.answerAuth(w, x.opts.AuthorizeRun(r, string(app))) {
			return
		}
	} else if !x.authorize(w, r, string(app), true) {
		return
	}
	var body executeBody
	dec := json.NewDecoder(http.MaxBytesReader(w, r.Body, maxExecuteBody))
	if err := dec.Decode(&body); err != nil {
		writeError(w, http.StatusBadRequest, "bad_request", fmt.Sprintf("want JSON {handler, input?, event?, wait?}: %v", err))
		return
	}
	if body.Handler == "" {
		writeError(w, http.StatusBadRequest, "bad_request", "handler is required")
		return
	}
	body.By = "api"
	ctx, cancel := context.WithTimeout(r.Context(), 30*time.Second)
	defer cancel()
	rec, err := x.Execute(ctx, app, body.ExecuteRequest)
	if err != nil {
		x.writeRunError(w, err)
		return
	}
	if !body.Wait {
		w.Header().Set("Location", "/v1/executions/"+rec.ID)
		writeJSON(w, http.StatusAccepted, rec)
		return
	}
	// Long enough for the longest run behind a full slot, and no longer.
	wctx, wcancel := context.WithTimeout(r.Context(), 2*x.Engine.cfg.MaxLimits.Timeout+30*time.Second)
	defer wcancel()
	done, err := x.Wait(wctx, app, rec.ID)
	if err != nil {
		if wctx.Err() != nil && r.Context().Err() == nil {
			w.Header().Set("Location", "/v1/executions/"+rec.ID)
			writeJSON(w, http.StatusAccepted, rec) // still queued or running
			return
		}
		x.writeRunError(w, err)
		return
	}
	writeJSON(w, http.StatusOK, done)
}

func (x *Executor) writeRunError(w http.ResponseWriter, err error) {
	switch {
	case errors.Is(err, ErrNotFound):
		writeError(w, http.StatusNotFound, "not_found", err.Error())
	case errors.Is(err, client.ErrUnavailable):
		writeError(w, http.StatusNotFound, "app_not_found", err.Error())
	case errors.Is(err, ErrClosed), errors.Is(err, client.ErrClosed):
		writeError(w, http.StatusServiceUnavailable, "unavailable", err.Error())
	case errors.Is(err, context.DeadlineExceeded):
		writeError(w, http.StatusGatewayTimeout, "timeout", err.Error())
	default:
		x.log.Warn("execute api", "err", err)
		writeError(w, http.StatusInternalServerError, "internal", err.Error())
	}
}

func (x *Executor) handleList(w http.ResponseWriter, r *http.Request) {
	app, ok := x.app(w, r, false)
	if !ok {
		return
	}
	limit := 50
	if s := r.URL.Query().Get("limit"); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil || n < 1 || n > 500 {
			writeError(w, http.StatusBadRequest, "bad_request", "limit: want 1-500")
			return
		}
		limit = n
	}
	recs, err := x.History.List(r.Context(), string(app), limit)
	if err != nil {
		x.writeRunError(w, err)
		return
	}
	if recs == nil {
		recs = []Record{}
	}
	writeJSON(w, http.StatusOK, map[string]any{"executions": recs})
}

func (x *Executor) handleGet(w http.ResponseWriter, r *http.Request) {
	id := r.PathValue("id")
	if !validRunID(id) {
		writeError(w, http.StatusBadRequest, "bad_request", "bad execution id")
		return
	}
	rec, err := x.History.Get(r.Context(), id)
	if err != nil {
		x.writeRunError(w, err)
		return
	}
	if !x.authorize(w, r, rec.App, false) {
		return
	}
	writeJSON(w, http.StatusOK, rec)
}

func (x *Executor) handleUpload(w http.ResponseWriter, r *http.Request) {
	if _, ok := x.app(w, r, true); !ok {
		return
	}
	data, err := io.ReadAll(http.MaxBytesReader(w, r.Body, maxModuleBody))
	if err != nil {
		writeError(w, http.StatusRequestEntityTooLarge, "too_large", fmt.Sprintf("a module is at most %d bytes: %v", maxModuleBody, err))
		return
	}
	if err := x.Engine.Validate(r.Context(), data); err != nil {
		writeError(w, http.StatusUnprocessableEntity, "invalid_module", err.Error())
		return
	}
	key, err := x.Blobs.Put(r.Context(), data)
	if err != nil {
		x.writeRunError(w, err)
		return
	}
	writeJSON(w, http.StatusCreated, map[string]string{"module": key})
}

func writeError(w http.ResponseWriter, code int, errCode, msg string) {
	writeJSON(w, code, map[string]any{"error": map[string]string{"code": errCode, "message": msg}})
}

func writeJSON(w http.ResponseWriter, code int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	_ = json.NewEncoder(w).Encode(v)
}
