package accountstest

import (
	"fmt"
	"testing"

	"github.com/casual-dev/casual/accounts"
)

func org(id string) accounts.Org {
	return accounts.Org{ID: id, Name: "Org " + id, CreatedBy: "u1", CreatedAt: T0, UpdatedAt: T0}
}

func member(o, u string, r accounts.Role) accounts.Member {
	return accounts.Member{OrgID: o, UserID: u, Role: r, AddedBy: "u1", AddedAt: T0}
}

func testOrgs(t *testing.T, s accounts.Store) {
	ctx := ctxOf(t)
	addUsers(t, s, "u1", "u2", "u3")
	must(t, s.CreateOrg(ctx, org("o1"), member("o1", "u1", accounts.RoleOwner)))
	must(t, s.CreateOrg(ctx, org("o2"), member("o2", "u2", accounts.RoleOwner)))
	wantErr(t, s.CreateOrg(ctx, org("o1"), member("o1", "u1", accounts.RoleOwner)), accounts.ErrConflict)
	got, err := s.GetOrg(ctx, "o1")
	must(t, err)
	same(t, got, org("o1"))
	o := org("o1")
	o.Name, o.UpdatedAt = "Renamed", at(1)
	must(t, s.UpdateOrg(ctx, o))
	got, err = s.GetOrg(ctx, "o1")
	must(t, err)
	same(t, got, o)
	wantErr(t, s.UpdateOrg(ctx, org("nope")), accounts.ErrNotFound)

	must(t, s.PutMember(ctx, member("o1", "u3", accounts.RoleViewer)))
	must(t, s.PutMember(ctx, member("o1", "u2", accounts.RoleEditor)))
	must(t, s.PutMember(ctx, member("o1", "u3", accounts.RoleAdmin))) // role change
	wantErr(t, s.PutMember(ctx, member("o1", "ghost", accounts.RoleViewer)), accounts.ErrNotFound)
	wantErr(t, s.PutMember(ctx, member("nope", "u1", accounts.RoleViewer)), accounts.ErrNotFound)
	m, err := s.GetMember(ctx, "o1", "u3")
	must(t, err)
	same(t, m, member("o1", "u3", accounts.RoleAdmin))
	ms, err := s.ListMembers(ctx, "o1")
	must(t, err)
	same(t, ms, []accounts.Member{member("o1", "u1", accounts.RoleOwner), member("o1", "u2", accounts.RoleEditor), member("o1", "u3", accounts.RoleAdmin)})
	mine, err := s.ListMemberships(ctx, "u2")
	must(t, err)
	same(t, mine, []accounts.Member{member("o1", "u2", accounts.RoleEditor), member("o2", "u2", accounts.RoleOwner)})

	must(t, s.RemoveMember(ctx, "o1", "u2"))
	wantErr(t, s.RemoveMember(ctx, "o1", "u2"), accounts.ErrNotFound)
	_, err = s.GetMember(ctx, "o1", "u2")
	wantErr(t, err, accounts.ErrNotFound)

	must(t, s.DeleteOrg(ctx, "o1"))
	_, err = s.GetOrg(ctx, "o1")
	wantErr(t, err, accounts.ErrNotFound)
	mine, err = s.ListMemberships(ctx, "u1")
	must(t, err)
	if len(mine) != 0 {
		t.Fatalf("memberships of a deleted org: %+v", mine)
	}
	wantErr(t, s.DeleteOrg(ctx, "o1"), accounts.ErrNotFound)
}

func testLastOwner(t *testing.T, s accounts.Store) {
	ctx := ctxOf(t)
	addUsers(t, s, "u1", "u2")
	must(t, s.CreateOrg(ctx, org("o1"), member("o1", "u1", accounts.RoleOwner)))
	wantErr(t, s.PutMember(ctx, member("o1", "u1", accounts.RoleAdmin)), accounts.ErrLastOwner)
	wantErr(t, s.RemoveMember(ctx, "o1", "u1"), accounts.ErrLastOwner)
	must(t, s.PutMember(ctx, member("o1", "u2", accounts.RoleOwner)))
	must(t, s.PutMember(ctx, member("o1", "u1", accounts.RoleAdmin)))
	wantErr(t, s.RemoveMember(ctx, "o1", "u2"), accounts.ErrLastOwner)
	must(t, s.RemoveMember(ctx, "o1", "u1"))
}

