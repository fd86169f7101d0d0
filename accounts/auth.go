package accounts

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/url"
	"strings"
	"time"
)

// Tokens are what signing in gives: a short-lived access token (a JWT sent
// as a bearer token or ?token= on /sync) and a refresh token that is
// exchanged, once, for the next pair.
type Tokens struct {
	AccessToken      string
	AccessExpiresAt  time.Time
	RefreshToken     string
	RefreshExpiresAt time.Time
	SessionID        string
}

// RegisterInput is a sign-up.
type RegisterInput struct {
	Email    string
	Password string
	Name     string
}

// Register creates an account, signs it in and mails an email
// verification link.
func (s *Service) Register(ctx context.Context, in RegisterInput) (User, Tokens, error) {
	if s.cfg.AuthOff {
		return User{}, Tokens{}, invalidf("sign-up is disabled while auth is off")
	}
	email, err := normalizeEmail(in.Email)
	if err != nil {
		return User{}, Tokens{}, err
	}
	name, err := checkName("name", in.Name, false)
	if err != nil {
		return User{}, Tokens{}, err
	}
	if err := checkPassword(in.Password); err != nil {
		return User{}, Tokens{}, err
	}
	hash, err := hashPassword(s.cfg.Argon2, s.cfg.Rand, in.Password)
	if err != nil {
		return User{}, Tokens{}, err
	}
	id, err := s.newID("usr")
	if err != nil {
		return User{}, Tokens{}, err
	}
	now := s.now()
	u := User{ID: id, Email: email, Name: name, PasswordHash: hash, BackupCodes: []string{}, CreatedAt: now, UpdatedAt: now, LastLoginAt: now}
	if err := s.st.CreateUser(ctx, u); err != nil {
		if errors.Is(err, ErrConflict) {
			return User{}, Tokens{}, fmt.Errorf("%w: an account with this email exists", ErrConflict)
		}
		return User{}, Tokens{}, err
	}
	tok, err := s.startSession(ctx, u.ID)
	if err != nil {
		return User{}, Tokens{}, err
	}
	s.audit(ctx, u.ID, AuditRegister, AuditEvent{})
	if err := s.sendVerification(ctx, u); err != nil {
		s.log.Error("send verification mail", slog.String("user", u.ID), slog.Any("err", err))
	}
	return u, tok, nil
}

// LoginInput is a sign-in. Code is the TOTP or a backup code, needed when
// two-factor auth is on.
type LoginInput struct {
	Email    string
	Password string
	Code     string
}

// Login checks the credentials (and the second factor) and starts a
// session. Wrong email and wrong password fail alike and take as long.
func (s *Service) Login(ctx context.Context, in LoginInput) (User, Tokens, error) {
	if s.cfg.AuthOff {
		return User{}, Tokens{}, invalidf("sign-in is disabled while auth is off")
	}
	email, _ := normalizeEmail(in.Email)
	u, err := s.st.GetUserByEmail(ctx, email)
	if errors.Is(err, ErrNotFound) || email == "" {
		verifyPassword(s.dummyHash, in.Password, s.cfg.Argon2)
		return User{}, Tokens{}, ErrBadCredentials
	} else if err != nil {
		return User{}, Tokens{}, err
	}
	ok, rehash := verifyPassword(u.PasswordHash, in.Password, s.cfg.Argon2)
	if !ok {
		s.audit(ctx, u.ID, AuditLoginFailed, AuditEvent{Detail: map[string]string{"reason": "password"}})
		return User{}, Tokens{}, ErrBadCredentials
	}
	if u.TOTPEnabled {
		if strings.TrimSpace(in.Code) == "" {
			return User{}, Tokens{}, ErrMFARequired
		}
		if err := s.checkSecondFactor(ctx, u, in.Code); err != nil {
			s.audit(ctx, u.ID, AuditLoginFailed, AuditEvent{Detail: map[string]string{"reason": "second factor"}})
			return User{}, Tokens{}, err
		}
		if u, err = s.st.GetUser(ctx, u.ID); err != nil { // the factor check changed it
			return User{}, Tokens{}, err
		}
	}
	if rehash {
		if h, err := hashPassword(s.cfg.Argon2, s.cfg.Rand, in.Password); err == nil {
			u.PasswordHash = h
		}
	}
	u.LastLoginAt = s.now()
	if err := s.st.UpdateUser(ctx, u); err != nil {
		return User{}, Tokens{}, err
	}
	tok, err := s.startSession(ctx, u.ID)
	if err != nil {
		return User{}, Tokens{}, err
	}
	s.audit(ctx, u.ID, AuditLogin, AuditEvent{TargetID: tok.SessionID})
	return u, tok, nil
}

