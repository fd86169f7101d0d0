package postgres

import (
	"cmp"
	"context"
	"embed"
	"errors"
	"fmt"
	"hash/fnv"
	"io/fs"
	"path"
	"slices"
	"strconv"
	"strings"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
)

//go:embed migrations/*.sql
var migrationFiles embed.FS

// Namespace is the migration namespace of the store's own tables.
const Namespace = "store"

// DB is what the migration runner needs: a *pgxpool.Pool, a *pgx.Conn, or a
// pgx.Tx (the migrations then commit with it).
type DB interface {
	Begin(ctx context.Context) (pgx.Tx, error)
}

// Migrate applies the store's pending migrations to the schema db's
// connections use (their search_path). It is safe to run from several
// nodes at once, and a no-op when nothing is pending.
func Migrate(ctx context.Context, db DB) error {
	_, err := MigrateFS(ctx, db, Namespace, storeMigrations())
	return err
}

// MigrateDSN connects to dsn, applies the store's pending migrations and
// disconnects: for a `migrate` command that runs before any node starts.
func MigrateDSN(ctx context.Context, dsn string) error {
	conn, err := pgx.Connect(ctx, dsn)
	if err != nil {
		return fmt.Errorf("migrate: connect: %w", err)
	}
	return errors.Join(Migrate(ctx, conn), conn.Close(context.WithoutCancel(ctx)))
}

// MigrateFS applies the migrations in fsys that namespace has not applied
// yet, in version order, and returns the versions it applied. Another
// package keeping its own tables in the same database passes its own
// namespace and files, e.g. MigrateFS(ctx, pool, "accounts", files).
//
// A migration is a file NNNN_name.sql at the root of fsys (use fs.Sub for a
// directory of an embed.FS); NNNN is its version, a positive integer unique
// in the namespace. Files may hold several statements. All pending
// migrations run in one transaction, holding an advisory lock per schema so
// that concurrent runners apply each exactly once: they succeed or fail
// together, and statements that cannot run in a transaction (CREATE INDEX
// CONCURRENTLY) cannot be migrations.
//
// Applied versions are recorded in schema_migrations(namespace, version,
// name, applied_at).
func MigrateFS(ctx context.Context, db DB, namespace string, fsys fs.FS) (applied []int, err error) {
	if namespace == "" {
		return nil, errors.New("migrate: empty namespace")
	}
	migs, err := readMigrations(fsys)
	if err != nil {
		return nil, fmt.Errorf("migrate %s: %w", namespace, err)
	}
	tx, err := db.Begin(ctx)
	if err != nil {
		return nil, fmt.Errorf("migrate %s: begin: %w", namespace, err)
	}
	defer rollback(ctx, tx)
	done, err := lockMigrations(ctx, tx, namespace)
	if err != nil {
		return nil, fmt.Errorf("migrate %s: %w", namespace, err)
	}
	for _, m := range migs {
		if done[m.version] {
			continue
		}
		if _, err := tx.Exec(ctx, m.sql); err != nil {
			return nil, fmt.Errorf("migrate %s: %s: %w", namespace, m.name, err)
		}
		const record = `INSERT INTO schema_migrations (namespace, version, name) VALUES ($1, $2, $3)`
		if _, err := tx.Exec(ctx, record, namespace, m.version, m.name); err != nil {
			return nil, fmt.Errorf("migrate %s: record %s: %w", namespace, m.name, err)
		}
		applied = append(applied, m.version)
	}
	if err := tx.Commit(ctx); err != nil {
		return nil, fmt.Errorf("migrate %s: commit: %w", namespace, err)
	}
	return applied, nil
}

// lockMigrations takes the current schema's migration lock inside tx,
// creates schema_migrations if needed and returns namespace's applied
// versions. The lock comes first: concurrent CREATE TABLE IF NOT EXISTS
// statements can otherwise fail on each other.
func lockMigrations(ctx context.Context, tx pgx.Tx, namespace string) (map[int]bool, error) {
	var schema *string
	if err := tx.QueryRow(ctx, `SELECT current_schema()`).Scan(&schema); err != nil {
		return nil, fmt.Errorf("current schema: %w", err)
	}
	if schema == nil {
		return nil, errors.New("no schema of the search_path exists")
	}
	if _, err := tx.Exec(ctx, `SELECT pg_advisory_xact_lock($1)`, lockKey(*schema)); err != nil {
		return nil, fmt.Errorf("lock: %w", err)
	}
	const create = `CREATE TABLE IF NOT EXISTS schema_migrations (
		namespace  text        NOT NULL,
		version    integer     NOT NULL,
		name       text        NOT NULL,
		applied_at timestamptz NOT NULL DEFAULT now(),
		PRIMARY KEY (namespace, version))`
	if _, err := tx.Exec(ctx, create); err != nil {
		return nil, fmt.Errorf("create schema_migrations: %w", err)
	}
	return appliedVersions(ctx, tx, namespace)
}

