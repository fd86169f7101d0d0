package canvas

import (
	"encoding/json"
	"errors"
	"math/rand/v2"
	"testing"

	"github.com/casual-dev/casual/crdt"
)

// newTestApp returns a committed app built from a template.
func newTestApp(t testing.TB, template string) *crdt.Doc {
	t.Helper()
	d := crdt.New()
	if err := NewApp(d, "test", template); err != nil {
		t.Fatalf("NewApp(%q): %v", template, err)
	}
	commit(t, d)
	return d
}

func commit(t testing.TB, d *crdt.Doc) {
	t.Helper()
	if _, _, err := d.Commit(""); err != nil {
		t.Fatal(err)
	}
}

func must(t testing.TB, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

func seeded(seed uint64) *rand.Rand { return rand.New(rand.NewPCG(seed, 0x5eed)) }

// get reads a document value, failing the test on error.
func get(t testing.TB, d *crdt.Doc, path ...any) any {
	t.Helper()
	v, err := d.Get(path...)
	if err != nil {
		t.Fatal(err)
	}
	return v
}

// treeJSON renders a tree canonically, to compare replicas.
func treeJSON(t testing.TB, tr *Tree) string {
	t.Helper()
	b, err := json.Marshal(tr)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// wantErr fails unless err matches want (nil means success).
func wantErr(t testing.TB, err, want error) {
	t.Helper()
	if want == nil && err != nil || want != nil && !errors.Is(err, want) {
		t.Fatalf("err = %v, want %v", err, want)
	}
}

// assertValid fails on any validation problem.
func assertValid(t testing.TB, d *crdt.Doc) {
	t.Helper()
	for _, p := range Validate(d) {
		t.Errorf("problem: %v", p)
	}
}