// startSession creates a session and its first tokens.
func (s *Service) startSession(ctx context.Context, userID string) (Tokens, error) {
	id, err := s.newID("ses")
	if err != nil {
		return Tokens{}, err
	}
	refresh, err := s.randomToken(32)
	if err != nil {
		return Tokens{}, err
	}
	now := s.now()
	c := clientOf(ctx)
	sess := Session{ID: id, UserID: userID, CreatedAt: now, LastUsedAt: now, ExpiresAt: now.Add(s.cfg.RefreshTTL),
		UserAgent: c.userAgent, IP: c.ip}
	rt := RefreshToken{Hash: digest(refresh), SessionID: id, UserID: userID, CreatedAt: now, ExpiresAt: sess.ExpiresAt}
	if err := s.st.CreateSession(ctx, sess, rt); err != nil {
		return Tokens{}, err
	}
	return s.tokensFor(sess, refresh)
}

func (s *Service) tokensFor(sess Session, refresh string) (Tokens, error) {
	now := s.cfg.Clock()
	exp := now.Add(s.cfg.AccessTTL)
	access, err := s.sign.sign(claims{Subject: sess.UserID, Kind: kindAccess, Session: sess.ID,
		Issued: now.Unix(), Expires: exp.Unix()})
	if err != nil {
		return Tokens{}, err
	}
	return Tokens{AccessToken: access, AccessExpiresAt: time.Unix(exp.Unix(), 0).UTC(), RefreshToken: refresh,
		RefreshExpiresAt: sess.ExpiresAt, SessionID: sess.ID}, nil
}

// Refresh exchanges a refresh token for new tokens. Each refresh token
// works once: presenting one again means it was stolen (or the client is
// confused), so the whole session is revoked and both parties must sign
// in again.
func (s *Service) Refresh(ctx context.Context, refreshToken string) (Tokens, error) {
	if refreshToken == "" {
		return Tokens{}, fmt.Errorf("%w: refresh_token is required", ErrTokenInvalid)
	}
	next, err := s.randomToken(32)
	if err != nil {
		return Tokens{}, err
	}
	now := s.now()
	sess, err := s.st.RotateRefreshToken(ctx, digest(refreshToken),
		RefreshToken{Hash: digest(next), CreatedAt: now, ExpiresAt: now.Add(s.cfg.RefreshTTL)}, now)
	switch {
	case errors.Is(err, ErrTokenReused):
		s.audit(ctx, sess.UserID, AuditRefreshReused, AuditEvent{TargetID: sess.ID})
		s.log.Warn("refresh token reused: session revoked", slog.String("user", sess.UserID), slog.String("session", sess.ID))
		s.userChanged(ctx, sess.UserID)
		return Tokens{}, err
	case errors.Is(err, ErrNotFound):
		return Tokens{}, fmt.Errorf("%w: unknown refresh token", ErrTokenInvalid)
	case err != nil:
		return Tokens{}, err
	}
	return s.tokensFor(sess, next)
}

// Logout ends the caller's session: its refresh tokens and access tokens
// stop working.
func (s *Service) Logout(ctx context.Context, p Principal) error {
	if p.SessionID == "" {
		return ErrUnauthenticated
	}
	if err := s.st.RevokeSession(ctx, p.SessionID, s.now()); err != nil {
		return err
	}
	s.audit(ctx, p.UserID, AuditLogout, AuditEvent{TargetID: p.SessionID})
	s.userChanged(ctx, p.UserID)
	return nil
}

// Sessions lists the caller's live sessions.
func (s *Service) Sessions(ctx context.Context, p Principal) ([]Session, error) {
	uid, err := p.user()
	if err != nil {
		return nil, err
	}
	all, err := s.st.ListSessions(ctx, uid)
	if err != nil {
		return nil, err
	}
	now := s.now()
	live := all[:0]
	for _, x := range all {
		if x.Active(now) {
			live = append(live, x)
		}
	}
	return live, nil
}

// RevokeSession ends one of the caller's sessions.
func (s *Service) RevokeSession(ctx context.Context, p Principal, id string) error {
	uid, err := p.user()
	if err != nil {
		return err
	}
	sess, err := s.st.GetSession(ctx, id)
	if err != nil || sess.UserID != uid {
		return notFoundf("session %s", id)
	}
	if err := s.st.RevokeSession(ctx, id, s.now()); err != nil {
		return err
	}
	s.audit(ctx, uid, AuditSessionRevoked, AuditEvent{TargetID: id})
	s.userChanged(ctx, uid)
	return nil
}

