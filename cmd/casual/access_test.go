package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"testing"
	"time"

	"github.com/casual-dev/casual/collab/client"
	"github.com/casual-dev/casual/crdt"
	"github.com/casual-dev/casual/internal/testservices"
)

// TestRemovedMemberIsCutOnAnotherNode: with accounts on and two nodes on
// one PostgreSQL and Redis, removing a member through one node cuts that
// member's sync socket on the other.
func TestRemovedMemberIsCutOnAnotherNode(t *testing.T) {
	t.Parallel()
	pg, redis := testservices.StartPostgres(t), testservices.StartRedis(t)
	var nodes []*proc
	for i := range 2 {
		nodes = append(nodes, startProc(t, freeAddr(t), t.TempDir(), "CASUAL_AUTH=on",
			"CASUAL_STORE="+pg.DSN(), "CASUAL_REDIS="+redis.URL(),
			fmt.Sprintf("CASUAL_PEER_ID=casual-node-%d", i), fmt.Sprintf("CASUAL_NODE_ID=node-%d", i)))
	}
	call := func(method, path, token string, body any, want int) map[string]any {
		t.Helper()
		var rd *bytes.Reader
		if body != nil {
			b, _ := json.Marshal(body)
			rd = bytes.NewReader(b)
		} else {
			rd = bytes.NewReader(nil)
		}
		req, _ := http.NewRequest(method, "http://"+nodes[0].addr+path, rd)
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
		if resp.StatusCode != want {
			t.Fatalf("%s %s: %d %v, want %d", method, path, resp.StatusCode, out, want)
		}
		return out
	}
	register := func(email string) (token, id string) {
		out := call("POST", "/v1/auth/register", "", map[string]any{"email": email, "password": "correct horse battery"}, http.StatusCreated)
		return out["access_token"].(string), out["user"].(map[string]any)["id"].(string)
	}
	ann, _ := register("ann@example.com")
	cat, catID := register("cat@example.com")
	app := call("POST", "/v1/apps", ann, map[string]any{"name": "Shared"}, http.StatusCreated)["id"].(string)
	call("POST", "/v1/apps/"+app+"/members", ann, map[string]any{"email": "cat@example.com", "role": "viewer"}, http.StatusOK)

	ctx := testCtx(t, 60*time.Second)
	tr, err := client.DialWebSocket(ctx, "ws://"+nodes[1].addr+"/sync?token="+url.QueryEscape(cat))
	if err != nil {
		t.Fatal(err)
	}
	c, err := client.New(ctx, tr, client.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	if _, err := c.Find(ctx, crdt.DocID(app)); err != nil {
		t.Fatal(err)
	}

	call("DELETE", "/v1/apps/"+app+"/members/"+catID, ann, nil, http.StatusNoContent)
	for {
		select {
		case m := <-c.Errors():
			if m.DocumentID != app {
				continue
			}
			if m.Code != "access_revoked" {
				t.Fatalf("cat on node 1 got %+v, want access_revoked", m)
			}
			return
		case <-ctx.Done():
			t.Fatal("cat's socket on node 1 was not cut")
		}
	}
}
