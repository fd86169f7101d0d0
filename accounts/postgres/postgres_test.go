package postgres_test

import (
	"testing"

	"github.com/casual-dev/casual/accounts"
	"github.com/casual-dev/casual/accounts/accountstest"
	"github.com/casual-dev/casual/accounts/postgres"
)

func TestContract(t *testing.T) {
	accountstest.Run(t, func(t *testing.T) accounts.Store {
		s, err := postgres.New(t.Context(), accountstest.PostgresPool(t), postgres.Options{AutoMigrate: true})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { s.Close() })
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
}
