package api_test

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/casual-dev/casual/accounts"
	"github.com/casual-dev/casual/accounts/accountstest"
	"github.com/casual-dev/casual/collab/client"
	"github.com/casual-dev/casual/crdt"
)

// subject is someone acting on the app, with the role they should have.
type subject struct {
	name  string
	token string
	role  accounts.Role
}

// action is something done to the app: need is the weakest role allowed;
// do returns the HTTP status (sync actions map to 200 allowed, 403
// refused, 404 not found); undo puts things back after a success.
type action struct {
	name     string
	need     accounts.Role
	required bool // the route needs a signed-in caller
	ok       int
	do       func(t *testing.T, tok string) int
	undo     func(t *testing.T)
}

// TestAuthorizationMatrix checks every role (through organization
// membership and through sharing the app with a person) against every
// app action, over REST and the sync socket: allowed ones succeed, others
// are refused with 403 (a role too weak), 404 (no role: the app is not
// confirmed to exist) or 401 (anonymous, on routes that need sign-in).
func TestAuthorizationMatrix(t *testing.T) {
	accountstest.Each(t, func(t *testing.T, kind string) {
		s := start(t, kind, options{})
		users := map[string]user{}
		for _, n := range []string{"owner", "orgadmin", "orgeditor", "orgviewer", "appadmin", "appeditor", "appviewer", "outsider", "extra"} {
			users[n] = s.signup(t, n)
		}
		owner := users["owner"].access
		org := s.must(t, 201, "POST", "/v1/organizations", owner, map[string]any{"name": "Acme"}).str("id")
		for n, role := range map[string]string{"orgadmin": "admin", "orgeditor": "editor", "orgviewer": "viewer"} {
			s.must(t, 200, "POST", "/v1/organizations/"+org+"/members", owner, map[string]any{"email": users[n].email, "role": role})
		}
		app := s.must(t, 201, "POST", "/v1/apps", owner, map[string]any{"name": "Shared", "org_id": org}).str("id")
		for n, role := range map[string]string{"appadmin": "admin", "appeditor": "editor", "appviewer": "viewer"} {
			s.must(t, 200, "POST", "/v1/apps/"+app+"/members", owner, map[string]any{"email": users[n].email, "role": role})
		}
		version := s.must(t, 201, "POST", "/v1/apps/"+app+"/versions", owner, map[string]any{"label": "v1"}).str("id")

		subjects := []subject{
			{"org owner", owner, accounts.RoleOwner},
			{"org admin", users["orgadmin"].access, accounts.RoleAdmin},
			{"org editor", users["orgeditor"].access, accounts.RoleEditor},
			{"org viewer", users["orgviewer"].access, accounts.RoleViewer},
			{"app admin", users["appadmin"].access, accounts.RoleAdmin},
			{"app editor", users["appeditor"].access, accounts.RoleEditor},
			{"app viewer", users["appviewer"].access, accounts.RoleViewer},
			{"outsider", users["outsider"].access, accounts.RoleNone},
			{"anonymous", "", accounts.RoleNone},
		}
		call := func(method, path string, body any) func(t *testing.T, tok string) int {
			return func(t *testing.T, tok string) int { return s.call(t, method, path, tok, body).status }
		}
		base := "/v1/apps/" + app
		actions := []action{
			{name: "read", need: accounts.RoleViewer, ok: 200, do: call("GET", base, nil)},
			{name: "list versions", need: accounts.RoleViewer, ok: 200, do: call("GET", base+"/versions", nil)},
			{name: "view version", need: accounts.RoleViewer, ok: 200, do: call("GET", base+"/versions/"+version, nil)},
			{name: "diff", need: accounts.RoleViewer, ok: 200, do: call("GET", base+"/versions/"+version+"/diff", nil)},
			{name: "export", need: accounts.RoleViewer, ok: 200, do: call("GET", base+"/export", nil)},
			{name: "list members", need: accounts.RoleViewer, ok: 200, do: call("GET", base+"/members", nil)},
			{name: "collaboration session", need: accounts.RoleViewer, ok: 200, do: call("GET", "/v1/collaboration/sessions/"+app, nil)},
			{name: "fork", need: accounts.RoleViewer, required: true, ok: 201, do: call("POST", base+"/fork", nil)},
			{name: "sync read", need: accounts.RoleViewer, ok: 200, do: func(t *testing.T, tok string) int { return syncAs(t, s, tok, app, false) }},
			{name: "sync write", need: accounts.RoleEditor, ok: 200, do: func(t *testing.T, tok string) int { return syncAs(t, s, tok, app, true) }},
			{name: "rename", need: accounts.RoleEditor, ok: 200, do: call("PUT", base, map[string]any{"name": "Renamed"})},
			{name: "name a version", need: accounts.RoleEditor, ok: 201, do: call("POST", base+"/versions", map[string]any{"label": "x"})},
			{name: "restore a version", need: accounts.RoleEditor, ok: 200, do: call("POST", base+"/versions/"+version+"/restore", nil)},
			{name: "change visibility", need: accounts.RoleAdmin, ok: 200, do: call("PUT", base, map[string]any{"visibility": "org"})},
			{name: "publish", need: accounts.RoleAdmin, required: true, ok: 200, do: call("POST", base+"/publish", nil),
				undo: func(t *testing.T) { s.must(t, 200, "PUT", base, owner, map[string]any{"visibility": "org"}) }},
			{name: "share with a person", need: accounts.RoleAdmin, required: true, ok: 200,
				do:   call("POST", base+"/members", map[string]any{"email": users["extra"].email, "role": "viewer"}),
				undo: func(t *testing.T) { s.must(t, 204, "DELETE", base+"/members/"+users["extra"].id, owner, nil) }},
			{name: "create a share link", need: accounts.RoleAdmin, required: true, ok: 201, do: call("POST", base+"/shares", map[string]any{"mode": "read"})},
			{name: "list share links", need: accounts.RoleAdmin, required: true, ok: 200, do: call("GET", base+"/shares", nil)},
			{name: "read the audit log", need: accounts.RoleAdmin, required: true, ok: 200, do: call("GET", base+"/audit", nil)},
			{name: "delete", need: accounts.RoleAdmin, required: true, ok: 204, do: call("DELETE", base, nil),
				undo: func(t *testing.T) { s.must(t, 200, "POST", base+"/restore", owner, nil) }},
		}
		for _, a := range actions {
			for _, sub := range subjects {
				t.Run(a.name+"/"+sub.name, func(t *testing.T) {
					want := a.ok
					switch {
					case sub.role.AtLeast(a.need):
					case sub.role != accounts.RoleNone:
						want = 403
					case sub.token == "" && a.required:
						want = 401
					default:
						want = 404
					}
					if got := a.do(t, sub.token); got != want {
						t.Fatalf("%s as %s (%s): %d, want %d", a.name, sub.name, sub.role, got, want)
					}
					if want == a.ok && a.undo != nil {
						a.undo(t)
					}
				})
			}
		}
		t.Run("organization", func(t *testing.T) { orgMatrix(t, s, org, users) })
	})
}

