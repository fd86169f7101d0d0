package accounts

import (
	"errors"
	"fmt"
)

// Errors callers branch on. Service methods wrap them with details; the
// API maps each to a status code and a stable error code.
var (
	// ErrNotFound: no such user, app, organization, version... (also what
	// callers who may not know an app exists are told).
	ErrNotFound = errors.New("not found")
	// ErrConflict: the thing already exists (an email in use).
	ErrConflict = errors.New("already exists")
	// ErrInvalid: the request is malformed or breaks a rule.
	ErrInvalid = errors.New("invalid request")
	// ErrUnauthenticated: the action needs a signed-in user.
	ErrUnauthenticated = errors.New("authentication required")
	// ErrBadCredentials: wrong email or password (never says which).
	ErrBadCredentials = errors.New("wrong email or password")
	// ErrForbidden: signed in, but not allowed.
	ErrForbidden = errors.New("forbidden")
	// ErrTokenInvalid: a token that does not verify (tampered, malformed,
	// signed with another key, wrong kind).
	ErrTokenInvalid = errors.New("invalid token")
	// ErrTokenExpired: a token past its expiry.
	ErrTokenExpired = errors.New("token expired")
	// ErrTokenRevoked: a token whose session or share was revoked.
	ErrTokenRevoked = errors.New("token revoked")
	// ErrTokenReused: a refresh token presented a second time; its whole
	// session (the token family) is revoked.
	ErrTokenReused = errors.New("refresh token reused: session revoked")
	// ErrMFARequired: the password was right and a two-factor code is
	// needed too.
	ErrMFARequired = errors.New("two-factor code required")
	// ErrMFAInvalid: the two-factor or backup code is wrong or was used.
	ErrMFAInvalid = errors.New("invalid two-factor code")
	// ErrLastOwner: the change would leave an organization without owners.
	ErrLastOwner = errors.New("an organization needs at least one owner")
	// ErrCorruptImport: an import file that is not a Casual export, or
	// whose document does not load.
	ErrCorruptImport = errors.New("not a valid app export")
)

func invalidf(format string, args ...any) error {
	return fmt.Errorf("%w: %s", ErrInvalid, fmt.Sprintf(format, args...))
}

func notFoundf(format string, args ...any) error {
	return fmt.Errorf("%w: %s", ErrNotFound, fmt.Sprintf(format, args...))
}

func forbiddenf(format string, args ...any) error {
	return fmt.Errorf("%w: %s", ErrForbidden, fmt.Sprintf(format, args...))
}
