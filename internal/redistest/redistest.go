// Package redistest gives tests the machine's Redis (127.0.0.1:6379;
// CASUAL_TEST_REDIS overrides it). Without a server the test is skipped,
// unless CI=true, where it fails.
package redistest

import (
	"context"
	"os"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
)

// URL is the Redis tests run against.
func URL() string {
	if url := os.Getenv("CASUAL_TEST_REDIS"); url != "" {
		return url
	}
	return "redis://127.0.0.1:6379/0"
}

// Client returns a client of the Redis at URL, closed when the test ends.
func Client(t testing.TB) *redis.Client {
	t.Helper()
	url := URL()
	ro, err := redis.ParseURL(url)
	if err != nil {
		t.Fatal(err)
	}
	rdb := redis.NewClient(ro)
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
	defer cancel()
	if err := rdb.Ping(ctx).Err(); err != nil {
		rdb.Close()
		if os.Getenv("CI") == "true" {
			t.Fatalf("redis at %s: %v", url, err)
		}
		t.Skipf("no redis at %s (set CASUAL_TEST_REDIS): %v", url, err)
	}
	t.Cleanup(func() { rdb.Close() })
	return rdb
}

// Available returns URL once the server there answers.
func Available(t testing.TB) string {
	t.Helper()
	Client(t)
	return URL()
}