// pending returns the versions in fsys that namespace has not applied.
func pending(ctx context.Context, db querier, namespace string, fsys fs.FS) ([]int, error) {
	migs, err := readMigrations(fsys)
	if err != nil {
		return nil, err
	}
	done, err := appliedVersions(ctx, db, namespace)
	var pgErr *pgconn.PgError
	if errors.As(err, &pgErr) && pgErr.Code == "42P01" { // undefined_table: never migrated
		done, err = nil, nil
	}
	if err != nil {
		return nil, err
	}
	var out []int
	for _, m := range migs {
		if !done[m.version] {
			out = append(out, m.version)
		}
	}
	return out, nil
}

// querier is a pool, a connection or a transaction.
type querier interface {
	Query(ctx context.Context, sql string, args ...any) (pgx.Rows, error)
}

func appliedVersions(ctx context.Context, db querier, namespace string) (map[int]bool, error) {
	rows, err := db.Query(ctx, `SELECT version FROM schema_migrations WHERE namespace = $1`, namespace)
	if err != nil {
		return nil, fmt.Errorf("read schema_migrations: %w", err)
	}
	versions, err := pgx.CollectRows(rows, pgx.RowTo[int32])
	if err != nil {
		return nil, fmt.Errorf("read schema_migrations: %w", err)
	}
	done := make(map[int]bool, len(versions))
	for _, v := range versions {
		done[int(v)] = true
	}
	return done, nil
}

// lockKey is the advisory lock key for migrating schema: nodes sharing a
// schema serialize, runners on different schemas do not wait for each other.
func lockKey(schema string) int64 {
	h := fnv.New64a()
	h.Write([]byte("casual/migrate/" + schema))
	return int64(h.Sum64())
}

type migration struct {
	version int
	name    string
	sql     string
}

// readMigrations reads and orders the *.sql files at the root of fsys.
func readMigrations(fsys fs.FS) ([]migration, error) {
	names, err := fs.Glob(fsys, "*.sql")
	if err != nil {
		return nil, fmt.Errorf("list migrations: %w", err)
	}
	migs := make([]migration, 0, len(names))
	for _, name := range names {
		prefix, _, ok := strings.Cut(name, "_")
		v, err := strconv.Atoi(prefix)
		if !ok || err != nil || v <= 0 {
			return nil, fmt.Errorf("migration %s: name is not NNNN_name.sql with NNNN > 0", name)
		}
		b, err := fs.ReadFile(fsys, name)
		if err != nil {
			return nil, fmt.Errorf("migration %s: %w", name, err)
		}
		migs = append(migs, migration{version: v, name: path.Base(name), sql: string(b)})
	}
	slices.SortFunc(migs, func(a, b migration) int { return cmp.Compare(a.version, b.version) })
	for i := 1; i < len(migs); i++ {
		if migs[i].version == migs[i-1].version {
			return nil, fmt.Errorf("migrations %s and %s share version %d", migs[i-1].name, migs[i].name, migs[i].version)
		}
	}
	return migs, nil
}

func storeMigrations() fs.FS { return EmbeddedMigrations(Namespace, migrationFiles).Files }

// Migrations are one namespace's migration files: the store's, or those of
// a package keeping its own tables beside it (accounts, executions, AI runs).
type Migrations struct {
	Namespace string
	Files     fs.FS // NNNN_name.sql files at its root
}

// EmbeddedMigrations returns the migrations a package embeds under
// "migrations/" (//go:embed migrations/*.sql).
func EmbeddedMigrations(namespace string, files embed.FS) Migrations {
	sub, err := fs.Sub(files, "migrations")
	if err != nil {
		panic(err) // the directory is embedded: this cannot fail
	}
	return Migrations{Namespace: namespace, Files: sub}
}

// Apply applies the pending migrations (MigrateFS) to the schema db's
// connections use. Safe to run from several nodes at once.
func (m Migrations) Apply(ctx context.Context, db DB) error {
	if _, err := MigrateFS(ctx, db, m.Namespace, m.Files); err != nil {
		return fmt.Errorf("migrate %s: %w", m.Namespace, err)
	}
	return nil
}

// rollback ends tx if Commit did not; after a Commit it is a no-op.
func rollback(ctx context.Context, tx pgx.Tx) {
	// Bounded, and not by ctx: ending the transaction must not be skipped
	// because the caller gave up.
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), rollbackTimeout)
	defer cancel()
	// The error is either ErrTxClosed (committed) or the connection's, which
	// the failed statement already reported; pgx discards a broken
	// connection.
	_ = tx.Rollback(ctx)
}
