package api

import (
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"net/http"
	"strconv"
	"time"

	"github.com/casual-dev/casual/accounts"
	"github.com/casual-dev/casual/canvas"
)

// Errors of the HTTP layer.
var (
	errBadAuthHeader = fmt.Errorf("%w: the Authorization header must be \"Bearer <token>\"", accounts.ErrTokenInvalid)
	errBodyTooLarge  = errors.New("request body too large")
	errBadJSON       = errors.New("malformed JSON body")
)

// rateLimited is a refused request with when to try again.
type rateLimited struct{ retry time.Duration }

func (e *rateLimited) Error() string {
	return fmt.Sprintf("too many requests: try again in %s", e.retry.Round(time.Second))
}

// kindOf maps an error to its status and code.
func kindOf(err error) (status int, code string, ok bool) {
	for _, k := range []struct {
		err    error
		status int
		code   string
	}{
		{accounts.ErrTokenReused, http.StatusUnauthorized, "token_reused"},
		{accounts.ErrTokenExpired, http.StatusUnauthorized, "token_expired"},
		{accounts.ErrTokenRevoked, http.StatusUnauthorized, "token_revoked"},
		{accounts.ErrTokenInvalid, http.StatusUnauthorized, "token_invalid"},
		{accounts.ErrMFARequired, http.StatusUnauthorized, "mfa_required"},
		{accounts.ErrMFAInvalid, http.StatusUnauthorized, "mfa_invalid"},
		{accounts.ErrBadCredentials, http.StatusUnauthorized, "invalid_credentials"},
		{accounts.ErrUnauthenticated, http.StatusUnauthorized, "unauthenticated"},
		{accounts.ErrForbidden, http.StatusForbidden, "forbidden"},
		{accounts.ErrNotFound, http.StatusNotFound, "not_found"},
		{accounts.ErrLastOwner, http.StatusConflict, "last_owner"},
		{accounts.ErrConflict, http.StatusConflict, "conflict"},
		{accounts.ErrCorruptImport, http.StatusBadRequest, "invalid_import"},
		{accounts.ErrInvalid, http.StatusBadRequest, "invalid_request"},
		{errBadJSON, http.StatusBadRequest, "invalid_json"},
		{errBodyTooLarge, http.StatusRequestEntityTooLarge, "body_too_large"},
		{canvas.ErrUnknownTemplate, http.StatusBadRequest, "invalid_request"},
		{canvas.ErrInvalidOp, http.StatusBadRequest, "invalid_request"},
	} {
		if errors.Is(err, k.err) {
			return k.status, k.code, true
		}
	}
	return 0, "", false
}

// fail answers with the error's status and code. Errors it does not know
// are internal: logged in full, told vaguely.
func (a *API) fail(w http.ResponseWriter, r *http.Request, err error) {
	var rl *rateLimited
	if errors.As(err, &rl) {
		w.Header().Set("Retry-After", strconv.Itoa(int(max(1, math.Ceil(rl.retry.Seconds())))))
		writeError(w, http.StatusTooManyRequests, "rate_limited", err.Error())
		return
	}
	if status, code, ok := kindOf(err); ok {
		if status == http.StatusUnauthorized {
			w.Header().Set("WWW-Authenticate", `Bearer realm="casual"`)
		}
		writeError(w, status, code, err.Error())
		return
	}
	a.log.Error("request failed", slog.String("method", r.Method), slog.String("path", r.URL.Path), slog.Any("err", err))
	writeError(w, http.StatusInternalServerError, "internal", "internal error")
}

type errorBody struct {
	Error errorDetail `json:"error"`
}

type errorDetail struct {
	Code    string `json:"code"`
	Message string `json:"message"`
}

func writeError(w http.ResponseWriter, status int, code, msg string) {
	writeJSON(w, status, errorBody{Error: errorDetail{Code: code, Message: msg}})
}

// writeJSON answers with v. It fails only if v does not encode, before
// anything is sent; a failed write means the client went away, and there
// is no one left to tell.
func writeJSON(w http.ResponseWriter, status int, v any) error {
	b, err := json.Marshal(v)
	if err != nil {
		return fmt.Errorf("encode response: %w", err)
	}
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	_, _ = w.Write(append(b, '\n'))
	return nil
}
