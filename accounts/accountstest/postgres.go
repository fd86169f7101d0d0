package accountstest

import (
	"testing"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/casual-dev/casual/internal/pgtest"
)

// PostgresDSN is the database tests run against (pgtest.DSN).
func PostgresDSN() string { return pgtest.DSN() }

// PostgresSchema creates an empty schema for one test (pgtest.Schema).
func PostgresSchema(t testing.TB) (dsn string) { return pgtest.Schema(t, "accounts_test") }

// PostgresPool opens a small pool on a fresh schema (pgtest.Pool).
func PostgresPool(t testing.TB) *pgxpool.Pool { return pgtest.Pool(t, "accounts_test") }
