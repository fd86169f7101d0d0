package rooms

import (
	"fmt"

	"github.com/casual-dev/casual/crdt"
)

// Refused changes. A peer whose changes we refuse (a viewer that edited its
// replica, or a writer past the document size limit) keeps them: its heads
// from then on name changes we will never have. Fed to the Automerge core
// as they are, those heads make two loops:
//
//   - we need the changes, the peer has already sent them and never sends
//     a change twice, and each side answers the other's message at once:
//     thousands of messages a second for as long as the socket lives;
//   - the peer waits for an answer to the message that carried them (its
//     sync state stays "in flight" while sent changes are unacknowledged),
//     and while it waits it only speaks when its heads move. When one of
//     our messages names a change without carrying it, because the peer's
//     bloom filter matched that change by chance (about 1 in 100), the
//     peer cannot ask for it and never gets it.
//
// So for such a peer every later message is read as if the refused changes
// were not there: its heads are replaced by the known changes they stand
// on, and its bloom filters are dropped, so that we send every change the
// peer lacks instead of trusting a filter. Nothing is lost: a filter only
// saves bandwidth.

// maxRefused bounds the refused changes remembered for one peer. A peer
// that has more is disconnected; it resends them on reconnecting.
const maxRefused = 4096

// errTooManyRefused is the error such a peer gets.
var errTooManyRefused = fmt.Errorf("%w: more than %d refused changes on one connection", ErrReadOnly, maxRefused)

// noteRefused remembers the changes of a refused sync message; false when
// the peer has refused more than maxRefused.
func (m *member) noteRefused(msg []byte) bool {
	sm, err := crdt.ParseSyncMessage(msg)
	if err != nil {
		return true
	}
	for _, raw := range sm.Changes {
		c, err := crdt.ParseChange(raw)
		if err != nil {
			continue
		}
		if m.refused == nil {
			m.refused = map[crdt.Hash][]crdt.Hash{}
		}
		m.refused[c.Hash] = c.Deps
	}
	return len(m.refused) <= maxRefused
}

// withoutRefused rewrites msg, from a peer with refused changes, as the
// peer would say it without them and without bloom filters (see above);
// msg is returned as it is if it cannot be read (the core will say so).
// With dropChanges, its changes go too: the caller refused them.
func (r *Room) withoutRefused(m *member, msg []byte, dropChanges bool) []byte {
	sm, err := crdt.ParseSyncMessage(msg)
	if err != nil {
		return msg
	}
	if dropChanges {
		sm.Changes = nil
	}
	for i := range sm.Have {
		sm.Have[i].Bloom = nil
	}
	sm.Heads = r.knownFrontier(m, sm.Heads)
	return sm.Encode()
}

// knownFrontier replaces each refused change in heads by what it depends
// on, recursively, and keeps only the heads no other head descends from,
// so that a peer which has everything we have says exactly our heads.
// Hashes neither refused nor known stay: the core asks for them.
func (r *Room) knownFrontier(m *member, heads []crdt.Hash) []crdt.Hash {
	var out []crdt.Hash
	seen := map[crdt.Hash]bool{}
	var walk func(h crdt.Hash)
	walk = func(h crdt.Hash) {
		if seen[h] {
			return
		}
		seen[h] = true
		if deps, ok := m.refused[h]; ok && !r.doc.HasChange(h) {
			for _, d := range deps {
				walk(d)
			}
			return
		}
		out = append(out, h)
	}
	for _, h := range heads {
		walk(h)
	}
	if len(out) < 2 {
		return out
	}
	// Drop a known head that another known head descends from.
	keep := out[:0]
	for i, h := range out {
		redundant := false
		for j, o := range out {
			if i != j && h != o && r.doc.HasChange(h) && r.doc.HasChange(o) && r.doc.Covers([]crdt.Hash{o}, []crdt.Hash{h}) {
				redundant = true
				break
			}
		}
		if !redundant {
			keep = append(keep, h)
		}
	}
	return keep
}
