package api

import (
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/casual-dev/casual/accounts"
	"github.com/casual-dev/casual/canvas"
)

func badQuery(msg string) error { return fmt.Errorf("%w: %s", accounts.ErrInvalid, msg) }

type templateListView struct {
	Templates []canvas.Template `json:"templates"`
}

func (a *API) templates(w http.ResponseWriter, _ *http.Request, _ accounts.Principal) error {
	return writeJSON(w, http.StatusOK, templateListView{Templates: canvas.Templates()})
}

// listInput reads the listing parameters of /v1/apps.
func listInput(r *http.Request) (accounts.ListAppsInput, error) {
	q := r.URL.Query()
	in := accounts.ListAppsInput{Search: q.Get("q"), OrgID: q.Get("org"), Visibility: accounts.Visibility(q.Get("visibility")),
		Cursor: q.Get("cursor")}
	if s := q.Get("sort"); s != "" {
		in.Desc = strings.HasPrefix(s, "-")
		in.Sort = accounts.AppSort(strings.TrimPrefix(s, "-"))
	}
	if s := q.Get("limit"); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil || n < 1 || n > accounts.MaxPage {
			return in, badQuery(fmt.Sprintf("limit must be 1 to %d", accounts.MaxPage))
		}
		in.Limit = n
	}
	if s := q.Get("trash"); s != "" {
		b, err := strconv.ParseBool(s)
		if err != nil {
			return in, badQuery("trash must be true or false")
		}
		in.Trash = b
	}
	return in, nil
}

func (a *API) listApps(w http.ResponseWriter, r *http.Request, p accounts.Principal) error {
	in, err := listInput(r)
	if err != nil {
		return err
	}
	return a.appPage(w, r, p, in)
}

func (a *API) appPage(w http.ResponseWriter, r *http.Request, p accounts.Principal, in accounts.ListAppsInput) error {
	page, err := a.svc.ListApps(r.Context(), p, in)
	if err != nil {
		return err
	}
	out := appListView{Apps: make([]appView, 0, len(page.Apps)), NextCursor: page.Next}
	for _, app := range page.Apps {
		out.Apps = append(out.Apps, appOf(app, ""))
	}
	return writeJSON(w, http.StatusOK, out)
}

type createAppRequest struct {
	Name        string              `json:"name"`
	Description string              `json:"description"`
	Template    string              `json:"template"`
	OrgID       string              `json:"org_id"`
	Visibility  accounts.Visibility `json:"visibility"`
}

func (a *API) createApp(w http.ResponseWriter, r *http.Request, p accounts.Principal) error {
	var in createAppRequest
	if err := a.decode(w, r, &in, false); err != nil {
		return err
	}
	app, err := a.svc.CreateApp(r.Context(), p, accounts.CreateAppInput{Name: in.Name, Description: in.Description,
		Template: in.Template, OrgID: in.OrgID, Visibility: in.Visibility})
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusCreated, appOf(app, a.roleOf(r, p, app)))
}

// roleOf is p's role on an app it just made or changed.
func (a *API) roleOf(r *http.Request, p accounts.Principal, app accounts.App) accounts.Role {
	role, err := a.svc.AppRole(r.Context(), p, app)
	if err != nil {
		return ""
	}
	return role
}

func (a *API) importApp(w http.ResponseWriter, r *http.Request, p accounts.Principal) error {
	file, err := io.ReadAll(http.MaxBytesReader(w, r.Body, accounts.MaxImportBytes))
	var mbe *http.MaxBytesError
	if errors.As(err, &mbe) {
		return fmt.Errorf("%w: imports are limited to %d bytes", errBodyTooLarge, mbe.Limit)
	} else if err != nil {
		return fmt.Errorf("read body: %w", err)
	}
	q := r.URL.Query()
	app, err := a.svc.ImportApp(r.Context(), p, accounts.ImportInput{File: file, Name: q.Get("name"), OrgID: q.Get("org_id")})
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusCreated, appOf(app, a.roleOf(r, p, app)))
}

func (a *API) getApp(w http.ResponseWriter, r *http.Request, p accounts.Principal) error {
	app, role, err := a.svc.App(r.Context(), p, r.PathValue("id"))
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusOK, appOf(app, role))
}

type updateAppRequest struct {
	Name        *string              `json:"name"`
	Description *string              `json:"description"`
	Visibility  *accounts.Visibility `json:"visibility"`
}

func (a *API) updateApp(w http.ResponseWriter, r *http.Request, p accounts.Principal) error {
	var in updateAppRequest
	if err := a.decode(w, r, &in, false); err != nil {
		return err
	}
	app, err := a.svc.UpdateApp(r.Context(), p, r.PathValue("id"), accounts.AppUpdate{Name: in.Name, Description: in.Description,
		Visibility: in.Visibility})
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusOK, appOf(app, a.roleOf(r, p, app)))
}

func (a *API) deleteApp(w http.ResponseWriter, r *http.Request, p accounts.Principal) error {
	if err := a.svc.DeleteApp(r.Context(), p, r.PathValue("id")); err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

func (a *API) restoreApp(w http.ResponseWriter, r *http.Request, p accounts.Principal) error {
	app, err := a.svc.RestoreApp(r.Context(), p, r.PathValue("id"))
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusOK, appOf(app, a.roleOf(r, p, app)))
}

type publishRequest struct {
	Visibility accounts.Visibility `json:"visibility"`
}

