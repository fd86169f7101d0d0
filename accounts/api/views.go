package api

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"time"

	"github.com/casual-dev/casual/accounts"
	"github.com/casual-dev/casual/canvas"
)

// The JSON shapes of responses. Field names are snake_case; times are
// RFC 3339 in UTC; absent times are left out.

type userView struct {
	ID               string    `json:"id"`
	Email            string    `json:"email,omitempty"`
	Name             string    `json:"name"`
	EmailVerified    *bool     `json:"email_verified,omitempty"`
	TwoFactorEnabled *bool     `json:"two_factor_enabled,omitempty"`
	CreatedAt        time.Time `json:"created_at"`
	UpdatedAt        time.Time `json:"updated_at,omitzero"`
	LastLoginAt      time.Time `json:"last_login_at,omitzero"`
}

// selfView is a user as they see themselves.
func selfView(u accounts.User) userView {
	return userView{ID: u.ID, Email: u.Email, Name: u.Name, EmailVerified: &u.EmailVerified, TwoFactorEnabled: &u.TOTPEnabled,
		CreatedAt: u.CreatedAt, UpdatedAt: u.UpdatedAt, LastLoginAt: u.LastLoginAt}
}

// publicView is a user as others see them.
func publicView(u accounts.User) userView {
	return userView{ID: u.ID, Name: u.Name, CreatedAt: u.CreatedAt}
}

type tokensView struct {
	AccessToken      string    `json:"access_token"`
	TokenType        string    `json:"token_type"`
	ExpiresIn        int64     `json:"expires_in"`
	ExpiresAt        time.Time `json:"expires_at"`
	RefreshToken     string    `json:"refresh_token"`
	RefreshExpiresAt time.Time `json:"refresh_expires_at"`
	SessionID        string    `json:"session_id"`
}

func tokensOf(t accounts.Tokens, now time.Time) tokensView {
	return tokensView{AccessToken: t.AccessToken, TokenType: "Bearer", ExpiresIn: int64(t.AccessExpiresAt.Sub(now).Seconds()),
		ExpiresAt: t.AccessExpiresAt, RefreshToken: t.RefreshToken, RefreshExpiresAt: t.RefreshExpiresAt, SessionID: t.SessionID}
}

type authView struct {
	User userView `json:"user"`
	tokensView
}

type sessionView struct {
	ID         string    `json:"id"`
	CreatedAt  time.Time `json:"created_at"`
	LastUsedAt time.Time `json:"last_used_at"`
	ExpiresAt  time.Time `json:"expires_at"`
	UserAgent  string    `json:"user_agent"`
	IP         string    `json:"ip"`
	Current    bool      `json:"current"`
}

type orgView struct {
	ID        string        `json:"id"`
	Name      string        `json:"name"`
	CreatedBy string        `json:"created_by"`
	CreatedAt time.Time     `json:"created_at"`
	UpdatedAt time.Time     `json:"updated_at"`
	Role      accounts.Role `json:"role,omitempty"`
}

func orgOf(o accounts.Org, role accounts.Role) orgView {
	return orgView{ID: o.ID, Name: o.Name, CreatedBy: o.CreatedBy, CreatedAt: o.CreatedAt, UpdatedAt: o.UpdatedAt, Role: role}
}

type memberView struct {
	UserID  string        `json:"user_id"`
	Name    string        `json:"name"`
	Email   string        `json:"email"`
	Role    accounts.Role `json:"role"`
	AddedBy string        `json:"added_by"`
	AddedAt time.Time     `json:"added_at"`
}

type appView struct {
	ID          string              `json:"id"`
	URL         string              `json:"url"`
	Name        string              `json:"name"`
	Description string              `json:"description"`
	OwnerID     string              `json:"owner_id,omitempty"`
	OrgID       string              `json:"org_id,omitempty"`
	Visibility  accounts.Visibility `json:"visibility"`
	Template    string              `json:"template,omitempty"`
	ForkedFrom  string              `json:"forked_from,omitempty"`
	CreatedBy   string              `json:"created_by"`
	CreatedAt   time.Time           `json:"created_at"`
	UpdatedAt   time.Time           `json:"updated_at"`
	PublishedAt time.Time           `json:"published_at,omitzero"`
	DeletedAt   time.Time           `json:"deleted_at,omitzero"`
	Role        accounts.Role       `json:"role,omitempty"`
}

func appOf(a accounts.App, role accounts.Role) appView {
	return appView{ID: a.ID, URL: "automerge:" + a.ID, Name: a.Name, Description: a.Description, OwnerID: a.OwnerID,
		OrgID: a.OrgID, Visibility: a.Visibility, Template: a.Template, ForkedFrom: a.ForkedFrom, CreatedBy: a.CreatedBy,
		CreatedAt: a.CreatedAt, UpdatedAt: a.UpdatedAt, PublishedAt: a.PublishedAt, DeletedAt: a.DeletedAt, Role: role}
}

