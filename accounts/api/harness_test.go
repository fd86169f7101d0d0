package api_test

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/casual-dev/casual/accounts"
	"github.com/casual-dev/casual/accounts/accountstest"
	"github.com/casual-dev/casual/accounts/api"
	"github.com/casual-dev/casual/collab"
	"github.com/casual-dev/casual/collab/client"
	"github.com/casual-dev/casual/web"
)

// server is the whole stack on 127.0.0.1:0: document store, rooms, the
// collab server with the accounts Authorizer, the web server for /sync,
// and the /v1 API, as cmd/casual wires them.
type server struct {
	*accountstest.Stack
	api   *api.API
	cs    *collab.Server
	url   string // http://127.0.0.1:port
	sync  string // ws://127.0.0.1:port/sync
	limit api.Limits
}

type options struct {
	tweak  func(*accounts.Config)
	limits api.Limits
}

func start(t *testing.T, kind string, o options) *server {
	t.Helper()
	var cs *collab.Server // set before anything can change access
	st := accountstest.NewStack(t, kind, func(c *accounts.Config) {
		c.Access = accounts.AccessFunc(func(ctx context.Context, ch collab.AccessChange) { cs.Reauthorize(ctx, ch) })
		if o.tweak != nil {
			o.tweak(c)
		}
	})
	cs = collab.NewServer(collab.Config{PeerID: "casual-test"}, st.Rooms, st.Service.Authorizer(), nil)
	if o.limits == (api.Limits{}) {
		o.limits = api.Limits{AuthPerMinute: 6000, AuthBurst: 1000, PerSecond: 1000, Burst: 1000}
	}
	a, err := api.New(api.Config{Service: st.Service, Presence: api.RoomsPresence{Rooms: st.Rooms}, Limits: o.limits,
		Clock: st.Clock.Now})
	if err != nil {
		t.Fatal(err)
	}
	ws := web.New(web.Config{Collab: cs})
	mux := http.NewServeMux()
	a.Routes(mux)
	mux.Handle("/", ws)
	hs := httptest.NewServer(mux)
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if err := cs.Shutdown(ctx); err != nil {
			t.Error(err)
		}
		ws.Close()
		hs.Close()
	})
	return &server{Stack: st, api: a, cs: cs, url: hs.URL, sync: "ws" + strings.TrimPrefix(hs.URL, "http") + "/sync", limit: o.limits}
}

func testCtx(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	t.Cleanup(cancel)
	return ctx
}

// reply is a decoded response.
type reply struct {
	status int
	header http.Header
	raw    []byte
	body   map[string]any
}

func (r reply) str(path ...string) string {
	v := r.get(path...)
	s, _ := v.(string)
	return s
}

func (r reply) get(path ...string) any {
	var v any = r.body
	for _, k := range path {
		m, ok := v.(map[string]any)
		if !ok {
			return nil
		}
		v = m[k]
	}
	return v
}

func (r reply) list(key string) []map[string]any {
	var out []map[string]any
	items, _ := r.body[key].([]any)
	for _, it := range items {
		m, _ := it.(map[string]any)
		out = append(out, m)
	}
	return out
}

func (r reply) code() string { return r.str("error", "code") }

// call makes a request with an optional bearer token and JSON body.
func (s *server) call(t *testing.T, method, path, token string, body any) reply {
	t.Helper()
	var rd io.Reader
	switch b := body.(type) {
	case nil:
	case []byte:
		rd = bytes.NewReader(b)
	case string:
		rd = strings.NewReader(b)
	default:
		raw, err := json.Marshal(b)
		if err != nil {
			t.Fatal(err)
		}
		rd = bytes.NewReader(raw)
	}
	req, err := http.NewRequestWithContext(testCtx(t), method, s.url+path, rd)
	if err != nil {
		t.Fatal(err)
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	if rd != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	out := reply{status: resp.StatusCode, header: resp.Header, raw: raw}
	if len(raw) > 0 && strings.HasPrefix(resp.Header.Get("Content-Type"), "application/json") {
		if err := json.Unmarshal(raw, &out.body); err != nil {
			t.Fatalf("%s %s: undecodable JSON %q: %v", method, path, raw, err)
		}
	}
	return out
}

// must calls and checks the status.
func (s *server) must(t *testing.T, want int, method, path, token string, body any) reply {
	t.Helper()
	r := s.call(t, method, path, token, body)
	if r.status != want {
		t.Fatalf("%s %s: %d %s, want %d", method, path, r.status, r.raw, want)
	}
	return r
}

// user is a signed-up account.
type user struct {
	id, email, access, refresh string
}

const password = "correct horse battery"

func (s *server) signup(t *testing.T, name string) user {
	t.Helper()
	email := name + "@example.com"
	r := s.must(t, 201, "POST", "/v1/auth/register", "", map[string]any{"email": email, "password": password, "name": name})
	return user{id: r.str("user", "id"), email: email, access: r.str("access_token"), refresh: r.str("refresh_token")}
}

// dial connects a sync client with token (none: anonymous).
func (s *server) dial(t *testing.T, token string) (*client.Client, error) {
	t.Helper()
	u := s.sync
	if token != "" {
		u += "?token=" + url.QueryEscape(token)
	}
	ctx := testCtx(t)
	tr, err := client.DialWebSocket(ctx, u)
	if err != nil {
		t.Fatal(err)
	}
	c, err := client.New(ctx, tr, client.Options{})
	if err != nil {
		return nil, err
	}
	t.Cleanup(func() { c.Close() })
	return c, nil
}

func (s *server) mustDial(t *testing.T, token string) *client.Client {
	t.Helper()
	c, err := s.dial(t, token)
	if err != nil {
		t.Fatal(err)
	}
	return c
}
