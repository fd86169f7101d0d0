package postgres_test

import (
	"errors"
	"slices"
	"sync"
	"testing"
	"testing/fstest"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/casual-dev/casual/store"
	"github.com/casual-dev/casual/store/postgres"
)

// newPool opens a pool on dsn for the test.
func newPool(t *testing.T, dsn string) *pgxpool.Pool {
	t.Helper()
	pool, err := pgxpool.New(t.Context(), dsn)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(pool.Close)
	return pool
}

// applied returns the versions namespace has recorded, in order.
func applied(t *testing.T, pool *pgxpool.Pool, namespace string) []int32 {
	t.Helper()
	rows, err := pool.Query(t.Context(), `SELECT version FROM schema_migrations WHERE namespace = $1 ORDER BY version`, namespace)
	if err != nil {
		t.Fatal(err)
	}
	versions, err := pgx.CollectRows(rows, pgx.RowTo[int32])
	if err != nil {
		t.Fatal(err)
	}
	return versions
}

func tableExists(t *testing.T, pool *pgxpool.Pool, table string) bool {
	t.Helper()
	var ok bool
	if err := pool.QueryRow(t.Context(), `SELECT to_regclass($1) IS NOT NULL`, table).Scan(&ok); err != nil {
		t.Fatal(err)
	}
	return ok
}

func TestMigrateIsIdempotent(t *testing.T) {
	_, dsn := newSchema(t)
	pool := newPool(t, dsn)
	for range 3 {
		if err := postgres.Migrate(t.Context(), pool); err != nil {
			t.Fatalf("Migrate: %v", err)
		}
	}
	if got := applied(t, pool, postgres.Namespace); !slices.Equal(got, []int32{1}) {
		t.Fatalf("applied versions %v, want [1]", got)
	}
	for _, table := range []string{"chunks", "storage_meta"} {
		if !tableExists(t, pool, table) {
			t.Errorf("table %s missing", table)
		}
	}
}

// TestConcurrentMigrationsApplyOnce: three nodes start at once against an
// empty schema.
func TestConcurrentMigrationsApplyOnce(t *testing.T) {
	_, dsn := newSchema(t)
	var wg sync.WaitGroup
	for n := range 3 {
		wg.Go(func() {
			if err := postgres.MigrateDSN(t.Context(), dsn); err != nil {
				t.Errorf("node %d: Migrate: %v", n, err)
			}
		})
	}
	wg.Wait()
	if got := applied(t, newPool(t, dsn), postgres.Namespace); !slices.Equal(got, []int32{1}) {
		t.Fatalf("applied versions %v, want [1]", got)
	}
}

// TestConcurrentOpensShareOneStorageID: three nodes open an empty schema
// at once, migrating it and creating the storage id.
func TestConcurrentOpensShareOneStorageID(t *testing.T) {
	_, dsn := newSchema(t)
	ids := make([]string, 3)
	var wg sync.WaitGroup
	for n := range ids {
		wg.Go(func() {
			s, err := postgres.Open(t.Context(), dsn, postgres.Options{AutoMigrate: true, MaxConns: 2})
			if err != nil {
				t.Errorf("node %d: Open: %v", n, err)
				return
			}
			defer s.Close()
			if ids[n], err = s.StorageID(t.Context()); err != nil {
				t.Errorf("node %d: StorageID: %v", n, err)
			}
		})
	}
	wg.Wait()
	if ids[0] == "" || ids[1] != ids[0] || ids[2] != ids[0] {
		t.Fatalf("storage ids %v, want one", ids)
	}
}

