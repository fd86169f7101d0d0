package accounts_test

import (
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/casual-dev/casual/accounts"
	"github.com/casual-dev/casual/accounts/accountstest"
	"github.com/casual-dev/casual/canvas"
	"github.com/casual-dev/casual/crdt"
	"github.com/casual-dev/casual/store"
)

func TestForkKeepsHistory(t *testing.T) {
	accountstest.Each(t, func(t *testing.T, kind string) {
		st := accountstest.NewStack(t, kind, nil)
		ctx, svc := ctxOf(t), st.Service
		ann, bob := register(t, st, "ann"), register(t, st, "bob")
		src, err := svc.CreateApp(ctx, ann.p, accounts.CreateAppInput{Name: "Todos", Template: "todo", Visibility: accounts.Public})
		must(t, err)
		edit(t, st, src.ID, func(d *crdt.Doc) error {
			_, err := canvas.AddComponent(d, canvas.Actor{ID: "ann"}, canvas.ComponentSpec{ID: "extra", Type: "text", Page: "home",
				Props: map[string]any{"text": "added later"}})
			return err
		})
		v, err := svc.CreateVersion(ctx, ann.p, src.ID, "with extra")
		must(t, err)

		fork, err := svc.ForkApp(ctx, bob.p, src.ID, accounts.ForkInput{})
		must(t, err)
		if fork.OwnerID != bob.user.ID || fork.ForkedFrom != src.ID || fork.Name != "Todos (fork)" || fork.ID == src.ID {
			t.Fatalf("fork %+v", fork)
		}
		orig, copied := current(t, st, src.ID), stored(t, st, fork.ID)
		srcChanges, err := orig.Changes()
		must(t, err)
		for _, c := range srcChanges {
			if !copied.HasChange(c.Hash) {
				t.Fatalf("fork lacks change %s (%q)", c.Hash, c.Message)
			}
		}
		forkChanges, err := copied.Changes()
		must(t, err)
		if len(forkChanges) != len(srcChanges)+1 {
			t.Fatalf("fork has %d changes, source %d (+1 for the rename)", len(forkChanges), len(srcChanges))
		}
		name, _ := copied.Get("meta", "name")
		if name != "Todos (fork)" {
			t.Fatalf("fork named %v in the document", name)
		}
		// the source's versions name states of the fork too
		heads := make([]crdt.Hash, len(v.Heads))
		for i, h := range v.Heads {
			heads[i], err = crdt.ParseHash(h)
			must(t, err)
		}
		old, err := copied.Fork(heads...)
		must(t, err)
		if tree, _ := canvas.Materialize(old); tree.Node("extra") == nil {
			t.Fatal("the fork at the source's version lacks the component")
		}
		// bob cannot fork what he cannot read
		private, err := svc.CreateApp(ctx, ann.p, accounts.CreateAppInput{Name: "Secret"})
		must(t, err)
		_, err = svc.ForkApp(ctx, bob.p, private.ID, accounts.ForkInput{})
		wantErr(t, err, accounts.ErrNotFound)
	})
}

