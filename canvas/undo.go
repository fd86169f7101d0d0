package canvas

import (
	"fmt"
	"slices"

	"github.com/casual-dev/casual/crdt"
)

// UndoLevels is how many groups an Undo keeps.
const UndoLevels = 50

// Undo is one actor's undo and redo history. Operations record into it
// when it is set in their Actor. Each record holds, for exactly the paths
// an operation wrote, the value before and the value written; undoing
// writes the before value back only where the document still holds what
// this actor wrote, so concurrent edits by others are kept. Redo is
// computed while undoing, from what the undo actually changed, so undoing
// n groups and redoing them returns to the same state even when others
// edited in between.
//
// An Undo is not safe for concurrent use; like the document, it belongs to
// one goroutine.
type Undo struct {
	undo, redo []undoGroup
	open       *undoGroup
	depth      int
}

type undoGroup struct {
	name   string
	writes []write
}

// NewUndo returns an empty history.
func NewUndo() *Undo { return &Undo{} }

// Begin opens a group: every operation recorded until the matching End
// undoes as one (one drag, one AI run). Groups nest; the outermost name
// wins.
func (u *Undo) Begin(name string) {
	u.depth++
	if u.depth == 1 {
		u.open = &undoGroup{name: name}
	}
}

// End closes the group opened by the matching Begin.
func (u *Undo) End() {
	if u.depth == 0 {
		return
	}
	u.depth--
	if u.depth == 0 {
		g := u.open
		u.open = nil
		if len(g.writes) > 0 {
			u.push(*g)
		}
	}
}

// CanUndo reports whether there is a group to undo.
func (u *Undo) CanUndo() bool { return len(u.undo) > 0 }

// CanRedo reports whether there is a group to redo.
func (u *Undo) CanRedo() bool { return len(u.redo) > 0 }

// Names returns the names of the groups that can be undone, newest first.
func (u *Undo) Names() []string {
	out := make([]string, 0, len(u.undo))
	for i := len(u.undo) - 1; i >= 0; i-- {
		out = append(out, u.undo[i].name)
	}
	return out
}

// record adds an operation's writes, to the open group or as its own.
func (u *Undo) record(ws []write) {
	if u.open != nil {
		u.open.writes = append(u.open.writes, ws...)
		return
	}
	u.push(undoGroup{writes: slices.Clone(ws)})
}

func (u *Undo) push(g undoGroup) {
	u.undo = append(u.undo, g)
	if len(u.undo) > UndoLevels {
		u.undo = slices.Delete(u.undo, 0, len(u.undo)-UndoLevels)
	}
	u.redo = nil
}

// Undo reverts the newest group and reports whether there was one. Edits
// are left uncommitted.
func (u *Undo) Undo(doc *crdt.Doc) (bool, error) {
	if u.open != nil {
		return false, fmt.Errorf("undo: group %q is still open", u.open.name)
	}
	if len(u.undo) == 0 {
		return false, nil
	}
	g := u.undo[len(u.undo)-1]
	u.undo = u.undo[:len(u.undo)-1]
	inv, err := revert(doc, g)
	u.redo = append(u.redo, inv)
	return true, err
}

// Redo re-applies the newest undone group and reports whether there was
// one. Edits are left uncommitted.
func (u *Undo) Redo(doc *crdt.Doc) (bool, error) {
	if u.open != nil {
		return false, fmt.Errorf("redo: group %q is still open", u.open.name)
	}
	if len(u.redo) == 0 {
		return false, nil
	}
	g := u.redo[len(u.redo)-1]
	u.redo = u.redo[:len(u.redo)-1]
	inv, err := revert(doc, g)
	u.undo = append(u.undo, inv)
	return true, err
}

// revert walks g's writes newest first and restores each before value
// where the document still holds the written value. It returns the
// inverse group: exactly the writes it made.
func revert(doc *crdt.Doc, g undoGroup) (undoGroup, error) {
	inv := undoGroup{name: g.name}
	for i := len(g.writes) - 1; i >= 0; i-- {
		w := g.writes[i]
		cur, err := doc.Get(slices.Clone(w.path)...)
		if err != nil {
			continue // the path no longer leads anywhere: nothing of ours is left
		}
		if !stillOurs(w, cur) || !parentExists(doc, w.path) {
			continue
		}
		if err := put(doc, w.path, w.before, w.had); err != nil {
			return inv, fmt.Errorf("revert %v: %w", w.path, err)
		}
		inv.writes = append(inv.writes, write{path: w.path, before: cur, had: cur != nil, after: w.before, has: w.had})
	}
	return inv, nil
}

// stillOurs reports whether the document still holds what w wrote. A
// whole component, page or handler counts as ours while it exists, even if
// others edited inside it.
func stillOurs(w write, cur any) bool {
	if !w.has {
		return cur == nil
	}
	if w.entity() {
		return cur != nil
	}
	return cur != nil && sameValue(cur, w.after)
}

// parentExists keeps a revert from recreating, through an inner path, an
// entity someone else deleted (Set creates missing intermediate maps).
func parentExists(doc *crdt.Doc, path []any) bool {
	if len(path) <= 2 {
		return true
	}
	v, err := doc.Get(slices.Clone(path[:2])...)
	return err == nil && v != nil
}
