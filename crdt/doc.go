// Package crdt owns the Automerge document: the only package that imports
// automerge-go. It hides cgo behind a small API — documents, heads, changes,
// save/load (whole and incremental), per-peer sync state, plain-Go value
// access — and turns every panic of the wrapped library into an error.
//
// A Doc is safe to call from one goroutine at a time; rooms give each
// document exactly one owning goroutine.
package crdt

import (
	"encoding/hex"
	"errors"
	"fmt"
	"time"

	"github.com/automerge/automerge-go"
)

// ErrCorrupt reports bytes that do not decode as Automerge data (a document,
// a change or a sync message), or data the bundled Automerge core does not
// support (for example changes that use rich-text marks).
var ErrCorrupt = errors.New("undecodable automerge data")

// Hash identifies a change (SHA-256 of its encoding).
type Hash [32]byte

// String returns the hex form, as Automerge prints heads.
func (h Hash) String() string { return hex.EncodeToString(h[:]) }

// ParseHash parses the hex form of a change hash.
func ParseHash(s string) (Hash, error) {
	var h Hash
	b, err := hex.DecodeString(s)
	if err != nil || len(b) != len(h) {
		return h, fmt.Errorf("%w: bad change hash %q", ErrCorrupt, truncate(s, 70))
	}
	copy(h[:], b)
	return h, nil
}

// Doc is one Automerge document.
type Doc struct {
	am *automerge.Doc
	// seqs caches each actor's highest change sequence (see checkChanges);
	// nil means unknown, rebuilt from the history on next use.
	seqs map[string]uint64
	// seqsBuiltAt are the heads at which seqs was last rebuilt.
	seqsBuiltAt []Hash
	// waiting are received changes the core holds until their dependencies
	// arrive (see checkChanges).
	waiting map[Hash]changeHeader
}

// New returns an empty document with a random actor id.
func New() *Doc { return &Doc{am: automerge.New()} }

// Load decodes a saved document, or the concatenation of a snapshot and
// incremental chunks.
func Load(data []byte) (doc *Doc, err error) {
	defer recoverInto(&err, "load")
	if len(data) == 0 {
		return New(), nil
	}
	am, err := automerge.Load(data)
	if err != nil {
		return nil, fmt.Errorf("%w: load: %v", ErrCorrupt, err)
	}
	return &Doc{am: am}, nil
}

// recoverInto converts a panic raised inside automerge-go (it panics on
// errors it considers impossible) into an error wrapping ErrCorrupt.
func recoverInto(err *error, op string) {
	if r := recover(); r != nil {
		*err = fmt.Errorf("%w: %s: %v", ErrCorrupt, op, r)
	}
}

// Save returns the whole document in compacted form.
func (d *Doc) Save() []byte { return d.am.Save() }

// SaveIncremental returns the changes made since the previous Save or
// SaveIncremental, or nil when there are none.
func (d *Doc) SaveIncremental() []byte {
	b := d.am.SaveIncremental()
	if len(b) == 0 {
		return nil
	}
	return b
}

// LoadIncremental applies a chunk produced by SaveIncremental or Save.
func (d *Doc) LoadIncremental(data []byte) (err error) {
	defer recoverInto(&err, "load incremental")
	before := d.headsIfCached()
	defer d.noteNewSince(before)
	if err := d.am.LoadIncremental(data); err != nil {
		return fmt.Errorf("%w: load incremental: %v", ErrCorrupt, err)
	}
	d.noteHeld(data)
	return nil
}

// Heads returns the hashes of the document's newest changes, sorted.
func (d *Doc) Heads() []Hash {
	hs := d.am.Heads()
	out := make([]Hash, len(hs))
	for i, h := range hs {
		out[i] = Hash(h)
	}
	return out
}

// ActorID returns the hex actor id that new changes are made as.
func (d *Doc) ActorID() string { return d.am.ActorID() }

// SetActorID sets the actor (hex, even length) new changes are made as.
func (d *Doc) SetActorID(actor string) (err error) {
	defer recoverInto(&err, "set actor")
	if err := d.am.SetActorID(actor); err != nil {
		return fmt.Errorf("set actor %q: %w", actor, err)
	}
	return nil
}

