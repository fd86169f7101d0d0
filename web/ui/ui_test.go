package ui

import (
	"compress/gzip"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/casual-dev/casual/canvas"
	"github.com/casual-dev/casual/crdt"
	"github.com/casual-dev/casual/rooms"
	"github.com/casual-dev/casual/store/embedded"
)

// fakeAssets stands in for the bundle, which is only present after
// scripts/build-web.sh ran.
func fakeAssets() *assets {
	a := &assets{files: map[string]*asset{}}
	for name, body := range map[string]string{
		"builder.js": "console.log('builder')" + strings.Repeat(" ", 4000), "builder.css": "body{}",
		"embed.js": "console.log('embed')", "embed.css": "body{}", "automerge.wasm": "\x00asm",
	} {
		ct := "text/javascript; charset=utf-8"
		if strings.HasSuffix(name, ".css") {
			ct = "text/css; charset=utf-8"
		}
		a.files[name] = &asset{name: name, body: []byte(body), hash: "h" + name[:3], ctype: ct}
	}
	return a
}

type testUI struct {
	*UI
	srv   *httptest.Server
	now   time.Time
	rooms *rooms.Manager
}

func newTestUI(t *testing.T) *testUI {
	t.Helper()
	st, err := embedded.Open(context.Background(), t.TempDir(), embedded.Options{})
	if err != nil {
		t.Fatal(err)
	}
	mgr := rooms.NewManager(st, rooms.Config{}, time.Second)
	tu := &testUI{now: time.Unix(1_700_000_000, 0), rooms: mgr}
	clock := func() time.Time { return tu.now }
	tu.UI = New(Config{Apps: RoomApps{Rooms: mgr}, Tokens: HMACSigner{Key: testKey, Now: clock}, Now: clock})
	tu.assets = fakeAssets()
	mux := http.NewServeMux()
	tu.Routes(mux)
	tu.srv = httptest.NewServer(mux)
	t.Cleanup(func() {
		tu.srv.Close()
		mgr.Close()
		st.Close()
	})
	return tu
}

func (tu *testUI) get(t *testing.T, path string) (*http.Response, string) {
	t.Helper()
	resp, err := http.Get(tu.srv.URL + path)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp, string(b)
}

func (tu *testUI) token(t *testing.T, c EmbedClaims) string {
	t.Helper()
	tok, err := SignEmbedToken(testKey, c)
	if err != nil {
		t.Fatal(err)
	}
	return tok
}

func TestRegistryEndpointServesCanvasRegistry(t *testing.T) {
	tu := newTestUI(t)
	resp, body := tu.get(t, "/app/registry")
	if resp.StatusCode != 200 || resp.Header.Get("Content-Type") != "application/json" {
		t.Fatalf("status %d %s", resp.StatusCode, resp.Header.Get("Content-Type"))
	}
	var reg struct {
		Schema     int                    `json:"schema"`
		Components []canvas.ComponentType `json:"components"`
	}
	if err := json.Unmarshal([]byte(body), &reg); err != nil {
		t.Fatal(err)
	}
	if reg.Schema != canvas.SchemaVersion || len(reg.Components) < 30 {
		t.Fatalf("schema %d, %d components", reg.Schema, len(reg.Components))
	}
}

