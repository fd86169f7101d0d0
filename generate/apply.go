package generate

import (
	"encoding/json"
	"errors"
	"fmt"
	"strings"

	"github.com/casual-dev/casual/canvas"
	"github.com/casual-dev/casual/crdt"
)

// errMaxOps stops a stream that reached Config.MaxOps.
var errMaxOps = errors.New("operation limit reached")

// applier turns a run's stream into document edits: it splits the text
// into lines, parses each as a canvas op, protects what others changed
// during the run, applies the op (to the shared replica, synced at once,
// or to the suggestion's fork) and records the outcome in the run.
type applier struct {
	g     *Generator
	rs    *runState
	sess  *session
	pres  presence
	actor canvas.Actor
	tag   string

	base *crdt.Doc // the document when the run started
	fork *crdt.Doc // suggest mode: where ops go; nil in live mode
	snap *snapshot

	split lineSplitter
	line  int
	wrote map[string]any  // path → the value this run last wrote there
	made  map[string]bool // "components/id", "pages/id", "handlers/id" this run created
}

func (g *Generator) newApplier(rs *runState, sess *session, pres presence) (*applier, error) {
	r := rs.snapshot()
	a := &applier{g: g, rs: rs, sess: sess, pres: pres, tag: commitTag(r.ID),
		actor: canvas.Actor{ID: AIActor, Run: r.ID, Undo: rs.undo},
		wrote: make(map[string]any), made: make(map[string]bool)}
	var err error
	sess.h.Read(func(d *crdt.Doc) {
		a.snap = takeSnapshot(d)
		if a.base, err = d.Fork(); err != nil {
			return
		}
		if r.Mode == ModeSuggest {
			a.fork, err = d.Fork()
		}
	})
	if err != nil {
		return nil, fmt.Errorf("fork document: %w", err)
	}
	return a, nil
}

func (a *applier) feed(piece string) error { return a.split.feed(piece, a.onLine) }

func (a *applier) flush() error { return a.split.flush(a.onLine) }

func (a *applier) onLine(line string, tooLong bool) error {
	text := opText(line)
	if text == "" && !tooLong {
		return nil
	}
	if err := a.next(); err != nil {
		return err
	}
	if tooLong {
		a.skip(SkippedOp{Line: a.line, Code: SkipParse, Reason: fmt.Sprintf("line longer than %d bytes", maxLineBytes)})
		return nil
	}
	op, err := canvas.ParseOp([]byte(text))
	if err != nil {
		a.skip(SkippedOp{Line: a.line, Code: SkipParse, Reason: err.Error(), Text: truncate(text, 200)})
		return nil
	}
	return a.apply(op, text)
}

// next counts one more operation of the stream (a line or a tool call);
// past Config.MaxOps it records the skip and returns errMaxOps.
func (a *applier) next() error {
	a.line++
	if a.rs.ops() >= a.g.cfg.MaxOps {
		a.skip(SkippedOp{Line: a.line, Code: SkipLimit, Reason: fmt.Sprintf("the run reached its limit of %d operations", a.g.cfg.MaxOps)})
		return errMaxOps
	}
	return nil
}

// call applies an operation the model sent as a tool call: the function
// names the op, the arguments are its other fields.
func (a *applier) call(c toolCall) error {
	if err := a.next(); err != nil {
		return err
	}
	text := truncate(c.name+" "+c.args, 200)
	bad := func(format string, args ...any) error {
		a.skip(SkippedOp{Line: a.line, Op: c.name, Code: SkipParse, Reason: "tool call: " + fmt.Sprintf(format, args...), Text: text})
		return nil
	}
	switch {
	case c.tooLong:
		return bad("arguments longer than %d bytes", maxLineBytes)
	case c.incomplete && c.args == "":
		return bad("no arguments")
	case c.incomplete:
		return bad("the arguments are not a complete JSON object")
	}
	var fields map[string]json.RawMessage
	if err := json.Unmarshal([]byte(c.args), &fields); err != nil {
		return bad("arguments: %v", err)
	}
	if raw, ok := fields["op"]; ok {
		var name string
		if json.Unmarshal(raw, &name) != nil || name != c.name {
			return bad("arguments name op %s, not the function %q", raw, c.name)
		}
	}
	fields["op"], _ = json.Marshal(c.name)
	line, err := json.Marshal(fields)
	if err != nil {
		return bad("arguments: %v", err)
	}
	op, err := canvas.ParseOp(line)
	if err != nil {
		return bad("%v", err)
	}
	return a.apply(op, string(line))
}

// skipError is an op refused inside the change, with its skip code.
type skipError struct {
	code, reason string
}

func (e *skipError) Error() string { return e.reason }

