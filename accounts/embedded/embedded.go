// Package embedded keeps accounts in their own bbolt file next to the
// embedded document store (<data-dir>/accounts.db): single node, no server.
// Records are JSON values in buckets, with index buckets for the lookups
// the service makes (email → user, user → sessions, memberships...);
// listings that filter and sort scan and sort in memory, which is ample for
// the number of apps one node's people own.
package embedded

import (
	"context"
	"crypto/rand"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"go.etcd.io/bbolt"
	berrors "go.etcd.io/bbolt/errors"

	"github.com/casual-dev/casual/accounts"
)

// FileName is the accounts file inside the data directory.
const FileName = "accounts.db"

var (
	bMeta         = []byte("meta")
	bUsers        = []byte("users")
	bEmails       = []byte("emails")         // email → user id
	bSessions     = []byte("sessions")       // id → session
	bUserSessions = []byte("user_sessions")  // user \0 session → ""
	bRefresh      = []byte("refresh_tokens") // hash → token
	bOneTime      = []byte("one_time_tokens")
	bOrgs         = []byte("orgs")
	bMembers      = []byte("members")     // org \0 user → member
	bMemberships  = []byte("memberships") // user \0 org → ""
	bApps         = []byte("apps")
	bAppMembers   = []byte("app_members") // app \0 user → member
	bSharedWith   = []byte("shared_with") // user \0 app → ""
	bVersions     = []byte("versions")    // app \0 id → version
	bShares       = []byte("shares")      // id → share
	bAppShares    = []byte("app_shares")  // app \0 id → ""
	bAudit        = []byte("audit")       // id → event (ids sort by time)

	allBuckets = [][]byte{bMeta, bUsers, bEmails, bSessions, bUserSessions, bRefresh, bOneTime, bOrgs,
		bMembers, bMemberships, bApps, bAppMembers, bSharedWith, bVersions, bShares, bAppShares, bAudit,
		bInvites, bInviteTarget, bInviteEmail}

	keySigning = []byte("signing-key")
)

// Store is an accounts.Store in one bbolt file.
type Store struct {
	db *bbolt.DB
}

var _ accounts.Store = (*Store)(nil)

// Open opens (creating if needed) the accounts file at path.
func Open(ctx context.Context, path string) (*Store, error) {
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("open accounts %s: %w", path, err)
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return nil, fmt.Errorf("open accounts: %w", err)
	}
	timeout := 10 * time.Second
	if dl, ok := ctx.Deadline(); ok {
		timeout = min(timeout, max(time.Until(dl), time.Millisecond))
	}
	db, err := bbolt.Open(path, 0o600, &bbolt.Options{Timeout: timeout})
	if err != nil {
		return nil, fmt.Errorf("open accounts %s: %w", path, err)
	}
	err = db.Update(func(tx *bbolt.Tx) error {
		for _, b := range allBuckets {
			if _, err := tx.CreateBucketIfNotExists(b); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		db.Close()
		return nil, fmt.Errorf("open accounts %s: %w", path, err)
	}
	return &Store{db: db}, nil
}

// OpenDir opens dir/accounts.db.
func OpenDir(ctx context.Context, dir string) (*Store, error) {
	return Open(ctx, filepath.Join(dir, FileName))
}

// Close closes the file.
func (s *Store) Close() error { return s.db.Close() }

func (s *Store) view(ctx context.Context, fn func(tx *bbolt.Tx) error) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	return s.db.View(fn)
}

func (s *Store) update(ctx context.Context, fn func(tx *bbolt.Tx) error) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	return s.db.Update(fn)
}

// SigningKey implements accounts.Store.
func (s *Store) SigningKey(ctx context.Context) ([]byte, error) {
	var key []byte
	err := s.update(ctx, func(tx *bbolt.Tx) error {
		b := tx.Bucket(bMeta)
		if k := b.Get(keySigning); k != nil {
			key = append([]byte(nil), k...)
			return nil
		}
		key = make([]byte, 32)
		if _, err := rand.Read(key); err != nil {
			return err
		}
		return b.Put(keySigning, key)
	})
	if err != nil {
		return nil, fmt.Errorf("signing key: %w", err)
	}
	return key, nil
}

// pair joins two ids into an index key.
func pair(a, b string) []byte {
	k := make([]byte, 0, len(a)+1+len(b))
	k = append(k, a...)
	k = append(k, 0)
	return append(k, b...)
}

// prefix is the key prefix of every pair starting with a.
func prefix(a string) []byte { return append([]byte(a), 0) }

// second returns the part of a pair key after the separator.
func second(k []byte) string {
	for i, c := range k {
		if c == 0 {
			return string(k[i+1:])
		}
	}
	return ""
}

func get(b *bbolt.Bucket, key []byte, v any, what string) error {
	raw := b.Get(key)
	if raw == nil {
		return fmt.Errorf("%w: %s", accounts.ErrNotFound, what)
	}
	if err := json.Unmarshal(raw, v); err != nil {
		return fmt.Errorf("decode %s: %w", what, err)
	}
	return nil
}

func put(b *bbolt.Bucket, key []byte, v any) error {
	raw, err := json.Marshal(v)
	if err != nil {
		return err
	}
	return b.Put(key, raw)
}

// scan calls fn with every key/value under prefix p.
func scan(b *bbolt.Bucket, p []byte, fn func(k, v []byte) error) error {
	c := b.Cursor()
	for k, v := c.Seek(p); k != nil && hasPrefix(k, p); k, v = c.Next() {
		if err := fn(k, v); err != nil {
			return err
		}
	}
	return nil
}

func hasPrefix(k, p []byte) bool { return len(k) >= len(p) && string(k[:len(p)]) == string(p) }

// deletePrefix removes every key under p.
func deletePrefix(b *bbolt.Bucket, p []byte) error {
	var keys [][]byte
	if err := scan(b, p, func(k, _ []byte) error {
		keys = append(keys, append([]byte(nil), k...))
		return nil
	}); err != nil {
		return err
	}
	for _, k := range keys {
		if err := b.Delete(k); err != nil {
			return err
		}
	}
	return nil
}

func wrap(op string, err error) error {
	if err == nil {
		return nil
	}
	if errors.Is(err, berrors.ErrDatabaseNotOpen) {
		return fmt.Errorf("%s: accounts store closed: %w", op, err)
	}
	return fmt.Errorf("%s: %w", op, err)
}
