package generate

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"strings"
	"time"

	openai "github.com/sashabaranov/go-openai"
)

// message is one chat message of a prompt.
type message struct {
	Role    string // system, user or assistant
	Content string
}

// streamStats is what a model stream reports besides its text.
type streamStats struct {
	In, Out  int  // tokens
	Reported bool // In and Out come from the provider's usage, not an estimate
	Retries  int  // requests retried before the stream started
}

// model produces text for a job, a piece at a time.
type model interface {
	// Name is the model name runs record.
	Name() string
	// Stream calls emit with each piece of text as it arrives; an error
	// from emit stops the stream and is returned.
	Stream(ctx context.Context, j *job, emit func(string) error) (streamStats, error)
}

// ProviderError is an error answer of the model provider. It wraps the
// sentinel saying what kind it is (ErrAuth, ErrUnknownModel,
// ErrRateLimited or ErrProvider).
type ProviderError struct {
	StatusCode int    // HTTP status; 0 for an error sent inside the stream
	Message    string // the provider's message
	Kind       error
	// RetryAfter is the wait the provider asked for with its last 429 or
	// 503 (its Retry-After header, capped), 0 if none.
	RetryAfter time.Duration
}

// Error describes the failure with the provider's message.
func (e *ProviderError) Error() string {
	if e.StatusCode == 0 {
		return fmt.Sprintf("%v: %s", e.Kind, e.Message)
	}
	return fmt.Sprintf("%v: HTTP %d: %s", e.Kind, e.StatusCode, e.Message)
}

// Unwrap returns the kind.
func (e *ProviderError) Unwrap() error { return e.Kind }

// errTimeoutCause marks a model request's own deadline, so it can be told
// from the run being cancelled.
var errTimeoutCause = errors.New("model request deadline")

// openAIModel streams chat completions from an OpenAI-compatible API.
type openAIModel struct {
	cli   *openai.Client
	cfg   Config
	log   *slog.Logger
	clock clock
	tools []openai.Tool // the canvas ops as functions
}

func newOpenAIModel(cfg Config, log *slog.Logger, clk clock) *openAIModel {
	oc := openai.DefaultConfig(cfg.APIKey)
	oc.BaseURL = strings.TrimSuffix(cfg.BaseURL, "/")
	oc.HTTPClient = withRetryAfter(cfg.HTTPClient, clk)
	return &openAIModel{cli: openai.NewClientWithConfig(oc), cfg: cfg, log: log, clock: clk, tools: opTools()}
}

func (m *openAIModel) Name() string { return m.cfg.Model }

func (m *openAIModel) Stream(ctx context.Context, j *job, emit func(string) error) (streamStats, error) {
	ctx, cancel := context.WithTimeoutCause(ctx, m.cfg.Timeout, errTimeoutCause)
	defer cancel()
	req := openai.ChatCompletionRequest{
		Model:         m.cfg.Model,
		Stream:        true,
		StreamOptions: &openai.StreamOptions{IncludeUsage: true},
	}
	var sent int
	for _, msg := range j.msgs {
		req.Messages = append(req.Messages, openai.ChatCompletionMessage{Role: msg.Role, Content: msg.Content})
		sent += len(msg.Content)
	}
	var calls *toolCalls
	if j.onCall != nil {
		req.Tools, req.ToolChoice = m.tools, "auto"
		calls = newToolCalls(j.onCall)
	}
	var st streamStats
	stream, err := m.open(ctx, req, &st)
	if err != nil {
		return st, err
	}
	defer stream.Close()
	var received int
	for {
		resp, err := stream.Recv()
		if errors.Is(err, io.EOF) {
			if calls != nil {
				if err := calls.flush(); err != nil {
					return m.estimate(st, sent, received), err
				}
			}
			break
		}
		if err != nil {
			return m.estimate(st, sent, received), m.classify(ctx, err, 0)
		}
		if resp.Usage != nil {
			st.In, st.Out, st.Reported = resp.Usage.PromptTokens, resp.Usage.CompletionTokens, true
		}
		for _, ch := range resp.Choices {
			if calls != nil && len(ch.Delta.ToolCalls) > 0 {
				for _, tc := range ch.Delta.ToolCalls {
					received += len(tc.Function.Name) + len(tc.Function.Arguments)
				}
				if err := calls.feed(ch.Delta.ToolCalls); err != nil {
					return m.estimate(st, sent, received), err
				}
			}
			if ch.Delta.Content == "" {
				continue
			}
			received += len(ch.Delta.Content)
			if err := emit(ch.Delta.Content); err != nil {
				return m.estimate(st, sent, received), err
			}
		}
	}
	return m.estimate(st, sent, received), nil
}

// estimate fills token counts the provider did not report (about four
// bytes a token, the usual rule of thumb for English and JSON).
func (m *openAIModel) estimate(st streamStats, sent, received int) streamStats {
	if !st.Reported {
		st.In, st.Out = estimateTokens(sent), estimateTokens(received)
	}
	return st
}

