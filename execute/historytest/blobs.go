package historytest

import (
	"bytes"
	"errors"
	"testing"

	"github.com/casual-dev/casual/execute"
)

// OpenBlobs returns two handles on one new, empty blob store, as Open does
// for histories.
type OpenBlobs func(t *testing.T) (a, b execute.BlobStore)

// RunBlobs runs the contract tests of execute.BlobStore: a module put
// through one handle is found through the other, by its content address.
func RunBlobs(t *testing.T, open OpenBlobs) {
	a, b := open(t)
	ctx := ctxOf(t)
	big := bytes.Repeat([]byte("\x00asm module bytes "), 1<<16) // about 1 MiB
	for _, data := range [][]byte{[]byte("\x00asm\x01\x00\x00\x00"), big} {
		key, err := a.Put(ctx, data)
		if err != nil {
			t.Fatal(err)
		}
		if key != execute.BlobKey(data) {
			t.Errorf("key %s, want its content address %s", key, execute.BlobKey(data))
		}
		again, err := b.Put(ctx, data)
		if err != nil || again != key {
			t.Errorf("putting it again: %s, %v; want %s", again, err, key)
		}
		got, err := b.Get(ctx, key)
		if err != nil || !bytes.Equal(got, data) {
			t.Errorf("get %s: %d bytes, %v; want the %d bytes put", key, len(got), err, len(data))
		}
	}
	for _, key := range []string{execute.BlobKey([]byte("never put")), "sha256:short", "md5:" + execute.BlobKey(nil)[7:], ""} {
		if _, err := a.Get(ctx, key); !errors.Is(err, execute.ErrNotFound) {
			t.Errorf("get %q: %v, want ErrNotFound", key, err)
		}
	}
}
