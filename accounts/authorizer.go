package accounts

import (
	"context"
	"errors"
	"fmt"

	"github.com/casual-dev/casual/collab"
	"github.com/casual-dev/casual/crdt"
	"github.com/casual-dev/casual/rooms"
)

// Authorizer checks sync peers against accounts: it implements
// collab.Authorizer, so every join, request and sync on /sync obeys the
// same permissions as the REST API.
type Authorizer struct{ s *Service }

var _ collab.Authorizer = Authorizer{}

// Authorizer returns the service's collab.Authorizer.
func (s *Service) Authorizer() Authorizer { return Authorizer{s: s} }

// Authenticate implements collab.Authorizer: a token that is present must
// be valid (tampered, expired and revoked tokens are refused at join); no
// token joins anonymously, which only opens public apps.
func (a Authorizer) Authenticate(ctx context.Context, cred collab.Credentials) error {
	if cred.Internal {
		return nil
	}
	_, err := a.s.Authenticate(ctx, cred.Token)
	return err
}

// Authorize implements collab.Authorizer: editors and up write, viewers
// and read/run shares read, others get nothing. Documents that are not
// apps are refused (create apps through the API), except for server-side
// peers and with auth off.
func (a Authorizer) Authorize(ctx context.Context, cred collab.Credentials, doc crdt.DocID) (rooms.Access, error) {
	if cred.Internal || a.s.cfg.AuthOff {
		return rooms.Write, nil
	}
	p, err := a.s.Authenticate(ctx, cred.Token)
	if err != nil {
		return rooms.NoAccess, err
	}
	if p.Share != nil {
		a.s.watchShareExpiry(p.Share)
	}
	return a.access(ctx, p, doc)
}

func (a Authorizer) access(ctx context.Context, p Principal, doc crdt.DocID) (rooms.Access, error) {
	access, err := a.s.DocAccess(ctx, p, string(doc))
	if errors.Is(err, ErrNotFound) {
		return rooms.NoAccess, fmt.Errorf("%s is not an app you can open", doc)
	}
	return access, err
}

// CanRun reports whether cred may queue handler runs on doc through the
// API: with write access, or with a run-mode share or embed token for that
// app (which only reads the document over /sync).
func (a Authorizer) CanRun(ctx context.Context, cred collab.Credentials, doc crdt.DocID) error {
	if cred.Internal || a.s.cfg.AuthOff {
		return nil
	}
	p, err := a.s.Authenticate(ctx, cred.Token)
	if err != nil {
		return err
	}
	if p.Share != nil && p.Share.AppID == string(doc) && p.Share.Mode == ShareRun {
		if _, err := a.access(ctx, p, doc); err != nil { // the app must still be there
			return err
		}
		return nil
	}
	access, err := a.access(ctx, p, doc)
	if err != nil {
		return err
	}
	if access < rooms.Write {
		return fmt.Errorf("%w: running handlers needs write access or a run-mode share", collab.ErrForbidden)
	}
	return nil
}
