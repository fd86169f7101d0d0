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

// CreateVersion implements accounts.Store.
func (s *Store) CreateVersion(ctx context.Context, v accounts.Version) error {
	return wrap("create version", s.update(ctx, func(tx *bbolt.Tx) error {
		if tx.Bucket(bApps).Get([]byte(v.AppID)) == nil {
			return fmt.Errorf("%w: app %s", accounts.ErrNotFound, v.AppID)
		}
		return put(tx.Bucket(bVersions), pair(v.AppID, v.ID), v)
	}))
}

// GetVersion implements accounts.Store.
func (s *Store) GetVersion(ctx context.Context, appID, id string) (accounts.Version, error) {
	var v accounts.Version
	err := s.view(ctx, func(tx *bbolt.Tx) error { return get(tx.Bucket(bVersions), pair(appID, id), &v, "version "+id) })
	return v, wrap("get version", err)
}

// ListVersions implements accounts.Store.
func (s *Store) ListVersions(ctx context.Context, appID string) ([]accounts.Version, error) {
	var out []accounts.Version
	err := s.view(ctx, func(tx *bbolt.Tx) error {
		return scan(tx.Bucket(bVersions), prefix(appID), func(_, raw []byte) error {
			var v accounts.Version
			if err := json.Unmarshal(raw, &v); err != nil {
				return err
			}
			out = append(out, v)
			return nil
		})
	})
	slices.SortFunc(out, func(a, b accounts.Version) int {
		if c := b.CreatedAt.Compare(a.CreatedAt); c != 0 {
			return c
		}
		return cmpString(b.ID, a.ID)
	})
	return out, wrap("list versions", err)
}

// CreateShare implements accounts.Store.
func (s *Store) CreateShare(ctx context.Context, sh accounts.Share) error {
	return wrap("create share", s.update(ctx, func(tx *bbolt.Tx) error {
		if tx.Bucket(bApps).Get([]byte(sh.AppID)) == nil {
			return fmt.Errorf("%w: app %s", accounts.ErrNotFound, sh.AppID)
		}
		if err := put(tx.Bucket(bShares), []byte(sh.ID), sh); err != nil {
			return err
		}
		return tx.Bucket(bAppShares).Put(pair(sh.AppID, sh.ID), nil)
	}))
}

// GetShare implements accounts.Store.
func (s *Store) GetShare(ctx context.Context, id string) (accounts.Share, error) {
	var sh accounts.Share
	err := s.view(ctx, func(tx *bbolt.Tx) error { return get(tx.Bucket(bShares), []byte(id), &sh, "share") })
	return sh, wrap("get share", err)
}

// ListShares implements accounts.Store.
func (s *Store) ListShares(ctx context.Context, appID string) ([]accounts.Share, error) {
	var out []accounts.Share
	err := s.view(ctx, func(tx *bbolt.Tx) error {
		return scan(tx.Bucket(bAppShares), prefix(appID), func(k, _ []byte) error {
			var sh accounts.Share
			if err := get(tx.Bucket(bShares), []byte(second(k)), &sh, "share"); err != nil {
				return err
			}
			out = append(out, sh)
			return nil
		})
	})
	slices.SortFunc(out, func(a, b accounts.Share) int {
		if c := b.CreatedAt.Compare(a.CreatedAt); c != 0 {
			return c
		}
		return cmpString(b.ID, a.ID)
	})
	return out, wrap("list shares", err)
}

// RevokeShare implements accounts.Store.
func (s *Store) RevokeShare(ctx context.Context, id string, at time.Time) error {
	return wrap("revoke share", s.update(ctx, func(tx *bbolt.Tx) error {
		var sh accounts.Share
		if err := get(tx.Bucket(bShares), []byte(id), &sh, "share"); err != nil {
			return err
		}
		if !sh.RevokedAt.IsZero() {
			return nil
		}
		sh.RevokedAt = at
		return put(tx.Bucket(bShares), []byte(id), sh)
	}))
}

// AppendAudit implements accounts.Store.
func (s *Store) AppendAudit(ctx context.Context, e accounts.AuditEvent) error {
	return wrap("append audit", s.update(ctx, func(tx *bbolt.Tx) error {
		return put(tx.Bucket(bAudit), []byte(e.ID), e)
	}))
}

// ListAudit implements accounts.Store: it walks the log backwards.
func (s *Store) ListAudit(ctx context.Context, q accounts.AuditQuery) ([]accounts.AuditEvent, error) {
	var out []accounts.AuditEvent
	err := s.view(ctx, func(tx *bbolt.Tx) error {
		c := tx.Bucket(bAudit).Cursor()
		var k, v []byte
		if q.Before != "" {
			k, v = c.Seek([]byte(q.Before))
			if k == nil {
				k, v = c.Last()
			}
			for k != nil && string(k) >= q.Before {
				k, v = c.Prev()
			}
		} else {
			k, v = c.Last()
		}
		for ; k != nil && (q.Limit <= 0 || len(out) < q.Limit); k, v = c.Prev() {
			var e accounts.AuditEvent
			if err := json.Unmarshal(v, &e); err != nil {
				return err
			}
			if q.OrgID != "" && e.OrgID != q.OrgID || q.ActorID != "" && e.ActorID != q.ActorID || q.AppID != "" && e.AppID != q.AppID {
				continue
			}
			out = append(out, e)
		}
		return nil
	})
	return out, wrap("list audit", err)
}
