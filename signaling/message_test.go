package signaling_test

import (
	"encoding/json"
	"testing"

	"github.com/casual-dev/casual/signaling"
)

func FuzzDecodeMessage(f *testing.F) {
	for _, s := range []string{
		`{"type":"offer","to":"bob","sdp":"v=0\r\no=- 1 1 IN IP4 0.0.0.0\r\ns=-\r\nt=0 0\r\n"}`,
		`{"type":"candidate","to":"bob","candidate":{"candidate":"candidate:1 1 udp 2122260223 127.0.0.1 50000 typ host","sdpMid":"0","sdpMLineIndex":0}}`,
		`{"type":"candidate","to":"bob","candidate":{"candidate":""}}`,
		`{"type":"answer"}`,
		`{"type":5}`,
		`[]`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		m, err := signaling.DecodeMessage(b)
		if err != nil {
			if code := signaling.ErrorCode(err); code == "internal" {
				t.Fatalf("error without a code: %v", err)
			}
			return
		}
		// A valid message survives re-encoding, as the relay forwards it.
		out, err := json.Marshal(m)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := signaling.DecodeMessage(out); err != nil {
			t.Fatalf("re-encoded %s: %v", out, err)
		}
	})
}
