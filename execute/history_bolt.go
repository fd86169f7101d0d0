package execute

import (
	"context"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"time"

	"go.etcd.io/bbolt"

	"github.com/casual-dev/casual/internal/boltfile"
)

// BoltHistory is a History in a bbolt file (for example
// <data dir>/executions.db): the single-node default. Its Claim is atomic
// within the process that opened the file.
//
// Layout: bucket "runs" maps app \x00 queuedAt(8 bytes, big endian) \x00 id
// to the record's JSON, so an app's records sort by time; bucket "keys"
// maps app \x00 id to that key, and bucket "ids" maps id to the key of
// the newest run with that id (run ids are unique across apps, but a
// client writing runs into a document may pick any id). Bucket "apps" maps
// an app to its held runs and last heads (JSON), for Claim.
type BoltHistory struct{ db *bbolt.DB }

var (
	boltRuns = []byte("runs")
	boltIDs  = []byte("ids")
	boltKeys = []byte("keys")
	boltApps = []byte("apps")
)

// OpenBoltHistory opens or creates the history file at path.
func OpenBoltHistory(path string) (*BoltHistory, error) {
	db, err := boltfile.Open(path, "execution history", boltRuns, boltIDs, boltKeys, boltApps)
	if err != nil {
		return nil, err
	}
	return &BoltHistory{db: db}, nil
}

func boltKey(rec Record) []byte {
	k := make([]byte, 0, len(rec.App)+len(rec.ID)+10)
	k = append(k, rec.App...)
	k = append(k, 0)
	k = binary.BigEndian.AppendUint64(k, uint64(rec.QueuedAt.UnixNano()))
	k = append(k, 0)
	return append(k, rec.ID...)
}

// find returns the stored key and record of (app, id), if any.
func (h *BoltHistory) find(tx *bbolt.Tx, app, id string) ([]byte, *Record, error) {
	key := tx.Bucket(boltKeys).Get(appID(app, id))
	if key == nil { // written before the keys bucket existed
		key = tx.Bucket(boltIDs).Get([]byte(id))
	}
	if key == nil {
		return nil, nil, nil
	}
	data := tx.Bucket(boltRuns).Get(key)
	if data == nil {
		return nil, nil, nil
	}
	var rec Record
	if err := json.Unmarshal(data, &rec); err != nil {
		return nil, nil, fmt.Errorf("decode execution %s: %w", id, err)
	}
	if rec.App != app {
		return nil, nil, nil
	}
	return append([]byte(nil), key...), &rec, nil
}

// appRuns reads an app's held runs and last heads.
func (h *BoltHistory) appRuns(tx *bbolt.Tx, app string) (*appRuns, error) {
	a := &appRuns{}
	if data := tx.Bucket(boltApps).Get([]byte(app)); data != nil {
		if err := json.Unmarshal(data, a); err != nil {
			return nil, fmt.Errorf("decode runs of %s: %w", app, err)
		}
	}
	return a, nil
}

// store writes rec over the record at oldKey (nil: a new one) and notes it
// in its app's runs; finished: by Finish.
func (h *BoltHistory) store(tx *bbolt.Tx, oldKey []byte, rec Record, finished bool) error {
	a, err := h.appRuns(tx, rec.App)
	if err != nil {
		return err
	}
	a.note(rec, finished)
	adata, err := json.Marshal(a)
	if err != nil {
		return err
	}
	if err := tx.Bucket(boltApps).Put([]byte(rec.App), adata); err != nil {
		return err
	}
	data, err := json.Marshal(rec)
	if err != nil {
		return fmt.Errorf("encode execution %s: %w", rec.ID, err)
	}
	runs := tx.Bucket(boltRuns)
	key := oldKey
	if key == nil {
		key = boltKey(rec)
	}
	if err := runs.Put(key, data); err != nil {
		return err
	}
	if err := tx.Bucket(boltKeys).Put(appID(rec.App, rec.ID), key); err != nil {
		return err
	}
	return tx.Bucket(boltIDs).Put([]byte(rec.ID), key)
}

func appID(app, id string) []byte { return []byte(app + "\x00" + id) }

