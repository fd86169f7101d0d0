package crdt

import (
	"bytes"
	"fmt"
	"testing"
)

// The message FanoutMessage builds is the one the core generates for a
// peer in sync at the given heads: byte for byte, for one change, several,
// concurrent changes (several heads), and on both sides of a merge.
func TestFanoutMessageMatchesTheCore(t *testing.T) {
	tests := []struct {
		name    string
		history int
		writers int // concurrent writers adding one change each
		rounds  int
	}{
		{"one change on a fresh document", 0, 1, 1},
		{"one change after history", 50, 1, 3},
		{"concurrent changes", 20, 3, 2},
		{"many concurrent changes", 5, 12, 2},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			server := New()
			for i := range tt.history {
				server.Set([]any{"h"}, int64(i))
				server.Commit("")
			}
			ss := server.NewSyncState()
			// The peer catches up: it is then in sync at server's heads.
			peer, err := Load(server.Save())
			if err != nil {
				t.Fatal(err)
			}
			inSync := func() {
				t.Helper()
				ss.Generate()
				heads := peer.Heads()
				ack := SyncMessage{Heads: heads, Have: []SyncHave{{LastSync: heads}}}
				if _, err := ss.Receive(ack.Encode()); err != nil {
					t.Fatal(err)
				}
				ss.Generate()
			}
			inSync()
			writers := make([]*Doc, tt.writers)
			for i := range writers {
				writers[i], _ = Load(server.Save())
			}
			for round := range tt.rounds {
				h0 := server.Heads()
				for i, w := range writers {
					w.Set([]any{fmt.Sprintf("w%d", i)}, int64(round))
					w.Commit(fmt.Sprintf("round %d", round))
					if err := server.Merge(w); err != nil {
						t.Fatal(err)
					}
				}
				core, ok, err := ss.Generate()
				if err != nil || !ok {
					t.Fatalf("core generated nothing: %v", err)
				}
				ours, heads, err := server.FanoutMessage(h0)
				if err != nil {
					t.Fatal(err)
				}
				if !bytes.Equal(ours, core) {
					cm, _ := ParseSyncMessage(core)
					om, _ := ParseSyncMessage(ours)
					t.Fatalf("round %d: message differs from the core's\ncore: %+v\nours: %+v", round, cm, om)
				}
				if len(heads) != len(server.Heads()) {
					t.Fatalf("heads %v", heads)
				}
				// The peer applies it, acknowledges, and is in sync again.
				pss := peer.NewSyncState()
				if _, err := pss.Receive(ours); err != nil {
					t.Fatal(err)
				}
				for _, w := range writers {
					w.Merge(server)
				}
				inSync()
			}
		})
	}
}
