package embedded

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"time"

	"go.etcd.io/bbolt"

	"github.com/casual-dev/casual/accounts"
)

// CreateUser implements accounts.Store.
func (s *Store) CreateUser(ctx context.Context, u accounts.User) error {
	return wrap("create user", s.update(ctx, func(tx *bbolt.Tx) error {
		users, emails := tx.Bucket(bUsers), tx.Bucket(bEmails)
		if users.Get([]byte(u.ID)) != nil {
			return fmt.Errorf("%w: user id %s", accounts.ErrConflict, u.ID)
		}
		if emails.Get([]byte(u.Email)) != nil {
			return fmt.Errorf("%w: email in use", accounts.ErrConflict)
		}
		if err := emails.Put([]byte(u.Email), []byte(u.ID)); err != nil {
			return err
		}
		return put(users, []byte(u.ID), u)
	}))
}

// GetUser implements accounts.Store.
func (s *Store) GetUser(ctx context.Context, id string) (accounts.User, error) {
	var u accounts.User
	err := s.view(ctx, func(tx *bbolt.Tx) error { return get(tx.Bucket(bUsers), []byte(id), &u, "user "+id) })
	return u, wrap("get user", err)
}

// GetUserByEmail implements accounts.Store.
func (s *Store) GetUserByEmail(ctx context.Context, email string) (accounts.User, error) {
	var u accounts.User
	err := s.view(ctx, func(tx *bbolt.Tx) error {
		id := tx.Bucket(bEmails).Get([]byte(email))
		if id == nil {
			return fmt.Errorf("%w: no user with that email", accounts.ErrNotFound)
		}
		return get(tx.Bucket(bUsers), id, &u, "user")
	})
	return u, wrap("get user by email", err)
}

// UpdateUser implements accounts.Store.
func (s *Store) UpdateUser(ctx context.Context, u accounts.User) error {
	return wrap("update user", s.update(ctx, func(tx *bbolt.Tx) error {
		users, emails := tx.Bucket(bUsers), tx.Bucket(bEmails)
		var old accounts.User
		if err := get(users, []byte(u.ID), &old, "user "+u.ID); err != nil {
			return err
		}
		if old.Email != u.Email {
			if emails.Get([]byte(u.Email)) != nil {
				return fmt.Errorf("%w: email in use", accounts.ErrConflict)
			}
			if err := emails.Delete([]byte(old.Email)); err != nil {
				return err
			}
			if err := emails.Put([]byte(u.Email), []byte(u.ID)); err != nil {
				return err
			}
		}
		return put(users, []byte(u.ID), u)
	}))
}

// DeleteUser implements accounts.Store.
func (s *Store) DeleteUser(ctx context.Context, id string) error {
	return wrap("delete user", s.update(ctx, func(tx *bbolt.Tx) error {
		var u accounts.User
		if err := get(tx.Bucket(bUsers), []byte(id), &u, "user "+id); err != nil {
			return err
		}
		if err := tx.Bucket(bEmails).Delete([]byte(u.Email)); err != nil {
			return err
		}
		if err := tx.Bucket(bUsers).Delete([]byte(id)); err != nil {
			return err
		}
		if err := deleteUserSessions(tx, id); err != nil {
			return err
		}
		if err := deleteWhere(tx.Bucket(bOneTime), func(v []byte) bool {
			var t accounts.OneTimeToken
			return json.Unmarshal(v, &t) == nil && t.UserID == id
		}); err != nil {
			return err
		}
		var orgs, apps []string
		_ = scan(tx.Bucket(bMemberships), prefix(id), func(k, _ []byte) error { orgs = append(orgs, second(k)); return nil })
		_ = scan(tx.Bucket(bSharedWith), prefix(id), func(k, _ []byte) error { apps = append(apps, second(k)); return nil })
		for _, o := range orgs {
			if err := tx.Bucket(bMembers).Delete(pair(o, id)); err != nil {
				return err
			}
		}
		for _, a := range apps {
			if err := tx.Bucket(bAppMembers).Delete(pair(a, id)); err != nil {
				return err
			}
		}
		if err := deletePrefix(tx.Bucket(bMemberships), prefix(id)); err != nil {
			return err
		}
		return deletePrefix(tx.Bucket(bSharedWith), prefix(id))
	}))
}

