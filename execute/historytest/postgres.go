package historytest

import (
	"context"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/casual-dev/casual/execute"
	"github.com/casual-dev/casual/execute/postgres"
	"github.com/casual-dev/casual/internal/pgtest"
)

// PostgresHistories returns two histories on one fresh schema (dropped
// when the test ends), on separate pools: what two nodes sharing the
// database have. Without a server the test is skipped, unless CI=true.
func PostgresHistories(t testing.TB) (a, b execute.History) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	dsn := pgtest.Schema(t, "execute_test")
	var hs [2]execute.History
	for i := range hs {
		cfg, err := pgxpool.ParseConfig(dsn)
		if err != nil {
			t.Fatal(err)
		}
		cfg.MaxConns = 4 // parallel tests share the server's connections
		pool, err := pgxpool.NewWithConfig(ctx, cfg)
		if err != nil {
			t.Fatal(err)
		}
		h, err := postgres.New(ctx, pool, postgres.Options{AutoMigrate: true, ClosePool: true})
		if err != nil {
			pool.Close()
			t.Fatal(err)
		}
		t.Cleanup(func() { h.Close() })
		hs[i] = h
	}
	return hs[0], hs[1]
}