// apply applies one op, recording it as applied or skipped. It returns
// an error only when the document cannot be written at all (the
// connection is gone), which ends the run.
func (a *applier) apply(op canvas.Op, text string) error {
	var (
		target string
		kept   []SkippedOp
		refuse error
	)
	fn := func(d *crdt.Doc) error {
		guarded, notes := a.guard(d, op)
		for _, n := range notes {
			n.Line, n.Op = a.line, op.Op
			kept = append(kept, n)
		}
		if guarded == nil {
			refuse = errNothingLeft
			return refuse
		}
		id, err := canvas.Apply(d, a.actor, *guarded)
		if err != nil {
			refuse = a.classify(d, *guarded, err)
			return refuse
		}
		target = id
		a.record(d, *guarded, id)
		return nil
	}
	err := a.change(fn)
	for _, n := range kept {
		a.skip(n)
	}
	var se *skipError
	switch {
	case errors.Is(refuse, errNothingLeft):
		return nil
	case errors.As(refuse, &se):
		a.skip(SkippedOp{Line: a.line, Op: op.Op, Target: opTarget(op), Code: se.code, Reason: se.reason, Text: truncate(text, 200)})
		return nil
	case refuse != nil:
		a.skip(SkippedOp{Line: a.line, Op: op.Op, Target: opTarget(op), Code: SkipInvalid, Reason: refuse.Error(), Text: truncate(text, 200)})
		return nil
	case err != nil:
		return fmt.Errorf("apply line %d: %w", a.line, err)
	}
	a.rs.update(func(r *Run) {
		r.Applied = append(r.Applied, AppliedOp{Line: a.line, Op: op.Op, Target: target})
		r.OpsApplied++
		if isComponentOp(op.Op) {
			r.Cursor = target
		}
	})
	if isComponentOp(op.Op) {
		a.g.broadcast(a.g.life, a.sess, a.pres.cursor(target))
	}
	return nil
}

// errNothingLeft: the guard removed every part of the op.
var errNothingLeft = errors.New("nothing left to apply")

// change applies fn to where the run writes, committed with the run's tag:
// the shared replica (synced at once) or the fork. It uses the
// generator's lifetime, not the run's context: an op that completed is
// delivered even when the run is being cancelled.
func (a *applier) change(fn func(d *crdt.Doc) error) error {
	if a.fork == nil {
		return a.sess.h.Change(a.g.life, a.tag, fn)
	}
	if err := fn(a.fork); err != nil {
		return err
	}
	if _, _, err := a.fork.Commit(a.tag); err != nil {
		return fmt.Errorf("commit suggestion: %w", err)
	}
	return nil
}

func (a *applier) skip(s SkippedOp) {
	a.rs.update(func(r *Run) {
		r.Skipped = append(r.Skipped, s)
		r.OpsSkipped++
	})
}

// classify turns canvas's refusal into a skip: an op naming something
// that existed when the run started (or that the run created) but is gone
// now was overtaken by someone's delete.
func (a *applier) classify(d *crdt.Doc, op canvas.Op, err error) error {
	kind := ""
	switch {
	case errors.Is(err, canvas.ErrUnknownComponent):
		kind = "components"
	case errors.Is(err, canvas.ErrUnknownPage):
		kind = "pages"
	case errors.Is(err, canvas.ErrUnknownHandler):
		kind = "handlers"
	default:
		return &skipError{code: SkipInvalid, reason: err.Error()}
	}
	ids := []string{op.ID, op.Parent, op.Before, op.After, op.Page, op.Handler}
	if op.Op == "create" {
		ids = ids[1:] // the id it creates is not a reference
	}
	for _, id := range ids {
		if id == "" || exists(d, kind, id) {
			continue
		}
		if exists(a.base, kind, id) || a.made[kind+"/"+id] {
			return &skipError{code: SkipDeletedMeanwhile,
				reason: fmt.Sprintf("%s %s was deleted by someone during the run", strings.TrimSuffix(kind, "s"), id)}
		}
	}
	return &skipError{code: SkipUnknownTarget, reason: err.Error()}
}

func exists(d *crdt.Doc, kind, id string) bool {
	v, err := d.Get(kind, id)
	return err == nil && v != nil
}

func opTarget(op canvas.Op) string {
	switch {
	case op.ID != "":
		return op.ID
	case op.Handler != "":
		return op.Handler
	}
	return op.Page
}

func isComponentOp(name string) bool {
	switch name {
	case "create", "move", "update", "delete", "setBinding", "unsetBinding", "bindEvent", "unbindEvent":
		return true
	}
	return false
}

