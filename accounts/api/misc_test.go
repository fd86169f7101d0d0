package api_test

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/fxamacker/cbor/v2"

	"github.com/casual-dev/casual/accounts"
	"github.com/casual-dev/casual/accounts/accountstest"
	"github.com/casual-dev/casual/accounts/api"
	"github.com/casual-dev/casual/crdt"
)

// TestOpenAPIDescribesEveryRoute: every route registered on the mux is in
// /v1/openapi.json with its method, path parameters and responses, every
// described operation is served, and every schema reference resolves.
func TestOpenAPIDescribesEveryRoute(t *testing.T) {
	s := start(t, "embedded", options{})
	r := s.must(t, 200, "GET", "/v1/openapi.json", "", nil)
	var doc struct {
		OpenAPI    string                               `json:"openapi"`
		Paths      map[string]map[string]map[string]any `json:"paths"`
		Components struct {
			Schemas map[string]any `json:"schemas"`
		} `json:"components"`
	}
	if err := json.Unmarshal(r.raw, &doc); err != nil {
		t.Fatal(err)
	}
	if doc.OpenAPI != "3.1.0" {
		t.Fatalf("openapi %q", doc.OpenAPI)
	}
	mux := http.NewServeMux()
	s.api.Routes(mux)
	wildcard := regexp.MustCompile(`\{([A-Za-z]+)\}`)
	described := map[string]bool{}
	for path, ops := range doc.Paths {
		for method := range ops {
			described[strings.ToUpper(method)+" "+path] = true
		}
	}
	patterns := s.api.Patterns()
	for _, p := range patterns {
		method, path, _ := strings.Cut(p, " ")
		// the pattern is really what the mux serves for such a request
		req := httptest.NewRequest(method, wildcard.ReplaceAllString(path, "x1"), nil)
		if _, got := mux.Handler(req); got != p {
			t.Errorf("%s: the mux serves %q", p, got)
		}
		if !described[p] {
			t.Errorf("route %s is not described in openapi.json", p)
			continue
		}
		op := doc.Paths[path][strings.ToLower(method)]
		if op["summary"] == "" || op["responses"] == nil || op["operationId"] == "" {
			t.Errorf("%s: incomplete description %v", p, op)
		}
		var declared []string
		params, _ := op["parameters"].([]any)
		for _, x := range params {
			if m := x.(map[string]any); m["in"] == "path" {
				declared = append(declared, m["name"].(string))
			}
		}
		var inPath []string
		for _, m := range wildcard.FindAllStringSubmatch(path, -1) {
			inPath = append(inPath, m[1])
		}
		if !slices.Equal(declared, inPath) {
			t.Errorf("%s: path parameters %v described as %v", p, inPath, declared)
		}
	}
	for p := range described {
		if !slices.Contains(patterns, p) {
			t.Errorf("openapi.json describes %s, which is not served", p)
		}
	}
	refs := regexp.MustCompile(`"\$ref":\s*"#/components/schemas/([A-Za-z]+)"`)
	for _, m := range refs.FindAllStringSubmatch(string(r.raw), -1) {
		if doc.Components.Schemas[m[1]] == nil {
			t.Errorf("unresolved $ref %s", m[1])
		}
	}
}

