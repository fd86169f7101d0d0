package collab

import (
	"bytes"
	"errors"
	"slices"
	"testing"
)

// frame encodes one client frame (masked with a fixed key unless unmasked).
func frame(b0 byte, payload []byte, unmasked ...bool) []byte {
	masked := len(unmasked) == 0 || !unmasked[0]
	out := []byte{b0}
	var m byte
	if masked {
		m = 0x80
	}
	switch n := len(payload); {
	case n < 126:
		out = append(out, m|byte(n))
	case n < 1<<16:
		out = append(out, m|126, byte(n>>8), byte(n))
	default:
		out = append(out, m|127, 0, 0, 0, 0, byte(n>>24), byte(n>>16), byte(n>>8), byte(n))
	}
	if !masked {
		return append(out, payload...)
	}
	key := []byte{0xa1, 0xb2, 0xc3, 0xd4}
	out = append(out, key...)
	for i, c := range payload {
		out = append(out, c^key[i&3])
	}
	return out
}

func cat(parts ...[]byte) []byte { return slices.Concat(parts...) }

func TestFrameParser(t *testing.T) {
	big := bytes.Repeat([]byte("x"), 70000)
	tests := []struct {
		name   string
		stream []byte
		want   []wsEvent
		err    error
	}{
		{"one binary frame", frame(0x82, []byte("hello")), []wsEvent{{opBinary, []byte("hello")}}, nil},
		{"empty binary frame", frame(0x82, nil), []wsEvent{{opBinary, []byte{}}}, nil},
		{"text frame", frame(0x81, []byte("{}")), []wsEvent{{opText, []byte("{}")}}, nil},
		{"16-bit length", frame(0x82, big[:300]), []wsEvent{{opBinary, big[:300]}}, nil},
		{"64-bit length", frame(0x82, big), []wsEvent{{opBinary, big}}, nil},
		{"two messages", cat(frame(0x82, []byte("a")), frame(0x82, []byte("b"))),
			[]wsEvent{{opBinary, []byte("a")}, {opBinary, []byte("b")}}, nil},
		{"fragments with a ping between", cat(frame(0x02, []byte("ab")), frame(0x89, []byte("p")), frame(0x00, []byte("cd")), frame(0x80, []byte("e"))),
			[]wsEvent{{opPing, []byte("p")}, {opBinary, []byte("abcde")}}, nil},
		{"pong", frame(0x8a, nil), []wsEvent{{opPong, []byte{}}}, nil},
		{"close with code", frame(0x88, []byte{0x03, 0xe8, 'o', 'k'}), []wsEvent{{opClose, []byte{0x03, 0xe8, 'o', 'k'}}}, nil},
		{"unmasked", frame(0x82, []byte("a"), true), nil, ErrBadFrame},
		{"reserved bit", frame(0x82|0x10, []byte("a")), nil, ErrBadFrame},
		{"reserved data opcode", frame(0x83, []byte("a")), nil, ErrBadFrame},
		{"reserved control opcode", frame(0x8b, nil), nil, ErrBadFrame},
		{"fragmented control frame", frame(0x09, nil), nil, ErrBadFrame},
		{"control frame over 125 bytes", frame(0x89, big[:126]), nil, ErrBadFrame},
		{"continuation of nothing", frame(0x80, []byte("a")), nil, ErrBadFrame},
		{"new message inside a fragmented one", cat(frame(0x02, []byte("a")), frame(0x82, []byte("b"))), nil, ErrBadFrame},
		{"close with a 1-byte body", frame(0x88, []byte{3}), nil, ErrBadFrame},
		{"close reason not UTF-8", frame(0x88, []byte{3, 0xe8, 0xff}), nil, ErrBadFrame},
		{"64-bit length with high bit", []byte{0x82, 0xff, 0x80, 0, 0, 0, 0, 0, 0, 1}, nil, ErrBadFrame},
		{"message over the limit, header only", []byte{0x82, 0xff, 0, 0, 0, 1, 0, 0, 0, 0}, nil, ErrFrameTooLarge},
		{"fragments adding up over the limit", cat(frame(0x02, big[:60000]), frame(0x80, big[:60000])), nil, ErrFrameTooLarge},
		{"events before an error are kept", cat(frame(0x82, []byte("a")), frame(0x82, []byte("b"), true)),
			[]wsEvent{{opBinary, []byte("a")}}, ErrBadFrame},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			for _, chunk := range []int{len(tt.stream), 1, 3, 7} {
				p := frameParser{maxMessage: 100000}
				var got []wsEvent
				var err error
				for i := 0; i < len(tt.stream) && err == nil; i += chunk {
					var evs []wsEvent
					evs, err = p.feed(tt.stream[i:min(i+chunk, len(tt.stream))])
					got = append(got, evs...)
				}
				if !errors.Is(err, tt.err) {
					t.Fatalf("chunk %d: error %v, want %v", chunk, err, tt.err)
				}
				if !eventsEqual(got, tt.want) {
					t.Fatalf("chunk %d: events %v, want %v", chunk, got, tt.want)
				}
				if err == nil && (p.pending != nil || p.msg != nil) {
					t.Fatalf("chunk %d: parser keeps buffers after whole frames (%d, %d bytes)", chunk, len(p.pending), len(p.msg))
				}
			}
		})
	}
}

func eventsEqual(a, b []wsEvent) bool {
	return slices.EqualFunc(a, b, func(x, y wsEvent) bool { return x.op == y.op && bytes.Equal(x.data, y.data) })
}

// FuzzFrameParser: any byte stream, cut anywhere, parses to the same
// events and error as the whole stream, without panicking; a stream made
// of valid frames round-trips.
func FuzzFrameParser(f *testing.F) {
	f.Add(frame(0x82, []byte("hello")), uint8(1))
	f.Add(cat(frame(0x02, []byte("ab")), frame(0x89, []byte("p")), frame(0x80, []byte("cd"))), uint8(3))
	f.Add([]byte{0x82, 0xff, 0, 0, 0, 1, 0, 0, 0, 0}, uint8(2))
	f.Add(frame(0x88, []byte{0x03, 0xe8}), uint8(5))
	f.Fuzz(func(t *testing.T, stream []byte, cut uint8) {
		whole := frameParser{maxMessage: 1 << 16}
		want, wantErr := whole.feed(stream)
		step := int(cut%16) + 1
		p := frameParser{maxMessage: 1 << 16}
		var got []wsEvent
		var err error
		for i := 0; i < len(stream) && err == nil; i += step {
			var evs []wsEvent
			evs, err = p.feed(stream[i:min(i+step, len(stream))])
			got = append(got, evs...)
		}
		if (err == nil) != (wantErr == nil) {
			t.Fatalf("chunked error %v, whole error %v", err, wantErr)
		}
		if !eventsEqual(got, want) {
			t.Fatalf("chunked events differ from whole-stream events")
		}
		// Round trip: the binary messages found, re-framed, parse back.
		var again []byte
		var bin []wsEvent
		for _, ev := range want {
			if ev.op == opBinary {
				again = append(again, frame(0x82, ev.data)...)
				bin = append(bin, ev)
			}
		}
		rt := frameParser{maxMessage: 1 << 16}
		back, err := rt.feed(again)
		if err != nil || !eventsEqual(back, bin) {
			t.Fatalf("re-framed messages do not parse back: %v", err)
		}
	})
}