func TestRestoreMakesTheDocumentEqualAndKeepsHistory(t *testing.T) {
	accountstest.Each(t, func(t *testing.T, kind string) {
		st := accountstest.NewStack(t, kind, nil)
		ctx, svc := ctxOf(t), st.Service
		ann := register(t, st, "ann")
		app, err := svc.CreateApp(ctx, ann.p, accounts.CreateAppInput{Name: "Counter", Template: "counter"})
		must(t, err)
		v1, err := svc.CreateVersion(ctx, ann.p, app.ID, "v1")
		must(t, err)
		want := current(t, st, app.ID)

		// change everything a user can: props, a new component, a deleted
		// one, a handler's source, state, theme, pages
		edit(t, st, app.ID, func(d *crdt.Doc) error {
			actor := canvas.Actor{ID: "ann"}
			if err := canvas.UpdateProps(d, actor, "title", map[string]any{"text": "Changed"}); err != nil {
				return err
			}
			if _, err := canvas.AddComponent(d, actor, canvas.ComponentSpec{ID: "new", Type: "text", Page: "home", Props: map[string]any{"text": "x"}}); err != nil {
				return err
			}
			if err := canvas.DeleteComponent(d, actor, "reset"); err != nil {
				return err
			}
			if _, err := canvas.SetHandler(d, actor, canvas.HandlerSpec{ID: "inc", Name: "increment", Lang: "js",
				Source: "export default function ({ state }) {\n  state.count += 2;\n}\n"}); err != nil {
				return err
			}
			if _, err := canvas.AddPage(d, actor, canvas.PageSpec{ID: "about", Name: "About", Route: "/about"}); err != nil {
				return err
			}
			return d.Set([]any{"state", "count"}, 41.0)
		})
		v2, err := svc.CreateVersion(ctx, ann.p, app.ID, "v2")
		must(t, err)
		diff, err := svc.DiffVersions(ctx, ann.p, app.ID, v1.ID, v2.ID)
		must(t, err)
		if got := fmt.Sprint(ids(diff.Added), ids(diff.Removed), changedIDs(diff.Changed), diff.PagesAdded); got != "[new] [reset] [title] [about]" {
			t.Fatalf("diff: %s", got)
		}
		before := current(t, st, app.ID)
		beforeChanges, err := before.Changes()
		must(t, err)

		_, heads, err := svc.RestoreVersion(ctx, ann.p, app.ID, v1.ID)
		must(t, err)
		after := stored(t, st, app.ID)
		if fmt.Sprint(rootOf(t, after)) != fmt.Sprint(rootOf(t, want)) {
			t.Fatalf("restored document differs:\n got  %v\n want %v", rootOf(t, after), rootOf(t, want))
		}
		src, _ := after.Get("handlers", "inc", "source")
		if !strings.Contains(src.(string), "count + 1") { // the counter template's inc, not v2's += 2
			t.Fatalf("handler source not restored: %q", src)
		}
		// history is kept: every earlier change is there, plus the restore
		for _, c := range beforeChanges {
			if !after.HasChange(c.Hash) {
				t.Fatalf("restore lost change %s", c.Hash)
			}
		}
		afterChanges, err := after.Changes()
		must(t, err)
		if len(afterChanges) != len(beforeChanges)+1 || !strings.HasPrefix(afterChanges[len(afterChanges)-1].Message, "restore version") {
			t.Fatalf("%d changes before, %d after", len(beforeChanges), len(afterChanges))
		}
		if fmt.Sprint(heads) != fmt.Sprint(headStrings(after.Heads())) {
			t.Fatalf("reported heads %v, stored %v", heads, after.Heads())
		}
		diff, err = svc.DiffVersions(ctx, ann.p, app.ID, v1.ID, accounts.CurrentVersion)
		must(t, err)
		if len(diff.Added)+len(diff.Removed)+len(diff.Changed)+len(diff.PagesAdded)+len(diff.PagesRemoved) != 0 {
			t.Fatalf("current differs from v1: %+v", diff)
		}
		// and v2 is still reachable
		state, err := svc.VersionAt(ctx, ann.p, app.ID, v2.ID)
		must(t, err)
		if state.Tree.Node("new") == nil || state.Tree.Node("reset") != nil {
			t.Fatal("v2 is not what it was")
		}
	})
}

