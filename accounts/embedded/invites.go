package embedded

import (
	"context"
	"fmt"
	"slices"

	"go.etcd.io/bbolt"

	"github.com/casual-dev/casual/accounts"
)

var (
	bInvites      = []byte("invitations")        // id → invitation
	bInviteTarget = []byte("invitation_targets") // o:org or a:app \0 id → ""
	bInviteEmail  = []byte("invitation_emails")  // email \0 id → ""
)

func inviteTarget(orgID, appID string) string {
	if orgID != "" {
		return "o:" + orgID
	}
	return "a:" + appID
}

// CreateInvitation implements accounts.Store.
func (s *Store) CreateInvitation(ctx context.Context, inv accounts.Invitation) error {
	return wrap("create invitation", s.update(ctx, func(tx *bbolt.Tx) error {
		switch {
		case (inv.OrgID == "") == (inv.AppID == ""):
			return fmt.Errorf("invitation %s: exactly one of org and app must be set", inv.ID)
		case inv.OrgID != "" && tx.Bucket(bOrgs).Get([]byte(inv.OrgID)) == nil:
			return fmt.Errorf("%w: organization %s", accounts.ErrNotFound, inv.OrgID)
		case inv.AppID != "" && tx.Bucket(bApps).Get([]byte(inv.AppID)) == nil:
			return fmt.Errorf("%w: app %s", accounts.ErrNotFound, inv.AppID)
		}
		target := inviteTarget(inv.OrgID, inv.AppID)
		var same []accounts.Invitation
		err := scan(tx.Bucket(bInviteTarget), prefix(target), func(k, _ []byte) error {
			var old accounts.Invitation
			if err := get(tx.Bucket(bInvites), []byte(second(k)), &old, "invitation"); err != nil {
				return err
			}
			if old.Email == inv.Email {
				same = append(same, old)
			}
			return nil
		})
		if err != nil {
			return err
		}
		for _, old := range same {
			if err := deleteInvite(tx, old); err != nil {
				return err
			}
		}
		if err := put(tx.Bucket(bInvites), []byte(inv.ID), inv); err != nil {
			return err
		}
		if err := tx.Bucket(bInviteTarget).Put(pair(target, inv.ID), nil); err != nil {
			return err
		}
		return tx.Bucket(bInviteEmail).Put(pair(inv.Email, inv.ID), nil)
	}))
}

func deleteInvite(tx *bbolt.Tx, inv accounts.Invitation) error {
	for _, del := range []struct {
		b   []byte
		key []byte
	}{
		{bInvites, []byte(inv.ID)},
		{bInviteTarget, pair(inviteTarget(inv.OrgID, inv.AppID), inv.ID)},
		{bInviteEmail, pair(inv.Email, inv.ID)},
	} {
		if err := tx.Bucket(del.b).Delete(del.key); err != nil {
			return err
		}
	}
	return nil
}

// deleteInvitesOf removes the invitations to an organization or app.
func deleteInvitesOf(tx *bbolt.Tx, orgID, appID string) error {
	invs, err := listInvites(tx, bInviteTarget, inviteTarget(orgID, appID))
	if err != nil {
		return err
	}
	for _, inv := range invs {
		if err := deleteInvite(tx, inv); err != nil {
			return err
		}
	}
	return nil
}

func listInvites(tx *bbolt.Tx, index []byte, key string) ([]accounts.Invitation, error) {
	var out []accounts.Invitation
	err := scan(tx.Bucket(index), prefix(key), func(k, _ []byte) error {
		var inv accounts.Invitation
		if err := get(tx.Bucket(bInvites), []byte(second(k)), &inv, "invitation"); err != nil {
			return err
		}
		out = append(out, inv)
		return nil
	})
	return out, err
}

// GetInvitation implements accounts.Store.
func (s *Store) GetInvitation(ctx context.Context, id string) (accounts.Invitation, error) {
	var inv accounts.Invitation
	err := s.view(ctx, func(tx *bbolt.Tx) error { return get(tx.Bucket(bInvites), []byte(id), &inv, "invitation "+id) })
	return inv, wrap("get invitation", err)
}

// ListInvitations implements accounts.Store.
func (s *Store) ListInvitations(ctx context.Context, orgID, appID string) ([]accounts.Invitation, error) {
	var out []accounts.Invitation
	err := s.view(ctx, func(tx *bbolt.Tx) error {
		var err error
		out, err = listInvites(tx, bInviteTarget, inviteTarget(orgID, appID))
		return err
	})
	sortInvites(out)
	return out, wrap("list invitations", err)
}

// InvitationsFor implements accounts.Store.
func (s *Store) InvitationsFor(ctx context.Context, email string) ([]accounts.Invitation, error) {
	var out []accounts.Invitation
	err := s.view(ctx, func(tx *bbolt.Tx) error {
		var err error
		out, err = listInvites(tx, bInviteEmail, email)
		return err
	})
	sortInvites(out)
	return out, wrap("invitations for", err)
}

func sortInvites(invs []accounts.Invitation) {
	slices.SortFunc(invs, func(a, b accounts.Invitation) int { return cmpString(a.ID, b.ID) })
}

// DeleteInvitation implements accounts.Store.
func (s *Store) DeleteInvitation(ctx context.Context, id string) error {
	return wrap("delete invitation", s.update(ctx, func(tx *bbolt.Tx) error {
		var inv accounts.Invitation
		if err := get(tx.Bucket(bInvites), []byte(id), &inv, "invitation "+id); err != nil {
			return err
		}
		return deleteInvite(tx, inv)
	}))
}
