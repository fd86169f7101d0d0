package api

import (
	"net/http"
	"strconv"

	"github.com/casual-dev/casual/accounts"
)

func (a *API) me(w http.ResponseWriter, r *http.Request, p accounts.Principal) error {
	u, err := a.svc.Me(r.Context(), p)
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusOK, selfView(u))
}

type updateMeRequest struct {
	Name            *string `json:"name"`
	Email           *string `json:"email"`
	Password        *string `json:"password"`
	CurrentPassword string  `json:"current_password"`
}

func (a *API) updateMe(w http.ResponseWriter, r *http.Request, p accounts.Principal) error {
	var in updateMeRequest
	if err := a.decode(w, r, &in, false); err != nil {
		return err
	}
	u, err := a.svc.UpdateMe(r.Context(), p, accounts.UserUpdate{Name: in.Name, Email: in.Email, Password: in.Password,
		CurrentPassword: in.CurrentPassword})
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusOK, selfView(u))
}

type passwordRequest struct {
	Password string `json:"password"`
}

func (a *API) deleteMe(w http.ResponseWriter, r *http.Request, p accounts.Principal) error {
	var in passwordRequest
	if err := a.decode(w, r, &in, false); err != nil {
		return err
	}
	if err := a.svc.DeleteMe(r.Context(), p, in.Password); err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

func (a *API) user(w http.ResponseWriter, r *http.Request, p accounts.Principal) error {
	id := r.PathValue("id")
	u, err := a.svc.User(r.Context(), p, id)
	if err != nil {
		return err
	}
	if u.ID == p.UserID {
		return writeJSON(w, http.StatusOK, selfView(u))
	}
	return writeJSON(w, http.StatusOK, publicView(u))
}

func (a *API) userApps(w http.ResponseWriter, r *http.Request, p accounts.Principal) error {
	id := r.PathValue("id")
	if id == "me" {
		id = p.UserID
	}
	in, err := listInput(r)
	if err != nil {
		return err
	}
	in.Owner = id
	return a.appPage(w, r, p, in)
}

func (a *API) activity(w http.ResponseWriter, r *http.Request, p accounts.Principal) error {
	before, limit, err := auditPage(r)
	if err != nil {
		return err
	}
	es, err := a.svc.Activity(r.Context(), p, r.PathValue("id"), before, limit)
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusOK, auditOf(es, limit))
}

func auditPage(r *http.Request) (before string, limit int, err error) {
	q := r.URL.Query()
	limit = 50
	if s := q.Get("limit"); s != "" {
		if limit, err = strconv.Atoi(s); err != nil || limit < 1 || limit > 200 {
			return "", 0, badQuery("limit must be 1 to 200")
		}
	}
	return q.Get("before"), limit, nil
}
