// Package pgtest gives tests a PostgreSQL schema of their own on the local
// server (127.0.0.1:5432, database test, trust auth; CASUAL_TEST_POSTGRES
// overrides it), dropped when the test ends.
package pgtest

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"maps"
	"net/url"
	"os"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
)

const defaultDSN = "postgres://postgres@127.0.0.1:5432/test?sslmode=disable"

// DSN is the database tests run against: CASUAL_TEST_POSTGRES, or
// a local server with trust auth.
func DSN() string {
	if dsn := os.Getenv("CASUAL_TEST_POSTGRES"); dsn != "" {
		return dsn
	}
	return defaultDSN
}

// Schema creates an empty schema for one test, dropped when the
// test ends, and returns the DSN of connections that use it. Without a
// server the test is skipped, unless CI=true, where it fails.
func Schema(t testing.TB, prefix string) (dsn string) {
	t.Helper()
	_, dsn = NewSchema(t, prefix)
	return dsn
}

// NewSchema is Schema, also returning the schema's name.
func NewSchema(t testing.TB, prefix string) (schema, dsn string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	conn, err := pgx.Connect(ctx, DSN())
	if err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("postgres unreachable at %s: %v", DSN(), err)
		}
		t.Skipf("postgres unreachable at %s (set CASUAL_TEST_POSTGRES): %v", DSN(), err)
	}
	defer conn.Close(ctx)
	b := make([]byte, 8)
	rand.Read(b)
	schema = prefix + "_" + hex.EncodeToString(b)
	if _, err := conn.Exec(ctx, "CREATE SCHEMA "+pgx.Identifier{schema}.Sanitize()); err != nil {
		t.Fatalf("create schema: %v", err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		conn, err := pgx.Connect(ctx, DSN())
		if err != nil {
			t.Errorf("drop schema %s: %v", schema, err)
			return
		}
		defer conn.Close(ctx)
		if _, err := conn.Exec(ctx, "DROP SCHEMA "+pgx.Identifier{schema}.Sanitize()+" CASCADE"); err != nil {
			t.Errorf("drop schema %s: %v", schema, err)
		}
	})
	return schema, WithParams(DSN(), map[string]string{"search_path": schema})
}

// WithParams adds (or replaces) connection parameters of dsn, a URL or a
// keyword/value string. pgx passes parameters it does not know
// (search_path, application_name) to the server.
func WithParams(dsn string, params map[string]string) string {
	if u, err := url.Parse(dsn); err == nil && (u.Scheme == "postgres" || u.Scheme == "postgresql") {
		q := u.Query()
		for k, v := range params {
			q.Set(k, v)
		}
		u.RawQuery = q.Encode()
		return u.String()
	}
	var b strings.Builder
	b.WriteString(dsn)
	for _, k := range slices.Sorted(maps.Keys(params)) {
		fmt.Fprintf(&b, " %s='%s'", k, params[k]) // test values: no quotes inside
	}
	return b.String()
}

// Pool opens a small pool on a fresh schema (see Schema),
// closed when the test ends.
func Pool(t testing.TB, prefix string) *pgxpool.Pool {
	t.Helper()
	cfg, err := pgxpool.ParseConfig(Schema(t, prefix))
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
