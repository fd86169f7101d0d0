package accounts

import (
	"context"
	"errors"
	"fmt"
)

// OrgMembership is an organization with the caller's role in it.
type OrgMembership struct {
	Org  Org
	Role Role
}

// MemberInfo is a member with the user's name and email. When the email
// has no account yet, Invitation is set instead of Member: the membership
// waits for them to sign up.
type MemberInfo struct {
	Member
	Name       string
	Email      string
	Invitation *Invitation
}

// CreateOrg creates an organization owned by the caller.
func (s *Service) CreateOrg(ctx context.Context, p Principal, name string) (Org, error) {
	uid, err := p.user()
	if err != nil {
		return Org{}, err
	}
	if name, err = checkName("name", name, true); err != nil {
		return Org{}, err
	}
	id, err := s.newID("org")
	if err != nil {
		return Org{}, err
	}
	now := s.now()
	o := Org{ID: id, Name: name, CreatedBy: uid, CreatedAt: now, UpdatedAt: now}
	if err := s.st.CreateOrg(ctx, o, Member{OrgID: id, UserID: uid, Role: RoleOwner, AddedBy: uid, AddedAt: now}); err != nil {
		return Org{}, err
	}
	s.audit(ctx, uid, AuditOrgCreated, AuditEvent{OrgID: id, Detail: map[string]string{"name": name}})
	return o, nil
}

// Orgs lists the caller's organizations with their role in each.
func (s *Service) Orgs(ctx context.Context, p Principal) ([]OrgMembership, error) {
	uid, err := p.user()
	if err != nil {
		return nil, err
	}
	ms, err := s.st.ListMemberships(ctx, uid)
	if err != nil {
		return nil, err
	}
	out := make([]OrgMembership, 0, len(ms))
	for _, m := range ms {
		o, err := s.st.GetOrg(ctx, m.OrgID)
		if errors.Is(err, ErrNotFound) {
			continue // deleted meanwhile
		} else if err != nil {
			return nil, err
		}
		out = append(out, OrgMembership{Org: o, Role: m.Role})
	}
	return out, nil
}

// Org returns an organization to its members.
func (s *Service) Org(ctx context.Context, p Principal, id string) (OrgMembership, error) {
	role, err := s.orgFor(ctx, p, id, RoleViewer)
	if err != nil {
		return OrgMembership{}, err
	}
	o, err := s.st.GetOrg(ctx, id)
	return OrgMembership{Org: o, Role: role}, err
}

// RenameOrg renames an organization (admins).
func (s *Service) RenameOrg(ctx context.Context, p Principal, id, name string) (Org, error) {
	if _, err := s.orgFor(ctx, p, id, RoleAdmin); err != nil {
		return Org{}, err
	}
	name, err := checkName("name", name, true)
	if err != nil {
		return Org{}, err
	}
	o, err := s.st.GetOrg(ctx, id)
	if err != nil {
		return Org{}, err
	}
	old := o.Name
	o.Name, o.UpdatedAt = name, s.now()
	if err := s.st.UpdateOrg(ctx, o); err != nil {
		return Org{}, err
	}
	s.audit(ctx, p.UserID, AuditOrgRenamed, AuditEvent{OrgID: id, Detail: map[string]string{"from": old, "to": name}})
	return o, nil
}

// DeleteOrg deletes an organization (owners); its apps go to the trash.
func (s *Service) DeleteOrg(ctx context.Context, p Principal, id string) error {
	if _, err := s.orgFor(ctx, p, id, RoleOwner); err != nil {
		return err
	}
	return s.deleteOrg(ctx, p.UserID, id)
}

func (s *Service) deleteOrg(ctx context.Context, actor, id string) error {
	apps, err := s.st.ListApps(ctx, AppQuery{All: true, OrgID: id})
	if err != nil {
		return err
	}
	for _, a := range apps {
		if err := s.trash(ctx, actor, a); err != nil {
			return err
		}
	}
	if err := s.st.DeleteOrg(ctx, id); err != nil {
		return err
	}
	s.audit(ctx, actor, AuditOrgDeleted, AuditEvent{OrgID: id})
	return nil
}