func app(id, owner, org string) accounts.App {
	return accounts.App{ID: id, Name: "App " + id, Description: "about " + id, OwnerID: owner, OrgID: org,
		Visibility: accounts.Private, Template: "blank", CreatedBy: "u1", CreatedAt: T0, UpdatedAt: T0}
}

func testApps(t *testing.T, s accounts.Store) {
	ctx := ctxOf(t)
	a := app("a1", "u1", "")
	a.ForkedFrom, a.PublishedAt = "a0", at(2)
	must(t, s.CreateApp(ctx, a))
	wantErr(t, s.CreateApp(ctx, a), accounts.ErrConflict)
	got, err := s.GetApp(ctx, "a1")
	must(t, err)
	same(t, got, a)
	a.Name, a.Visibility, a.UpdatedAt, a.DeletedAt = "New name", accounts.Public, at(3), at(4)
	must(t, s.UpdateApp(ctx, a))
	got, err = s.GetApp(ctx, "a1")
	must(t, err)
	same(t, got, a)
	wantErr(t, s.UpdateApp(ctx, app("nope", "u1", "")), accounts.ErrNotFound)
	_, err = s.GetApp(ctx, "nope")
	wantErr(t, err, accounts.ErrNotFound)
}

func ids[T any](xs []T, id func(T) string) []string {
	out := []string{}
	for _, x := range xs {
		out = append(out, id(x))
	}
	return out
}

func appIDs(as []accounts.App) []string { return ids(as, func(a accounts.App) string { return a.ID }) }

func testAppScope(t *testing.T, s accounts.Store) {
	ctx := ctxOf(t)
	addUsers(t, s, "me", "other")
	mk := func(id, owner, org string, v accounts.Visibility) {
		a := app(id, owner, org)
		a.Visibility = v
		must(t, s.CreateApp(ctx, a))
	}
	mk("mine", "me", "", accounts.Private)
	mk("theirs", "other", "", accounts.Private)
	mk("shared", "other", "", accounts.Private)
	mk("public", "other", "", accounts.Public)
	mk("org-private", "", "o1", accounts.Private)
	mk("org-wide", "", "o1", accounts.OrgWide)
	mk("admin-private", "", "o2", accounts.Private)
	mk("foreign-org", "", "o3", accounts.OrgWide)
	must(t, s.PutAppMember(ctx, accounts.AppMember{AppID: "shared", UserID: "me", Role: accounts.RoleViewer, AddedAt: T0}))

	for _, tc := range []struct {
		name string
		q    accounts.AppQuery
		want []string
	}{
		{"viewer", accounts.AppQuery{Viewer: "me", OrgIDs: []string{"o1", "o2"}, AdminOrgIDs: []string{"o2"}},
			[]string{"admin-private", "mine", "org-wide", "shared"}},
		{"with public", accounts.AppQuery{Viewer: "me", IncludePublic: true}, []string{"mine", "public", "shared"}},
		{"anonymous", accounts.AppQuery{IncludePublic: true}, []string{"public"}},
		{"nobody", accounts.AppQuery{}, []string{}},
		{"all", accounts.AppQuery{All: true}, []string{"admin-private", "foreign-org", "mine", "org-private", "org-wide", "public", "shared", "theirs"}},
		{"owner filter", accounts.AppQuery{Viewer: "me", IncludePublic: true, OwnerID: "other"}, []string{"public", "shared"}},
		{"org filter", accounts.AppQuery{All: true, OrgID: "o1"}, []string{"org-private", "org-wide"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			q := tc.q
			q.Sort = accounts.SortName
			got, err := s.ListApps(ctx, q)
			must(t, err)
			same(t, appIDs(got), tc.want)
		})
	}
}

