package canvas

import (
	"testing"
)

func TestPages(t *testing.T) {
	d := newTestApp(t, "landing")
	a := Actor{Rand: seeded(4)}
	id, err := AddPage(d, a, PageSpec{Name: "Pricing & Plans", Position: Position{After: "home"}})
	must(t, err)
	if r := get(t, d, "pages", id, "route"); r != "/pricing-plans" {
		t.Fatalf("derived route = %v", r)
	}
	tr, _ := Materialize(d)
	if got := pageIDs(tr); got != "home "+id+" about" {
		t.Fatalf("pages = %s", got)
	}
	must(t, RenamePage(d, a, id, "Pricing", ""))
	must(t, RenamePage(d, a, id, "", "/pricing"))
	if p := get(t, d, "pages", id).(map[string]any); p["name"] != "Pricing" || p["route"] != "/pricing" {
		t.Fatalf("page = %v", p)
	}
	must(t, ReorderPage(d, a, "about", AtIndex(0)))
	tr, _ = Materialize(d)
	if got := pageIDs(tr); got != "about home "+id {
		t.Fatalf("pages after reorder = %s", got)
	}
	must(t, DeletePage(d, a, "about"))
	for _, c := range []string{"about-title", "about-body"} {
		if get(t, d, "components", c) != nil {
			t.Fatalf("%s survived its page", c)
		}
	}
	if get(t, d, "components", "hero") == nil {
		t.Fatal("a component of another page was deleted")
	}
	assertValid(t, d)
}

func TestPageErrors(t *testing.T) {
	d := newTestApp(t, "landing")
	one := newTestApp(t, BlankTemplate)
	cases := []struct {
		name string
		f    func() error
		want error
	}{
		{"duplicate id", func() error { _, err := AddPage(d, Actor{}, PageSpec{ID: "home", Name: "x"}); return err }, ErrDuplicateID},
		{"bad id", func() error { _, err := AddPage(d, Actor{}, PageSpec{ID: "a/b", Name: "x"}); return err }, ErrInvalidID},
		{"empty name", func() error { _, err := AddPage(d, Actor{}, PageSpec{Name: ""}); return err }, ErrInvalidPage},
		{"bad route", func() error { _, err := AddPage(d, Actor{}, PageSpec{Name: "x", Route: "nope"}); return err }, ErrInvalidPage},
		{"duplicate route", func() error { _, err := AddPage(d, Actor{}, PageSpec{Name: "x", Route: "/about"}); return err }, ErrInvalidPage},
		{"bad position", func() error {
			_, err := AddPage(d, Actor{}, PageSpec{Name: "x", Position: Position{Before: "nope"}})
			return err
		}, ErrInvalidPosition},
		{"rename unknown", func() error { return RenamePage(d, Actor{}, "nope", "x", "") }, ErrUnknownPage},
		{"rename to nothing", func() error { return RenamePage(d, Actor{}, "home", "", "") }, ErrInvalidPage},
		{"rename to a taken route", func() error { return RenamePage(d, Actor{}, "home", "", "/about") }, ErrInvalidPage},
		{"reorder unknown", func() error { return ReorderPage(d, Actor{}, "nope", Position{}) }, ErrUnknownPage},
		{"reorder out of range", func() error { return ReorderPage(d, Actor{}, "home", AtIndex(5)) }, ErrInvalidPosition},
		{"delete unknown", func() error { return DeletePage(d, Actor{}, "nope") }, ErrUnknownPage},
		{"delete last", func() error { return DeletePage(one, Actor{}, "home") }, ErrLastPage},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			wantErr(t, unchanged(t, d, func() error { return unchangedErr(t, one, c.f) }), c.want)
		})
	}
}

// unchangedErr is unchanged for a second document.
func unchangedErr(t *testing.T, d2 interface{ Get(...any) (any, error) }, f func() error) error {
	t.Helper()
	before, _ := d2.Get()
	err := f()
	after, _ := d2.Get()
	if !sameValue(before, after) {
		t.Errorf("failed operation changed the document (err %v)", err)
	}
	return err
}

func pageIDs(tr *Tree) string {
	s := ""
	for i, p := range tr.Pages {
		if i > 0 {
			s += " "
		}
		s += p.ID
	}
	return s
}
