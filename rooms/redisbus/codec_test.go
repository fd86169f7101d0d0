package redisbus

import (
	"bytes"
	"errors"
	"reflect"
	"testing"

	"github.com/casual-dev/casual/crdt"
	"github.com/casual-dev/casual/rooms"
)

func hash(b byte) crdt.Hash {
	var h crdt.Hash
	for i := range h {
		h[i] = b + byte(i)
	}
	return h
}

func TestMessageRoundTrips(t *testing.T) {
	tests := []struct {
		name string
		msg  rooms.BusMessage
	}{
		{"changes with heads", rooms.BusMessage{Kind: rooms.BusChanges, Node: "node-1", SentAt: 1_700_000_000_000_000_000,
			Changes: []byte("chunk bytes"), Heads: []crdt.Hash{hash(1), hash(2)}}},
		{"changes without heads", rooms.BusMessage{Kind: rooms.BusChanges, Node: "n", Changes: []byte{0}}},
		{"presence", rooms.BusMessage{Kind: rooms.BusPresence, Node: "node-2", SentAt: 42, Presence: rooms.Out{
			Kind: rooms.OutEphemeral, DocID: "4NMNnkMhL8jXrdJ9jamS58PAVdXu", Data: []byte{0xa1, 0x61, 0x78, 0x01},
			SenderID: "peer-abc", SessionID: "sess", Count: 17}}},
		{"presence with fractional count and no data", rooms.BusMessage{Kind: rooms.BusPresence, Presence: rooms.Out{
			Kind: rooms.OutEphemeral, SenderID: "p", Count: 2.5}}},
		{"resync", rooms.BusMessage{Kind: rooms.BusResync}},
		{"negative clock", rooms.BusMessage{Kind: rooms.BusResync, SentAt: -5}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b := appendMessage(nil, tt.msg)
			got, err := decodeMessage(b)
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(got, tt.msg) {
				t.Fatalf("decoded %+v, want %+v", got, tt.msg)
			}
			// The result must not alias the payload: rooms keep what they get.
			for i := range b {
				b[i] = 0xff
			}
			if !reflect.DeepEqual(got, tt.msg) {
				t.Fatalf("decoded message changed with its payload: %+v", got)
			}
		})
	}
}

func TestMessageIsCompact(t *testing.T) {
	changes := bytes.Repeat([]byte{7}, 1000)
	msg := rooms.BusMessage{Kind: rooms.BusChanges, Node: "casual-host-1", SentAt: 1_700_000_000_000_000_000,
		Changes: changes, Heads: []crdt.Hash{hash(1)}}
	if n, limit := len(appendMessage(nil, msg)), len(changes)+32+len(msg.Node)+16; n > limit {
		t.Fatalf("encoded %d bytes, want at most %d", n, limit)
	}
}

func TestDecodeRejectsMalformedPayloads(t *testing.T) {
	good := appendMessage(nil, rooms.BusMessage{Kind: rooms.BusPresence, Node: "n", Heads: []crdt.Hash{hash(3)},
		Presence: rooms.Out{SenderID: "s", SessionID: "x", Count: 1, Data: []byte("d")}})
	tests := []struct {
		name    string
		payload []byte
	}{
		{"empty", nil},
		{"other version", []byte{9, byte(rooms.BusResync), 0, 0, 0}},
		{"unknown kind", []byte{version, 77, 0, 0, 0}},
		{"kind only", []byte{version, byte(rooms.BusResync)}},
		{"more heads than bytes", []byte{version, byte(rooms.BusChanges), 0, 0, 200, 1}},
		{"string longer than payload", []byte{version, byte(rooms.BusChanges), 0, 50, 'a'}},
		{"truncated presence", good[:len(good)-10]},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if msg, err := decodeMessage(tt.payload); !errors.Is(err, ErrBadMessage) {
				t.Fatalf("decode = %+v, %v; want ErrBadMessage", msg, err)
			}
		})
	}
}

func FuzzDecodeMessage(f *testing.F) {
	f.Add(appendMessage(nil, rooms.BusMessage{Kind: rooms.BusChanges, Node: "n", SentAt: 1, Changes: []byte("c"), Heads: []crdt.Hash{hash(1)}}))
	f.Add(appendMessage(nil, rooms.BusMessage{Kind: rooms.BusPresence, Presence: rooms.Out{Kind: rooms.OutEphemeral, SenderID: "s", Count: 3, Data: []byte("d")}}))
	f.Add(appendMessage(nil, rooms.BusMessage{Kind: rooms.BusResync}))
	f.Fuzz(func(t *testing.T, b []byte) {
		msg, err := decodeMessage(b)
		if err != nil {
			if !errors.Is(err, ErrBadMessage) {
				t.Fatalf("error %v does not match ErrBadMessage", err)
			}
			return
		}
		// What decodes re-encodes to something that decodes the same
		// (compared encoded, as a NaN count is not equal to itself).
		enc := appendMessage(nil, msg)
		again, err := decodeMessage(enc)
		if err != nil {
			t.Fatalf("re-decode: %v", err)
		}
		if !bytes.Equal(appendMessage(nil, again), enc) {
			t.Fatalf("re-decoded %+v, want %+v", again, msg)
		}
	})
}
