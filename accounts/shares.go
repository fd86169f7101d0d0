package accounts

import (
	"context"
	"errors"
	"time"
)

// AppMemberInfo is a person an app is shared with, with their name and
// email.
//
// When the email has no account yet, Invitation is set instead of
// AppMember: the membership waits for them to sign up.
type AppMemberInfo struct {
	AppMember
	Name       string
	Email      string
	Invitation *Invitation
}

// AppMembers lists the people an app is shared with (to its viewers).
func (s *Service) AppMembers(ctx context.Context, p Principal, appID string) ([]AppMemberInfo, error) {
	if _, _, err := s.appFor(ctx, p, appID, RoleViewer); err != nil {
		return nil, err
	}
	ms, err := s.st.ListAppMembers(ctx, appID)
	if err != nil {
		return nil, err
	}
	out := make([]AppMemberInfo, 0, len(ms))
	for _, m := range ms {
		u, err := s.st.GetUser(ctx, m.UserID)
		if err != nil && !errors.Is(err, ErrNotFound) {
			return nil, err
		}
		out = append(out, AppMemberInfo{AppMember: m, Name: u.Name, Email: u.Email})
	}
	return out, nil
}

// ShareApp shares an app with the user with that email as admin, editor
// or viewer (admins of the app may do it).
func (s *Service) ShareApp(ctx context.Context, p Principal, appID, email string, role Role) (AppMemberInfo, error) {
	a, _, err := s.appFor(ctx, p, appID, RoleAdmin)
	if err != nil {
		return AppMemberInfo{}, err
	}
	if !role.Valid() || role == RoleOwner {
		return AppMemberInfo{}, invalidf("role must be admin, editor or viewer")
	}
	u, err := s.userByEmail(ctx, email)
	if errors.Is(err, ErrNotFound) {
		e, _ := normalizeEmail(email)
		inv, err := s.invite(ctx, p, e, "", appID, "the app "+a.Name, role)
		return AppMemberInfo{Email: e, Invitation: &inv}, err
	} else if err != nil {
		return AppMemberInfo{}, err
	}
	if u.ID == a.OwnerID {
		return AppMemberInfo{}, invalidf("%s owns this app", u.Email)
	}
	m := AppMember{AppID: appID, UserID: u.ID, Role: role, AddedBy: p.UserID, AddedAt: s.now()}
	if err := s.st.PutAppMember(ctx, m); err != nil {
		return AppMemberInfo{}, err
	}
	s.audit(ctx, p.UserID, AuditAppMemberSet, AuditEvent{OrgID: a.OrgID, AppID: appID, TargetID: u.ID,
		Detail: map[string]string{"role": string(role)}})
	s.appChanged(ctx, appID, u.ID)
	return AppMemberInfo{AppMember: m, Name: u.Name, Email: u.Email}, nil
}

// UnshareApp removes a person from an app (its admins, or they
// themselves).
func (s *Service) UnshareApp(ctx context.Context, p Principal, appID, userID string) error {
	need := RoleAdmin
	if userID == p.UserID {
		need = RoleViewer
	}
	a, _, err := s.appFor(ctx, p, appID, need)
	if err != nil {
		return err
	}
	if err := s.st.RemoveAppMember(ctx, appID, userID); err != nil {
		return err
	}
	s.audit(ctx, p.UserID, AuditAppMemberRemoved, AuditEvent{OrgID: a.OrgID, AppID: appID, TargetID: userID})
	s.appChanged(ctx, appID, userID)
	return nil
}

// ShareInput describes a share link or embed token. TTL defaults to 30
// days and is capped by Config.MaxShareTTL; embeds cannot write.
type ShareInput struct {
	Kind string // ShareLink (default) or ShareEmbed
	Mode ShareMode
	TTL  time.Duration
}

// CreateShare issues a share link or embed token for an app (admins). The
// token is signed, names the app and mode, expires, and stops working
// once the share is revoked.
func (s *Service) CreateShare(ctx context.Context, p Principal, appID string, in ShareInput) (Share, string, error) {
	a, _, err := s.appFor(ctx, p, appID, RoleAdmin)
	if err != nil {
		return Share{}, "", err
	}
	if in.Kind == "" {
		in.Kind = ShareLink
	}
	switch {
	case in.Kind != ShareLink && in.Kind != ShareEmbed:
		return Share{}, "", invalidf("kind must be link or embed")
	case !in.Mode.Valid():
		return Share{}, "", invalidf("mode must be read, write or run")
	case in.Kind == ShareEmbed && in.Mode == ShareWrite:
		return Share{}, "", invalidf("embeds are read-only: use mode read or run")
	case in.TTL < 0 || in.TTL > s.cfg.MaxShareTTL:
		return Share{}, "", invalidf("expiry must be within %s", s.cfg.MaxShareTTL)
	case in.TTL == 0:
		in.TTL = min(30*24*time.Hour, s.cfg.MaxShareTTL)
	}
	id, err := s.newID("shr")
	if err != nil {
		return Share{}, "", err
	}
	now := s.now()
	sh := Share{ID: id, AppID: appID, Kind: in.Kind, Mode: in.Mode, CreatedBy: p.UserID, CreatedAt: now,
		ExpiresAt: now.Add(in.TTL).Truncate(time.Second)}
	tok, err := s.shareToken(sh)
	if err != nil {
		return Share{}, "", err
	}
	if err := s.st.CreateShare(ctx, sh); err != nil {
		return Share{}, "", err
	}
	s.audit(ctx, p.UserID, AuditShareCreated, AuditEvent{OrgID: a.OrgID, AppID: appID, TargetID: id,
		Detail: map[string]string{"kind": sh.Kind, "mode": string(sh.Mode), "expires_at": sh.ExpiresAt.Format(time.RFC3339)}})
	return sh, tok, nil
}

func (s *Service) shareToken(sh Share) (string, error) {
	return s.sign.sign(claims{Subject: sh.ID, Kind: kindShare, App: sh.AppID, Mode: string(sh.Mode),
		Issued: sh.CreatedAt.Unix(), Expires: sh.ExpiresAt.Unix()})
}

// Shares lists an app's share links and embed tokens (admins).
func (s *Service) Shares(ctx context.Context, p Principal, appID string) ([]Share, error) {
	if _, _, err := s.appFor(ctx, p, appID, RoleAdmin); err != nil {
		return nil, err
	}
	return s.st.ListShares(ctx, appID)
}

// RevokeShare stops a share's token from working (admins).
func (s *Service) RevokeShare(ctx context.Context, p Principal, appID, shareID string) error {
	a, _, err := s.appFor(ctx, p, appID, RoleAdmin)
	if err != nil {
		return err
	}
	sh, err := s.st.GetShare(ctx, shareID)
	if err != nil || sh.AppID != appID {
		return notFoundf("share %s", shareID)
	}
	if err := s.st.RevokeShare(ctx, shareID, s.now()); err != nil {
		return err
	}
	s.audit(ctx, p.UserID, AuditShareRevoked, AuditEvent{OrgID: a.OrgID, AppID: appID, TargetID: shareID})
	s.appChanged(ctx, appID, shareSubject(shareID))
	return nil
}
