package crdt

import (
	"errors"
	"fmt"

	"github.com/automerge/automerge-go"
)

// ErrPath reports a path that does not lead where an operation needs it to
// (through a non-container, or to a missing key).
var ErrPath = errors.New("bad document path")

// Text marks a string to be stored as a collaborative Text object rather
// than an atomic string (used for handler source code).
type Text string

// Get returns the value at path as plain Go data: map[string]any, []any,
// string (also for Text), int64, uint64, float64, bool, []byte, time.Time,
// or nil when nothing is there. Path elements are string map keys or int
// list indexes.
func (d *Doc) Get(path ...any) (v any, err error) {
	defer recoverInto(&err, "get")
	val, err := d.am.Path(path...).Get()
	if err != nil {
		return nil, fmt.Errorf("%w: get %v: %v", ErrPath, path, err)
	}
	if val.IsVoid() || val.IsNull() {
		return nil, nil
	}
	return val.Interface(), nil
}

// Set stores v at path, creating intermediate maps. Maps ([]any,
// map[string]any) become new Automerge objects, so writing a map replaces
// the whole object in one step (concurrent writers resolve to one of them).
func (d *Doc) Set(path []any, v any) (err error) {
	defer recoverInto(&err, "set")
	if len(path) == 0 {
		return fmt.Errorf("%w: set needs a non-empty path", ErrPath)
	}
	if err := d.am.Path(path...).Set(toAM(v)); err != nil {
		return fmt.Errorf("%w: set %v: %v", ErrPath, path, err)
	}
	return nil
}

func toAM(v any) any {
	switch x := v.(type) {
	case Text:
		return automerge.NewText(string(x))
	case map[string]any:
		m := make(map[string]any, len(x))
		for k, e := range x {
			m[k] = toAM(e)
		}
		return m
	case []any:
		l := make([]any, len(x))
		for i, e := range x {
			l[i] = toAM(e)
		}
		return l
	}
	return v
}

// Delete removes the value at path; deleting a missing key is not an error.
func (d *Doc) Delete(path ...any) (err error) {
	defer recoverInto(&err, "delete")
	if len(path) == 0 {
		return fmt.Errorf("%w: delete needs a non-empty path", ErrPath)
	}
	val, err := d.am.Path(path...).Get()
	if err != nil {
		return fmt.Errorf("%w: delete %v: %v", ErrPath, path, err)
	}
	if val.IsVoid() {
		return nil
	}
	if err := d.am.Path(path...).Delete(); err != nil {
		return fmt.Errorf("%w: delete %v: %v", ErrPath, path, err)
	}
	return nil
}

// Keys returns the keys of the map at path (nil if there is no map).
func (d *Doc) Keys(path ...any) (keys []string, err error) {
	defer recoverInto(&err, "keys")
	val, err := d.am.Path(path...).Get()
	if err != nil {
		return nil, fmt.Errorf("%w: keys %v: %v", ErrPath, path, err)
	}
	if val.Kind() != automerge.KindMap {
		return nil, nil
	}
	return val.Map().Keys()
}

// SpliceText edits the Text at path: delete del characters at pos, then
// insert s. A missing value becomes a new Text.
func (d *Doc) SpliceText(path []any, pos, del int, s string) (err error) {
	defer recoverInto(&err, "splice text")
	val, err := d.am.Path(path...).Get()
	if err != nil {
		return fmt.Errorf("%w: text %v: %v", ErrPath, path, err)
	}
	if val.Kind() != automerge.KindText {
		return d.Set(path, Text(s))
	}
	if err := val.Text().Splice(pos, del, s); err != nil {
		return fmt.Errorf("%w: splice %v: %v", ErrPath, path, err)
	}
	return nil
}
