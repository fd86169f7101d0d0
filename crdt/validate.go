package crdt

import (
	"bytes"
	"compress/flate"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"slices"

	"github.com/automerge/automerge-go"
)

// ErrInvalidChange reports a change that Automerge would accept but that
// would leave the document unloadable: the bundled core does not check
// that an actor's changes arrive in sequence, and a document with a gap in
// an actor's sequence saves into bytes that no longer load. Found by
// FuzzReceiveSyncMessage.
var ErrInvalidChange = errors.New("invalid change")

const syncMessageV1 = 0x42

// SyncMessage is the framing of a V1 sync message:
//
//	0x42 | heads | need | have* | changes | (trailing flags, ignored)
//
// where hashes are a LEB128 count of 32-byte hashes, each have is
// lastSync hashes plus a length-prefixed bloom filter, and changes are a
// LEB128 count of length-prefixed change chunks. Doc.Receive applies one;
// this type lets a light peer (the load generator's readers) take one
// apart and answer without holding a document.
type SyncMessage struct {
	Heads, Need []Hash
	Have        []SyncHave
	Changes     [][]byte
}

// SyncHave is one "have" of a sync message: the peer has everything up to
// LastSync, plus the changes in Bloom (an encoded bloom filter; empty: none).
type SyncHave struct {
	LastSync []Hash
	Bloom    []byte
}

// ParseSyncMessage decodes the framing of a V1 sync message. The changes
// are returned encoded (ParseChange reads their headers).
func ParseSyncMessage(msg []byte) (SyncMessage, error) {
	var m SyncMessage
	if len(msg) == 0 || msg[0] != syncMessageV1 {
		if len(msg) > 0 && msg[0] == 0x43 {
			return m, fmt.Errorf("%w: sync message format v2 (0x43) is not supported by this server's Automerge core", ErrCorrupt)
		}
		return m, fmt.Errorf("%w: not a sync message", ErrCorrupt)
	}
	r := reader{b: msg[1:]}
	m.Heads = r.hashes()
	m.Need = r.hashes()
	for n := r.count(); n > 0 && r.err == nil; n-- {
		m.Have = append(m.Have, SyncHave{LastSync: r.hashes(), Bloom: r.bytes()})
	}
	for n := r.count(); n > 0 && r.err == nil; n-- {
		m.Changes = append(m.Changes, r.bytes())
	}
	if r.err != nil {
		return SyncMessage{}, fmt.Errorf("%w: sync message: %v", ErrCorrupt, r.err)
	}
	return m, nil
}

// Encode writes m in the V1 format.
func (m SyncMessage) Encode() []byte {
	out := []byte{syncMessageV1}
	hashes := func(hs []Hash) {
		out = binary.AppendUvarint(out, uint64(len(hs)))
		for _, h := range hs {
			out = append(out, h[:]...)
		}
	}
	hashes(m.Heads)
	hashes(m.Need)
	out = binary.AppendUvarint(out, uint64(len(m.Have)))
	for _, h := range m.Have {
		hashes(h.LastSync)
		out = binary.AppendUvarint(out, uint64(len(h.Bloom)))
		out = append(out, h.Bloom...)
	}
	out = binary.AppendUvarint(out, uint64(len(m.Changes)))
	for _, c := range m.Changes {
		out = binary.AppendUvarint(out, uint64(len(c)))
		out = append(out, c...)
	}
	return out
}

// splitSyncMessage returns the encoded changes a sync message carries.
func splitSyncMessage(msg []byte) ([][]byte, error) {
	m, err := ParseSyncMessage(msg)
	return m.Changes, err
}

type reader struct {
	b   []byte
	err error
}

func (r *reader) count() uint64 {
	if r.err != nil {
		return 0
	}
	v, n := binary.Uvarint(r.b)
	if n <= 0 {
		r.err = errors.New("bad length")
		return 0
	}
	r.b = r.b[n:]
	if v > uint64(len(r.b)) { // every counted item takes at least a byte
		r.err = errors.New("count exceeds message")
		return 0
	}
	return v
}

func (r *reader) take(n uint64) []byte {
	if r.err != nil {
		return nil
	}
	if n > uint64(len(r.b)) {
		r.err = errors.New("truncated")
		return nil
	}
	out := r.b[:n]
	r.b = r.b[n:]
	return out
}

func (r *reader) hashes() []Hash {
	n := r.count()
	if n > uint64(len(r.b))/32 {
		r.err = errors.New("hash count exceeds message")
		return nil
	}
	b := r.take(32 * n)
	if r.err != nil || n == 0 {
		return nil
	}
	out := make([]Hash, n)
	for i := range out {
		out[i] = Hash(b[32*i:])
	}
	return out
}

func (r *reader) bytes() []byte { return r.take(r.count()) }

