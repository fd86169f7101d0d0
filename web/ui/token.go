package ui

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"regexp"
	"slices"
	"strings"
	"time"
)

// Embed token errors. VerifyEmbedToken wraps one of them with details;
// the embed page tells them apart with errors.Is.
var (
	ErrTokenMalformed = errors.New("embed token is malformed")
	ErrTokenSignature = errors.New("embed token signature does not match")
	ErrTokenExpired   = errors.New("embed token has expired")
	ErrTokenRevoked   = errors.New("embed token was revoked")
	ErrTokenWrongApp  = errors.New("embed token is for another app")
	ErrTokenWrongPage = errors.New("embed token is for another page")
	ErrInvalidClaims  = errors.New("invalid embed token claims")
	// ErrSigningUnavailable: this TokenSigner only verifies; embeds are
	// issued elsewhere (the accounts API, under --auth on).
	ErrSigningUnavailable = errors.New("this server issues embed tokens through its accounts API")
)

// Embed modes.
const (
	ModeView = "view" // read-only: the app renders live, nothing is written
	ModeRun  = "run"  // interactive: clicks request handler runs in the document
)

// tokenVersion is the "v" claim of the tokens this package writes.
const tokenVersion = 1

// MaxTokenTTL bounds how long an embed token may be valid.
const MaxTokenTTL = 366 * 24 * time.Hour

// EmbedClaims is what an embed token grants: one app (and optionally one
// page of it), in one mode, framed by the listed origins, until Expires.
type EmbedClaims struct {
	Version int      `json:"v"`
	App     string   `json:"app"`            // automerge document id (no "automerge:" prefix)
	Page    string   `json:"page,omitempty"` // when set, only this page is shown
	Mode    string   `json:"mode"`           // ModeView or ModeRun
	Origins []string `json:"origins"`        // origins allowed to frame the embed ("*": any)
	Expires int64    `json:"exp"`            // unix seconds
	Issued  int64    `json:"iat,omitempty"`  // unix seconds
}

// ExpiresAt returns the expiry as a time.
func (c EmbedClaims) ExpiresAt() time.Time { return time.Unix(c.Expires, 0) }

// AllowsOrigin reports whether a page of origin may frame the embed and
// exchange messages with it.
func (c EmbedClaims) AllowsOrigin(origin string) bool {
	return slices.Contains(c.Origins, "*") || slices.Contains(c.Origins, origin)
}

var appIDPattern = regexp.MustCompile(`^[1-9A-HJ-NP-Za-km-z]{1,128}$`) // bs58
var pageIDPattern = regexp.MustCompile(`^[A-Za-z0-9_-]{1,64}$`)

// Validate checks the claims' shape (not the expiry).
func (c EmbedClaims) Validate() error {
	switch {
	case c.Version != tokenVersion:
		return fmt.Errorf("%w: version %d, want %d", ErrInvalidClaims, c.Version, tokenVersion)
	case !appIDPattern.MatchString(c.App):
		return fmt.Errorf("%w: app %q is not a document id", ErrInvalidClaims, truncate(c.App, 40))
	case c.Page != "" && !pageIDPattern.MatchString(c.Page):
		return fmt.Errorf("%w: page %q", ErrInvalidClaims, truncate(c.Page, 40))
	case c.Mode != ModeView && c.Mode != ModeRun:
		return fmt.Errorf("%w: mode %q, want %s or %s", ErrInvalidClaims, truncate(c.Mode, 20), ModeView, ModeRun)
	case c.Expires <= 0:
		return fmt.Errorf("%w: no expiry", ErrInvalidClaims)
	case len(c.Origins) > 20:
		return fmt.Errorf("%w: more than 20 origins", ErrInvalidClaims)
	}
	for _, o := range c.Origins {
		if err := checkOrigin(o); err != nil {
			return fmt.Errorf("%w: %v", ErrInvalidClaims, err)
		}
	}
	return nil
}

// checkOrigin accepts "*" and scheme://host[:port] with nothing after.
// Origins go into a Content-Security-Policy header, so nothing else may.
func checkOrigin(o string) error {
	if o == "*" {
		return nil
	}
	u, err := url.Parse(o)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" ||
		u.Path != "" || u.RawQuery != "" || u.Fragment != "" || u.User != nil ||
		strings.ContainsAny(o, " ;,'\"\\") {
		return fmt.Errorf("origin %q: want scheme://host[:port]", truncate(o, 80))
	}
	return nil
}

