package main

import (
	"bytes"
	"encoding/json"
	"net/http"
	"testing"
)

// TestAIRoutesFollowDocumentAccess: with accounts on, driving the AI on an
// app needs write access to it, and creating an app through it needs a
// signed-in caller.
func TestAIRoutesFollowDocumentAccess(t *testing.T) {
	addr := freeAddr(t)
	startProc(t, addr, t.TempDir(), "CASUAL_AUTH=on")
	base := "http://" + addr
	post := func(path, token string, body any) (int, map[string]any) {
		t.Helper()
		b, _ := json.Marshal(body)
		req, _ := http.NewRequest("POST", base+path, bytes.NewReader(b))
		req.Header.Set("Content-Type", "application/json")
		if token != "" {
			req.Header.Set("Authorization", "Bearer "+token)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		var out map[string]any
		json.NewDecoder(resp.Body).Decode(&out)
		return resp.StatusCode, out
	}
	register := func(email string) string {
		code, out := post("/v1/auth/register", "", map[string]any{"email": email, "password": "correct horse battery", "name": email})
		if code != http.StatusCreated && code != http.StatusOK {
			t.Fatalf("register %s: %d %v", email, code, out)
		}
		return out["access_token"].(string)
	}
	ann, bob := register("ann@example.com"), register("bob@example.com")
	code, app := post("/v1/apps", ann, map[string]any{"name": "Ann's", "template": "blank"})
	if code != http.StatusCreated && code != http.StatusOK {
		t.Fatalf("create app: %d %v", code, app)
	}
	id := app["id"].(string)

	tests := []struct {
		name  string
		token string
		body  map[string]any
		want  int
	}{
		{"anonymous new app", "", map[string]any{"prompt": "a counter"}, http.StatusForbidden},
		{"anonymous on an app", "", map[string]any{"prompt": "a counter", "appId": id}, http.StatusForbidden},
		{"another user's app", bob, map[string]any{"prompt": "a counter", "appId": id}, http.StatusForbidden},
		{"owner's app", ann, map[string]any{"prompt": "a counter", "appId": id}, http.StatusAccepted},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if code, out := post("/v1/generate/manifest", tt.token, tt.body); code != tt.want {
				t.Fatalf("status %d (%v), want %d", code, out, tt.want)
			}
		})
	}
}
