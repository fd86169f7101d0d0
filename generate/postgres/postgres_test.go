package postgres_test

import (
	"testing"

	"github.com/casual-dev/casual/accounts/accountstest"
	"github.com/casual-dev/casual/generate"
	"github.com/casual-dev/casual/generate/generatetest"
	"github.com/casual-dev/casual/generate/postgres"
)

// Each test gets its own schema on the test server (see
// accountstest.PostgresSchema), dropped when it ends.
func TestContract(t *testing.T) {
	generatetest.RunStore(t, func(t *testing.T) generate.RunStore {
		s, err := postgres.New(t.Context(), accountstest.PostgresPool(t), postgres.Options{AutoMigrate: true})
		if err != nil {
			t.Fatal(err)
		}
		return s
	})
}

func TestMigrateTwiceIsANoOp(t *testing.T) {
	pool := accountstest.PostgresPool(t)
	for range 2 {
		if err := postgres.Migrate(t.Context(), pool); err != nil {
			t.Fatal(err)
		}
	}
	var n int
	if err := pool.QueryRow(t.Context(), `SELECT count(*) FROM schema_migrations WHERE namespace = $1`, postgres.Namespace).Scan(&n); err != nil {
		t.Fatal(err)
	}
	if n != 1 {
		t.Fatalf("%d generate migrations recorded, want 1", n)
	}
}
