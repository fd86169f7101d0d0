package embedded

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"time"

	"go.etcd.io/bbolt"

	"github.com/casual-dev/casual/accounts"
)

// CreateApp implements accounts.Store.
func (s *Store) CreateApp(ctx context.Context, a accounts.App) error {
	return wrap("create app", s.update(ctx, func(tx *bbolt.Tx) error {
		if tx.Bucket(bApps).Get([]byte(a.ID)) != nil {
			return fmt.Errorf("%w: app %s", accounts.ErrConflict, a.ID)
		}
		return put(tx.Bucket(bApps), []byte(a.ID), a)
	}))
}

// GetApp implements accounts.Store.
func (s *Store) GetApp(ctx context.Context, id string) (accounts.App, error) {
	var a accounts.App
	err := s.view(ctx, func(tx *bbolt.Tx) error { return get(tx.Bucket(bApps), []byte(id), &a, "app "+id) })
	return a, wrap("get app", err)
}

// UpdateApp implements accounts.Store.
func (s *Store) UpdateApp(ctx context.Context, a accounts.App) error {
	return wrap("update app", s.update(ctx, func(tx *bbolt.Tx) error {
		if tx.Bucket(bApps).Get([]byte(a.ID)) == nil {
			return fmt.Errorf("%w: app %s", accounts.ErrNotFound, a.ID)
		}
		return put(tx.Bucket(bApps), []byte(a.ID), a)
	}))
}

// PurgeApp implements accounts.Store.
func (s *Store) PurgeApp(ctx context.Context, id string) error {
	return wrap("purge app", s.update(ctx, func(tx *bbolt.Tx) error {
		var users, shares []string
		_ = scan(tx.Bucket(bAppMembers), prefix(id), func(k, _ []byte) error { users = append(users, second(k)); return nil })
		_ = scan(tx.Bucket(bAppShares), prefix(id), func(k, _ []byte) error { shares = append(shares, second(k)); return nil })
		for _, u := range users {
			if err := tx.Bucket(bSharedWith).Delete(pair(u, id)); err != nil {
				return err
			}
		}
		for _, sh := range shares {
			if err := tx.Bucket(bShares).Delete([]byte(sh)); err != nil {
				return err
			}
		}
		if err := deleteInvitesOf(tx, "", id); err != nil {
			return err
		}
		for _, b := range [][]byte{bAppMembers, bAppShares, bVersions} {
			if err := deletePrefix(tx.Bucket(b), prefix(id)); err != nil {
				return err
			}
		}
		return tx.Bucket(bApps).Delete([]byte(id))
	}))
}

// ListApps implements accounts.Store: it scans every app.
func (s *Store) ListApps(ctx context.Context, q accounts.AppQuery) ([]accounts.App, error) {
	var out []accounts.App
	err := s.view(ctx, func(tx *bbolt.Tx) error {
		shared := map[string]bool{}
		if q.Viewer != "" {
			_ = scan(tx.Bucket(bSharedWith), prefix(q.Viewer), func(k, _ []byte) error { shared[second(k)] = true; return nil })
		}
		return tx.Bucket(bApps).ForEach(func(_, v []byte) error {
			var a accounts.App
			if err := json.Unmarshal(v, &a); err != nil {
				return err
			}
			if inScope(q, a, shared[a.ID]) && matches(q, a) && afterCursor(q, a) {
				out = append(out, a)
			}
			return nil
		})
	})
	if err != nil {
		return nil, wrap("list apps", err)
	}
	slices.SortFunc(out, func(a, b accounts.App) int {
		c := compareApps(q.Sort, a, b)
		if q.Desc {
			c = -c
		}
		return c
	})
	if q.Limit > 0 && len(out) > q.Limit {
		out = out[:q.Limit]
	}
	return out, nil
}

func inScope(q accounts.AppQuery, a accounts.App, shared bool) bool {
	switch {
	case q.All:
		return true
	case q.Viewer != "" && (a.OwnerID == q.Viewer || shared):
		return true
	case a.OrgID != "" && slices.Contains(q.AdminOrgIDs, a.OrgID):
		return true
	case a.OrgID != "" && a.Visibility != accounts.Private && slices.Contains(q.OrgIDs, a.OrgID):
		return true
	}
	return q.IncludePublic && a.Visibility == accounts.Public
}

