package canvas

import (
	"strings"
	"testing"

	"github.com/casual-dev/casual/crdt"
)

func TestTemplatesBuildValidApps(t *testing.T) {
	ts := Templates()
	if len(ts) < 6 {
		t.Fatalf("%d templates, want blank and at least 5 more", len(ts))
	}
	for _, tpl := range ts {
		t.Run(tpl.ID, func(t *testing.T) {
			d := newTestApp(t, tpl.ID)
			assertValid(t, d)
			tr, repairs := Materialize(d)
			if len(repairs) > 0 {
				t.Fatalf("repairs: %+v", repairs)
			}
			if len(tr.Pages) == 0 {
				t.Fatal("no pages")
			}
			if tpl.ID != BlankTemplate && tr.Len() < 3 {
				t.Fatalf("%d components", tr.Len())
			}
			if v := get(t, d, "meta", "name"); v != "test" {
				t.Fatalf("meta.name = %v", v)
			}
		})
	}
}

func TestNewAppErrors(t *testing.T) {
	d := newTestApp(t, "counter")
	wantErr(t, NewApp(d, "again", ""), ErrAlreadyInitialized)
	fresh := crdt.New()
	wantErr(t, NewApp(fresh, "x", "no-such-template"), ErrUnknownTemplate)
	if keys, _ := fresh.Keys(); len(keys) != 0 {
		t.Fatalf("failed NewApp wrote %v", keys)
	}
}

func TestTemplateTreeOrderFollowsOps(t *testing.T) {
	d := newTestApp(t, "counter")
	tr, _ := Materialize(d)
	var got []string
	for _, n := range tr.Node("buttons").Children {
		got = append(got, n.ID)
	}
	if want := "decrement increment reset"; strings.Join(got, " ") != want {
		t.Fatalf("buttons children = %v, want %s", got, want)
	}
	src := get(t, d, "handlers", "inc", "source")
	if s, _ := src.(string); s == "" {
		t.Fatalf("handler source = %v", src)
	}
}