// checkChanges verifies that every change the core would apply on
// receiving raw — now, or together with changes from earlier messages that
// are still waiting for their dependencies — continues its actor's
// sequence. Changes whose dependencies are missing are legitimate (the
// core keeps them until the dependencies arrive) and are only tracked.
//
// The check reads the sequence cache. Should the cache ever be behind the
// history, an honest change would be refused, and its peer could never
// sync again; so a refusal is confirmed against a rebuilt cache, unless
// the cache was rebuilt at the current heads already (a peer repeating a
// forged change costs one rebuild per change the document gains).
func (d *Doc) checkChanges(raw [][]byte) ([]Hash, error) {
	hashes, err := d.checkChangesCached(raw)
	if errors.Is(err, ErrInvalidChange) && !slices.Equal(d.seqsBuiltAt, d.Heads()) {
		d.seqs = nil
		hashes, err = d.checkChangesCached(raw)
	}
	return hashes, err
}

func (d *Doc) checkChangesCached(raw [][]byte) ([]Hash, error) {
	if len(raw) == 0 {
		return nil, nil
	}
	seqs, err := d.actorSeqs()
	if err != nil {
		return nil, err
	}
	cands := map[Hash]changeHeader{}
	for h, c := range d.waiting {
		if d.HasChange(h) {
			delete(d.waiting, h)
		} else {
			cands[h] = c
		}
	}
	var hashes []Hash
	for _, r := range raw {
		c, err := parseChangeHeader(r)
		if err != nil {
			return nil, err
		}
		hashes = append(hashes, c.hash)
		if !d.HasChange(c.hash) {
			cands[c.hash] = c
		}
	}
	// Kahn's algorithm over the candidates: what becomes applicable, in a
	// causal order.
	missing := map[Hash]int{}
	dependents := map[Hash][]Hash{}
	var ready []Hash
	for h, c := range cands {
		for _, dep := range c.deps {
			if _, pending := cands[dep]; pending {
				missing[h]++
				dependents[dep] = append(dependents[dep], h)
			} else if !d.HasChange(dep) {
				missing[h] += 1 << 30 // waits for a change nobody sent yet
			}
		}
		if missing[h] == 0 {
			ready = append(ready, h)
		}
	}
	next := map[string]uint64{}
	for len(ready) > 0 {
		h := ready[len(ready)-1]
		ready = ready[:len(ready)-1]
		c := cands[h]
		have, ok := next[c.actor]
		if !ok {
			have = seqs[c.actor]
		}
		if c.seq != have+1 {
			return nil, fmt.Errorf("%w: actor %.16s… change %d would follow change %d", ErrInvalidChange, c.actor, c.seq, have)
		}
		next[c.actor] = c.seq
		for _, dep := range dependents[h] {
			if missing[dep]--; missing[dep] == 0 {
				ready = append(ready, dep)
			}
		}
	}
	return hashes, nil
}

// noteReceived records which received changes the core is still holding
// for missing dependencies, and updates the sequence cache with the rest.
func (d *Doc) noteReceived(raw [][]byte) {
	for _, r := range raw {
		c, err := parseChangeHeader(r)
		if err != nil {
			continue
		}
		if !d.HasChange(c.hash) {
			if d.waiting == nil {
				d.waiting = map[Hash]changeHeader{}
			}
			if len(d.waiting) < maxWaiting {
				c.rest = nil // do not keep the chunk alive
				d.waiting[c.hash] = c
			}
			continue
		}
		if d.seqs != nil && c.seq > d.seqs[c.actor] {
			d.seqs[c.actor] = c.seq
		}
	}
	for h, c := range d.waiting { // held changes the message let in
		if d.HasChange(h) {
			delete(d.waiting, h)
			if d.seqs != nil && c.seq > d.seqs[c.actor] {
				d.seqs[c.actor] = c.seq
			}
		}
	}
}

// noteHeld records the changes of data (concatenated chunks, as
// LoadIncremental and ApplyChanges take) that the core holds for missing
// dependencies: when a later Receive lets them in, noteReceived counts
// them in the sequence cache, as it does for changes held from a Receive.
// Document chunks are complete and never held.
func (d *Doc) noteHeld(data []byte) {
	for len(data) >= 10 && [4]byte(data[:4]) == changeMagic {
		r := reader{b: data[9:]}
		n := r.count()
		r.take(n)
		if r.err != nil {
			return
		}
		chunk := data[:len(data)-len(r.b)]
		data = r.b
		if typ := chunk[8]; typ != chunkChange && typ != chunkCompressedChange {
			continue
		}
		c, err := parseChangeHeader(chunk)
		if err != nil || d.HasChange(c.hash) {
			continue
		}
		if d.waiting == nil {
			d.waiting = map[Hash]changeHeader{}
		}
		if len(d.waiting) < maxWaiting {
			c.rest = nil
			d.waiting[c.hash] = c
		}
	}
}

// maxWaiting bounds how many held changes are tracked per document.
const maxWaiting = 100000

// actorSeqs returns, per actor, the highest sequence number in the
// document. It is built from the history once and then kept up to date.
func (d *Doc) actorSeqs() (map[string]uint64, error) {
	if d.seqs != nil {
		return d.seqs, nil
	}
	chs, err := d.am.Changes()
	if err != nil {
		return nil, fmt.Errorf("changes: %w", err)
	}
	seqs := make(map[string]uint64, 8)
	for _, c := range chs {
		if a, s := c.ActorID(), c.ActorSeq(); s > seqs[a] {
			seqs[a] = s
		}
	}
	d.seqs = seqs
	d.seqsBuiltAt = d.Heads()
	return seqs, nil
}