func estimateTokens(bytes int) int { return (bytes + 3) / 4 }

// open starts the stream, retrying answers 429 and 5xx: after the wait
// the provider's Retry-After asks for (429 and 503), else with exponential
// backoff. Once the stream has started nothing is retried, since its ops
// may already be applied. Its errors are classified.
func (m *openAIModel) open(ctx context.Context, req openai.ChatCompletionRequest, st *streamStats) (*openai.ChatCompletionStream, error) {
	for attempt := 0; ; attempt++ {
		hint := &retryHint{}
		s, err := m.cli.CreateChatCompletionStream(context.WithValue(ctx, retryHintKey{}, hint), req)
		if err == nil {
			return s, nil
		}
		status := statusOf(err)
		if status != http.StatusTooManyRequests && status < 500 || ctx.Err() != nil {
			return nil, m.classify(ctx, err, 0)
		}
		delay, asked := retryDelay(m.cfg.RetryBackoff, attempt, hint)
		var askedFor time.Duration
		if asked {
			askedFor = delay
		}
		if attempt >= m.cfg.MaxRetries {
			return nil, m.classify(ctx, err, askedFor)
		}
		if dl, ok := ctx.Deadline(); ok && time.Until(dl) < delay { // waiting could only end in a timeout
			err = m.classify(ctx, err, askedFor)
			var pe *ProviderError
			if errors.As(err, &pe) && asked {
				pe.Message += fmt.Sprintf(" (asked to retry after %v, past the request's %v timeout)", delay, m.cfg.Timeout)
			} else if pe != nil {
				pe.Message += fmt.Sprintf(" (the next retry, in %v, would come after the request's %v timeout)", delay, m.cfg.Timeout)
			}
			return nil, err
		}
		m.log.Info("model request refused; retrying", slog.Int("status", status), slog.Int("attempt", attempt+1),
			slog.Duration("delay", delay), slog.Bool("retry_after", asked))
		st.Retries++
		if err := m.clock.Sleep(ctx, delay); err != nil {
			return nil, m.classify(ctx, err, askedFor)
		}
	}
}

func statusOf(err error) int {
	var apiErr *openai.APIError
	if errors.As(err, &apiErr) {
		return apiErr.HTTPStatusCode
	}
	var reqErr *openai.RequestError
	if errors.As(err, &reqErr) {
		return reqErr.HTTPStatusCode
	}
	return 0
}

// classify turns an error of go-openai into ours: the request's deadline
// becomes ErrTimeout, a cancelled run its cause, HTTP failures a
// *ProviderError.
func (m *openAIModel) classify(ctx context.Context, err error, retryAfter time.Duration) error {
	if ctx.Err() != nil {
		if cause := context.Cause(ctx); errors.Is(cause, errTimeoutCause) {
			return fmt.Errorf("%w after %v", ErrTimeout, m.cfg.Timeout)
		} else if cause != nil {
			return cause
		}
	}
	status := statusOf(err)
	msg := providerMessage(err)
	switch {
	case status == http.StatusUnauthorized || status == http.StatusForbidden:
		return &ProviderError{StatusCode: status, Message: msg + " (check " + EnvAPIKey + ")", Kind: ErrAuth}
	case status == http.StatusNotFound:
		return &ProviderError{StatusCode: status, Message: fmt.Sprintf("model %q at %s: %s (check %s and %s)",
			m.cfg.Model, m.cfg.BaseURL, msg, EnvModel, EnvBaseURL), Kind: ErrUnknownModel}
	case status == http.StatusTooManyRequests:
		return &ProviderError{StatusCode: status, Message: msg, Kind: ErrRateLimited, RetryAfter: retryAfter}
	case status != 0:
		return &ProviderError{StatusCode: status, Message: msg, Kind: ErrProvider, RetryAfter: retryAfter}
	}
	var apiErr *openai.APIError
	if errors.As(err, &apiErr) { // an error event inside the stream
		return &ProviderError{Message: apiErr.Message, Kind: ErrProvider}
	}
	return fmt.Errorf("%w: %w", ErrProvider, err)
}

func providerMessage(err error) string {
	var apiErr *openai.APIError
	if errors.As(err, &apiErr) && apiErr.Message != "" {
		return apiErr.Message
	}
	var reqErr *openai.RequestError
	if errors.As(err, &reqErr) {
		if body := strings.TrimSpace(string(reqErr.Body)); body != "" {
			return truncate(body, 300)
		}
		return reqErr.HTTPStatus
	}
	return err.Error()
}

// complete collects a whole answer (for analyze and explain).
func complete(ctx context.Context, m model, j *job) (string, streamStats, error) {
	var sb strings.Builder
	st, err := m.Stream(ctx, j, func(s string) error {
		sb.WriteString(s)
		return nil
	})
	return sb.String(), st, err
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	for n > 0 && n < len(s) && s[n]&0xc0 == 0x80 { // keep runes whole
		n--
	}
	return s[:n] + "…"
}
