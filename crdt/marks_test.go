package crdt

import (
	"errors"
	"os"
	"testing"
)

// testdata/sync-with-marks.bin is a sync message from JS Automerge 3.5
// carrying a change that uses rich-text marks, which the bundled core
// predates. It must be refused as an error, leaving the document usable.
func TestSyncMessageWithMarksIsRefusedCleanly(t *testing.T) {
	msg, err := os.ReadFile("testdata/sync-with-marks.bin")
	if err != nil {
		t.Fatal(err)
	}
	d := New()
	if err := d.Set([]any{"k"}, "v"); err != nil {
		t.Fatal(err)
	}
	before := d.Heads()
	_, err = d.NewSyncState().Receive(msg)
	if !errors.Is(err, ErrCorrupt) {
		t.Fatalf("Receive(marks) err = %v, want ErrCorrupt", err)
	}
	if got := d.Heads(); len(got) != len(before) || got[0] != before[0] {
		t.Fatal("refused message changed the document")
	}
	if v, _ := d.Get("k"); v != "v" {
		t.Fatal("document unreadable after refusal")
	}
	if _, err := Load(d.Save()); err != nil {
		t.Fatalf("document no longer saves/loads: %v", err)
	}
}
