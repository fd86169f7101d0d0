package accounts

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/casual-dev/casual/canvas"
	"github.com/casual-dev/casual/crdt"
)

// withDoc runs fn on the document of app id in its room: edits fn makes
// are committed, stored before withDoc returns, and sent to every peer in
// the room. fn must not Save the document (the room tracks what it has
// stored through incremental saves); read it through a Fork instead.
func (s *Service) withDoc(ctx context.Context, id string, fn func(d *crdt.Doc) error) error {
	did, err := crdt.ParseDocID(id)
	if err != nil {
		return fmt.Errorf("document %s: %w", id, err)
	}
	room, err := s.rooms.Acquire(ctx, did)
	if err != nil {
		return fmt.Errorf("open document %s: %w", id, err)
	}
	defer s.rooms.Release(did)
	if err := room.Do(ctx, fn); err != nil {
		return fmt.Errorf("document %s: %w", id, err)
	}
	return nil
}

// snapshot returns an independent copy of app id's document, as of heads
// (now, without heads).
func (s *Service) snapshot(ctx context.Context, id string, heads ...crdt.Hash) (*crdt.Doc, error) {
	var f *crdt.Doc
	err := s.withDoc(ctx, id, func(d *crdt.Doc) (err error) {
		f, err = d.Fork(heads...)
		return err
	})
	return f, err
}

// ForkInput names the copy ForkApp makes; OrgID puts it in an
// organization (the caller must be an editor there).
type ForkInput struct {
	Name  string
	OrgID string
}

// ForkApp copies an app the caller can read into a new app the caller
// (or their organization) owns. The copy is a new document holding the
// source's whole history, so versions of the source name states of the
// fork too.
func (s *Service) ForkApp(ctx context.Context, p Principal, id string, in ForkInput) (App, error) {
	src, _, err := s.appFor(ctx, p, id, RoleViewer)
	if err != nil {
		return App{}, err
	}
	if in.Name == "" {
		in.Name = truncate(src.Name+" (fork)", 190)
	}
	a, err := s.newApp(ctx, p, in.Name, src.Description, in.OrgID, "")
	if err != nil {
		return App{}, err
	}
	a.Template, a.ForkedFrom = src.Template, src.ID
	f, err := s.snapshot(ctx, src.ID)
	if err != nil {
		return App{}, err
	}
	err = s.withDoc(ctx, a.ID, func(d *crdt.Doc) error {
		if err := d.Merge(f); err != nil {
			return err
		}
		if err := d.Set([]any{"meta", "name"}, a.Name); err != nil {
			return err
		}
		_, _, err := d.Commit("fork of " + src.ID)
		return err
	})
	if err != nil {
		return App{}, err
	}
	return s.recordNew(ctx, a, AuditAppForked, map[string]string{"from": src.ID})
}

// ExportFormat marks an export file.
const ExportFormat = "casual-app-export"

// Export is the single file an app exports to: its metadata, named
// versions and whole document (Automerge save format, base64).
type Export struct {
	Format     string          `json:"format"`
	Version    int             `json:"version"`
	ExportedAt time.Time       `json:"exported_at"`
	App        ExportApp       `json:"app"`
	Versions   []ExportVersion `json:"versions"`
	Document   string          `json:"document"`
}

// ExportApp is the metadata an export carries.
type ExportApp struct {
	ID          string    `json:"id"`
	Name        string    `json:"name"`
	Description string    `json:"description"`
	Template    string    `json:"template"`
	CreatedAt   time.Time `json:"created_at"`
}

// ExportVersion is a named version in an export.
type ExportVersion struct {
	Label     string    `json:"label"`
	Heads     []string  `json:"heads"`
	CreatedAt time.Time `json:"created_at"`
}

// MaxImportBytes bounds an import file.
const MaxImportBytes = 64 << 20

// ExportApp returns app id as an export file (viewers may export: they can
// read the whole document anyway).
func (s *Service) ExportApp(ctx context.Context, p Principal, id string) ([]byte, App, error) {
	a, _, err := s.appFor(ctx, p, id, RoleViewer)
	if err != nil {
		return nil, App{}, err
	}
	f, err := s.snapshot(ctx, id)
	if err != nil {
		return nil, App{}, err
	}
	vs, err := s.st.ListVersions(ctx, id)
	if err != nil {
		return nil, App{}, err
	}
	e := Export{Format: ExportFormat, Version: 1, ExportedAt: s.now(), Versions: []ExportVersion{},
		App:      ExportApp{ID: a.ID, Name: a.Name, Description: a.Description, Template: a.Template, CreatedAt: a.CreatedAt},
		Document: base64.StdEncoding.EncodeToString(f.Save())}
	for i := len(vs) - 1; i >= 0; i-- { // oldest first
		e.Versions = append(e.Versions, ExportVersion{Label: vs[i].Label, Heads: vs[i].Heads, CreatedAt: vs[i].CreatedAt})
	}
	b, err := json.MarshalIndent(e, "", "  ")
	return b, a, err
}

