package crdt

import (
	"encoding/binary"
	"fmt"
	"math"
)

// FanoutMessage returns the sync message the Automerge core would send a
// peer that has exactly the changes up to since and needs nothing: our
// heads, no needs, one "have" (since, plus a bloom filter of the changes
// after it), and those changes. It is the same for every such peer, so a
// room builds it once per round instead of asking the core once per peer
// (whose cost grows with the document's history; BenchmarkFanoutRound).
// TestFanoutMessageMatchesTheCore checks it byte for byte.
func (d *Doc) FanoutMessage(since []Hash) (msg []byte, heads []Hash, err error) {
	chs, err := d.Changes(since...)
	if err != nil {
		return nil, nil, fmt.Errorf("fanout message: %w", err)
	}
	m := SyncMessage{Heads: d.Heads(), Have: []SyncHave{{LastSync: since}}}
	hashes := make([]Hash, len(chs))
	for i, c := range chs {
		hashes[i] = c.Hash
		m.Changes = append(m.Changes, c.Raw)
	}
	m.Have[0].Bloom = bloomFilter(hashes)
	return m.Encode(), m.Heads, nil
}

// The bloom filter of a sync message's "have", as the Automerge core
// encodes it: 10 bits per entry and 7 probes (a 1% false-positive rate),
// probes derived from the first 12 bytes of each hash; no entries encode
// as nothing.
const (
	bloomBitsPerEntry = 10
	bloomProbes       = 7
)

func bloomFilter(hashes []Hash) []byte {
	if len(hashes) == 0 {
		return nil
	}
	n := uint32(len(hashes))
	bits := make([]byte, int(math.Ceil(float64(n)*bloomBitsPerEntry/8)))
	modulo := 8 * uint32(len(bits))
	for _, h := range hashes {
		x := binary.LittleEndian.Uint32(h[0:4]) % modulo
		y := binary.LittleEndian.Uint32(h[4:8]) % modulo
		z := binary.LittleEndian.Uint32(h[8:12]) % modulo
		bits[x>>3] |= 1 << (x & 7)
		for range bloomProbes - 1 {
			x = (x + y) % modulo
			y = (y + z) % modulo
			bits[x>>3] |= 1 << (x & 7)
		}
	}
	out := binary.AppendUvarint(nil, uint64(n))
	out = binary.AppendUvarint(out, bloomBitsPerEntry)
	out = binary.AppendUvarint(out, bloomProbes)
	return append(out, bits...)
}