type appListView struct {
	Apps       []appView `json:"apps"`
	NextCursor string    `json:"next_cursor,omitempty"`
}

type shareView struct {
	ID        string             `json:"id"`
	AppID     string             `json:"app_id"`
	Kind      string             `json:"kind"`
	Mode      accounts.ShareMode `json:"mode"`
	CreatedBy string             `json:"created_by"`
	CreatedAt time.Time          `json:"created_at"`
	ExpiresAt time.Time          `json:"expires_at"`
	RevokedAt time.Time          `json:"revoked_at,omitzero"`
	Token     string             `json:"token,omitempty"`
	URL       string             `json:"url,omitempty"`
}

func shareOf(s accounts.Share) shareView {
	return shareView{ID: s.ID, AppID: s.AppID, Kind: s.Kind, Mode: s.Mode, CreatedBy: s.CreatedBy, CreatedAt: s.CreatedAt,
		ExpiresAt: s.ExpiresAt, RevokedAt: s.RevokedAt}
}

type versionView struct {
	ID        string    `json:"id"`
	AppID     string    `json:"app_id"`
	Label     string    `json:"label"`
	Heads     []string  `json:"heads"`
	AuthorID  string    `json:"author_id,omitempty"`
	CreatedAt time.Time `json:"created_at,omitzero"`
}

func versionOf(v accounts.Version) versionView {
	return versionView{ID: v.ID, AppID: v.AppID, Label: v.Label, Heads: v.Heads, AuthorID: v.AuthorID, CreatedAt: v.CreatedAt}
}

type versionStateView struct {
	Version versionView    `json:"version"`
	Meta    map[string]any `json:"meta"`
	Tree    *canvas.Tree   `json:"tree"`
}

type changeView struct {
	ID     string           `json:"id"`
	Fields []string         `json:"fields"`
	Before canvas.Component `json:"before"`
	After  canvas.Component `json:"after"`
}

type diffView struct {
	From         versionView        `json:"from"`
	To           versionView        `json:"to"`
	Added        []canvas.Component `json:"added"`
	Removed      []canvas.Component `json:"removed"`
	Changed      []changeView       `json:"changed"`
	PagesAdded   []string           `json:"pages_added"`
	PagesRemoved []string           `json:"pages_removed"`
	PagesChanged []string           `json:"pages_changed"`
}

type auditView struct {
	ID       string            `json:"id"`
	At       time.Time         `json:"at"`
	ActorID  string            `json:"actor_id,omitempty"`
	Action   string            `json:"action"`
	OrgID    string            `json:"org_id,omitempty"`
	AppID    string            `json:"app_id,omitempty"`
	TargetID string            `json:"target_id,omitempty"`
	IP       string            `json:"ip,omitempty"`
	Detail   map[string]string `json:"detail,omitempty"`
}

type auditListView struct {
	Events     []auditView `json:"events"`
	NextCursor string      `json:"next_cursor,omitempty"`
}

func auditOf(es []accounts.AuditEvent, limit int) auditListView {
	out := auditListView{Events: make([]auditView, 0, len(es))}
	for _, e := range es {
		out.Events = append(out.Events, auditView{ID: e.ID, At: e.At, ActorID: e.ActorID, Action: e.Action, OrgID: e.OrgID,
			AppID: e.AppID, TargetID: e.TargetID, IP: e.IP, Detail: e.Detail})
	}
	if len(es) > 0 && len(es) == limit {
		out.NextCursor = es[len(es)-1].ID
	}
	return out
}

// decode reads a JSON body into v, refusing unknown fields and trailing
// data. An empty body leaves v as it is when optional.
func (a *API) decode(w http.ResponseWriter, r *http.Request, v any, optional bool) error {
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, a.cfg.MaxBodyBytes))
	var mbe *http.MaxBytesError
	if errors.As(err, &mbe) {
		return fmt.Errorf("%w: the limit is %d bytes", errBodyTooLarge, mbe.Limit)
	} else if err != nil {
		return fmt.Errorf("read body: %w", err)
	}
	if len(bytes.TrimSpace(body)) == 0 {
		if optional {
			return nil
		}
		return fmt.Errorf("%w: a JSON body is required", errBadJSON)
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return fmt.Errorf("%w: %v", errBadJSON, err)
	}
	if dec.More() {
		return fmt.Errorf("%w: trailing data after the JSON value", errBadJSON)
	}
	return nil
}
