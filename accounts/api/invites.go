package api

import (
	"net/http"
	"time"

	"github.com/casual-dev/casual/accounts"
)

// Invitations: adding a member by an email that has no account answers
// 202 with the invitation; the membership is granted once someone signs
// up with that email and verifies it.

type invitationView struct {
	ID        string        `json:"id"`
	Email     string        `json:"email"`
	OrgID     string        `json:"org_id,omitempty"`
	AppID     string        `json:"app_id,omitempty"`
	Role      accounts.Role `json:"role"`
	InvitedBy string        `json:"invited_by"`
	CreatedAt time.Time     `json:"created_at"`
	ExpiresAt time.Time     `json:"expires_at"`
}

func invitationOf(inv accounts.Invitation) invitationView {
	return invitationView{ID: inv.ID, Email: inv.Email, OrgID: inv.OrgID, AppID: inv.AppID, Role: inv.Role,
		InvitedBy: inv.InvitedBy, CreatedAt: inv.CreatedAt, ExpiresAt: inv.ExpiresAt}
}

type invitationListView struct {
	Invitations []invitationView `json:"invitations"`
}

func writeInvitations(w http.ResponseWriter, invs []accounts.Invitation) error {
	out := invitationListView{Invitations: make([]invitationView, 0, len(invs))}
	for _, inv := range invs {
		out.Invitations = append(out.Invitations, invitationOf(inv))
	}
	return writeJSON(w, http.StatusOK, out)
}

func (a *API) orgInvitations(w http.ResponseWriter, r *http.Request, p accounts.Principal) error {
	invs, err := a.svc.OrgInvitations(r.Context(), p, r.PathValue("id"))
	if err != nil {
		return err
	}
	return writeInvitations(w, invs)
}

func (a *API) revokeOrgInvitation(w http.ResponseWriter, r *http.Request, p accounts.Principal) error {
	if err := a.svc.RevokeOrgInvitation(r.Context(), p, r.PathValue("id"), r.PathValue("invitationId")); err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

func (a *API) appInvitations(w http.ResponseWriter, r *http.Request, p accounts.Principal) error {
	invs, err := a.svc.AppInvitations(r.Context(), p, r.PathValue("id"))
	if err != nil {
		return err
	}
	return writeInvitations(w, invs)
}

func (a *API) revokeAppInvitation(w http.ResponseWriter, r *http.Request, p accounts.Principal) error {
	if err := a.svc.RevokeAppInvitation(r.Context(), p, r.PathValue("id"), r.PathValue("invitationId")); err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}
