package collab

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"

	"github.com/casual-dev/casual/crdt"
	"github.com/casual-dev/casual/rooms"
)

// Re-authorization. A session is authorized for a document when it first
// uses it; when access changes later (a member removed, a role lowered, a
// share revoked, an app deleted, a user signed out everywhere) the accounts
// side calls Server.Reauthorize, which runs the Authorizer again for the
// open documents of the affected sessions:
//
//   - still allowed at the same level: nothing happens;
//   - a new level (write lowered to read, or raised): later messages use it,
//     so a downgraded writer's changes are refused like any viewer's;
//   - no access any more: the session leaves the document's room (dropping
//     its sync state there), nothing queued for that document is sent, and
//     the peer gets an error (code access_revoked) for it. A later message
//     for the document is authorized afresh, and refused.
//
// The reader goroutine holds a document's grant (read-locked) from reading
// its access until the room has the message, and Reauthorize changes a
// grant under the write lock, so a message is never handed to a room with
// access that was already taken away.

// ErrAccessRevoked is sent for a document whose access was withdrawn while
// it was open.
var ErrAccessRevoked = fmt.Errorf("%w: access withdrawn while the document was open", ErrForbidden)

// AccessChange says whose access may have changed. Sessions that match are
// re-checked: with Doc set, only that document; with Subject set, only the
// sessions whose credentials belong to it (see Subjecter). The zero value
// re-checks every open document of every session.
type AccessChange struct {
	Doc     crdt.DocID
	Subject string
}

// Subjecter is implemented by Authorizers that can tell whom credentials
// belong to (a user id, a share); an AccessChange with a Subject re-checks
// only that subject's sessions. Without it, a Subject matches every
// session.
type Subjecter interface {
	Subject(cred Credentials) string
}

// Rechecker is implemented by Authorizers that judge an open session
// differently from a new request: credentials accepted at join may since
// have expired (a short-lived access token) without being revoked.
// Reauthorize calls Recheck instead of Authorize when it is there.
type Rechecker interface {
	Recheck(ctx context.Context, cred Credentials, doc crdt.DocID) (rooms.Access, error)
}

// Reauthorize re-checks the open documents of the sessions ch names, as
// described above, and returns once every affected peer was dealt with (or
// ctx ended).
func (s *Server) Reauthorize(ctx context.Context, ch AccessChange) {
	s.reauthEpoch.Add(1) // before the snapshot: see session.track
	s.mu.Lock()
	all := make([]*session, 0, len(s.sessions))
	for ss := range s.sessions {
		all = append(all, ss)
	}
	s.mu.Unlock()
	for _, ss := range all {
		if ctx.Err() != nil {
			return
		}
		ss.recheck(ctx, ch)
	}
}

// grant is a session's access to one open document.
type grant struct {
	mu     sync.RWMutex
	access rooms.Access
	closed bool // revoked, or the session left: the room is left and released
}

// enter read-locks the grant and returns the access, unless it is closed.
// exit must follow a successful enter.
func (g *grant) enter() (rooms.Access, bool) {
	g.mu.RLock()
	if g.closed {
		g.mu.RUnlock()
		return rooms.NoAccess, false
	}
	return g.access, true
}

func (g *grant) exit() { g.mu.RUnlock() }

// close marks the grant closed; true if this call did (the caller then
// leaves the room and releases it, exactly once).
func (g *grant) close() bool {
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.closed {
		return false
	}
	g.closed = true
	return true
}

// set changes the access of an open grant, returning the previous level.
func (g *grant) set(a rooms.Access) (rooms.Access, bool) {
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.closed {
		return rooms.NoAccess, false
	}
	old := g.access
	g.access = a
	return old, true
}

// grants are a session's open documents as Reauthorize sees them; the
// reader goroutine adds to them and removes from them.
type grants struct {
	mu      sync.Mutex
	links   map[crdt.DocID]*docLink
	subject string
	named   bool // subject was computed
}

type openDoc struct {
	id   crdt.DocID
	link *docLink
}

