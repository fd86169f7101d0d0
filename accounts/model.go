package accounts

import (
	"time"
)

// Role is what a member may do in an organization or with an app.
type Role string

// Roles, strongest first. An app's owning user is its owner; organization
// members have their organization role on the organization's apps; people
// an app is shared with have the role they were given (never owner).
const (
	RoleOwner  Role = "owner"
	RoleAdmin  Role = "admin"
	RoleEditor Role = "editor"
	RoleViewer Role = "viewer"
	// RoleNone is no access.
	RoleNone Role = ""
)

// Roles lists the roles, strongest first.
func Roles() []Role { return []Role{RoleOwner, RoleAdmin, RoleEditor, RoleViewer} }

func (r Role) rank() int {
	switch r {
	case RoleOwner:
		return 4
	case RoleAdmin:
		return 3
	case RoleEditor:
		return 2
	case RoleViewer:
		return 1
	}
	return 0
}

// AtLeast reports whether r includes everything min may do.
func (r Role) AtLeast(min Role) bool { return r.rank() >= min.rank() && r.rank() > 0 }

// Valid reports whether r is one of the four roles.
func (r Role) Valid() bool { return r.rank() > 0 }

func maxRole(a, b Role) Role {
	if b.rank() > a.rank() {
		return b
	}
	return a
}

// Visibility says who beyond an app's members sees it.
type Visibility string

// Visibilities. Private: the owner, organization owners and admins, and
// people the app is shared with. Org: also every member of the owning
// organization, with their organization role. Public: also everyone,
// signed in or not, read-only.
const (
	Private Visibility = "private"
	OrgWide Visibility = "org"
	Public  Visibility = "public"
)

// Valid reports whether v is a known visibility.
func (v Visibility) Valid() bool { return v == Private || v == OrgWide || v == Public }

// User is an account.
type User struct {
	ID            string
	Email         string // lower case, unique
	Name          string
	PasswordHash  string // argon2id, PHC string format
	EmailVerified bool
	// TOTPSecret is the base32 secret of enabled two-factor auth;
	// TOTPPending is one being enrolled, not yet confirmed by a code.
	TOTPSecret  string
	TOTPPending string
	TOTPEnabled bool
	// TOTPLastStep is the last time step a code was accepted for: a code
	// is never accepted twice.
	TOTPLastStep int64
	// BackupCodes are SHA-256 hex digests of unused one-time backup codes.
	BackupCodes []string
	CreatedAt   time.Time
	UpdatedAt   time.Time
	LastLoginAt time.Time // zero: never
}

// Session is one sign-in: the family of refresh tokens rotated from the
// first. Revoking it ends every token of the family and every access token
// issued for it.
type Session struct {
	ID         string
	UserID     string
	CreatedAt  time.Time
	LastUsedAt time.Time
	// ExpiresAt is when the newest refresh token of the family expires.
	ExpiresAt time.Time
	RevokedAt time.Time // zero: live
	UserAgent string
	IP        string
}

// Active reports whether the session can still be used at now.
func (s Session) Active(now time.Time) bool { return s.RevokedAt.IsZero() && now.Before(s.ExpiresAt) }

// RefreshToken is the stored form of a refresh token: only its hash.
type RefreshToken struct {
	Hash      string // hex SHA-256 of the token
	SessionID string
	UserID    string
	CreatedAt time.Time
	ExpiresAt time.Time
	UsedAt    time.Time // zero: not rotated yet
}

// One-time token kinds.
const (
	TokenVerifyEmail   = "verify-email"
	TokenResetPassword = "reset-password"
)

// OneTimeToken is a stored email verification or password reset token.
type OneTimeToken struct {
	Hash      string // hex SHA-256 of the token
	Kind      string // TokenVerifyEmail or TokenResetPassword
	UserID    string
	Email     string // the address it was sent to
	CreatedAt time.Time
	ExpiresAt time.Time
}

// Org is an organization.
type Org struct {
	ID        string
	Name      string
	CreatedBy string
	CreatedAt time.Time
	UpdatedAt time.Time
}

