package generate

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
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
	cli *openai.Client
	cfg Config
	log *slog.Logger
}

func newOpenAIModel(cfg Config, log *slog.Logger) *openAIModel {
	oc := openai.DefaultConfig(cfg.APIKey)
	oc.BaseURL = strings.TrimSuffix(cfg.BaseURL, "/")
	oc.HTTPClient = cfg.HTTPClient
	return &openAIModel{cli: openai.NewClientWithConfig(oc), cfg: cfg, log: log}
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
	var st streamStats
	stream, err := m.open(ctx, req, &st)
	if err != nil {
		return st, m.classify(ctx, err)
	}
	defer stream.Close()
	var received int
	for {
		resp, err := stream.Recv()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return m.estimate(st, sent, received), m.classify(ctx, err)
		}
		if resp.Usage != nil {
			st.In, st.Out, st.Reported = resp.Usage.PromptTokens, resp.Usage.CompletionTokens, true
		}
		for _, ch := range resp.Choices {
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

// open starts the stream, retrying answers 429 and 5xx with exponential
// backoff; once the stream has started nothing is retried, since its ops
// may already be applied.
func (m *openAIModel) open(ctx context.Context, req openai.ChatCompletionRequest, st *streamStats) (*openai.ChatCompletionStream, error) {
	for attempt := 0; ; attempt++ {
		s, err := m.cli.CreateChatCompletionStream(ctx, req)
		if err == nil {
			return s, nil
		}
		status := statusOf(err)
		if status != http.StatusTooManyRequests && status < 500 || attempt >= m.cfg.MaxRetries || ctx.Err() != nil {
			return nil, err
		}
		delay := backoff(m.cfg.RetryBackoff, attempt)
		m.log.Info("model request refused; retrying", slog.Int("status", status),
			slog.Int("attempt", attempt+1), slog.Duration("delay", delay))
		st.Retries++
		t := time.NewTimer(delay)
		select {
		case <-t.C:
		case <-ctx.Done():
			t.Stop()
			return nil, err
		}
	}
}

// backoff is base·2^attempt, jittered to 50-100% so retries of many runs
// spread out.
func backoff(base time.Duration, attempt int) time.Duration {
	d := base << min(attempt, 10)
	return d/2 + time.Duration(rand.Int64N(int64(d/2)+1))
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
func (m *openAIModel) classify(ctx context.Context, err error) error {
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
		return &ProviderError{StatusCode: status, Message: msg, Kind: ErrRateLimited}
	case status != 0:
		return &ProviderError{StatusCode: status, Message: msg, Kind: ErrProvider}
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
