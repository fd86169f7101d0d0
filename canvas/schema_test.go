package canvas

import (
	"testing"

	"github.com/casual-dev/casual/crdt"
)

func TestMigrateUpgradesAVersion0Document(t *testing.T) {
	// A made-up version 0 kept components under "nodes" and had no schema
	// field; its migration renames the map.
	fake := map[int]func(*crdt.Doc) error{0: func(d *crdt.Doc) error {
		nodes, err := d.Get("nodes")
		if err != nil {
			return err
		}
		if err := d.Set([]any{"components"}, nodes); err != nil {
			return err
		}
		return d.Delete("nodes")
	}}

	d := crdt.New()
	must(t, d.Set([]any{"meta"}, map[string]any{"name": "old"}))
	must(t, d.Set([]any{"pages"}, map[string]any{"home": map[string]any{"name": "Home", "route": "/", "index": "V"}}))
	must(t, d.Set([]any{"nodes"}, map[string]any{"t": map[string]any{"type": "text", "page": "home",
		"pos": map[string]any{"parent": nil, "index": "V"}, "props": map[string]any{"text": "hi"}}}))
	_, err := AddComponent(d, Actor{}, ComponentSpec{Type: "text"})
	wantErr(t, err, ErrSchemaVersion)

	from, err := migrate(d, fake)
	if err != nil || from != 0 {
		t.Fatalf("Migrate = %d, %v", from, err)
	}
	if v, _ := Version(d); v != SchemaVersion {
		t.Fatalf("version after migrate = %d", v)
	}
	tr, _ := Materialize(d)
	if tr.Node("t") == nil {
		t.Fatal("migrated component missing")
	}
	if from, err := migrate(d, fake); err != nil || from != SchemaVersion {
		t.Fatalf("second Migrate = %d, %v", from, err)
	}
}

func TestMigrateErrors(t *testing.T) {
	_, err := Migrate(crdt.New())
	wantErr(t, err, ErrNotInitialized)

	noMigration := crdt.New()
	must(t, noMigration.Set([]any{"nodes"}, map[string]any{}))
	_, err = Migrate(noMigration)
	wantErr(t, err, ErrSchemaVersion)

	newer := newTestApp(t, BlankTemplate)
	must(t, newer.Set([]any{"schema"}, int64(SchemaVersion+1)))
	_, err = Migrate(newer)
	wantErr(t, err, ErrSchemaVersion)

	garbage := crdt.New()
	must(t, garbage.Set([]any{"schema"}, "one"))
	_, err = Migrate(garbage)
	wantErr(t, err, ErrSchemaVersion)
}