// syncAs opens the app on the socket as tok's holder and, with write,
// changes it; the result is 200 when that worked, 403 when the change was
// refused, 404 when the document could not be opened.
func syncAs(t *testing.T, s *server, tok, app string, write bool) int {
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	c := s.mustDial(t, tok)
	defer c.Close()
	h, err := c.Find(ctx, crdt.DocID(app))
	if errors.Is(err, client.ErrUnavailable) {
		return 404
	} else if err != nil {
		t.Fatal(err)
	}
	if !write {
		return 200
	}
	if err := h.Change(ctx, "", func(d *crdt.Doc) error { return d.Set([]any{"state", "by"}, tok[len(tok)-8:]) }); err != nil {
		t.Fatal(err)
	}
	acked := make(chan error, 1)
	go func() { acked <- h.WaitAcked(ctx) }()
	select {
	case err := <-acked:
		if err != nil {
			t.Fatal(err)
		}
		return 200
	case m := <-c.Errors():
		if m.Code == "read_only" {
			return 403
		}
		t.Fatalf("unexpected error %+v", m)
	}
	return 0
}

// orgMatrix checks organization actions for each organization role.
func orgMatrix(t *testing.T, s *server, org string, users map[string]user) {
	base := "/v1/organizations/" + org
	subjects := []subject{
		{"owner", users["owner"].access, accounts.RoleOwner},
		{"admin", users["orgadmin"].access, accounts.RoleAdmin},
		{"editor", users["orgeditor"].access, accounts.RoleEditor},
		{"viewer", users["orgviewer"].access, accounts.RoleViewer},
		{"outsider", users["outsider"].access, accounts.RoleNone},
	}
	owner := users["owner"].access
	for _, a := range []action{
		{name: "view", need: accounts.RoleViewer, ok: 200, do: func(t *testing.T, tok string) int { return s.call(t, "GET", base, tok, nil).status }},
		{name: "list members", need: accounts.RoleViewer, ok: 200, do: func(t *testing.T, tok string) int {
			return s.call(t, "GET", base+"/members", tok, nil).status
		}},
		{name: "create an app in it", need: accounts.RoleEditor, ok: 201, do: func(t *testing.T, tok string) int {
			return s.call(t, "POST", "/v1/apps", tok, map[string]any{"name": "x", "org_id": org}).status
		}},
		{name: "rename", need: accounts.RoleAdmin, ok: 200, do: func(t *testing.T, tok string) int {
			return s.call(t, "PUT", base, tok, map[string]any{"name": "Acme 2"}).status
		}},
		{name: "add a member", need: accounts.RoleAdmin, ok: 200, do: func(t *testing.T, tok string) int {
			return s.call(t, "POST", base+"/members", tok, map[string]any{"email": users["extra"].email, "role": "viewer"}).status
		}, undo: func(t *testing.T) { s.must(t, 204, "DELETE", base+"/members/"+users["extra"].id, owner, nil) }},
		{name: "make an owner", need: accounts.RoleOwner, ok: 200, do: func(t *testing.T, tok string) int {
			return s.call(t, "POST", base+"/members", tok, map[string]any{"email": users["extra"].email, "role": "owner"}).status
		}, undo: func(t *testing.T) { s.must(t, 204, "DELETE", base+"/members/"+users["extra"].id, owner, nil) }},
		{name: "remove a member", need: accounts.RoleAdmin, ok: 204, do: func(t *testing.T, tok string) int {
			s.must(t, 200, "POST", base+"/members", owner, map[string]any{"email": users["extra"].email, "role": "viewer"})
			st := s.call(t, "DELETE", base+"/members/"+users["extra"].id, tok, nil).status
			if st != 204 {
				s.must(t, 204, "DELETE", base+"/members/"+users["extra"].id, owner, nil)
			}
			return st
		}},
		{name: "read the audit log", need: accounts.RoleAdmin, ok: 200, do: func(t *testing.T, tok string) int {
			return s.call(t, "GET", base+"/audit", tok, nil).status
		}},
	} {
		for _, sub := range subjects {
			t.Run(fmt.Sprintf("%s/%s", a.name, sub.name), func(t *testing.T) {
				want := a.ok
				switch {
				case sub.role.AtLeast(a.need):
				case sub.role != accounts.RoleNone:
					want = 403
				default:
					want = 404
				}
				if got := a.do(t, sub.token); got != want {
					t.Fatalf("%s as %s: %d, want %d", a.name, sub.name, got, want)
				}
				if want == a.ok && a.undo != nil {
					a.undo(t)
				}
			})
		}
	}
	// an admin cannot demote the owner; the last owner cannot leave
	if r := s.call(t, "POST", base+"/members", users["orgadmin"].access, map[string]any{"email": users["owner"].email, "role": "viewer"}); r.status != 403 {
		t.Fatalf("admin demoting the owner: %d %s", r.status, r.raw)
	}
	if r := s.call(t, "DELETE", base+"/members/"+users["owner"].id, owner, nil); r.status != 409 || r.code() != "last_owner" {
		t.Fatalf("last owner leaving: %d %s", r.status, r.raw)
	}
	// members may leave; then the organization is deleted by its owner only
	s.must(t, 204, "DELETE", base+"/members/"+users["orgviewer"].id, users["orgviewer"].access, nil)
	s.must(t, 403, "DELETE", base, users["orgadmin"].access, nil)
	s.must(t, 204, "DELETE", base, owner, nil)
	s.must(t, 404, "GET", base, owner, nil)
	apps := s.must(t, 200, "GET", "/v1/apps?trash=true", owner, nil)
	if len(apps.list("apps")) != 0 {
		t.Fatalf("apps of a deleted organization are restorable: %s", apps.raw)
	}
}
