package accountstest

import (
	"fmt"
	"testing"

	"github.com/casual-dev/casual/accounts"
)

func testVersions(t *testing.T, s accounts.Store) {
	ctx := ctxOf(t)
	must(t, s.CreateApp(ctx, app("a1", "u1", "")))
	must(t, s.CreateApp(ctx, app("a2", "u1", "")))
	v := func(id string, min int) accounts.Version {
		return accounts.Version{ID: id, AppID: "a1", Label: "label " + id, Heads: []string{"h1-" + id, "h2"}, AuthorID: "u1", CreatedAt: at(min)}
	}
	must(t, s.CreateVersion(ctx, v("v1", 1)))
	must(t, s.CreateVersion(ctx, v("v3", 2)))
	must(t, s.CreateVersion(ctx, v("v2", 2)))
	other := v("x", 5)
	other.AppID = "a2"
	must(t, s.CreateVersion(ctx, other))
	bad := v("y", 1)
	bad.AppID = "nope"
	wantErr(t, s.CreateVersion(ctx, bad), accounts.ErrNotFound)
	got, err := s.GetVersion(ctx, "a1", "v2")
	must(t, err)
	same(t, got, v("v2", 2))
	_, err = s.GetVersion(ctx, "a2", "v2")
	wantErr(t, err, accounts.ErrNotFound)
	list, err := s.ListVersions(ctx, "a1")
	must(t, err)
	same(t, list, []accounts.Version{v("v3", 2), v("v2", 2), v("v1", 1)})
}

func testShares(t *testing.T, s accounts.Store) {
	ctx := ctxOf(t)
	must(t, s.CreateApp(ctx, app("a1", "u1", "")))
	sh := func(id string, min int) accounts.Share {
		return accounts.Share{ID: id, AppID: "a1", Kind: accounts.ShareEmbed, Mode: accounts.ShareRun, CreatedBy: "u1", CreatedAt: at(min), ExpiresAt: at(100)}
	}
	must(t, s.CreateShare(ctx, sh("s1", 1)))
	must(t, s.CreateShare(ctx, sh("s2", 2)))
	bad := sh("s3", 1)
	bad.AppID = "nope"
	wantErr(t, s.CreateShare(ctx, bad), accounts.ErrNotFound)
	got, err := s.GetShare(ctx, "s1")
	must(t, err)
	same(t, got, sh("s1", 1))
	must(t, s.RevokeShare(ctx, "s1", at(5)))
	must(t, s.RevokeShare(ctx, "s1", at(6)))
	wantErr(t, s.RevokeShare(ctx, "nope", at(6)), accounts.ErrNotFound)
	list, err := s.ListShares(ctx, "a1")
	must(t, err)
	revoked := sh("s1", 1)
	revoked.RevokedAt = at(5)
	same(t, list, []accounts.Share{sh("s2", 2), revoked})
}

func testAudit(t *testing.T, s accounts.Store) {
	ctx := ctxOf(t)
	for i := range 6 {
		e := accounts.AuditEvent{ID: fmt.Sprintf("e%02d", i), At: at(i), ActorID: []string{"u1", "u2"}[i%2], Action: "app.published",
			AppID: "a1", IP: "127.0.0.1", Detail: map[string]string{"i": fmt.Sprint(i)}}
		if i%3 == 0 {
			e.OrgID = "o1"
			e.Detail = nil
		}
		must(t, s.AppendAudit(ctx, e))
	}
	for _, tc := range []struct {
		name string
		q    accounts.AuditQuery
		want []string
	}{
		{"all", accounts.AuditQuery{}, []string{"e05", "e04", "e03", "e02", "e01", "e00"}},
		{"org", accounts.AuditQuery{OrgID: "o1"}, []string{"e03", "e00"}},
		{"actor", accounts.AuditQuery{ActorID: "u2"}, []string{"e05", "e03", "e01"}},
		{"app and limit", accounts.AuditQuery{AppID: "a1", Limit: 2}, []string{"e05", "e04"}},
		{"before", accounts.AuditQuery{Before: "e04", Limit: 2}, []string{"e03", "e02"}},
		{"before with filter", accounts.AuditQuery{Before: "e03", ActorID: "u2"}, []string{"e01"}},
		{"before past the end", accounts.AuditQuery{Before: "zz", Limit: 1}, []string{"e05"}},
		{"other app", accounts.AuditQuery{AppID: "a2"}, []string{}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := s.ListAudit(ctx, tc.q)
			must(t, err)
			same(t, ids(got, func(e accounts.AuditEvent) string { return e.ID }), tc.want)
		})
	}
	got, err := s.ListAudit(ctx, accounts.AuditQuery{Limit: 1, Before: "e02"})
	must(t, err)
	same(t, got[0], accounts.AuditEvent{ID: "e01", At: at(1), ActorID: "u2", Action: "app.published", AppID: "a1", IP: "127.0.0.1",
		Detail: map[string]string{"i": "1"}})
}