func TestNewAppCreatesAValidDocumentFromTheTemplate(t *testing.T) {
	tu := newTestUI(t)
	_, body := tu.get(t, "/app/templates")
	if !strings.Contains(body, `"todo"`) || !strings.Contains(body, `"create":true`) {
		t.Fatalf("templates: %s", body)
	}
	resp, err := http.Post(tu.srv.URL+"/app/new?template=todo&name=Groceries", "", nil)
	if err != nil {
		t.Fatal(err)
	}
	var created struct{ ID, URL, Edit string }
	json.NewDecoder(resp.Body).Decode(&created)
	resp.Body.Close()
	if resp.StatusCode != http.StatusCreated || created.Edit != "/edit/"+created.ID || created.URL != "automerge:"+created.ID {
		t.Fatalf("status %d, %+v", resp.StatusCode, created)
	}
	id, err := crdt.ParseDocID(created.ID)
	if err != nil {
		t.Fatal(err)
	}
	room, err := tu.rooms.Acquire(context.Background(), id)
	if err != nil {
		t.Fatal(err)
	}
	defer tu.rooms.Release(id)
	err = room.Do(context.Background(), func(d *crdt.Doc) error {
		if probs := canvas.Validate(d); len(probs) > 0 {
			t.Errorf("invalid app: %v", probs)
		}
		name, _ := d.Get("meta", "name")
		if name != "Groceries" {
			t.Errorf("name = %v", name)
		}
		if tree, _ := canvas.Materialize(d); tree.Len() == 0 {
			t.Error("no components")
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

func TestNewAppRefusesUnknownTemplate(t *testing.T) {
	tu := newTestUI(t)
	resp, err := http.Post(tu.srv.URL+"/app/new?template=nope", "", nil)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusBadRequest {
		t.Fatalf("status %d", resp.StatusCode)
	}
}

func TestNewAppWithoutCreatorIsNotImplemented(t *testing.T) {
	u := New(Config{Tokens: HMACSigner{Key: testKey}})
	rec := httptest.NewRecorder()
	u.handleNewApp(rec, httptest.NewRequest("POST", "/app/new", nil))
	if rec.Code != http.StatusNotImplemented {
		t.Fatalf("status %d", rec.Code)
	}
}

func TestEmbedPageWithValidToken(t *testing.T) {
	tu := newTestUI(t)
	c := EmbedClaims{App: testApp, Mode: ModeRun, Origins: []string{"https://host.example", "http://127.0.0.1:9999"},
		Expires: tu.now.Add(time.Hour).Unix()}
	tok := tu.token(t, c)
	resp, body := tu.get(t, "/embed/"+testApp+"?token="+url.QueryEscape(tok))
	if resp.StatusCode != 200 {
		t.Fatalf("status %d: %s", resp.StatusCode, body)
	}
	csp := resp.Header.Get("Content-Security-Policy")
	if !strings.Contains(csp, "frame-ancestors https://host.example http://127.0.0.1:9999") {
		t.Fatalf("CSP %q", csp)
	}
	for _, want := range []string{`"mode":"run"`, `"app":"` + testApp + `"`, `/ui/embed.js?v=`, `"token":"`} {
		if !strings.Contains(body, want) {
			t.Errorf("page lacks %s:\n%s", want, body)
		}
	}
}

func TestEmbedPageRefusesBadTokens(t *testing.T) {
	tu := newTestUI(t)
	good := EmbedClaims{App: testApp, Mode: ModeView, Origins: []string{"https://host.example"}, Expires: tu.now.Add(time.Hour).Unix()}
	other := good
	other.App = "3MXErhxK1Ykg1tUai6fH3TQRp1eB"
	paged := good
	paged.Page = "about"
	expired := good
	expired.Expires = tu.now.Add(-time.Second).Unix()
	tampered := tu.token(t, good)
	tampered = tampered[:len(tampered)-2] + "AA"
	for _, c := range []struct {
		name, query string
		status      int
		code, text  string
	}{
		{"missing", "", 401, "missing", "needs a token"},
		{"tampered", "?token=" + tampered, 401, "invalid", "not valid"},
		{"garbage", "?token=hello", 401, "invalid", "not valid"},
		{"expired", "?token=" + tu.token(t, expired), 401, "expired", "expired"},
		{"other app", "?token=" + tu.token(t, other), 403, "wrong_app", "another app"},
		{"other page", "?page=home&token=" + tu.token(t, paged), 403, "wrong_page", "another page"},
	} {
		t.Run(c.name, func(t *testing.T) {
			resp, body := tu.get(t, "/embed/"+testApp+c.query)
			if resp.StatusCode != c.status || !strings.Contains(body, `data-error="`+c.code+`"`) || !strings.Contains(body, c.text) {
				t.Fatalf("status %d:\n%s", resp.StatusCode, body)
			}
			if strings.Contains(body, "<script") {
				t.Fatal("a refused embed must not load the page script")
			}
			if !strings.Contains(resp.Header.Get("Content-Security-Policy"), "default-src 'none'") {
				t.Fatalf("CSP %q", resp.Header.Get("Content-Security-Policy"))
			}
		})
	}
}

func TestEmbedTokenEndpointSignsScopedTokens(t *testing.T) {
	tu := newTestUI(t)
	body := `{"mode":"run","page":"home","origins":["https://Host.example/"],"ttl":"2h"}`
	resp, err := http.Post(tu.srv.URL+"/app/"+testApp+"/embed-token", "application/json", strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	var out struct{ Token, Path, Expires string }
	json.NewDecoder(resp.Body).Decode(&out)
	resp.Body.Close()
	if resp.StatusCode != 200 {
		t.Fatalf("status %d", resp.StatusCode)
	}
	c, err := VerifyEmbedToken(testKey, out.Token, tu.now)
	if err != nil {
		t.Fatal(err)
	}
	if c.App != testApp || c.Mode != ModeRun || c.Page != "home" || c.Origins[0] != "https://host.example" ||
		c.ExpiresAt() != tu.now.Add(2*time.Hour) || out.Path != "/embed/"+testApp+"?token="+out.Token {
		t.Fatalf("claims %+v, %+v", c, out)
	}
	for _, bad := range []string{`{"mode":"admin"}`, `{"ttl":"-1h"}`, `{"origins":["ftp://x"]}`, `{"extra":1}`, `nope`} {
		resp, err := http.Post(tu.srv.URL+"/app/"+testApp+"/embed-token", "application/json", strings.NewReader(bad))
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusBadRequest {
			t.Errorf("%s: status %d", bad, resp.StatusCode)
		}
	}
}

func TestBuilderPage(t *testing.T) {
	tu := newTestUI(t)
	resp, body := tu.get(t, "/edit/"+testApp)
	if resp.StatusCode != 200 || !strings.Contains(body, `"app":"`+testApp+`"`) || !strings.Contains(body, "/ui/builder.js?v=") {
		t.Fatalf("status %d:\n%s", resp.StatusCode, body)
	}
	if !strings.Contains(resp.Header.Get("Content-Security-Policy"), "frame-ancestors 'none'") {
		t.Fatalf("CSP %q", resp.Header.Get("Content-Security-Policy"))
	}
	if resp, _ := tu.get(t, "/"); resp.StatusCode != 200 {
		t.Fatalf("home: %d", resp.StatusCode)
	}
	if resp, _ := tu.get(t, "/edit/not-an-id!"); resp.StatusCode != 404 {
		t.Fatalf("bad id: %d", resp.StatusCode)
	}
}

func TestBuilderWithoutAssetsSaysHowToBuildThem(t *testing.T) {
	tu := newTestUI(t)
	tu.assets = &assets{files: map[string]*asset{}}
	resp, body := tu.get(t, "/")
	if resp.StatusCode != http.StatusServiceUnavailable || !strings.Contains(body, "build-web.sh") {
		t.Fatalf("status %d: %s", resp.StatusCode, body)
	}
}

func TestAssetsAreVersionedAndCompressed(t *testing.T) {
	tu := newTestUI(t)
	req, _ := http.NewRequest("GET", tu.srv.URL+tu.assets.url("builder.js"), nil)
	req.Header.Set("Accept-Encoding", "gzip")
	resp, err := http.DefaultTransport.RoundTrip(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.Header.Get("Content-Encoding") != "gzip" || !strings.Contains(resp.Header.Get("Cache-Control"), "immutable") ||
		!strings.HasPrefix(resp.Header.Get("Content-Type"), "text/javascript") {
		t.Fatalf("headers %v", resp.Header)
	}
	zr, err := gzip.NewReader(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(zr)
	if !strings.HasPrefix(string(b), "console.log('builder')") {
		t.Fatalf("body %q", b[:30])
	}
	// Unversioned: revalidate; unknown: 404.
	if resp, _ := tu.get(t, "/ui/builder.css"); resp.Header.Get("Cache-Control") != "no-cache" {
		t.Fatalf("unversioned: %v", resp.Header)
	}
	if resp, _ := tu.get(t, "/ui/nope.js"); resp.StatusCode != 404 {
		t.Fatalf("unknown asset: %d", resp.StatusCode)
	}
}

func TestEmbeddedDistHasItsReadme(t *testing.T) {
	if _, err := dist.ReadFile("dist/README.txt"); err != nil {
		t.Fatal(err)
	}
}
