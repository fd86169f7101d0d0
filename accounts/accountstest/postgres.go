package accountstest

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"net/url"
	"os"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
)

const defaultDSN = "postgres://postgres@127.0.0.1:5432/test?sslmode=disable"

// PostgresDSN is the database tests run against: CASUAL_TEST_POSTGRES, or
// a local server with trust auth.
func PostgresDSN() string {
	if dsn := os.Getenv("CASUAL_TEST_POSTGRES"); dsn != "" {
		return dsn
	}
	return defaultDSN
}

// PostgresSchema creates an empty schema for one test, dropped when the
// test ends, and returns the DSN of connections that use it. Without a
// server the test is skipped, unless CI=true, where it fails.
func PostgresSchema(t testing.TB) (dsn string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	conn, err := pgx.Connect(ctx, PostgresDSN())
	if err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("postgres unreachable at %s: %v", PostgresDSN(), err)
		}
		t.Skipf("postgres unreachable at %s (set CASUAL_TEST_POSTGRES): %v", PostgresDSN(), err)
	}
	defer conn.Close(ctx)
	b := make([]byte, 8)
	rand.Read(b)
	schema := "accounts_test_" + hex.EncodeToString(b)
	if _, err := conn.Exec(ctx, "CREATE SCHEMA "+pgx.Identifier{schema}.Sanitize()); err != nil {
		t.Fatalf("create schema: %v", err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		conn, err := pgx.Connect(ctx, PostgresDSN())
		if err != nil {
			t.Errorf("drop schema %s: %v", schema, err)
			return
		}
		defer conn.Close(ctx)
		if _, err := conn.Exec(ctx, "DROP SCHEMA "+pgx.Identifier{schema}.Sanitize()+" CASCADE"); err != nil {
			t.Errorf("drop schema %s: %v", schema, err)
		}
	})
	u, err := url.Parse(PostgresDSN())
	if err != nil {
		t.Fatalf("CASUAL_TEST_POSTGRES must be a postgres:// URL: %v", err)
	}
	q := u.Query()
	q.Set("search_path", schema)
	u.RawQuery = q.Encode()
	return u.String()
}

// PostgresPool opens a small pool on a fresh schema (see PostgresSchema),
// closed when the test ends.
func PostgresPool(t testing.TB) *pgxpool.Pool {
	t.Helper()
	cfg, err := pgxpool.ParseConfig(PostgresSchema(t))
	if err != nil {
		t.Fatal(err)
	}
	cfg.MaxConns = 4 // parallel tests share the server's connections
	pool, err := pgxpool.NewWithConfig(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(pool.Close)
	return pool
}
