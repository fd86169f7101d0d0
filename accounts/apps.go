package accounts

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"log/slog"
	"slices"
	"time"

	"github.com/casual-dev/casual/canvas"
	"github.com/casual-dev/casual/crdt"
)

// CreateAppInput describes a new app. OrgID makes the organization its
// owner (the caller must be an editor there); otherwise the caller owns
// it. Template defaults to the blank app; Visibility to private (org for
// organization apps).
type CreateAppInput struct {
	Name        string
	Description string
	Template    string
	OrgID       string
	Visibility  Visibility
}

// CreateApp creates an app: its document is built from the template in
// its room (stored before this returns, so it is durable and live), then
// its metadata is recorded.
func (s *Service) CreateApp(ctx context.Context, p Principal, in CreateAppInput) (App, error) {
	a, err := s.newApp(ctx, p, in.Name, in.Description, in.OrgID, in.Visibility)
	if err != nil {
		return App{}, err
	}
	if in.Template == "" {
		in.Template = canvas.BlankTemplate
	}
	i := slices.IndexFunc(canvas.Templates(), func(t canvas.Template) bool { return t.ID == in.Template })
	if i < 0 {
		return App{}, invalidf("unknown template %q (see /v1/templates)", truncate(in.Template, 60))
	}
	if a.Name == "" {
		a.Name = canvas.Templates()[i].Name
	}
	a.Template = in.Template
	err = s.withDoc(ctx, a.ID, func(d *crdt.Doc) error {
		if err := canvas.NewApp(d, a.Name, a.Template); err != nil {
			return err
		}
		if a.Description != "" {
			if err := d.Set([]any{"meta", "description"}, a.Description); err != nil {
				return err
			}
		}
		_, _, err := d.Commit("create app from template " + a.Template)
		return err
	})
	if err != nil {
		return App{}, err
	}
	return s.recordNew(ctx, a, AuditAppCreated, map[string]string{"template": a.Template})
}

// newApp validates a new app's metadata and picks its owner and id.
func (s *Service) newApp(ctx context.Context, p Principal, name, description, orgID string, vis Visibility) (App, error) {
	uid, err := p.user()
	if err != nil {
		return App{}, err
	}
	if name, err = checkName("name", name, false); err != nil {
		return App{}, err
	}
	if len(description) > 2000 {
		return App{}, invalidf("description must be at most 2000 bytes")
	}
	now := s.now()
	a := App{ID: string(crdt.NewDocID()), Name: name, Description: description, CreatedBy: uid, CreatedAt: now, UpdatedAt: now}
	if orgID != "" {
		if _, err := s.orgFor(ctx, p, orgID, RoleEditor); err != nil {
			return App{}, err
		}
		a.OrgID = orgID
		a.Visibility = OrgWide
	} else {
		a.OwnerID = uid
		a.Visibility = Private
	}
	if vis != "" {
		if err := checkVisibility(a, vis); err != nil {
			return App{}, err
		}
		a.Visibility = vis
	}
	if a.Visibility == Public {
		a.PublishedAt = now
	}
	return a, nil
}

func checkVisibility(a App, v Visibility) error {
	if !v.Valid() {
		return invalidf("visibility must be private, org or public")
	}
	if v == OrgWide && a.OrgID == "" {
		return invalidf("visibility org is for apps of an organization")
	}
	return nil
}

// recordNew stores the metadata of an app whose document exists.
func (s *Service) recordNew(ctx context.Context, a App, action string, detail map[string]string) (App, error) {
	if err := s.st.CreateApp(ctx, a); err != nil {
		return App{}, err
	}
	s.audit(ctx, a.CreatedBy, action, AuditEvent{OrgID: a.OrgID, AppID: a.ID, Detail: detail})
	return a, nil
}

// App returns an app and the caller's role on it.
func (s *Service) App(ctx context.Context, p Principal, id string) (App, Role, error) {
	return s.appFor(ctx, p, id, RoleViewer)
}

// ListAppsInput filters, orders and pages a listing.
type ListAppsInput struct {
	Search     string
	Owner      string // a user id: only their apps (public ones, and what the caller may see)
	OrgID      string
	Visibility Visibility
	Sort       AppSort
	Desc       bool
	Trash      bool // deleted apps the caller may restore
	Cursor     string
	Limit      int
}

// AppPage is one page of a listing; Next is the cursor of the next page
// ("" at the end).
type AppPage struct {
	Apps []App
	Next string
}

// MaxPage bounds a listing page.
const MaxPage = 100

type cursor struct {
	Sort AppSort `json:"s"`
	Desc bool    `json:"d,omitempty"`
	Name string  `json:"n,omitempty"`
	Time int64   `json:"t,omitempty"` // unix microseconds
	ID   string  `json:"i"`
}

