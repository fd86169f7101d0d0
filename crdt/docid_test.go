package crdt

import (
	"encoding/hex"
	"errors"
	"testing"
)

func TestDocIDMatchesAutomergeRepoVector(t *testing.T) {
	raw, _ := hex.DecodeString("59b55f0d88534cfdb51a847997943723")
	if got, want := DocIDFromBytes(raw), DocID("2FVJ1jeeHVaps351NBSPS8jHKscT"); got != want {
		t.Fatalf("DocIDFromBytes = %s, want %s", got, want)
	}
	id, err := ParseDocID("automerge:2FVJ1jeeHVaps351NBSPS8jHKscT#abc")
	if err != nil || hex.EncodeToString(id.Bytes()) != "59b55f0d88534cfdb51a847997943723" {
		t.Fatalf("ParseDocID(url) = %s, %v", id, err)
	}
}

func TestParseDocIDRejectsInvalid(t *testing.T) {
	for _, s := range []string{"", "2FVJ1jeeHVaps351NBSPS8jHKscU", "0OIl", "abc", string(make([]byte, 200))} {
		if _, err := ParseDocID(s); !errors.Is(err, ErrInvalidDocID) {
			t.Errorf("ParseDocID(%q) err = %v, want ErrInvalidDocID", s, err)
		}
	}
}

func TestNewDocIDRoundTrips(t *testing.T) {
	for i := 0; i < 100; i++ {
		id := NewDocID()
		if got, err := ParseDocID(string(id)); err != nil || got != id || len(id.Bytes()) != 16 {
			t.Fatalf("round trip of %s: %s, %v", id, got, err)
		}
	}
}
