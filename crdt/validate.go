package crdt

import (
	"bytes"
	"compress/flate"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"io"
	"errors"
	"fmt"

	"github.com/automerge/automerge-go"
)

// ErrInvalidChange reports a change that Automerge would accept but that
// would leave the document unloadable: the bundled core does not check
// that an actor's changes arrive in sequence, and a document with a gap in
// an actor's sequence saves into bytes that no longer load. Found by
// FuzzReceiveSyncMessage.
var ErrInvalidChange = errors.New("invalid change")

const syncMessageV1 = 0x42

// splitSyncMessage parses the framing of a V1 sync message and returns the
// encoded changes it carries:
//
//	0x42 | heads | need | have* | changes | (trailing flags, ignored)
//
// where hashes are a LEB128 count of 32-byte hashes, each have is
// lastSync hashes plus a length-prefixed bloom filter, and changes are a
// LEB128 count of length-prefixed change chunks.
func splitSyncMessage(msg []byte) ([][]byte, error) {
	if len(msg) == 0 || msg[0] != syncMessageV1 {
		if len(msg) > 0 && msg[0] == 0x43 {
			return nil, fmt.Errorf("%w: sync message format v2 (0x43) is not supported by this server's Automerge core", ErrCorrupt)
		}
		return nil, fmt.Errorf("%w: not a sync message", ErrCorrupt)
	}
	r := reader{b: msg[1:]}
	r.hashes() // heads
	r.hashes() // need
	for n := r.count(); n > 0 && r.err == nil; n-- {
		r.hashes() // lastSync
		r.bytes()  // bloom
	}
	var changes [][]byte
	for n := r.count(); n > 0 && r.err == nil; n-- {
		changes = append(changes, r.bytes())
	}
	if r.err != nil {
		return nil, fmt.Errorf("%w: sync message: %v", ErrCorrupt, r.err)
	}
	return changes, nil
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

func (r *reader) hashes() {
	n := r.count()
	if n > uint64(len(r.b))/32 {
		r.err = errors.New("hash count exceeds message")
		return
	}
	r.take(32 * n)
}

func (r *reader) bytes() []byte { return r.take(r.count()) }

// checkChanges verifies each change continues its actor's sequence: its
// predecessor is in the document or earlier in the same message, and it
// does not reuse a sequence number with different content.
func (d *Doc) checkChanges(raw [][]byte) ([]Hash, error) {
	if len(raw) == 0 {
		return nil, nil
	}
	seqs, err := d.actorSeqs()
	if err != nil {
		return nil, err
	}
	next := map[string]uint64{}
	var hashes []Hash
	for _, r := range raw {
		c, err := parseChangeHeader(r)
		if err != nil {
			return nil, err
		}
		h := c.hash
		hashes = append(hashes, h)
		if d.HasChange(h) {
			continue
		}
		actor, seq := c.actor, c.seq
		have := seqs[actor]
		if n, ok := next[actor]; ok {
			have = n
		}
		if seq != have+1 {
			return nil, fmt.Errorf("%w: actor %.16s… change %d arrives after change %d", ErrInvalidChange, actor, seq, have)
		}
		next[actor] = seq
	}
	return hashes, nil
}

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
	return seqs, nil
}

// noteApplied updates the sequence cache with changes a sync message
// carried that are now in the document (changes waiting for missing
// dependencies are not, and stay unknown).
func (d *Doc) noteApplied(hashes []Hash) {
	if d.seqs == nil {
		return
	}
	for _, h := range hashes {
		c, err := d.am.Change(automerge.ChangeHash(h))
		if err != nil {
			continue
		}
		if a, s := c.ActorID(), c.ActorSeq(); s > d.seqs[a] {
			d.seqs[a] = s
		}
	}
}

// changeHeader is what validation needs from an encoded change.
type changeHeader struct {
	hash  Hash
	actor string
	seq   uint64
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
	br.hashes() // deps
	actor := br.bytes()
	c.seq = br.count64()
	if br.err != nil || len(actor) == 0 {
		return bad("truncated header")
	}
	c.actor = hex.EncodeToString(actor)
	return c, nil
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
