package api

import (
	"net/http"

	"github.com/casual-dev/casual/accounts"
)

type orgListView struct {
	Organizations []orgView `json:"organizations"`
}

func (a *API) orgs(w http.ResponseWriter, r *http.Request, p accounts.Principal) error {
	ms, err := a.svc.Orgs(r.Context(), p)
	if err != nil {
		return err
	}
	out := orgListView{Organizations: make([]orgView, 0, len(ms))}
	for _, m := range ms {
		out.Organizations = append(out.Organizations, orgOf(m.Org, m.Role))
	}
	return writeJSON(w, http.StatusOK, out)
}

type nameRequest struct {
	Name string `json:"name"`
}

func (a *API) createOrg(w http.ResponseWriter, r *http.Request, p accounts.Principal) error {
	var in nameRequest
	if err := a.decode(w, r, &in, false); err != nil {
		return err
	}
	o, err := a.svc.CreateOrg(r.Context(), p, in.Name)
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusCreated, orgOf(o, accounts.RoleOwner))
}

func (a *API) org(w http.ResponseWriter, r *http.Request, p accounts.Principal) error {
	m, err := a.svc.Org(r.Context(), p, r.PathValue("id"))
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusOK, orgOf(m.Org, m.Role))
}

func (a *API) renameOrg(w http.ResponseWriter, r *http.Request, p accounts.Principal) error {
	var in nameRequest
	if err := a.decode(w, r, &in, false); err != nil {
		return err
	}
	o, err := a.svc.RenameOrg(r.Context(), p, r.PathValue("id"), in.Name)
	if err != nil {
		return err
	}
	m, err := a.svc.Org(r.Context(), p, o.ID)
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusOK, orgOf(o, m.Role))
}

func (a *API) deleteOrg(w http.ResponseWriter, r *http.Request, p accounts.Principal) error {
	if err := a.svc.DeleteOrg(r.Context(), p, r.PathValue("id")); err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

type memberListView struct {
	Members []memberView `json:"members"`
}

func (a *API) orgMembers(w http.ResponseWriter, r *http.Request, p accounts.Principal) error {
	ms, err := a.svc.Members(r.Context(), p, r.PathValue("id"))
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

type memberRequest struct {
	Email string        `json:"email"`
	Role  accounts.Role `json:"role"`
}

// writeAdded answers an added member (200) or, for an email with no
// account yet, the pending invitation (202).
func writeAdded(w http.ResponseWriter, m memberView, inv *accounts.Invitation) error {
	if inv != nil {
		return writeJSON(w, http.StatusAccepted, invitationOf(*inv))
	}
	return writeJSON(w, http.StatusOK, m)
}

func (a *API) setOrgMember(w http.ResponseWriter, r *http.Request, p accounts.Principal) error {
	var in memberRequest
	if err := a.decode(w, r, &in, false); err != nil {
		return err
	}
	m, err := a.svc.SetMember(r.Context(), p, r.PathValue("id"), in.Email, in.Role)
	if err != nil {
		return err
	}
	return writeAdded(w, memberView{UserID: m.UserID, Name: m.Name, Email: m.Email, Role: m.Role,
		AddedBy: m.AddedBy, AddedAt: m.AddedAt}, m.Invitation)
}

func (a *API) removeOrgMember(w http.ResponseWriter, r *http.Request, p accounts.Principal) error {
	if err := a.svc.RemoveMember(r.Context(), p, r.PathValue("id"), r.PathValue("userId")); err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

func (a *API) orgAudit(w http.ResponseWriter, r *http.Request, p accounts.Principal) error {
	before, limit, err := auditPage(r)
	if err != nil {
		return err
	}
	es, err := a.svc.OrgAudit(r.Context(), p, r.PathValue("id"), before, limit)
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusOK, auditOf(es, limit))
}
