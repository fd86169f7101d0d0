package api_test

import (
	"net/http/httptest"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/casual-dev/casual/accounts"
	"github.com/casual-dev/casual/accounts/accountstest"
	"github.com/casual-dev/casual/accounts/api"
	"github.com/casual-dev/casual/crdt"
	"github.com/casual-dev/casual/internal/redistest"
)

// sharedRedis returns a client of the machine's Redis (redistest).
func sharedRedis(t *testing.T) *redis.Client { return redistest.Client(t) }

// TestRateLimitsAreSharedThroughRedis: two API instances on one Redis
// spend the same buckets, so a client cannot double its allowance by
// alternating between them; 429s say when to come back.
func TestRateLimitsAreSharedThroughRedis(t *testing.T) {
	rdb := sharedRedis(t)
	st := accountstest.NewStack(t, "embedded", nil)
	ctx := testCtx(t)
	ann, tok, err := st.Service.Register(ctx, accounts.RegisterInput{Email: "ann@example.com", Password: password})
	if err != nil {
		t.Fatal(err)
	}
	prefix := "casual-test:ratelimit:" + string(crdt.NewDocID()) + ":"
	limits := api.Limits{AuthPerMinute: 60, AuthBurst: 3, PerSecond: 1, Burst: 4}
	var nodes [2]*server
	for i := range nodes {
		a, err := api.New(api.Config{Service: st.Service, Limits: limits, Clock: st.Clock.Now, Redis: rdb, RedisPrefix: prefix})
		if err != nil {
			t.Fatal(err)
		}
		hs := httptest.NewServer(a.Handler())
		t.Cleanup(hs.Close)
		nodes[i] = &server{Stack: st, api: a, url: hs.URL}
	}
	a, b := nodes[0], nodes[1]

	// sign-in attempts from one address: 3 in all, whichever node
	bad := map[string]any{"email": ann.Email, "password": "wrong password"}
	a.must(t, 401, "POST", "/v1/auth/login", "", bad)
	b.must(t, 401, "POST", "/v1/auth/login", "", bad)
	a.must(t, 401, "POST", "/v1/auth/login", "", bad)
	r := b.must(t, 429, "POST", "/v1/auth/login", "", bad)
	if r.code() != "rate_limited" || r.header.Get("Retry-After") != "1" {
		t.Fatalf("limited: %s %v", r.raw, r.header)
	}
	a.must(t, 429, "POST", "/v1/auth/refresh", "", map[string]any{"refresh_token": tok.RefreshToken})
	st.Clock.Advance(1500 * time.Millisecond) // one a second comes back, for both
	b.must(t, 200, "POST", "/v1/auth/refresh", "", map[string]any{"refresh_token": tok.RefreshToken})
	a.must(t, 429, "POST", "/v1/auth/login", "", bad)

	// per user: a burst of 4 across both nodes
	for _, n := range []*server{a, b, a, b} {
		n.must(t, 200, "GET", "/v1/templates", tok.AccessToken, nil)
	}
	r = a.must(t, 429, "GET", "/v1/users/me", tok.AccessToken, nil)
	if r.header.Get("Retry-After") == "" {
		t.Fatalf("no Retry-After: %v", r.header)
	}
	b.must(t, 429, "GET", "/v1/users/me", tok.AccessToken, nil)
	b.must(t, 200, "GET", "/v1/templates", "", nil) // anonymous callers have their own bucket
}

// TestRateLimitsWithoutRedisArePerInstance: the default keeps buckets in
// each instance's memory.
func TestRateLimitsWithoutRedisArePerInstance(t *testing.T) {
	st := accountstest.NewStack(t, "embedded", nil)
	ctx := testCtx(t)
	ann, _, err := st.Service.Register(ctx, accounts.RegisterInput{Email: "ann@example.com", Password: password})
	if err != nil {
		t.Fatal(err)
	}
	limits := api.Limits{AuthPerMinute: 60, AuthBurst: 2, PerSecond: 1, Burst: 4}
	var nodes [2]*server
	for i := range nodes {
		a, err := api.New(api.Config{Service: st.Service, Limits: limits, Clock: st.Clock.Now})
		if err != nil {
			t.Fatal(err)
		}
		hs := httptest.NewServer(a.Handler())
		t.Cleanup(hs.Close)
		nodes[i] = &server{Stack: st, api: a, url: hs.URL}
	}
	bad := map[string]any{"email": ann.Email, "password": "wrong password"}
	for _, n := range nodes {
		n.must(t, 401, "POST", "/v1/auth/login", "", bad)
		n.must(t, 401, "POST", "/v1/auth/login", "", bad)
		n.must(t, 429, "POST", "/v1/auth/login", "", bad)
	}
}

// TestRateLimitsFallBackWhenRedisIsDown: an instance that cannot reach
// Redis keeps limiting with its own buckets.
func TestRateLimitsFallBackWhenRedisIsDown(t *testing.T) {
	st := accountstest.NewStack(t, "embedded", nil)
	dead := redis.NewClient(&redis.Options{Addr: "127.0.0.1:1", DialTimeout: 200 * time.Millisecond, MaxRetries: -1})
	t.Cleanup(func() { dead.Close() })
	a, err := api.New(api.Config{Service: st.Service, Limits: api.Limits{AuthPerMinute: 60, AuthBurst: 2, PerSecond: 1, Burst: 3},
		Clock: st.Clock.Now, Redis: dead})
	if err != nil {
		t.Fatal(err)
	}
	hs := httptest.NewServer(a.Handler())
	t.Cleanup(hs.Close)
	s := &server{Stack: st, api: a, url: hs.URL}
	for range 3 {
		s.must(t, 200, "GET", "/v1/templates", "", nil)
	}
	if r := s.must(t, 429, "GET", "/v1/templates", "", nil); r.header.Get("Retry-After") != "1" {
		t.Fatalf("Retry-After %q", r.header.Get("Retry-After"))
	}
}
