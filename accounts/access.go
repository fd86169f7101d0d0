package accounts

import (
	"context"
	"time"

	"github.com/casual-dev/casual/collab"
	"github.com/casual-dev/casual/crdt"
	"github.com/casual-dev/casual/rooms"
)

// AccessNotifier hears that someone's access may have changed, so that
// open sync sockets are checked again: collab.Server.Reauthorize on this
// node, and (package accessbus) on the other nodes. AccessChanged is called
// after the change is stored, on the request's goroutine.
type AccessNotifier interface {
	AccessChanged(ctx context.Context, ch collab.AccessChange)
}

// AccessFunc adapts a function to AccessNotifier.
type AccessFunc func(ctx context.Context, ch collab.AccessChange)

// AccessChanged implements AccessNotifier.
func (f AccessFunc) AccessChanged(ctx context.Context, ch collab.AccessChange) { f(ctx, ch) }

// shareSubject is the collab subject of share-token sockets.
func shareSubject(shareID string) string { return "share:" + shareID }

// appChanged: access to one app changed, for everyone (deleted,
// unpublished) or, with subject, for one user or share.
func (s *Service) appChanged(ctx context.Context, appID, subject string) {
	if s.cfg.Access != nil {
		s.cfg.Access.AccessChanged(context.WithoutCancel(ctx), collab.AccessChange{Doc: crdt.DocID(appID), Subject: subject})
	}
}

// watchShareExpiry makes sure that when a share expires, the sockets
// opened with it are re-checked (and so cut): expiry is not an event
// anything else would announce. One timer per share, however many sockets.
func (s *Service) watchShareExpiry(sh *Share) {
	if s.cfg.Access == nil {
		return
	}
	s.expMu.Lock()
	defer s.expMu.Unlock()
	if s.closed || s.expiries[sh.ID] != nil {
		return
	}
	if s.expiries == nil {
		s.expiries = map[string]*time.Timer{}
	}
	id, app := sh.ID, sh.AppID
	// A little after the expiry, so the re-check finds it expired.
	wait := sh.ExpiresAt.Sub(s.cfg.Clock()) + 10*time.Millisecond
	s.expiries[id] = time.AfterFunc(wait, func() {
		s.expMu.Lock()
		delete(s.expiries, id)
		closed := s.closed
		s.expMu.Unlock()
		if !closed {
			s.appChanged(context.Background(), app, shareSubject(id))
		}
	})
}

// Close stops the share-expiry timers.
func (s *Service) Close() {
	s.expMu.Lock()
	defer s.expMu.Unlock()
	s.closed = true
	for id, t := range s.expiries {
		t.Stop()
		delete(s.expiries, id)
	}
}

// userChanged: a user's access to many apps changed (an organization role,
// their sessions).
func (s *Service) userChanged(ctx context.Context, userID string) {
	if s.cfg.Access != nil {
		s.cfg.Access.AccessChanged(context.WithoutCancel(ctx), collab.AccessChange{Subject: userID})
	}
}

var (
	_ collab.Subjecter = Authorizer{}
	_ collab.Rechecker = Authorizer{}
)

// Subject implements collab.Subjecter: the user id of an access token,
// share:<id> of a share token, "" for anything else. Only the signature is
// checked, not expiry: a socket keeps its subject.
func (a Authorizer) Subject(cred collab.Credentials) string {
	if cred.Internal || cred.Token == "" {
		return ""
	}
	switch tokenKind(cred.Token) {
	case kindShare:
		if c, err := a.s.sign.parse(cred.Token, kindShare); err == nil {
			return shareSubject(c.Subject)
		}
	case kindAccess:
		if c, err := a.s.sign.parse(cred.Token, kindAccess); err == nil {
			return c.Subject
		}
	}
	return ""
}

// Recheck implements collab.Rechecker: like Authorize, except that an
// access token that expired since the socket joined still counts while its
// session is not revoked (expiry bounds new requests; revocation and the
// permissions end open sockets). Share tokens still end at their expiry.
func (a Authorizer) Recheck(ctx context.Context, cred collab.Credentials, doc crdt.DocID) (rooms.Access, error) {
	if cred.Internal || a.s.cfg.AuthOff {
		return rooms.Write, nil
	}
	p, err := a.s.authenticate(ctx, cred.Token, true)
	if err != nil {
		return rooms.NoAccess, err
	}
	return a.access(ctx, p, doc)
}
