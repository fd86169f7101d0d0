package accounts_test

import (
	"errors"
	"testing"
	"time"

	"github.com/casual-dev/casual/accounts"
	"github.com/casual-dev/casual/accounts/accountstest"
)

// verify follows the newest verification link mailed to w.
func verify(t *testing.T, st *accountstest.Stack, w who) {
	t.Helper()
	m, ok := st.Outbox.Last(accounts.MailVerifyEmail, w.user.Email)
	if !ok {
		t.Fatal("no verification mail")
	}
	if _, err := st.Service.VerifyEmail(ctxOf(t), m.Token); err != nil {
		t.Fatal(err)
	}
}

func TestInvitationsExpireAndNeverLowerARole(t *testing.T) {
	accountstest.Each(t, func(t *testing.T, kind string) {
		st := accountstest.NewStack(t, kind, nil)
		svc, ctx := st.Service, ctxOf(t)
		ann := register(t, st, "ann")
		org, err := svc.CreateOrg(ctx, ann.p, "Acme")
		must(t, err)
		app, err := svc.CreateApp(ctx, ann.p, accounts.CreateAppInput{Name: "A"})
		must(t, err)

		// expired: nothing is granted, and the invitation is gone
		m, err := svc.SetMember(ctx, ann.p, org.ID, "late@example.com", accounts.RoleEditor)
		must(t, err)
		if m.Invitation == nil || m.Invitation.Email != "late@example.com" || m.UserID != "" {
			t.Fatalf("invite to the org: %+v", m)
		}
		st.Clock.Advance(15 * 24 * time.Hour)
		if l, err := svc.OrgInvitations(ctx, ann.p, org.ID); err != nil || len(l) != 0 {
			t.Fatalf("expired invitations listed: %v %v", l, err)
		}
		late := register(t, st, "late")
		verify(t, st, late)
		if _, err := svc.Org(ctx, late.p, org.ID); !errors.Is(err, accounts.ErrNotFound) {
			t.Fatalf("an expired invitation was granted: %v", err)
		}
		if left, err := st.Store.InvitationsFor(ctx, "late@example.com"); err != nil || len(left) != 0 {
			t.Fatalf("invitations left: %v %v", left, err)
		}

		// someone who joined meanwhile keeps the stronger role
		s, err := svc.ShareApp(ctx, ann.p, app.ID, "bea@example.com", accounts.RoleViewer)
		must(t, err)
		if s.Invitation == nil || s.Invitation.AppID != app.ID {
			t.Fatalf("invite to the app: %+v", s)
		}
		bea := register(t, st, "bea")
		_, err = svc.ShareApp(ctx, ann.p, app.ID, "bea@example.com", accounts.RoleEditor)
		must(t, err)
		verify(t, st, bea)
		_, role, err := svc.App(ctx, bea.p, app.ID)
		must(t, err)
		if role != accounts.RoleEditor {
			t.Fatalf("bea is %s after the viewer invitation, want editor", role)
		}

		// only owners invite owners
		ed := register(t, st, "ed")
		_, err = svc.SetMember(ctx, ann.p, org.ID, ed.user.Email, accounts.RoleAdmin)
		must(t, err)
		_, err = svc.SetMember(ctx, ed.p, org.ID, "boss@example.com", accounts.RoleOwner)
		wantErr(t, err, accounts.ErrForbidden)
	})
}
