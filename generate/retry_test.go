package generate

import (
	"context"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// fakeClock records the waits of the retry loop instead of spending them.
type fakeClock struct {
	now    time.Time
	mu     sync.Mutex
	sleeps []time.Duration
}

func (c *fakeClock) Now() time.Time { return c.now }

func (c *fakeClock) Sleep(ctx context.Context, d time.Duration) error {
	c.mu.Lock()
	c.sleeps = append(c.sleeps, d)
	c.mu.Unlock()
	return ctx.Err()
}

func (c *fakeClock) slept() []time.Duration {
	c.mu.Lock()
	defer c.mu.Unlock()
	return slices.Clone(c.sleeps)
}

func TestRetryAfterIsHonoured(t *testing.T) {
	now := time.Date(2026, 5, 1, 12, 0, 0, 0, time.UTC)
	for _, c := range []struct {
		name       string
		status     int
		retryAfter []string // per refused request
		want       []time.Duration
	}{
		{"429 seconds", http.StatusTooManyRequests, []string{"7"}, []time.Duration{7 * time.Second}},
		{"503 HTTP date", http.StatusServiceUnavailable, []string{now.Add(3 * time.Second).Format(http.TimeFormat)}, []time.Duration{3 * time.Second}},
		{"date in the past", http.StatusTooManyRequests, []string{now.Add(-time.Hour).Format(http.TimeFormat)}, []time.Duration{0}},
		{"capped", http.StatusTooManyRequests, []string{"3600"}, []time.Duration{maxRetryAfter}},
		{"twice", http.StatusTooManyRequests, []string{"2", "5"}, []time.Duration{2 * time.Second, 5 * time.Second}},
	} {
		t.Run(c.name, func(t *testing.T) {
			fake := newFakeAI(t, func(n int, w *sse, _ *http.Request) {
				if n < len(c.retryAfter) {
					w.w.Header().Set("Retry-After", c.retryAfter[n])
					w.fail(c.status, "slow down")
					return
				}
				w.content(opLines(buildOps[0]))
				w.done()
			})
			clk := &fakeClock{now: now}
			cfg := fake.config()
			cfg.RetryBackoff = time.Hour // the backoff would show as an hour's wait
			env := startEnv(t, cfg, Options{clock: clk})
			ctx := testCtx(t)
			run := env.wait(ctx, env.start(ctx, Request{Prompt: "x"}).ID)
			if run.Status != StatusDone || run.OpsApplied != 1 || run.Retries != len(c.want) || fake.requests() != len(c.want)+1 {
				t.Fatalf("run %s applied %d retries %d after %d requests (%+v)", run.Status, run.OpsApplied, run.Retries, fake.requests(), run.Error)
			}
			if got := clk.slept(); !slices.Equal(got, c.want) {
				t.Fatalf("waited %v, want %v", got, c.want)
			}
		})
	}
}

func TestRetryWithoutRetryAfterBacksOff(t *testing.T) {
	fake := newFakeAI(t, func(n int, w *sse, _ *http.Request) {
		if n < 3 {
			w.w.Header().Set("Retry-After", "soon") // unreadable: ignored
			w.fail(http.StatusServiceUnavailable, "busy")
			return
		}
		w.content(opLines(buildOps[0]))
		w.done()
	})
	clk := &fakeClock{now: time.Now()}
	cfg := fake.config()
	cfg.RetryBackoff = time.Second
	env := startEnv(t, cfg, Options{clock: clk})
	ctx := testCtx(t)
	if run := env.wait(ctx, env.start(ctx, Request{Prompt: "x"}).ID); run.Status != StatusDone || run.Retries != 3 {
		t.Fatalf("run %s retries %d (%+v)", run.Status, run.Retries, run.Error)
	}
	got := clk.slept()
	if len(got) != 3 {
		t.Fatalf("waited %v, want 3 waits", got)
	}
	for i, d := range got { // base·2^i jittered to 50-100%
		hi := time.Second << i
		if d < hi/2 || d > hi {
			t.Errorf("wait %d = %v, want within [%v, %v]", i, d, hi/2, hi)
		}
	}
}

func TestRetryAfterPastTheTimeoutFailsAtOnceAndIsPassedOn(t *testing.T) {
	fake := newFakeAI(t, func(_ int, w *sse, _ *http.Request) {
		w.w.Header().Set("Retry-After", "30")
		w.fail(http.StatusTooManyRequests, "quota exceeded")
	})
	clk := &fakeClock{now: time.Now()}
	cfg := fake.config()
	cfg.Timeout = 5 * time.Second
	env := startEnv(t, cfg, Options{clock: clk})
	ctx := testCtx(t)

	res, err := http.Post(env.api+"/v1/generate/analyze", "application/json", strings.NewReader(`{"prompt":"a todo list"}`))
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if res.StatusCode != http.StatusTooManyRequests || res.Header.Get("Retry-After") != "30" {
		t.Fatalf("analyze = %d, Retry-After %q; want 429 and 30", res.StatusCode, res.Header.Get("Retry-After"))
	}
	run := env.wait(ctx, env.start(ctx, Request{Prompt: "x"}).ID)
	if run.Status != StatusFailed || run.Error == nil || run.Error.Code != "rate_limited" || !strings.Contains(run.Error.Message, "retry after 30s") {
		t.Fatalf("run = %s %+v", run.Status, run.Error)
	}
	if got := clk.slept(); len(got) != 0 || fake.requests() != 2 {
		t.Fatalf("waited %v over %d requests; want no wait, one request each", got, fake.requests())
	}
}

func TestOurRateLimitAnswerCarriesRetryAfter(t *testing.T) {
	fake := newFakeAI(t, func(_ int, w *sse, _ *http.Request) { w.fail(http.StatusTooManyRequests, "no") })
	cfg := fake.config()
	cfg.MaxRetries = -1
	env := startEnv(t, cfg, Options{clock: &fakeClock{now: time.Now()}})
	res, err := http.Post(env.api+"/v1/generate/analyze", "application/json", strings.NewReader(`{"prompt":"a todo list"}`))
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if res.StatusCode != http.StatusTooManyRequests || res.Header.Get("Retry-After") != retryAfterSeconds(defaultRetryAfter) {
		t.Fatalf("analyze = %d, Retry-After %q", res.StatusCode, res.Header.Get("Retry-After"))
	}
}

func TestParseRetryAfter(t *testing.T) {
	now := time.Date(2026, 5, 1, 12, 0, 0, 0, time.UTC)
	for _, c := range []struct {
		in   string
		want time.Duration
		ok   bool
	}{
		{"0", 0, true},
		{" 120 ", 2 * time.Minute, true},
		{"Fri, 01 May 2026 12:00:09 GMT", 9 * time.Second, true},
		{"Friday, 01-May-26 12:01:00 GMT", time.Minute, true}, // RFC 850
		{"Fri, 01 May 2026 11:00:00 GMT", 0, true},
		{"-5", 0, false},
		{"1.5", 0, false},
		{"", 0, false},
		{"tomorrow", 0, false},
	} {
		got, ok := parseRetryAfter(c.in, now)
		if got != c.want || ok != c.ok {
			t.Errorf("parseRetryAfter(%q) = %v, %v; want %v, %v", c.in, got, ok, c.want, c.ok)
		}
	}
}

// FuzzParseRetryAfter: any header value gives a wait that is never
// negative, and delay-seconds read back as themselves.
func FuzzParseRetryAfter(f *testing.F) {
	f.Add("120")
	f.Add("Fri, 01 May 2026 12:00:09 GMT")
	f.Add("99999999999999999999")
	now := time.Date(2026, 5, 1, 12, 0, 0, 0, time.UTC)
	f.Fuzz(func(t *testing.T, v string) {
		d, ok := parseRetryAfter(v, now)
		if d < 0 || !ok && d != 0 {
			t.Fatalf("parseRetryAfter(%q) = %v, %v", v, d, ok)
		}
		if n, err := strconv.ParseInt(strings.TrimSpace(v), 10, 32); err == nil && n >= 0 && d != time.Duration(n)*time.Second {
			t.Fatalf("parseRetryAfter(%q) = %v, want %ds", v, d, n)
		}
	})
}
