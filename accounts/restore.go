package accounts

import (
	"context"
	"fmt"
	"slices"

	"github.com/casual-dev/casual/crdt"
)

// RestoreVersion makes the app's document equal to a version again
// (editors). The restore is one new change on top of the history, made
// in the room: collaborators see it live, and nothing is lost (the
// current state stays in the history, and can be named first).
func (s *Service) RestoreVersion(ctx context.Context, p Principal, appID, versionID string) (Version, []string, error) {
	a, _, err := s.appFor(ctx, p, appID, RoleEditor)
	if err != nil {
		return Version{}, nil, err
	}
	v, err := s.st.GetVersion(ctx, appID, versionID)
	if err != nil {
		return Version{}, nil, err
	}
	heads, err := parseHeads(v.Heads)
	if err != nil {
		return Version{}, nil, err
	}
	var after []crdt.Hash
	err = s.withDoc(ctx, appID, func(d *crdt.Doc) error {
		target, err := d.Fork(heads...)
		if err != nil {
			return err
		}
		if err := makeEqual(d, target, nil); err != nil {
			return err
		}
		if _, _, err := d.Commit(fmt.Sprintf("restore version %s (%s)", v.ID, truncate(v.Label, 80))); err != nil {
			return err
		}
		after = d.Heads()
		return nil
	})
	if err != nil {
		return Version{}, nil, err
	}
	s.audit(ctx, p.UserID, AuditVersionRestored, AuditEvent{OrgID: a.OrgID, AppID: appID, TargetID: v.ID,
		Detail: map[string]string{"label": v.Label}})
	return v, headStrings(after), nil
}

// makeEqual edits the map at path of d until it equals target's: keys
// target lacks are deleted, differing values rewritten, maps on both
// sides compared key by key, so untouched parts keep their identity and
// concurrent edits to them merge normally.
func makeEqual(d, target *crdt.Doc, path []any) error {
	have, err := d.Keys(path...)
	if err != nil {
		return err
	}
	want, err := target.Keys(path...)
	if err != nil {
		return err
	}
	for _, k := range have {
		if !slices.Contains(want, k) {
			if err := d.Delete(append(slices.Clone(path), k)...); err != nil {
				return err
			}
		}
	}
	for _, k := range want {
		if err := setEqual(d, target, append(slices.Clone(path), k)); err != nil {
			return err
		}
	}
	return nil
}

func setEqual(d, target *crdt.Doc, path []any) error {
	tv, err := target.Get(path...)
	if err != nil {
		return err
	}
	cv, err := d.Get(path...)
	if err != nil {
		return err
	}
	if sameJSON(tv, cv) && sameKind(tv, cv) {
		return nil
	}
	_, tmap := tv.(map[string]any)
	_, cmap := cv.(map[string]any)
	switch {
	case tmap && cmap:
		return makeEqual(d, target, path)
	case isSourcePath(path):
		if s, ok := tv.(string); ok {
			return spliceTo(d, path, s)
		}
	}
	return d.Set(path, withText(path, tv))
}

// sameKind tells apart values JSON shows alike (int64 1 and float64 1):
// a restore brings back the exact kind.
func sameKind(a, b any) bool { return fmt.Sprintf("%T", a) == fmt.Sprintf("%T", b) }

// isSourcePath reports whether path is a handler's source, which the app
// schema keeps as collaborative Text.
func isSourcePath(path []any) bool {
	return len(path) == 3 && path[0] == "handlers" && path[2] == "source"
}

// withText turns handler sources inside v (written at path) back into
// Text.
func withText(path []any, v any) any {
	switch {
	case isSourcePath(path):
		if s, ok := v.(string); ok {
			return crdt.Text(s)
		}
	case len(path) <= 2 && len(path) >= 1 && path[0] == "handlers":
		m, ok := v.(map[string]any)
		if !ok {
			return v
		}
		out := make(map[string]any, len(m))
		for k, e := range m {
			out[k] = withText(append(slices.Clone(path), k), e)
		}
		return out
	}
	return v
}

// spliceTo turns the Text at path into s, replacing only what differs.
func spliceTo(d *crdt.Doc, path []any, s string) error {
	cur, err := d.Get(path...)
	if err != nil {
		return err
	}
	old, ok := cur.(string)
	if !ok {
		return d.Set(path, crdt.Text(s))
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
	if err := d.SpliceText(path, pre, len(a)-pre-suf, string(b[pre:len(b)-suf])); err != nil {
		return err
	}
	if got, err := d.Get(path...); err != nil || got != s { // it was a plain string, not Text
		return d.Set(path, crdt.Text(s))
	}
	return nil
}
