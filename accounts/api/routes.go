package api

import (
	"net/http"

	"github.com/casual-dev/casual/accounts"
)

type authMode int

const (
	// authNone ignores any token (sign-in and sign-up).
	authNone authMode = iota
	// authOptional reads a token if one is sent (a bad one is refused);
	// the service decides what an anonymous caller may do.
	authOptional
	// authRequired refuses anonymous callers.
	authRequired
)

type param struct{ name, typ, desc string }

// route is one endpoint: how it is served and how it is described in the
// OpenAPI document, from the same entry.
type route struct {
	method, path string
	tag, summary string
	auth         authMode
	// authLimited routes share the per-address sign-in limiter.
	authLimited  bool
	body         string // request schema name ("" for none)
	bodyOptional bool
	status       int
	resp         string // response schema name ("" for no content)
	query        []param
	h            func(w http.ResponseWriter, r *http.Request, p accounts.Principal) error
}

// table lists every endpoint.
func (a *API) table() []route {
	page := []param{{"cursor", "string", "next_cursor of the previous page"}, {"limit", "integer", "page size (1-100)"}}
	auditPage := []param{{"before", "string", "next_cursor of the previous page"}, {"limit", "integer", "page size (1-200)"}}
	appList := append([]param{
		{"q", "string", "case-insensitive search in name and description"},
		{"org", "string", "only apps of this organization"},
		{"visibility", "string", "private, org or public"},
		{"sort", "string", "name, created or updated; prefix - for descending (default -updated)"},
		{"trash", "boolean", "list deleted apps you can restore instead"},
	}, page...)
	return []route{
		// Authentication
		{method: "POST", path: "/v1/auth/register", tag: "auth", summary: "Create an account and sign in", auth: authNone, authLimited: true,
			body: "RegisterRequest", status: 201, resp: "Auth", h: a.register},
		{method: "POST", path: "/v1/auth/login", tag: "auth", summary: "Sign in (with a two-factor code when enabled)", auth: authNone, authLimited: true,
			body: "LoginRequest", status: 200, resp: "Auth", h: a.login},
		{method: "POST", path: "/v1/auth/logout", tag: "auth", summary: "Sign out: end this session", auth: authRequired,
			status: 204, h: a.logout},
		{method: "POST", path: "/v1/auth/refresh", tag: "auth", summary: "Exchange a refresh token (once) for new tokens; reuse revokes the session",
			auth: authNone, authLimited: true, body: "RefreshRequest", status: 200, resp: "Tokens", h: a.refresh},
		{method: "POST", path: "/v1/auth/verify-email", tag: "auth", summary: "Verify an email with the mailed token, or (signed in, no token) mail a new link",
			auth: authOptional, authLimited: true, body: "VerifyEmailRequest", bodyOptional: true, status: 200, resp: "User", h: a.verifyEmail},
		{method: "POST", path: "/v1/auth/reset-password", tag: "auth", summary: "Mail a reset link ({email}), or set a new password ({token, password})",
			auth: authNone, authLimited: true, body: "ResetPasswordRequest", status: 202, resp: "Status", h: a.resetPassword},
		{method: "POST", path: "/v1/auth/2fa/enable", tag: "auth", summary: "Start two-factor enrolment: secret and otpauth URL",
			auth: authRequired, authLimited: true, status: 200, resp: "TOTPEnrollment", h: a.enableTOTP},
		{method: "POST", path: "/v1/auth/2fa/verify", tag: "auth", summary: "Confirm enrolment with a code; returns one-time backup codes",
			auth: authRequired, authLimited: true, body: "CodeRequest", status: 200, resp: "BackupCodes", h: a.verifyTOTP},
		{method: "DELETE", path: "/v1/auth/2fa/disable", tag: "auth", summary: "Turn two-factor auth off (needs a current or backup code)",
			auth: authRequired, authLimited: true, body: "CodeRequest", status: 204, h: a.disableTOTP},
		{method: "GET", path: "/v1/auth/sessions", tag: "auth", summary: "List your signed-in sessions", auth: authRequired,
			status: 200, resp: "SessionList", h: a.sessions},
		{method: "DELETE", path: "/v1/auth/sessions/{id}", tag: "auth", summary: "Sign a session out", auth: authRequired,
			status: 204, h: a.revokeSession},

		// Users
		{method: "GET", path: "/v1/users/me", tag: "users", summary: "Your account", auth: authRequired, status: 200, resp: "User", h: a.me},
		{method: "PUT", path: "/v1/users/me", tag: "users", summary: "Change your name, email or password", auth: authRequired,
			body: "UpdateMeRequest", status: 200, resp: "User", h: a.updateMe},
		{method: "DELETE", path: "/v1/users/me", tag: "users", summary: "Delete your account (apps go to the trash)", auth: authRequired,
			body: "PasswordRequest", status: 204, h: a.deleteMe},
		{method: "GET", path: "/v1/users/{id}", tag: "users", summary: "A user's public profile", auth: authRequired,
			status: 200, resp: "User", h: a.user},
		{method: "GET", path: "/v1/users/{id}/apps", tag: "users", summary: "A user's apps that you can see", auth: authOptional,
			status: 200, resp: "AppList", query: appList, h: a.userApps},
		{method: "GET", path: "/v1/users/{id}/activity", tag: "users", summary: "What a user did (yours only)", auth: authRequired,
			status: 200, resp: "AuditList", query: auditPage, h: a.activity},

		// Organizations
		{method: "GET", path: "/v1/organizations", tag: "organizations", summary: "Your organizations", auth: authRequired,
			status: 200, resp: "OrgList", h: a.orgs},
		{method: "POST", path: "/v1/organizations", tag: "organizations", summary: "Create an organization (you own it)", auth: authRequired,
			body: "NameRequest", status: 201, resp: "Org", h: a.createOrg},
		{method: "GET", path: "/v1/organizations/{id}", tag: "organizations", summary: "An organization and your role (members)", auth: authRequired,
			status: 200, resp: "Org", h: a.org},
		{method: "PUT", path: "/v1/organizations/{id}", tag: "organizations", summary: "Rename an organization (admins)", auth: authRequired,
			body: "NameRequest", status: 200, resp: "Org", h: a.renameOrg},
		{method: "DELETE", path: "/v1/organizations/{id}", tag: "organizations", summary: "Delete an organization (owners); its apps go to the trash",
			auth: authRequired, status: 204, h: a.deleteOrg},
		{method: "GET", path: "/v1/organizations/{id}/members", tag: "organizations", summary: "Members (members)", auth: authRequired,
			status: 200, resp: "MemberList", h: a.orgMembers},
		{method: "POST", path: "/v1/organizations/{id}/members", tag: "organizations", summary: "Add a member or change their role (admins; owners for owners); an email without an account gets an invitation (202)",
			auth: authRequired, body: "MemberRequest", status: 200, resp: "Member", h: a.setOrgMember},
		{method: "DELETE", path: "/v1/organizations/{id}/members/{userId}", tag: "organizations", summary: "Remove a member (admins), or leave",
			auth: authRequired, status: 204, h: a.removeOrgMember},
		{method: "GET", path: "/v1/organizations/{id}/invitations", tag: "organizations", summary: "Pending invitations of people without an account (admins)",
			auth: authRequired, status: 200, resp: "InvitationList", h: a.orgInvitations},
		{method: "DELETE", path: "/v1/organizations/{id}/invitations/{invitationId}", tag: "organizations", summary: "Withdraw an invitation (admins; owners for owners)",
			auth: authRequired, status: 204, h: a.revokeOrgInvitation},
		{method: "GET", path: "/v1/organizations/{id}/audit", tag: "organizations", summary: "The organization's audit log (admins)",
			auth: authRequired, status: 200, resp: "AuditList", query: auditPage, h: a.orgAudit},

		// Apps
		{method: "GET", path: "/v1/templates", tag: "apps", summary: "Starter templates for new apps", auth: authOptional,
			status: 200, resp: "TemplateList", h: a.templates},
		{method: "GET", path: "/v1/apps", tag: "apps", summary: "Apps you can open: search, filter, sort, pages", auth: authRequired,
			status: 200, resp: "AppList", query: appList, h: a.listApps},
		{method: "POST", path: "/v1/apps", tag: "apps", summary: "Create an app, blank or from a template", auth: authRequired,
			body: "CreateAppRequest", status: 201, resp: "App", h: a.createApp},
		{method: "POST", path: "/v1/apps/import", tag: "apps", summary: "Create an app from an export file", auth: authRequired,
			body: "Export", status: 201, resp: "App", query: []param{{"org_id", "string", "import into this organization"}, {"name", "string", "name of the new app"}},
			h: a.importApp},
		{method: "GET", path: "/v1/apps/{id}", tag: "apps", summary: "An app and your role", auth: authOptional,
			status: 200, resp: "App", h: a.getApp},
		{method: "PUT", path: "/v1/apps/{id}", tag: "apps", summary: "Change name, description (editors) or visibility (admins)", auth: authOptional,
			body: "UpdateAppRequest", status: 200, resp: "App", h: a.updateApp},
		{method: "DELETE", path: "/v1/apps/{id}", tag: "apps", summary: "Move an app to the trash for 30 days (admins)", auth: authRequired,
			status: 204, h: a.deleteApp},
		{method: "POST", path: "/v1/apps/{id}/restore", tag: "apps", summary: "Take an app out of the trash (admins)", auth: authRequired,
			status: 200, resp: "App", h: a.restoreApp},
		{method: "POST", path: "/v1/apps/{id}/publish", tag: "apps", summary: "Make an app public (or org-wide) (admins)", auth: authRequired,
			body: "PublishRequest", bodyOptional: true, status: 200, resp: "App", h: a.publish},
		{method: "POST", path: "/v1/apps/{id}/unpublish", tag: "apps", summary: "Make an app private again (admins)", auth: authRequired,
			status: 200, resp: "App", h: a.unpublish},
		{method: "POST", path: "/v1/apps/{id}/fork", tag: "apps", summary: "Copy an app, with its whole history, into a new app of yours",
			auth: authRequired, body: "ForkRequest", bodyOptional: true, status: 201, resp: "App", h: a.fork},
		{method: "GET", path: "/v1/apps/{id}/export", tag: "apps", summary: "Download the app as one file (document and metadata)",
			auth: authOptional, status: 200, resp: "Export", h: a.export},
		{method: "GET", path: "/v1/apps/{id}/members", tag: "sharing", summary: "People the app is shared with", auth: authOptional,
			status: 200, resp: "MemberList", h: a.appMembers},
		{method: "POST", path: "/v1/apps/{id}/members", tag: "sharing", summary: "Share the app with a person, or change their role (admins); an email without an account gets an invitation (202)",
			auth: authRequired, body: "MemberRequest", status: 200, resp: "Member", h: a.shareApp},
		{method: "DELETE", path: "/v1/apps/{id}/members/{userId}", tag: "sharing", summary: "Stop sharing the app with a person (admins), or leave",
			auth: authRequired, status: 204, h: a.unshareApp},
		{method: "GET", path: "/v1/apps/{id}/invitations", tag: "sharing", summary: "Pending invitations of people without an account (admins)",
			auth: authRequired, status: 200, resp: "InvitationList", h: a.appInvitations},
		{method: "DELETE", path: "/v1/apps/{id}/invitations/{invitationId}", tag: "sharing", summary: "Withdraw an invitation (admins)",
			auth: authRequired, status: 204, h: a.revokeAppInvitation},
		{method: "GET", path: "/v1/apps/{id}/shares", tag: "sharing", summary: "Share links and embed tokens (admins)", auth: authRequired,
			status: 200, resp: "ShareList", h: a.shares},
		{method: "POST", path: "/v1/apps/{id}/shares", tag: "sharing", summary: "Create a signed share link or embed token (admins)",
			auth: authRequired, body: "ShareRequest", status: 201, resp: "Share", h: a.createShare},
		{method: "DELETE", path: "/v1/apps/{id}/shares/{shareId}", tag: "sharing", summary: "Revoke a share link or embed token (admins)",
			auth: authRequired, status: 204, h: a.revokeShare},
		{method: "GET", path: "/v1/apps/{id}/audit", tag: "apps", summary: "The app's audit log (admins)", auth: authRequired,
			status: 200, resp: "AuditList", query: auditPage, h: a.appAudit},

		// Versions
		{method: "GET", path: "/v1/apps/{id}/versions", tag: "versions", summary: "Named versions, newest first", auth: authOptional,
			status: 200, resp: "VersionList", h: a.versions},
		{method: "POST", path: "/v1/apps/{id}/versions", tag: "versions", summary: "Name the current state (editors)", auth: authOptional,
			body: "VersionRequest", status: 201, resp: "Version", h: a.createVersion},
		{method: "GET", path: "/v1/apps/{id}/versions/{versionId}", tag: "versions", summary: "The app as of a version", auth: authOptional,
			status: 200, resp: "VersionState", h: a.versionAt},
		{method: "GET", path: "/v1/apps/{id}/versions/{versionId}/diff", tag: "versions", summary: "Components added, removed and changed from a version to another",
			auth: authOptional, status: 200, resp: "Diff", query: []param{{"to", "string", "version id, or current (default)"}}, h: a.diff},
		{method: "POST", path: "/v1/apps/{id}/versions/{versionId}/restore", tag: "versions",
			summary: "Make the app equal to a version again, as a new change (editors)", auth: authOptional,
			status: 200, resp: "Restore", h: a.restoreVersion},

		// Collaboration
		{method: "POST", path: "/v1/collaboration/sessions", tag: "collaboration", summary: "Start (or find) the live session of an app",
			auth: authOptional, body: "SessionRequest", status: 200, resp: "CollabSession", h: a.startSession},
		{method: "GET", path: "/v1/collaboration/sessions/{id}", tag: "collaboration", summary: "Who is in the app's room now",
			auth: authOptional, status: 200, resp: "CollabSession", h: a.getSession},
		{method: "POST", path: "/v1/collaboration/sessions/{id}/join", tag: "collaboration", summary: "What a client needs to join: sync URL, document URL, access",
			auth: authOptional, status: 200, resp: "CollabSession", h: a.joinSession},
		{method: "POST", path: "/v1/collaboration/sessions/{id}/leave", tag: "collaboration", summary: "Leave (closing the sync socket is what leaves the room)",
			auth: authOptional, status: 204, h: a.leaveSession},

		{method: "GET", path: "/v1/openapi.json", tag: "meta", summary: "This API's OpenAPI 3.1 description", auth: authNone,
			status: 200, resp: "OpenAPI", h: a.serveSpec},
	}
}
