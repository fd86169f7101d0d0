package accounts

import (
	"bytes"
	"crypto/rand"
	"errors"
	"net/url"
	"strings"
	"testing"
	"time"
)

func TestHOTPMatchesRFC4226(t *testing.T) {
	key := []byte("12345678901234567890")
	for i, want := range []string{"755224", "287082", "359152", "969429", "338314", "254676", "287922", "162583", "399871", "520489"} {
		if got := hotp(key, uint64(i), 6); got != want {
			t.Errorf("HOTP(%d) = %s, want %s", i, got, want)
		}
	}
}

func TestTOTPMatchesRFC6238(t *testing.T) {
	key := []byte("12345678901234567890")
	for _, tc := range []struct {
		unix int64
		want string
	}{{59, "94287082"}, {1111111109, "07081804"}, {1111111111, "14050471"}, {1234567890, "89005924"},
		{2000000000, "69279037"}, {20000000000, "65353130"}} {
		if got := hotp(key, uint64(totpStep(time.Unix(tc.unix, 0))), 8); got != tc.want {
			t.Errorf("TOTP(%d) = %s, want %s", tc.unix, got, tc.want)
		}
	}
}

func TestCheckTOTPAcceptsOneStepOfSkew(t *testing.T) {
	secret, err := newTOTPSecret(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	now := time.Date(2025, 1, 1, 0, 0, 15, 0, time.UTC)
	for _, tc := range []struct {
		name  string
		at    time.Duration
		ok    bool
		delta int64
	}{
		{"same step", 0, true, 0},
		{"previous step", -30 * time.Second, true, -1},
		{"next step", 30 * time.Second, true, 1},
		{"two steps ago", -60 * time.Second, false, 0},
		{"two steps ahead", 60 * time.Second, false, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			code, err := totpCode(secret, now.Add(tc.at))
			if err != nil {
				t.Fatal(err)
			}
			step, ok := checkTOTP(secret, code, now)
			if ok != tc.ok || ok && step != totpStep(now)+tc.delta {
				t.Fatalf("check = %d, %v", step, ok)
			}
		})
	}
	if _, ok := checkTOTP(secret, "12345", now); ok {
		t.Fatal("short code accepted")
	}
}

func TestOTPAuthURL(t *testing.T) {
	u, err := url.Parse(otpauthURL("casual", "ann@example.com", "ABCDEF"))
	if err != nil {
		t.Fatal(err)
	}
	q := u.Query()
	if u.Scheme != "otpauth" || u.Host != "totp" || u.Path != "/casual:ann@example.com" || q.Get("secret") != "ABCDEF" ||
		q.Get("issuer") != "casual" || q.Get("digits") != "6" || q.Get("period") != "30" {
		t.Fatalf("bad url %s", u)
	}
}

func TestBackupCodesAreUniqueAndNormalized(t *testing.T) {
	codes, digests, err := newBackupCodes(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	seen := map[string]bool{}
	for i, c := range codes {
		if len(c) != 11 || c[5] != '-' || seen[c] {
			t.Fatalf("bad or repeated code %q", c)
		}
		seen[c] = true
		for _, variant := range []string{c, strings.ToUpper(c), strings.ReplaceAll(c, "-", ""), " " + c + " "} {
			if backupDigest(variant) != digests[i] {
				t.Fatalf("%q does not match its code", variant)
			}
		}
	}
}

func TestPasswordHashing(t *testing.T) {
	p := Argon2Params{Memory: 64, Time: 1, Threads: 1, SaltLen: 16, KeyLen: 32}
	h, err := hashPassword(p, rand.Reader, "correct horse")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(h, "$argon2id$v=19$m=64,t=1,p=1$") {
		t.Fatalf("hash %s", h)
	}
	h2, _ := hashPassword(p, rand.Reader, "correct horse")
	if h == h2 {
		t.Fatal("same hash twice: no salt")
	}
	for _, tc := range []struct {
		name, hash, pw string
		want           Argon2Params
		ok, rehash     bool
	}{
		{"right", h, "correct horse", p, true, false},
		{"wrong", h, "correct horsE", p, false, false},
		{"stronger params wanted", h, "correct horse", DefaultArgon2(), true, true},
		{"garbage", "$argon2id$v=19$m=x$", "correct horse", p, false, false},
		{"other algorithm", "$2a$12$abcdefghijklmnopqrstuv", "x", p, false, false},
		{"empty", "", "", p, false, false},
		{"zero cost", "$argon2id$v=19$m=0,t=0,p=0$c2FsdA$a2V5", "x", p, false, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ok, rehash := verifyPassword(tc.hash, tc.pw, tc.want)
			if ok != tc.ok || rehash != tc.rehash {
				t.Fatalf("verify = %v, %v", ok, rehash)
			}
		})
	}
}

