package generate

import (
	"bytes"
	"encoding/json"
	"errors"
	"net/http"
	"strings"
	"testing"

	"github.com/casual-dev/casual/crdt"
)

// call sends a JSON request and decodes the JSON answer into out.
func (e *testEnv) call(method, path, body string, out any) int {
	e.t.Helper()
	req, err := http.NewRequest(method, e.api+path, strings.NewReader(body))
	if err != nil {
		e.t.Fatal(err)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		e.t.Fatal(err)
	}
	defer resp.Body.Close()
	if ct := resp.Header.Get("Content-Type"); ct != "application/json" {
		e.t.Fatalf("%s %s: content type %q", method, path, ct)
	}
	if out != nil {
		if err := json.NewDecoder(resp.Body).Decode(out); err != nil {
			e.t.Fatalf("%s %s: %v", method, path, err)
		}
	}
	return resp.StatusCode
}

type apiError struct {
	Error struct{ Code, Message string } `json:"error"`
}

func TestHTTPBuildsExplainsAndRevertsAnAppOffline(t *testing.T) {
	env := startEnv(t, Config{}, Options{})
	ctx := testCtx(t)

	var in Intent
	if code := env.call("POST", "/v1/generate/analyze", `{"prompt":"a counter"}`, &in); code != 200 || in.Recipe != "counter" || len(in.Components) == 0 {
		t.Fatalf("analyze = %d %+v", code, in)
	}

	var run Run
	if code := env.call("POST", "/v1/generate/manifest", `{"prompt":"a counter","mode":"live"}`, &run); code != http.StatusAccepted || run.AppID == "" || run.Kind != KindManifest {
		t.Fatalf("manifest = %d %+v", code, run)
	}
	h := env.open(ctx, run.AppID)
	if err := h.WaitFor(ctx, hasComponent("counter-value")); err != nil {
		t.Fatal(err)
	}
	env.wait(ctx, run.ID)
	if code := env.call("GET", "/v1/generate/runs/"+run.ID, "", &run); code != 200 || run.Status != StatusDone || run.OpsApplied != 13 {
		t.Fatalf("get run = %d %s applied %d", code, run.Status, run.OpsApplied)
	}
	var list struct{ Runs []Run }
	if code := env.call("GET", "/v1/generate/runs?appId="+run.AppID, "", &list); code != 200 || len(list.Runs) != 1 || list.Runs[0].ID != run.ID {
		t.Fatalf("list = %d %+v", code, list)
	}

	var ex Explanation
	if code := env.call("POST", "/v1/generate/explain", `{"appId":"`+run.AppID+`"}`, &ex); code != 200 || !strings.Contains(ex.Text, `"Counter" has 1 page(s) and 6 component(s)`) {
		t.Fatalf("explain = %d %+v", code, ex)
	}
	if code := env.call("POST", "/v1/generate/explain", `{"appId":"`+run.AppID+`","componentId":"counter-increment"}`, &ex); code != 200 || !strings.Contains(ex.Text, "On click it runs increment") {
		t.Fatalf("explain component = %d %+v", code, ex)
	}

	var opt Run
	if code := env.call("POST", "/v1/generate/optimize", `{"appId":"`+run.AppID+`"}`, &opt); code != http.StatusAccepted {
		t.Fatalf("optimize = %d", code)
	}
	if opt = env.wait(ctx, opt.ID); opt.Status != StatusDone || opt.OpsApplied != 1 { // the card's gap
		t.Fatalf("optimize run = %s applied %d %v", opt.Status, opt.OpsApplied, opt.Applied)
	}

	var e apiError
	if code := env.call("POST", "/v1/generate/runs/"+run.ID+"/accept", "", &e); code != http.StatusConflict || e.Error.Code != "conflict" {
		t.Fatalf("accept live run = %d %+v", code, e)
	}
	if code := env.call("POST", "/v1/generate/runs/"+run.ID+"/revert", "", &run); code != 200 || !run.Reverted {
		t.Fatalf("revert = %d %+v", code, run)
	}
	if err := h.WaitFor(ctx, func(d *crdt.Doc) bool { v, _ := d.Get("components", "counter-value"); return v == nil }); err != nil {
		t.Fatal(err)
	}
}