// changeHeader is what validation needs from an encoded change.
type changeHeader struct {
	hash  Hash
	deps  []Hash
	actor string
	seq   uint64
	rest  []byte // the header after seq
}

var changeMagic = [4]byte{0x85, 0x6f, 0x4a, 0x83}

const (
	chunkChange           = 1
	chunkCompressedChange = 2
)

// parseChangeHeader reads the header of an encoded change chunk (Automerge
// binary format: magic, checksum, type, LEB128 length, then deps, actor,
// seq, ...). The hash covers type, length and the uncompressed contents.
func parseChangeHeader(chunk []byte) (changeHeader, error) {
	var c changeHeader
	bad := func(why string) (changeHeader, error) {
		return c, fmt.Errorf("%w: change chunk: %s", ErrCorrupt, why)
	}
	if len(chunk) < 10 || [4]byte(chunk[:4]) != changeMagic {
		return bad("no magic bytes")
	}
	typ := chunk[8]
	r := reader{b: chunk[9:]}
	n := r.count()
	body := r.take(n)
	if r.err != nil {
		return bad(r.err.Error())
	}
	switch typ {
	case chunkChange:
	case chunkCompressedChange:
		var err error
		if body, err = inflate(body); err != nil {
			return bad("compressed contents: " + err.Error())
		}
	default:
		return bad(fmt.Sprintf("chunk type %d is not a change", typ))
	}
	c.hash = changeHash(body)
	if typ == chunkChange && [4]byte(chunk[4:8]) != [4]byte(c.hash[:4]) {
		return bad("checksum mismatch")
	}
	br := reader{b: body}
	for n := br.count(); n > 0 && br.err == nil; n-- {
		if dep := br.take(32); br.err == nil {
			c.deps = append(c.deps, Hash(dep))
		}
	}
	actor := br.bytes()
	c.seq = br.count64()
	if br.err != nil || len(actor) == 0 {
		return bad("truncated header")
	}
	c.actor = hex.EncodeToString(actor)
	c.rest = br.b
	return c, nil
}

// ChangeInfo is what the header of an encoded change says.
type ChangeInfo struct {
	Hash    Hash
	Deps    []Hash
	Actor   string // hex
	Seq     uint64
	Message string // the commit message; empty if none
}

// ParseChange reads the header of one encoded change (as carried by a sync
// message) without applying it.
func ParseChange(chunk []byte) (ChangeInfo, error) {
	c, err := parseChangeHeader(chunk)
	if err != nil {
		return ChangeInfo{}, err
	}
	info := ChangeInfo{Hash: c.hash, Deps: c.deps, Actor: c.actor, Seq: c.seq}
	r := reader{b: c.rest}
	r.count64() // startOp
	r.count64() // time: a signed LEB128, skipped as unsigned
	info.Message = string(r.bytes())
	if r.err != nil {
		return ChangeInfo{}, fmt.Errorf("%w: change chunk: truncated header", ErrCorrupt)
	}
	return info, nil
}

func changeHash(body []byte) Hash {
	h := sha256.New()
	var hdr [1 + binary.MaxVarintLen64]byte
	hdr[0] = chunkChange
	n := binary.PutUvarint(hdr[1:], uint64(len(body)))
	h.Write(hdr[:1+n])
	h.Write(body)
	return Hash(h.Sum(nil))
}

// inflate undoes the raw DEFLATE of a compressed change, bounded so a
// hostile chunk cannot expand without limit.
func inflate(b []byte) ([]byte, error) {
	const maxChange = 64 << 20
	out, err := io.ReadAll(io.LimitReader(flate.NewReader(bytes.NewReader(b)), maxChange+1))
	if err != nil {
		return nil, err
	}
	if len(out) > maxChange {
		return nil, errors.New("expands past 64 MiB")
	}
	return out, nil
}

// count64 reads a LEB128 number that is a value, not a length.
func (r *reader) count64() uint64 {
	if r.err != nil {
		return 0
	}
	v, n := binary.Uvarint(r.b)
	if n <= 0 {
		r.err = errors.New("bad number")
		return 0
	}
	r.b = r.b[n:]
	return v
}

// headsIfCached returns the heads when the sequence cache is built, so
// noteNewSince can update it with only what an operation adds.
func (d *Doc) headsIfCached() []automerge.ChangeHash {
	if d.seqs == nil {
		return nil
	}
	return d.am.Heads()
}

// noteNewSince updates the sequence cache with the changes added since
// before (which headsIfCached took); it drops the cache if that fails.
func (d *Doc) noteNewSince(before []automerge.ChangeHash) {
	if d.seqs == nil || before == nil && len(d.seqs) > 0 {
		return
	}
	chs, err := d.am.Changes(before...)
	if err != nil {
		d.seqs = nil
		return
	}
	for _, c := range chs {
		if a, s := c.ActorID(), c.ActorSeq(); s > d.seqs[a] {
			d.seqs[a] = s
		}
	}
}
