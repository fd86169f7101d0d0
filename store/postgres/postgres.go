// Package postgres is the store shared by several nodes: chunks live in a
// PostgreSQL table keyed by (document, SHA-256), so nodes that persist the
// same bytes store them once. Writes are group-committed by one writer
// goroutine per Store; reads use the pool concurrently. Tables are created
// by versioned migrations embedded in the binary (see Migrate), which other
// packages can extend with their own namespace (see MigrateFS).
package postgres

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"time"
	"unicode/utf8"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/casual-dev/casual/store"
)

// Defaults for zero Options fields.
const (
	DefaultMaxBatch      = 512
	DefaultMaxBatchBytes = 32 << 20
	DefaultWriteTimeout  = 30 * time.Second
)

// Limits on what the store accepts.
const (
	// MaxDocIDLen keeps a document id well inside a btree index entry.
	MaxDocIDLen = 1024
	// MaxChunkSize stays below PostgreSQL's 1 GB field limit with room for
	// the protocol message carrying it.
	MaxChunkSize = 512 << 20
)

const (
	rollbackTimeout = 5 * time.Second
	keyStorageID    = "storage-id"
)

// Options configures Open. The zero value is usable once the schema is
// migrated; set AutoMigrate to migrate on open.
type Options struct {
	// Logger receives open/close notices and write failures; nil discards.
	Logger *slog.Logger

	// Observe, if set, is called by the writer after each committed write
	// transaction with op "commit", the number of requests it carried and
	// how long the transaction took; and after each Load with op "load",
	// the number of chunks and the read time. It runs on the writer
	// goroutine (commits) or the caller's (loads), so it must be quick
	// (record a histogram, no I/O).
	Observe func(op string, batch int, d time.Duration)

	// AutoMigrate applies pending migrations on Open. Without it, Open
	// fails when the schema lacks one of the store's migrations.
	AutoMigrate bool

	// Schema, if set, is the schema the store's tables live in (the
	// connections' search_path); the DSN's search_path is used otherwise.
	// The schema must exist.
	Schema string

	// MaxConns caps the pool's connections (pgxpool's default, or the DSN's
	// pool_max_conns, when zero). One is the writer's; the others serve
	// Loads, StorageID and whatever other packages run on Pool.
	MaxConns int32

	// MaxBatch caps the requests written in one transaction
	// (DefaultMaxBatch when zero).
	MaxBatch int

	// MaxBatchBytes stops draining more requests into a transaction once
	// their chunks add up to this many bytes (DefaultMaxBatchBytes when
	// zero). A single larger request is still written, alone.
	MaxBatchBytes int

	// WriteTimeout bounds one write transaction, retries included
	// (DefaultWriteTimeout when zero), so an unresponsive server fails
	// writes instead of stalling them.
	WriteTimeout time.Duration
}

func (o Options) withDefaults() Options {
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	if o.MaxBatch <= 0 {
		o.MaxBatch = DefaultMaxBatch
	}
	if o.MaxBatchBytes <= 0 {
		o.MaxBatchBytes = DefaultMaxBatchBytes
	}
	if o.WriteTimeout <= 0 {
		o.WriteTimeout = DefaultWriteTimeout
	}
	return o
}

// Store is a store.Store in a PostgreSQL database.
type Store struct {
	pool *pgxpool.Pool
	id   string
	opts Options
	log  *slog.Logger

	reqs      chan *request // unbuffered: a waiting sender is a queued request
	closing   chan struct{} // closed by Close: the writer stops taking requests
	done      chan struct{} // closed by the writer when it has exited
	closeOnce sync.Once
}

var _ store.Store = (*Store)(nil)

// Open connects to the database at dsn (a URL or keyword/value string, as
// pgx parses it), migrates it if opts.AutoMigrate, creates the storage id on
// first use and starts the writer goroutine; Close stops it.
func Open(ctx context.Context, dsn string, opts Options) (*Store, error) {
	opts = opts.withDefaults()
	pool, err := newPool(ctx, dsn, opts)
	if err != nil {
		return nil, fmt.Errorf("open postgres store: %w", err)
	}
	id, err := prepare(ctx, pool, opts)
	if err != nil {
		pool.Close()
		return nil, fmt.Errorf("open postgres store: %w", err)
	}
	cfg := pool.Config().ConnConfig
	s := &Store{
		pool:    pool,
		id:      id,
		opts:    opts,
		log:     opts.Logger.With(slog.String("store", "postgres"), slog.String("db", cfg.Database)),
		reqs:    make(chan *request),
		closing: make(chan struct{}),
		done:    make(chan struct{}),
	}
	go s.run()
	s.log.Info("store open", slog.String("host", cfg.Host), slog.String("storage_id", id),
		slog.String("search_path", cfg.RuntimeParams["search_path"]))
	return s, nil
}