func testAppFilters(t *testing.T, s accounts.Store) {
	ctx := ctxOf(t)
	for i, name := range []string{"Todo List", "Invoices", "todo tracker", "CRM"} {
		a := app(fmt.Sprintf("a%d", i), "me", "")
		a.Name = name
		if i == 3 {
			a.Description = "customers and TODOs"
			a.Visibility = accounts.Public
		}
		must(t, s.CreateApp(ctx, a))
	}
	gone := app("a4", "me", "")
	gone.Name, gone.DeletedAt = "todo (deleted)", at(1)
	must(t, s.CreateApp(ctx, gone))
	base := accounts.AppQuery{Viewer: "me", Sort: accounts.SortName}
	for _, tc := range []struct {
		name string
		edit func(q *accounts.AppQuery)
		want []string
	}{
		{"search is case-insensitive on name and description", func(q *accounts.AppQuery) { q.Search = "TODO" }, []string{"a3", "a0", "a2"}},
		{"visibility", func(q *accounts.AppQuery) { q.Visibility = accounts.Public }, []string{"a3"}},
		{"trash", func(q *accounts.AppQuery) { q.Deleted = true }, []string{"a4"}},
		{"search in trash", func(q *accounts.AppQuery) { q.Deleted, q.Search = true, "invoice" }, []string{}},
		{"search with percent", func(q *accounts.AppQuery) { q.Search = "%" }, []string{}},
		{"limit", func(q *accounts.AppQuery) { q.Limit = 2 }, []string{"a3", "a1"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			q := base
			tc.edit(&q)
			got, err := s.ListApps(ctx, q)
			must(t, err)
			same(t, appIDs(got), tc.want)
		})
	}
}

func testAppPagination(t *testing.T, s accounts.Store) {
	ctx := ctxOf(t)
	names := []string{"b", "a", "c", "a", "B", "d"}
	for i, n := range names {
		a := app(fmt.Sprintf("a%d", i), "me", "")
		a.Name = n
		a.CreatedAt = at(i % 3)
		a.UpdatedAt = at(10 - i)
		must(t, s.CreateApp(ctx, a))
	}
	for _, tc := range []struct {
		sort accounts.AppSort
		desc bool
		want []string
	}{
		{accounts.SortName, false, []string{"a4", "a1", "a3", "a0", "a2", "a5"}},
		{accounts.SortName, true, []string{"a5", "a2", "a0", "a3", "a1", "a4"}},
		{accounts.SortCreated, false, []string{"a0", "a3", "a1", "a4", "a2", "a5"}},
		{accounts.SortCreated, true, []string{"a5", "a2", "a4", "a1", "a3", "a0"}},
		{accounts.SortUpdated, true, []string{"a0", "a1", "a2", "a3", "a4", "a5"}},
		{accounts.SortUpdated, false, []string{"a5", "a4", "a3", "a2", "a1", "a0"}},
	} {
		t.Run(fmt.Sprintf("%s desc=%v", tc.sort, tc.desc), func(t *testing.T) {
			var got []string
			q := accounts.AppQuery{Viewer: "me", Sort: tc.sort, Desc: tc.desc, Limit: 4}
			for page := 0; page < 5; page++ {
				as, err := s.ListApps(ctx, q)
				must(t, err)
				got = append(got, appIDs(as)...)
				if len(as) < q.Limit {
					break
				}
				last := as[len(as)-1]
				q.AfterID, q.AfterName = last.ID, last.Name
				q.AfterTime = last.UpdatedAt
				if tc.sort == accounts.SortCreated {
					q.AfterTime = last.CreatedAt
				}
			}
			same(t, got, tc.want)
		})
	}
}

