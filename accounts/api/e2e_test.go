package api_test

import (
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/casual-dev/casual/accounts"
	"github.com/casual-dev/casual/accounts/accountstest"
	"github.com/casual-dev/casual/canvas"
	"github.com/casual-dev/casual/collab/client"
	"github.com/casual-dev/casual/crdt"
)

func titleIs(want string) func(d *crdt.Doc) bool {
	return func(d *crdt.Doc) bool {
		v, _ := d.Get("components", "title", "props", "text")
		return v == want
	}
}

// TestTeamStory is the "done when": sign up, create an app,
// invite an editor and a viewer, share a read-only embed, name a version
// and restore it, with every rule enforced on REST and on the socket.
func TestTeamStory(t *testing.T) {
	accountstest.Each(t, func(t *testing.T, kind string) {
		s := start(t, kind, options{})
		ctx := testCtx(t)
		ann, bob, cat := s.signup(t, "ann"), s.signup(t, "bob"), s.signup(t, "cat")

		app := s.must(t, 201, "POST", "/v1/apps", ann.access, map[string]any{"name": "Counter", "template": "counter"})
		id := app.str("id")
		if app.str("url") != "automerge:"+id || app.str("role") != "owner" || app.str("visibility") != "private" {
			t.Fatalf("created %s", app.raw)
		}
		if _, err := crdt.ParseDocID(id); err != nil {
			t.Fatalf("app id is not a document id: %v", err)
		}
		s.must(t, 200, "POST", "/v1/apps/"+id+"/members", ann.access, map[string]any{"email": bob.email, "role": "editor"})
		s.must(t, 200, "POST", "/v1/apps/"+id+"/members", ann.access, map[string]any{"email": cat.email, "role": "viewer"})
		members := s.must(t, 200, "GET", "/v1/apps/"+id+"/members", cat.access, nil)
		if len(members.list("members")) != 2 {
			t.Fatalf("members %s", members.raw)
		}
		if r := s.must(t, 200, "GET", "/v1/apps/"+id, cat.access, nil); r.str("role") != "viewer" {
			t.Fatalf("cat's role %s", r.raw)
		}
		listed := s.must(t, 200, "GET", "/v1/apps", bob.access, nil)
		if len(listed.list("apps")) != 1 || listed.list("apps")[0]["id"] != id {
			t.Fatalf("bob's apps %s", listed.raw)
		}

		embed := s.must(t, 201, "POST", "/v1/apps/"+id+"/shares", ann.access, map[string]any{"kind": "embed", "mode": "read", "expires_in": 3600})
		embedTok := embed.str("token")
		if !strings.Contains(embed.str("url"), "/embed/"+id+"?token=") {
			t.Fatalf("embed %s", embed.raw)
		}
		s.must(t, 200, "GET", "/v1/apps/"+id, embedTok, nil)
		s.must(t, 403, "PUT", "/v1/apps/"+id, embedTok, map[string]any{"name": "hacked"})
		s.must(t, 400, "POST", "/v1/apps/"+id+"/shares", ann.access, map[string]any{"kind": "embed", "mode": "write"})

		// everyone opens the document live
		bobC, catC, embC := s.mustDial(t, bob.access), s.mustDial(t, cat.access), s.mustDial(t, embedTok)
		hb, err := bobC.Find(ctx, crdt.DocID(id))
		if err != nil {
			t.Fatal(err)
		}
		hc, err := catC.Find(ctx, crdt.DocID(id))
		if err != nil {
			t.Fatal(err)
		}
		he, err := embC.Find(ctx, crdt.DocID(id))
		if err != nil {
			t.Fatal(err)
		}
		v1 := s.must(t, 201, "POST", "/v1/apps/"+id+"/versions", bob.access, map[string]any{"label": "first"})
		s.must(t, 403, "POST", "/v1/apps/"+id+"/versions", cat.access, map[string]any{"label": "nope"})

		if err := hb.Change(ctx, "retitle", func(d *crdt.Doc) error {
			return canvas.UpdateProps(d, canvas.Actor{ID: bob.id}, "title", map[string]any{"text": "Bob's counter"})
		}); err != nil {
			t.Fatal(err)
		}
		for _, h := range []*client.Handle{hc, he} {
			if err := h.WaitFor(ctx, titleIs("Bob's counter")); err != nil {
				t.Fatal(err)
			}
		}
		diff := s.must(t, 200, "GET", "/v1/apps/"+id+"/versions/"+v1.str("id")+"/diff", cat.access, nil)
		if ch := diff.list("changed"); len(ch) != 1 || ch[0]["id"] != "title" {
			t.Fatalf("diff %s", diff.raw)
		}
		s.must(t, 403, "POST", "/v1/apps/"+id+"/versions/"+v1.str("id")+"/restore", cat.access, nil)
		s.must(t, 200, "POST", "/v1/apps/"+id+"/versions/"+v1.str("id")+"/restore", bob.access, nil)
		for _, h := range []*client.Handle{hb, hc, he} { // restored live for everyone
			if err := h.WaitFor(ctx, titleIs("Counter")); err != nil {
				t.Fatal(err)
			}
		}
		at := s.must(t, 200, "GET", "/v1/apps/"+id+"/versions/"+v1.str("id"), embedTok, nil)
		if at.str("version", "label") != "first" || at.get("tree") == nil {
			t.Fatalf("version view %s", at.raw)
		}

		// revoking the embed shuts it out, on REST and for new sockets
		s.must(t, 204, "DELETE", "/v1/apps/"+id+"/shares/"+embed.str("id"), ann.access, nil)
		if r := s.must(t, 401, "GET", "/v1/apps/"+id, embedTok, nil); r.code() != "token_revoked" {
			t.Fatalf("revoked embed: %s", r.raw)
		}
		if _, err := s.dial(t, embedTok); !isServerError(err, "unauthorized") {
			t.Fatalf("revoked embed joined: %v", err)
		}

		// the audit log has the story
		log := s.must(t, 200, "GET", "/v1/apps/"+id+"/audit", ann.access, nil)
		var actions []string
		for _, e := range log.list("events") {
			actions = append(actions, e["action"].(string))
		}
		for _, want := range []string{"app.created", "app.member_set", "app.share_created", "app.version_restored", "app.share_revoked"} {
			if !strings.Contains(strings.Join(actions, " "), want) {
				t.Fatalf("audit lacks %s: %v", want, actions)
			}
		}
		s.must(t, 403, "GET", "/v1/apps/"+id+"/audit", bob.access, nil)
	})
}