// open returns the session's link to a document and its access, read-locked
// until link.exit. A link that re-authorization closed is forgotten and the
// document authorized afresh (access may have come back); if that is
// refused too, the refusal says the access was withdrawn.
func (ss *session) open(ctx context.Context, raw string) (*docLink, rooms.Access, error) {
	revoked := false
	for range 3 {
		l, err := ss.link(ctx, raw)
		if err != nil {
			if revoked && errors.Is(err, ErrForbidden) {
				err = fmt.Errorf("%w: %s", ErrAccessRevoked, raw)
			}
			return nil, rooms.NoAccess, err
		}
		if a, ok := l.enter(); ok {
			return l, a, nil
		}
		ss.forget(crdt.DocID(raw), l)
		revoked = true
	}
	return nil, rooms.NoAccess, fmt.Errorf("%w: %s", ErrAccessRevoked, raw)
}

// track registers a new link for re-authorization. epoch is the server's
// re-authorization count read before the link was authorized: if a
// Reauthorize started since, it may have missed the link, so the link is
// re-checked here.
func (ss *session) track(ctx context.Context, id crdt.DocID, l *docLink, epoch uint64) {
	ss.grants.mu.Lock()
	if ss.grants.links == nil {
		ss.grants.links = map[crdt.DocID]*docLink{}
	}
	ss.grants.links[id] = l
	ss.grants.mu.Unlock()
	if ss.srv.reauthEpoch.Load() != epoch {
		ss.recheckDoc(ctx, id, l)
	}
}

// forget drops a closed link (its room was already left and released).
func (ss *session) forget(id crdt.DocID, l *docLink) {
	if ss.docs[id] == l {
		delete(ss.docs, id)
	}
	ss.grants.mu.Lock()
	if ss.grants.links[id] == l {
		delete(ss.grants.links, id)
	}
	ss.grants.mu.Unlock()
}

// subject returns whom the session's credentials belong to ("" if the
// Authorizer cannot tell).
func (ss *session) subject() (string, bool) {
	sj, ok := ss.srv.auth.(Subjecter)
	if !ok {
		return "", false
	}
	ss.grants.mu.Lock()
	defer ss.grants.mu.Unlock()
	if !ss.grants.named {
		ss.grants.subject, ss.grants.named = sj.Subject(ss.cred), true
	}
	return ss.grants.subject, true
}

func (ss *session) recheck(ctx context.Context, ch AccessChange) {
	select {
	case <-ss.done:
		return
	default:
	}
	if ch.Subject != "" {
		if sub, ok := ss.subject(); ok && sub != ch.Subject {
			return
		}
	}
	ss.grants.mu.Lock()
	var docs []openDoc
	for id, l := range ss.grants.links {
		if ch.Doc == "" || ch.Doc == id {
			docs = append(docs, openDoc{id, l})
		}
	}
	ss.grants.mu.Unlock()
	for _, d := range docs {
		if ctx.Err() != nil {
			return
		}
		ss.recheckDoc(ctx, d.id, d.link)
	}
}

// recheckDoc runs the Authorizer again for one open document and applies
// the answer.
func (ss *session) recheckDoc(ctx context.Context, id crdt.DocID, l *docLink) {
	var access rooms.Access
	var err error
	if rc, ok := ss.srv.auth.(Rechecker); ok {
		access, err = rc.Recheck(ctx, ss.cred, id)
	} else {
		access, err = ss.srv.auth.Authorize(ctx, ss.cred, id)
	}
	if ctx.Err() != nil {
		return // our deadline, not the peer's access
	}
	if err == nil && access >= rooms.Read {
		if old, ok := l.set(access); ok && old != access {
			ss.log.Info("access changed", slog.String("doc", string(id)),
				slog.String("from", old.String()), slog.String("to", access.String()))
		}
		return
	}
	if err == nil {
		err = errors.New("no access")
	}
	ss.revoke(ctx, id, l, err)
}

// revoke ends the session's use of a document: it leaves the room, waits
// until the room has handled that (so nothing more is delivered), drops
// what is still queued for the document, tells the peer, and releases the
// room.
func (ss *session) revoke(ctx context.Context, id crdt.DocID, l *docLink, why error) {
	if !l.close() {
		return
	}
	defer ss.srv.rooms.Release(id)
	if err := l.room.Leave(ctx, ss); err == nil {
		_, _ = l.room.Presence(ctx) // a barrier: it is answered after the leave
	}
	ss.qmu.Lock()
	kept := ss.queue[:0]
	for _, it := range ss.queue {
		if it.frame != nil || it.out.DocID != id {
			kept = append(kept, it)
		}
	}
	clear(ss.queue[len(kept):])
	ss.queue = kept
	ss.qmu.Unlock()
	ss.sendError(fmt.Errorf("%w: %s: %v", ErrAccessRevoked, id, why), string(id))
}