func testTrash(t *testing.T, s accounts.Store) {
	ctx := ctxOf(t)
	for i := range 4 {
		a := app(fmt.Sprintf("a%d", i), "me", "")
		if i > 0 {
			a.DeletedAt = at(10 - i)
		}
		must(t, s.CreateApp(ctx, a))
	}
	got, err := s.ListTrash(ctx, at(9), 10)
	must(t, err)
	same(t, appIDs(got), []string{"a3", "a2"})
	got, err = s.ListTrash(ctx, at(100), 1)
	must(t, err)
	same(t, appIDs(got), []string{"a3"})
}

func testAppMembers(t *testing.T, s accounts.Store) {
	ctx := ctxOf(t)
	addUsers(t, s, "u1", "u2", "u3")
	must(t, s.CreateApp(ctx, app("a1", "u1", "")))
	m := func(u string, r accounts.Role) accounts.AppMember {
		return accounts.AppMember{AppID: "a1", UserID: u, Role: r, AddedBy: "u1", AddedAt: T0}
	}
	must(t, s.PutAppMember(ctx, m("u3", accounts.RoleViewer)))
	must(t, s.PutAppMember(ctx, m("u2", accounts.RoleViewer)))
	must(t, s.PutAppMember(ctx, m("u2", accounts.RoleEditor)))
	wantErr(t, s.PutAppMember(ctx, m("ghost", accounts.RoleEditor)), accounts.ErrNotFound)
	bad := m("u2", accounts.RoleEditor)
	bad.AppID = "nope"
	wantErr(t, s.PutAppMember(ctx, bad), accounts.ErrNotFound)
	got, err := s.GetAppMember(ctx, "a1", "u2")
	must(t, err)
	same(t, got, m("u2", accounts.RoleEditor))
	list, err := s.ListAppMembers(ctx, "a1")
	must(t, err)
	same(t, list, []accounts.AppMember{m("u2", accounts.RoleEditor), m("u3", accounts.RoleViewer)})
	must(t, s.RemoveAppMember(ctx, "a1", "u2"))
	wantErr(t, s.RemoveAppMember(ctx, "a1", "u2"), accounts.ErrNotFound)
	shared, err := s.ListApps(ctx, accounts.AppQuery{Viewer: "u2"})
	must(t, err)
	if len(shared) != 0 {
		t.Fatalf("still shared with removed member: %v", appIDs(shared))
	}
}

func testPurge(t *testing.T, s accounts.Store) {
	ctx := ctxOf(t)
	addUsers(t, s, "u1", "u2")
	must(t, s.CreateApp(ctx, app("a1", "u1", "")))
	must(t, s.PutAppMember(ctx, accounts.AppMember{AppID: "a1", UserID: "u2", Role: accounts.RoleViewer, AddedAt: T0}))
	must(t, s.CreateVersion(ctx, accounts.Version{ID: "v1", AppID: "a1", Label: "v1", Heads: []string{"ab"}, CreatedAt: T0}))
	must(t, s.CreateShare(ctx, accounts.Share{ID: "sh1", AppID: "a1", Kind: accounts.ShareLink, Mode: accounts.ShareRead, CreatedAt: T0, ExpiresAt: at(60)}))
	must(t, s.PurgeApp(ctx, "a1"))
	_, err := s.GetApp(ctx, "a1")
	wantErr(t, err, accounts.ErrNotFound)
	_, err = s.GetAppMember(ctx, "a1", "u2")
	wantErr(t, err, accounts.ErrNotFound)
	_, err = s.GetVersion(ctx, "a1", "v1")
	wantErr(t, err, accounts.ErrNotFound)
	_, err = s.GetShare(ctx, "sh1")
	wantErr(t, err, accounts.ErrNotFound)
	shared, err := s.ListApps(ctx, accounts.AppQuery{Viewer: "u2"})
	must(t, err)
	if len(shared) != 0 {
		t.Fatalf("purged app still listed: %v", appIDs(shared))
	}
	must(t, s.PurgeApp(ctx, "a1")) // again: nothing to do
}
