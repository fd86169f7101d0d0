package embedded

import (
	"encoding/binary"
	"fmt"
	"hash/crc32"
	"io"
	"os"
	"sync"

	"go.etcd.io/bbolt"

	"github.com/casual-dev/casual/store"
)

// The write-ahead log. An Append is acknowledged once its chunk is in
// <dir>/casual.wal and that file is synced: one small append and one
// fdatasync per group of appends, where a bbolt commit writes several
// pages and syncs twice. The writer moves the logged chunks into bbolt in
// large batches — when the log grows, when it has been idle briefly, and
// before anything that must see them in bbolt (a compaction, a deletion, a
// Load of a document with logged chunks, Close) — and then empties the
// log. Open replays whatever a crash left in the log. Replaying a chunk
// that bbolt already has is harmless: chunks are content-addressed and
// appendChunk skips those it holds.
//
// A record is: 4 bytes length of the rest (big-endian), 4 bytes CRC-32C of
// the rest, 2 bytes doc id length, the doc id, the chunk. A record cut
// short or failing its checksum ends the log: it was being written when
// the process died, so it was never acknowledged.

// WALFileName is the log's name inside the data directory.
const WALFileName = "casual.wal"

// Moving logged chunks into bbolt happens past these sizes, or when the
// writer has had nothing to do for Options.WALIdleFlush.
const (
	walFlushRecords = 2048
	walFlushBytes   = 8 << 20
)

var crcTable = crc32.MakeTable(crc32.Castagnoli)

// wal is the log file and the chunks logged since bbolt last took them.
// The writer goroutine owns it; docs is also read by Load (under mu).
type wal struct {
	f       *os.File
	pending []*request // logged, not yet in bbolt, in log order
	bytes   int

	mu   sync.Mutex
	docs map[string]int // doc id → logged chunks not yet in bbolt
}

func openWAL(path string) (*wal, error) {
	f, err := os.OpenFile(path, os.O_CREATE|os.O_RDWR|os.O_APPEND, 0o600)
	if err != nil {
		return nil, fmt.Errorf("open write-ahead log: %w", err)
	}
	return &wal{f: f, docs: map[string]int{}}, nil
}

// encodeRecord appends r's record to b.
func encodeRecord(b []byte, doc string, data []byte) []byte {
	rest := 2 + len(doc) + len(data)
	start := len(b)
	b = binary.BigEndian.AppendUint32(b, uint32(rest))
	b = append(b, 0, 0, 0, 0) // checksum, below
	b = binary.BigEndian.AppendUint16(b, uint16(len(doc)))
	b = append(b, doc...)
	b = append(b, data...)
	binary.BigEndian.PutUint32(b[start+4:], crc32.Checksum(b[start+8:], crcTable))
	return b
}

// readRecords returns the whole records at the start of b and where they
// end; a cut or corrupt record ends the list.
func readRecords(b []byte) (recs []walRecord, end int) {
	for {
		if len(b)-end < 8 {
			return recs, end
		}
		n := int(binary.BigEndian.Uint32(b[end:]))
		sum := binary.BigEndian.Uint32(b[end+4:])
		body := b[end+8:]
		if n < 2 || n > len(body) {
			return recs, end
		}
		body = body[:n]
		if crc32.Checksum(body, crcTable) != sum {
			return recs, end
		}
		dl := int(binary.BigEndian.Uint16(body))
		if 2+dl >= n { // a record always carries a doc id and a chunk
			return recs, end
		}
		recs = append(recs, walRecord{doc: string(body[2 : 2+dl]), data: body[2+dl:]})
		end += 8 + n
	}
}

type walRecord struct {
	doc  string
	data []byte
}

// log writes the records of batch and syncs the file; the chunks are
// then durable and batch can be answered.
func (w *wal) log(batch []*request) error {
	var b []byte
	for _, r := range batch {
		b = encodeRecord(b, r.doc, r.data)
	}
	if _, err := w.f.Write(b); err != nil {
		return fmt.Errorf("write-ahead log: %w", err)
	}
	if err := fdatasync(w.f); err != nil {
		return fmt.Errorf("write-ahead log: sync: %w", err)
	}
	w.mu.Lock()
	for _, r := range batch {
		w.docs[r.doc]++
	}
	w.mu.Unlock()
	w.pending = append(w.pending, batch...)
	for _, r := range batch {
		w.bytes += len(r.data)
	}
	return nil
}

// has reports whether doc has logged chunks bbolt does not have yet.
func (w *wal) has(doc string) bool {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.docs[doc] > 0
}

// full reports whether the log should be moved into bbolt now.
func (w *wal) full() bool {
	return len(w.pending) >= walFlushRecords || w.bytes >= walFlushBytes
}

// reset empties the log once bbolt has its chunks (durably: a crash
// before this only replays chunks bbolt skips).
func (w *wal) reset() error {
	w.pending, w.bytes = nil, 0
	w.mu.Lock()
	clear(w.docs)
	w.mu.Unlock()
	if err := w.f.Truncate(0); err != nil {
		return fmt.Errorf("write-ahead log: truncate: %w", err)
	}
	if err := fdatasync(w.f); err != nil {
		return fmt.Errorf("write-ahead log: sync: %w", err)
	}
	return nil
}

// replay moves what a previous process left in the log into bbolt, then
// empties the log. It runs in Open, before the writer starts.
func (w *wal) replay(db *bbolt.DB) (int, error) {
	b, err := io.ReadAll(io.NewSectionReader(w.f, 0, 1<<62))
	if err != nil {
		return 0, fmt.Errorf("read write-ahead log: %w", err)
	}
	recs, _ := readRecords(b)
	if len(recs) > 0 {
		err = db.Update(func(tx *bbolt.Tx) error {
			docs := tx.Bucket([]byte(bucketDocs))
			for _, rec := range recs {
				r := newRequest(opAppend, rec.doc, store.Incremental, rec.data)
				if _, err := appendChunk(docs, r.doc, r.sum, r.ref, r.data); err != nil {
					return fmt.Errorf("replay %s: %w", r.doc, err)
				}
			}
			return nil
		})
		if err != nil {
			return 0, fmt.Errorf("replay write-ahead log: %w", err)
		}
	}
	if len(b) > 0 {
		if err := w.reset(); err != nil {
			return 0, err
		}
	}
	return len(recs), nil
}

func (w *wal) close() error { return w.f.Close() }
