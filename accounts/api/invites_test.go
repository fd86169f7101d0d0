package api_test

import (
	"strings"
	"testing"

	"github.com/casual-dev/casual/accounts"
	"github.com/casual-dev/casual/accounts/accountstest"
)

// TestInvitingPeopleWithoutAnAccount: adding a member by an email nobody
// has signed up with mails an invitation; it can be listed and withdrawn
// by whoever manages members, and becomes the membership once someone
// signs up with that email and verifies it.
func TestInvitingPeopleWithoutAnAccount(t *testing.T) {
	accountstest.Each(t, func(t *testing.T, kind string) {
		s := start(t, kind, options{})
		ann, vic := s.signup(t, "ann"), s.signup(t, "vic")
		org := s.must(t, 201, "POST", "/v1/organizations", ann.access, map[string]any{"name": "Acme"}).str("id")
		app := s.must(t, 201, "POST", "/v1/apps", ann.access, map[string]any{"name": "Budget"}).str("id")
		s.must(t, 200, "POST", "/v1/apps/"+app+"/members", ann.access, map[string]any{"email": vic.email, "role": "viewer"})

		inv := s.must(t, 202, "POST", "/v1/organizations/"+org+"/members", ann.access, map[string]any{"email": "New@Example.com", "role": "editor"})
		if inv.str("email") != "new@example.com" || inv.str("org_id") != org || inv.str("role") != "editor" || inv.str("id") == "" {
			t.Fatalf("org invitation: %s", inv.raw)
		}
		s.must(t, 202, "POST", "/v1/apps/"+app+"/members", ann.access, map[string]any{"email": "client@example.com", "role": "viewer"})
		gone := s.must(t, 202, "POST", "/v1/apps/"+app+"/members", ann.access, map[string]any{"email": "gone@example.com", "role": "editor"}).str("id")
		m, ok := s.Outbox.Last(accounts.MailInvite, "client@example.com")
		if !ok || !strings.Contains(m.Subject, "Budget") || !strings.Contains(m.Text, m.Link) ||
			!strings.Contains(m.Link, "/signup?email=client%40example.com") {
			t.Fatalf("invitation mail: %+v (sent: %v)", m, ok)
		}

		// who manages members sees and withdraws them; others do not
		if l := s.must(t, 200, "GET", "/v1/apps/"+app+"/invitations", ann.access, nil).list("invitations"); len(l) != 2 {
			t.Fatalf("app invitations: %v", l)
		}
		s.must(t, 403, "GET", "/v1/apps/"+app+"/invitations", vic.access, nil)
		s.must(t, 403, "DELETE", "/v1/apps/"+app+"/invitations/"+gone, vic.access, nil)
		s.must(t, 404, "DELETE", "/v1/organizations/"+org+"/invitations/"+gone, ann.access, nil) // not this org's
		s.must(t, 204, "DELETE", "/v1/apps/"+app+"/invitations/"+gone, ann.access, nil)
		s.must(t, 404, "DELETE", "/v1/apps/"+app+"/invitations/"+gone, ann.access, nil)
		l := s.must(t, 200, "GET", "/v1/apps/"+app+"/invitations", ann.access, nil).list("invitations")
		if len(l) != 1 || l[0]["email"] != "client@example.com" {
			t.Fatalf("after withdrawing: %v", l)
		}
		if l := s.must(t, 200, "GET", "/v1/organizations/"+org+"/invitations", ann.access, nil).list("invitations"); len(l) != 1 {
			t.Fatalf("org invitations: %v", l)
		}

		// signing up is not enough: the address must be verified
		for _, tc := range []struct {
			name, path, role string
		}{
			{"new", "/v1/organizations/" + org, "editor"},
			{"client", "/v1/apps/" + app, "viewer"},
		} {
			u := s.signup(t, tc.name)
			s.must(t, 404, "GET", tc.path, u.access, nil)
			mail, ok := s.Outbox.Last(accounts.MailVerifyEmail, u.email)
			if !ok {
				t.Fatal("no verification mail")
			}
			s.must(t, 200, "POST", "/v1/auth/verify-email", "", map[string]any{"token": mail.Token})
			if r := s.must(t, 200, "GET", tc.path, u.access, nil); r.str("role") != tc.role {
				t.Fatalf("%s after verifying: %s", tc.name, r.raw)
			}
		}
		if l := s.must(t, 200, "GET", "/v1/organizations/"+org+"/invitations", ann.access, nil).list("invitations"); len(l) != 0 {
			t.Fatalf("granted invitations still pending: %v", l)
		}
		// a withdrawn invitation grants nothing
		g := s.signup(t, "gone")
		mail, _ := s.Outbox.Last(accounts.MailVerifyEmail, g.email)
		s.must(t, 200, "POST", "/v1/auth/verify-email", "", map[string]any{"token": mail.Token})
		s.must(t, 404, "GET", "/v1/apps/"+app, g.access, nil)
	})
}
