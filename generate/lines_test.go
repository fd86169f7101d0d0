package generate

import (
	"strings"
	"testing"

	"github.com/casual-dev/casual/canvas"
)

// splitAll feeds text in pieces of n bytes and returns the lines seen.
func splitAll(text string, n int) []string {
	var s lineSplitter
	var out []string
	collect := func(line string, tooLong bool) error {
		if tooLong {
			line = "<too long>"
		}
		out = append(out, line)
		return nil
	}
	for len(text) > 0 {
		k := min(n, len(text))
		s.feed(text[:k], collect)
		text = text[k:]
	}
	s.flush(collect)
	return out
}

func TestLineSplitterReassemblesLinesFromAnyPieces(t *testing.T) {
	long := strings.Repeat("x", maxLineBytes+1)
	for _, c := range []struct {
		name, text string
		want       []string
	}{
		{"lines", "a\nbc\n", []string{"a", "bc"}},
		{"no final newline", "a\nbc", []string{"a", "bc"}},
		{"crlf and blanks", "a\r\n\r\nb\n", []string{"a", "", "b"}},
		{"unicode", "ü→\n€\n", []string{"ü→", "€"}},
		{"overlong line", "a\n" + long + "\nb\n", []string{"a", "<too long>", "b"}},
	} {
		for _, n := range []int{1, 2, 3, 7, 1 << 20} {
			if got := splitAll(c.text, n); strings.Join(got, "|") != strings.Join(c.want, "|") {
				t.Errorf("%s in pieces of %d = %q, want %q", c.name, n, got, c.want)
			}
		}
	}
}

func TestOpTextIgnoresFencesAndBlankLines(t *testing.T) {
	for in, want := range map[string]string{
		"":                   "",
		"   ":                "",
		"```":                "",
		"```jsonl":           "",
		` {"op":"delete"}, `: `{"op":"delete"}`,
		"prose":              "prose",
	} {
		if got := opText(in); got != want {
			t.Errorf("opText(%q) = %q, want %q", in, got, want)
		}
	}
}

// FuzzLineSplitter checks that any cut of a model's output gives the same
// lines as the whole text, and that no line crashes the op parser.
func FuzzLineSplitter(f *testing.F) {
	f.Add("{\"op\":\"create\",\"type\":\"text\"}\n{\"op\":\"delete\",\"id\":\"x\"}\n", 5)
	f.Add("```json\n{\"op\":\"update\",\"id\":\"a\",\"props\":{\"text\":\"é\"}}\r\n```", 1)
	f.Fuzz(func(t *testing.T, text string, n int) {
		if n <= 0 || len(text) > 1<<16 {
			return
		}
		whole := splitAll(text, len(text)+1)
		if got := splitAll(text, n); strings.Join(got, "\n") != strings.Join(whole, "\n") {
			t.Fatalf("pieces of %d gave %q, whole gave %q", n, got, whole)
		}
		for _, l := range whole {
			if s := opText(l); s != "" {
				canvas.ParseOp([]byte(s)) // must not panic
			}
		}
	})
}
