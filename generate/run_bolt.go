package generate

import (
	"bytes"
	"context"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"time"

	"go.etcd.io/bbolt"

	"github.com/casual-dev/casual/internal/boltfile"
)

// BoltStore is a RunStore in a bbolt file (for example
// <data dir>/ai-runs.db): the single-node default, so run history
// survives restarts. It keeps every run.
//
// Layout: bucket "runs" maps id to the run's JSON; bucket "byApp" indexes
// app \x00 createdAt(8 bytes, big endian) \x00 id, bucket "byTime"
// createdAt \x00 id, so List walks keys newest first; bucket "open" holds
// node \x00 id of the runs not yet finished, for Interrupt.
type BoltStore struct{ db *bbolt.DB }

var _ RunStore = (*BoltStore)(nil)

var (
	boltRuns   = []byte("runs")
	boltByApp  = []byte("byApp")
	boltByTime = []byte("byTime")
	boltOpen   = []byte("open")
)

// OpenBoltStore opens or creates the run history file at path.
func OpenBoltStore(path string) (*BoltStore, error) {
	db, err := boltfile.Open(path, "AI run history", boltRuns, boltByApp, boltByTime, boltOpen)
	if err != nil {
		return nil, err
	}
	return &BoltStore{db: db}, nil
}

// Close closes the file.
func (s *BoltStore) Close() error { return s.db.Close() }

// keys of a run in each index ("open" only while it is not final).
func boltTimeKey(r Run) []byte {
	k := binary.BigEndian.AppendUint64(nil, uint64(r.CreatedAt.UnixNano()))
	k = append(k, 0)
	return append(k, r.ID...)
}

func boltAppKey(r Run) []byte {
	k := append([]byte(r.AppID), 0)
	return append(k, boltTimeKey(r)...)
}

func boltOpenKey(r Run) []byte {
	k := append([]byte(r.Node), 0)
	return append(k, r.ID...)
}

// put writes r and its index entries, replacing those of the run it had.
func (s *BoltStore) put(tx *bbolt.Tx, r Run) error {
	runs := tx.Bucket(boltRuns)
	if data := runs.Get([]byte(r.ID)); data != nil {
		var old Run
		if err := json.Unmarshal(data, &old); err != nil {
			return fmt.Errorf("decode run %s: %w", r.ID, err)
		}
		for _, del := range []struct {
			bucket, key []byte
		}{{boltByApp, boltAppKey(old)}, {boltByTime, boltTimeKey(old)}, {boltOpen, boltOpenKey(old)}} {
			if err := tx.Bucket(del.bucket).Delete(del.key); err != nil {
				return err
			}
		}
	}
	data, err := json.Marshal(r)
	if err != nil {
		return fmt.Errorf("encode run %s: %w", r.ID, err)
	}
	if err := runs.Put([]byte(r.ID), data); err != nil {
		return err
	}
	if err := tx.Bucket(boltByApp).Put(boltAppKey(r), nil); err != nil {
		return err
	}
	if err := tx.Bucket(boltByTime).Put(boltTimeKey(r), nil); err != nil {
		return err
	}
	if !r.Status.Final() {
		return tx.Bucket(boltOpen).Put(boltOpenKey(r), nil)
	}
	return nil
}

func (s *BoltStore) get(tx *bbolt.Tx, id []byte) (Run, bool, error) {
	data := tx.Bucket(boltRuns).Get(id)
	if data == nil {
		return Run{}, false, nil
	}
	var r Run
	if err := json.Unmarshal(data, &r); err != nil {
		return Run{}, false, fmt.Errorf("decode run %s: %w", truncate(string(id), 40), err)
	}
	return r, true, nil
}

// Put implements RunStore.
func (s *BoltStore) Put(ctx context.Context, r Run) error {
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("put run %s: %w", r.ID, err)
	}
	if err := s.db.Update(func(tx *bbolt.Tx) error { return s.put(tx, r) }); err != nil {
		return fmt.Errorf("put run %s: %w", r.ID, err)
	}
	return nil
}

// Get implements RunStore.
func (s *BoltStore) Get(ctx context.Context, id string) (Run, error) {
	if err := ctx.Err(); err != nil {
		return Run{}, fmt.Errorf("get run: %w", err)
	}
	var (
		r     Run
		found bool
	)
	err := s.db.View(func(tx *bbolt.Tx) (err error) {
		r, found, err = s.get(tx, []byte(id))
		return err
	})
	if err != nil {
		return Run{}, fmt.Errorf("get run: %w", err)
	}
	if !found {
		return Run{}, fmt.Errorf("%w: %q", ErrRunNotFound, truncate(id, 40))
	}
	return r, nil
}

// List implements RunStore.
func (s *BoltStore) List(ctx context.Context, appID string, limit int) ([]Run, error) {
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("list runs: %w", err)
	}
	bucket, prefix := boltByTime, []byte(nil)
	if appID != "" {
		bucket, prefix = boltByApp, append([]byte(appID), 0)
	}
	var out []Run
	err := s.db.View(func(tx *bbolt.Tx) error {
		c := tx.Bucket(bucket).Cursor()
		// Seek past the prefix's last key, then walk back.
		var k []byte
		if end := prefixEnd(prefix); end == nil {
			k, _ = c.Last()
		} else if sk, _ := c.Seek(end); sk == nil {
			k, _ = c.Last()
		} else {
			k, _ = c.Prev()
		}
		for ; k != nil && bytes.HasPrefix(k, prefix); k, _ = c.Prev() {
			id := k[len(prefix)+9:] // after the time and its separator
			r, found, err := s.get(tx, id)
			if err != nil {
				return err
			}
			if !found {
				return fmt.Errorf("index names run %s that is missing", truncate(string(id), 40))
			}
			out = append(out, r)
			if limit > 0 && len(out) == limit {
				break
			}
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("list runs of %q: %w", truncate(appID, 40), err)
	}
	return out, nil
}

// prefixEnd returns the first key after every key starting with prefix,
// nil when there is none (an empty or all-0xff prefix).
func prefixEnd(prefix []byte) []byte {
	end := bytes.Clone(prefix)
	for i := len(end) - 1; i >= 0; i-- {
		if end[i] < 0xff {
			end[i]++
			return end[:i+1]
		}
	}
	return nil
}

// Interrupt implements RunStore.
func (s *BoltStore) Interrupt(ctx context.Context, node string, e RunError, at time.Time) ([]string, error) {
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("interrupt runs: %w", err)
	}
	var ids []string
	err := s.db.Update(func(tx *bbolt.Tx) error {
		prefix := append([]byte(node), 0)
		var runs []Run
		c := tx.Bucket(boltOpen).Cursor()
		for k, _ := c.Seek(prefix); k != nil && bytes.HasPrefix(k, prefix); k, _ = c.Next() {
			r, found, err := s.get(tx, k[len(prefix):])
			if err != nil {
				return err
			}
			if found && interrupted(r, node) {
				runs = append(runs, r)
			}
		}
		for _, r := range runs { // not while iterating: put changes the bucket
			r.Interrupt(e, at)
			if err := s.put(tx, r); err != nil {
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
