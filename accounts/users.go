package accounts

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
)

// Me returns the signed-in user.
func (s *Service) Me(ctx context.Context, p Principal) (User, error) {
	uid, err := p.user()
	if err != nil {
		return User{}, err
	}
	u, err := s.st.GetUser(ctx, uid)
	if errors.Is(err, ErrNotFound) {
		return User{}, fmt.Errorf("%w: account deleted", ErrTokenRevoked)
	}
	return u, err
}

// User returns another user, to anyone signed in (the API shows only the
// public fields of others).
func (s *Service) User(ctx context.Context, p Principal, id string) (User, error) {
	if _, err := p.user(); err != nil {
		return User{}, err
	}
	return s.st.GetUser(ctx, id)
}

// UserUpdate changes the caller's account; nil fields stay. Changing the
// email or the password needs the current password.
type UserUpdate struct {
	Name            *string
	Email           *string
	Password        *string
	CurrentPassword string
}

// UpdateMe applies upd. A new email must be verified again; a new
// password signs out every other session.
func (s *Service) UpdateMe(ctx context.Context, p Principal, upd UserUpdate) (User, error) {
	u, err := s.Me(ctx, p)
	if err != nil {
		return User{}, err
	}
	if upd.Email != nil || upd.Password != nil {
		if p.Local {
			return User{}, invalidf("the local user has no email or password")
		}
		if ok, _ := verifyPassword(u.PasswordHash, upd.CurrentPassword, s.cfg.Argon2); !ok {
			return User{}, fmt.Errorf("%w: current_password is wrong", ErrBadCredentials)
		}
	}
	if upd.Name != nil {
		if u.Name, err = checkName("name", *upd.Name, false); err != nil {
			return User{}, err
		}
	}
	emailChanged := false
	if upd.Email != nil {
		e, err := normalizeEmail(*upd.Email)
		if err != nil {
			return User{}, err
		}
		if e != u.Email {
			u.Email, u.EmailVerified, emailChanged = e, false, true
		}
	}
	if upd.Password != nil {
		if err := checkPassword(*upd.Password); err != nil {
			return User{}, err
		}
		if u.PasswordHash, err = hashPassword(s.cfg.Argon2, s.cfg.Rand, *upd.Password); err != nil {
			return User{}, err
		}
	}
	u.UpdatedAt = s.now()
	if err := s.st.UpdateUser(ctx, u); err != nil {
		if errors.Is(err, ErrConflict) {
			return User{}, fmt.Errorf("%w: an account with this email exists", ErrConflict)
		}
		return User{}, err
	}
	if upd.Password != nil {
		if err := s.revokeOtherSessions(ctx, u.ID, p.SessionID); err != nil {
			return User{}, err
		}
		s.audit(ctx, u.ID, AuditPasswordChanged, AuditEvent{})
		s.userChanged(ctx, u.ID)
	}
	if emailChanged {
		if err := s.sendVerification(ctx, u); err != nil {
			s.log.Error("send verification mail", slog.String("user", u.ID), slog.Any("err", err))
		}
	}
	return u, nil
}

func (s *Service) revokeOtherSessions(ctx context.Context, userID, keep string) error {
	all, err := s.st.ListSessions(ctx, userID)
	if err != nil {
		return err
	}
	for _, x := range all {
		if x.ID != keep {
			if err := s.st.RevokeSession(ctx, x.ID, s.now()); err != nil {
				return err
			}
		}
	}
	return nil
}

// DeleteMe deletes the caller's account after checking the password. Apps
// they own go to the trash; organizations where they are the only member
// are deleted; where others remain, another owner must exist first.
func (s *Service) DeleteMe(ctx context.Context, p Principal, password string) error {
	u, err := s.Me(ctx, p)
	if err != nil {
		return err
	}
	if p.Local {
		return invalidf("the local user cannot be deleted")
	}
	if ok, _ := verifyPassword(u.PasswordHash, password, s.cfg.Argon2); !ok {
		return fmt.Errorf("%w: password is wrong", ErrBadCredentials)
	}
	ms, err := s.st.ListMemberships(ctx, u.ID)
	if err != nil {
		return err
	}
	var alone []string
	for _, m := range ms {
		if m.Role != RoleOwner {
			continue
		}
		all, err := s.st.ListMembers(ctx, m.OrgID)
		if err != nil {
			return err
		}
		owners := 0
		for _, x := range all {
			if x.Role == RoleOwner {
				owners++
			}
		}
		switch {
		case len(all) == 1:
			alone = append(alone, m.OrgID)
		case owners == 1:
			return fmt.Errorf("%w: make someone else an owner of organization %s first", ErrLastOwner, m.OrgID)
		}
	}
	for _, org := range alone {
		if err := s.deleteOrg(ctx, u.ID, org); err != nil {
			return err
		}
	}
	owned, err := s.st.ListApps(ctx, AppQuery{All: true, OwnerID: u.ID})
	if err != nil {
		return err
	}
	for _, a := range owned {
		if err := s.trash(ctx, u.ID, a); err != nil {
			return err
		}
	}
	if err := s.st.DeleteUser(ctx, u.ID); err != nil {
		return err
	}
	s.audit(ctx, u.ID, AuditUserDeleted, AuditEvent{TargetID: u.ID})
	s.userChanged(ctx, u.ID)
	return nil
}