// Member is a user's role in an organization.
type Member struct {
	OrgID   string
	UserID  string
	Role    Role
	AddedBy string
	AddedAt time.Time
}

// App is the metadata of one app; its content is the Automerge document
// whose id is ID.
type App struct {
	ID          string // the document id
	Name        string
	Description string
	// Exactly one of OwnerID (a user) and OrgID is set.
	OwnerID     string
	OrgID       string
	Visibility  Visibility
	Template    string
	ForkedFrom  string
	CreatedBy   string
	CreatedAt   time.Time
	UpdatedAt   time.Time
	PublishedAt time.Time // when it last became public; zero if not public
	DeletedAt   time.Time // zero: live; else in the trash
}

// AppMember is a person an app is shared with.
type AppMember struct {
	AppID   string
	UserID  string
	Role    Role // admin, editor or viewer
	AddedBy string
	AddedAt time.Time
}

// AppSort orders app listings.
type AppSort string

// Sort keys; each ties on the app id.
const (
	SortUpdated AppSort = "updated"
	SortCreated AppSort = "created"
	SortName    AppSort = "name"
)

// AppQuery selects apps for a listing. Scope: apps the viewer owns, apps
// shared with the viewer, apps of OrgIDs that are not private, every app
// of AdminOrgIDs, and (with IncludePublic) public apps; All lifts the
// scope. Filters then narrow it. Results are ordered by Sort (then id),
// descending with Desc, and start after the cursor when AfterID is set.
type AppQuery struct {
	Viewer        string
	OrgIDs        []string
	AdminOrgIDs   []string
	IncludePublic bool
	All           bool

	OwnerID    string // only apps owned by this user
	OrgID      string // only apps of this organization
	Search     string // case-insensitive substring of name or description
	Visibility Visibility
	Deleted    bool // the trash instead of live apps

	Sort AppSort
	Desc bool
	// The cursor: the sort key and id of the last app of the previous page.
	AfterName string
	AfterTime time.Time
	AfterID   string
	Limit     int
}

// Version is a named state of an app: the heads of its document.
type Version struct {
	ID        string
	AppID     string
	Label     string
	Heads     []string // hex change hashes
	AuthorID  string
	CreatedAt time.Time
}

// ShareMode is what a share link or embed token allows.
type ShareMode string

// Share modes. Run is read access for running the app (the embed case):
// it may read the document and request runs, never edit it.
const (
	ShareRead  ShareMode = "read"
	ShareWrite ShareMode = "write"
	ShareRun   ShareMode = "run"
)

// Valid reports whether m is a known mode.
func (m ShareMode) Valid() bool { return m == ShareRead || m == ShareWrite || m == ShareRun }

// Share kinds.
const (
	ShareLink  = "link"
	ShareEmbed = "embed"
)

// Share is a share link or embed token: a signed token scoped to one app.
type Share struct {
	ID        string
	AppID     string
	Kind      string // ShareLink or ShareEmbed
	Mode      ShareMode
	CreatedBy string
	CreatedAt time.Time
	ExpiresAt time.Time
	RevokedAt time.Time
}

// Invitation is a membership waiting for someone without an account:
// once an account with Email has a verified address, it gets Role in the
// organization or app, and the invitation is gone.
type Invitation struct {
	ID        string
	Email     string // lower case
	OrgID     string // exactly one of OrgID and AppID is set
	AppID     string
	Role      Role
	InvitedBy string
	CreatedAt time.Time
	ExpiresAt time.Time
}

// AuditEvent is one entry of the audit log.
type AuditEvent struct {
	ID       string // sorts by time
	At       time.Time
	ActorID  string // user id, "" for anonymous
	Action   string
	OrgID    string // the organization it concerns, if any
	AppID    string
	TargetID string // the user or share it was done to
	IP       string
	Detail   map[string]string
}

// AuditQuery selects audit events, newest first.
type AuditQuery struct {
	OrgID   string
	ActorID string
	AppID   string
	// Before is the id of the last event of the previous page.
	Before string
	Limit  int
}