func isServerError(err error, code string) bool {
	var se *client.ServerError
	return errors.As(err, &se) && se.Code == code
}

// TestViewerWriteIsRefusedOnTheSocket: a viewer's change is refused with
// an error, never applied, never forwarded, never stored.
func TestViewerWriteIsRefusedOnTheSocket(t *testing.T) {
	accountstest.Each(t, func(t *testing.T, kind string) {
		s := start(t, kind, options{})
		ctx := testCtx(t)
		ann, cat, eve := s.signup(t, "ann"), s.signup(t, "cat"), s.signup(t, "eve")
		id := s.must(t, 201, "POST", "/v1/apps", ann.access, map[string]any{"name": "A"}).str("id")
		s.must(t, 200, "POST", "/v1/apps/"+id+"/members", ann.access, map[string]any{"email": cat.email, "role": "viewer"})

		annC, catC := s.mustDial(t, ann.access), s.mustDial(t, cat.access)
		ha, err := annC.Find(ctx, crdt.DocID(id))
		if err != nil {
			t.Fatal(err)
		}
		hc, err := catC.Find(ctx, crdt.DocID(id))
		if err != nil {
			t.Fatal(err)
		}
		if err := hc.Change(ctx, "sneaky", func(d *crdt.Doc) error { return d.Set([]any{"sneaky"}, "viewer was here") }); err != nil {
			t.Fatal(err)
		}
		select {
		case m := <-catC.Errors():
			if m.Code != "read_only" || m.DocumentID != id {
				t.Fatalf("viewer got error %+v", m)
			}
		case <-ctx.Done():
			t.Fatal("no error for the viewer's write")
		}
		// a later change of the owner reaches the viewer: the room went on
		if err := ha.Change(ctx, "owner", func(d *crdt.Doc) error { return d.Set([]any{"after"}, "owner") }); err != nil {
			t.Fatal(err)
		}
		if err := ha.WaitAcked(ctx); err != nil {
			t.Fatal(err)
		}
		if err := hc.WaitFor(ctx, func(d *crdt.Doc) bool { v, _ := d.Get("after"); return v == "owner" }); err != nil {
			t.Fatal(err)
		}
		d := s.neverArrived(t, ctx, id, ha, "sneaky")
		if v, _ := d.Get("after"); v != "owner" {
			t.Fatal("the owner's change was not stored")
		}

		// an outsider cannot even read, and anonymous peers neither
		for _, tok := range []string{eve.access, ""} {
			c := s.mustDial(t, tok)
			if _, err := c.Find(ctx, crdt.DocID(id)); !errors.Is(err, client.ErrUnavailable) {
				t.Fatalf("outsider find: %v", err)
			}
		}
		// until the app is public: then anonymous peers read, still not write
		s.must(t, 200, "POST", "/v1/apps/"+id+"/publish", ann.access, nil)
		anon := s.mustDial(t, "")
		hn, err := anon.Find(ctx, crdt.DocID(id))
		if err != nil {
			t.Fatal(err)
		}
		if err := hn.WaitFor(ctx, func(d *crdt.Doc) bool { v, _ := d.Get("after"); return v == "owner" }); err != nil {
			t.Fatal(err)
		}
		if err := hn.Change(ctx, "", func(d *crdt.Doc) error { return d.Set([]any{"anon"}, true) }); err != nil {
			t.Fatal(err)
		}
		if m := <-anon.Errors(); m.Code != "read_only" {
			t.Fatalf("anonymous write: %+v", m)
		}
	})
}

