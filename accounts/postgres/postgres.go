// Package postgres keeps accounts in PostgreSQL, next to the document
// store's tables (usually on its pool: store/postgres.(*Store).Pool()).
// Its tables are created by migrations in the "accounts" namespace of
// store/postgres.MigrateFS, so they version independently of the store's.
package postgres

import (
	"context"
	"crypto/rand"
	"embed"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/casual-dev/casual/accounts"
	storepg "github.com/casual-dev/casual/store/postgres"
)

//go:embed migrations/*.sql
var migrationFiles embed.FS

// Namespace is the migration namespace of the accounts tables.
const Namespace = "accounts"

// Migrate applies the pending accounts migrations to the schema db's
// connections use. Safe to run from several nodes at once.
func Migrate(ctx context.Context, db storepg.DB) error {
	return storepg.EmbeddedMigrations(Namespace, migrationFiles).Apply(ctx, db)
}

// Store is an accounts.Store over a pgx pool.
type Store struct {
	pool *pgxpool.Pool
	own  bool
}

var _ accounts.Store = (*Store)(nil)

// Options configures New.
type Options struct {
	// AutoMigrate applies pending migrations first.
	AutoMigrate bool
	// ClosePool makes Close close the pool too.
	ClosePool bool
}

// New returns a store on pool (typically the document store's).
func New(ctx context.Context, pool *pgxpool.Pool, opts Options) (*Store, error) {
	if opts.AutoMigrate {
		if err := Migrate(ctx, pool); err != nil {
			return nil, err
		}
	}
	return &Store{pool: pool, own: opts.ClosePool}, nil
}

// Close closes the pool if the store owns it.
func (s *Store) Close() error {
	if s.own {
		s.pool.Close()
	}
	return nil
}

const (
	pgUniqueViolation     = "23505"
	pgForeignKeyViolation = "23503"
)

// mapErr turns database errors into the accounts sentinels.
func mapErr(op string, err error) error {
	if err == nil {
		return nil
	}
	var pgErr *pgconn.PgError
	switch {
	case errors.Is(err, pgx.ErrNoRows):
		return fmt.Errorf("%s: %w", op, accounts.ErrNotFound)
	case errors.As(err, &pgErr) && pgErr.Code == pgUniqueViolation:
		return fmt.Errorf("%s: %w (%s)", op, accounts.ErrConflict, pgErr.ConstraintName)
	case errors.As(err, &pgErr) && pgErr.Code == pgForeignKeyViolation:
		return fmt.Errorf("%s: %w (%s)", op, accounts.ErrNotFound, pgErr.ConstraintName)
	}
	return fmt.Errorf("%s: %w", op, err)
}

// affected fails with ErrNotFound when a statement touched no row.
func affected(tag pgconn.CommandTag, err error) error {
	if err != nil {
		return err
	}
	if tag.RowsAffected() == 0 {
		return pgx.ErrNoRows
	}
	return nil
}

// null stores a zero time as NULL.
func null(t time.Time) any {
	if t.IsZero() {
		return nil
	}
	return t
}

// nt scans a nullable time.
type nt struct{ t *time.Time }

func (n nt) get() time.Time {
	if n.t == nil {
		return time.Time{}
	}
	return n.t.UTC()
}

func (s *Store) tx(ctx context.Context, fn func(tx pgx.Tx) error) error {
	return pgx.BeginFunc(ctx, s.pool, fn)
}

// SigningKey implements accounts.Store.
func (s *Store) SigningKey(ctx context.Context) ([]byte, error) {
	fresh := make([]byte, 32)
	if _, err := rand.Read(fresh); err != nil {
		return nil, err
	}
	const q = `INSERT INTO acct_meta (key, value) VALUES ('signing-key', $1) ON CONFLICT (key) DO NOTHING`
	if _, err := s.pool.Exec(ctx, q, fresh); err != nil {
		return nil, mapErr("signing key", err)
	}
	var key []byte
	err := s.pool.QueryRow(ctx, `SELECT value FROM acct_meta WHERE key = 'signing-key'`).Scan(&key)
	return key, mapErr("signing key", err)
}