// ListApps lists the apps the caller can see, or (with Owner) those of one
// user that the caller can see, public ones included.
func (s *Service) ListApps(ctx context.Context, p Principal, in ListAppsInput) (AppPage, error) {
	q := AppQuery{Search: in.Search, OwnerID: in.Owner, OrgID: in.OrgID, Visibility: in.Visibility, Sort: in.Sort,
		Desc: in.Desc, Deleted: in.Trash, Limit: in.Limit}
	if q.Sort == "" {
		q.Sort, q.Desc = SortUpdated, true
	}
	if q.Sort != SortName && q.Sort != SortCreated && q.Sort != SortUpdated {
		return AppPage{}, invalidf("sort must be name, created or updated")
	}
	if q.Visibility != "" && !q.Visibility.Valid() {
		return AppPage{}, invalidf("visibility must be private, org or public")
	}
	if q.Limit <= 0 || q.Limit > MaxPage {
		q.Limit = 20
	}
	if err := s.scope(ctx, p, &q, in.Owner != ""); err != nil {
		return AppPage{}, err
	}
	if in.Cursor != "" {
		c, err := decodeCursor(in.Cursor)
		if err != nil || c.Sort != q.Sort || c.Desc != q.Desc {
			return AppPage{}, invalidf("bad cursor (it belongs to another sort order, or is damaged)")
		}
		q.AfterID, q.AfterName, q.AfterTime = c.ID, c.Name, time.UnixMicro(c.Time).UTC()
	}
	want := q.Limit
	q.Limit++ // one more tells whether there is a next page
	apps, err := s.st.ListApps(ctx, q)
	if err != nil {
		return AppPage{}, err
	}
	page := AppPage{Apps: apps}
	if len(apps) > want {
		page.Apps = apps[:want]
		page.Next = encodeCursor(q.Sort, q.Desc, page.Apps[want-1])
	}
	if in.Trash {
		page.Apps, err = s.restorable(ctx, p, page.Apps)
	}
	return page, err
}

// scope fills the query's scope for p.
func (s *Service) scope(ctx context.Context, p Principal, q *AppQuery, public bool) error {
	q.IncludePublic = public && !q.Deleted
	switch {
	case p.Local:
		q.All = true
		return nil
	case p.UserID == "":
		if !public {
			return ErrUnauthenticated
		}
		return nil
	}
	q.Viewer = p.UserID
	ms, err := s.st.ListMemberships(ctx, p.UserID)
	if err != nil {
		return err
	}
	for _, m := range ms {
		q.OrgIDs = append(q.OrgIDs, m.OrgID)
		if m.Role.AtLeast(RoleAdmin) {
			q.AdminOrgIDs = append(q.AdminOrgIDs, m.OrgID)
		}
	}
	return nil
}

// restorable keeps the apps of the trash the caller may restore.
func (s *Service) restorable(ctx context.Context, p Principal, apps []App) ([]App, error) {
	out := apps[:0]
	for _, a := range apps {
		role, err := s.AppRole(ctx, p, a)
		if err != nil {
			return nil, err
		}
		if role.AtLeast(RoleAdmin) {
			out = append(out, a)
		}
	}
	return out, nil
}

func encodeCursor(sort AppSort, desc bool, a App) string {
	c := cursor{Sort: sort, Desc: desc, ID: a.ID}
	switch sort {
	case SortName:
		c.Name = a.Name
	case SortCreated:
		c.Time = a.CreatedAt.UnixMicro()
	default:
		c.Time = a.UpdatedAt.UnixMicro()
	}
	b, _ := json.Marshal(c)
	return base64.RawURLEncoding.EncodeToString(b)
}

func decodeCursor(s string) (cursor, error) {
	var c cursor
	b, err := base64.RawURLEncoding.DecodeString(s)
	if err != nil {
		return c, err
	}
	if err := json.Unmarshal(b, &c); err != nil {
		return c, err
	}
	if c.ID == "" {
		return c, errors.New("no id")
	}
	return c, nil
}

// AppUpdate changes an app's metadata; nil fields stay.
type AppUpdate struct {
	Name        *string
	Description *string
	Visibility  *Visibility
}

// UpdateApp changes an app's name and description (editors) or
// visibility (admins). Name and description are written to the document
// too, so open builders show them.
func (s *Service) UpdateApp(ctx context.Context, p Principal, id string, upd AppUpdate) (App, error) {
	need := RoleEditor
	if upd.Visibility != nil {
		need = RoleAdmin
	}
	a, _, err := s.appFor(ctx, p, id, need)
	if err != nil {
		return App{}, err
	}
	doc := map[string]any{}
	if upd.Name != nil {
		name, err := checkName("name", *upd.Name, true)
		if err != nil {
			return App{}, err
		}
		a.Name, doc["name"] = name, name
	}
	if upd.Description != nil {
		if len(*upd.Description) > 2000 {
			return App{}, invalidf("description must be at most 2000 bytes")
		}
		a.Description, doc["description"] = *upd.Description, *upd.Description
	}
	if len(doc) > 0 {
		err := s.withDoc(ctx, id, func(d *crdt.Doc) error {
			for _, k := range []string{"name", "description"} {
				if v, ok := doc[k]; ok {
					if err := d.Set([]any{"meta", k}, v); err != nil {
						return err
					}
				}
			}
			_, _, err := d.Commit("update app metadata")
			return err
		})
		if err != nil {
			return App{}, err
		}
	}
	if upd.Visibility != nil {
		return s.setVisibility(ctx, p, a, *upd.Visibility)
	}
	a.UpdatedAt = s.now()
	return a, s.st.UpdateApp(ctx, a)
}