func deleteUserSessions(tx *bbolt.Tx, userID string) error {
	var ids []string
	_ = scan(tx.Bucket(bUserSessions), prefix(userID), func(k, _ []byte) error { ids = append(ids, second(k)); return nil })
	for _, sid := range ids {
		if err := tx.Bucket(bSessions).Delete([]byte(sid)); err != nil {
			return err
		}
	}
	if err := deletePrefix(tx.Bucket(bUserSessions), prefix(userID)); err != nil {
		return err
	}
	return deleteWhere(tx.Bucket(bRefresh), func(v []byte) bool {
		var t accounts.RefreshToken
		return json.Unmarshal(v, &t) == nil && t.UserID == userID
	})
}

// deleteWhere removes every entry of b whose value matches.
func deleteWhere(b *bbolt.Bucket, match func(v []byte) bool) error {
	var keys [][]byte
	_ = b.ForEach(func(k, v []byte) error {
		if match(v) {
			keys = append(keys, append([]byte(nil), k...))
		}
		return nil
	})
	for _, k := range keys {
		if err := b.Delete(k); err != nil {
			return err
		}
	}
	return nil
}

// UseBackupCode implements accounts.Store.
func (s *Store) UseBackupCode(ctx context.Context, userID, digest string) error {
	return wrap("use backup code", s.update(ctx, func(tx *bbolt.Tx) error {
		var u accounts.User
		if err := get(tx.Bucket(bUsers), []byte(userID), &u, "user "+userID); err != nil {
			return err
		}
		i := slices.Index(u.BackupCodes, digest)
		if i < 0 {
			return fmt.Errorf("%w: no such backup code", accounts.ErrNotFound)
		}
		u.BackupCodes = slices.Delete(u.BackupCodes, i, i+1)
		return put(tx.Bucket(bUsers), []byte(userID), u)
	}))
}

// UseTOTPStep implements accounts.Store.
func (s *Store) UseTOTPStep(ctx context.Context, userID string, step int64) error {
	return wrap("use totp step", s.update(ctx, func(tx *bbolt.Tx) error {
		var u accounts.User
		if err := get(tx.Bucket(bUsers), []byte(userID), &u, "user "+userID); err != nil {
			return err
		}
		if step <= u.TOTPLastStep {
			return fmt.Errorf("%w: code already used", accounts.ErrTokenReused)
		}
		u.TOTPLastStep = step
		return put(tx.Bucket(bUsers), []byte(userID), u)
	}))
}

// CreateSession implements accounts.Store.
func (s *Store) CreateSession(ctx context.Context, sess accounts.Session, first accounts.RefreshToken) error {
	return wrap("create session", s.update(ctx, func(tx *bbolt.Tx) error {
		if tx.Bucket(bUsers).Get([]byte(sess.UserID)) == nil {
			return fmt.Errorf("%w: user %s", accounts.ErrNotFound, sess.UserID)
		}
		if err := put(tx.Bucket(bSessions), []byte(sess.ID), sess); err != nil {
			return err
		}
		if err := tx.Bucket(bUserSessions).Put(pair(sess.UserID, sess.ID), nil); err != nil {
			return err
		}
		return put(tx.Bucket(bRefresh), []byte(first.Hash), first)
	}))
}

// GetSession implements accounts.Store.
func (s *Store) GetSession(ctx context.Context, id string) (accounts.Session, error) {
	var sess accounts.Session
	err := s.view(ctx, func(tx *bbolt.Tx) error { return get(tx.Bucket(bSessions), []byte(id), &sess, "session") })
	return sess, wrap("get session", err)
}

// ListSessions implements accounts.Store.
func (s *Store) ListSessions(ctx context.Context, userID string) ([]accounts.Session, error) {
	var out []accounts.Session
	err := s.view(ctx, func(tx *bbolt.Tx) error {
		return scan(tx.Bucket(bUserSessions), prefix(userID), func(k, _ []byte) error {
			var sess accounts.Session
			if err := get(tx.Bucket(bSessions), []byte(second(k)), &sess, "session"); err != nil {
				return err
			}
			if sess.RevokedAt.IsZero() {
				out = append(out, sess)
			}
			return nil
		})
	})
	slices.SortFunc(out, func(a, b accounts.Session) int {
		if c := b.CreatedAt.Compare(a.CreatedAt); c != 0 {
			return c
		}
		return cmpString(b.ID, a.ID)
	})
	return out, wrap("list sessions", err)
}

