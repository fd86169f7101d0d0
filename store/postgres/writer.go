package postgres

import (
	"cmp"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/casual-dev/casual/store"
)

type opKind uint8

const (
	opAppend opKind = iota + 1
	opCompact
	opDelete
)

func (o opKind) String() string {
	switch o {
	case opAppend:
		return "append"
	case opCompact:
		return "compact"
	case opDelete:
		return "delete"
	}
	return "unknown"
}

// Statements the writer sends. Every one is idempotent, so a batch whose
// outcome is unknown (the connection broke during COMMIT) can run again.
const (
	// sqlAppend inserts the chunk unless doc holds its hash already, and
	// returns the stored kind. When another transaction stored the same
	// bytes concurrently, the INSERT waits for it and inserts nothing, and
	// the SELECT (whose snapshot predates that commit) returns no row: the
	// chunk is then reported as incremental, which it is unless that other
	// transaction was a compaction storing the same bytes as a snapshot.
	sqlAppend = `WITH ins AS (
		INSERT INTO chunks (doc, kind, hash, data, size) VALUES ($1, $2, $3, $4, $5)
		ON CONFLICT (doc, hash) DO NOTHING
		RETURNING kind)
	SELECT kind FROM ins
	UNION ALL
	SELECT kind FROM chunks WHERE doc = $1 AND hash = $3
	LIMIT 1`

	// sqlRemove deletes the chunks a compaction replaces (never its own
	// snapshot: Compact leaves that hash out).
	sqlRemove = `DELETE FROM chunks WHERE doc = $1 AND hash = ANY($2)`

	// sqlSnapshot stores a compaction's snapshot. Bytes already stored as
	// an incremental chunk become a snapshot, so they load before the
	// chunks that depend on them.
	sqlSnapshot = `INSERT INTO chunks (doc, kind, hash, data, size) VALUES ($1, $2, $3, $4, $5)
		ON CONFLICT (doc, hash) DO UPDATE SET kind = EXCLUDED.kind WHERE chunks.kind <> EXCLUDED.kind`

	sqlDelete = `DELETE FROM chunks WHERE doc = $1`
)

// maxAttempts bounds how often the writer runs one batch when it fails for
// a reason that affects no request in particular (a broken pooled
// connection after a server restart, a deadlock with another node).
const maxAttempts = 2

// request is one write handed to the writer goroutine.
type request struct {
	ctx      context.Context
	op       opKind
	doc      string
	data     []byte // the caller's bytes, copied: the caller may leave early
	sum      [sha256.Size]byte
	ref      store.ChunkRef
	replaced [][]byte

	res  result      // set inside the transaction, sent after commit
	done chan result // buffered: the writer never waits for the caller
}

type result struct {
	ref store.ChunkRef
	err error
}

func newRequest(op opKind, doc string, kind store.Kind, data []byte) *request {
	sum := sha256.Sum256(data)
	return &request{
		op:   op,
		doc:  doc,
		data: slices.Clone(data),
		sum:  sum,
		ref:  store.ChunkRef{Kind: kind, Hash: hex.EncodeToString(sum[:]), Size: len(data)},
	}
}

// submit hands r to the writer and waits for its answer. A ctx that is
// already done never reaches the writer, so nothing is written.
func (s *Store) submit(ctx context.Context, r *request) (store.ChunkRef, error) {
	if err := s.usable(ctx); err != nil {
		return store.ChunkRef{}, err
	}
	r.ctx = ctx
	r.done = make(chan result, 1)
	select {
	case s.reqs <- r:
	case <-s.closing:
		return store.ChunkRef{}, store.ErrClosed
	case <-ctx.Done():
		return store.ChunkRef{}, ctx.Err()
	}
	select {
	case res := <-r.done:
		return res.ref, res.err
	case <-ctx.Done():
		// The writer holds r and will still commit it or not; retrying is
		// idempotent.
		return store.ChunkRef{}, ctx.Err()
	}
}

// run is the writer goroutine: it takes the first waiting request, drains
// the others already waiting, writes them in one transaction and answers
// them all. There is no delay to wait for stragglers: requests that arrive
// during a commit form the next batch.
func (s *Store) run() {
	defer close(s.done)
	batch := make([]*request, 0, s.opts.MaxBatch)
	for {
		select {
		case <-s.closing:
			return
		default:
		}
		select {
		case r := <-s.reqs:
			batch = s.gather(append(batch[:0], r))
			s.commit(batch)
			clear(batch) // drop the chunks' bytes before waiting again
		case <-s.closing:
			return
		}
	}
}

// gather appends the requests already waiting, up to the batch caps.
func (s *Store) gather(batch []*request) []*request {
	size := len(batch[0].data)
	for len(batch) < s.opts.MaxBatch && size < s.opts.MaxBatchBytes {
		select {
		case r := <-s.reqs:
			batch = append(batch, r)
			size += len(r.data)
		default:
			return batch
		}
	}
	return batch
}

