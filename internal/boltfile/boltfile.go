// Package boltfile opens the bbolt files that keep run histories, with
// their buckets created; what each file holds belongs to its package.
package boltfile

import (
	"fmt"
	"time"

	"go.etcd.io/bbolt"
)

// Open opens or creates the bbolt file at path and makes sure buckets
// exist. what names the file in errors ("AI run history").
func Open(path, what string, buckets ...[]byte) (*bbolt.DB, error) {
	db, err := bbolt.Open(path, 0o600, &bbolt.Options{Timeout: 5 * time.Second})
	if err != nil {
		return nil, fmt.Errorf("open %s %s: %w", what, path, err)
	}
	err = db.Update(func(tx *bbolt.Tx) error {
		for _, b := range buckets {
			if _, err := tx.CreateBucketIfNotExists(b); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		db.Close()
		return nil, fmt.Errorf("open %s %s: %w", what, path, err)
	}
	return db, nil
}
