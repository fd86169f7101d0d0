package accounts

import (
	"context"
	"errors"
	"fmt"
)

// Principal is who is asking: a signed-in user (with the session their
// access token belongs to), the holder of a share token, the local user
// when auth is off, or nobody (the zero value).
type Principal struct {
	UserID    string
	SessionID string
	// Share is set for share link and embed tokens: access to one app.
	Share *Share
	// Local: auth is off, everything is allowed.
	Local bool
}

// Anonymous reports whether nobody is signed in and no share was given.
func (p Principal) Anonymous() bool { return p.UserID == "" && p.Share == nil && !p.Local }

// user returns the signed-in user's id, or ErrUnauthenticated.
func (p Principal) user() (string, error) {
	if p.UserID == "" {
		return "", ErrUnauthenticated
	}
	return p.UserID, nil
}

// Authenticate turns a bearer token into a principal. The empty token is
// anonymous. Access tokens must verify, be unexpired, and belong to a live
// session; share tokens must verify and name a live share. With auth off
// everyone is the local user.
func (s *Service) Authenticate(ctx context.Context, token string) (Principal, error) {
	return s.authenticate(ctx, token, false)
}

// authenticate is Authenticate; with expiredOK an access token past its
// expiry still counts while its session lives (re-checking open sockets).
func (s *Service) authenticate(ctx context.Context, token string, expiredOK bool) (Principal, error) {
	if s.cfg.AuthOff {
		return Principal{UserID: LocalUserID, Local: true}, nil
	}
	if token == "" {
		return Principal{}, nil
	}
	now := s.cfg.Clock()
	switch tokenKind(token) {
	case kindShare:
		c, err := s.sign.verify(token, kindShare, now)
		if err != nil {
			return Principal{}, err
		}
		sh, err := s.st.GetShare(ctx, c.Subject)
		if errors.Is(err, ErrNotFound) {
			return Principal{}, fmt.Errorf("%w: share deleted", ErrTokenRevoked)
		} else if err != nil {
			return Principal{}, err
		}
		switch {
		case !sh.RevokedAt.IsZero():
			return Principal{}, fmt.Errorf("%w: share revoked", ErrTokenRevoked)
		case sh.AppID != c.App || string(sh.Mode) != c.Mode:
			return Principal{}, fmt.Errorf("%w: share does not match", ErrTokenInvalid)
		case !now.Before(sh.ExpiresAt):
			return Principal{}, ErrTokenExpired
		}
		return Principal{Share: &sh}, nil
	default:
		c, err := s.sign.verify(token, kindAccess, now)
		if expiredOK && errors.Is(err, ErrTokenExpired) {
			err = nil
		}
		if err != nil {
			return Principal{}, err
		}
		sess, err := s.st.GetSession(ctx, c.Session)
		if errors.Is(err, ErrNotFound) {
			return Principal{}, fmt.Errorf("%w: session ended", ErrTokenRevoked)
		} else if err != nil {
			return Principal{}, err
		}
		if sess.UserID != c.Subject {
			return Principal{}, fmt.Errorf("%w: session of another user", ErrTokenInvalid)
		}
		if !sess.RevokedAt.IsZero() {
			return Principal{}, fmt.Errorf("%w: signed out", ErrTokenRevoked)
		}
		return Principal{UserID: c.Subject, SessionID: c.Session}, nil
	}
}
