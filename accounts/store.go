package accounts

import (
	"context"
	"time"
)

// Store persists accounts. Every method is safe for concurrent use and
// atomic on its own. Missing things are ErrNotFound; times are stored with
// microsecond precision. accountstest.Run is the contract.
type Store interface {
	// SigningKey returns the key tokens are signed with, creating a random
	// one on first use; concurrent first callers get the same key.
	SigningKey(ctx context.Context) ([]byte, error)

	// CreateUser adds u; ErrConflict if its id or email is taken.
	CreateUser(ctx context.Context, u User) error
	GetUser(ctx context.Context, id string) (User, error)
	GetUserByEmail(ctx context.Context, email string) (User, error)
	// UpdateUser replaces the stored user; ErrConflict if the new email
	// belongs to someone else.
	UpdateUser(ctx context.Context, u User) error
	// DeleteUser removes the user with their sessions, tokens and
	// memberships (organization and app). Apps they own stay (the
	// service moves them to the trash first).
	DeleteUser(ctx context.Context, id string) error
	// UseBackupCode removes one backup code digest from the user;
	// ErrNotFound if the user has no such code.
	UseBackupCode(ctx context.Context, userID, digest string) error
	// UseTOTPStep records that a code of time step step was accepted;
	// ErrTokenReused if the user's last accepted step is not older.
	UseTOTPStep(ctx context.Context, userID string, step int64) error

	// CreateSession stores a new session with its first refresh token.
	CreateSession(ctx context.Context, s Session, first RefreshToken) error
	GetSession(ctx context.Context, id string) (Session, error)
	// ListSessions returns the user's sessions that are not revoked,
	// newest first.
	ListSessions(ctx context.Context, userID string) ([]Session, error)
	// RevokeSession marks a session revoked (again: no-op).
	RevokeSession(ctx context.Context, id string, at time.Time) error
	// RevokeUserSessions revokes every live session of the user.
	RevokeUserSessions(ctx context.Context, userID string, at time.Time) error
	// RotateRefreshToken exchanges the token with hash oldHash for next,
	// in one step: ErrNotFound if unknown; ErrTokenRevoked if its session
	// is revoked; ErrTokenReused if it was already exchanged, and then the
	// session is revoked too; ErrTokenExpired if past its expiry. On
	// success the old token is marked used, next (whose SessionID and
	// UserID are taken from the old one) is stored, the session's
	// LastUsedAt becomes now and its ExpiresAt next's. It returns the
	// session, also with ErrTokenReused.
	RotateRefreshToken(ctx context.Context, oldHash string, next RefreshToken, now time.Time) (Session, error)

	// CreateOneTimeToken stores t.
	CreateOneTimeToken(ctx context.Context, t OneTimeToken) error
	// ConsumeOneTimeToken removes and returns the token of that hash and
	// kind: ErrNotFound if absent (or another kind), ErrTokenExpired if
	// it expired (it is removed all the same).
	ConsumeOneTimeToken(ctx context.Context, hash, kind string, now time.Time) (OneTimeToken, error)

	// CreateOrg stores an organization with its first member.
	CreateOrg(ctx context.Context, o Org, owner Member) error
	GetOrg(ctx context.Context, id string) (Org, error)
	UpdateOrg(ctx context.Context, o Org) error
	// DeleteOrg removes the organization and its memberships. Its apps
	// keep their OrgID (the service moves them to the trash first).
	DeleteOrg(ctx context.Context, id string) error
	// PutMember adds a member or changes their role; ErrNotFound if the
	// organization or user does not exist; ErrLastOwner if it demotes the
	// last owner.
	PutMember(ctx context.Context, m Member) error
	GetMember(ctx context.Context, orgID, userID string) (Member, error)
	// RemoveMember removes a member; ErrLastOwner for the last owner.
	RemoveMember(ctx context.Context, orgID, userID string) error
	// ListMembers returns an organization's members ordered by user id.
	ListMembers(ctx context.Context, orgID string) ([]Member, error)
	// ListMemberships returns the user's memberships ordered by org id.
	ListMemberships(ctx context.Context, userID string) ([]Member, error)

	// CreateApp stores a; ErrConflict if the id is taken.
	CreateApp(ctx context.Context, a App) error
	// GetApp returns an app, also one in the trash.
	GetApp(ctx context.Context, id string) (App, error)
	UpdateApp(ctx context.Context, a App) error
	// PurgeApp removes an app with its members, versions and shares.
	PurgeApp(ctx context.Context, id string) error
	// ListApps returns at most q.Limit apps (see AppQuery).
	ListApps(ctx context.Context, q AppQuery) ([]App, error)
	// ListTrash returns at most limit apps deleted before cut, oldest
	// deletion first.
	ListTrash(ctx context.Context, cut time.Time, limit int) ([]App, error)

	// PutAppMember shares an app with a user or changes their role;
	// ErrNotFound if the app or user does not exist.
	PutAppMember(ctx context.Context, m AppMember) error
	GetAppMember(ctx context.Context, appID, userID string) (AppMember, error)
	RemoveAppMember(ctx context.Context, appID, userID string) error
	// ListAppMembers returns an app's members ordered by user id.
	ListAppMembers(ctx context.Context, appID string) ([]AppMember, error)

	// CreateVersion stores v; ErrNotFound if its app does not exist.
	CreateVersion(ctx context.Context, v Version) error
	GetVersion(ctx context.Context, appID, id string) (Version, error)
	// ListVersions returns an app's versions, newest first (by creation
	// time, then id).
	ListVersions(ctx context.Context, appID string) ([]Version, error)

	// CreateShare stores s; ErrNotFound if its app does not exist.
	CreateShare(ctx context.Context, s Share) error
	GetShare(ctx context.Context, id string) (Share, error)
	// ListShares returns an app's shares, newest first.
	ListShares(ctx context.Context, appID string) ([]Share, error)
	// RevokeShare marks a share revoked (again: no-op).
	RevokeShare(ctx context.Context, id string, at time.Time) error

	// CreateInvitation stores inv, replacing any invitation of the same
	// email to the same organization or app; ErrNotFound if that
	// organization or app does not exist.
	CreateInvitation(ctx context.Context, inv Invitation) error
	GetInvitation(ctx context.Context, id string) (Invitation, error)
	// ListInvitations returns the invitations to an organization (orgID
	// set) or an app (appID set), ordered by id.
	ListInvitations(ctx context.Context, orgID, appID string) ([]Invitation, error)
	// InvitationsFor returns the invitations sent to email, ordered by id.
	InvitationsFor(ctx context.Context, email string) ([]Invitation, error)
	// DeleteInvitation removes one; ErrNotFound if absent. DeleteOrg and
	// PurgeApp remove their invitations too.
	DeleteInvitation(ctx context.Context, id string) error

	// AppendAudit stores an event.
	AppendAudit(ctx context.Context, e AuditEvent) error
	// ListAudit returns events matching every set field of q, newest
	// (greatest id) first, at most q.Limit.
	ListAudit(ctx context.Context, q AuditQuery) ([]AuditEvent, error)

	// Close releases the store; later calls fail.
	Close() error
}
