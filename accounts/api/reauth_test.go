package api_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/casual-dev/casual/accounts/accountstest"
	"github.com/casual-dev/casual/collab/client"
	"github.com/casual-dev/casual/collab/wire"
	"github.com/casual-dev/casual/crdt"
	"github.com/casual-dev/casual/store"
)

// errorFor waits for the next error message about doc on c.
func errorFor(t *testing.T, ctx context.Context, c *client.Client, doc string) wire.Message {
	t.Helper()
	for {
		select {
		case m := <-c.Errors():
			if m.DocumentID == doc {
				return m
			}
		case <-ctx.Done():
			t.Fatalf("no error for %s", doc)
		}
	}
}

func has(key string, want any) func(d *crdt.Doc) bool {
	return func(d *crdt.Doc) bool { v, _ := d.Get(key); return v == want }
}

// TestLosingAccessCutsOpenSockets: whatever takes a peer's read access
// away while its socket is open, the peer gets an access_revoked error for
// the document at once and receives nothing of it afterwards, while the
// others go on.
func TestLosingAccessCutsOpenSockets(t *testing.T) {
	type env struct {
		s        *server
		ann, cat user
		app, org string
	}
	cases := []struct {
		name string
		// setup shares the app with the victim and returns its token.
		setup  func(t *testing.T, e *env) string
		revoke func(t *testing.T, e *env, victim string)
		// ownerKeeps: the owner still edits afterwards (not when the app
		// itself is gone).
		ownerKeeps bool
	}{
		{"viewer removed from the app", func(t *testing.T, e *env) string {
			e.s.must(t, 200, "POST", "/v1/apps/"+e.app+"/members", e.ann.access, map[string]any{"email": e.cat.email, "role": "viewer"})
			return e.cat.access
		}, func(t *testing.T, e *env, _ string) {
			e.s.must(t, 204, "DELETE", "/v1/apps/"+e.app+"/members/"+e.cat.id, e.ann.access, nil)
		}, true},
		{"share link revoked", func(t *testing.T, e *env) string {
			sh := e.s.must(t, 201, "POST", "/v1/apps/"+e.app+"/shares", e.ann.access, map[string]any{"mode": "read"})
			e.org = sh.str("id") // the share id, for revoke
			return sh.str("token")
		}, func(t *testing.T, e *env, _ string) {
			e.s.must(t, 204, "DELETE", "/v1/apps/"+e.app+"/shares/"+e.org, e.ann.access, nil)
		}, true},
		{"share link expired", func(t *testing.T, e *env) string {
			sh := e.s.must(t, 201, "POST", "/v1/apps/"+e.app+"/shares", e.ann.access, map[string]any{"mode": "read", "expires_in": 2})
			return sh.str("token")
		}, func(t *testing.T, e *env, _ string) {
			// Nothing announces an expiry: the service's timer fires (in
			// real time, 2 s) and its re-check reads the clock, which the
			// test moves past the expiry.
			e.s.Clock.Advance(3 * time.Second)
		}, true},
		{"public app unpublished", func(t *testing.T, e *env) string {
			e.s.must(t, 200, "POST", "/v1/apps/"+e.app+"/publish", e.ann.access, nil)
			return "" // anonymous
		}, func(t *testing.T, e *env, _ string) {
			e.s.must(t, 200, "POST", "/v1/apps/"+e.app+"/unpublish", e.ann.access, nil)
		}, true},
		{"viewer signed out", func(t *testing.T, e *env) string {
			e.s.must(t, 200, "POST", "/v1/apps/"+e.app+"/members", e.ann.access, map[string]any{"email": e.cat.email, "role": "viewer"})
			return e.cat.access
		}, func(t *testing.T, e *env, victim string) {
			e.s.must(t, 204, "POST", "/v1/auth/logout", victim, nil)
		}, true},
		{"app deleted", func(t *testing.T, e *env) string {
			e.s.must(t, 200, "POST", "/v1/apps/"+e.app+"/members", e.ann.access, map[string]any{"email": e.cat.email, "role": "editor"})
			return e.cat.access
		}, func(t *testing.T, e *env, _ string) {
			e.s.must(t, 204, "DELETE", "/v1/apps/"+e.app, e.ann.access, nil)
		}, false},
		{"removed from the organization", func(t *testing.T, e *env) string {
			e.org = e.s.must(t, 201, "POST", "/v1/organizations", e.ann.access, map[string]any{"name": "Acme"}).str("id")
			e.s.must(t, 200, "POST", "/v1/organizations/"+e.org+"/members", e.ann.access, map[string]any{"email": e.cat.email, "role": "viewer"})
			e.app = e.s.must(t, 201, "POST", "/v1/apps", e.ann.access, map[string]any{"name": "Org app", "org_id": e.org}).str("id")
			return e.cat.access
		}, func(t *testing.T, e *env, _ string) {
			e.s.must(t, 204, "DELETE", "/v1/organizations/"+e.org+"/members/"+e.cat.id, e.ann.access, nil)
		}, true},
	}
	accountstest.Each(t, func(t *testing.T, kind string) {
		s := start(t, kind, options{})
		for i, tc := range cases {
			t.Run(tc.name, func(t *testing.T) {
				ctx := testCtx(t)
				e := &env{s: s, ann: s.signup(t, fmt.Sprint("ann", i)), cat: s.signup(t, fmt.Sprint("cat", i))}
				e.app = s.must(t, 201, "POST", "/v1/apps", e.ann.access, map[string]any{"name": "A"}).str("id")
				victimTok := tc.setup(t, e)
				annC, witness, victim := s.mustDial(t, e.ann.access), s.mustDial(t, e.ann.access), s.mustDial(t, victimTok)
				ha, err := annC.Find(ctx, crdt.DocID(e.app))
				if err != nil {
					t.Fatal(err)
				}
				hw, err := witness.Find(ctx, crdt.DocID(e.app))
				if err != nil {
					t.Fatal(err)
				}
				hv, err := victim.Find(ctx, crdt.DocID(e.app))
				if err != nil {
					t.Fatal(err)
				}
				if err := ha.Change(ctx, "before", func(d *crdt.Doc) error { return d.Set([]any{"before"}, "seen") }); err != nil {
					t.Fatal(err)
				}
				if err := hv.WaitFor(ctx, has("before", "seen")); err != nil {
					t.Fatal(err)
				}

				tc.revoke(t, e, victimTok)
				// Reauthorize ran before the REST call answered.
				if m := errorFor(t, ctx, victim, e.app); m.Code != "access_revoked" {
					t.Fatalf("victim got %+v, want access_revoked", m)
				}
				if !tc.ownerKeeps {
					return
				}
				if err := ha.Change(ctx, "after", func(d *crdt.Doc) error { return d.Set([]any{"after"}, "secret") }); err != nil {
					t.Fatal(err)
				}
				if err := hw.WaitFor(ctx, has("after", "secret")); err != nil {
					t.Fatal(err)
				}
				// The room fanned the change out (the witness has it); a round
				// trip on the victim's socket now comes after anything the
				// room queued for it. Its next message is authorized afresh
				// and refused, saying why.
				if err := hv.Change(ctx, "", func(d *crdt.Doc) error { return d.Set([]any{"ping"}, true) }); err != nil {
					t.Fatal(err)
				}
				if m := errorFor(t, ctx, victim, e.app); m.Code != "access_revoked" {
					t.Fatalf("victim's later message: %+v, want access_revoked", m)
				}
				hv.Read(func(d *crdt.Doc) {
					if v, _ := d.Get("after"); v != nil {
						t.Fatal("a change made after the revocation reached the victim")
					}
				})
			})
		}
	})
}

