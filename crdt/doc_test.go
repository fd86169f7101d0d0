package crdt

import (
	"errors"
	"reflect"
	"testing"
)

func TestSyncConvergesAndIncrementalReloads(t *testing.T) {
	a, b := New(), New()
	must(t, a.Set([]any{"components", "c1"}, map[string]any{"type": "button", "props": map[string]any{"label": "Hi"}}))
	commit(t, a, "add c1")
	must(t, b.Set([]any{"title"}, "hello"))
	commit(t, b, "title")
	syncPair(t, a, b)
	for _, d := range []*Doc{a, b} {
		v, err := d.Get("components", "c1", "props", "label")
		if err != nil || v != "Hi" {
			t.Fatalf("label = %v, %v", v, err)
		}
		if v, _ := d.Get("title"); v != "hello" {
			t.Fatalf("title = %v", v)
		}
	}
	if !reflect.DeepEqual(a.Heads(), b.Heads()) {
		t.Fatal("heads differ after sync")
	}
	// snapshot + incrementals reload to the same heads
	snap := a.Save()
	must(t, a.Set([]any{"x"}, int64(1)))
	commit(t, a, "x")
	inc := a.SaveIncremental()
	if len(inc) == 0 {
		t.Fatal("no incremental after change")
	}
	c, err := Load(append(append([]byte{}, snap...), inc...))
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(c.Heads(), a.Heads()) {
		t.Fatal("reloaded heads differ")
	}
}

func TestLoadRejectsGarbage(t *testing.T) {
	if _, err := Load([]byte("definitely not automerge")); !errors.Is(err, ErrCorrupt) {
		t.Fatalf("Load(garbage) err = %v", err)
	}
	s := New().NewSyncState()
	if _, err := s.Receive([]byte{0x42, 0xff, 0xff}); !errors.Is(err, ErrCorrupt) {
		t.Fatalf("Receive(garbage) err = %v", err)
	}
	if _, err := InspectSyncMessage([]byte{0x01}); !errors.Is(err, ErrCorrupt) {
		t.Fatalf("Inspect(garbage) err = %v", err)
	}
}

func TestInspectCountsChanges(t *testing.T) {
	a, b := New(), New()
	must(t, a.Set([]any{"k"}, "v"))
	commit(t, a, "")
	sa, sb := a.NewSyncState(), b.NewSyncState()
	var sawChanges bool
	for i := 0; i < 10; i++ {
		if m, ok, _ := sa.Generate(); ok {
			info, err := InspectSyncMessage(m)
			if err != nil {
				t.Fatal(err)
			}
			sawChanges = sawChanges || info.Changes > 0
			_, err = sb.Receive(m)
			must(t, err)
		}
		if m, ok, _ := sb.Generate(); ok {
			_, err := sa.Receive(m)
			must(t, err)
		}
	}
	if !sawChanges {
		t.Fatal("no sync message carried changes")
	}
}

func TestForkMergeAndChanges(t *testing.T) {
	a := New()
	must(t, a.Set([]any{"n"}, int64(1)))
	h1 := commit(t, a, "one")
	f, err := a.Fork()
	if err != nil {
		t.Fatal(err)
	}
	must(t, f.Set([]any{"n"}, int64(2)))
	commit(t, f, "two")
	must(t, a.Merge(f))
	if v, _ := a.Get("n"); v != int64(2) {
		t.Fatalf("n = %v", v)
	}
	chs, err := a.Changes(h1)
	if err != nil || len(chs) != 1 || chs[0].Message != "two" {
		t.Fatalf("changes since h1 = %+v, %v", chs, err)
	}
	old, err := a.Fork(h1)
	if err != nil {
		t.Fatal(err)
	}
	if v, _ := old.Get("n"); v != int64(1) {
		t.Fatalf("fork at h1: n = %v", v)
	}
	if _, ok, err := a.Commit("empty"); ok || err != nil {
		t.Fatalf("empty commit = %v, %v", ok, err)
	}
}

func TestTextSplice(t *testing.T) {
	d := New()
	must(t, d.SpliceText([]any{"src"}, 0, 0, "hello"))
	must(t, d.SpliceText([]any{"src"}, 5, 0, " world"))
	if v, _ := d.Get("src"); v != "hello world" {
		t.Fatalf("src = %v", v)
	}
}

func syncPair(t *testing.T, a, b *Doc) {
	t.Helper()
	sa, sb := a.NewSyncState(), b.NewSyncState()
	for i := 0; i < 20; i++ {
		m1, ok1, err := sa.Generate()
		must(t, err)
		if ok1 {
			_, err = sb.Receive(m1)
			must(t, err)
		}
		m2, ok2, err := sb.Generate()
		must(t, err)
		if ok2 {
			_, err = sa.Receive(m2)
			must(t, err)
		}
		if !ok1 && !ok2 {
			return
		}
	}
	t.Fatal("sync did not settle")
}

func commit(t *testing.T, d *Doc, msg string) Hash {
	t.Helper()
	h, ok, err := d.Commit(msg)
	if err != nil || !ok {
		t.Fatalf("commit %q: %v %v", msg, ok, err)
	}
	return h
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}
