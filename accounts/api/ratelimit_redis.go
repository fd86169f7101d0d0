package api

import (
	"context"
	"fmt"
	"log/slog"
	"sync/atomic"
	"time"

	"github.com/redis/go-redis/v9"
)

// bucketScript is one token bucket kept in a Redis hash (t: tokens, l:
// last refill in ms), spent atomically. The caller's clock is used, never
// moved backwards, so nodes with slightly different clocks agree closely
// enough. It answers {1, 0} when a token was taken, else {0, ms until one
// is there}. The key expires once the bucket would be full again.
var bucketScript = redis.NewScript(`
local rate = tonumber(ARGV[1])
local burst = tonumber(ARGV[2])
local now = tonumber(ARGV[3])
local b = redis.call('HMGET', KEYS[1], 't', 'l')
local tokens, last = tonumber(b[1]), tonumber(b[2])
if tokens == nil or last == nil then
  tokens, last = burst, now
end
if now > last then
  tokens = math.min(burst, tokens + (now - last) / 1000 * rate)
  last = now
end
local ok, retry = 0, 0
if tokens >= 1 then
  tokens = tokens - 1
  ok = 1
else
  retry = math.ceil((1 - tokens) / rate * 1000)
end
redis.call('HSET', KEYS[1], 't', tostring(tokens), 'l', tostring(last))
redis.call('PEXPIRE', KEYS[1], math.ceil(burst / rate * 1000) + 1000)
return {ok, retry}
`)

// redisLimiter is a limiter shared by every API instance on one Redis.
// While Redis fails it falls back to this instance's own buckets, so the
// API keeps answering with per-node limits.
type redisLimiter struct {
	rdb      *redis.Client
	prefix   string
	rate     float64
	burst    int
	now      func() time.Time
	fallback *limiter
	log      *slog.Logger
	down     atomic.Bool // logged once per outage
}

func (l *redisLimiter) take(ctx context.Context, key string) error {
	res, err := bucketScript.Run(ctx, l.rdb, []string{l.prefix + key},
		l.rate, l.burst, l.now().UnixMilli()).Int64Slice()
	if err == nil && len(res) != 2 {
		err = fmt.Errorf("bucket script answered %v", res)
	}
	if err != nil {
		if !l.down.Swap(true) {
			l.log.Warn("redis rate limits unavailable: limiting on this node only", slog.Any("err", err))
		}
		return l.fallback.take(ctx, key)
	}
	if l.down.Swap(false) {
		l.log.Info("redis rate limits back")
	}
	if res[0] == 1 {
		return nil
	}
	return &rateLimited{retry: time.Duration(res[1]) * time.Millisecond}
}
