package canvas

import (
	"fmt"
	"math/rand/v2"
	"reflect"
	"regexp"
	"slices"

	"github.com/casual-dev/casual/crdt"
)

// SchemaVersion is the version of the app document this package reads and
// writes, stored in the document's top-level "schema" field.
const SchemaVersion = 1

// migrations returns the upgrades: migrations()[v] upgrades a document
// from version v to v+1. A migration must be deterministic (replicas may
// run it concurrently and merge) and must not commit. Version 1 is the
// first, so there are none yet.
func migrations() map[int]func(*crdt.Doc) error { return map[int]func(*crdt.Doc) error{} }

// Version returns the document's schema version. A document with content
// but no "schema" field is version 0; an empty one is ErrNotInitialized.
func Version(doc *crdt.Doc) (int, error) {
	v, err := doc.Get("schema")
	if err != nil {
		return 0, fmt.Errorf("read schema: %w", err)
	}
	switch n := v.(type) {
	case nil:
		keys, err := doc.Keys()
		if err != nil {
			return 0, fmt.Errorf("read schema: %w", err)
		}
		if len(keys) == 0 {
			return 0, ErrNotInitialized
		}
		return 0, nil
	case int64:
		return int(n), nil
	case uint64:
		return int(n), nil
	case float64:
		if n == float64(int(n)) {
			return int(n), nil
		}
	}
	return 0, errf(ErrSchemaVersion, "schema field is %v", v)
}

// Migrate upgrades the document to SchemaVersion in place, one version at a
// time, and reports the version it started from. It refuses documents newer
// than this package (ErrSchemaVersion): editing them could lose data.
// Edits are left uncommitted, like every operation's.
func Migrate(doc *crdt.Doc) (from int, err error) {
	return migrate(doc, migrations())
}

func migrate(doc *crdt.Doc, migrations map[int]func(*crdt.Doc) error) (from int, err error) {
	from, err = Version(doc)
	if err != nil {
		return from, err
	}
	if from > SchemaVersion {
		return from, errf(ErrSchemaVersion, "document is version %d, this build reads up to %d", from, SchemaVersion)
	}
	for v := from; v < SchemaVersion; v++ {
		m := migrations[v]
		if m == nil {
			return from, errf(ErrSchemaVersion, "no migration from version %d", v)
		}
		if err := m(doc); err != nil {
			return from, fmt.Errorf("migrate %d to %d: %w", v, v+1, err)
		}
		if err := doc.Set([]any{"schema"}, int64(v+1)); err != nil {
			return from, fmt.Errorf("migrate %d to %d: %w", v, v+1, err)
		}
	}
	return from, nil
}

// app is a snapshot of the parts of a document operations validate against.
type app struct {
	doc      *crdt.Doc
	pages    map[string]map[string]any
	comps    map[string]map[string]any
	handlers map[string]map[string]any
	t        *Tree
}

// load reads a version-1 app document.
func load(doc *crdt.Doc) (*app, error) {
	v, err := Version(doc)
	if err != nil {
		return nil, err
	}
	if v != SchemaVersion {
		return nil, errf(ErrSchemaVersion, "document is version %d, want %d (run Migrate)", v, SchemaVersion)
	}
	a := &app{doc: doc}
	for _, f := range []struct {
		key string
		dst *map[string]map[string]any
	}{{"pages", &a.pages}, {"components", &a.comps}, {"handlers", &a.handlers}} {
		if *f.dst, err = readEntities(doc, f.key); err != nil {
			return nil, err
		}
	}
	return a, nil
}

// readEntities reads a top-level map of maps; entries that are not maps
// are skipped (Validate reports them).
func readEntities(doc *crdt.Doc, key string) (map[string]map[string]any, error) {
	v, err := doc.Get(key)
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", key, err)
	}
	out := make(map[string]map[string]any)
	if v == nil {
		return out, nil
	}
	m, ok := v.(map[string]any)
	if !ok {
		return nil, errf(ErrCorruptDocument, "%s is a %s, not a map", key, kindOf(v))
	}
	for k, e := range m {
		if em, ok := e.(map[string]any); ok {
			out[k] = em
		}
	}
	return out, nil
}

// tree returns the materialized tree of the snapshot.
func (a *app) tree() *Tree {
	if a.t == nil {
		a.t, _ = buildTree(a.pages, a.comps)
	}
	return a.t
}

// sortedKeys returns m's keys in order.
func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}

func getString(m map[string]any, key string) string {
	s, _ := m[key].(string)
	return s
}

func getMap(m map[string]any, key string) map[string]any {
	sub, _ := m[key].(map[string]any)
	return sub
}

var idPattern = regexp.MustCompile(`^[A-Za-z0-9_-]{1,64}$`)

func checkID(kind, id string) error {
	if !idPattern.MatchString(id) {
		return errf(ErrInvalidID, "%s id %q: want 1-64 of A-Z a-z 0-9 _ -", kind, truncate(id, 80))
	}
	return nil
}

// newID returns prefix-XXXXXXXX not yet used in taken.
func newID[V any](prefix string, taken map[string]V, rnd *rand.Rand) string {
	for {
		b := []byte(prefix + "-")
		for i := 0; i < 8; i++ {
			b = append(b, digits[randIntN(rnd, base)])
		}
		if _, dup := taken[string(b)]; !dup {
			return string(b)
		}
	}
}

// SameValue reports whether two plain document values (as crdt.Doc.Get
// returns them) are equal, treating every number kind as float64.
func SameValue(a, b any) bool { return sameValue(a, b) }

func sameValue(a, b any) bool {
	if fa, ok := number(a); ok {
		fb, ok := number(b)
		return ok && fa == fb
	}
	switch x := a.(type) {
	case map[string]any:
		y, ok := b.(map[string]any)
		if !ok || len(x) != len(y) {
			return false
		}
		for k, v := range x {
			w, ok := y[k]
			if !ok || !sameValue(v, w) {
				return false
			}
		}
		return true
	case []any:
		y, ok := b.([]any)
		if !ok || len(x) != len(y) {
			return false
		}
		for i := range x {
			if !sameValue(x[i], y[i]) {
				return false
			}
		}
		return true
	case nil:
		return b == nil
	}
	return reflect.DeepEqual(a, b)
}

func number(v any) (float64, bool) {
	switch n := v.(type) {
	case float64:
		return n, true
	case int64:
		return float64(n), true
	case uint64:
		return float64(n), true
	case int:
		return float64(n), true
	}
	return 0, false
}