func TestJWTRefusesTamperingExpiryAndConfusion(t *testing.T) {
	s := signer{key: bytes.Repeat([]byte{7}, 32), issuer: "casual"}
	now := time.Unix(1_700_000_000, 0)
	tok, err := s.sign(claims{Subject: "usr_1", Kind: kindAccess, Session: "ses_1", Issued: now.Unix(), Expires: now.Add(15 * time.Minute).Unix()})
	if err != nil {
		t.Fatal(err)
	}
	c, err := s.verify(tok, kindAccess, now)
	if err != nil || c.Subject != "usr_1" || c.Session != "ses_1" {
		t.Fatalf("verify: %+v %v", c, err)
	}
	parts := strings.Split(tok, ".")
	forged, _ := jwtB64.DecodeString(parts[1])
	forged = bytes.Replace(forged, []byte("usr_1"), []byte("usr_2"), 1)
	none := jwtB64.EncodeToString([]byte(`{"alg":"none","typ":"JWT"}`))
	other := signer{key: bytes.Repeat([]byte{8}, 32), issuer: "casual"}
	otherTok, _ := other.sign(claims{Subject: "usr_1", Kind: kindAccess, Expires: now.Add(time.Hour).Unix()})
	shareTok, _ := s.sign(claims{Subject: "shr_1", Kind: kindShare, Expires: now.Add(time.Hour).Unix()})
	foreign := signer{key: s.key, issuer: "elsewhere"}
	foreignTok, _ := foreign.sign(claims{Subject: "usr_1", Kind: kindAccess, Expires: now.Add(time.Hour).Unix()})
	for _, tc := range []struct {
		name string
		tok  string
		at   time.Time
		want error
	}{
		{"changed claims", parts[0] + "." + jwtB64.EncodeToString(forged) + "." + parts[2], now, ErrTokenInvalid},
		{"flipped signature", parts[0] + "." + parts[1] + "." + flip(parts[2]), now, ErrTokenInvalid},
		{"alg none", none + "." + parts[1] + ".", now, ErrTokenInvalid},
		{"alg none with our signature", none + "." + parts[1] + "." + parts[2], now, ErrTokenInvalid},
		{"other key", otherTok, now, ErrTokenInvalid},
		{"share token as access token", shareTok, now, ErrTokenInvalid},
		{"other issuer", foreignTok, now, ErrTokenInvalid},
		{"expired", tok, now.Add(15 * time.Minute), ErrTokenExpired},
		{"garbage", "not.a.jwt", now, ErrTokenInvalid},
		{"empty", "", now, ErrTokenInvalid},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if _, err := s.verify(tc.tok, kindAccess, tc.at); !errors.Is(err, tc.want) {
				t.Fatalf("verify = %v, want %v", err, tc.want)
			}
		})
	}
}

func flip(s string) string {
	b := []byte(s)
	if b[0] == 'A' {
		b[0] = 'B'
	} else {
		b[0] = 'A'
	}
	return string(b)
}

func TestCheckAuthOff(t *testing.T) {
	for _, tc := range []struct {
		addr string
		ok   bool
	}{{"127.0.0.1:8080", true}, {"[::1]:80", true}, {"localhost:1", true}, {"127.3.4.5:9", true},
		{"0.0.0.0:8080", false}, {":8080", false}, {"10.0.0.1:8080", false}, {"example.com:80", false}, {"nonsense", false}} {
		if err := CheckAuthOff(tc.addr); (err == nil) != tc.ok {
			t.Errorf("CheckAuthOff(%q) = %v", tc.addr, err)
		}
	}
}

func TestNormalizeEmail(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{" Ann@Example.COM ", "ann@example.com"}, {"a@localhost", "a@localhost"},
		{"no-at-sign", ""}, {"Ann <ann@example.com>", ""}, {"a@b", ""}, {"@example.com", ""},
	} {
		got, err := normalizeEmail(tc.in)
		if got != tc.want || (err == nil) != (tc.want != "") {
			t.Errorf("normalizeEmail(%q) = %q, %v", tc.in, got, err)
		}
	}
}
