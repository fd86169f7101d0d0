package wire

import (
	"bytes"
	"encoding/hex"
	"errors"
	"testing"
)

// Frames captured from the reference JS server (shared/protocol §8).
const (
	joinFrame      = "b900046474797065646a6f696e6873656e646572496466706565722d416c706565724d65746164617461b900026973746f726167654964f76b6973457068656d6572616cf57819737570706f7274656450726f746f636f6c56657273696f6e73816131"
	syncFrame      = "b9000564747970656473796e636874617267657449647273746f726167652d7365727665722d72656664646174615830420145dfa03fc9f47f2e3d5235f1e4cab358aa86d72c5e12ac515329f1846fbbab3500010006020a07b44c88000202846a646f63756d656e744964781c3246564a316a656548566170733335314e42535053386a484b7363546873656e646572496466706565722d41"
	ephemeralFrame = "b90007647479706569657068656d6572616c6874617267657449647273746f726167652d7365727665722d7265666a646f63756d656e744964781c3246564a316a656548566170733335314e42535053386a484b736354646461746154b9000266637572736f7205647573657263626f6265636f756e74016973657373696f6e49646b333178616d747935316b396873656e646572496466706565722d42"
	requestFrame   = "b90005647479706567726571756573746874617267657449647273746f726167652d7365727665722d7265666a646f63756d656e744964781c3246564a316a656548566170733335314e42535053386a484b73635464646174614a420000010000000202846873656e646572496466706565722d42"
)

func TestDecodeCapturedFrames(t *testing.T) {
	tests := []struct {
		name, hex string
		check     func(*Message) bool
	}{
		{"join", joinFrame, func(m *Message) bool {
			return m.Type == TypeJoin && m.SenderID == "peer-A" && m.PeerMetadata != nil &&
				m.PeerMetadata.StorageID == nil && m.PeerMetadata.IsEphemeral &&
				len(m.SupportedProtocolVersions) == 1 && m.SupportedProtocolVersions[0] == "1"
		}},
		{"sync", syncFrame, func(m *Message) bool {
			return m.Type == TypeSync && m.DocumentID == "2FVJ1jeeHVaps351NBSPS8jHKscT" && len(m.Data) == 48 && m.Data[0] == 0x42
		}},
		{"request", requestFrame, func(m *Message) bool {
			return m.Type == TypeRequest && m.SenderID == "peer-B" && len(m.Data) == 10
		}},
		{"ephemeral", ephemeralFrame, func(m *Message) bool {
			return m.Type == TypeEphemeral && m.Count == 1 && m.SessionID == "31xamty51k9" && m.SenderID == "peer-B"
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b, _ := hex.DecodeString(tt.hex)
			m, err := Decode(b)
			if err != nil {
				t.Fatal(err)
			}
			if !tt.check(m) {
				t.Fatalf("decoded %+v", m)
			}
		})
	}
}

func TestEncodeIsWhatCborXAccepts(t *testing.T) {
	sid := "c98c1d14-9923-492b-ae55-95c22387e7b2"
	m := &Message{Type: TypePeer, SenderID: "storage-server-ref", TargetID: "peer-A",
		PeerMetadata: &PeerMetadata{StorageID: &sid}, SelectedProtocolVersion: ProtocolV1,
		Count: 7, Limit: 1 << 40, Data: []byte{1, 2, 3}}
	b, err := Encode(m)
	if err != nil {
		t.Fatal(err)
	}
	if bytes.Contains(b, []byte{0x1b}) && !bytes.Contains(b, []byte{0xfb}) {
		t.Fatal("64-bit integer encoding emitted")
	}
	for _, forbidden := range []byte{0x5f, 0x7f, 0x9f, 0xbf} { // indefinite lengths
		if b[0] == forbidden {
			t.Fatalf("indefinite length at start")
		}
	}
	back, err := Decode(b)
	if err != nil || back.Count != 7 || back.Limit != 1<<40 || *back.PeerMetadata.StorageID != sid {
		t.Fatalf("round trip: %+v %v", back, err)
	}
	// count 7 must be the one-byte minimal form
	if !bytes.Contains(b, []byte("count\x07")) {
		t.Fatalf("count not minimally encoded: %x", b)
	}
}

func TestDecodeRejects(t *testing.T) {
	tests := []struct {
		name string
		in   []byte
		want error
	}{
		{"empty", nil, ErrMalformed},
		{"not a map", []byte{0x83, 1, 2, 3}, ErrMalformed},
		{"garbage", []byte{0xbf, 0xff, 0x00}, ErrMalformed},
		{"truncated", mustHex(syncFrame)[:40], ErrMalformed},
		{"wrong type for senderId", []byte("\xa2\x64type\x64join\x68senderId\x05"), ErrMalformed},
		{"no type", []byte("\xa1\x68senderId\x61a"), ErrInvalid},
		{"unknown type", []byte("\xa2\x64type\x63zap\x68senderId\x61a"), ErrUnknownType},
		{"sync without data", []byte("\xa3\x64type\x64sync\x68senderId\x61a\x6adocumentId\x61b"), ErrInvalid},
		{"duplicate key", []byte("\xa2\x64type\x64join\x64type\x64sync"), ErrMalformed},
		{"trailing bytes", append(mustHex(joinFrame), 0x00), ErrMalformed},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Decode(tt.in)
			if !errors.Is(err, tt.want) {
				t.Fatalf("err = %v, want %v", err, tt.want)
			}
		})
	}
}

func mustHex(s string) []byte {
	b, err := hex.DecodeString(s)
	if err != nil {
		panic(err)
	}
	return b
}

func FuzzDecodeMessage(f *testing.F) {
	for _, s := range []string{joinFrame, syncFrame, ephemeralFrame, requestFrame} {
		f.Add(mustHex(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		m, err := Decode(b)
		if err != nil {
			return
		}
		out, err := Encode(m)
		if err != nil {
			t.Fatalf("decoded message does not re-encode: %v", err)
		}
		m2, err := Decode(out)
		if err != nil {
			t.Fatalf("re-encoded message does not decode: %v", err)
		}
		if m2.Type != m.Type || m2.SenderID != m.SenderID || !bytes.Equal(m2.Data, m.Data) {
			t.Fatalf("round trip changed the message")
		}
	})
}
