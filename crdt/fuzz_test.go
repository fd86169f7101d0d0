package crdt

import (
	"os"
	"testing"
)

// FuzzReceiveSyncMessage feeds arbitrary bytes to the sync path of a
// document with content. Whatever the bytes, nothing panics, and the
// document still saves and reloads with the same heads (or more, if the
// bytes happened to carry valid changes).
func FuzzReceiveSyncMessage(f *testing.F) {
	a, b := New(), New()
	a.Set([]any{"title"}, "seed")
	a.Commit("")
	sa, sb := a.NewSyncState(), b.NewSyncState()
	for i := 0; i < 4; i++ { // real messages of a whole exchange as seeds
		if m, ok, _ := sa.Generate(); ok {
			f.Add(m)
			sb.Receive(m)
		}
		if m, ok, _ := sb.Generate(); ok {
			f.Add(m)
			sa.Receive(m)
		}
	}
	if v2, err := os.ReadFile("testdata/sync-v2.bin"); err == nil {
		f.Add(v2)
	}
	f.Add([]byte{0x42, 0x00, 0x00, 0x01, 0x00, 0x00, 0x00, 0x02, 0x02, 0x84})
	f.Fuzz(func(t *testing.T, msg []byte) {
		d := New()
		if err := d.Set([]any{"k"}, "v"); err != nil {
			t.Fatal(err)
		}
		d.Commit("")
		before := d.Heads()
		_, _ = d.NewSyncState().Receive(msg)
		_, _ = InspectSyncMessage(msg)
		re, err := Load(d.Save())
		if err != nil {
			t.Fatalf("document does not reload after a fuzzed message: %v", err)
		}
		if v, _ := re.Get("k"); v != "v" {
			t.Fatal("document lost its content")
		}
		for _, h := range before {
			if !re.HasChange(h) {
				t.Fatal("document lost a change")
			}
		}
	})
}