// TestMigrationNamespacesAreIndependent: another package keeps its own
// migrations next to the store's, and ships more of them later.
func TestMigrationNamespacesAreIndependent(t *testing.T) {
	_, dsn := newSchema(t)
	pool := newPool(t, dsn)
	if err := postgres.Migrate(t.Context(), pool); err != nil {
		t.Fatal(err)
	}
	v1 := fstest.MapFS{
		"0001_users.sql": {Data: []byte(`CREATE TABLE users (id text PRIMARY KEY);`)},
		"README.md":      {Data: []byte("not a migration")},
	}
	v2 := fstest.MapFS{
		"0001_users.sql":  v1["0001_users.sql"],
		"0002_tokens.sql": {Data: []byte(`CREATE TABLE tokens (id text PRIMARY KEY); ALTER TABLE users ADD COLUMN name text;`)},
	}
	tests := []struct {
		name string
		fsys fstest.MapFS
		want []int
	}{
		{"FirstRelease", v1, []int{1}},
		{"Restart", v1, nil},
		{"NextRelease", v2, []int{2}},
	}
	for _, tc := range tests {
		got, err := postgres.MigrateFS(t.Context(), pool, "accounts", tc.fsys)
		if err != nil {
			t.Fatalf("%s: MigrateFS: %v", tc.name, err)
		}
		if !slices.Equal(got, tc.want) {
			t.Fatalf("%s: applied %v, want %v", tc.name, got, tc.want)
		}
	}
	if got := applied(t, pool, "accounts"); !slices.Equal(got, []int32{1, 2}) {
		t.Fatalf("accounts versions %v, want [1 2]", got)
	}
	if got := applied(t, pool, postgres.Namespace); !slices.Equal(got, []int32{1}) {
		t.Fatalf("store versions %v, want [1]", got)
	}
}

// TestFailedMigrationChangesNothing: the pending migrations run in one
// transaction, so a bad one leaves no half-migrated schema behind.
func TestFailedMigrationChangesNothing(t *testing.T) {
	_, dsn := newSchema(t)
	pool := newPool(t, dsn)
	bad := fstest.MapFS{
		"0001_good.sql": {Data: []byte(`CREATE TABLE good (id int);`)},
		"0002_bad.sql":  {Data: []byte(`CREATE TABLE bad (id nosuchtype);`)},
	}
	if _, err := postgres.MigrateFS(t.Context(), pool, "other", bad); err == nil {
		t.Fatal("MigrateFS with a bad migration succeeded")
	}
	if tableExists(t, pool, "good") || tableExists(t, pool, "schema_migrations") {
		t.Fatal("a failed migration run left tables behind")
	}
}

func TestMigrationFilesAreValidated(t *testing.T) {
	_, dsn := newSchema(t)
	pool := newPool(t, dsn)
	sql := &fstest.MapFile{Data: []byte(`SELECT 1;`)}
	tests := []struct {
		name string
		fsys fstest.MapFS
	}{
		{"NoVersion", fstest.MapFS{"users.sql": sql}},
		{"VersionNotANumber", fstest.MapFS{"v1_users.sql": sql}},
		{"VersionZero", fstest.MapFS{"0000_users.sql": sql}},
		{"DuplicateVersion", fstest.MapFS{"0001_users.sql": sql, "1_tokens.sql": sql}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got, err := postgres.MigrateFS(t.Context(), pool, "bad", tc.fsys); err == nil {
				t.Fatalf("MigrateFS applied %v, want an error", got)
			}
		})
	}
	if tableExists(t, pool, "schema_migrations") {
		t.Fatal("invalid migrations touched the database")
	}
}

func TestOpenWithoutAutoMigrateNeedsAMigratedSchema(t *testing.T) {
	_, dsn := newSchema(t)
	s, err := postgres.Open(t.Context(), dsn, postgres.Options{})
	if err == nil {
		s.Close()
		t.Fatal("Open of an empty schema without AutoMigrate succeeded")
	}
	t.Logf("Open: %v", err)
	if err := postgres.MigrateDSN(t.Context(), dsn); err != nil {
		t.Fatal(err)
	}
	s = openStore(t, dsn, postgres.Options{})
	if _, err := s.Load(t.Context(), "doc"); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("Load: %v, want ErrNotFound", err)
	}
}
