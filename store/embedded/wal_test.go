package embedded_test

import (
	"os"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/casual-dev/casual/store"
	"github.com/casual-dev/casual/store/embedded"
)

// What a crash leaves: the bbolt file without the latest appends, and the
// write-ahead log with them (possibly ending in a half-written record).
// Open replays the log, and every acknowledged chunk loads.
func TestOpenReplaysTheWriteAheadLog(t *testing.T) {
	tests := []struct {
		name string
		tail []byte // bytes after the last whole record
	}{
		{"clean log", nil},
		{"half-written record at the end", []byte{0, 0, 0, 40, 1, 2, 3, 4, 0, 3, 'd', 'o'}},
		{"record failing its checksum at the end", []byte{0, 0, 0, 6, 9, 9, 9, 9, 0, 1, 'x', 'y', 'z', '!'}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			live := t.TempDir()
			// Nothing moves into bbolt by itself during the test.
			s := openStore(t, live, embedded.Options{WALIdleFlush: time.Hour})
			if _, err := s.Append(t.Context(), "doc-a", []byte("stored before")); err != nil {
				t.Fatal(err)
			}
			if _, err := s.Load(t.Context(), "doc-a"); err != nil { // moves the log into bbolt
				t.Fatal(err)
			}
			var want []string
			for _, c := range []string{"one", "two", "three"} {
				if _, err := s.Append(t.Context(), "doc-a", []byte(c)); err != nil {
					t.Fatal(err)
				}
				want = append(want, c)
			}
			if _, err := s.Append(t.Context(), "doc-b", []byte("other doc")); err != nil {
				t.Fatal(err)
			}
			// "Crash": copy the files as they are on disk now, store open.
			crashed := t.TempDir()
			for _, name := range []string{embedded.FileName, embedded.WALFileName} {
				b, err := os.ReadFile(filepath.Join(live, name))
				if err != nil {
					t.Fatal(err)
				}
				if name == embedded.WALFileName {
					if len(b) == 0 {
						t.Fatal("the appends are not in the write-ahead log")
					}
					b = append(b, tt.tail...)
				}
				if err := os.WriteFile(filepath.Join(crashed, name), b, 0o600); err != nil {
					t.Fatal(err)
				}
			}
			r := openStore(t, crashed, embedded.Options{})
			chunks, err := r.Load(t.Context(), "doc-a")
			if err != nil {
				t.Fatal(err)
			}
			var got []string
			for _, c := range chunks {
				got = append(got, string(c.Data))
			}
			if !slices.Equal(got, append([]string{"stored before"}, want...)) {
				t.Fatalf("doc-a after replay: %q", got)
			}
			if b, _ := r.Load(t.Context(), "doc-b"); len(b) != 1 || string(b[0].Data) != "other doc" {
				t.Fatalf("doc-b after replay: %+v", b)
			}
			// Replayed, the log is empty; replaying again would change nothing.
			if fi, err := os.Stat(filepath.Join(crashed, embedded.WALFileName)); err != nil || fi.Size() != 0 {
				t.Fatalf("log after replay: %v, %v", fi.Size(), err)
			}
		})
	}
}

// A chunk logged twice (replayed after bbolt already took it) is stored
// once.
func TestReplayingAChunkBboltHasStoresItOnce(t *testing.T) {
	dir := t.TempDir()
	s := openStore(t, dir, embedded.Options{WALIdleFlush: time.Hour})
	if _, err := s.Append(t.Context(), "doc", []byte("once")); err != nil {
		t.Fatal(err)
	}
	wal, err := os.ReadFile(filepath.Join(dir, embedded.WALFileName))
	if err != nil || len(wal) == 0 {
		t.Fatalf("log: %d bytes, %v", len(wal), err)
	}
	if err := s.Close(); err != nil { // moves the log into bbolt, empties it
		t.Fatal(err)
	}
	// As if the process died after bbolt took the chunk, before the log
	// was emptied.
	if err := os.WriteFile(filepath.Join(dir, embedded.WALFileName), wal, 0o600); err != nil {
		t.Fatal(err)
	}
	r := openStore(t, dir, embedded.Options{})
	chunks, err := r.Load(t.Context(), "doc")
	if err != nil {
		t.Fatal(err)
	}
	if len(chunks) != 1 || string(chunks[0].Data) != "once" || chunks[0].Kind != store.Incremental {
		t.Fatalf("chunks: %+v", chunks)
	}
}
