package crdt

import (
	"slices"
	"testing"
)

// A sync message and its changes, taken apart and re-encoded, say what the
// document says.
func TestParseSyncMessageAndChange(t *testing.T) {
	d := New()
	if err := d.Set([]any{"k"}, int64(1)); err != nil {
		t.Fatal(err)
	}
	h1, _, err := d.Commit("first")
	if err != nil {
		t.Fatal(err)
	}
	if err := d.Set([]any{"k"}, int64(2)); err != nil {
		t.Fatal(err)
	}
	h2, _, err := d.Commit("t=12345")
	if err != nil {
		t.Fatal(err)
	}
	ss := d.NewSyncState()
	// the first message only announces heads; answer as an empty peer
	if _, ok, err := ss.Generate(); err != nil || !ok {
		t.Fatalf("generate: %v %v", ok, err)
	}
	empty := SyncMessage{Have: []SyncHave{{}}}
	if _, err := ss.Receive(empty.Encode()); err != nil {
		t.Fatalf("our encoding of an empty peer's message is refused: %v", err)
	}
	raw, ok, err := ss.Generate()
	if err != nil || !ok {
		t.Fatalf("generate: %v %v", ok, err)
	}
	m, err := ParseSyncMessage(raw)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(m.Heads, []Hash{h2}) || len(m.Changes) != 2 {
		t.Fatalf("heads %v, %d changes; want [%v] and 2", m.Heads, len(m.Changes), h2)
	}
	if got := m.Encode(); !slices.Equal(got, raw[:len(got)]) {
		t.Fatal("re-encoding differs from the original framing")
	}
	var infos []ChangeInfo
	for _, c := range m.Changes {
		info, err := ParseChange(c)
		if err != nil {
			t.Fatal(err)
		}
		infos = append(infos, info)
	}
	slices.SortFunc(infos, func(a, b ChangeInfo) int { return int(a.Seq) - int(b.Seq) })
	if infos[0].Hash != h1 || infos[0].Message != "first" || len(infos[0].Deps) != 0 {
		t.Fatalf("first change: %+v", infos[0])
	}
	if infos[1].Hash != h2 || infos[1].Message != "t=12345" || !slices.Equal(infos[1].Deps, []Hash{h1}) || infos[1].Actor != d.ActorID() {
		t.Fatalf("second change: %+v", infos[1])
	}
	if _, err := ParseSyncMessage([]byte{0x42, 0x05}); err == nil {
		t.Fatal("truncated message accepted")
	}
}
