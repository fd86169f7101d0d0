package postgres

import (
	"context"
	"errors"
	"fmt"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/casual-dev/casual/execute"
)

// Blobs is an execute.BlobStore in PostgreSQL (the execution_blobs
// table): nodes that share the database share uploaded modules, so a run
// executes on whichever node claims it. Its table is created by the same
// migrations as the history's.
type Blobs struct{ pool *pgxpool.Pool }

var _ execute.BlobStore = (*Blobs)(nil)

// NewBlobs returns a blob store on pool; run Migrate (or New with
// AutoMigrate) first.
func NewBlobs(pool *pgxpool.Pool) *Blobs { return &Blobs{pool: pool} }

// Blobs returns the blob store on the history's pool (closed with it).
func (h *History) Blobs() *Blobs { return NewBlobs(h.pool) }

// Put implements execute.BlobStore.
func (b *Blobs) Put(ctx context.Context, data []byte) (string, error) {
	key := execute.BlobKey(data)
	_, err := b.pool.Exec(ctx, `INSERT INTO execution_blobs (key, data) VALUES ($1, $2) ON CONFLICT (key) DO NOTHING`, key, data)
	if err != nil {
		return "", fmt.Errorf("put blob: %w", err)
	}
	return key, nil
}

// Get implements execute.BlobStore.
func (b *Blobs) Get(ctx context.Context, key string) ([]byte, error) {
	if err := execute.CheckBlobKey(key); err != nil {
		return nil, err
	}
	var data []byte
	err := b.pool.QueryRow(ctx, `SELECT data FROM execution_blobs WHERE key = $1`, key).Scan(&data)
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, fmt.Errorf("blob %s: %w", key, execute.ErrNotFound)
	}
	if err != nil {
		return nil, fmt.Errorf("get blob %s: %w", key, err)
	}
	if execute.BlobKey(data) != key {
		return nil, fmt.Errorf("blob %s: content does not match its hash", key)
	}
	return data, nil
}