func TestHTTPComponentsRunEditsTheSelection(t *testing.T) {
	env := startEnv(t, Config{}, Options{})
	ctx := testCtx(t)
	app := env.newApp(ctx, "counter")
	var run Run
	body := `{"prompt":"add a login form","appId":"` + string(app.ID()) + `","selection":["buttons"],"mode":"suggest"}`
	if code := env.call("POST", "/v1/generate/components", body, &run); code != http.StatusAccepted || run.Mode != ModeSuggest {
		t.Fatalf("components = %d %+v", code, run)
	}
	run = env.wait(ctx, run.ID)
	if run.Suggestion == nil || len(run.Suggestion.Diff.Added) != 8 || run.Suggestion.Diff.Added[0].ID != "login-card" {
		t.Fatalf("suggestion = %+v", run.Suggestion)
	}
	if code := env.call("POST", "/v1/generate/runs/"+run.ID+"/accept", "", &run); code != 200 || run.Suggestion.State != SuggestionAccepted {
		t.Fatalf("accept = %d %+v", code, run.Suggestion)
	}
	if err := app.WaitFor(ctx, func(d *crdt.Doc) bool {
		v, _ := d.Get("components", "login-card", "pos", "parent")
		return v == "buttons"
	}); err != nil {
		t.Fatal(err)
	}
}

func TestHTTPErrorsAreJSON(t *testing.T) {
	env := startEnv(t, Config{}, Options{})
	unknownApp := string(crdt.NewDocID())
	for _, c := range []struct {
		method, path, body string
		status             int
		code               string
	}{
		{"POST", "/v1/generate/manifest", `{"prompt":""}`, 400, "bad_request"},
		{"POST", "/v1/generate/manifest", `{"prompt":"x","mode":"yolo"}`, 400, "bad_request"},
		{"POST", "/v1/generate/manifest", `{"prompt":"x","extra":1}`, 400, "bad_request"},
		{"POST", "/v1/generate/manifest", `{"prompt":`, 400, "bad_request"},
		{"POST", "/v1/generate/manifest", `{"prompt":"x","kind":"optimize"}`, 400, "bad_request"},
		{"POST", "/v1/generate/manifest", `{"prompt":"x","appId":"not-an-id"}`, 400, "bad_request"},
		{"POST", "/v1/generate/components", `{"prompt":"x"}`, 400, "bad_request"},
		{"POST", "/v1/generate/analyze", `{}`, 400, "bad_request"},
		{"POST", "/v1/generate/explain", `{"appId":"` + unknownApp + `"}`, 404, "not_found"},
		{"POST", "/v1/generate/manifest", `{"prompt":"x","appId":"` + unknownApp + `"}`, 404, "not_found"},
		{"GET", "/v1/generate/runs/nope", "", 404, "not_found"},
		{"POST", "/v1/generate/runs/nope/cancel", "", 404, "not_found"},
		{"POST", "/v1/generate/runs/nope/explode", "", 404, "not_found"},
		{"GET", "/v1/generate/runs?limit=0", "", 400, "bad_request"},
	} {
		var e apiError
		if status := env.call(c.method, c.path, c.body, &e); status != c.status || e.Error.Code != c.code || e.Error.Message == "" {
			t.Errorf("%s %s %s = %d %+v, want %d %s", c.method, c.path, c.body, status, e, c.status, c.code)
		}
	}
}

func TestHTTPAuthorizeHookGuardsEveryRoute(t *testing.T) {
	env := startEnv(t, Config{}, Options{Authorize: func(r *http.Request, _ string) (string, error) {
		if r.Header.Get("X-User") == "" {
			return "", errors.New("sign in first")
		}
		return r.Header.Get("X-User"), nil
	}})
	var e apiError
	if code := env.call("POST", "/v1/generate/manifest", `{"prompt":"a counter"}`, &e); code != http.StatusForbidden || e.Error.Code != "forbidden" {
		t.Fatalf("anonymous manifest = %d %+v", code, e)
	}
	req, _ := http.NewRequest("POST", env.api+"/v1/generate/manifest", bytes.NewReader([]byte(`{"prompt":"a counter"}`)))
	req.Header.Set("X-User", "ada")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var run Run
	if err := json.NewDecoder(resp.Body).Decode(&run); err != nil || resp.StatusCode != http.StatusAccepted || run.By != "ada" {
		t.Fatalf("manifest as ada = %d %+v %v", resp.StatusCode, run, err)
	}
	ctx := testCtx(t)
	env.wait(ctx, run.ID)
	if code := env.call("GET", "/v1/generate/runs/"+run.ID, "", &e); code != http.StatusForbidden {
		t.Fatalf("anonymous get run = %d", code)
	}
}
