package accounts_test

import (
	"context"
	"encoding/base64"
	"errors"
	"testing"
	"time"

	"github.com/casual-dev/casual/accounts"
	"github.com/casual-dev/casual/accounts/accountstest"
	"github.com/casual-dev/casual/canvas"
	"github.com/casual-dev/casual/crdt"
	"github.com/casual-dev/casual/store"
)

func ctxOf(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	t.Cleanup(cancel)
	return ctx
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

func wantErr(t *testing.T, err, want error) {
	t.Helper()
	if !errors.Is(err, want) {
		t.Fatalf("error %v, want %v", err, want)
	}
}

const password = "correct horse battery"

type who struct {
	user   accounts.User
	tokens accounts.Tokens
	p      accounts.Principal
}

func register(t *testing.T, st *accountstest.Stack, name string) who {
	t.Helper()
	ctx := ctxOf(t)
	u, tok, err := st.Service.Register(ctx, accounts.RegisterInput{Email: name + "@example.com", Password: password, Name: name})
	must(t, err)
	p, err := st.Service.Authenticate(ctx, tok.AccessToken)
	must(t, err)
	return who{u, tok, p}
}

// current returns a copy of an app's document as its room has it.
func current(t *testing.T, st *accountstest.Stack, id string) *crdt.Doc {
	t.Helper()
	ctx := ctxOf(t)
	room, err := st.Rooms.Acquire(ctx, crdt.DocID(id))
	must(t, err)
	defer st.Rooms.Release(crdt.DocID(id))
	var f *crdt.Doc
	must(t, room.Do(ctx, func(d *crdt.Doc) (err error) { f, err = d.Fork(); return err }))
	return f
}

// stored loads an app's document from the document store.
func stored(t *testing.T, st *accountstest.Stack, id string) *crdt.Doc {
	t.Helper()
	chunks, err := st.Docs.Load(ctxOf(t), id)
	must(t, err)
	d, err := crdt.Load(store.Concat(chunks))
	must(t, err)
	return d
}

func edit(t *testing.T, st *accountstest.Stack, id string, fn func(d *crdt.Doc) error) {
	t.Helper()
	ctx := ctxOf(t)
	room, err := st.Rooms.Acquire(ctx, crdt.DocID(id))
	must(t, err)
	defer st.Rooms.Release(crdt.DocID(id))
	must(t, room.Do(ctx, fn))
}

func rootOf(t *testing.T, d *crdt.Doc) map[string]any {
	t.Helper()
	out := map[string]any{}
	keys, err := d.Keys()
	must(t, err)
	for _, k := range keys {
		v, err := d.Get(k)
		must(t, err)
		out[k] = v
	}
	return out
}

func ids(cs []canvas.Component) []string {
	out := []string{}
	for _, c := range cs {
		out = append(out, c.ID)
	}
	return out
}

func changedIDs(cs []accounts.ComponentChange) []string {
	out := []string{}
	for _, c := range cs {
		out = append(out, c.ID)
	}
	return out
}

func headStrings(hs []crdt.Hash) []string {
	out := []string{}
	for _, h := range hs {
		out = append(out, h.String())
	}
	return out
}

func base64Of(b []byte) string { return base64.StdEncoding.EncodeToString(b) }
