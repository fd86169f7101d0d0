// Package postgres keeps the execution history in PostgreSQL (the
// executions table), next to the document store's tables and usually on
// its pool (store/postgres.(*Store).Pool()). Nodes that share the database
// share the history, and its Claim is the fence that makes a run execute
// once across them. Its table is created by migrations in the "executions"
// namespace of store/postgres.MigrateFS.
package postgres

import (
	"context"
	"embed"
	"encoding/json"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/casual-dev/casual/execute"
	storepg "github.com/casual-dev/casual/store/postgres"
)

//go:embed migrations/*.sql
var migrationFiles embed.FS

// Namespace is the migration namespace of the executions table.
const Namespace = "executions"

// Migrate applies the pending migrations to the schema db's connections
// use. Safe to run from several nodes at once.
func Migrate(ctx context.Context, db storepg.DB) error {
	return storepg.EmbeddedMigrations(Namespace, migrationFiles).Apply(ctx, db)
}

// Options configures New.
type Options struct {
	// AutoMigrate applies pending migrations first.
	AutoMigrate bool
	// ClosePool makes Close close the pool too.
	ClosePool bool
}

// History is an execute.History in PostgreSQL.
type History struct {
	pool *pgxpool.Pool
	own  bool
}

var _ execute.History = (*History)(nil)

// New returns a history on pool (typically the document store's).
func New(ctx context.Context, pool *pgxpool.Pool, opts Options) (*History, error) {
	if opts.AutoMigrate {
		if err := Migrate(ctx, pool); err != nil {
			return nil, err
		}
	}
	return &History{pool: pool, own: opts.ClosePool}, nil
}

// Close closes the pool if the history owns it.
func (h *History) Close() error {
	if h.own {
		h.pool.Close()
	}
	return nil
}

// A claim is one implicit transaction (a batch): the app's advisory lock,
// so that claims of one app take turns, then the insert or takeover. Its
// SELECT lets it through only if no other run of the app is held at the
// claimer's now ($7); the WHERE clause of its update is the per-run rule:
// a finished run is never claimed, an unfinished one is if nobody holds
// it, the claimer holds it, or its lease ended before $7. It returns the
// app's last heads, and no row if the claim lost.
const (
	claimLockSQL = `SELECT pg_advisory_xact_lock(7207, hashtext($1))`
	claimSQL     = `
INSERT INTO executions AS e (app, id, status, executor, lease_until, queued_at, record)
SELECT $1::text, $2::text, $3::text, $4::text, $5::timestamptz, $6::timestamptz, $8::jsonb
WHERE NOT EXISTS (
	SELECT 1 FROM executions b
	WHERE b.app = $1 AND b.id <> $2 AND b.status NOT IN ('completed', 'failed')
		AND b.executor <> '' AND b.lease_until >= $7)
ON CONFLICT (app, id) DO UPDATE
SET status = excluded.status, executor = excluded.executor, lease_until = excluded.lease_until,
	queued_at = excluded.queued_at, record = excluded.record, updated_at = now()
WHERE e.status NOT IN ('completed', 'failed')
	AND (e.executor IN ('', excluded.executor) OR e.lease_until IS NULL OR e.lease_until < $7)
RETURNING (SELECT heads FROM execution_apps WHERE app = $1)`
	// heldUntilSQL: what stood in the way of a lost claim.
	heldUntilSQL = `
SELECT max(lease_until) FROM executions
WHERE app = $1 AND status NOT IN ('completed', 'failed') AND executor <> ''
	AND (id = $2 OR lease_until >= $3)`
)

// Claim implements execute.History.
func (h *History) Claim(ctx context.Context, rec execute.Record) (execute.Claim, error) {
	data, err := json.Marshal(rec)
	if err != nil {
		return execute.Claim{}, fmt.Errorf("claim %s: %w", rec.ID, err)
	}
	now := time.Now()
	if rec.StartedAt != nil {
		now = *rec.StartedAt
	}
	b := &pgx.Batch{}
	b.Queue(claimLockSQL, rec.App)
	var c execute.Claim
	b.Queue(claimSQL, rec.App, rec.ID, rec.Status, rec.Executor, rec.LeaseUntil, rec.QueuedAt, now, data).
		Query(func(rows pgx.Rows) error {
			for rows.Next() {
				var heads []byte
				if err := rows.Scan(&heads); err != nil {
					return err
				}
				c.Won = true
				if len(heads) > 0 {
					if err := json.Unmarshal(heads, &c.After); err != nil {
						return fmt.Errorf("decode heads: %w", err)
					}
				}
			}
			return rows.Err()
		})
	if err := h.pool.SendBatch(ctx, b).Close(); err != nil {
		return execute.Claim{}, fmt.Errorf("claim %s: %w", rec.ID, err)
	}
	if c.Won {
		return c, nil
	}
	var until *time.Time
	if err := h.pool.QueryRow(ctx, heldUntilSQL, rec.App, rec.ID, now).Scan(&until); err != nil {
		return execute.Claim{}, fmt.Errorf("claim %s: %w", rec.ID, err)
	}
	if until != nil {
		c.HeldUntil = *until
	}
	return c, nil
}

