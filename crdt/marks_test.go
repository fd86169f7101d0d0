package crdt

import (
	"errors"
	"os"
	"testing"
)

// testdata/doc-with-marks.automerge was saved by JS Automerge 3.5 with a
// bold mark on "hello". The bundled 2023 core predates marks but keeps
// their changes as they are: it loads them, and saves them back intact
// (the JS interop tests check that JS reads the mark back).
func TestDocumentWithMarksLoadsAndKeepsItsChanges(t *testing.T) {
	raw, err := os.ReadFile("testdata/doc-with-marks.automerge")
	if err != nil {
		t.Fatal(err)
	}
	d, err := Load(raw)
	if err != nil {
		t.Fatal(err)
	}
	if v, _ := d.Get("text"); v != "hello world" {
		t.Fatalf("text = %v", v)
	}
	before, _ := d.Changes()
	again, err := Load(d.Save())
	if err != nil {
		t.Fatal(err)
	}
	after, _ := again.Changes()
	if len(before) != 2 || len(after) != 2 || before[1].Hash != after[1].Hash {
		t.Fatalf("the marks change did not survive a save: %d → %d changes", len(before), len(after))
	}
}

// testdata/sync-v2.bin is a sync message in the V2 format (0x43) that JS
// sends to peers that advertised V2 support (we never do). The bundled core
// cannot decode it: it must be refused as an error, harmlessly.
func TestSyncMessageV2IsRefusedCleanly(t *testing.T) {
	msg, err := os.ReadFile("testdata/sync-v2.bin")
	if err != nil {
		t.Fatal(err)
	}
	d := New()
	if err := d.Set([]any{"k"}, "v"); err != nil {
		t.Fatal(err)
	}
	before := d.Heads()
	if _, err := d.NewSyncState().Receive(msg); !errors.Is(err, ErrCorrupt) {
		t.Fatalf("Receive(v2) err = %v, want ErrCorrupt", err)
	}
	if got := d.Heads(); len(got) != 1 || got[0] != before[0] {
		t.Fatal("refused message changed the document")
	}
	if _, err := InspectSyncMessage(msg); !errors.Is(err, ErrCorrupt) {
		t.Fatalf("Inspect(v2) err = %v", err)
	}
}
