package accounts

import (
	"context"
	"errors"
	"log/slog"
	"net/url"
	"time"
)

// MailInvite is the kind of an invitation mail.
const MailInvite = "invite"

// Audit actions of invitations.
const (
	AuditInvited           = "invitation.created"
	AuditInviteRevoked     = "invitation.revoked"
	AuditInvitationGranted = "invitation.granted"
)

// invite records a pending membership for an email without an account and
// mails the invitation. Exactly one of orgID and appID is set; what is
// named is the organization's or app's name, for the mail.
func (s *Service) invite(ctx context.Context, p Principal, email, orgID, appID, what string, role Role) (Invitation, error) {
	id, err := s.newID("inv")
	if err != nil {
		return Invitation{}, err
	}
	now := s.now()
	inv := Invitation{ID: id, Email: email, OrgID: orgID, AppID: appID, Role: role, InvitedBy: p.UserID,
		CreatedAt: now, ExpiresAt: now.Add(s.cfg.InviteTTL)}
	if err := s.st.CreateInvitation(ctx, inv); err != nil {
		return Invitation{}, err
	}
	s.audit(ctx, p.UserID, AuditInvited, AuditEvent{OrgID: orgID, AppID: appID, TargetID: id,
		Detail: map[string]string{"email": email, "role": string(role)}})
	inviter := "Someone"
	if u, err := s.st.GetUser(ctx, p.UserID); err == nil {
		inviter = u.Email
		if u.Name != "" {
			inviter = u.Name + " (" + u.Email + ")"
		}
	}
	link := s.cfg.BaseURL + "/signup?email=" + url.QueryEscape(email)
	text := inviter + " invited you to " + what + " on Casual as " + string(role) + ".\n\n" +
		"Sign up with this email address and confirm it; you then have access:"
	if err := s.cfg.Mailer.Send(ctx, Mail{Kind: MailInvite, To: email, Subject: "You are invited to " + what,
		Text: text + "\n\n" + link, Link: link}); err != nil {
		s.log.Error("send invitation mail", slog.String("invitation", id), slog.Any("err", err))
	}
	return inv, nil
}

// OrgInvitations lists an organization's pending invitations (admins).
func (s *Service) OrgInvitations(ctx context.Context, p Principal, orgID string) ([]Invitation, error) {
	if _, err := s.orgFor(ctx, p, orgID, RoleAdmin); err != nil {
		return nil, err
	}
	return s.live(ctx, orgID, "")
}

// AppInvitations lists an app's pending invitations (its admins).
func (s *Service) AppInvitations(ctx context.Context, p Principal, appID string) ([]Invitation, error) {
	if _, _, err := s.appFor(ctx, p, appID, RoleAdmin); err != nil {
		return nil, err
	}
	return s.live(ctx, "", appID)
}

// live lists invitations that have not expired.
func (s *Service) live(ctx context.Context, orgID, appID string) ([]Invitation, error) {
	all, err := s.st.ListInvitations(ctx, orgID, appID)
	if err != nil {
		return nil, err
	}
	now := s.now()
	out := all[:0]
	for _, inv := range all {
		if now.Before(inv.ExpiresAt) {
			out = append(out, inv)
		}
	}
	return out, nil
}

// RevokeOrgInvitation withdraws an organization's invitation (admins;
// owners for an owner's).
func (s *Service) RevokeOrgInvitation(ctx context.Context, p Principal, orgID, id string) error {
	mine, err := s.orgFor(ctx, p, orgID, RoleAdmin)
	if err != nil {
		return err
	}
	inv, err := s.st.GetInvitation(ctx, id)
	if err != nil || inv.OrgID != orgID {
		return notFoundf("invitation %s", id)
	}
	if inv.Role == RoleOwner && mine != RoleOwner {
		return forbiddenf("only owners can withdraw an owner's invitation")
	}
	return s.revokeInvitation(ctx, p, inv)
}

// RevokeAppInvitation withdraws an app's invitation (its admins).
func (s *Service) RevokeAppInvitation(ctx context.Context, p Principal, appID, id string) error {
	if _, _, err := s.appFor(ctx, p, appID, RoleAdmin); err != nil {
		return err
	}
	inv, err := s.st.GetInvitation(ctx, id)
	if err != nil || inv.AppID != appID {
		return notFoundf("invitation %s", id)
	}
	return s.revokeInvitation(ctx, p, inv)
}

func (s *Service) revokeInvitation(ctx context.Context, p Principal, inv Invitation) error {
	if err := s.st.DeleteInvitation(ctx, inv.ID); err != nil {
		return err
	}
	s.audit(ctx, p.UserID, AuditInviteRevoked, AuditEvent{OrgID: inv.OrgID, AppID: inv.AppID, TargetID: inv.ID,
		Detail: map[string]string{"email": inv.Email}})
	return nil
}

// grantInvitations turns the invitations sent to u's (now verified)
// address into memberships. An expired invitation, or one whose
// organization or app is gone, is dropped. Memberships u already has are
// only raised, never lowered.
func (s *Service) grantInvitations(ctx context.Context, u User) error {
	invs, err := s.st.InvitationsFor(ctx, u.Email)
	if err != nil {
		return err
	}
	now := s.now()
	var errs []error
	for _, inv := range invs {
		if now.Before(inv.ExpiresAt) {
			if err := s.grant(ctx, u, inv, now); err != nil && !errors.Is(err, ErrNotFound) {
				errs = append(errs, err)
				continue
			}
		}
		if err := s.st.DeleteInvitation(ctx, inv.ID); err != nil && !errors.Is(err, ErrNotFound) {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

func (s *Service) grant(ctx context.Context, u User, inv Invitation, now time.Time) error {
	if inv.OrgID != "" {
		old, err := s.orgRole(ctx, u.ID, inv.OrgID)
		if err != nil || old.AtLeast(inv.Role) {
			return err
		}
		if err := s.st.PutMember(ctx, Member{OrgID: inv.OrgID, UserID: u.ID, Role: inv.Role, AddedBy: inv.InvitedBy, AddedAt: now}); err != nil {
			return err
		}
	} else {
		old, err := s.st.GetAppMember(ctx, inv.AppID, u.ID)
		if err == nil && old.Role.AtLeast(inv.Role) {
			return nil
		} else if err != nil && !errors.Is(err, ErrNotFound) {
			return err
		}
		if err := s.st.PutAppMember(ctx, AppMember{AppID: inv.AppID, UserID: u.ID, Role: inv.Role, AddedBy: inv.InvitedBy, AddedAt: now}); err != nil {
			return err
		}
	}
	s.audit(ctx, inv.InvitedBy, AuditInvitationGranted, AuditEvent{OrgID: inv.OrgID, AppID: inv.AppID, TargetID: u.ID,
		Detail: map[string]string{"invitation": inv.ID, "role": string(inv.Role)}})
	return nil
}