// Renew implements execute.History.
func (h *History) Renew(ctx context.Context, app, id, executor string, until time.Time) (bool, error) {
	tag, err := h.pool.Exec(ctx, `
UPDATE executions SET lease_until = $4, updated_at = now()
WHERE app = $1 AND id = $2 AND executor = $3 AND status NOT IN ('completed', 'failed')`, app, id, executor, until)
	if err != nil {
		return false, fmt.Errorf("renew %s: %w", id, err)
	}
	return tag.RowsAffected() == 1, nil
}

// finishSQL stores a finished run if its executor still holds it, and its
// heads as the app's last, in one statement; it returns 1 if it did.
const finishSQL = `
WITH f AS (
	INSERT INTO executions AS e (app, id, status, executor, lease_until, queued_at, record)
	VALUES ($1, $2, $3, $4, $5, $6, $7)
	ON CONFLICT (app, id) DO UPDATE
	SET status = excluded.status, lease_until = excluded.lease_until, queued_at = excluded.queued_at,
		record = excluded.record, updated_at = now()
	WHERE e.executor = excluded.executor AND e.status NOT IN ('completed', 'failed')
	RETURNING app
), a AS (
	INSERT INTO execution_apps (app, heads)
	SELECT app, $8::jsonb FROM f WHERE jsonb_array_length($8::jsonb) > 0
	ON CONFLICT (app) DO UPDATE SET heads = excluded.heads, updated_at = now()
)
SELECT count(*) FROM f`

// Finish implements execute.History.
func (h *History) Finish(ctx context.Context, rec execute.Record) (bool, error) {
	data, err := json.Marshal(rec)
	if err != nil {
		return false, fmt.Errorf("finish %s: %w", rec.ID, err)
	}
	heads, err := json.Marshal(rec.Heads)
	if err != nil || rec.Heads == nil {
		heads = []byte("[]")
	}
	var n int
	err = h.pool.QueryRow(ctx, finishSQL, rec.App, rec.ID, rec.Status, rec.Executor, rec.LeaseUntil, rec.QueuedAt, data, heads).Scan(&n)
	if err != nil {
		return false, fmt.Errorf("finish %s: %w", rec.ID, err)
	}
	return n == 1, nil
}

// Put implements execute.History.
func (h *History) Put(ctx context.Context, rec execute.Record) error {
	data, err := json.Marshal(rec)
	if err != nil {
		return fmt.Errorf("put %s: %w", rec.ID, err)
	}
	_, err = h.pool.Exec(ctx, `
INSERT INTO executions (app, id, status, executor, lease_until, queued_at, record)
VALUES ($1, $2, $3, $4, $5, $6, $7)
ON CONFLICT (app, id) DO UPDATE
SET status = excluded.status, executor = excluded.executor, lease_until = excluded.lease_until,
	queued_at = excluded.queued_at, record = excluded.record, updated_at = now()`,
		rec.App, rec.ID, rec.Status, rec.Executor, rec.LeaseUntil, rec.QueuedAt, data)
	if err != nil {
		return fmt.Errorf("put %s: %w", rec.ID, err)
	}
	return nil
}

// Get implements execute.History.
func (h *History) Get(ctx context.Context, id string) (execute.Record, error) {
	rows, err := h.pool.Query(ctx, selectSQL+` WHERE id = $1 ORDER BY updated_at DESC LIMIT 1`, id)
	if err != nil {
		return execute.Record{}, fmt.Errorf("get execution %s: %w", id, err)
	}
	recs, err := collect(rows)
	if err != nil {
		return execute.Record{}, fmt.Errorf("get execution %s: %w", id, err)
	}
	if len(recs) == 0 {
		return execute.Record{}, fmt.Errorf("execution %s: %w", id, execute.ErrNotFound)
	}
	return recs[0], nil
}

// List implements execute.History.
func (h *History) List(ctx context.Context, app string, limit int) ([]execute.Record, error) {
	rows, err := h.pool.Query(ctx, selectSQL+` WHERE app = $1 ORDER BY queued_at DESC, id DESC LIMIT $2`, app, limit)
	if err != nil {
		return nil, fmt.Errorf("list executions of %s: %w", app, err)
	}
	recs, err := collect(rows)
	if err != nil {
		return nil, fmt.Errorf("list executions of %s: %w", app, err)
	}
	return recs, nil
}

// A renewal changes lease_until only: the column is the truth.
const selectSQL = `SELECT record, lease_until FROM executions`

func collect(rows pgx.Rows) ([]execute.Record, error) {
	var out []execute.Record
	for rows.Next() {
		var data []byte
		var lease *time.Time
		if err := rows.Scan(&data, &lease); err != nil {
			return nil, err
		}
		var rec execute.Record
		if err := json.Unmarshal(data, &rec); err != nil {
			return nil, fmt.Errorf("decode execution: %w", err)
		}
		if lease != nil && (rec.LeaseUntil == nil || !lease.Equal(rec.LeaseUntil.Truncate(time.Microsecond))) {
			l := lease.UTC()
			rec.LeaseUntil = &l
		}
		out = append(out, rec)
	}
	if err := rows.Err(); err != nil {
		return nil, err
	}
	return out, nil
}
