package accounts

import (
	"context"
	"errors"

	"github.com/casual-dev/casual/rooms"
)

// AppRole is what p may do with app a (RoleNone: nothing):
//   - with auth off, everything;
//   - a share token: viewer (read, run) or editor (write), on its app only;
//   - the owning user: owner;
//   - members of the owning organization: owners and admins always, others
//     with their organization role unless the app is private;
//   - people the app is shared with: the role they were given;
//   - public apps: at least viewer, for everyone.
//
// Apps in the trash have no role but the owner's and admins'.
func (s *Service) AppRole(ctx context.Context, p Principal, a App) (Role, error) {
	switch {
	case p.Local:
		return RoleOwner, nil
	case p.Share != nil:
		if p.Share.AppID != a.ID || !a.DeletedAt.IsZero() {
			return RoleNone, nil
		}
		if p.Share.Mode == ShareWrite {
			return RoleEditor, nil
		}
		return RoleViewer, nil
	}
	role := RoleNone
	if a.Visibility == Public {
		role = RoleViewer
	}
	if p.UserID == "" {
		return live(a, role), nil
	}
	if a.OwnerID == p.UserID {
		return RoleOwner, nil
	}
	if a.OrgID != "" {
		m, err := s.st.GetMember(ctx, a.OrgID, p.UserID)
		switch {
		case err == nil && (m.Role.AtLeast(RoleAdmin) || a.Visibility != Private):
			role = maxRole(role, m.Role)
		case err != nil && !errors.Is(err, ErrNotFound):
			return RoleNone, err
		}
	}
	m, err := s.st.GetAppMember(ctx, a.ID, p.UserID)
	switch {
	case err == nil:
		role = maxRole(role, m.Role)
	case !errors.Is(err, ErrNotFound):
		return RoleNone, err
	}
	if role.AtLeast(RoleAdmin) {
		return role, nil
	}
	return live(a, role), nil
}

func live(a App, r Role) Role {
	if !a.DeletedAt.IsZero() {
		return RoleNone
	}
	return r
}

// appFor loads an app and checks p has at least need on it. Someone with
// no role at all is told the app does not exist.
func (s *Service) appFor(ctx context.Context, p Principal, id string, need Role) (App, Role, error) {
	a, err := s.st.GetApp(ctx, id)
	if errors.Is(err, ErrNotFound) {
		return App{}, RoleNone, notFoundf("app %s", id)
	} else if err != nil {
		return App{}, RoleNone, err
	}
	role, err := s.AppRole(ctx, p, a)
	if err != nil {
		return App{}, RoleNone, err
	}
	if role == RoleNone { // even to anonymous callers: private apps are not confirmed to exist
		return App{}, RoleNone, notFoundf("app %s", id)
	}
	if !a.DeletedAt.IsZero() && need != RoleAdmin && need != RoleOwner {
		return App{}, RoleNone, notFoundf("app %s is in the trash", id)
	}
	if !role.AtLeast(need) {
		return App{}, role, forbiddenf("%s access to app %s needs the %s role (you are %s)", verbOf(need), id, need, role)
	}
	return a, role, nil
}

func verbOf(r Role) string {
	switch r {
	case RoleViewer:
		return "read"
	case RoleEditor:
		return "write"
	}
	return "admin"
}

// orgRole returns the user's role in an organization (RoleNone if not a
// member).
func (s *Service) orgRole(ctx context.Context, userID, orgID string) (Role, error) {
	m, err := s.st.GetMember(ctx, orgID, userID)
	if errors.Is(err, ErrNotFound) {
		return RoleNone, nil
	}
	return m.Role, err
}

// orgFor loads an organization and checks p's role in it; non-members are
// told it does not exist.
func (s *Service) orgFor(ctx context.Context, p Principal, id string, need Role) (Role, error) {
	uid, err := p.user()
	if err != nil {
		return RoleNone, err
	}
	if _, err := s.st.GetOrg(ctx, id); err != nil {
		return RoleNone, err
	}
	role := RoleOwner
	if !p.Local {
		if role, err = s.orgRole(ctx, uid, id); err != nil {
			return RoleNone, err
		}
	}
	if role == RoleNone {
		return RoleNone, notFoundf("organization %s", id)
	}
	if !role.AtLeast(need) {
		return role, forbiddenf("this needs the %s role in organization %s (you are %s)", need, id, role)
	}
	return role, nil
}

// DocAccess is what p may do with the document of app id, for the sync
// socket: rooms.Write for editors and up, rooms.Read for viewers.
func (s *Service) DocAccess(ctx context.Context, p Principal, id string) (rooms.Access, error) {
	a, err := s.st.GetApp(ctx, id)
	if err != nil {
		return rooms.NoAccess, err
	}
	role, err := s.AppRole(ctx, p, a)
	if err != nil || !a.DeletedAt.IsZero() {
		return rooms.NoAccess, err
	}
	switch {
	case role.AtLeast(RoleEditor):
		return rooms.Write, nil
	case role.AtLeast(RoleViewer):
		return rooms.Read, nil
	}
	return rooms.NoAccess, nil
}
