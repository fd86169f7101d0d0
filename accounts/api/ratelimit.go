package api

import (
	"context"
	"sync"
	"time"
)

// bucketSet spends tokens of per-key token buckets: in memory (limiter),
// or shared through Redis (redisLimiter).
type bucketSet interface {
	// take spends a token of key's bucket, or returns *rateLimited.
	take(ctx context.Context, key string) error
}

// limiter is a set of token buckets, one per key (client address, user).
// Buckets that have refilled are forgotten when the set grows, so memory
// stays bounded by the number of recently active keys.
type limiter struct {
	rate  float64 // tokens per second
	burst float64
	now   func() time.Time

	mu      sync.Mutex
	buckets map[string]*bucket
}

type bucket struct {
	tokens float64
	last   time.Time
}

// sweepAt is the size beyond which full buckets are dropped.
const sweepAt = 10000

func newLimiter(rate float64, burst int, now func() time.Time) *limiter {
	return &limiter{rate: rate, burst: float64(burst), now: now, buckets: map[string]*bucket{}}
}

// take spends a token of key's bucket, or says how long until one is there.
func (l *limiter) take(_ context.Context, key string) error {
	now := l.now()
	l.mu.Lock()
	defer l.mu.Unlock()
	b := l.buckets[key]
	if b == nil {
		if len(l.buckets) >= sweepAt {
			l.sweep(now)
		}
		b = &bucket{tokens: l.burst, last: now}
		l.buckets[key] = b
	}
	b.tokens = min(l.burst, b.tokens+now.Sub(b.last).Seconds()*l.rate)
	b.last = now
	if b.tokens < 1 {
		return &rateLimited{retry: time.Duration((1 - b.tokens) / l.rate * float64(time.Second))}
	}
	b.tokens--
	return nil
}

func (l *limiter) sweep(now time.Time) {
	for k, b := range l.buckets {
		if b.tokens+now.Sub(b.last).Seconds()*l.rate >= l.burst {
			delete(l.buckets, k)
		}
	}
}