// commit writes batch in one transaction and answers every request, only
// after COMMIT succeeded. A request whose caller has already gone is
// dropped unwritten. A request the database rejects on its own (its
// statement failed on its data) is answered with its error and the rest
// are written again without it. A batch that failed as a whole for a
// transient reason is tried again, up to maxAttempts, within WriteTimeout.
func (s *Store) commit(batch []*request) {
	live := batch[:0] // filtered in place
	for _, r := range batch {
		if err := r.ctx.Err(); err != nil {
			r.done <- result{err: err}
			continue
		}
		live = append(live, r)
	}
	// Rows of one document keep their order (seq is first-append order);
	// grouping by document makes two nodes' batches take row locks in the
	// same order, so they rarely deadlock.
	slices.SortStableFunc(live, func(a, b *request) int { return cmp.Compare(a.doc, b.doc) })

	ctx, cancel := context.WithTimeout(context.Background(), s.opts.WriteTimeout)
	defer cancel()
	for attempt := 1; len(live) > 0; {
		start := time.Now()
		failed, err := s.write(ctx, live)
		switch {
		case err == nil:
			s.observe("commit", len(live), time.Since(start))
			for _, r := range live {
				r.done <- r.res
			}
			return
		case failed >= 0:
			r := live[failed]
			s.log.Warn("write request failed", slog.String("op", r.op.String()), slog.String("doc", r.doc), slog.Any("err", err))
			r.done <- result{err: err}
			live = slices.Delete(live, failed, failed+1)
		case attempt < maxAttempts && transient(err) && ctx.Err() == nil:
			s.log.Warn("commit failed; retrying", slog.Int("batch", len(live)), slog.Any("err", err))
			attempt++
		default:
			s.log.Error("commit failed", slog.Int("batch", len(live)), slog.Any("err", err))
			for _, r := range live {
				r.done <- result{err: err}
			}
			return
		}
	}
}

// write runs batch in one transaction, its statements pipelined in one
// round trip. failed is the index of the request the database rejected on
// its own (the transaction was rolled back), or -1.
func (s *Store) write(ctx context.Context, batch []*request) (failed int, err error) {
	failed = -1
	tx, err := s.pool.Begin(ctx)
	if err != nil {
		return -1, fmt.Errorf("begin: %w", err)
	}
	defer rollback(ctx, tx)

	b := &pgx.Batch{}
	owner := make([]int, 0, len(batch)+1) // statement -> index in batch
	for i, r := range batch {
		for range r.queue(b) {
			owner = append(owner, i)
		}
	}
	br := tx.SendBatch(ctx, b)
	for _, i := range owner {
		if err := batch[i].read(br); err != nil {
			closeErr := br.Close()
			if rejects(err) {
				return i, fmt.Errorf("%s %s: %w", batch[i].op, batch[i].doc, err)
			}
			return -1, fmt.Errorf("%s %s: %w", batch[i].op, batch[i].doc, errors.Join(err, closeErr))
		}
	}
	if err := br.Close(); err != nil {
		return -1, fmt.Errorf("batch: %w", err)
	}
	if err := tx.Commit(ctx); err != nil {
		return -1, fmt.Errorf("commit: %w", err)
	}
	return -1, nil
}

// queue adds r's statements to b and returns how many it added.
func (r *request) queue(b *pgx.Batch) int {
	switch r.op {
	case opAppend:
		b.Queue(sqlAppend, r.doc, int16(store.Incremental), r.sum[:], r.data, len(r.data))
		return 1
	case opCompact:
		n := 0
		if len(r.replaced) > 0 {
			b.Queue(sqlRemove, r.doc, r.replaced)
			n++
		}
		b.Queue(sqlSnapshot, r.doc, int16(store.Snapshot), r.sum[:], r.data, len(r.data))
		return n + 1
	case opDelete:
		b.Queue(sqlDelete, r.doc)
		return 1
	}
	panic(fmt.Sprintf("unknown op %d", r.op))
}

// read reads the result of r's next statement and sets r.res.
func (r *request) read(br pgx.BatchResults) error {
	r.res = result{ref: r.ref}
	if r.op != opAppend {
		_, err := br.Exec()
		return err
	}
	var kind int16
	switch err := br.QueryRow().Scan(&kind); {
	case errors.Is(err, pgx.ErrNoRows):
		// Stored by a concurrent transaction; see sqlAppend.
	case err != nil:
		return err
	default:
		r.res.ref.Kind = store.Kind(kind)
	}
	return nil
}

// rejects reports whether err is the database refusing one statement for
// its data (so the other requests of its batch can still be written).
func rejects(err error) bool {
	var pgErr *pgconn.PgError
	if !errors.As(err, &pgErr) {
		return false
	}
	switch sqlClass(pgErr.Code) {
	case "22", // data exception
		"23", // integrity constraint violation
		"54": // program limit exceeded
		return true
	}
	return false
}

// transient reports whether a batch that failed with err may succeed if run
// again at once: the server broke the connection (restart, a terminated
// backend) or aborted the transaction to break a deadlock.
func transient(err error) bool {
	var pgErr *pgconn.PgError
	if errors.As(err, &pgErr) {
		switch pgErr.Code {
		case "40001", "40P01", // serialization failure, deadlock detected
			"57P01", "57P02", "57P03": // admin shutdown, crash shutdown, cannot connect now
			return true
		}
		return sqlClass(pgErr.Code) == "08" // connection exception
	}
	// Anything else that is not a timeout is a broken connection (EOF,
	// reset); the pool has discarded it, and the next attempt takes another.
	return !pgconn.Timeout(err) && !errors.Is(err, context.DeadlineExceeded)
}

// sqlClass is the class (first two characters) of an SQLSTATE code.
func sqlClass(code string) string {
	if len(code) < 2 {
		return code
	}
	return code[:2]
}
