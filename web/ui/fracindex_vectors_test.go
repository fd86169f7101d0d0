package ui

import (
	"bytes"
	"encoding/json"
	"flag"
	"math/rand/v2"
	"os"
	"testing"

	"github.com/casual-dev/casual/canvas"
)

// The builder page computes fractional indexes in TypeScript
// (js/builder/src/fracindex.ts). Both implementations must produce the same
// keys from the same random words: this test writes the vectors from
// canvas.Between and canvas.Spread, and js/builder/test/fracindex.test.mjs
// checks the port against them.
//
//	go test ./web/ui -run TestFracIndexVectors -update

var update = flag.Bool("update", false, "rewrite the shared fractional index vectors")

const vectorsPath = "../../js/builder/test/fracindex-vectors.json"

// splitmix64 is a rand.Source both languages implement in a few lines.
type splitmix64 struct{ s uint64 }

func (r *splitmix64) Uint64() uint64 {
	r.s += 0x9e3779b97f4a7c15
	z := r.s
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9
	z = (z ^ (z >> 27)) * 0x94d049bb133111eb
	return z ^ (z >> 31)
}

type betweenVector struct {
	A    string `json:"a"`
	B    string `json:"b"`
	Seed uint64 `json:"seed"`
	Key  string `json:"key"`
}

type sequenceVector struct {
	Kind string   `json:"kind"` // append, prepend or bisect
	Seed uint64   `json:"seed"`
	Keys []string `json:"keys"`
}

type spreadVector struct {
	N    int      `json:"n"`
	Keys []string `json:"keys"`
}

type vectors struct {
	Between   []betweenVector  `json:"between"`
	Sequences []sequenceVector `json:"sequences"`
	Spread    []spreadVector   `json:"spread"`
	Invalid   [][2]string      `json:"invalid"`
	Valid     map[string]bool  `json:"valid"`
}

func makeVectors(t *testing.T) vectors {
	var v vectors
	between := func(a, b string, r *rand.Rand) string {
		k, err := canvas.Between(a, b, r)
		if err != nil {
			t.Fatalf("Between(%q, %q): %v", a, b, err)
		}
		return k
	}
	pairs := [][2]string{{"", ""}, {"V", ""}, {"", "V"}, {"V", "W"}, {"V", "V1"}, {"1", "z"}, {"zz", ""},
		{"", "01"}, {"A", "A01"}, {"azB", "azC"}, {"0001", "0002"}, {"Vzzzzzzzzz", "W"}}
	for i, p := range pairs {
		for s := uint64(0); s < 3; s++ {
			seed := uint64(i)*10 + s
			v.Between = append(v.Between, betweenVector{p[0], p[1], seed, between(p[0], p[1], rand.New(&splitmix64{seed}))})
		}
	}
	for i, kind := range []string{"append", "prepend", "bisect"} {
		seed := uint64(100 + i)
		r := rand.New(&splitmix64{seed})
		lo, hi := "", ""
		keys := []string{}
		for n := 0; n < 120; n++ {
			k := between(lo, hi, r)
			keys = append(keys, k)
			switch kind {
			case "append":
				lo = k
			case "prepend":
				hi = k
			case "bisect": // always between the first key and the one after it
				if lo == "" {
					lo = k
				} else {
					hi = k
				}
			}
		}
		v.Sequences = append(v.Sequences, sequenceVector{kind, seed, keys})
	}
	for _, n := range []int{1, 2, 3, 10, 61, 62, 100, 500} {
		v.Spread = append(v.Spread, spreadVector{n, canvas.Spread(n)})
	}
	v.Invalid = [][2]string{{"V", "V"}, {"b", "a"}, {"a0", ""}, {"", "a!"}, {"", "0"}, {"W", "V"}}
	v.Valid = map[string]bool{}
	for _, k := range []string{"", "0", "V", "V0", "a!", "zz", "01", "Az9", "é"} {
		v.Valid[k] = canvas.ValidIndex(k)
	}
	for _, p := range v.Invalid {
		if _, err := canvas.Between(p[0], p[1], nil); err == nil {
			t.Fatalf("Between(%q, %q) succeeded", p[0], p[1])
		}
	}
	return v
}

func TestFracIndexVectors(t *testing.T) {
	v := makeVectors(t)
	got, err := json.MarshalIndent(v, "", " ")
	if err != nil {
		t.Fatal(err)
	}
	got = append(got, '\n')
	if *update {
		if err := os.WriteFile(vectorsPath, got, 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(vectorsPath)
	if err != nil {
		t.Fatalf("%v (write it with -update)", err)
	}
	if !bytes.Equal(got, want) {
		t.Fatalf("canvas fractional indexes no longer match %s: if the change is intended, run "+
			"go test ./web/ui -run TestFracIndexVectors -update and port it to js/builder/src/fracindex.ts", vectorsPath)
	}
}