// TestDowngradedEditorIsReadOnly: an editor made a viewer while connected
// keeps receiving, but its later writes are refused, never forwarded nor
// stored.
func TestDowngradedEditorIsReadOnly(t *testing.T) {
	accountstest.Each(t, func(t *testing.T, kind string) {
		s := start(t, kind, options{})
		ctx := testCtx(t)
		sh := s.shareApp(t, ctx, "editor")
		ann, cat, id, ha, hc, catC := sh.ann, sh.cat, sh.id, sh.ha, sh.hc, sh.catC
		if err := hc.Change(ctx, "", func(d *crdt.Doc) error { return d.Set([]any{"while_editor"}, "ok") }); err != nil {
			t.Fatal(err)
		}
		if err := ha.WaitFor(ctx, has("while_editor", "ok")); err != nil {
			t.Fatal(err)
		}

		s.must(t, 200, "POST", "/v1/apps/"+id+"/members", ann.access, map[string]any{"email": cat.email, "role": "viewer"})
		if err := hc.Change(ctx, "", func(d *crdt.Doc) error { return d.Set([]any{"while_viewer"}, "no") }); err != nil {
			t.Fatal(err)
		}
		if m := errorFor(t, ctx, catC, id); m.Code != "read_only" {
			t.Fatalf("downgraded editor's write: %+v, want read_only", m)
		}
		// still a reader: the owner's later change arrives
		if err := ha.Change(ctx, "", func(d *crdt.Doc) error { return d.Set([]any{"owner"}, "later") }); err != nil {
			t.Fatal(err)
		}
		if err := ha.WaitAcked(ctx); err != nil {
			t.Fatal(err)
		}
		if err := hc.WaitFor(ctx, has("owner", "later")); err != nil {
			t.Fatal(err)
		}
		s.neverArrived(t, ctx, id, ha, "while_viewer")
	})
}