func TestErrorsAreJSONWithFittingStatus(t *testing.T) {
	s := start(t, "embedded", options{})
	ann := s.signup(t, "ann")
	for _, tc := range []struct {
		name, method, path, token string
		body                      any
		status                    int
		code                      string
	}{
		{"unknown route", "GET", "/v1/nope", "", nil, 404, "not_found"},
		{"wrong method", "DELETE", "/v1/templates", "", nil, 405, "method_not_allowed"},
		{"broken JSON", "POST", "/v1/apps", ann.access, "{", 400, "invalid_json"},
		{"unknown field", "POST", "/v1/apps", ann.access, `{"nmae": "typo"}`, 400, "invalid_json"},
		{"trailing data", "POST", "/v1/apps", ann.access, `{} {}`, 400, "invalid_json"},
		{"missing body", "POST", "/v1/auth/login", "", nil, 400, "invalid_json"},
		{"too large", "POST", "/v1/apps", ann.access, `{"name":"` + strings.Repeat("x", 2<<20) + `"}`, 413, "body_too_large"},
		{"unknown template", "POST", "/v1/apps", ann.access, map[string]any{"template": "nope"}, 400, "invalid_request"},
		{"bad visibility", "POST", "/v1/apps", ann.access, map[string]any{"visibility": "org"}, 400, "invalid_request"},
		{"bad sort", "GET", "/v1/apps?sort=size", ann.access, nil, 400, "invalid_request"},
		{"bad limit", "GET", "/v1/apps?limit=1000", ann.access, nil, 400, "invalid_request"},
		{"no token", "GET", "/v1/users/me", "", nil, 401, "unauthenticated"},
		{"missing app", "GET", "/v1/apps/2xYzUnknownDoc", ann.access, nil, 404, "not_found"},
		{"wrong password", "POST", "/v1/auth/login", "", map[string]any{"email": ann.email, "password": "nope nope nope"}, 401, "invalid_credentials"},
		{"unknown email", "POST", "/v1/auth/login", "", map[string]any{"email": "who@example.com", "password": "nope nope nope"}, 401, "invalid_credentials"},
		{"email taken", "POST", "/v1/auth/register", "", map[string]any{"email": ann.email, "password": password}, 409, "conflict"},
		{"weak password", "POST", "/v1/auth/register", "", map[string]any{"email": "new@example.com", "password": "short"}, 400, "invalid_request"},
		{"bad email", "POST", "/v1/auth/register", "", map[string]any{"email": "new", "password": password}, 400, "invalid_request"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := s.call(t, tc.method, tc.path, tc.token, tc.body)
			if r.status != tc.status || r.code() != tc.code || r.str("error", "message") == "" {
				t.Fatalf("%d %s, want %d %s", r.status, truncate(r.raw), tc.status, tc.code)
			}
		})
	}
	req, _ := http.NewRequest("GET", s.url+"/v1/users/me", nil)
	req.Header.Set("Authorization", "Basic YWxhZGRpbjpvcGVuc2VzYW1l")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 401 {
		t.Fatalf("basic auth header: %d", resp.StatusCode)
	}
	if r := s.call(t, "DELETE", "/v1/templates", "", nil); r.header.Get("Allow") != "GET" {
		t.Fatalf("Allow: %q", r.header.Get("Allow"))
	}
}

func truncate(b []byte) string {
	if len(b) > 300 {
		return string(b[:300]) + "…"
	}
	return string(b)
}

func TestRateLimits(t *testing.T) {
	s := start(t, "embedded", options{limits: api.Limits{AuthPerMinute: 60, AuthBurst: 3, PerSecond: 1, Burst: 5}})
	ann := s.signup(t, "ann") // 1 of the address's 3
	bad := map[string]any{"email": ann.email, "password": "wrong password"}
	s.must(t, 401, "POST", "/v1/auth/login", "", bad)
	s.must(t, 401, "POST", "/v1/auth/login", "", bad)
	r := s.must(t, 429, "POST", "/v1/auth/login", "", bad)
	if r.code() != "rate_limited" || r.header.Get("Retry-After") != "1" {
		t.Fatalf("limited: %s %v", r.raw, r.header)
	}
	s.must(t, 429, "POST", "/v1/auth/refresh", "", map[string]any{"refresh_token": ann.refresh})
	s.Clock.Advance(2 * time.Second) // one a second comes back
	s.must(t, 200, "POST", "/v1/auth/refresh", "", map[string]any{"refresh_token": ann.refresh})

	// per user, on everything else
	for range 5 {
		s.must(t, 200, "GET", "/v1/templates", ann.access, nil)
	}
	s.must(t, 429, "GET", "/v1/users/me", ann.access, nil)
	s.must(t, 200, "GET", "/v1/templates", "", nil) // anonymous callers have their own bucket
}

