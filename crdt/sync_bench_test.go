package crdt

import (
	"fmt"
	"testing"
)

// BenchmarkFanoutRound is the server's Automerge work for one update in a
// hot room: apply a peer's change, generate a message for each of 49
// readers, and receive each reader's acknowledgement. history is how many
// changes the document already has.
func BenchmarkFanoutRound(b *testing.B) {
	for _, history := range []int{10, 1000, 5000} {
		b.Run(fmt.Sprintf("history=%d", history), func(b *testing.B) {
			writer := New()
			for i := range history {
				writer.Set([]any{"k"}, int64(i))
				writer.Commit("")
			}
			server, err := Load(writer.Save())
			writer.SaveIncremental() // later increments start here
			if err != nil {
				b.Fatal(err)
			}
			const readers = 49
			states := make([]*SyncState, readers)
			for i := range states {
				states[i] = server.NewSyncState()
				// bring each reader in sync: it acknowledges the heads
				heads := server.Heads()
				ack := SyncMessage{Heads: heads, Have: []SyncHave{{LastSync: heads}}}
				states[i].Generate()
				if _, err := states[i].Receive(ack.Encode()); err != nil {
					b.Fatal(err)
				}
				states[i].Generate()
			}
			b.ResetTimer()
			for n := range b.N {
				writer.Set([]any{"k"}, int64(history+n))
				h, _, _ := writer.Commit("")
				if err := server.LoadIncremental(writer.SaveIncremental()); err != nil {
					b.Fatal(err)
				}
				for _, ss := range states {
					if _, ok, err := ss.Generate(); err != nil || !ok {
						b.Fatalf("generate: %v %v", ok, err)
					}
					ack := SyncMessage{Heads: []Hash{h}, Have: []SyncHave{{LastSync: []Hash{h}}}}
					if _, err := ss.Receive(ack.Encode()); err != nil {
						b.Fatal(err)
					}
				}
			}
		})
	}
}