// TestExpiredAccessTokenKeepsAnOpenSocket: an access token that merely
// expired does not cut a socket when its document is re-checked (its
// session is alive); signing the session out does.
func TestExpiredAccessTokenKeepsAnOpenSocket(t *testing.T) {
	accountstest.Each(t, func(t *testing.T, kind string) {
		s := start(t, kind, options{})
		ctx := testCtx(t)
		sh := s.shareApp(t, ctx, "viewer")
		ann, cat, id, ha, hc, catC := sh.ann, sh.cat, sh.id, sh.ha, sh.hc, sh.catC
		s.Clock.Advance(20 * time.Minute) // past the 15 minutes of cat's (and ann's) access token
		fresh := s.must(t, 200, "POST", "/v1/auth/refresh", "", map[string]any{"refresh_token": ann.refresh}).str("access_token")
		// an access change for everyone on the document re-checks cat's socket
		s.must(t, 200, "POST", "/v1/apps/"+id+"/publish", fresh, map[string]any{"visibility": "public"})
		if err := ha.Change(ctx, "", func(d *crdt.Doc) error { return d.Set([]any{"k"}, "still") }); err != nil {
			t.Fatal(err)
		}
		if err := hc.WaitFor(ctx, has("k", "still")); err != nil {
			t.Fatal(err)
		}
		select {
		case m := <-catC.Errors():
			t.Fatalf("cat got %+v", m)
		default:
		}
		// signing cat's session out (with a fresh token of it) cuts it
		catFresh := s.must(t, 200, "POST", "/v1/auth/refresh", "", map[string]any{"refresh_token": cat.refresh}).str("access_token")
		s.must(t, 204, "POST", "/v1/auth/logout", catFresh, nil)
		if m := errorFor(t, ctx, catC, id); m.Code != "access_revoked" {
			t.Fatalf("cat after signing out: %+v", m)
		}
	})
}

// sharedApp is an app of ann's shared with cat, open on both sides.
type sharedApp struct {
	ann, cat user
	id       string
	ha, hc   *client.Handle
	catC     *client.Client
}

// shareApp has ann create an app and share it with cat as role, and opens
// it on a socket of each.
func (s *server) shareApp(t *testing.T, ctx context.Context, role string) sharedApp {
	t.Helper()
	sh := sharedApp{ann: s.signup(t, "ann"), cat: s.signup(t, "cat")}
	sh.id = s.must(t, 201, "POST", "/v1/apps", sh.ann.access, map[string]any{"name": "A"}).str("id")
	s.must(t, 200, "POST", "/v1/apps/"+sh.id+"/members", sh.ann.access, map[string]any{"email": sh.cat.email, "role": role})
	annC := s.mustDial(t, sh.ann.access)
	sh.catC = s.mustDial(t, sh.cat.access)
	var err error
	if sh.ha, err = annC.Find(ctx, crdt.DocID(sh.id)); err != nil {
		t.Fatal(err)
	}
	if sh.hc, err = sh.catC.Find(ctx, crdt.DocID(sh.id)); err != nil {
		t.Fatal(err)
	}
	return sh
}

// neverArrived fails the test if key, written by a peer whose write was
// refused, reached the peer of h or the stored document, which it returns.
func (s *server) neverArrived(t *testing.T, ctx context.Context, id string, h *client.Handle, key string) *crdt.Doc {
	t.Helper()
	h.Read(func(d *crdt.Doc) {
		if v, _ := d.Get(key); v != nil {
			t.Fatalf("the refused change (%s) reached another peer", key)
		}
	})
	chunks, err := s.Docs.Load(ctx, id)
	if err != nil {
		t.Fatal(err)
	}
	d, err := crdt.Load(store.Concat(chunks))
	if err != nil {
		t.Fatal(err)
	}
	if v, _ := d.Get(key); v != nil {
		t.Fatalf("the refused change (%s) was stored", key)
	}
	return d
}
