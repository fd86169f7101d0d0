// Package embedded is the default single-node store: one bbolt file in a
// data directory, no server. Writes are group-committed by one writer
// goroutine: concurrent Appends go to a write-ahead log with one fdatasync
// and move into bbolt in large batches later (wal.go); reads run
// concurrently in read-only transactions.
package embedded

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"sync"
	"time"

	"go.etcd.io/bbolt"
	berrors "go.etcd.io/bbolt/errors"

	"github.com/casual-dev/casual/store"
)

// FileName is the name of the database file inside the data directory.
const FileName = "casual.db"

// Defaults for zero Options fields.
const (
	DefaultMaxBatch        = 512
	DefaultMaxBatchBytes   = 32 << 20
	DefaultInitialMmapSize = 64 << 20
	DefaultLockTimeout     = 10 * time.Second
	DefaultWALIdleFlush    = 20 * time.Millisecond
)

// Options configures Open. The zero value is usable.
type Options struct {
	// Logger receives open/close notices and write failures; nil discards.
	Logger *slog.Logger

	// Observe, if set, is called by the writer after each group of appends
	// made durable in the write-ahead log with op "wal", after each bbolt
	// write transaction with op "commit" (the number of requests or logged
	// chunks it carried and how long it took, including the syncs); and
	// after each Load
	// with op "load", the number of chunks and the read time. It runs on the
	// writer goroutine, so it must be quick (record a histogram, no I/O).
	Observe func(op string, batch int, d time.Duration)

	// MaxBatch caps the requests written in one transaction
	// (DefaultMaxBatch when zero).
	MaxBatch int

	// MaxBatchBytes stops draining more requests into a transaction once
	// their chunks add up to this many bytes (DefaultMaxBatchBytes when
	// zero). A single larger request is still written, alone.
	MaxBatchBytes int

	// InitialMmapSize is the initial size of bbolt's memory map
	// (DefaultInitialMmapSize when zero). See Open.
	InitialMmapSize int

	// WALIdleFlush is how long the writer waits with nothing to do before
	// it moves the write-ahead log into bbolt (DefaultWALIdleFlush when
	// zero). The log also moves when it grows past a few MiB, and before a
	// compaction, a deletion, a Load of a document it holds, and Close.
	WALIdleFlush time.Duration

	// LockTimeout bounds the wait for the file lock held by another process
	// that has the same directory open (DefaultLockTimeout when zero, and
	// never longer than Open's context deadline).
	LockTimeout time.Duration
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
	if o.InitialMmapSize <= 0 {
		o.InitialMmapSize = DefaultInitialMmapSize
	}
	if o.WALIdleFlush <= 0 {
		o.WALIdleFlush = DefaultWALIdleFlush
	}
	if o.LockTimeout <= 0 {
		o.LockTimeout = DefaultLockTimeout
	}
	return o
}

// Store is a store.Store kept in one bbolt file.
type Store struct {
	db   *bbolt.DB
	id   string
	opts Options
	log  *slog.Logger

	wal       *wal          // the writer's; see wal.go
	reqs      chan *request // unbuffered: a waiting sender is a queued request
	closing   chan struct{} // closed by Close: the writer stops taking requests
	done      chan struct{} // closed by the writer when it has exited
	closeOnce sync.Once
}

var _ store.Store = (*Store)(nil)

// Open opens (creating if needed) the store in dir/casual.db and starts its
// writer goroutine; Close stops it.
func Open(ctx context.Context, dir string, opts Options) (*Store, error) {
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("open embedded store %s: %w", dir, err)
	}
	opts = opts.withDefaults()
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("open embedded store: %w", err)
	}
	path := filepath.Join(dir, FileName)
	timeout := opts.LockTimeout
	if dl, ok := ctx.Deadline(); ok {
		timeout = min(timeout, max(time.Until(dl), time.Millisecond))
	}
	db, err := bbolt.Open(path, 0o600, &bbolt.Options{
		Timeout: timeout,
		// bbolt remaps the file when it outgrows the map, and a remap waits
		// for every open read transaction, stalling commits behind Loads.
		// Starting with a modest map avoids remaps while a store is young;
		// it costs address space, not memory or disk.
		InitialMmapSize: opts.InitialMmapSize,
		// Compaction frees runs of pages (snapshots and chunks are large);
		// the hashmap freelist allocates in O(1) where the array one scans.
		FreelistType: bbolt.FreelistMapType,
		// Do not write the freelist on every commit: it would add pages to
		// each small group commit. It is rebuilt by scanning the file on
		// open, which is cheap at our sizes and loses nothing on a crash.
		NoFreelistSync: true,
	})
	if err != nil {
		return nil, fmt.Errorf("open embedded store %s: %w", path, err)
	}
	id, err := initLayout(db)
	if err != nil {
		return nil, errors.Join(fmt.Errorf("open embedded store %s: %w", path, err), db.Close())
	}
	w, err := openWAL(filepath.Join(dir, WALFileName))
	if err != nil {
		return nil, errors.Join(fmt.Errorf("open embedded store %s: %w", path, err), db.Close())
	}
	replayed, err := w.replay(db)
	if err != nil {
		return nil, errors.Join(fmt.Errorf("open embedded store %s: %w", path, err), w.close(), db.Close())
	}
	s := &Store{
		db:      db,
		id:      id,
		opts:    opts,
		log:     opts.Logger.With(slog.String("store", "embedded"), slog.String("path", path)),
		wal:     w,
		reqs:    make(chan *request),
		closing: make(chan struct{}),
		done:    make(chan struct{}),
	}
	go s.run()
	s.log.Info("store open", slog.String("storage_id", id), slog.Int("replayed_chunks", replayed))
	return s, nil
}

