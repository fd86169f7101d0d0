package canvas

import (
	"math/rand/v2"
	"slices"
)

// Position says where among its siblings a component (or a page) goes:
// before or after a sibling, or at an index. At most one may be set; none
// means at the end.
type Position struct {
	Before string `json:"before,omitempty"`
	After  string `json:"after,omitempty"`
	Index  *int   `json:"index,omitempty"`
}

// AtIndex is a convenience for Position{Index: &i}.
func AtIndex(i int) Position { return Position{Index: &i} }

type sibling struct{ id, index string }

// placement is where an item lands: its new key, and fresh keys for
// siblings when their list had to be rebalanced.
type placement struct {
	key       string
	rebalance map[string]string
}

// place picks the fractional index for self among sibs (in order, self
// excluded) at pos. It rebalances the whole list when the neighbours' keys
// leave no room (equal or malformed) or the new key would be longer than
// MaxIndexLen.
func place(sibs []sibling, self string, pos Position, rnd *rand.Rand) (placement, error) {
	sibs = slices.DeleteFunc(slices.Clone(sibs), func(s sibling) bool { return s.id == self })
	at, err := slot(sibs, self, pos)
	if err != nil {
		return placement{}, err
	}
	var lo, hi string
	if at > 0 {
		lo = sibs[at-1].index
	}
	if at < len(sibs) {
		hi = sibs[at].index
	}
	key, err := Between(lo, hi, rnd)
	if err == nil && len(key) <= MaxIndexLen {
		return placement{key: key}, nil
	}
	keys := Spread(len(sibs) + 1)
	pl := placement{key: keys[at], rebalance: make(map[string]string, len(sibs))}
	for i, s := range sibs {
		k := keys[i]
		if i >= at {
			k = keys[i+1]
		}
		if k != s.index {
			pl.rebalance[s.id] = k
		}
	}
	return pl, nil
}

// slot turns a position into an insertion index into sibs.
func slot(sibs []sibling, self string, pos Position) (int, error) {
	set := 0
	for _, b := range []bool{pos.Before != "", pos.After != "", pos.Index != nil} {
		if b {
			set++
		}
	}
	switch {
	case set > 1:
		return 0, errf(ErrInvalidPosition, "give at most one of before, after and index")
	case pos.Before == self && self != "" || pos.After == self && self != "":
		return 0, errf(ErrInvalidPosition, "%s cannot be placed relative to itself", self)
	case pos.Before != "":
		i := slices.IndexFunc(sibs, func(s sibling) bool { return s.id == pos.Before })
		if i < 0 {
			return 0, errf(ErrInvalidPosition, "before %q: not a sibling", pos.Before)
		}
		return i, nil
	case pos.After != "":
		i := slices.IndexFunc(sibs, func(s sibling) bool { return s.id == pos.After })
		if i < 0 {
			return 0, errf(ErrInvalidPosition, "after %q: not a sibling", pos.After)
		}
		return i + 1, nil
	case pos.Index != nil:
		if *pos.Index < 0 || *pos.Index > len(sibs) {
			return 0, errf(ErrInvalidPosition, "index %d out of range [0, %d]", *pos.Index, len(sibs))
		}
		return *pos.Index, nil
	}
	return len(sibs), nil
}

func nodeSiblings(ns []*Node) []sibling {
	out := make([]sibling, len(ns))
	for i, n := range ns {
		out[i] = sibling{n.ID, n.Index}
	}
	return out
}

func pageSiblings(ps []*PageNode) []sibling {
	out := make([]sibling, len(ps))
	for i, p := range ps {
		out[i] = sibling{p.ID, p.Index}
	}
	return out
}

// posValue is the pos object of a component: always written whole, as
// one new map, so concurrent moves resolve to one of them.
func posValue(parent, index string) map[string]any {
	var p any
	if parent != "" {
		p = parent
	}
	return map[string]any{"parent": p, "index": index}
}

// rebalanceSiblings writes the fresh keys of a rebalanced component list.
func (p *plan) rebalanceSiblings(t *Tree, keys map[string]string) error {
	for _, id := range sortedKeys(keys) {
		n := t.Node(id)
		if err := p.set([]any{"components", id, "pos"}, posValue(n.Parent, keys[id])); err != nil {
			return err
		}
	}
	return nil
}