func (a *API) publish(w http.ResponseWriter, r *http.Request, p accounts.Principal) error {
	in := publishRequest{Visibility: accounts.Public}
	if err := a.decode(w, r, &in, true); err != nil {
		return err
	}
	if in.Visibility == accounts.Private {
		return badQuery("publish to public or org; use unpublish to make an app private")
	}
	app, err := a.svc.Publish(r.Context(), p, r.PathValue("id"), in.Visibility)
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusOK, appOf(app, a.roleOf(r, p, app)))
}

func (a *API) unpublish(w http.ResponseWriter, r *http.Request, p accounts.Principal) error {
	app, err := a.svc.Publish(r.Context(), p, r.PathValue("id"), accounts.Private)
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusOK, appOf(app, a.roleOf(r, p, app)))
}

type forkRequest struct {
	Name  string `json:"name"`
	OrgID string `json:"org_id"`
}

func (a *API) fork(w http.ResponseWriter, r *http.Request, p accounts.Principal) error {
	var in forkRequest
	if err := a.decode(w, r, &in, true); err != nil {
		return err
	}
	app, err := a.svc.ForkApp(r.Context(), p, r.PathValue("id"), accounts.ForkInput{Name: in.Name, OrgID: in.OrgID})
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusCreated, appOf(app, a.roleOf(r, p, app)))
}

func (a *API) export(w http.ResponseWriter, r *http.Request, p accounts.Principal) error {
	file, app, err := a.svc.ExportApp(r.Context(), p, r.PathValue("id"))
	if err != nil {
		return err
	}
	name := strings.Map(func(r rune) rune {
		if r < 0x20 || r == '"' || r == '\\' || r == '/' || r == 0x7f {
			return '_'
		}
		return r
	}, app.Name)
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Content-Disposition", fmt.Sprintf(`attachment; filename="%s.casual.json"; filename*=UTF-8''%s.casual.json`,
		asciiOnly(name), url.PathEscape(name)))
	w.Header().Set("Cache-Control", "no-store")
	_, _ = w.Write(file) // a failed write means the client went away
	return nil
}

func asciiOnly(s string) string {
	return strings.Map(func(r rune) rune {
		if r > 0x7e {
			return '_'
		}
		return r
	}, s)
}

func (a *API) appMembers(w http.ResponseWriter, r *http.Request, p accounts.Principal) error {
	ms, err := a.svc.AppMembers(r.Context(), p, r.PathValue("id"))
	if err != nil {
		return err
	}
	out := memberListView{Members: make([]memberView, 0, len(ms))}
	for _, m := range ms {
		out.Members = append(out.Members, memberView{UserID: m.UserID, Name: m.Name, Email: m.Email, Role: m.Role,
			AddedBy: m.AddedBy, AddedAt: m.AddedAt})
	}
	return writeJSON(w, http.StatusOK, out)
}

func (a *API) shareApp(w http.ResponseWriter, r *http.Request, p accounts.Principal) error {
	var in memberRequest
	if err := a.decode(w, r, &in, false); err != nil {
		return err
	}
	m, err := a.svc.ShareApp(r.Context(), p, r.PathValue("id"), in.Email, in.Role)
	if err != nil {
		return err
	}
	return writeAdded(w, memberView{UserID: m.UserID, Name: m.Name, Email: m.Email, Role: m.Role,
		AddedBy: m.AddedBy, AddedAt: m.AddedAt}, m.Invitation)
}

func (a *API) unshareApp(w http.ResponseWriter, r *http.Request, p accounts.Principal) error {
	if err := a.svc.UnshareApp(r.Context(), p, r.PathValue("id"), r.PathValue("userId")); err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

type shareListView struct {
	Shares []shareView `json:"shares"`
}

func (a *API) shares(w http.ResponseWriter, r *http.Request, p accounts.Principal) error {
	ss, err := a.svc.Shares(r.Context(), p, r.PathValue("id"))
	if err != nil {
		return err
	}
	out := shareListView{Shares: make([]shareView, 0, len(ss))}
	for _, s := range ss {
		out.Shares = append(out.Shares, shareOf(s))
	}
	return writeJSON(w, http.StatusOK, out)
}

type shareRequest struct {
	Kind      string             `json:"kind"`
	Mode      accounts.ShareMode `json:"mode"`
	ExpiresIn int64              `json:"expires_in"` // seconds; 0: 30 days
}

func (a *API) createShare(w http.ResponseWriter, r *http.Request, p accounts.Principal) error {
	var in shareRequest
	if err := a.decode(w, r, &in, false); err != nil {
		return err
	}
	if in.ExpiresIn < 0 {
		return badQuery("expires_in must be a positive number of seconds")
	}
	s, tok, err := a.svc.CreateShare(r.Context(), p, r.PathValue("id"), accounts.ShareInput{Kind: in.Kind, Mode: in.Mode,
		TTL: time.Duration(in.ExpiresIn) * time.Second})
	if err != nil {
		return err
	}
	v := shareOf(s)
	v.Token = tok
	page := "/apps/"
	if s.Kind == accounts.ShareEmbed {
		page = "/embed/"
	}
	v.URL = a.baseURL(r) + page + url.PathEscape(s.AppID) + "?token=" + url.QueryEscape(tok)
	return writeJSON(w, http.StatusCreated, v)
}

func (a *API) revokeShare(w http.ResponseWriter, r *http.Request, p accounts.Principal) error {
	if err := a.svc.RevokeShare(r.Context(), p, r.PathValue("id"), r.PathValue("shareId")); err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

func (a *API) appAudit(w http.ResponseWriter, r *http.Request, p accounts.Principal) error {
	before, limit, err := auditPage(r)
	if err != nil {
		return err
	}
	es, err := a.svc.AppAudit(r.Context(), p, r.PathValue("id"), before, limit)
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusOK, auditOf(es, limit))
}
