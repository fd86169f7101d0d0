package execute

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"sync"
)

// BlobStore keeps uploaded WASM modules by content: the key of data is
// "sha256:<hex of its SHA-256>", so a handler's module reference pins its
// exact bytes.
type BlobStore interface {
	// Put stores data and returns its key.
	Put(ctx context.Context, data []byte) (string, error)
	// Get returns the data stored under key, or an error wrapping
	// ErrNotFound.
	Get(ctx context.Context, key string) ([]byte, error)
}

var blobKeyPattern = regexp.MustCompile(`^sha256:[0-9a-f]{64}$`)

// BlobKey returns the content address of data.
func BlobKey(data []byte) string {
	sum := sha256.Sum256(data)
	return "sha256:" + hex.EncodeToString(sum[:])
}

// CheckBlobKey returns an error wrapping ErrNotFound if key is not a
// well-formed content address.
func CheckBlobKey(key string) error {
	if !blobKeyPattern.MatchString(key) {
		return fmt.Errorf("blob key %q: want sha256:<64 lowercase hex>: %w", truncate(key, 80), ErrNotFound)
	}
	return nil
}

// MemBlobs is a BlobStore in memory, for tests and single-process use.
type MemBlobs struct {
	mu    sync.RWMutex
	blobs map[string][]byte
}

// NewMemBlobs returns an empty MemBlobs.
func NewMemBlobs() *MemBlobs { return &MemBlobs{blobs: map[string][]byte{}} }

// Put implements BlobStore.
func (m *MemBlobs) Put(_ context.Context, data []byte) (string, error) {
	key := BlobKey(data)
	m.mu.Lock()
	defer m.mu.Unlock()
	if _, ok := m.blobs[key]; !ok {
		m.blobs[key] = append([]byte(nil), data...)
	}
	return key, nil
}

// Get implements BlobStore.
func (m *MemBlobs) Get(_ context.Context, key string) ([]byte, error) {
	m.mu.RLock()
	defer m.mu.RUnlock()
	b, ok := m.blobs[key]
	if !ok {
		return nil, fmt.Errorf("blob %s: %w", truncate(key, 80), ErrNotFound)
	}
	return b, nil
}

// DirBlobs is a BlobStore in a directory (for example <data dir>/blobs),
// one file per blob named by its hex hash. Writes are atomic (temporary
// file, fsync, rename), so a crash leaves no partial blob.
type DirBlobs struct{ dir string }

// OpenDirBlobs creates dir if needed and returns a store over it.
func OpenDirBlobs(dir string) (*DirBlobs, error) {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, fmt.Errorf("open blob dir: %w", err)
	}
	return &DirBlobs{dir: dir}, nil
}

func (d *DirBlobs) path(key string) string {
	return filepath.Join(d.dir, key[len("sha256:"):]+".wasm")
}

// Put implements BlobStore.
func (d *DirBlobs) Put(ctx context.Context, data []byte) (string, error) {
	if err := ctx.Err(); err != nil {
		return "", fmt.Errorf("put blob: %w", err)
	}
	key := BlobKey(data)
	p := d.path(key)
	if _, err := os.Stat(p); err == nil {
		return key, nil
	}
	f, err := os.CreateTemp(d.dir, ".upload-*")
	if err != nil {
		return "", fmt.Errorf("put blob: %w", err)
	}
	defer os.Remove(f.Name()) // no-op after the rename
	if _, err := f.Write(data); err != nil {
		f.Close()
		return "", fmt.Errorf("put blob: %w", err)
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return "", fmt.Errorf("put blob: %w", err)
	}
	if err := f.Close(); err != nil {
		return "", fmt.Errorf("put blob: %w", err)
	}
	if err := os.Rename(f.Name(), p); err != nil {
		return "", fmt.Errorf("put blob: %w", err)
	}
	return key, nil
}

// Get implements BlobStore.
func (d *DirBlobs) Get(ctx context.Context, key string) ([]byte, error) {
	if err := CheckBlobKey(key); err != nil {
		return nil, err
	}
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("get blob: %w", err)
	}
	b, err := os.ReadFile(d.path(key))
	if errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("blob %s: %w", key, ErrNotFound)
	}
	if err != nil {
		return nil, fmt.Errorf("get blob %s: %w", key, err)
	}
	if BlobKey(b) != key {
		return nil, fmt.Errorf("blob %s: content does not match its hash", key)
	}
	return b, nil
}