// Claim implements History.
func (h *BoltHistory) Claim(ctx context.Context, rec Record) (c Claim, err error) {
	if err := ctx.Err(); err != nil {
		return c, fmt.Errorf("claim %s: %w", rec.ID, err)
	}
	err = h.db.Update(func(tx *bbolt.Tx) error {
		key, old, err := h.find(tx, rec.App, rec.ID)
		if err != nil {
			return err
		}
		a, err := h.appRuns(tx, rec.App)
		if err != nil {
			return err
		}
		if c = decide(old, a, rec); !c.Won {
			return nil
		}
		return h.store(tx, key, rec, false)
	})
	if err != nil {
		return Claim{}, fmt.Errorf("claim %s: %w", rec.ID, err)
	}
	return c, nil
}

// Renew implements History.
func (h *BoltHistory) Renew(ctx context.Context, app, id, executor string, until time.Time) (ok bool, err error) {
	if err := ctx.Err(); err != nil {
		return false, fmt.Errorf("renew %s: %w", id, err)
	}
	err = h.db.Update(func(tx *bbolt.Tx) error {
		key, old, err := h.find(tx, app, id)
		if err != nil || !holds(old, executor) {
			return err
		}
		ok = true
		old.LeaseUntil = &until
		return h.store(tx, key, *old, false)
	})
	if err != nil {
		return false, fmt.Errorf("renew %s: %w", id, err)
	}
	return ok, nil
}

// Finish implements History.
func (h *BoltHistory) Finish(ctx context.Context, rec Record) (ok bool, err error) {
	if err := ctx.Err(); err != nil {
		return false, fmt.Errorf("finish %s: %w", rec.ID, err)
	}
	err = h.db.Update(func(tx *bbolt.Tx) error {
		key, old, err := h.find(tx, rec.App, rec.ID)
		if err != nil || old != nil && !holds(old, rec.Executor) {
			return err
		}
		ok = true
		return h.store(tx, key, rec, true)
	})
	if err != nil {
		return false, fmt.Errorf("finish %s: %w", rec.ID, err)
	}
	return ok, nil
}

// Put implements History.
func (h *BoltHistory) Put(ctx context.Context, rec Record) error {
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("put %s: %w", rec.ID, err)
	}
	err := h.db.Update(func(tx *bbolt.Tx) error {
		key, _, err := h.find(tx, rec.App, rec.ID)
		if err != nil {
			return err
		}
		return h.store(tx, key, rec, false)
	})
	if err != nil {
		return fmt.Errorf("put %s: %w", rec.ID, err)
	}
	return nil
}

// Get implements History.
func (h *BoltHistory) Get(ctx context.Context, id string) (rec Record, err error) {
	if err := ctx.Err(); err != nil {
		return rec, fmt.Errorf("get %s: %w", id, err)
	}
	found := false
	err = h.db.View(func(tx *bbolt.Tx) error {
		key := tx.Bucket(boltIDs).Get([]byte(id))
		if key == nil {
			return nil
		}
		data := tx.Bucket(boltRuns).Get(key)
		if data == nil {
			return nil
		}
		found = true
		return json.Unmarshal(data, &rec)
	})
	if err != nil {
		return rec, fmt.Errorf("get execution %s: %w", truncate(id, 80), err)
	}
	if !found {
		return rec, fmt.Errorf("execution %s: %w", truncate(id, 80), ErrNotFound)
	}
	return rec, nil
}

// List implements History.
func (h *BoltHistory) List(ctx context.Context, app string, limit int) ([]Record, error) {
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("list %s: %w", app, err)
	}
	var out []Record
	prefix := append([]byte(app), 0)
	err := h.db.View(func(tx *bbolt.Tx) error {
		c := tx.Bucket(boltRuns).Cursor()
		// Seek past the app's last key, then walk back.
		end := append(append([]byte(nil), prefix...), 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff)
		var k, v []byte
		if sk, _ := c.Seek(end); sk == nil {
			k, v = c.Last()
		} else {
			k, v = c.Prev()
		}
		for ; k != nil && len(out) < limit; k, v = c.Prev() {
			if len(k) < len(prefix) || string(k[:len(prefix)]) != string(prefix) {
				break
			}
			var rec Record
			if err := json.Unmarshal(v, &rec); err != nil {
				return err
			}
			out = append(out, rec)
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("list executions of %s: %w", app, err)
	}
	return out, nil
}

// Close implements History.
func (h *BoltHistory) Close() error { return h.db.Close() }