func TestExportImportRoundTrips(t *testing.T) {
	accountstest.Each(t, func(t *testing.T, kind string) {
		st := accountstest.NewStack(t, kind, nil)
		ctx, svc := ctxOf(t), st.Service
		ann, bob := register(t, st, "ann"), register(t, st, "bob")
		app, err := svc.CreateApp(ctx, ann.p, accounts.CreateAppInput{Name: "Dash", Description: "numbers", Template: "dashboard"})
		must(t, err)
		_, err = svc.CreateVersion(ctx, ann.p, app.ID, "first")
		must(t, err)
		edit(t, st, app.ID, func(d *crdt.Doc) error { return d.Set([]any{"state", "users"}, 99.0) })
		_, err = svc.CreateVersion(ctx, ann.p, app.ID, "second")
		must(t, err)
		file, _, err := svc.ExportApp(ctx, ann.p, app.ID)
		must(t, err)

		imp, err := svc.ImportApp(ctx, bob.p, accounts.ImportInput{File: file})
		must(t, err)
		if imp.ID == app.ID || imp.Name != "Dash" || imp.Description != "numbers" || imp.OwnerID != bob.user.ID || imp.Template != "dashboard" {
			t.Fatalf("imported %+v", imp)
		}
		a, b := current(t, st, app.ID), stored(t, st, imp.ID)
		if fmt.Sprint(rootOf(t, a)) != fmt.Sprint(rootOf(t, b)) || fmt.Sprint(a.Heads()) != fmt.Sprint(b.Heads()) {
			t.Fatal("imported document differs from the exported one")
		}
		vs, err := svc.Versions(ctx, bob.p, imp.ID)
		must(t, err)
		if len(vs) != 2 || vs[0].Label != "second" || vs[1].Label != "first" {
			t.Fatalf("imported versions %+v", vs)
		}
		state, err := svc.VersionAt(ctx, bob.p, imp.ID, vs[1].ID)
		must(t, err)
		if state.Meta["name"] != "Dash" {
			t.Fatalf("version meta %v", state.Meta)
		}
		// exporting the import gives the same document again
		again, _, err := svc.ExportApp(ctx, bob.p, imp.ID)
		must(t, err)
		if _, err := svc.ImportApp(ctx, ann.p, accounts.ImportInput{File: again, Name: "Copy"}); err != nil {
			t.Fatal(err)
		}
	})
}

func TestImportRefusesForeignAndCorruptFiles(t *testing.T) {
	st := accountstest.NewStack(t, "embedded", nil)
	ctx, svc := ctxOf(t), st.Service
	ann := register(t, st, "ann")
	app, err := svc.CreateApp(ctx, ann.p, accounts.CreateAppInput{Name: "A"})
	must(t, err)
	_, err = svc.CreateVersion(ctx, ann.p, app.ID, "v1")
	must(t, err)
	good, _, err := svc.ExportApp(ctx, ann.p, app.ID)
	must(t, err)
	plain := crdt.New()
	must(t, plain.Set([]any{"title"}, "not an app"))
	_, _, err = plain.Commit("")
	must(t, err)
	replace := func(old, new string) []byte { return []byte(strings.Replace(string(good), old, new, 1)) }
	docField := func(b64 string) []byte {
		i := strings.Index(string(good), `"document": "`)
		return []byte(string(good[:i]) + `"document": "` + b64 + `"}`)
	}
	for _, tc := range []struct {
		name string
		file []byte
	}{
		{"empty", nil},
		{"not json", []byte("PK\x03\x04 a zip file")},
		{"other json", []byte(`{"hello": "world"}`)},
		{"other format", replace(accounts.ExportFormat, "figma-export")},
		{"future version", replace(`"version": 1`, `"version": 7`)},
		{"document not base64", docField("***")},
		{"document corrupt", docField("aGVsbG8gd29ybGQ=")},
		{"document not an app", docField(base64Of(plain.Save()))},
		{"version names missing change", replace(`"heads": [`, `"heads": ["`+strings.Repeat("ab", 32)+`", `)},
		{"version with bad heads", replace(`"heads": [`, `"heads": ["xyz", `)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			before, err := svc.ListApps(ctx, ann.p, accounts.ListAppsInput{})
			must(t, err)
			_, err = svc.ImportApp(ctx, ann.p, accounts.ImportInput{File: tc.file})
			wantErr(t, err, accounts.ErrCorruptImport)
			after, err := svc.ListApps(ctx, ann.p, accounts.ListAppsInput{})
			must(t, err)
			if len(after.Apps) != len(before.Apps) {
				t.Fatal("a failed import created an app")
			}
		})
	}
}