// guard keeps human edits: it drops from op every value someone else
// changed since the run started (or since the run last wrote it), refuses
// to delete components someone else created during the run or to bring
// back ones someone deleted. It returns nil when nothing of op is left,
// and a note per dropped part.
func (a *applier) guard(d *crdt.Doc, op canvas.Op) (*canvas.Op, []SkippedOp) {
	var notes []SkippedOp
	note := func(path []any) {
		notes = append(notes, SkippedOp{Target: opTarget(op), Code: SkipKeptHumanEdit,
			Reason: fmt.Sprintf("%s was changed by someone during the run; their edit is kept", pathString(path[2:]))})
	}
	whole := func(path ...any) (*canvas.Op, []SkippedOp) {
		if a.changedByOthers(d, path) {
			note(path)
			return nil, notes
		}
		return &op, nil
	}
	switch op.Op {
	case "update":
		out := op
		out.Props, out.Layout, out.Style = nil, nil, nil
		present := exists(d, "components", op.ID) // else Apply reports it
		for _, g := range []struct {
			name string
			src  map[string]any
			dst  *map[string]any
		}{{"props", op.Props, &out.Props}, {"layout", op.Layout, &out.Layout}, {"style", op.Style, &out.Style}} {
			for k, v := range g.src {
				path := []any{"components", op.ID, g.name, k}
				if present && a.changedByOthers(d, path) {
					note(path)
					continue
				}
				if *g.dst == nil {
					*g.dst = map[string]any{}
				}
				(*g.dst)[k] = v
			}
		}
		if out.Props == nil && out.Layout == nil && out.Style == nil {
			return nil, notes
		}
		return &out, notes
	case "move":
		return whole("components", op.ID, "pos")
	case "setBinding", "unsetBinding":
		return whole("components", op.ID, "bindings", op.Prop)
	case "bindEvent", "unbindEvent":
		return whole("components", op.ID, "handlers", op.Event)
	case "setHandler":
		if op.Handler != "" && exists(d, "handlers", op.Handler) {
			return whole("handlers", op.Handler, "source")
		}
	case "create":
		if op.ID != "" && !exists(d, "components", op.ID) && (exists(a.base, "components", op.ID) || a.made["components/"+op.ID]) {
			notes = append(notes, SkippedOp{Target: op.ID, Code: SkipDeletedMeanwhile,
				Reason: fmt.Sprintf("component %s was deleted by someone during the run; it is not brought back", op.ID)})
			return nil, notes
		}
	case "delete":
		if exists(d, "components", op.ID) && !exists(a.base, "components", op.ID) && !a.made["components/"+op.ID] {
			notes = append(notes, SkippedOp{Target: op.ID, Code: SkipKeptHumanEdit,
				Reason: fmt.Sprintf("component %s was created by someone during the run; it is kept", op.ID)})
			return nil, notes
		}
	case "setTheme":
		out := op
		out.Tokens = map[string]any{}
		for k, v := range op.Tokens {
			path := []any{"theme", "tokens", k}
			if a.changedByOthers(d, path) {
				note(path)
				continue
			}
			out.Tokens[k] = v
		}
		if len(out.Tokens) == 0 {
			return nil, notes
		}
		return &out, notes
	}
	return &op, notes
}

// changedByOthers reports whether the value at path differs from what
// this run last wrote there or, if it never did, from the value when the
// run started.
func (a *applier) changedByOthers(d *crdt.Doc, path []any) bool {
	cur, _ := d.Get(path...)
	if w, ok := a.wrote[pathKey(path)]; ok {
		return !canvas.SameValue(cur, w)
	}
	was, _ := a.base.Get(path...)
	return !canvas.SameValue(cur, was)
}

// record notes what an applied op wrote, for changedByOthers.
func (a *applier) record(d *crdt.Doc, op canvas.Op, target string) {
	keep := func(path ...any) {
		v, _ := d.Get(path...)
		a.wrote[pathKey(path)] = v
	}
	keepAll := func(prefix ...any) {
		v, _ := d.Get(prefix...)
		m, _ := v.(map[string]any)
		for k := range m {
			keep(append(append([]any{}, prefix...), k)...)
		}
	}
	switch op.Op {
	case "create":
		a.made["components/"+target] = true
		for _, g := range []string{"props", "layout", "style"} {
			keepAll("components", target, g)
		}
		keep("components", target, "pos")
	case "update":
		for g, m := range map[string]map[string]any{"props": op.Props, "layout": op.Layout, "style": op.Style} {
			for k := range m {
				keep("components", target, g, k)
			}
		}
	case "move":
		keep("components", target, "pos")
	case "setBinding", "unsetBinding":
		keep("components", target, "bindings", op.Prop)
	case "bindEvent", "unbindEvent":
		keep("components", target, "handlers", op.Event)
	case "setHandler":
		a.made["handlers/"+target] = true
		keep("handlers", target, "source")
	case "addPage":
		a.made["pages/"+target] = true
	case "setTheme":
		for k := range op.Tokens {
			keep("theme", "tokens", k)
		}
	}
}

func pathKey(path []any) string {
	var b strings.Builder
	for _, p := range path {
		fmt.Fprint(&b, p, "\x00")
	}
	return b.String()
}

func pathString(path []any) string {
	parts := make([]string, len(path))
	for i, p := range path {
		parts[i] = fmt.Sprint(p)
	}
	return strings.Join(parts, ".")
}
