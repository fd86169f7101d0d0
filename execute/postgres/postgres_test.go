package postgres_test

import (
	"testing"

	"github.com/casual-dev/casual/execute"
	"github.com/casual-dev/casual/execute/historytest"
	"github.com/casual-dev/casual/execute/postgres"
)

func TestHistory(t *testing.T) {
	historytest.Run(t, func(t *testing.T) (a, b execute.History) { return historytest.PostgresHistories(t) })
}

func TestBlobs(t *testing.T) {
	historytest.RunBlobs(t, func(t *testing.T) (a, b execute.BlobStore) {
		ha, hb := historytest.PostgresHistories(t)
		return ha.(*postgres.History).Blobs(), hb.(*postgres.History).Blobs()
	})
}
