package generate_test

import (
	"path/filepath"
	"testing"

	"github.com/casual-dev/casual/generate"
	"github.com/casual-dev/casual/generate/generatetest"
)

func TestMemoryStoreContract(t *testing.T) {
	generatetest.RunStore(t, func(*testing.T) generate.RunStore { return generate.NewMemoryStore(0) })
}

func TestBoltStoreContract(t *testing.T) {
	generatetest.RunStore(t, func(t *testing.T) generate.RunStore {
		s, err := generate.OpenBoltStore(filepath.Join(t.TempDir(), "ai-runs.db"))
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { s.Close() })
		return s
	})
}
