// Package generate is the AI co-editor: a server-side peer that turns a
// prompt plus the current app document into a stream of flat canvas
// operations, applies each one to its own replica as soon as it is complete
// in the model's output, and syncs it like any other peer, so collaborators
// watch the app appear piece by piece.
//
// The model is any OpenAI-compatible chat completions API (OpenAI, Azure,
// Ollama, vLLM, LM Studio) reached with go-openai, or, when no API key is
// configured, a built-in deterministic planner that emits the same op
// stream for common requests. Each generation is a Run: it is tagged in the
// document (commit message "ai-run:<id>", meta.aiRun on what it creates),
// shows up in presence, can be cancelled, reverted as one undo group, or
// kept on a fork as a suggestion until accepted or rejected.
package generate

import "errors"

// Errors callers branch on (wrapped with details; use errors.Is).
var (
	// ErrAuth: the model provider refused the API key (HTTP 401 or 403).
	ErrAuth = errors.New("model provider refused the credentials")
	// ErrUnknownModel: the provider does not serve the model (HTTP 404).
	ErrUnknownModel = errors.New("unknown model")
	// ErrRateLimited: still rate limited (HTTP 429) after every retry.
	ErrRateLimited = errors.New("model provider rate limit")
	// ErrProvider: any other failure of the model provider.
	ErrProvider = errors.New("model provider error")
	// ErrTimeout: a model request took longer than Config.Timeout.
	ErrTimeout = errors.New("model request timed out")

	// ErrRunNotFound: no run has this id (or it was forgotten).
	ErrRunNotFound = errors.New("run not found")
	// ErrAppNotFound: the app document does not exist or is not readable.
	ErrAppNotFound = errors.New("app not found")
	// ErrInvalidRequest: the request is malformed (empty prompt, bad mode...).
	ErrInvalidRequest = errors.New("invalid request")
	// ErrConflict: the run is not in a state that allows the action
	// (accepting a live run, reverting twice...).
	ErrConflict = errors.New("run state conflict")
	// ErrCancelled: the run was cancelled.
	ErrCancelled = errors.New("run cancelled")
	// ErrClosed: the generator is closed.
	ErrClosed = errors.New("generator closed")
	// ErrInterrupted: the run was queued or running when its server
	// stopped; a restarted generator marks it failed with this error.
	ErrInterrupted = errors.New("interrupted: server restarted")
)