// sendOneTime stores a one-time token for u and mails its link.
func (s *Service) sendOneTime(ctx context.Context, u User, kind string, ttl time.Duration, path, subject, text string) error {
	tok, err := s.randomToken(32)
	if err != nil {
		return err
	}
	now := s.now()
	if err := s.st.CreateOneTimeToken(ctx, OneTimeToken{Hash: digest(tok), Kind: kind, UserID: u.ID, Email: u.Email,
		CreatedAt: now, ExpiresAt: now.Add(ttl)}); err != nil {
		return err
	}
	link := s.cfg.BaseURL + path + "?token=" + url.QueryEscape(tok)
	return s.cfg.Mailer.Send(ctx, Mail{Kind: kind, To: u.Email, Subject: subject, Text: text + "\n\n" + link, Link: link, Token: tok})
}

func (s *Service) sendVerification(ctx context.Context, u User) error {
	return s.sendOneTime(ctx, u, TokenVerifyEmail, s.cfg.VerifyTTL, "/verify-email", "Confirm your email",
		"Open this link to confirm the email address of your Casual account:")
}

// SendVerification mails the caller a new verification link.
func (s *Service) SendVerification(ctx context.Context, p Principal) error {
	u, err := s.Me(ctx, p)
	if err != nil {
		return err
	}
	if u.EmailVerified {
		return invalidf("the email address is already verified")
	}
	return s.sendVerification(ctx, u)
}

// VerifyEmail marks the address the token was sent to as verified.
func (s *Service) VerifyEmail(ctx context.Context, token string) (User, error) {
	t, err := s.consume(ctx, token, TokenVerifyEmail)
	if err != nil {
		return User{}, err
	}
	u, err := s.st.GetUser(ctx, t.UserID)
	if err != nil {
		return User{}, err
	}
	if u.Email != t.Email {
		return User{}, fmt.Errorf("%w: the account's email changed since the link was sent", ErrTokenInvalid)
	}
	u.EmailVerified, u.UpdatedAt = true, s.now()
	if err := s.st.UpdateUser(ctx, u); err != nil {
		return User{}, err
	}
	s.audit(ctx, u.ID, AuditEmailVerified, AuditEvent{})
	if err := s.grantInvitations(ctx, u); err != nil {
		s.log.Error("grant invitations", slog.String("user", u.ID), slog.Any("err", err))
	}
	return u, nil
}

func (s *Service) consume(ctx context.Context, token, kind string) (OneTimeToken, error) {
	if token == "" {
		return OneTimeToken{}, fmt.Errorf("%w: token is required", ErrTokenInvalid)
	}
	t, err := s.st.ConsumeOneTimeToken(ctx, digest(token), kind, s.now())
	if errors.Is(err, ErrNotFound) {
		return t, fmt.Errorf("%w: unknown or used link", ErrTokenInvalid)
	}
	return t, err
}

// RequestPasswordReset mails a reset link if an account has that email.
// It answers the same either way, so it cannot be used to find accounts.
func (s *Service) RequestPasswordReset(ctx context.Context, email string) error {
	e, err := normalizeEmail(email)
	if err != nil {
		return err
	}
	u, err := s.st.GetUserByEmail(ctx, e)
	if errors.Is(err, ErrNotFound) {
		return nil
	} else if err != nil {
		return err
	}
	return s.sendOneTime(ctx, u, TokenResetPassword, s.cfg.ResetTTL, "/reset-password", "Reset your password",
		"Open this link to choose a new password for your Casual account (ignore this mail if you did not ask):")
}

// ResetPassword sets a new password with a reset token and signs every
// session out. Following the link also proves the email address.
func (s *Service) ResetPassword(ctx context.Context, token, password string) error {
	if err := checkPassword(password); err != nil {
		return err
	}
	t, err := s.consume(ctx, token, TokenResetPassword)
	if err != nil {
		return err
	}
	u, err := s.st.GetUser(ctx, t.UserID)
	if err != nil {
		return err
	}
	if u.PasswordHash, err = hashPassword(s.cfg.Argon2, s.cfg.Rand, password); err != nil {
		return err
	}
	u.UpdatedAt = s.now()
	u.EmailVerified = u.EmailVerified || u.Email == t.Email
	if err := s.st.UpdateUser(ctx, u); err != nil {
		return err
	}
	if err := s.st.RevokeUserSessions(ctx, u.ID, s.now()); err != nil {
		return err
	}
	s.audit(ctx, u.ID, AuditPasswordReset, AuditEvent{})
	s.userChanged(ctx, u.ID)
	if u.EmailVerified {
		if err := s.grantInvitations(ctx, u); err != nil {
			s.log.Error("grant invitations", slog.String("user", u.ID), slog.Any("err", err))
		}
	}
	return nil
}
