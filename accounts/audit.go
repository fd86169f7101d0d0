package accounts

import (
	"context"
	"log/slog"
)

// Audit actions.
const (
	AuditRegister         = "auth.register"
	AuditLogin            = "auth.login"
	AuditLoginFailed      = "auth.login_failed"
	AuditLogout           = "auth.logout"
	AuditRefreshReused    = "auth.refresh_reused"
	AuditPasswordReset    = "auth.password_reset"
	AuditPasswordChanged  = "auth.password_changed"
	AuditEmailVerified    = "auth.email_verified"
	AuditTOTPEnabled      = "auth.2fa_enabled"
	AuditTOTPDisabled     = "auth.2fa_disabled"
	AuditSessionRevoked   = "auth.session_revoked"
	AuditUserDeleted      = "user.deleted"
	AuditOrgCreated       = "org.created"
	AuditOrgRenamed       = "org.renamed"
	AuditOrgDeleted       = "org.deleted"
	AuditOrgMemberSet     = "org.member_set"
	AuditOrgMemberRemoved = "org.member_removed"
	AuditAppCreated       = "app.created"
	AuditAppDeleted       = "app.deleted"
	AuditAppRestored      = "app.restored"
	AuditAppPurged        = "app.purged"
	AuditAppPublished     = "app.published"
	AuditAppUnpublished   = "app.unpublished"
	AuditAppForked        = "app.forked"
	AuditAppImported      = "app.imported"
	AuditAppMemberSet     = "app.member_set"
	AuditAppMemberRemoved = "app.member_removed"
	AuditShareCreated     = "app.share_created"
	AuditShareRevoked     = "app.share_revoked"
	AuditVersionRestored  = "app.version_restored"
)

// audit records an event. A failure to record is logged, not returned:
// the action it describes has already happened.
func (s *Service) audit(ctx context.Context, actor, action string, e AuditEvent) {
	id, err := s.newID("ev")
	if err == nil {
		e.ID, e.At, e.ActorID, e.Action, e.IP = id, s.now(), actor, action, clientOf(ctx).ip
		err = s.st.AppendAudit(context.WithoutCancel(ctx), e)
	}
	if err != nil {
		s.log.Error("audit log write failed", slog.String("action", action), slog.String("actor", actor), slog.Any("err", err))
	}
}

// maxAuditPage bounds one page of the audit log.
const maxAuditPage = 200

func auditLimit(n int) int {
	if n <= 0 || n > maxAuditPage {
		return 50
	}
	return n
}

// OrgAudit returns an organization's audit log, newest first, to its
// owners and admins.
func (s *Service) OrgAudit(ctx context.Context, p Principal, orgID, before string, limit int) ([]AuditEvent, error) {
	if _, err := s.orgFor(ctx, p, orgID, RoleAdmin); err != nil {
		return nil, err
	}
	return s.st.ListAudit(ctx, AuditQuery{OrgID: orgID, Before: before, Limit: auditLimit(limit)})
}

// AppAudit returns an app's audit log to its admins.
func (s *Service) AppAudit(ctx context.Context, p Principal, appID, before string, limit int) ([]AuditEvent, error) {
	if _, _, err := s.appFor(ctx, p, appID, RoleAdmin); err != nil {
		return nil, err
	}
	return s.st.ListAudit(ctx, AuditQuery{AppID: appID, Before: before, Limit: auditLimit(limit)})
}

// Activity returns what a user did, to that user.
func (s *Service) Activity(ctx context.Context, p Principal, userID, before string, limit int) ([]AuditEvent, error) {
	uid, err := p.user()
	if err != nil {
		return nil, err
	}
	if userID == "me" {
		userID = uid
	}
	if userID != uid && !p.Local {
		return nil, forbiddenf("only %s can see their activity", userID)
	}
	return s.st.ListAudit(ctx, AuditQuery{ActorID: userID, Before: before, Limit: auditLimit(limit)})
}
