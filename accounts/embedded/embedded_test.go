package embedded_test

import (
	"context"
	"errors"
	"path/filepath"
	"testing"

	"github.com/casual-dev/casual/accounts"
	"github.com/casual-dev/casual/accounts/accountstest"
	"github.com/casual-dev/casual/accounts/embedded"
)

func TestContract(t *testing.T) {
	accountstest.Run(t, func(t *testing.T) accounts.Store {
		s, err := embedded.OpenDir(t.Context(), t.TempDir())
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { s.Close() })
		return s
	})
}

func TestReopenKeepsDataAndClosedStoreFails(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "sub", embedded.FileName)
	s, err := embedded.Open(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	key, err := s.SigningKey(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if err := s.CreateUser(ctx, accountstest.NewUser("u1")); err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := s.GetUser(ctx, "u1"); err == nil {
		t.Fatal("closed store answered")
	}
	s, err = embedded.Open(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	again, err := s.SigningKey(ctx)
	if err != nil || string(again) != string(key) {
		t.Fatalf("key changed across reopen: %v", err)
	}
	if _, err := s.GetUser(ctx, "u1"); err != nil {
		t.Fatal(err)
	}
	if _, err := s.GetUser(ctx, "u2"); !errors.Is(err, accounts.ErrNotFound) {
		t.Fatalf("missing user: %v", err)
	}
}
