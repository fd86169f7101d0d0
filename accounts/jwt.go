package accounts

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"strings"
	"time"
)

// Token kinds, in the typ claim: an access token cannot pass for a share
// token or the other way round.
const (
	kindAccess = "access"
	kindShare  = "share"
)

// claims are the JWT claims we issue.
type claims struct {
	Issuer  string `json:"iss"`
	Subject string `json:"sub"` // user id (access) or share id (share)
	Kind    string `json:"typ"`
	Session string `json:"sid,omitempty"`
	App     string `json:"app,omitempty"`
	Mode    string `json:"mode,omitempty"`
	Issued  int64  `json:"iat"`
	Expires int64  `json:"exp"`
}

// signer issues and verifies HS256 JWTs (RFC 7519) with one key.
type signer struct {
	key    []byte
	issuer string
}

var jwtB64 = base64.RawURLEncoding

// jwtHeader is the only header we issue or accept.
const jwtHeader = `{"alg":"HS256","typ":"JWT"}`

func (s signer) sign(c claims) (string, error) {
	c.Issuer = s.issuer
	payload, err := json.Marshal(c)
	if err != nil {
		return "", fmt.Errorf("sign token: %w", err)
	}
	head := jwtB64.EncodeToString([]byte(jwtHeader)) + "." + jwtB64.EncodeToString(payload)
	return head + "." + jwtB64.EncodeToString(s.mac(head)), nil
}

func (s signer) mac(signed string) []byte {
	m := hmac.New(sha256.New, s.key)
	m.Write([]byte(signed))
	return m.Sum(nil)
}

// verify checks the signature, header, issuer, kind and expiry of tok.
func (s signer) verify(tok, kind string, now time.Time) (claims, error) {
	c, err := s.parse(tok, kind)
	if err == nil && now.Unix() >= c.Expires {
		return c, ErrTokenExpired
	}
	return c, err
}

// parse checks everything verify does but expiry.
func (s signer) parse(tok, kind string) (claims, error) {
	var c claims
	parts := strings.Split(tok, ".")
	if len(parts) != 3 {
		return c, fmt.Errorf("%w: not a JWT", ErrTokenInvalid)
	}
	sig, err := jwtB64.DecodeString(parts[2])
	if err != nil || !hmac.Equal(sig, s.mac(parts[0]+"."+parts[1])) {
		return c, fmt.Errorf("%w: bad signature", ErrTokenInvalid)
	}
	var head struct {
		Alg string `json:"alg"`
		Typ string `json:"typ"`
	}
	if raw, err := jwtB64.DecodeString(parts[0]); err != nil || json.Unmarshal(raw, &head) != nil || head.Alg != "HS256" {
		return c, fmt.Errorf("%w: unsupported header", ErrTokenInvalid)
	}
	raw, err := jwtB64.DecodeString(parts[1])
	if err != nil || json.Unmarshal(raw, &c) != nil {
		return c, fmt.Errorf("%w: bad claims", ErrTokenInvalid)
	}
	switch {
	case c.Issuer != s.issuer:
		return c, fmt.Errorf("%w: issuer %q", ErrTokenInvalid, c.Issuer)
	case c.Kind != kind:
		return c, fmt.Errorf("%w: a %s token, not %s", ErrTokenInvalid, c.Kind, kind)
	case c.Subject == "":
		return c, fmt.Errorf("%w: no subject", ErrTokenInvalid)
	}
	return c, nil
}

// tokenKind reads the typ claim without verifying anything, to route a
// token to the right verification.
func tokenKind(tok string) string {
	parts := strings.Split(tok, ".")
	if len(parts) != 3 {
		return ""
	}
	raw, err := jwtB64.DecodeString(parts[1])
	if err != nil {
		return ""
	}
	var c struct {
		Kind string `json:"typ"`
	}
	if json.Unmarshal(raw, &c) != nil {
		return ""
	}
	return c.Kind
}