// Publish sets an app's visibility (admins): public publishes it, private
// unpublishes it.
func (s *Service) Publish(ctx context.Context, p Principal, id string, v Visibility) (App, error) {
	a, _, err := s.appFor(ctx, p, id, RoleAdmin)
	if err != nil {
		return App{}, err
	}
	return s.setVisibility(ctx, p, a, v)
}

func (s *Service) setVisibility(ctx context.Context, p Principal, a App, v Visibility) (App, error) {
	if err := checkVisibility(a, v); err != nil {
		return App{}, err
	}
	old := a.Visibility
	a.Visibility, a.UpdatedAt = v, s.now()
	if v == Public && old != Public {
		a.PublishedAt = a.UpdatedAt
	}
	if v != Public {
		a.PublishedAt = time.Time{}
	}
	if err := s.st.UpdateApp(ctx, a); err != nil {
		return App{}, err
	}
	if old != v {
		action := AuditAppPublished
		if v != Public {
			action = AuditAppUnpublished
		}
		s.audit(ctx, p.UserID, action, AuditEvent{OrgID: a.OrgID, AppID: a.ID,
			Detail: map[string]string{"from": string(old), "to": string(v)}})
		s.appChanged(ctx, a.ID, "")
	}
	return a, nil
}

// DeleteApp moves an app to the trash (admins), where it can be restored
// for Config.TrashTTL. Its document stays until then.
func (s *Service) DeleteApp(ctx context.Context, p Principal, id string) error {
	a, _, err := s.appFor(ctx, p, id, RoleAdmin)
	if err != nil {
		return err
	}
	if !a.DeletedAt.IsZero() {
		return notFoundf("app %s is already in the trash", id)
	}
	return s.trash(ctx, p.UserID, a)
}

func (s *Service) trash(ctx context.Context, actor string, a App) error {
	if !a.DeletedAt.IsZero() {
		return nil
	}
	a.DeletedAt = s.now()
	if err := s.st.UpdateApp(ctx, a); err != nil {
		return err
	}
	s.audit(ctx, actor, AuditAppDeleted, AuditEvent{OrgID: a.OrgID, AppID: a.ID})
	s.appChanged(ctx, a.ID, "")
	return nil
}

// RestoreApp takes an app out of the trash (admins).
func (s *Service) RestoreApp(ctx context.Context, p Principal, id string) (App, error) {
	a, _, err := s.appFor(ctx, p, id, RoleAdmin)
	if err != nil {
		return App{}, err
	}
	if a.DeletedAt.IsZero() {
		return App{}, invalidf("app %s is not in the trash", id)
	}
	if a.OrgID != "" {
		if _, err := s.st.GetOrg(ctx, a.OrgID); errors.Is(err, ErrNotFound) {
			return App{}, invalidf("the organization of app %s was deleted", id)
		}
	}
	a.DeletedAt, a.UpdatedAt = time.Time{}, s.now()
	if err := s.st.UpdateApp(ctx, a); err != nil {
		return App{}, err
	}
	s.audit(ctx, p.UserID, AuditAppRestored, AuditEvent{OrgID: a.OrgID, AppID: a.ID})
	return a, nil
}

// PurgeTrash deletes, for good, apps that have been in the trash longer
// than Config.TrashTTL (and their documents, if Config.Docs is set). It
// returns how many it purged.
func (s *Service) PurgeTrash(ctx context.Context) (int, error) {
	n := 0
	for {
		apps, err := s.st.ListTrash(ctx, s.now().Add(-s.cfg.TrashTTL), 100)
		if err != nil || len(apps) == 0 {
			return n, err
		}
		for _, a := range apps {
			if s.cfg.Docs != nil {
				if err := s.cfg.Docs.Delete(ctx, a.ID); err != nil {
					return n, err
				}
			}
			if err := s.st.PurgeApp(ctx, a.ID); err != nil {
				return n, err
			}
			s.audit(ctx, "", AuditAppPurged, AuditEvent{OrgID: a.OrgID, AppID: a.ID})
			n++
		}
	}
}

// RunJanitor purges the trash every interval until ctx ends. The caller
// owns it: run it in an errgroup and cancel ctx to stop it.
func (s *Service) RunJanitor(ctx context.Context, every time.Duration) error {
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		if n, err := s.PurgeTrash(ctx); err != nil && ctx.Err() == nil {
			s.log.Error("purge trash", slog.Any("err", err))
		} else if n > 0 {
			s.log.Info("purged apps from the trash", slog.Int("apps", n))
		}
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
		}
	}
}