// NormalizeOrigin lowercases an origin and drops a trailing slash, so
// what users paste ("https://Example.com/") matches what browsers send.
func NormalizeOrigin(o string) string {
	o = strings.TrimSpace(o)
	if o == "*" {
		return o
	}
	return strings.ToLower(strings.TrimSuffix(o, "/"))
}

// TokenSigner issues and checks embed tokens. HMACSigner is the built-in
// one; an accounts service supplies its own (revocable share tokens), whose
// Sign may fail with ErrSigningUnavailable.
type TokenSigner interface {
	Sign(EmbedClaims) (string, error)
	// Verify checks the signature, the expiry and (when the signer keeps
	// them) revocation, not the app or page. ctx bounds any lookup.
	Verify(ctx context.Context, token string) (EmbedClaims, error)
}

// HMACSigner signs embed tokens with HMAC-SHA256 under one key.
type HMACSigner struct {
	Key []byte
	Now func() time.Time // nil: time.Now
}

// Sign implements TokenSigner.
func (s HMACSigner) Sign(c EmbedClaims) (string, error) { return SignEmbedToken(s.Key, c) }

// Verify implements TokenSigner.
func (s HMACSigner) Verify(_ context.Context, token string) (EmbedClaims, error) {
	now := time.Now
	if s.Now != nil {
		now = s.Now
	}
	return VerifyEmbedToken(s.Key, token, now())
}

const minKeyLen = 16

var b64 = base64.RawURLEncoding

// SignEmbedToken returns base64url(claims JSON) "." base64url(HMAC-SHA256
// of the first part under key). Claims without a version get the current
// one.
func SignEmbedToken(key []byte, c EmbedClaims) (string, error) {
	if len(key) < minKeyLen {
		return "", fmt.Errorf("embed signing key: want at least %d bytes, got %d", minKeyLen, len(key))
	}
	if c.Version == 0 {
		c.Version = tokenVersion
	}
	if err := c.Validate(); err != nil {
		return "", err
	}
	body, err := json.Marshal(c)
	if err != nil {
		return "", fmt.Errorf("encode claims: %w", err)
	}
	payload := b64.EncodeToString(body)
	return payload + "." + b64.EncodeToString(mac(key, payload)), nil
}

// VerifyEmbedToken checks the token's signature under key, then its claims
// and expiry at now. It does not check which app or page is asked for:
// CheckTarget does.
func VerifyEmbedToken(key []byte, token string, now time.Time) (EmbedClaims, error) {
	var c EmbedClaims
	if len(token) > 4096 {
		return c, fmt.Errorf("%w: longer than 4096 bytes", ErrTokenMalformed)
	}
	payload, sig, ok := strings.Cut(token, ".")
	if !ok || payload == "" || sig == "" {
		return c, fmt.Errorf("%w: want payload.signature", ErrTokenMalformed)
	}
	got, err := b64.DecodeString(sig)
	if err != nil {
		return c, fmt.Errorf("%w: signature is not base64url", ErrTokenMalformed)
	}
	if len(key) < minKeyLen || !hmac.Equal(got, mac(key, payload)) {
		return c, ErrTokenSignature
	}
	body, err := b64.DecodeString(payload)
	if err != nil {
		return c, fmt.Errorf("%w: payload is not base64url", ErrTokenMalformed)
	}
	if err := json.Unmarshal(body, &c); err != nil {
		return c, fmt.Errorf("%w: %v", ErrTokenMalformed, err)
	}
	if err := c.Validate(); err != nil {
		return c, fmt.Errorf("%w: %v", ErrTokenMalformed, err)
	}
	if !now.Before(c.ExpiresAt()) {
		return c, fmt.Errorf("%w: at %s", ErrTokenExpired, c.ExpiresAt().UTC().Format(time.RFC3339))
	}
	return c, nil
}

// CheckTarget reports whether the claims cover app (and page, when the
// request names one).
func (c EmbedClaims) CheckTarget(app, page string) error {
	if c.App != app {
		return ErrTokenWrongApp
	}
	if c.Page != "" && page != "" && c.Page != page {
		return ErrTokenWrongPage
	}
	return nil
}

func mac(key []byte, payload string) []byte {
	h := hmac.New(sha256.New, key)
	h.Write([]byte(payload))
	return h.Sum(nil)
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "…"
}