// ImportInput is an export file and where the new app goes.
type ImportInput struct {
	File  []byte
	Name  string // default the exported name
	OrgID string
}

// ImportApp creates a new app from an export file: a new document id with
// the exported document's history, its metadata and its versions. A file
// that is not an export, or whose document does not load as a Casual app,
// fails with ErrCorruptImport and creates nothing.
func (s *Service) ImportApp(ctx context.Context, p Principal, in ImportInput) (App, error) {
	e, doc, err := parseExport(in.File)
	if err != nil {
		return App{}, err
	}
	name := in.Name
	if name == "" {
		name = e.App.Name
	}
	desc := e.App.Description
	if len(desc) > 2000 {
		desc = desc[:2000]
	}
	a, err := s.newApp(ctx, p, name, desc, in.OrgID, "")
	if err != nil {
		return App{}, err
	}
	a.Template = truncate(e.App.Template, 60)
	err = s.withDoc(ctx, a.ID, func(d *crdt.Doc) error { return d.Merge(doc) })
	if err != nil {
		return App{}, err
	}
	a, err = s.recordNew(ctx, a, AuditAppImported, map[string]string{"exported_id": truncate(e.App.ID, 100)})
	if err != nil {
		return App{}, err
	}
	for _, v := range e.Versions {
		id, err := s.newID("ver")
		if err != nil {
			return App{}, err
		}
		label, _ := checkName("label", v.Label, false)
		if err := s.st.CreateVersion(ctx, Version{ID: id, AppID: a.ID, Label: label, Heads: v.Heads, AuthorID: p.UserID,
			CreatedAt: v.CreatedAt.UTC().Truncate(time.Microsecond)}); err != nil {
			return App{}, err
		}
	}
	return a, nil
}

// parseExport checks an export file thoroughly before anything is
// created from it.
func parseExport(file []byte) (Export, *crdt.Doc, error) {
	var e Export
	dec := json.NewDecoder(bytes.NewReader(file))
	if err := dec.Decode(&e); err != nil {
		return e, nil, fmt.Errorf("%w: not JSON: %v", ErrCorruptImport, err)
	}
	switch {
	case e.Format != ExportFormat:
		return e, nil, fmt.Errorf("%w: format is %q, want %q", ErrCorruptImport, truncate(e.Format, 40), ExportFormat)
	case e.Version != 1:
		return e, nil, fmt.Errorf("%w: export version %d is not supported", ErrCorruptImport, e.Version)
	}
	raw, err := base64.StdEncoding.DecodeString(e.Document)
	if err != nil || len(raw) == 0 {
		return e, nil, fmt.Errorf("%w: document is not base64 Automerge data", ErrCorruptImport)
	}
	doc, err := crdt.Load(raw)
	if err != nil {
		return e, nil, fmt.Errorf("%w: document does not load: %v", ErrCorruptImport, err)
	}
	v, err := canvas.Version(doc)
	if err != nil || v != canvas.SchemaVersion {
		return e, nil, fmt.Errorf("%w: document is not a Casual app of schema %d (%v)", ErrCorruptImport, canvas.SchemaVersion, err)
	}
	if _, err := checkName("name", e.App.Name, false); err != nil {
		return e, nil, fmt.Errorf("%w: %v", ErrCorruptImport, err)
	}
	for _, ver := range e.Versions {
		hs, err := parseHeads(ver.Heads)
		if err != nil {
			return e, nil, fmt.Errorf("%w: version %q: %v", ErrCorruptImport, truncate(ver.Label, 40), err)
		}
		for _, h := range hs {
			if !doc.HasChange(h) {
				return e, nil, fmt.Errorf("%w: version %q names a change the document lacks", ErrCorruptImport, truncate(ver.Label, 40))
			}
		}
	}
	return e, doc, nil
}

func parseHeads(hs []string) ([]crdt.Hash, error) {
	if len(hs) == 0 {
		return nil, errors.New("no heads")
	}
	out := make([]crdt.Hash, len(hs))
	for i, h := range hs {
		x, err := crdt.ParseHash(h)
		if err != nil {
			return nil, err
		}
		out[i] = x
	}
	return out, nil
}

func headStrings(hs []crdt.Hash) []string {
	out := make([]string, len(hs))
	for i, h := range hs {
		out[i] = h.String()
	}
	return out
}