// RevokeSession implements accounts.Store.
func (s *Store) RevokeSession(ctx context.Context, id string, at time.Time) error {
	return wrap("revoke session", s.update(ctx, func(tx *bbolt.Tx) error { return revoke(tx, id, at) }))
}

func revoke(tx *bbolt.Tx, id string, at time.Time) error {
	var sess accounts.Session
	if err := get(tx.Bucket(bSessions), []byte(id), &sess, "session"); err != nil {
		return err
	}
	if !sess.RevokedAt.IsZero() {
		return nil
	}
	sess.RevokedAt = at
	return put(tx.Bucket(bSessions), []byte(id), sess)
}

// RevokeUserSessions implements accounts.Store.
func (s *Store) RevokeUserSessions(ctx context.Context, userID string, at time.Time) error {
	return wrap("revoke user sessions", s.update(ctx, func(tx *bbolt.Tx) error {
		var ids []string
		_ = scan(tx.Bucket(bUserSessions), prefix(userID), func(k, _ []byte) error { ids = append(ids, second(k)); return nil })
		for _, id := range ids {
			if err := revoke(tx, id, at); err != nil {
				return err
			}
		}
		return nil
	}))
}

// RotateRefreshToken implements accounts.Store.
func (s *Store) RotateRefreshToken(ctx context.Context, oldHash string, next accounts.RefreshToken, now time.Time) (accounts.Session, error) {
	var sess accounts.Session
	var result error // returned with a committed transaction (reuse revokes)
	err := s.update(ctx, func(tx *bbolt.Tx) error {
		refresh := tx.Bucket(bRefresh)
		var old accounts.RefreshToken
		if err := get(refresh, []byte(oldHash), &old, "refresh token"); err != nil {
			return err
		}
		if err := get(tx.Bucket(bSessions), []byte(old.SessionID), &sess, "session"); err != nil {
			return err
		}
		switch {
		case !sess.RevokedAt.IsZero():
			result = fmt.Errorf("%w: session revoked", accounts.ErrTokenRevoked)
			return nil
		case !old.UsedAt.IsZero():
			sess.RevokedAt = now
			result = accounts.ErrTokenReused
			return put(tx.Bucket(bSessions), []byte(sess.ID), sess)
		case !now.Before(old.ExpiresAt):
			result = accounts.ErrTokenExpired
			return nil
		}
		old.UsedAt = now
		next.SessionID, next.UserID = old.SessionID, old.UserID
		sess.LastUsedAt, sess.ExpiresAt = now, next.ExpiresAt
		if err := put(refresh, []byte(oldHash), old); err != nil {
			return err
		}
		if err := put(refresh, []byte(next.Hash), next); err != nil {
			return err
		}
		return put(tx.Bucket(bSessions), []byte(sess.ID), sess)
	})
	if err != nil {
		return accounts.Session{}, wrap("rotate refresh token", err)
	}
	return sess, result
}

// CreateOneTimeToken implements accounts.Store.
func (s *Store) CreateOneTimeToken(ctx context.Context, t accounts.OneTimeToken) error {
	return wrap("create one-time token", s.update(ctx, func(tx *bbolt.Tx) error {
		return put(tx.Bucket(bOneTime), []byte(t.Hash), t)
	}))
}

// ConsumeOneTimeToken implements accounts.Store.
func (s *Store) ConsumeOneTimeToken(ctx context.Context, hash, kind string, now time.Time) (accounts.OneTimeToken, error) {
	var t accounts.OneTimeToken
	err := s.update(ctx, func(tx *bbolt.Tx) error {
		b := tx.Bucket(bOneTime)
		if err := get(b, []byte(hash), &t, "token"); err != nil {
			return err
		}
		if t.Kind != kind {
			return fmt.Errorf("%w: token", accounts.ErrNotFound)
		}
		return b.Delete([]byte(hash))
	})
	if err != nil {
		return accounts.OneTimeToken{}, wrap("consume token", err)
	}
	if !now.Before(t.ExpiresAt) {
		return accounts.OneTimeToken{}, accounts.ErrTokenExpired
	}
	return t, nil
}

func cmpString(a, b string) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}
