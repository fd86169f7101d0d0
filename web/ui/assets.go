package ui

import (
	"bytes"
	"compress/gzip"
	"crypto/sha256"
	"embed"
	"encoding/hex"
	"io/fs"
	"mime"
	"net/http"
	"path"
	"strconv"
	"strings"
	"sync"
	"time"
)

// dist holds what scripts/build-web.sh bundles from js/builder. Only
// dist/README.txt is committed, so the pattern always matches; a binary
// built without running the script serves a message instead of pages.
//
//go:embed dist
var dist embed.FS

// assets serves the bundle with content-hash versions: pages link
// /ui/builder.js?v=<hash>, which may be cached forever.
type assets struct {
	files map[string]*asset
}

type asset struct {
	name    string
	body    []byte
	hash    string
	ctype   string
	gzOnce  sync.Once
	gzipped []byte // nil when compression does not pay
}

func loadAssets() *assets {
	a := &assets{files: map[string]*asset{}}
	_ = fs.WalkDir(dist, "dist", func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() || strings.HasSuffix(p, ".txt") {
			return err
		}
		body, err := dist.ReadFile(p)
		if err != nil {
			return err
		}
		sum := sha256.Sum256(body)
		name := strings.TrimPrefix(p, "dist/")
		ct := mime.TypeByExtension(path.Ext(name))
		switch path.Ext(name) {
		case ".js":
			ct = "text/javascript; charset=utf-8"
		case ".wasm":
			ct = "application/wasm" // needed for WebAssembly.instantiateStreaming
		case "":
			ct = "application/octet-stream"
		}
		a.files[name] = &asset{name: name, body: body, hash: hex.EncodeToString(sum[:8]), ctype: ct}
		return nil
	})
	return a
}

func (a *assets) has(name string) bool { return a.files[name] != nil }

// url returns the versioned address of an asset.
func (a *assets) url(name string) string {
	if f := a.files[name]; f != nil {
		return "/ui/" + name + "?v=" + f.hash
	}
	return "/ui/" + name
}

func (a *assets) serve(w http.ResponseWriter, r *http.Request) {
	f := a.files[r.PathValue("file")]
	if f == nil {
		http.NotFound(w, r)
		return
	}
	h := w.Header()
	h.Set("Content-Type", f.ctype)
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("ETag", `"`+f.hash+`"`)
	h.Set("Vary", "Accept-Encoding")
	if r.URL.Query().Get("v") == f.hash {
		h.Set("Cache-Control", "public, max-age=31536000, immutable")
	} else {
		h.Set("Cache-Control", "no-cache")
	}
	if match := r.Header.Get("If-None-Match"); match != "" && strings.Contains(match, `"`+f.hash+`"`) {
		w.WriteHeader(http.StatusNotModified)
		return
	}
	body := f.body
	if gz := f.gzip(); gz != nil && acceptsGzip(r) {
		h.Set("Content-Encoding", "gzip")
		body = gz
	}
	http.ServeContent(w, r, "", time.Time{}, bytes.NewReader(body))
}

// gzip compresses the asset once, on first use.
func (f *asset) gzip() []byte {
	f.gzOnce.Do(func() {
		if len(f.body) < 1024 {
			return
		}
		var b bytes.Buffer
		zw, _ := gzip.NewWriterLevel(&b, gzip.BestCompression)
		_, _ = zw.Write(f.body)
		if zw.Close() == nil && b.Len() < len(f.body)*9/10 {
			f.gzipped = b.Bytes()
		}
	})
	return f.gzipped
}

func acceptsGzip(r *http.Request) bool {
	for _, part := range strings.Split(r.Header.Get("Accept-Encoding"), ",") {
		enc, params, _ := strings.Cut(strings.TrimSpace(part), ";")
		if strings.TrimSpace(enc) != "gzip" {
			continue
		}
		q, ok := strings.CutPrefix(strings.ReplaceAll(params, " ", ""), "q=")
		if !ok {
			return true
		}
		f, err := strconv.ParseFloat(q, 64)
		return err == nil && f > 0
	}
	return false
}
