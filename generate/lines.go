package generate

import (
	"bytes"
	"strings"
)

// maxLineBytes bounds one operation line; longer lines are skipped whole.
const maxLineBytes = 256 << 10

// lineSplitter turns text arriving in arbitrary pieces (a model's stream
// deltas, which split anywhere, even inside a UTF-8 sequence) into whole
// lines. It is the only buffer between the stream and the applier, so an
// operation is applied the moment its newline arrives.
type lineSplitter struct {
	buf     []byte
	tooLong bool // dropping the rest of an overlong line
}

// feed adds a piece and calls fn for each line it completes. A line that
// grew past maxLineBytes is reported once, empty, with tooLong set.
func (s *lineSplitter) feed(piece string, fn func(line string, tooLong bool) error) error {
	for piece != "" {
		i := strings.IndexByte(piece, '\n')
		if i < 0 {
			s.add(piece)
			return nil
		}
		s.add(piece[:i])
		piece = piece[i+1:]
		if err := s.emit(fn); err != nil {
			return err
		}
	}
	return nil
}

// flush reports a last line that had no newline (the stream ended).
func (s *lineSplitter) flush(fn func(line string, tooLong bool) error) error {
	if len(s.buf) == 0 && !s.tooLong {
		return nil
	}
	return s.emit(fn)
}

func (s *lineSplitter) add(part string) {
	if s.tooLong {
		return
	}
	if len(s.buf)+len(part) > maxLineBytes {
		s.buf, s.tooLong = s.buf[:0], true
		return
	}
	s.buf = append(s.buf, part...)
}

func (s *lineSplitter) emit(fn func(string, bool) error) error {
	line, tooLong := string(bytes.TrimSuffix(s.buf, []byte("\r"))), s.tooLong
	s.buf, s.tooLong = s.buf[:0], false
	return fn(line, tooLong)
}

// opText returns the JSON of an operation line, or "" for lines that carry
// none and are ignored silently: blank lines and Markdown code fences,
// which chat models add despite being told not to. A trailing comma (from
// a model writing an array one element per line) is dropped.
func opText(line string) string {
	t := strings.TrimSpace(line)
	if t == "" || strings.HasPrefix(t, "```") {
		return ""
	}
	return strings.TrimSuffix(t, ",")
}
