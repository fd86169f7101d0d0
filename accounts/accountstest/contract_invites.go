package accountstest

import (
	"testing"

	"github.com/casual-dev/casual/accounts"
)

func invite(id, email, orgID, appID string, r accounts.Role) accounts.Invitation {
	return accounts.Invitation{ID: id, Email: email, OrgID: orgID, AppID: appID, Role: r, InvitedBy: "u1",
		CreatedAt: T0, ExpiresAt: at(60 * 24)}
}

func testInvitations(t *testing.T, s accounts.Store) {
	ctx := ctxOf(t)
	addUsers(t, s, "u1")
	must(t, s.CreateOrg(ctx, org("o1"), member("o1", "u1", accounts.RoleOwner)))
	must(t, s.CreateOrg(ctx, org("o2"), member("o2", "u1", accounts.RoleOwner)))
	must(t, s.CreateApp(ctx, app("a1", "u1", "")))

	must(t, s.CreateInvitation(ctx, invite("i1", "new@example.com", "o1", "", accounts.RoleViewer)))
	must(t, s.CreateInvitation(ctx, invite("i2", "new@example.com", "", "a1", accounts.RoleEditor)))
	must(t, s.CreateInvitation(ctx, invite("i3", "other@example.com", "o1", "", accounts.RoleAdmin)))
	must(t, s.CreateInvitation(ctx, invite("i4", "new@example.com", "o2", "", accounts.RoleViewer)))
	// inviting the same person to the same place again replaces the first
	must(t, s.CreateInvitation(ctx, invite("i5", "new@example.com", "o1", "", accounts.RoleEditor)))
	wantErr(t, s.CreateInvitation(ctx, invite("i6", "x@example.com", "nope", "", accounts.RoleViewer)), accounts.ErrNotFound)
	wantErr(t, s.CreateInvitation(ctx, invite("i7", "x@example.com", "", "nope", accounts.RoleViewer)), accounts.ErrNotFound)

	got, err := s.GetInvitation(ctx, "i2")
	must(t, err)
	same(t, got, invite("i2", "new@example.com", "", "a1", accounts.RoleEditor))
	_, err = s.GetInvitation(ctx, "i1")
	wantErr(t, err, accounts.ErrNotFound)

	list, err := s.ListInvitations(ctx, "o1", "")
	must(t, err)
	same(t, list, []accounts.Invitation{invite("i3", "other@example.com", "o1", "", accounts.RoleAdmin),
		invite("i5", "new@example.com", "o1", "", accounts.RoleEditor)})
	list, err = s.ListInvitations(ctx, "", "a1")
	must(t, err)
	same(t, list, []accounts.Invitation{invite("i2", "new@example.com", "", "a1", accounts.RoleEditor)})
	mine, err := s.InvitationsFor(ctx, "new@example.com")
	must(t, err)
	same(t, ids(mine, func(i accounts.Invitation) string { return i.ID }), []string{"i2", "i4", "i5"})
	none, err := s.InvitationsFor(ctx, "nobody@example.com")
	must(t, err)
	if len(none) != 0 {
		t.Fatalf("invitations for nobody: %v", none)
	}

	must(t, s.DeleteInvitation(ctx, "i3"))
	wantErr(t, s.DeleteInvitation(ctx, "i3"), accounts.ErrNotFound)
	// they go with their organization or app
	must(t, s.DeleteOrg(ctx, "o2"))
	must(t, s.PurgeApp(ctx, "a1"))
	mine, err = s.InvitationsFor(ctx, "new@example.com")
	must(t, err)
	same(t, ids(mine, func(i accounts.Invitation) string { return i.ID }), []string{"i5"})
	for _, id := range []string{"i2", "i4"} {
		_, err := s.GetInvitation(ctx, id)
		wantErr(t, err, accounts.ErrNotFound)
	}
}