func TestTrashRestoreAndPurge(t *testing.T) {
	accountstest.Each(t, func(t *testing.T, kind string) {
		st := accountstest.NewStack(t, kind, nil)
		ctx, svc := ctxOf(t), st.Service
		ann := register(t, st, "ann")
		keep, err := svc.CreateApp(ctx, ann.p, accounts.CreateAppInput{Name: "keep"})
		must(t, err)
		gone, err := svc.CreateApp(ctx, ann.p, accounts.CreateAppInput{Name: "gone"})
		must(t, err)
		must(t, svc.DeleteApp(ctx, ann.p, keep.ID))
		must(t, svc.DeleteApp(ctx, ann.p, gone.ID))
		_, _, err = svc.App(ctx, ann.p, keep.ID)
		wantErr(t, err, accounts.ErrNotFound)
		trash, err := svc.ListApps(ctx, ann.p, accounts.ListAppsInput{Trash: true, Sort: accounts.SortName})
		must(t, err)
		if len(trash.Apps) != 2 {
			t.Fatalf("trash: %+v", trash.Apps)
		}
		st.Clock.Advance(29 * 24 * time.Hour)
		_, err = svc.RestoreApp(ctx, ann.p, keep.ID)
		must(t, err)
		n, err := svc.PurgeTrash(ctx)
		must(t, err)
		if n != 0 {
			t.Fatal("purged too early")
		}
		st.Clock.Advance(2 * 24 * time.Hour)
		n, err = svc.PurgeTrash(ctx)
		must(t, err)
		if n != 1 {
			t.Fatalf("purged %d", n)
		}
		_, err = svc.RestoreApp(ctx, ann.p, gone.ID)
		wantErr(t, err, accounts.ErrNotFound)
		if _, err := st.Docs.Load(ctx, gone.ID); !errors.Is(err, store.ErrNotFound) {
			t.Fatalf("purged document still stored: %v", err)
		}
		if _, _, err := svc.App(ctx, ann.p, keep.ID); err != nil {
			t.Fatal(err)
		}
	})
}

func TestListAppsSearchesSortsAndPages(t *testing.T) {
	accountstest.Each(t, func(t *testing.T, kind string) {
		st := accountstest.NewStack(t, kind, nil)
		ctx, svc := ctxOf(t), st.Service
		ann := register(t, st, "ann")
		for i := range 7 {
			_, err := svc.CreateApp(ctx, ann.p, accounts.CreateAppInput{Name: fmt.Sprintf("app %d", i)})
			must(t, err)
			st.Clock.Advance(time.Second)
		}
		var names []string
		in := accounts.ListAppsInput{Limit: 3}
		for range 5 {
			page, err := svc.ListApps(ctx, ann.p, in)
			must(t, err)
			for _, a := range page.Apps {
				names = append(names, a.Name)
			}
			if page.Next == "" {
				break
			}
			in.Cursor = page.Next
		}
		if got := strings.Join(names, ","); got != "app 6,app 5,app 4,app 3,app 2,app 1,app 0" {
			t.Fatalf("pages: %s", got)
		}
		page, err := svc.ListApps(ctx, ann.p, accounts.ListAppsInput{Search: "APP 3"})
		must(t, err)
		if len(page.Apps) != 1 || page.Apps[0].Name != "app 3" {
			t.Fatalf("search: %+v", page.Apps)
		}
		_, err = svc.ListApps(ctx, ann.p, accounts.ListAppsInput{Sort: accounts.SortName, Cursor: in.Cursor})
		wantErr(t, err, accounts.ErrInvalid)
		_, err = svc.ListApps(ctx, ann.p, accounts.ListAppsInput{Cursor: "%%%"})
		wantErr(t, err, accounts.ErrInvalid)
		_, err = svc.ListApps(ctx, accounts.Principal{}, accounts.ListAppsInput{})
		wantErr(t, err, accounts.ErrUnauthenticated)
	})
}