// TestBadTokensAreRefused: tampered, expired and revoked tokens fail on
// REST (401 with a precise code) and at the socket's join.
func TestBadTokensAreRefused(t *testing.T) {
	accountstest.Each(t, func(t *testing.T, kind string) {
		s := start(t, kind, options{})
		ann := s.signup(t, "ann")
		parts := strings.Split(ann.access, ".")
		tampered := parts[0] + "." + parts[1][:len(parts[1])-2] + "xx." + parts[2]
		check := func(tok, code string) {
			t.Helper()
			r := s.call(t, "GET", "/v1/users/me", tok, nil)
			if r.status != 401 || r.code() != code || r.header.Get("WWW-Authenticate") == "" {
				t.Fatalf("GET /v1/users/me: %d %s, want 401 %s", r.status, r.raw, code)
			}
			if _, err := s.dial(t, tok); !isServerError(err, "unauthorized") {
				t.Fatalf("socket join with a %s token: %v", code, err)
			}
		}
		check(tampered, "token_invalid")
		check("not-a-token", "token_invalid")
		if r := s.call(t, "GET", "/v1/users/me", "", nil); r.status != 401 || r.code() != "unauthenticated" {
			t.Fatalf("no token: %d %s", r.status, r.raw)
		}
		s.Clock.Advance(16 * time.Minute)
		check(ann.access, "token_expired")
		fresh := s.must(t, 200, "POST", "/v1/auth/refresh", "", map[string]any{"refresh_token": ann.refresh})
		tok := fresh.str("access_token")
		s.must(t, 200, "GET", "/v1/users/me", tok, nil)
		s.mustDial(t, tok)
		s.must(t, 204, "POST", "/v1/auth/logout", tok, nil)
		check(tok, "token_revoked")
	})
}

func TestRefreshReuseRevokesTheFamily(t *testing.T) {
	accountstest.Each(t, func(t *testing.T, kind string) {
		s := start(t, kind, options{})
		ann := s.signup(t, "ann")
		first := s.must(t, 200, "POST", "/v1/auth/refresh", "", map[string]any{"refresh_token": ann.refresh})
		if r := s.call(t, "POST", "/v1/auth/refresh", "", map[string]any{"refresh_token": ann.refresh}); r.status != 401 || r.code() != "token_reused" {
			t.Fatalf("reuse: %d %s", r.status, r.raw)
		}
		if r := s.call(t, "POST", "/v1/auth/refresh", "", map[string]any{"refresh_token": first.str("refresh_token")}); r.code() != "token_revoked" {
			t.Fatalf("the family's newest token: %d %s", r.status, r.raw)
		}
		if r := s.call(t, "GET", "/v1/users/me", first.str("access_token"), nil); r.code() != "token_revoked" {
			t.Fatalf("the family's access token: %d %s", r.status, r.raw)
		}
		sessions := s.must(t, 200, "GET", "/v1/auth/sessions", s.login(t, ann, "").str("access_token"), nil)
		if n := len(sessions.list("sessions")); n != 1 {
			t.Fatalf("%d live sessions, want the new one only", n)
		}
	})
}

func (s *server) login(t *testing.T, u user, code string) reply {
	t.Helper()
	return s.must(t, 200, "POST", "/v1/auth/login", "", map[string]any{"email": u.email, "password": password, "code": code})
}

