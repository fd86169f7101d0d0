package ui

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"
)

// revocableSigner stands in for the accounts service's embed shares: it
// only verifies (shares are made elsewhere), and a revoked share's token is
// refused from then on.
type revocableSigner struct {
	mu      sync.Mutex
	shares  map[string]EmbedClaims
	revoked map[string]bool
}

func (s *revocableSigner) Sign(EmbedClaims) (string, error) { return "", ErrSigningUnavailable }

func (s *revocableSigner) Verify(ctx context.Context, token string) (EmbedClaims, error) {
	if err := ctx.Err(); err != nil {
		return EmbedClaims{}, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	c, ok := s.shares[token]
	switch {
	case !ok:
		return EmbedClaims{}, ErrTokenSignature
	case s.revoked[token]:
		return EmbedClaims{}, fmt.Errorf("%w: share %s", ErrTokenRevoked, token)
	}
	return c, nil
}

func TestEmbedWithRevocableSigner(t *testing.T) {
	signer := &revocableSigner{
		shares: map[string]EmbedClaims{"share-1": {Version: 1, App: testApp, Mode: ModeView, Origins: []string{"*"},
			Expires: time.Now().Add(time.Hour).Unix()}},
		revoked: map[string]bool{},
	}
	u := New(Config{Tokens: signer, Auth: true})
	u.assets = fakeAssets()
	mux := http.NewServeMux()
	u.Routes(mux)
	srv := httptest.NewServer(mux)
	defer srv.Close()
	get := func(path string) (*http.Response, string) {
		t.Helper()
		rec := httptest.NewRecorder()
		mux.ServeHTTP(rec, httptest.NewRequest("GET", path, nil))
		return rec.Result(), rec.Body.String()
	}

	resp, body := get("/embed/" + testApp + "?token=share-1")
	if resp.StatusCode != 200 || !strings.Contains(body, `"token":"share-1"`) {
		t.Fatalf("live share: status %d\n%s", resp.StatusCode, body)
	}
	if csp := resp.Header.Get("Content-Security-Policy"); !strings.Contains(csp, "frame-ancestors *") {
		t.Fatalf("a share names no sites, so any may frame it: CSP %q", csp)
	}

	signer.mu.Lock()
	signer.revoked["share-1"] = true
	signer.mu.Unlock()
	resp, body = get("/embed/" + testApp + "?token=share-1")
	if resp.StatusCode != http.StatusUnauthorized || !strings.Contains(body, `data-error="revoked"`) || strings.Contains(body, "<script") {
		t.Fatalf("revoked share: status %d\n%s", resp.StatusCode, body)
	}

	// Embed tokens are not signed here: the page is told where they come from.
	res, err := http.Post(srv.URL+"/app/"+testApp+"/embed-token", "application/json", strings.NewReader(`{"mode":"view"}`))
	if err != nil {
		t.Fatal(err)
	}
	var out struct {
		Error struct{ Code, Message string }
	}
	json.NewDecoder(res.Body).Decode(&out)
	res.Body.Close()
	if res.StatusCode != http.StatusNotImplemented || out.Error.Code != "not_configured" ||
		!strings.Contains(out.Error.Message, "/v1/apps/"+testApp+"/shares") {
		t.Fatalf("embed-token: status %d, %+v", res.StatusCode, out)
	}

	// The builder learns that accounts are on from its configuration.
	_, body = get("/edit/" + url.PathEscape(testApp))
	if !strings.Contains(body, `"auth":true`) {
		t.Fatalf("builder config lacks auth:\n%s", body)
	}
}
