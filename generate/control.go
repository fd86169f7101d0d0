package generate

import (
	"context"
	"fmt"
	"slices"
	"sort"

	"github.com/casual-dev/casual/canvas"
	"github.com/casual-dev/casual/crdt"
)

// held returns the run's state once it has finished, locked; the caller
// unlocks. A run no longer kept in memory cannot be changed (ErrConflict).
func (g *Generator) held(ctx context.Context, id string, waitFor bool) (*runState, error) {
	rs := g.lookup(id)
	if rs == nil {
		if _, err := g.store.Get(ctx, id); err != nil {
			return nil, err
		}
		return nil, fmt.Errorf("%w: run %s is too old: its edits are no longer tracked", ErrConflict, id)
	}
	if !rs.finished() && !waitFor {
		return nil, fmt.Errorf("%w: run %s is still %s", ErrConflict, id, rs.snapshot().Status)
	}
	if err := rs.wait(ctx); err != nil {
		return nil, fmt.Errorf("run %s: %w", id, err)
	}
	rs.mu.Lock()
	return rs, nil
}

// Accept merges a pending suggestion into the shared document and syncs
// it. Like any merge, it keeps what others edited meanwhile.
func (g *Generator) Accept(ctx context.Context, id string) (Run, error) {
	rs, err := g.held(ctx, id, false)
	if err != nil {
		return Run{}, err
	}
	defer rs.mu.Unlock()
	if err := pending(rs); err != nil {
		return Run{}, err
	}
	sess, err := g.open(ctx, "ai-"+id+"-accept", crdt.DocID(rs.run.AppID))
	if err != nil {
		return Run{}, fmt.Errorf("accept run %s: %w", id, err)
	}
	defer sess.close()
	fork := rs.fork
	if err := sess.h.Change(ctx, commitTag(id)+":accept", func(d *crdt.Doc) error { return d.Merge(fork) }); err != nil {
		return Run{}, fmt.Errorf("accept run %s: %w", id, err)
	}
	if err := sess.flush(ctx); err != nil {
		return Run{}, fmt.Errorf("accept run %s: %w", id, err)
	}
	rs.heads = sess.h.Heads()
	rs.fork = nil
	rs.run.Suggestion.State = SuggestionAccepted
	g.persistLocked(rs)
	return rs.run.clone(), nil
}

// Reject drops a pending suggestion; the shared document never saw it.
func (g *Generator) Reject(ctx context.Context, id string) (Run, error) {
	rs, err := g.held(ctx, id, false)
	if err != nil {
		return Run{}, err
	}
	defer rs.mu.Unlock()
	if err := pending(rs); err != nil {
		return Run{}, err
	}
	rs.fork = nil
	rs.run.Suggestion.State = SuggestionRejected
	g.persistLocked(rs)
	return rs.run.clone(), nil
}

func pending(rs *runState) error {
	if rs.run.Mode != ModeSuggest || rs.run.Suggestion == nil {
		return fmt.Errorf("%w: run %s is not a suggestion", ErrConflict, rs.run.ID)
	}
	if s := rs.run.Suggestion.State; s != SuggestionPending {
		return fmt.Errorf("%w: suggestion %s is already %s", ErrConflict, rs.run.ID, s)
	}
	return nil
}

