package accounts

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"errors"
	"testing"
	"time"

	"github.com/casual-dev/casual/canvas"
	"github.com/casual-dev/casual/crdt"
)

func FuzzVerifyToken(f *testing.F) {
	s := signer{key: bytes.Repeat([]byte{7}, 32), issuer: "casual"}
	now := time.Unix(1_700_000_000, 0)
	tok, err := s.sign(claims{Subject: "usr_1", Kind: kindAccess, Session: "ses_1", Issued: now.Unix(), Expires: now.Add(time.Hour).Unix()})
	if err != nil {
		f.Fatal(err)
	}
	f.Add(tok)
	f.Add("")
	f.Add("a.b.c")
	f.Add("eyJhbGciOiJub25lIn0.eyJzdWIiOiJ4In0.")
	f.Fuzz(func(t *testing.T, tok string) {
		_ = tokenKind(tok)
		c, err := s.verify(tok, kindAccess, now)
		if err != nil {
			if !errors.Is(err, ErrTokenInvalid) && !errors.Is(err, ErrTokenExpired) {
				t.Fatalf("unexpected error kind: %v", err)
			}
			return
		}
		// only what we signed verifies, and it says what we signed
		if c.Kind != kindAccess || c.Issuer != "casual" || c.Subject == "" || now.Unix() >= c.Expires {
			t.Fatalf("verified bad claims %+v", c)
		}
	})
}

func FuzzParseExport(f *testing.F) {
	doc := crdt.New()
	if err := canvas.NewApp(doc, "Seed", "counter"); err != nil {
		f.Fatal(err)
	}
	if _, _, err := doc.Commit(""); err != nil {
		f.Fatal(err)
	}
	good, err := json.Marshal(Export{Format: ExportFormat, Version: 1, App: ExportApp{Name: "Seed"},
		Versions: []ExportVersion{{Label: "v1", Heads: headStrings(doc.Heads())}},
		Document: base64.StdEncoding.EncodeToString(doc.Save())})
	if err != nil {
		f.Fatal(err)
	}
	f.Add(good)
	f.Add([]byte(`{"format":"casual-app-export","version":1,"app":{"name":"x"},"document":"AAAA"}`))
	f.Add([]byte("not json"))
	f.Fuzz(func(t *testing.T, file []byte) {
		e, d, err := parseExport(file)
		if err != nil {
			if !errors.Is(err, ErrCorruptImport) {
				t.Fatalf("error is not ErrCorruptImport: %v", err)
			}
			return
		}
		if v, err := canvas.Version(d); err != nil || v != canvas.SchemaVersion || e.Format != ExportFormat {
			t.Fatalf("accepted a file that is not an app export: %v %v", v, err)
		}
	})
}

func FuzzDecodeCursor(f *testing.F) {
	f.Add(encodeCursor(SortName, true, App{ID: "x", Name: "n"}))
	f.Add("")
	f.Add("e30")
	f.Fuzz(func(t *testing.T, s string) {
		c, err := decodeCursor(s)
		if err == nil && c.ID == "" {
			t.Fatal("a cursor without an id")
		}
	})
}
