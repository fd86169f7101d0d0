package crdt

import (
	"fmt"

	"github.com/automerge/automerge-go"
)

// SyncState is the state of syncing one document with one peer.
type SyncState struct {
	ss  *automerge.SyncState
	doc *Doc
}

// NewSyncState starts syncing d with a new peer.
func (d *Doc) NewSyncState() *SyncState {
	return &SyncState{ss: automerge.NewSyncState(d.am), doc: d}
}

// LoadSyncState resumes syncing d with a peer from an encoded state. Only the
// shared heads survive encoding, which is what a reconnecting peer needs.
func (d *Doc) LoadSyncState(b []byte) (s *SyncState, err error) {
	defer recoverInto(&err, "load sync state")
	ss, err := automerge.LoadSyncState(d.am, b)
	if err != nil {
		return nil, fmt.Errorf("%w: sync state: %v", ErrCorrupt, err)
	}
	return &SyncState{ss: ss, doc: d}, nil
}

// Encode returns the persistent part of the state.
func (s *SyncState) Encode() []byte { return s.ss.Save() }

// Receive applies a sync message from the peer to the document and returns
// the heads the peer said it has.
func (s *SyncState) Receive(msg []byte) (theirHeads []Hash, err error) {
	defer recoverInto(&err, "receive sync message")
	raw, err := splitSyncMessage(msg)
	if err != nil {
		return nil, err
	}
	if _, err := s.doc.checkChanges(raw); err != nil {
		return nil, err
	}
	sm, err := s.ss.ReceiveMessage(msg)
	if err != nil {
		s.doc.seqs = nil
		return nil, fmt.Errorf("%w: sync message: %v", ErrCorrupt, err)
	}
	s.doc.noteReceived(raw)
	for _, h := range sm.Heads() {
		theirHeads = append(theirHeads, Hash(h))
	}
	return theirHeads, nil
}

// Covers reports whether the document's changes up to heads include every
// change of want: what a client uses to see that the server has its heads.
func (d *Doc) Covers(heads, want []Hash) bool {
	for _, h := range heads {
		if !d.HasChange(h) {
			return false
		}
	}
	newer, err := d.Changes(heads...)
	if err != nil {
		return false
	}
	for _, w := range want {
		for _, c := range newer {
			if c.Hash == w {
				return false
			}
		}
	}
	return true
}

// Generate returns the next message for the peer, or false when the peer is
// known to be up to date.
func (s *SyncState) Generate() (msg []byte, ok bool, err error) {
	defer recoverInto(&err, "generate sync message")
	sm, ok := s.ss.GenerateMessage()
	if !ok {
		return nil, false, nil
	}
	return sm.Bytes(), true, nil
}

// SyncMessageInfo summarises a sync message without applying it.
type SyncMessageInfo struct {
	Heads   []Hash // the sender's heads
	Changes int    // how many changes it carries
}

// InspectSyncMessage decodes a sync message and reports what it carries,
// so a caller can refuse changes from a read-only peer before applying.
func InspectSyncMessage(msg []byte) (info SyncMessageInfo, err error) {
	defer recoverInto(&err, "inspect sync message")
	if _, err := splitSyncMessage(msg); err != nil {
		return info, err
	}
	ss := automerge.NewSyncState(automerge.New())
	sm, err := ss.ReceiveMessage(msg)
	if sm == nil {
		return info, fmt.Errorf("%w: sync message: %v", ErrCorrupt, err)
	}
	// err here is about applying to the scratch doc (missing deps are fine);
	// the decode itself succeeded.
	for _, h := range sm.Heads() {
		info.Heads = append(info.Heads, Hash(h))
	}
	info.Changes = len(sm.Changes())
	return info, nil
}
