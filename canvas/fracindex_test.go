package canvas

import (
	"errors"
	"slices"
	"testing"
)

func TestBetweenIsStrictlyBetween(t *testing.T) {
	rnd := seeded(1)
	for i := 0; i < 2000; i++ {
		a, b := randomKey(rnd), randomKey(rnd)
		switch {
		case a == b:
			continue
		case a > b:
			a, b = b, a
		}
		switch rnd.IntN(4) {
		case 0:
			a = ""
		case 1:
			b = ""
		}
		k, err := Between(a, b, rnd)
		if err != nil {
			t.Fatalf("Between(%q, %q): %v", a, b, err)
		}
		if !ValidIndex(k) || (a != "" && k <= a) || (b != "" && k >= b) {
			t.Fatalf("Between(%q, %q) = %q", a, b, k)
		}
	}
}

func TestBetweenRejectsBadInput(t *testing.T) {
	for _, c := range []struct{ a, b string }{
		{"V", "V"}, {"b", "a"}, {"a0", ""}, {"", "a!"}, {"", "0"},
	} {
		if _, err := Between(c.a, c.b, nil); !errors.Is(err, ErrInvalidIndex) {
			t.Errorf("Between(%q, %q) err = %v", c.a, c.b, err)
		}
	}
}

func TestBetweenJitterAvoidsCollisions(t *testing.T) {
	// Two peers inserting into the same gap pick different keys.
	rnd := seeded(2)
	collisions := 0
	for i := 0; i < 1000; i++ {
		x, _ := Between("V", "W", rnd)
		y, _ := Between("V", "W", rnd)
		if x == y {
			collisions++
		}
	}
	if collisions > 5 {
		t.Fatalf("%d collisions in 1000 concurrent inserts", collisions)
	}
}

func TestRepeatedInsertsStaySortedAndShort(t *testing.T) {
	rnd := seeded(3)
	for _, mode := range []string{"append", "prepend", "random"} {
		var keys []string
		for i := 0; i < 300; i++ {
			at := len(keys)
			switch mode {
			case "prepend":
				at = 0
			case "random":
				at = rnd.IntN(len(keys) + 1)
			}
			var lo, hi string
			if at > 0 {
				lo = keys[at-1]
			}
			if at < len(keys) {
				hi = keys[at]
			}
			k, err := Between(lo, hi, rnd)
			if err != nil {
				t.Fatal(err)
			}
			keys = slices.Insert(keys, at, k)
		}
		if !slices.IsSorted(keys) {
			t.Fatalf("%s: keys out of order", mode)
		}
		longest := slices.MaxFunc(keys, func(a, b string) int { return len(a) - len(b) })
		if (mode == "append" || mode == "prepend") && len(longest) > 10 {
			t.Fatalf("%s: 300 inserts made a %d-digit key %q", mode, len(longest), longest)
		}
	}
}

func TestSpreadIsSortedDistinctAndDeterministic(t *testing.T) {
	for _, n := range []int{1, 2, 10, 61, 62, 500, 5000} {
		ks := Spread(n)
		if len(ks) != n || !slices.IsSorted(ks) || len(slices.Compact(slices.Clone(ks))) != n {
			t.Fatalf("Spread(%d) not %d sorted distinct keys", n, n)
		}
		for i, k := range ks {
			if !ValidIndex(k) {
				t.Fatalf("Spread(%d)[%d] = %q invalid", n, i, k)
			}
			if i > 0 {
				if _, err := Between(ks[i-1], k, nil); err != nil {
					t.Fatalf("no room between %q and %q", ks[i-1], k)
				}
			}
		}
		if !slices.Equal(ks, Spread(n)) {
			t.Fatalf("Spread(%d) not deterministic", n)
		}
	}
}

func randomKey(rnd interface{ IntN(int) int }) string {
	n := 1 + rnd.IntN(6)
	b := make([]byte, n)
	for i := range b {
		b[i] = digits[rnd.IntN(base)]
	}
	if b[n-1] == '0' {
		b[n-1] = '1'
	}
	return string(b)
}