// StorageID returns the id created when the file was first opened.
func (s *Store) StorageID(ctx context.Context) (string, error) {
	if err := s.usable(ctx); err != nil {
		return "", fmt.Errorf("storage id: %w", err)
	}
	return s.id, nil
}

// Append durably adds an incremental chunk to doc; see store.Store.
// If Append returns an error (for instance because ctx ended while the
// chunk was being written), the chunk may or may not be stored; appending
// it again is safe.
func (s *Store) Append(ctx context.Context, doc string, data []byte) (store.ChunkRef, error) {
	if err := checkChunk(doc, data); err != nil {
		return store.ChunkRef{}, fmt.Errorf("append %s: %w", doc, err)
	}
	r := newRequest(opAppend, doc, store.Incremental, data)
	ref, err := s.submit(ctx, r)
	if err != nil {
		return store.ChunkRef{}, fmt.Errorf("append %s: %w", doc, err)
	}
	return ref, nil
}

// Compact stores snapshot in place of the replaced chunks; see
// store.Store. Refs are matched by hash; refs not stored (already removed
// by an earlier compaction) are ignored.
func (s *Store) Compact(ctx context.Context, doc string, snapshot []byte, replaced []store.ChunkRef) (store.ChunkRef, error) {
	if err := checkChunk(doc, snapshot); err != nil {
		return store.ChunkRef{}, fmt.Errorf("compact %s: %w", doc, err)
	}
	r := newRequest(opCompact, doc, store.Snapshot, snapshot)
	r.replaced = make([][sha256.Size]byte, 0, len(replaced))
	for _, ref := range replaced {
		h, err := hex.DecodeString(ref.Hash)
		if err != nil || len(h) != sha256.Size {
			return store.ChunkRef{}, fmt.Errorf("compact %s: bad chunk hash %q", doc, ref.Hash)
		}
		r.replaced = append(r.replaced, [sha256.Size]byte(h))
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
// in first-append order. The returned bytes are the caller's.
func (s *Store) Load(ctx context.Context, doc string) ([]store.Chunk, error) {
	if err := checkDoc(doc); err != nil {
		return nil, fmt.Errorf("load %s: %w", doc, err)
	}
	if err := s.usable(ctx); err != nil {
		return nil, fmt.Errorf("load %s: %w", doc, err)
	}
	if s.wal.has(doc) {
		// Some of its chunks are only in the write-ahead log yet.
		if _, err := s.submit(ctx, &request{op: opFlush, doc: doc}); err != nil {
			return nil, fmt.Errorf("load %s: %w", doc, err)
		}
	}
	start := time.Now()
	var chunks []store.Chunk
	err := s.db.View(func(tx *bbolt.Tx) error {
		var err error
		chunks, err = loadDoc(tx, doc)
		return err
	})
	if errors.Is(err, berrors.ErrDatabaseNotOpen) {
		err = store.ErrClosed
	}
	if err != nil {
		return nil, fmt.Errorf("load %s: %w", doc, err)
	}
	s.observe("load", len(chunks), time.Since(start))
	return chunks, nil
}

// Close answers the requests the writer has taken, stops it and closes the
// file. Requests still waiting, and every later call, fail with
// store.ErrClosed.
func (s *Store) Close() error {
	err := store.ErrClosed
	s.closeOnce.Do(func() {
		close(s.closing)
		<-s.done
		err = errors.Join(s.wal.close(), s.db.Close())
		if err != nil {
			err = fmt.Errorf("close embedded store: %w", err)
		}
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

func (s *Store) observe(op string, n int, d time.Duration) {
	if s.opts.Observe != nil {
		s.opts.Observe(op, n, d)
	}
}

func checkDoc(doc string) error {
	if doc == "" {
		return errors.New("empty document id")
	}
	if len(doc) > bbolt.MaxKeySize {
		return fmt.Errorf("document id longer than %d bytes", bbolt.MaxKeySize)
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
	if int64(len(data)) > bbolt.MaxValueSize {
		return fmt.Errorf("chunk of %d bytes exceeds %d", len(data), int64(bbolt.MaxValueSize))
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
