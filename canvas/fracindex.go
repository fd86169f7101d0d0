package canvas

import (
	"math/big"
	"math/rand/v2"
	"strings"
)

// Fractional index keys are base-62 fractions 0.d1d2d3… written as the
// digit string "d1d2d3…" over digits, which is in ASCII order, so plain
// string comparison orders keys numerically. A valid key is non-empty and
// never ends in '0', which makes every fraction have exactly one spelling.
const digits = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"

const (
	base = len(digits)

	// jitterDigits is how many base-62 digits of randomness Between leaves
	// in a key, so two peers inserting into one gap pick different keys
	// (they collide with probability about 1/62^jitterDigits; a collision
	// only makes the id break the tie).
	jitterDigits = 2

	// MaxIndexLen is the key length past which a sibling list is
	// rebalanced (every sibling gets a fresh, evenly spaced key).
	MaxIndexLen = 32
)

var bigBase = big.NewInt(int64(base))

// ValidIndex reports whether key is a well-formed fractional index.
func ValidIndex(key string) bool {
	if key == "" || key[len(key)-1] == '0' {
		return false
	}
	for i := 0; i < len(key); i++ {
		if strings.IndexByte(digits, key[i]) < 0 {
			return false
		}
	}
	return true
}

// Between returns a random key strictly between a and b, where "" as a
// means the start and "" as b the end of the list. Keys are kept short:
// one appended at either end grows by a digit only every ~62 inserts,
// one inserted between neighbours takes the middle half of their gap.
// rnd may be nil (a shared source is used). It fails with ErrInvalidIndex
// when a or b is malformed or a >= b.
func Between(a, b string, rnd *rand.Rand) (string, error) {
	if (a != "" && !ValidIndex(a)) || (b != "" && !ValidIndex(b)) {
		return "", errf(ErrInvalidIndex, "between %q and %q", a, b)
	}
	if a != "" && b != "" && a >= b {
		return "", errf(ErrInvalidIndex, "%q is not before %q", a, b)
	}
	jitter := new(big.Int).Exp(bigBase, big.NewInt(jitterDigits), nil)
	need := new(big.Int).Lsh(jitter, 1)
	for p := 1; ; p++ {
		lo := new(big.Int).Add(scaled(a, p, false), big.NewInt(1))
		hi := new(big.Int).Sub(scaled(b, p, true), big.NewInt(1))
		n := new(big.Int).Sub(hi, lo)
		n.Add(n, big.NewInt(1)) // candidates in [lo, hi]
		if n.Cmp(need) < 0 {
			continue
		}
		var x *big.Int
		switch {
		case a != "" && b == "": // append: step just past a
			x = lo.Add(lo, randBig(rnd, jitter))
		case a == "" && b != "": // prepend: step just before b
			x = hi.Sub(hi, randBig(rnd, jitter))
		default: // middle half of the gap
			quarter := new(big.Int).Rsh(n, 2)
			half := new(big.Int).Rsh(n, 1)
			x = lo.Add(lo.Add(lo, quarter), randBig(rnd, half))
		}
		return render(x, p), nil
	}
}

// Spread returns n evenly spaced keys in increasing order. It is
// deterministic, so replicas rebalancing the same list agree, and leaves
// at least 62 free positions between neighbours.
func Spread(n int) []string {
	if n <= 0 {
		return nil
	}
	p := 1
	total := new(big.Int).Set(bigBase)
	minTotal := big.NewInt(int64((n + 1) * base))
	for total.Cmp(minTotal) < 0 {
		total.Mul(total, bigBase)
		p++
	}
	out := make([]string, n)
	for i := range out {
		x := new(big.Int).Mul(total, big.NewInt(int64(i+1)))
		x.Quo(x, big.NewInt(int64(n+1)))
		out[i] = render(x, p)
	}
	return out
}

// scaled returns floor(key·62^p) (or the ceiling when up), with "" meaning
// 0, or 1 when up (the end of the list).
func scaled(key string, p int, up bool) *big.Int {
	if key == "" {
		if up {
			return new(big.Int).Exp(bigBase, big.NewInt(int64(p)), nil)
		}
		return new(big.Int)
	}
	x := new(big.Int)
	for i := 0; i < p; i++ {
		d := 0
		if i < len(key) {
			d = strings.IndexByte(digits, key[i])
		}
		x.Mul(x, bigBase).Add(x, big.NewInt(int64(d)))
	}
	if up && len(key) > p {
		x.Add(x, big.NewInt(1)) // the dropped digits are non-zero
	}
	return x
}

// render writes x (< 62^p) as p digits without trailing zeros.
func render(x *big.Int, p int) string {
	buf := make([]byte, p)
	v := new(big.Int).Set(x)
	m := new(big.Int)
	for i := p - 1; i >= 0; i-- {
		v.QuoRem(v, bigBase, m)
		buf[i] = digits[m.Int64()]
	}
	return strings.TrimRight(string(buf), "0")
}

// randBig returns a random integer in [0, n).
func randBig(rnd *rand.Rand, n *big.Int) *big.Int {
	if n.Sign() <= 0 {
		return new(big.Int)
	}
	words := n.BitLen()/64 + 2
	x := new(big.Int)
	for i := 0; i < words; i++ {
		x.Lsh(x, 64).Or(x, new(big.Int).SetUint64(randUint64(rnd)))
	}
	return x.Mod(x, n)
}

func randUint64(rnd *rand.Rand) uint64 {
	if rnd == nil {
		return rand.Uint64()
	}
	return rnd.Uint64()
}

func randIntN(rnd *rand.Rand, n int) int {
	if rnd == nil {
		return rand.IntN(n)
	}
	return rnd.IntN(n)
}