// NewActorID returns a fresh random actor id.
func NewActorID() string { return automerge.NewActorID() }

// Fork returns an independent copy of the document, optionally as of the
// given heads. The fork gets a new actor id.
func (d *Doc) Fork(at ...Hash) (out *Doc, err error) {
	defer recoverInto(&err, "fork")
	hs := make([]automerge.ChangeHash, len(at))
	for i, h := range at {
		hs[i] = automerge.ChangeHash(h)
	}
	am, err := d.am.Fork(hs...)
	if err != nil {
		return nil, fmt.Errorf("fork: %w", err)
	}
	return &Doc{am: am}, nil
}

// Merge applies every change of other that d lacks.
func (d *Doc) Merge(other *Doc) (err error) {
	defer recoverInto(&err, "merge")
	if other == d {
		return nil // already has every change (and the library would deadlock)
	}
	before := d.headsIfCached()
	defer d.noteNewSince(before)
	if _, err := d.am.Merge(other.am); err != nil {
		return fmt.Errorf("merge: %w", err)
	}
	return nil
}

// Commit turns pending edits into one change with the given message.
// It reports false when there was nothing to commit.
func (d *Doc) Commit(msg string) (h Hash, ok bool, err error) {
	defer recoverInto(&err, "commit")
	ch, err := d.am.Commit(msg)
	if err != nil {
		// automerge-go (pinned) reports an empty commit only by this text;
		// reading heads first is no help, as it commits pending ops itself.
		if err.Error() == "Commit is empty" {
			return h, false, nil
		}
		return h, false, fmt.Errorf("commit: %w", err)
	}
	if d.seqs != nil {
		if c, err := d.am.Change(ch); err == nil && c.ActorSeq() > d.seqs[c.ActorID()] {
			d.seqs[c.ActorID()] = c.ActorSeq()
		}
	}
	return Hash(ch), true, nil
}

// Change describes one change of the document's history.
type Change struct {
	Hash    Hash
	Actor   string
	Seq     uint64
	Message string
	Time    time.Time
	Deps    []Hash
	Raw     []byte
}

// Changes returns the changes that are not ancestors of since (all changes
// when since is empty), in causal order.
func (d *Doc) Changes(since ...Hash) (out []Change, err error) {
	defer recoverInto(&err, "changes")
	hs := make([]automerge.ChangeHash, len(since))
	for i, h := range since {
		hs[i] = automerge.ChangeHash(h)
	}
	chs, err := d.am.Changes(hs...)
	if err != nil {
		return nil, fmt.Errorf("changes: %w", err)
	}
	out = make([]Change, 0, len(chs))
	for _, c := range chs {
		out = append(out, convertChange(c))
	}
	return out, nil
}

func convertChange(c *automerge.Change) Change {
	deps := c.Dependencies()
	ds := make([]Hash, len(deps))
	for i, h := range deps {
		ds[i] = Hash(h)
	}
	return Change{Hash: Hash(c.Hash()), Actor: c.ActorID(), Seq: c.ActorSeq(),
		Message: c.Message(), Time: c.Timestamp(), Deps: ds, Raw: c.Save()}
}

// ApplyChanges applies encoded changes (Change.Raw, concatenated or not).
func (d *Doc) ApplyChanges(raw ...[]byte) (err error) {
	defer recoverInto(&err, "apply changes")
	before := d.headsIfCached()
	defer d.noteNewSince(before)
	for _, r := range raw {
		chs, err := automerge.LoadChanges(r)
		if err != nil {
			return fmt.Errorf("%w: decode changes: %v", ErrCorrupt, err)
		}
		if err := d.am.Apply(chs...); err != nil {
			return fmt.Errorf("%w: apply changes: %v", ErrCorrupt, err)
		}
		d.noteHeld(r)
	}
	return nil
}

// HasChange reports whether the document contains the change.
func (d *Doc) HasChange(h Hash) bool {
	_, err := d.am.Change(automerge.ChangeHash(h))
	return err == nil
}
