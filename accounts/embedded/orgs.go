package embedded

import (
	"context"
	"encoding/json"
	"fmt"

	"go.etcd.io/bbolt"

	"github.com/casual-dev/casual/accounts"
)

// CreateOrg implements accounts.Store.
func (s *Store) CreateOrg(ctx context.Context, o accounts.Org, owner accounts.Member) error {
	return wrap("create org", s.update(ctx, func(tx *bbolt.Tx) error {
		if tx.Bucket(bOrgs).Get([]byte(o.ID)) != nil {
			return fmt.Errorf("%w: org id %s", accounts.ErrConflict, o.ID)
		}
		if err := put(tx.Bucket(bOrgs), []byte(o.ID), o); err != nil {
			return err
		}
		return putMember(tx, owner)
	}))
}

// GetOrg implements accounts.Store.
func (s *Store) GetOrg(ctx context.Context, id string) (accounts.Org, error) {
	var o accounts.Org
	err := s.view(ctx, func(tx *bbolt.Tx) error { return get(tx.Bucket(bOrgs), []byte(id), &o, "organization "+id) })
	return o, wrap("get org", err)
}

// UpdateOrg implements accounts.Store.
func (s *Store) UpdateOrg(ctx context.Context, o accounts.Org) error {
	return wrap("update org", s.update(ctx, func(tx *bbolt.Tx) error {
		if tx.Bucket(bOrgs).Get([]byte(o.ID)) == nil {
			return fmt.Errorf("%w: organization %s", accounts.ErrNotFound, o.ID)
		}
		return put(tx.Bucket(bOrgs), []byte(o.ID), o)
	}))
}

// DeleteOrg implements accounts.Store.
func (s *Store) DeleteOrg(ctx context.Context, id string) error {
	return wrap("delete org", s.update(ctx, func(tx *bbolt.Tx) error {
		if tx.Bucket(bOrgs).Get([]byte(id)) == nil {
			return fmt.Errorf("%w: organization %s", accounts.ErrNotFound, id)
		}
		var users []string
		_ = scan(tx.Bucket(bMembers), prefix(id), func(k, _ []byte) error { users = append(users, second(k)); return nil })
		for _, u := range users {
			if err := tx.Bucket(bMemberships).Delete(pair(u, id)); err != nil {
				return err
			}
		}
		if err := deletePrefix(tx.Bucket(bMembers), prefix(id)); err != nil {
			return err
		}
		if err := deleteInvitesOf(tx, id, ""); err != nil {
			return err
		}
		return tx.Bucket(bOrgs).Delete([]byte(id))
	}))
}

func putMember(tx *bbolt.Tx, m accounts.Member) error {
	if err := put(tx.Bucket(bMembers), pair(m.OrgID, m.UserID), m); err != nil {
		return err
	}
	return tx.Bucket(bMemberships).Put(pair(m.UserID, m.OrgID), nil)
}

// owners counts an organization's owners.
func owners(tx *bbolt.Tx, orgID string) int {
	n := 0
	_ = scan(tx.Bucket(bMembers), prefix(orgID), func(_, v []byte) error {
		var m accounts.Member
		if json.Unmarshal(v, &m) == nil && m.Role == accounts.RoleOwner {
			n++
		}
		return nil
	})
	return n
}

// PutMember implements accounts.Store.
func (s *Store) PutMember(ctx context.Context, m accounts.Member) error {
	return wrap("put member", s.update(ctx, func(tx *bbolt.Tx) error {
		if tx.Bucket(bOrgs).Get([]byte(m.OrgID)) == nil {
			return fmt.Errorf("%w: organization %s", accounts.ErrNotFound, m.OrgID)
		}
		if tx.Bucket(bUsers).Get([]byte(m.UserID)) == nil {
			return fmt.Errorf("%w: user %s", accounts.ErrNotFound, m.UserID)
		}
		var old accounts.Member
		if err := get(tx.Bucket(bMembers), pair(m.OrgID, m.UserID), &old, "member"); err == nil {
			if old.Role == accounts.RoleOwner && m.Role != accounts.RoleOwner && owners(tx, m.OrgID) <= 1 {
				return accounts.ErrLastOwner
			}
		}
		return putMember(tx, m)
	}))
}

// GetMember implements accounts.Store.
func (s *Store) GetMember(ctx context.Context, orgID, userID string) (accounts.Member, error) {
	var m accounts.Member
	err := s.view(ctx, func(tx *bbolt.Tx) error { return get(tx.Bucket(bMembers), pair(orgID, userID), &m, "member") })
	return m, wrap("get member", err)
}

// RemoveMember implements accounts.Store.
func (s *Store) RemoveMember(ctx context.Context, orgID, userID string) error {
	return wrap("remove member", s.update(ctx, func(tx *bbolt.Tx) error {
		var m accounts.Member
		if err := get(tx.Bucket(bMembers), pair(orgID, userID), &m, "member"); err != nil {
			return err
		}
		if m.Role == accounts.RoleOwner && owners(tx, orgID) <= 1 {
			return accounts.ErrLastOwner
		}
		if err := tx.Bucket(bMemberships).Delete(pair(userID, orgID)); err != nil {
			return err
		}
		return tx.Bucket(bMembers).Delete(pair(orgID, userID))
	}))
}

// ListMembers implements accounts.Store.
func (s *Store) ListMembers(ctx context.Context, orgID string) ([]accounts.Member, error) {
	var out []accounts.Member
	err := s.view(ctx, func(tx *bbolt.Tx) error {
		return scan(tx.Bucket(bMembers), prefix(orgID), func(_, v []byte) error {
			var m accounts.Member
			if err := json.Unmarshal(v, &m); err != nil {
				return err
			}
			out = append(out, m)
			return nil
		})
	})
	return out, wrap("list members", err)
}

// ListMemberships implements accounts.Store.
func (s *Store) ListMemberships(ctx context.Context, userID string) ([]accounts.Member, error) {
	var out []accounts.Member
	err := s.view(ctx, func(tx *bbolt.Tx) error {
		return scan(tx.Bucket(bMemberships), prefix(userID), func(k, _ []byte) error {
			var m accounts.Member
			if err := get(tx.Bucket(bMembers), pair(second(k), userID), &m, "member"); err != nil {
				return err
			}
			out = append(out, m)
			return nil
		})
	})
	return out, wrap("list memberships", err)
}