func newPool(ctx context.Context, dsn string, opts Options) (*pgxpool.Pool, error) {
	cfg, err := pgxpool.ParseConfig(dsn)
	if err != nil {
		return nil, fmt.Errorf("parse dsn: %w", err)
	}
	if opts.MaxConns > 0 {
		cfg.MaxConns = opts.MaxConns
	}
	params := cfg.ConnConfig.RuntimeParams
	if opts.Schema != "" {
		params["search_path"] = pgx.Identifier{opts.Schema}.Sanitize()
	}
	if params["application_name"] == "" {
		params["application_name"] = "casual"
	}
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		return nil, fmt.Errorf("create pool: %w", err)
	}
	if err := pool.Ping(ctx); err != nil {
		pool.Close()
		return nil, fmt.Errorf("connect: %w", err)
	}
	return pool, nil
}

// prepare migrates or checks the schema and returns the storage id.
func prepare(ctx context.Context, pool *pgxpool.Pool, opts Options) (string, error) {
	if opts.AutoMigrate {
		applied, err := MigrateFS(ctx, pool, Namespace, storeMigrations())
		if err != nil {
			return "", err
		}
		if len(applied) > 0 {
			opts.Logger.Info("migrated", slog.String("namespace", Namespace), slog.Any("versions", applied))
		}
	} else {
		todo, err := pending(ctx, pool, Namespace, storeMigrations())
		if err != nil {
			return "", fmt.Errorf("check migrations: %w", err)
		}
		if len(todo) > 0 {
			return "", fmt.Errorf("schema lacks store migrations %v: run the migrate command or set AutoMigrate", todo)
		}
	}
	return storageID(ctx, pool)
}

// storageID reads the storage id, creating it if this is the first node to
// ask; concurrent first nodes agree on the one that was inserted first.
func storageID(ctx context.Context, pool *pgxpool.Pool) (string, error) {
	fresh, err := newStorageID()
	if err != nil {
		return "", err
	}
	const insert = `INSERT INTO storage_meta (key, value) VALUES ($1, $2) ON CONFLICT (key) DO NOTHING`
	if _, err := pool.Exec(ctx, insert, keyStorageID, fresh); err != nil {
		return "", fmt.Errorf("storage id: %w", err)
	}
	var id string
	if err := pool.QueryRow(ctx, `SELECT value FROM storage_meta WHERE key = $1`, keyStorageID).Scan(&id); err != nil {
		return "", fmt.Errorf("storage id: %w", err)
	}
	return id, nil
}

// Pool returns the store's connection pool, for packages that keep their
// own tables in the same database. It is closed by Close.
func (s *Store) Pool() *pgxpool.Pool { return s.pool }

// StorageID returns the id created when the database was first opened.
func (s *Store) StorageID(ctx context.Context) (string, error) {
	if err := s.usable(ctx); err != nil {
		return "", fmt.Errorf("storage id: %w", err)
	}
	return s.id, nil
}

// Append durably adds an incremental chunk to doc; see store.Store. It
// returns once the transaction holding the chunk has committed. If it
// returns an error (the database is unreachable, ctx ended meanwhile), the
// chunk may or may not be stored; appending it again is safe.
func (s *Store) Append(ctx context.Context, doc string, data []byte) (store.ChunkRef, error) {
	if err := checkChunk(doc, data); err != nil {
		return store.ChunkRef{}, fmt.Errorf("append %s: %w", doc, err)
	}
	ref, err := s.submit(ctx, newRequest(opAppend, doc, store.Incremental, data))
	if err != nil {
		return store.ChunkRef{}, fmt.Errorf("append %s: %w", doc, err)
	}
	return ref, nil
}

// Compact stores snapshot in place of the replaced chunks, in one
// transaction; see store.Store. Refs are matched by hash; refs not stored
// (already removed by an earlier compaction) are ignored.
func (s *Store) Compact(ctx context.Context, doc string, snapshot []byte, replaced []store.ChunkRef) (store.ChunkRef, error) {
	if err := checkChunk(doc, snapshot); err != nil {
		return store.ChunkRef{}, fmt.Errorf("compact %s: %w", doc, err)
	}
	r := newRequest(opCompact, doc, store.Snapshot, snapshot)
	r.replaced = make([][]byte, 0, len(replaced))
	for _, ref := range replaced {
		h, err := hex.DecodeString(ref.Hash)
		if err != nil || len(h) != len(r.sum) {
			return store.ChunkRef{}, fmt.Errorf("compact %s: bad chunk hash %q", doc, ref.Hash)
		}
		if string(h) != string(r.sum[:]) { // the new snapshot itself stays
			r.replaced = append(r.replaced, h)
		}
	}
	ref, err := s.submit(ctx, r)
	if err != nil {
		return store.ChunkRef{}, fmt.Errorf("compact %s: %w", doc, err)
	}
	return ref, nil
}

