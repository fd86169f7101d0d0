package embedded

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"log/slog"
	"slices"
	"time"

	"go.etcd.io/bbolt"

	"github.com/casual-dev/casual/store"
)

type opKind uint8

const (
	opAppend opKind = iota + 1
	opCompact
	opDelete
	opFlush // move the write-ahead log into bbolt (before a Load)
)

func (o opKind) String() string {
	switch o {
	case opAppend:
		return "append"
	case opCompact:
		return "compact"
	case opDelete:
		return "delete"
	case opFlush:
		return "flush"
	}
	return "unknown"
}

// request is one write handed to the writer goroutine.
type request struct {
	ctx      context.Context
	op       opKind
	doc      string
	data     []byte // the caller's bytes, copied: the caller may leave early
	sum      [sha256.Size]byte
	ref      store.ChunkRef
	replaced [][sha256.Size]byte

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
		// The writer holds r and will still commit it or not; the chunk is
		// whole either way, and retrying is idempotent.
		return store.ChunkRef{}, ctx.Err()
	}
}

// run is the writer goroutine: it takes the first waiting request, drains
// the others already waiting, and writes them as one group: appends to the
// write-ahead log (one fdatasync), anything else in one bbolt transaction
// after the log has been moved into bbolt. There is no delay to wait for
// stragglers: requests that arrive during a write form the next group.
func (s *Store) run() {
	defer close(s.done)
	batch := make([]*request, 0, s.opts.MaxBatch)
	idle := time.NewTimer(time.Hour)
	idle.Stop()
	defer idle.Stop()
	for {
		select {
		case <-s.closing:
			s.flushWAL()
			return
		default:
		}
		var idleC <-chan time.Time
		if len(s.wal.pending) > 0 {
			idle.Reset(s.opts.WALIdleFlush)
			idleC = idle.C
		}
		select {
		case r := <-s.reqs:
			idle.Stop()
			batch = s.gather(append(batch[:0], r))
			s.commit(batch)
			clear(batch) // drop the chunks' bytes before waiting again
		case <-idleC:
			s.flushWAL()
		case <-s.closing:
			s.flushWAL()
			return
		}
	}
}

// flushWAL moves the logged chunks into bbolt in one transaction and
// empties the log. On failure they stay logged (and durable) for the next
// try, or the next Open.
func (s *Store) flushWAL() error {
	if len(s.wal.pending) == 0 {
		return nil
	}
	start := time.Now()
	pending := s.wal.pending
	for {
		failed, err := s.write(pending)
		if failed >= 0 {
			// Cannot happen for a chunk that was accepted, but one bad
			// record must not hold the others back.
			s.log.Error("logged chunk refused by bbolt; dropped", slog.String("doc", pending[failed].doc), slog.Any("err", err))
			pending = slices.Delete(pending, failed, failed+1)
			continue
		}
		if err != nil {
			s.log.Error("moving the write-ahead log into bbolt failed", slog.Int("chunks", len(pending)), slog.Any("err", err))
			return err
		}
		break
	}
	if err := s.wal.reset(); err != nil {
		s.log.Error("emptying the write-ahead log failed", slog.Any("err", err))
		return err
	}
	s.observe("commit", len(pending), time.Since(start))
	return nil
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

// commit writes batch in one transaction and answers every request. A
// request whose caller has already gone is dropped unwritten. A request
// that fails inside the transaction is answered with its error and the
// rest are written again without it, so one bad request fails alone.
func (s *Store) commit(batch []*request) {
	live := batch[:0] // filtered in place
	for _, r := range batch {
		if err := r.ctx.Err(); err != nil {
			r.done <- result{err: err}
			continue
		}
		live = append(live, r)
	}
	if len(live) == 0 {
		return
	}
	if !slices.ContainsFunc(live, func(r *request) bool { return r.op != opAppend }) {
		s.logAppends(live)
		return
	}
	// A compaction, deletion or flush must see every logged chunk in bbolt.
	if err := s.flushWAL(); err != nil {
		for _, r := range live {
			r.done <- result{err: err}
		}
		return
	}
	live = slices.DeleteFunc(live, func(r *request) bool {
		if r.op == opFlush {
			r.done <- result{} // done: the log is in bbolt
			return true
		}
		return false
	})
	for len(live) > 0 {
		start := time.Now()
		failed, err := s.write(live)
		if failed >= 0 {
			s.log.Warn("write request failed", slog.String("op", live[failed].op.String()),
				slog.String("doc", live[failed].doc), slog.Any("err", err))
			live[failed].done <- result{err: err}
			live = slices.Delete(live, failed, failed+1)
			continue
		}
		if err != nil {
			s.log.Error("commit failed", slog.Int("batch", len(live)), slog.Any("err", err))
			for _, r := range live {
				r.done <- result{err: err}
			}
			return
		}
		s.observe("commit", len(live), time.Since(start))
		for _, r := range live {
			r.done <- r.res
		}
		return
	}
}

// logAppends makes a group of appends durable in the write-ahead log and
// answers them; the log moves into bbolt later (flushWAL).
func (s *Store) logAppends(batch []*request) {
	start := time.Now()
	if err := s.wal.log(batch); err != nil {
		s.log.Error("write-ahead log failed", slog.Int("batch", len(batch)), slog.Any("err", err))
		for _, r := range batch {
			r.done <- result{err: err}
		}
		return
	}
	s.observe("wal", len(batch), time.Since(start))
	for _, r := range batch {
		r.done <- result{ref: r.ref}
	}
	if s.wal.full() {
		s.flushWAL()
	}
}

// write runs one read-write transaction over batch. failed is the index of
// the request whose apply failed (the transaction was rolled back), or -1.
func (s *Store) write(batch []*request) (failed int, err error) {
	failed = -1
	err = s.db.Update(func(tx *bbolt.Tx) error {
		docs := tx.Bucket([]byte(bucketDocs))
		for i, r := range batch {
			ref, err := r.apply(docs)
			if err != nil {
				failed = i
				return fmt.Errorf("%s %s: %w", r.op, r.doc, err)
			}
			r.res = result{ref: ref}
		}
		return nil
	})
	if err != nil && failed < 0 {
		err = fmt.Errorf("commit: %w", err)
	}
	return failed, err
}

func (r *request) apply(docs *bbolt.Bucket) (store.ChunkRef, error) {
	switch r.op {
	case opAppend:
		return appendChunk(docs, r.doc, r.sum, r.ref, r.data)
	case opCompact:
		return compactDoc(docs, r.doc, r.sum, r.ref, r.data, r.replaced)
	case opDelete:
		return store.ChunkRef{}, deleteDoc(docs, r.doc)
	case opFlush:
		return store.ChunkRef{}, nil // the log was moved before this transaction
	}
	return store.ChunkRef{}, fmt.Errorf("unknown op %d", r.op)
}