// Members lists an organization's members (to members).
func (s *Service) Members(ctx context.Context, p Principal, orgID string) ([]MemberInfo, error) {
	if _, err := s.orgFor(ctx, p, orgID, RoleViewer); err != nil {
		return nil, err
	}
	ms, err := s.st.ListMembers(ctx, orgID)
	if err != nil {
		return nil, err
	}
	out := make([]MemberInfo, 0, len(ms))
	for _, m := range ms {
		u, err := s.st.GetUser(ctx, m.UserID)
		if err != nil && !errors.Is(err, ErrNotFound) {
			return nil, err
		}
		out = append(out, MemberInfo{Member: m, Name: u.Name, Email: u.Email})
	}
	return out, nil
}

// SetMember adds the user with that email to an organization, or changes
// their role. Admins manage admins, editors and viewers; only owners make
// or unmake owners.
func (s *Service) SetMember(ctx context.Context, p Principal, orgID, email string, role Role) (MemberInfo, error) {
	mine, err := s.orgFor(ctx, p, orgID, RoleAdmin)
	if err != nil {
		return MemberInfo{}, err
	}
	if !role.Valid() {
		return MemberInfo{}, invalidf("role must be owner, admin, editor or viewer")
	}
	u, err := s.userByEmail(ctx, email)
	if errors.Is(err, ErrNotFound) {
		if role == RoleOwner && mine != RoleOwner {
			return MemberInfo{}, forbiddenf("only owners can make or change owners")
		}
		e, _ := normalizeEmail(email)
		o, err := s.st.GetOrg(ctx, orgID)
		if err != nil {
			return MemberInfo{}, err
		}
		inv, err := s.invite(ctx, p, e, orgID, "", "the organization "+o.Name, role)
		return MemberInfo{Email: e, Invitation: &inv}, err
	} else if err != nil {
		return MemberInfo{}, err
	}
	old, err := s.orgRole(ctx, u.ID, orgID)
	if err != nil {
		return MemberInfo{}, err
	}
	if (role == RoleOwner || old == RoleOwner) && mine != RoleOwner {
		return MemberInfo{}, forbiddenf("only owners can make or change owners")
	}
	m := Member{OrgID: orgID, UserID: u.ID, Role: role, AddedBy: p.UserID, AddedAt: s.now()}
	if err := s.st.PutMember(ctx, m); err != nil {
		return MemberInfo{}, err
	}
	s.audit(ctx, p.UserID, AuditOrgMemberSet, AuditEvent{OrgID: orgID, TargetID: u.ID,
		Detail: map[string]string{"role": string(role), "previous": string(old)}})
	s.userChanged(ctx, u.ID)
	return MemberInfo{Member: m, Name: u.Name, Email: u.Email}, nil
}

// RemoveMember removes a member (admins; owners only by owners); anyone
// may leave.
func (s *Service) RemoveMember(ctx context.Context, p Principal, orgID, userID string) error {
	need := RoleAdmin
	if userID == p.UserID {
		need = RoleViewer
	}
	mine, err := s.orgFor(ctx, p, orgID, need)
	if err != nil {
		return err
	}
	theirs, err := s.orgRole(ctx, userID, orgID)
	if err != nil {
		return err
	}
	if theirs == RoleNone {
		return notFoundf("member %s", userID)
	}
	if theirs == RoleOwner && mine != RoleOwner {
		return forbiddenf("only owners can remove owners")
	}
	if err := s.st.RemoveMember(ctx, orgID, userID); err != nil {
		return err
	}
	s.audit(ctx, p.UserID, AuditOrgMemberRemoved, AuditEvent{OrgID: orgID, TargetID: userID,
		Detail: map[string]string{"role": string(theirs)}})
	s.userChanged(ctx, userID)
	return nil
}

func (s *Service) userByEmail(ctx context.Context, email string) (User, error) {
	e, err := normalizeEmail(email)
	if err != nil {
		return User{}, err
	}
	u, err := s.st.GetUserByEmail(ctx, e)
	if errors.Is(err, ErrNotFound) {
		return User{}, fmt.Errorf("%w: no account with email %s (they need to sign up first)", ErrNotFound, e)
	}
	return u, err
}
