package ui

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"
)

var testKey = []byte("0123456789abcdef0123456789abcdef")

const testApp = "2FVJ1jeeHVaps351NBSPS8jHKscT"

func testClaims(now time.Time) EmbedClaims {
	return EmbedClaims{App: testApp, Mode: ModeView, Origins: []string{"https://host.example"},
		Expires: now.Add(time.Hour).Unix(), Issued: now.Unix()}
}

func TestEmbedTokenVerifies(t *testing.T) {
	now := time.Unix(1_700_000_000, 0)
	tok, err := SignEmbedToken(testKey, testClaims(now))
	if err != nil {
		t.Fatal(err)
	}
	c, err := VerifyEmbedToken(testKey, tok, now)
	if err != nil {
		t.Fatal(err)
	}
	if c.App != testApp || c.Mode != ModeView || c.Version != 1 || !c.AllowsOrigin("https://host.example") || c.AllowsOrigin("https://evil.example") {
		t.Fatalf("claims = %+v", c)
	}
	if err := c.CheckTarget(testApp, ""); err != nil {
		t.Fatal(err)
	}
}

func TestEmbedTokenRefusals(t *testing.T) {
	now := time.Unix(1_700_000_000, 0)
	good, err := SignEmbedToken(testKey, testClaims(now))
	if err != nil {
		t.Fatal(err)
	}
	payload, sig, _ := strings.Cut(good, ".")
	other, _ := SignEmbedToken([]byte("another-key-another-key-another!!"), testClaims(now))
	// A payload granting run mode, carrying the original signature.
	runClaims := testClaims(now)
	runClaims.Mode = ModeRun
	forged, _ := SignEmbedToken(testKey, runClaims)
	forgedPayload, _, _ := strings.Cut(forged, ".")
	flipped := []byte(sig)
	flipped[3] ^= 1
	for _, c := range []struct {
		name  string
		token string
		at    time.Time
		want  error
	}{
		{"tampered payload", forgedPayload + "." + sig, now, ErrTokenSignature},
		{"tampered signature", payload + "." + string(flipped), now, ErrTokenSignature},
		{"signed by another key", other, now, ErrTokenSignature},
		{"expired", good, now.Add(time.Hour), ErrTokenExpired},
		{"long expired", good, now.Add(100 * time.Hour), ErrTokenExpired},
		{"no dot", payload, now, ErrTokenMalformed},
		{"empty", "", now, ErrTokenMalformed},
		{"bad base64", payload + ".!!!", now, ErrTokenMalformed},
		{"too long", strings.Repeat("a", 5000) + "." + sig, now, ErrTokenMalformed},
	} {
		t.Run(c.name, func(t *testing.T) {
			_, err := VerifyEmbedToken(testKey, c.token, c.at)
			if !errors.Is(err, c.want) {
				t.Fatalf("err = %v, want %v", err, c.want)
			}
		})
	}
}

func TestEmbedTokenScopedToAppAndPage(t *testing.T) {
	now := time.Now()
	c := testClaims(now)
	c.Page = "about"
	if err := c.CheckTarget("3MXErhxK1Ykg1tUai6fH3TQRp1eB", ""); !errors.Is(err, ErrTokenWrongApp) {
		t.Fatalf("other app: %v", err)
	}
	if err := c.CheckTarget(testApp, "home"); !errors.Is(err, ErrTokenWrongPage) {
		t.Fatalf("other page: %v", err)
	}
	if err := c.CheckTarget(testApp, "about"); err != nil {
		t.Fatalf("its page: %v", err)
	}
}

func TestSignRefusesBadClaims(t *testing.T) {
	now := time.Now()
	for name, mut := range map[string]func(*EmbedClaims){
		"mode":          func(c *EmbedClaims) { c.Mode = "admin" },
		"app":           func(c *EmbedClaims) { c.App = "not/an/id" },
		"page":          func(c *EmbedClaims) { c.Page = "a b" },
		"no expiry":     func(c *EmbedClaims) { c.Expires = 0 },
		"origin path":   func(c *EmbedClaims) { c.Origins = []string{"https://a.example/path"} },
		"origin csp":    func(c *EmbedClaims) { c.Origins = []string{"https://a.example; script-src *"} },
		"origin scheme": func(c *EmbedClaims) { c.Origins = []string{"javascript://x"} },
	} {
		c := testClaims(now)
		mut(&c)
		if _, err := SignEmbedToken(testKey, c); !errors.Is(err, ErrInvalidClaims) {
			t.Errorf("%s: err = %v", name, err)
		}
	}
	if _, err := SignEmbedToken([]byte("short"), testClaims(now)); err == nil {
		t.Error("short key accepted")
	}
}

func TestHMACSignerUsesItsClock(t *testing.T) {
	now := time.Unix(1_700_000_000, 0)
	s := HMACSigner{Key: testKey, Now: func() time.Time { return now }}
	tok, err := s.Sign(testClaims(now))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.Verify(context.Background(), tok); err != nil {
		t.Fatal(err)
	}
	now = now.Add(2 * time.Hour)
	if _, err := s.Verify(context.Background(), tok); !errors.Is(err, ErrTokenExpired) {
		t.Fatalf("err = %v", err)
	}
}

func FuzzVerifyEmbedToken(f *testing.F) {
	good, _ := SignEmbedToken(testKey, testClaims(time.Unix(1_700_000_000, 0)))
	f.Add(good)
	f.Add("a.b")
	f.Fuzz(func(t *testing.T, tok string) {
		c, err := VerifyEmbedToken(testKey, tok, time.Unix(1_700_000_000, 0))
		if err == nil && c.Validate() != nil {
			t.Fatalf("accepted invalid claims %+v", c)
		}
	})
}
