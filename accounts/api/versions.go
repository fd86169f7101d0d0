package api

import (
	"net/http"

	"github.com/casual-dev/casual/accounts"
)

type versionListView struct {
	Versions []versionView `json:"versions"`
}

func (a *API) versions(w http.ResponseWriter, r *http.Request, p accounts.Principal) error {
	vs, err := a.svc.Versions(r.Context(), p, r.PathValue("id"))
	if err != nil {
		return err
	}
	out := versionListView{Versions: make([]versionView, 0, len(vs))}
	for _, v := range vs {
		out.Versions = append(out.Versions, versionOf(v))
	}
	return writeJSON(w, http.StatusOK, out)
}

type versionRequest struct {
	Label string `json:"label"`
}

func (a *API) createVersion(w http.ResponseWriter, r *http.Request, p accounts.Principal) error {
	var in versionRequest
	if err := a.decode(w, r, &in, false); err != nil {
		return err
	}
	v, err := a.svc.CreateVersion(r.Context(), p, r.PathValue("id"), in.Label)
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusCreated, versionOf(v))
}

func (a *API) versionAt(w http.ResponseWriter, r *http.Request, p accounts.Principal) error {
	s, err := a.svc.VersionAt(r.Context(), p, r.PathValue("id"), r.PathValue("versionId"))
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusOK, versionStateView{Version: versionOf(s.Version), Meta: s.Meta, Tree: s.Tree})
}

func (a *API) diff(w http.ResponseWriter, r *http.Request, p accounts.Principal) error {
	to := r.URL.Query().Get("to")
	if to == "" {
		to = accounts.CurrentVersion
	}
	d, err := a.svc.DiffVersions(r.Context(), p, r.PathValue("id"), r.PathValue("versionId"), to)
	if err != nil {
		return err
	}
	out := diffView{From: versionOf(d.From), To: versionOf(d.To), Added: d.Added, Removed: d.Removed,
		Changed: make([]changeView, 0, len(d.Changed)), PagesAdded: d.PagesAdded, PagesRemoved: d.PagesRemoved, PagesChanged: d.PagesChanged}
	for _, c := range d.Changed {
		out.Changed = append(out.Changed, changeView{ID: c.ID, Fields: c.Fields, Before: c.Before, After: c.After})
	}
	return writeJSON(w, http.StatusOK, out)
}

type restoreView struct {
	Version versionView `json:"version"`
	Heads   []string    `json:"heads"`
}

func (a *API) restoreVersion(w http.ResponseWriter, r *http.Request, p accounts.Principal) error {
	v, heads, err := a.svc.RestoreVersion(r.Context(), p, r.PathValue("id"), r.PathValue("versionId"))
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusOK, restoreView{Version: versionOf(v), Heads: heads})
}