func TestAuthOffAllowsEverythingWithoutSigningIn(t *testing.T) {
	s := start(t, "embedded", options{tweak: func(c *accounts.Config) { c.AuthOff = true }})
	ctx := testCtx(t)
	app := s.must(t, 201, "POST", "/v1/apps", "", map[string]any{"name": "Local", "template": "todo"})
	if app.str("owner_id") != accounts.LocalUserID || app.str("role") != "owner" {
		t.Fatalf("app %s", app.raw)
	}
	s.must(t, 200, "GET", "/v1/apps/"+app.str("id"), "whatever-token", nil)
	s.must(t, 201, "POST", "/v1/apps/"+app.str("id")+"/versions", "", map[string]any{"label": "v"})
	if r := s.must(t, 200, "GET", "/v1/apps", "", nil); len(r.list("apps")) != 1 {
		t.Fatalf("list %s", r.raw)
	}
	s.must(t, 400, "POST", "/v1/auth/register", "", map[string]any{"email": "a@example.com", "password": password})
	// any document syncs, app or not, with or without a token
	c := s.mustDial(t, "")
	h, err := c.Create(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if err := h.Change(ctx, "", func(d *crdt.Doc) error { return d.Set([]any{"k"}, "v") }); err != nil {
		t.Fatal(err)
	}
	if err := h.WaitAcked(ctx); err != nil {
		t.Fatal(err)
	}
	ha, err := c.Find(ctx, crdt.DocID(app.str("id")))
	if err != nil {
		t.Fatal(err)
	}
	if err := ha.Change(ctx, "", func(d *crdt.Doc) error { return d.Set([]any{"state", "draft"}, "x") }); err != nil {
		t.Fatal(err)
	}
	if err := ha.WaitAcked(ctx); err != nil {
		t.Fatal(err)
	}
}

func TestCollaborationSessionShowsWhoIsThere(t *testing.T) {
	s := start(t, "embedded", options{})
	ctx := testCtx(t)
	ann, eve := s.signup(t, "ann"), s.signup(t, "eve")
	id := s.must(t, 201, "POST", "/v1/apps", ann.access, map[string]any{"name": "A"}).str("id")
	sess := s.must(t, 200, "POST", "/v1/collaboration/sessions", ann.access, map[string]any{"app_id": id})
	if sess.str("id") != id || sess.str("access") != "write" || !strings.HasSuffix(sess.str("sync_url"), "/sync") ||
		!strings.HasPrefix(sess.str("sync_url"), "ws://") || len(sess.list("participants")) != 0 {
		t.Fatalf("session %s", sess.raw)
	}
	s.must(t, 404, "GET", "/v1/collaboration/sessions/"+id, eve.access, nil)

	c := s.mustDial(t, ann.access)
	h, err := c.Find(ctx, crdt.DocID(id))
	if err != nil {
		t.Fatal(err)
	}
	data, err := cbor.Marshal(map[string]any{"name": "Ann", "cursor": map[string]any{"x": 3}})
	if err != nil {
		t.Fatal(err)
	}
	if err := h.Broadcast(ctx, data); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(10 * time.Second)
	for {
		r := s.must(t, 200, "GET", "/v1/collaboration/sessions/"+id, ann.access, nil)
		if ps := r.list("participants"); len(ps) == 1 {
			state, _ := ps[0]["state"].(map[string]any)
			if ps[0]["peer_id"] != c.PeerID() || state["name"] != "Ann" {
				t.Fatalf("participants %s", r.raw)
			}
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("presence never showed up")
		}
		select {
		case <-ctx.Done():
			t.Fatal(ctx.Err())
		case <-time.After(20 * time.Millisecond):
		}
	}
	join := s.must(t, 200, "POST", "/v1/collaboration/sessions/"+id+"/join", ann.access, nil)
	if join.str("url") != "automerge:"+id {
		t.Fatalf("join %s", join.raw)
	}
	s.must(t, 204, "POST", "/v1/collaboration/sessions/"+id+"/leave", ann.access, nil)
}

func TestAccountLifecycleOverREST(t *testing.T) {
	accountstest.Each(t, func(t *testing.T, kind string) {
		s := start(t, kind, options{})
		ann, bob := s.signup(t, "ann"), s.signup(t, "bob")
		mail, ok := s.Outbox.Last(accounts.MailVerifyEmail, ann.email)
		if !ok {
			t.Fatal("no verification mail")
		}
		if r := s.must(t, 200, "POST", "/v1/auth/verify-email", "", map[string]any{"token": mail.Token}); r.get("email_verified") != true {
			t.Fatalf("verify %s", r.raw)
		}
		s.must(t, 401, "POST", "/v1/auth/verify-email", "", map[string]any{"token": mail.Token})
		s.must(t, 202, "POST", "/v1/auth/verify-email", bob.access, nil) // resend
		s.must(t, 400, "POST", "/v1/auth/verify-email", ann.access, nil) // already verified

		// profile, email and password changes
		s.must(t, 200, "PUT", "/v1/users/me", ann.access, map[string]any{"name": "Ann B."})
		s.must(t, 401, "PUT", "/v1/users/me", ann.access, map[string]any{"password": "new password 1", "current_password": "wrong"})
		other := s.login(t, ann, "").str("access_token")
		me := s.must(t, 200, "PUT", "/v1/users/me", ann.access, map[string]any{"email": "ann2@example.com", "password": "new password 1",
			"current_password": password})
		if me.str("email") != "ann2@example.com" || me.get("email_verified") != false || me.str("name") != "Ann B." {
			t.Fatalf("me %s", me.raw)
		}
		s.must(t, 401, "GET", "/v1/users/me", other, nil) // other sessions were signed out
		s.must(t, 200, "GET", "/v1/users/me", ann.access, nil)
		if _, ok := s.Outbox.Last(accounts.MailVerifyEmail, "ann2@example.com"); !ok {
			t.Fatal("no verification mail for the new address")
		}

		// reset by mail
		s.must(t, 202, "POST", "/v1/auth/reset-password", "", map[string]any{"email": bob.email})
		s.must(t, 202, "POST", "/v1/auth/reset-password", "", map[string]any{"email": "nobody@example.com"})
		reset, _ := s.Outbox.Last(accounts.MailResetPassword, bob.email)
		s.must(t, 200, "POST", "/v1/auth/reset-password", "", map[string]any{"token": reset.Token, "password": "bob's new password"})
		s.must(t, 401, "GET", "/v1/users/me", bob.access, nil)
		bob.access = s.must(t, 200, "POST", "/v1/auth/login", "", map[string]any{"email": bob.email, "password": "bob's new password"}).str("access_token")

		// other people's profiles, apps and activity
		pub := s.must(t, 201, "POST", "/v1/apps", ann.access, map[string]any{"name": "Public one", "visibility": "public"}).str("id")
		s.must(t, 201, "POST", "/v1/apps", ann.access, map[string]any{"name": "Private one"})
		prof := s.must(t, 200, "GET", "/v1/users/"+ann.id, bob.access, nil)
		if prof.str("email") != "" || prof.str("name") != "Ann B." {
			t.Fatalf("public profile %s", prof.raw)
		}
		for _, tok := range []string{bob.access, ""} {
			apps := s.must(t, 200, "GET", "/v1/users/"+ann.id+"/apps", tok, nil)
			if l := apps.list("apps"); len(l) != 1 || l[0]["id"] != pub {
				t.Fatalf("ann's apps as seen by others: %s", apps.raw)
			}
		}
		if l := s.must(t, 200, "GET", "/v1/users/me/apps?sort=name", ann.access, nil).list("apps"); len(l) != 2 {
			t.Fatalf("ann's own apps: %v", l)
		}
		s.must(t, 403, "GET", "/v1/users/"+ann.id+"/activity", bob.access, nil)
		act := s.must(t, 200, "GET", "/v1/users/"+ann.id+"/activity?limit=2", ann.access, nil)
		if len(act.list("events")) != 2 || act.str("next_cursor") == "" {
			t.Fatalf("activity %s", act.raw)
		}
		more := s.must(t, 200, "GET", "/v1/users/"+ann.id+"/activity?limit=2&before="+act.str("next_cursor"), ann.access, nil)
		if more.list("events")[0]["id"] == act.list("events")[0]["id"] {
			t.Fatal("the second page repeats the first")
		}

		// sessions
		sessions := s.must(t, 200, "GET", "/v1/auth/sessions", ann.access, nil).list("sessions")
		if len(sessions) != 1 || sessions[0]["current"] != true {
			t.Fatalf("sessions %v", sessions)
		}
		extra := s.must(t, 200, "POST", "/v1/auth/login", "", map[string]any{"email": "ann2@example.com", "password": "new password 1"})
		s.must(t, 204, "DELETE", "/v1/auth/sessions/"+extra.str("session_id"), ann.access, nil)
		s.must(t, 401, "GET", "/v1/users/me", extra.str("access_token"), nil)
		s.must(t, 404, "DELETE", "/v1/auth/sessions/"+extra.str("session_id"), bob.access, nil)

		// deleting the account
		s.must(t, 401, "DELETE", "/v1/users/me", ann.access, map[string]any{"password": "wrong"})
		s.must(t, 204, "DELETE", "/v1/users/me", ann.access, map[string]any{"password": "new password 1"})
		s.must(t, 401, "GET", "/v1/users/me", ann.access, nil)
		s.must(t, 404, "GET", "/v1/apps/"+pub, bob.access, nil) // in the trash
		s.must(t, 401, "POST", "/v1/auth/login", "", map[string]any{"email": "ann2@example.com", "password": "new password 1"})
	})
}

func TestListingSearchesFiltersAndPages(t *testing.T) {
	s := start(t, "embedded", options{})
	ann := s.signup(t, "ann")
	for _, n := range []string{"Invoices", "Todo list", "todo tracker", "CRM", "Budget"} {
		vis := "private"
		if strings.HasPrefix(n, "C") {
			vis = "public"
		}
		s.must(t, 201, "POST", "/v1/apps", ann.access, map[string]any{"name": n, "visibility": vis})
		s.Clock.Advance(time.Second)
	}
	names := func(r reply) []string {
		var out []string
		for _, a := range r.list("apps") {
			out = append(out, a["name"].(string))
		}
		return out
	}
	for _, tc := range []struct {
		query string
		want  []string
	}{
		{"", []string{"Budget", "CRM", "todo tracker", "Todo list", "Invoices"}},
		{"?sort=name", []string{"Budget", "CRM", "Invoices", "Todo list", "todo tracker"}},
		{"?sort=-created", []string{"Budget", "CRM", "todo tracker", "Todo list", "Invoices"}},
		{"?q=todo&sort=created", []string{"Todo list", "todo tracker"}},
		{"?visibility=public", []string{"CRM"}},
	} {
		if got := names(s.must(t, 200, "GET", "/v1/apps"+tc.query, ann.access, nil)); !slices.Equal(got, tc.want) {
			t.Errorf("%s: %v, want %v", tc.query, got, tc.want)
		}
	}
	var got []string
	path := "/v1/apps?sort=name&limit=2"
	for range 4 {
		r := s.must(t, 200, "GET", path, ann.access, nil)
		got = append(got, names(r)...)
		if r.str("next_cursor") == "" {
			break
		}
		path = "/v1/apps?sort=name&limit=2&cursor=" + r.str("next_cursor")
	}
	if !slices.Equal(got, []string{"Budget", "CRM", "Invoices", "Todo list", "todo tracker"}) {
		t.Fatalf("pages: %v", got)
	}
}
