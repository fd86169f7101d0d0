package generate

import (
	"context"
	"math"
	"math/rand/v2"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"
)

// maxRetryAfter caps how long a provider's Retry-After makes a request
// wait before retrying: past it the run would look hung.
const maxRetryAfter = time.Minute

// defaultRetryAfter is the Retry-After our endpoints send with a 429 when
// the provider gave none.
const defaultRetryAfter = 10 * time.Second

// clock is the time the retry loop reads and waits on; tests replace it
// so that they check the waits without spending them.
type clock interface {
	Now() time.Time
	// Sleep waits d or until ctx ends (then it returns ctx's error).
	Sleep(ctx context.Context, d time.Duration) error
}

type realClock struct{}

func (realClock) Now() time.Time { return time.Now() }

func (realClock) Sleep(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// retryHint receives the Retry-After header of one model request's answer.
type retryHint struct {
	mu    sync.Mutex
	value string
	at    time.Time // when the answer arrived
}

type retryHintKey struct{}

func (h *retryHint) get() (string, time.Time) {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.value, h.at
}

// retryAfterRecorder is the model client's transport: it hands the
// Retry-After header of 429 and 503 answers to the request's retryHint,
// since go-openai's errors do not carry headers.
type retryAfterRecorder struct {
	next  http.RoundTripper
	clock clock
}

func (t retryAfterRecorder) RoundTrip(req *http.Request) (*http.Response, error) {
	res, err := t.next.RoundTrip(req)
	if err != nil || (res.StatusCode != http.StatusTooManyRequests && res.StatusCode != http.StatusServiceUnavailable) {
		return res, err
	}
	if h, ok := req.Context().Value(retryHintKey{}).(*retryHint); ok {
		if v := res.Header.Get("Retry-After"); v != "" {
			h.mu.Lock()
			h.value, h.at = v, t.clock.Now()
			h.mu.Unlock()
		}
	}
	return res, nil
}

// withRetryAfter returns a copy of c whose transport records Retry-After.
func withRetryAfter(c *http.Client, clk clock) *http.Client {
	cp := *c
	next := cp.Transport
	if next == nil {
		next = http.DefaultTransport
	}
	cp.Transport = retryAfterRecorder{next: next, clock: clk}
	return &cp
}

// parseRetryAfter reads a Retry-After value, delay-seconds or an HTTP
// date, as a wait from now (a date in the past waits 0).
func parseRetryAfter(v string, now time.Time) (time.Duration, bool) {
	v = strings.TrimSpace(v)
	if v == "" {
		return 0, false
	}
	if n, err := strconv.ParseInt(v, 10, 64); err == nil {
		if n < 0 {
			return 0, false
		}
		if n > math.MaxInt64/int64(time.Second) {
			return math.MaxInt64, true
		}
		return time.Duration(n) * time.Second, true
	}
	t, err := http.ParseTime(v)
	if err != nil {
		return 0, false
	}
	return max(t.Sub(now), 0), true
}

// backoff is base·2^attempt, jittered to 50-100% so retries of many runs
// spread out.
func backoff(base time.Duration, attempt int) time.Duration {
	d := base << min(attempt, 10)
	return d/2 + time.Duration(rand.Int64N(int64(d/2)+1))
}

// retryDelay is how long to wait before retrying after an answer with
// status: the provider's Retry-After when it sent one (capped at
// maxRetryAfter), else the backoff.
func retryDelay(base time.Duration, attempt int, hint *retryHint) (d time.Duration, fromHeader bool) {
	if v, at := hint.get(); v != "" {
		if ra, ok := parseRetryAfter(v, at); ok {
			return min(ra, maxRetryAfter), true
		}
	}
	return backoff(base, attempt), false
}

// retryAfterSeconds is the Retry-After value for a wait of d.
func retryAfterSeconds(d time.Duration) string {
	return strconv.FormatInt(int64(max(1, math.Ceil(d.Seconds()))), 10)
}