func TestTwoFactorOverREST(t *testing.T) {
	s := start(t, "embedded", options{})
	ann := s.signup(t, "ann")
	enr := s.must(t, 200, "POST", "/v1/auth/2fa/enable", ann.access, nil)
	if !strings.HasPrefix(enr.str("otpauth_url"), "otpauth://totp/") {
		t.Fatalf("enable: %s", enr.raw)
	}
	code := func() string {
		c, err := accounts.TOTPCode(enr.str("secret"), s.Clock.Now())
		if err != nil {
			t.Fatal(err)
		}
		return c
	}
	codes := s.must(t, 200, "POST", "/v1/auth/2fa/verify", ann.access, map[string]any{"code": code()})
	if len(codes.get("backup_codes").([]any)) != 10 {
		t.Fatalf("verify: %s", codes.raw)
	}
	if r := s.call(t, "POST", "/v1/auth/login", "", map[string]any{"email": ann.email, "password": password}); r.status != 401 || r.code() != "mfa_required" {
		t.Fatalf("login without code: %d %s", r.status, r.raw)
	}
	s.Clock.Advance(30 * time.Second)
	s.login(t, ann, code())
	if r := s.call(t, "POST", "/v1/auth/login", "", map[string]any{"email": ann.email, "password": password, "code": code()}); r.code() != "mfa_invalid" {
		t.Fatalf("replayed code: %d %s", r.status, r.raw)
	}
	me := s.must(t, 200, "GET", "/v1/users/me", ann.access, nil)
	if me.get("two_factor_enabled") != true {
		t.Fatalf("me: %s", me.raw)
	}
	s.Clock.Advance(30 * time.Second)
	s.must(t, 204, "DELETE", "/v1/auth/2fa/disable", ann.access, map[string]any{"code": code()})
	s.login(t, ann, "")
}

func TestForkExportImportOverREST(t *testing.T) {
	accountstest.Each(t, func(t *testing.T, kind string) {
		s := start(t, kind, options{})
		ann, bob := s.signup(t, "ann"), s.signup(t, "bob")
		id := s.must(t, 201, "POST", "/v1/apps", ann.access, map[string]any{"name": "Todo", "template": "todo", "visibility": "public"}).str("id")
		s.must(t, 201, "POST", "/v1/apps/"+id+"/versions", ann.access, map[string]any{"label": "v1"})
		fork := s.must(t, 201, "POST", "/v1/apps/"+id+"/fork", bob.access, nil)
		if fork.str("forked_from") != id || fork.str("owner_id") != bob.id || fork.str("role") != "owner" {
			t.Fatalf("fork %s", fork.raw)
		}
		file := s.must(t, 200, "GET", "/v1/apps/"+id+"/export", bob.access, nil)
		if !strings.Contains(file.header.Get("Content-Disposition"), `filename="Todo.casual.json"`) {
			t.Fatalf("export headers %v", file.header)
		}
		imp := s.must(t, 201, "POST", "/v1/apps/import?name=Imported", bob.access, file.raw)
		if imp.str("name") != "Imported" || imp.str("id") == id {
			t.Fatalf("import %s", imp.raw)
		}
		vs := s.must(t, 200, "GET", "/v1/apps/"+imp.str("id")+"/versions", bob.access, nil)
		if len(vs.list("versions")) != 1 {
			t.Fatalf("imported versions %s", vs.raw)
		}
		diff := s.must(t, 200, "GET", "/v1/apps/"+imp.str("id")+"/versions/"+vs.list("versions")[0]["id"].(string)+"/diff", bob.access, nil)
		if len(diff.list("added"))+len(diff.list("removed"))+len(diff.list("changed")) != 0 {
			t.Fatalf("import differs from its version: %s", diff.raw)
		}
		for _, bad := range []string{"", "{}", `{"format":"casual-app-export","version":1,"app":{"name":"x"},"document":"AAAA"}`, "garbage"} {
			if r := s.call(t, "POST", "/v1/apps/import", bob.access, bad); r.status != 400 || r.code() != "invalid_import" {
				t.Fatalf("import %q: %d %s", bad, r.status, r.raw)
			}
		}
		apps := s.must(t, 200, "GET", "/v1/apps?sort=name", bob.access, nil)
		if got := fmt.Sprint(len(apps.list("apps"))); got != "2" {
			t.Fatalf("bob has %s apps: %s", got, apps.raw)
		}
	})
}
