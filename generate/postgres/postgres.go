// Package postgres keeps the AI co-editor's run history in PostgreSQL,
// next to the document store's tables (usually on its pool:
// store/postgres.(*Store).Pool()). Its table is created by migrations in
// the "generate" namespace of store/postgres.MigrateFS, so it versions
// independently of the store's and the accounts' tables.
package postgres

import (
	"context"
	"embed"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/casual-dev/casual/generate"
	storepg "github.com/casual-dev/casual/store/postgres"
)

//go:embed migrations/*.sql
var migrationFiles embed.FS

// Namespace is the migration namespace of the run history table.
const Namespace = "generate"

// Migrate applies the pending run history migrations to the schema db's
// connections use. Safe to run from several nodes at once.
func Migrate(ctx context.Context, db storepg.DB) error {
	return storepg.EmbeddedMigrations(Namespace, migrationFiles).Apply(ctx, db)
}

// Store is a generate.RunStore over a pgx pool. It keeps every run.
type Store struct {
	pool *pgxpool.Pool
}

var _ generate.RunStore = (*Store)(nil)

// Options configures New.
type Options struct {
	// AutoMigrate applies pending migrations first.
	AutoMigrate bool
}

// New returns a store on pool (typically the document store's, which
// the caller keeps owning and closes).
func New(ctx context.Context, pool *pgxpool.Pool, opts Options) (*Store, error) {
	if opts.AutoMigrate {
		if err := Migrate(ctx, pool); err != nil {
			return nil, err
		}
	}
	return &Store{pool: pool}, nil
}

// execer is the pool or a transaction.
type execer interface {
	Exec(ctx context.Context, sql string, args ...any) (pgconn.CommandTag, error)
}

// upsert writes r.
func upsert(ctx context.Context, db execer, r generate.Run) error {
	data, err := json.Marshal(r)
	if err != nil {
		return fmt.Errorf("encode: %w", err)
	}
	_, err = db.Exec(ctx, `INSERT INTO ai_runs (id, app_id, node, status, created_at, run)
		VALUES ($1, $2, $3, $4, $5, $6)
		ON CONFLICT (id) DO UPDATE SET app_id = $2, node = $3, status = $4, created_at = $5, run = $6`,
		r.ID, r.AppID, r.Node, string(r.Status), r.CreatedAt, string(data))
	return err
}

func decode(data []byte) (generate.Run, error) {
	var r generate.Run
	if err := json.Unmarshal(data, &r); err != nil {
		return r, fmt.Errorf("decode run: %w", err)
	}
	return r, nil
}

// scanRun reads a row of one run column.
func scanRun(row pgx.CollectableRow) (generate.Run, error) {
	var data []byte
	if err := row.Scan(&data); err != nil {
		return generate.Run{}, err
	}
	return decode(data)
}

// Put implements generate.RunStore.
func (s *Store) Put(ctx context.Context, r generate.Run) error {
	if err := upsert(ctx, s.pool, r); err != nil {
		return fmt.Errorf("put run %s: %w", r.ID, err)
	}
	return nil
}

// Get implements generate.RunStore.
func (s *Store) Get(ctx context.Context, id string) (generate.Run, error) {
	var data []byte
	err := s.pool.QueryRow(ctx, `SELECT run FROM ai_runs WHERE id = $1`, id).Scan(&data)
	if errors.Is(err, pgx.ErrNoRows) {
		return generate.Run{}, fmt.Errorf("%w: %.40q", generate.ErrRunNotFound, id)
	}
	if err != nil {
		return generate.Run{}, fmt.Errorf("get run: %w", err)
	}
	return decode(data)
}

// List implements generate.RunStore.
func (s *Store) List(ctx context.Context, appID string, limit int) ([]generate.Run, error) {
	var lim any // NULL: no limit
	if limit > 0 {
		lim = limit
	}
	rows, err := s.pool.Query(ctx, `SELECT run FROM ai_runs WHERE $1 = '' OR app_id = $1
		ORDER BY created_at DESC, id DESC LIMIT $2`, appID, lim)
	if err != nil {
		return nil, fmt.Errorf("list runs: %w", err)
	}
	runs, err := pgx.CollectRows(rows, scanRun)
	if err != nil {
		return nil, fmt.Errorf("list runs: %w", err)
	}
	return runs, nil
}

// Interrupt implements generate.RunStore.
func (s *Store) Interrupt(ctx context.Context, node string, e generate.RunError, at time.Time) ([]string, error) {
	var ids []string
	err := pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		rows, err := tx.Query(ctx, `SELECT run FROM ai_runs WHERE node = $1 AND status IN ('queued', 'running')
			ORDER BY created_at, id FOR UPDATE`, node)
		if err != nil {
			return err
		}
		runs, err := pgx.CollectRows(rows, scanRun)
		if err != nil {
			return err
		}
		for _, r := range runs {
			r.Interrupt(e, at)
			if err := upsert(ctx, tx, r); err != nil {
				return err
			}
			ids = append(ids, r.ID)
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("interrupt runs of %q: %w", node, err)
	}
	return ids, nil
}
