package historytest_test

import (
	"path/filepath"
	"testing"

	"github.com/casual-dev/casual/execute"
	"github.com/casual-dev/casual/execute/historytest"
)

func TestMemHistory(t *testing.T) {
	historytest.Run(t, func(t *testing.T) (a, b execute.History) {
		h := execute.NewMemHistory(0)
		return h, h
	})
}

func TestBoltHistory(t *testing.T) {
	historytest.Run(t, func(t *testing.T) (a, b execute.History) {
		h, err := execute.OpenBoltHistory(filepath.Join(t.TempDir(), "executions.db"))
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { h.Close() })
		return h, h
	})
}

func TestMemBlobs(t *testing.T) {
	historytest.RunBlobs(t, func(t *testing.T) (a, b execute.BlobStore) {
		s := execute.NewMemBlobs()
		return s, s
	})
}

func TestDirBlobs(t *testing.T) {
	historytest.RunBlobs(t, func(t *testing.T) (a, b execute.BlobStore) {
		dir := t.TempDir()
		a, err := execute.OpenDirBlobs(dir)
		if err != nil {
			t.Fatal(err)
		}
		b, err = execute.OpenDirBlobs(dir)
		if err != nil {
			t.Fatal(err)
		}
		return a, b
	})
}
