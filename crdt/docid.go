package crdt

import (
	"crypto/rand"
	"crypto/sha256"
	"errors"
	"fmt"
	"math/big"
)

// DocID is an automerge-repo document id: the bs58check encoding of the
// document's binary id (16 random bytes for documents created by Repo.create).
type DocID string

// ErrInvalidDocID reports a document id that is not valid bs58check.
var ErrInvalidDocID = errors.New("invalid document id")

const b58alphabet = "123456789ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz"

// maxDocIDLen bounds ids accepted from the network. Repo ids are 28 chars;
// custom idFactory ids may be longer, but not unboundedly so.
const maxDocIDLen = 128

// NewDocID returns a fresh random document id, as Repo.create() makes them.
func NewDocID() DocID {
	var b [16]byte
	if _, err := rand.Read(b[:]); err != nil {
		panic(fmt.Sprintf("crypto/rand: %v", err)) // the OS RNG never fails on Linux
	}
	b[6] = b[6]&0x0f | 0x40 // UUIDv4, as the JS repo does
	b[8] = b[8]&0x3f | 0x80
	return DocIDFromBytes(b[:])
}

// DocIDFromBytes encodes a binary document id.
func DocIDFromBytes(b []byte) DocID {
	return DocID(bs58checkEncode(b))
}

// ParseDocID validates s as a document id. It accepts the bare id and the
// "automerge:<id>" URL form (heads after '#' are ignored).
func ParseDocID(s string) (DocID, error) {
	if len(s) > 10 && s[:10] == "automerge:" {
		s = s[10:]
		for i := 0; i < len(s); i++ {
			if s[i] == '#' {
				s = s[:i]
				break
			}
		}
	}
	if s == "" || len(s) > maxDocIDLen {
		return "", fmt.Errorf("%w: %q", ErrInvalidDocID, truncate(s, 40))
	}
	if _, err := bs58checkDecode(s); err != nil {
		return "", fmt.Errorf("%w: %q: %v", ErrInvalidDocID, truncate(s, 40), err)
	}
	return DocID(s), nil
}

// Bytes returns the binary id.
func (id DocID) Bytes() []byte {
	b, _ := bs58checkDecode(string(id))
	return b
}

// URL returns the automerge URL of the document.
func (id DocID) URL() string { return "automerge:" + string(id) }

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "…"
}

func checksum(b []byte) []byte {
	h1 := sha256.Sum256(b)
	h2 := sha256.Sum256(h1[:])
	return h2[:4]
}

func bs58checkEncode(payload []byte) string {
	full := make([]byte, 0, len(payload)+4)
	full = append(full, payload...)
	full = append(full, checksum(payload)...)
	return b58encode(full)
}

func bs58checkDecode(s string) ([]byte, error) {
	full, err := b58decode(s)
	if err != nil {
		return nil, err
	}
	if len(full) < 5 {
		return nil, errors.New("too short")
	}
	payload, sum := full[:len(full)-4], full[len(full)-4:]
	want := checksum(payload)
	for i := range sum {
		if sum[i] != want[i] {
			return nil, errors.New("bad checksum")
		}
	}
	return payload, nil
}

var big58 = big.NewInt(58)

func b58encode(b []byte) string {
	zeros := 0
	for zeros < len(b) && b[zeros] == 0 {
		zeros++
	}
	n := new(big.Int).SetBytes(b)
	var out []byte
	mod := new(big.Int)
	for n.Sign() > 0 {
		n.DivMod(n, big58, mod)
		out = append(out, b58alphabet[mod.Int64()])
	}
	for i := 0; i < zeros; i++ {
		out = append(out, '1')
	}
	for i, j := 0, len(out)-1; i < j; i, j = i+1, j-1 {
		out[i], out[j] = out[j], out[i]
	}
	return string(out)
}

func b58decode(s string) ([]byte, error) {
	n := new(big.Int)
	for i := 0; i < len(s); i++ {
		idx := -1
		for j := 0; j < len(b58alphabet); j++ {
			if b58alphabet[j] == s[i] {
				idx = j
				break
			}
		}
		if idx < 0 {
			return nil, fmt.Errorf("character %q is not base58", s[i])
		}
		n.Mul(n, big58)
		n.Add(n, big.NewInt(int64(idx)))
	}
	zeros := 0
	for zeros < len(s) && s[zeros] == '1' {
		zeros++
	}
	body := n.Bytes()
	out := make([]byte, zeros+len(body))
	copy(out[zeros:], body)
	return out, nil
}
