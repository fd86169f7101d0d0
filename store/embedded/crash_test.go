package embedded_test

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"strings"
	"sync"
	"testing"

	"github.com/casual-dev/casual/crdt"
	"github.com/casual-dev/casual/store"
	"github.com/casual-dev/casual/store/embedded"
)

// crashDirEnv tells TestHelperProcess, run as a child process, which
// directory to write to.
const crashDirEnv = "CASUAL_EMBEDDED_CRASH_DIR"

const crashWriters = 4

// TestAcknowledgedAppendsSurviveSIGKILL runs TestHelperProcess as a child
// that appends real Automerge changes from several goroutines and prints
// each chunk's hash as soon as Append returns; it kills the child with
// SIGKILL mid-stream, reopens the store and checks that every acknowledged
// chunk is there and each document loads.
func TestAcknowledgedAppendsSurviveSIGKILL(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a child process")
	}
	const killAfter = 300
	dir := t.TempDir()
	cmd := exec.CommandContext(t.Context(), os.Args[0], "-test.run=^TestHelperProcess$")
	cmd.Env = append(os.Environ(), crashDirEnv+"="+dir)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}

	acked := make(map[string][]string) // doc -> acknowledged chunk hashes
	r := bufio.NewReader(out)
	killed := false
	for n := 0; ; {
		line, err := r.ReadString('\n')
		if errors.Is(err, io.EOF) {
			break // a line without its newline was never fully acknowledged
		}
		if err != nil {
			t.Fatalf("read child output: %v", err)
		}
		var doc, hash string
		if _, err := fmt.Sscanf(line, "ack %s %s\n", &doc, &hash); err != nil {
			continue // the test framework's own output
		}
		acked[doc] = append(acked[doc], hash)
		if n++; n == killAfter && !killed {
			// Keep reading after the kill: lines already in the pipe were
			// acknowledged too.
			if err := cmd.Process.Kill(); err != nil {
				t.Fatalf("kill child: %v", err)
			}
			killed = true
		}
	}
	err = cmd.Wait()
	if !killed {
		t.Fatalf("child exited before it was killed (%v); stderr:\n%s", err, stderr.String())
	}

	s := openStore(t, dir, embedded.Options{})
	total := 0
	for doc, hashes := range acked {
		chunks, err := s.Load(t.Context(), doc)
		if err != nil {
			t.Fatalf("Load(%s) after crash: %v", doc, err)
		}
		stored := make(map[string]bool, len(chunks))
		for _, c := range chunks {
			stored[c.Hash] = true
		}
		for _, h := range hashes {
			if !stored[h] {
				t.Fatalf("%s: acknowledged chunk %s lost (%d stored, %d acknowledged)", doc, h, len(chunks), len(hashes))
			}
		}
		d, err := crdt.Load(store.Concat(chunks))
		if err != nil {
			t.Fatalf("%s does not load after crash: %v", doc, err)
		}
		// Each change sets the key to its sequence number, so the stored
		// value is at least the number of acknowledged changes.
		if v, err := d.Get("n"); err != nil || v.(int64) < int64(len(hashes)) {
			t.Fatalf("%s: n = %v, %v; %d changes acknowledged", doc, v, err, len(hashes))
		}
		total += len(hashes)
	}
	t.Logf("%d acknowledged appends across %d docs survived SIGKILL", total, len(acked))
}

// TestHelperProcess is the child of TestAcknowledgedAppendsSurviveSIGKILL;
// run on its own it does nothing.
func TestHelperProcess(t *testing.T) {
	dir := os.Getenv(crashDirEnv)
	if dir == "" {
		t.Skip("helper process for TestAcknowledgedAppendsSurviveSIGKILL")
	}
	s, err := embedded.Open(t.Context(), dir, embedded.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	var wg sync.WaitGroup
	var mu sync.Mutex // one line per write, never interleaved
	for w := range crashWriters {
		wg.Go(func() {
			doc := fmt.Sprintf("doc-%d", w)
			d := crdt.New()
			// Bounded so an orphaned child stops; the parent kills it long
			// before (and a write to its closed pipe kills it too).
			for i := int64(1); i <= 50_000; i++ {
				data, err := nextChange(d, i)
				if err != nil {
					t.Errorf("%s change %d: %v", doc, i, err)
					return
				}
				ref, err := s.Append(t.Context(), doc, data)
				if err != nil {
					t.Errorf("%s append %d: %v", doc, i, err)
					return
				}
				mu.Lock()
				fmt.Fprintf(os.Stdout, "ack %s %s\n", doc, ref.Hash)
				mu.Unlock()
			}
		})
	}
	wg.Wait()
}

func nextChange(d *crdt.Doc, n int64) ([]byte, error) {
	if err := d.Set([]any{"n"}, n); err != nil {
		return nil, err
	}
	if _, _, err := d.Commit(strings.Repeat("x", int(n%7))); err != nil {
		return nil, err
	}
	return d.SaveIncremental(), nil
}