// Revert undoes a run as one undo group: what it created goes, what it
// changed gets its earlier value back, except where someone changed it
// since (canvas.Undo keeps concurrent edits). A running run is cancelled
// first; a pending suggestion is rejected.
func (g *Generator) Revert(ctx context.Context, id string) (Run, error) {
	if rs := g.lookup(id); rs != nil && !rs.finished() {
		rs.cancel(ErrCancelled)
	}
	rs, err := g.held(ctx, id, true)
	if err != nil {
		return Run{}, err
	}
	if rs.run.Reverted {
		rs.mu.Unlock()
		return Run{}, fmt.Errorf("%w: run %s is already reverted", ErrConflict, id)
	}
	if rs.run.Suggestion != nil && rs.run.Suggestion.State != SuggestionAccepted {
		rs.mu.Unlock()
		if rs.run.Suggestion.State == SuggestionRejected {
			return Run{}, fmt.Errorf("%w: suggestion %s was rejected; there is nothing to revert", ErrConflict, id)
		}
		return g.Reject(ctx, id)
	}
	defer rs.mu.Unlock()
	sess, err := g.open(ctx, "ai-"+id+"-revert", crdt.DocID(rs.run.AppID))
	if err != nil {
		return Run{}, fmt.Errorf("revert run %s: %w", id, err)
	}
	defer sess.close()
	if err := sess.waitHeads(ctx, rs.heads); err != nil {
		return Run{}, fmt.Errorf("revert run %s: waiting for its edits: %w", id, err)
	}
	undo := rs.undo
	err = sess.h.Change(ctx, commitTag(id)+":revert", func(d *crdt.Doc) error {
		_, err := undo.Undo(d)
		return err
	})
	if err != nil {
		return Run{}, fmt.Errorf("revert run %s: %w", id, err)
	}
	if err := sess.flush(ctx); err != nil {
		return Run{}, fmt.Errorf("revert run %s: %w", id, err)
	}
	rs.run.Reverted = true
	g.persistLocked(rs)
	return rs.run.clone(), nil
}

func (g *Generator) persistLocked(rs *runState) {
	if err := g.store.Put(context.WithoutCancel(g.life), rs.run.clone()); err != nil {
		g.log.Warn("store run", "run", rs.run.ID, "err", err)
	}
}

// diffDocs compares the components of two versions of an app.
func diffDocs(before, after *crdt.Doc) Diff {
	tb, _ := canvas.Materialize(before)
	ta, _ := canvas.Materialize(after)
	d := Diff{Added: []DiffEntry{}, Removed: []DiffEntry{}, Changed: []DiffEntry{}}
	for _, id := range componentIDs(ta) {
		n := ta.Node(id)
		old := tb.Node(id)
		switch {
		case old == nil:
			d.Added = append(d.Added, DiffEntry{ID: id, Type: n.Type, Page: n.Page})
		default:
			if fields := changedFields(old.Component, n.Component); len(fields) > 0 {
				d.Changed = append(d.Changed, DiffEntry{ID: id, Type: n.Type, Page: n.Page, Fields: fields})
			}
		}
	}
	for _, id := range componentIDs(tb) {
		if ta.Node(id) == nil {
			n := tb.Node(id)
			d.Removed = append(d.Removed, DiffEntry{ID: id, Type: n.Type, Page: n.Page})
		}
	}
	return d
}

func componentIDs(t *canvas.Tree) []string {
	var ids []string
	var walk func(ns []*canvas.Node)
	walk = func(ns []*canvas.Node) {
		for _, n := range ns {
			ids = append(ids, n.ID)
			walk(n.Children)
		}
	}
	for _, p := range t.Pages {
		walk(p.Children)
	}
	slices.Sort(ids)
	return ids
}

// changedFields names what differs between two versions of a component:
// group.key for props, layout, style, bindings and handlers; pos and page.
func changedFields(a, b canvas.Component) []string {
	var out []string
	if a.Parent != b.Parent || a.Index != b.Index {
		out = append(out, "pos")
	}
	if a.Page != b.Page {
		out = append(out, "page")
	}
	for _, g := range []struct {
		name string
		x, y map[string]any
	}{{"props", a.Props, b.Props}, {"layout", a.Layout, b.Layout}, {"style", a.Style, b.Style},
		{"bindings", anyMap(a.Bindings), anyMap(b.Bindings)}, {"handlers", anyMap(a.Handlers), anyMap(b.Handlers)}} {
		keys := map[string]bool{}
		for k := range g.x {
			keys[k] = true
		}
		for k := range g.y {
			keys[k] = true
		}
		var changed []string
		for k := range keys {
			if !canvas.SameValue(g.x[k], g.y[k]) {
				changed = append(changed, g.name+"."+k)
			}
		}
		sort.Strings(changed)
		out = append(out, changed...)
	}
	return out
}

func anyMap(m map[string]string) map[string]any {
	out := make(map[string]any, len(m))
	for k, v := range m {
		out[k] = v
	}
	return out
}