// Delete removes every chunk of doc.
func (s *Store) Delete(ctx context.Context, doc string) error {
	if err := checkDoc(doc); err != nil {
		return fmt.Errorf("delete %s: %w", doc, err)
	}
	if _, err := s.submit(ctx, &request{op: opDelete, doc: doc}); err != nil {
		return fmt.Errorf("delete %s: %w", doc, err)
	}
	return nil
}

// Load returns every chunk of doc, snapshots first, then incremental chunks
// in first-append order, read in one statement (so from one snapshot of the
// database). The returned bytes are the caller's.
func (s *Store) Load(ctx context.Context, doc string) ([]store.Chunk, error) {
	if err := checkDoc(doc); err != nil {
		return nil, fmt.Errorf("load %s: %w", doc, err)
	}
	if err := s.usable(ctx); err != nil {
		return nil, fmt.Errorf("load %s: %w", doc, err)
	}
	start := time.Now()
	chunks, err := s.load(ctx, doc)
	if err != nil {
		return nil, fmt.Errorf("load %s: %w", doc, s.closedOr(err))
	}
	if len(chunks) == 0 {
		return nil, fmt.Errorf("load %s: %w", doc, store.ErrNotFound)
	}
	s.observe("load", len(chunks), time.Since(start))
	return chunks, nil
}

func (s *Store) load(ctx context.Context, doc string) ([]store.Chunk, error) {
	// Kinds sort snapshots (1) before incremental chunks (2); seq is the
	// first-append order. Size is len(data): the column is for operators.
	const q = `SELECT kind, hash, data FROM chunks WHERE doc = $1 ORDER BY kind, seq`
	rows, err := s.pool.Query(ctx, q, doc)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var chunks []store.Chunk
	var hash []byte
	for rows.Next() {
		var kind int16
		var data []byte // pgx copies bytea into a new slice per row: the caller's to keep
		if err := rows.Scan(&kind, &hash, &data); err != nil {
			return nil, err
		}
		chunks = append(chunks, store.Chunk{
			ChunkRef: store.ChunkRef{Kind: store.Kind(kind), Hash: hex.EncodeToString(hash), Size: len(data)},
			Data:     data[:len(data):len(data)],
		})
	}
	return chunks, rows.Err()
}

// Close answers the requests the writer has taken, stops it and closes the
// pool. Requests still waiting, and every later call, fail with
// store.ErrClosed.
func (s *Store) Close() error {
	err := store.ErrClosed
	s.closeOnce.Do(func() {
		close(s.closing)
		<-s.done
		s.pool.Close()
		err = nil
		s.log.Info("store closed")
	})
	return err
}

// usable reports ErrClosed after Close, or ctx's error.
func (s *Store) usable(ctx context.Context) error {
	select {
	case <-s.closing:
		return store.ErrClosed
	default:
	}
	return ctx.Err()
}

// closedOr returns ErrClosed for an error caused by Close closing the pool
// under a call, err otherwise.
func (s *Store) closedOr(err error) error {
	select {
	case <-s.closing:
		return fmt.Errorf("%w (%w)", store.ErrClosed, err)
	default:
		return err
	}
}

func (s *Store) observe(op string, n int, d time.Duration) {
	if s.opts.Observe != nil {
		s.opts.Observe(op, n, d)
	}
}

func checkDoc(doc string) error {
	switch {
	case doc == "":
		return errors.New("empty document id")
	case len(doc) > MaxDocIDLen:
		return fmt.Errorf("document id longer than %d bytes", MaxDocIDLen)
	case !utf8.ValidString(doc) || strings.ContainsRune(doc, 0):
		// PostgreSQL text holds neither.
		return errors.New("document id is not UTF-8 text without NUL")
	}
	return nil
}

func checkChunk(doc string, data []byte) error {
	if err := checkDoc(doc); err != nil {
		return err
	}
	if len(data) == 0 {
		return errors.New("empty chunk")
	}
	if len(data) > MaxChunkSize {
		return fmt.Errorf("chunk of %d bytes exceeds %d", len(data), MaxChunkSize)
	}
	return nil
}

// newStorageID returns a random UUID (version 4), the form automerge-repo
// uses for storage ids.
func newStorageID() (string, error) {
	var b [16]byte
	if _, err := rand.Read(b[:]); err != nil {
		return "", fmt.Errorf("storage id: %w", err)
	}
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	h := hex.EncodeToString(b[:])
	return h[0:8] + "-" + h[8:12] + "-" + h[12:16] + "-" + h[16:20] + "-" + h[20:32], nil
}