func matches(q accounts.AppQuery, a accounts.App) bool {
	if q.Deleted == a.DeletedAt.IsZero() {
		return false
	}
	if q.OwnerID != "" && a.OwnerID != q.OwnerID || q.OrgID != "" && a.OrgID != q.OrgID {
		return false
	}
	if q.Visibility != "" && a.Visibility != q.Visibility {
		return false
	}
	if q.Search != "" {
		s := strings.ToLower(q.Search)
		return strings.Contains(strings.ToLower(a.Name), s) || strings.Contains(strings.ToLower(a.Description), s)
	}
	return true
}

// compareApps orders by the sort key, then id.
func compareApps(sort accounts.AppSort, a, b accounts.App) int {
	var c int
	switch sort {
	case accounts.SortName:
		c = cmpString(a.Name, b.Name)
	case accounts.SortCreated:
		c = a.CreatedAt.Compare(b.CreatedAt)
	default:
		c = a.UpdatedAt.Compare(b.UpdatedAt)
	}
	if c != 0 {
		return c
	}
	return cmpString(a.ID, b.ID)
}

func afterCursor(q accounts.AppQuery, a accounts.App) bool {
	if q.AfterID == "" {
		return true
	}
	cur := accounts.App{ID: q.AfterID, Name: q.AfterName, CreatedAt: q.AfterTime, UpdatedAt: q.AfterTime}
	c := compareApps(q.Sort, a, cur)
	if q.Desc {
		return c < 0
	}
	return c > 0
}

// ListTrash implements accounts.Store.
func (s *Store) ListTrash(ctx context.Context, cut time.Time, limit int) ([]accounts.App, error) {
	var out []accounts.App
	err := s.view(ctx, func(tx *bbolt.Tx) error {
		return tx.Bucket(bApps).ForEach(func(_, v []byte) error {
			var a accounts.App
			if err := json.Unmarshal(v, &a); err != nil {
				return err
			}
			if !a.DeletedAt.IsZero() && a.DeletedAt.Before(cut) {
				out = append(out, a)
			}
			return nil
		})
	})
	slices.SortFunc(out, func(a, b accounts.App) int {
		if c := a.DeletedAt.Compare(b.DeletedAt); c != 0 {
			return c
		}
		return cmpString(a.ID, b.ID)
	})
	if limit > 0 && len(out) > limit {
		out = out[:limit]
	}
	return out, wrap("list trash", err)
}

// PutAppMember implements accounts.Store.
func (s *Store) PutAppMember(ctx context.Context, m accounts.AppMember) error {
	return wrap("put app member", s.update(ctx, func(tx *bbolt.Tx) error {
		if tx.Bucket(bApps).Get([]byte(m.AppID)) == nil {
			return fmt.Errorf("%w: app %s", accounts.ErrNotFound, m.AppID)
		}
		if tx.Bucket(bUsers).Get([]byte(m.UserID)) == nil {
			return fmt.Errorf("%w: user %s", accounts.ErrNotFound, m.UserID)
		}
		if err := put(tx.Bucket(bAppMembers), pair(m.AppID, m.UserID), m); err != nil {
			return err
		}
		return tx.Bucket(bSharedWith).Put(pair(m.UserID, m.AppID), nil)
	}))
}

// GetAppMember implements accounts.Store.
func (s *Store) GetAppMember(ctx context.Context, appID, userID string) (accounts.AppMember, error) {
	var m accounts.AppMember
	err := s.view(ctx, func(tx *bbolt.Tx) error { return get(tx.Bucket(bAppMembers), pair(appID, userID), &m, "app member") })
	return m, wrap("get app member", err)
}

// RemoveAppMember implements accounts.Store.
func (s *Store) RemoveAppMember(ctx context.Context, appID, userID string) error {
	return wrap("remove app member", s.update(ctx, func(tx *bbolt.Tx) error {
		if tx.Bucket(bAppMembers).Get(pair(appID, userID)) == nil {
			return fmt.Errorf("%w: app member", accounts.ErrNotFound)
		}
		if err := tx.Bucket(bSharedWith).Delete(pair(userID, appID)); err != nil {
			return err
		}
		return tx.Bucket(bAppMembers).Delete(pair(appID, userID))
	}))
}

// ListAppMembers implements accounts.Store.
func (s *Store) ListAppMembers(ctx context.Context, appID string) ([]accounts.AppMember, error) {
	var out []accounts.AppMember
	err := s.view(ctx, func(tx *bbolt.Tx) error {
		return scan(tx.Bucket(bAppMembers), prefix(appID), func(_, v []byte) error {
			var m accounts.AppMember
			if err := json.Unmarshal(v, &m); err != nil {
				return err
			}
			out = append(out, m)
			return nil
		})
	})
	return out, wrap("list app members", err)
}
