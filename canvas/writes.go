package canvas

import (
	"fmt"
	"slices"
	"unicode/utf8"

	"github.com/casual-dev/casual/crdt"
)

// write is one planned edit of one path, with what was there before: the
// unit operations validate into, apply, and undo records.
type write struct {
	path   []any
	before any
	had    bool // something was at path before
	after  any
	has    bool // something is at path after (false: deleted)
}

// entity reports whether the write creates or deletes a whole component,
// page or handler. Undo treats those by existence: an entity this actor
// created is removed by undo even if others edited it since.
func (w write) entity() bool {
	if len(w.path) != 2 {
		return false
	}
	switch w.path[0] {
	case "components", "pages", "handlers":
		return true
	}
	return false
}

// plan collects the writes of one operation. Nothing touches the document
// until apply, so a failed validation leaves it unchanged.
type plan struct {
	a      *app
	actor  Actor
	writes []write
	seen   map[string]int
}

func newPlan(a *app, actor Actor) *plan {
	return &plan{a: a, actor: actor, seen: make(map[string]int)}
}

func (p *plan) set(path []any, v any) error { return p.add(path, v, true) }

func (p *plan) del(path []any) error { return p.add(path, nil, false) }

func (p *plan) add(path []any, v any, has bool) error {
	key := fmt.Sprint(path)
	if i, ok := p.seen[key]; ok {
		p.writes[i].after, p.writes[i].has = v, has
		return nil
	}
	before, err := p.a.doc.Get(slices.Clone(path)...)
	if err != nil {
		return fmt.Errorf("read %v: %w", path, err)
	}
	if !has && before == nil {
		return nil // deleting what is not there
	}
	if has && before != nil && sameValue(before, v) {
		return nil
	}
	p.seen[key] = len(p.writes)
	p.writes = append(p.writes, write{path: path, before: before, had: before != nil, after: v, has: has})
	return nil
}

// apply performs the writes and records them for the actor's undo.
func (p *plan) apply() error {
	done := 0
	defer func() {
		if p.actor.Undo != nil && done > 0 {
			p.actor.Undo.record(p.writes[:done])
		}
	}()
	for _, w := range p.writes {
		if err := put(p.a.doc, w.path, w.after, w.has); err != nil {
			return err
		}
		done++
	}
	return nil
}

// put stores v at path (or deletes it when !has), keeping handler source
// code as collaborative Text.
func put(d *crdt.Doc, path []any, v any, has bool) error {
	if !has {
		return d.Delete(slices.Clone(path)...)
	}
	if isSourcePath(path) {
		if s, ok := v.(string); ok {
			return spliceDiff(d, path, s)
		}
	}
	if len(path) == 2 && path[0] == "handlers" {
		if m, ok := v.(map[string]any); ok {
			if s, ok := m["source"].(string); ok {
				m = cloneMap(m)
				m["source"] = crdt.Text(s)
				v = m
			}
		}
	}
	return d.Set(slices.Clone(path), v)
}

func isSourcePath(path []any) bool {
	return len(path) == 3 && path[0] == "handlers" && path[2] == "source"
}

// spliceDiff turns the Text at path into s by replacing only the part that
// differs, so concurrent edits elsewhere in the source survive.
func spliceDiff(d *crdt.Doc, path []any, s string) error {
	cur, err := d.Get(slices.Clone(path)...)
	if err != nil {
		return err
	}
	old, ok := cur.(string)
	if !ok {
		return d.Set(slices.Clone(path), crdt.Text(s))
	}
	a, b := []rune(old), []rune(s)
	pre := 0
	for pre < len(a) && pre < len(b) && a[pre] == b[pre] {
		pre++
	}
	suf := 0
	for suf < len(a)-pre && suf < len(b)-pre && a[len(a)-1-suf] == b[len(b)-1-suf] {
		suf++
	}
	if err := d.SpliceText(slices.Clone(path), pre, len(a)-pre-suf, string(b[pre:len(b)-suf])); err != nil {
		return err
	}
	// A plain string (not Text) written by another client is replaced by
	// SpliceText with just the inserted part; detect that and store all.
	if got, err := d.Get(slices.Clone(path)...); err != nil || got != s {
		return d.Set(slices.Clone(path), crdt.Text(s))
	}
	return nil
}

// validText reports whether s is valid UTF-8 of at most max bytes with no
// control characters other than tab and newline.
func validText(s string, max int) bool {
	if len(s) > max || !utf8.ValidString(s) {
		return false
	}
	for _, r := range s {
		if r < 0x20 && r != '\t' && r != '\n' || r == 0x7f {
			return false
		}
	}
	return true
}
