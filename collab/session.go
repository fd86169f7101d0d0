package collab

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"sync"
	"time"

	"github.com/casual-dev/casual/collab/wire"
	"github.com/casual-dev/casual/crdt"
	"github.com/casual-dev/casual/rooms"
)

// session is one connected peer. Its reader goroutine (run) decodes and
// routes frames; its writer goroutine drains the bounded outbound queue.
// It is the rooms.Peer the rooms deliver to.
type session struct {
	srv  *Server
	t    Transport
	cred Credentials
	log  *slog.Logger

	peerID string                  // set once, at join, before any room sees the session
	docs   map[crdt.DocID]*docLink // reader goroutine only
	grants grants                  // the same links, for Reauthorize (reauth.go)
	bucket tokenBucket             // reader goroutine only

	// The outbound queue. A writer goroutine runs only while there is
	// something to send (an idle connection holds no goroutine but its
	// reader); finishing forbids new writers and waits for the last one.
	qmu      sync.Mutex
	queue    []outItem
	writing  bool
	closing  bool
	writerWG sync.WaitGroup
	ping     *time.Timer

	closeOnce sync.Once
	// after, if set, runs once the connection is closed (sessions read
	// by the poller: leave the rooms, unregister).
	after    func()
	done     chan struct{} // closed by closeWith
	finished chan struct{} // closed when the connection is closed
	closeErr error         // set before done closes
}

type docLink struct {
	room *rooms.Room
	grant
}

type outItem struct {
	out   rooms.Out
	frame *wire.Message // session-level messages (peer, error)
}

func newSession(srv *Server, t Transport, cred Credentials) *session {
	return &session{
		srv: srv, t: t, cred: cred, log: srv.log,
		docs:     map[crdt.DocID]*docLink{},
		bucket:   tokenBucket{rate: srv.cfg.RatePerSec, burst: float64(srv.cfg.RateBurst), tokens: float64(srv.cfg.RateBurst)},
		done:     make(chan struct{}),
		finished: make(chan struct{}),
	}
}

// ID implements rooms.Peer.
func (ss *session) ID() string { return ss.peerID }

// Deliver implements rooms.Peer: it never blocks.
func (ss *session) Deliver(o rooms.Out) bool { return ss.enqueue(outItem{out: o}) }

// Drop implements rooms.Peer: the room removed us, so the connection ends;
// the client reconnects and resyncs from scratch.
func (ss *session) Drop(err error) { ss.closeWith(err) }

func (ss *session) enqueue(it outItem) bool {
	ss.qmu.Lock()
	defer ss.qmu.Unlock()
	if ss.closing {
		return true // going away anyway
	}
	if len(ss.queue) >= ss.srv.cfg.SendQueue {
		return false
	}
	ss.queue = append(ss.queue, it)
	if !ss.writing {
		ss.writing = true
		ss.writerWG.Add(1)
		go ss.drain()
	}
	return true
}

// drain writes queued messages until the queue is empty, then exits.
func (ss *session) drain() {
	defer ss.writerWG.Done()
	ctx := context.Background()
	for {
		ss.qmu.Lock()
		items := ss.queue
		ss.queue = nil
		if len(items) == 0 || ss.closing {
			ss.queue = append(items, ss.queue...)
			ss.writing = false
			ss.qmu.Unlock()
			return
		}
		ss.qmu.Unlock()
		for _, it := range items {
			if err := ss.write(ctx, it); err != nil {
				ss.qmu.Lock()
				ss.writing = false
				ss.qmu.Unlock()
				ss.closeWith(errTransport{err})
				return
			}
		}
	}
}

// closeWith ends the session for err (the first reason wins). It never
// blocks: the goroutine it starts closes the connection.
func (ss *session) closeWith(err error) {
	ss.closeOnce.Do(func() {
		ss.closeErr = err
		close(ss.done)
		go func() {
			ss.finish()
			if ss.after != nil {
				ss.after()
			}
		}()
	})
}

// errTransport marks the end of the connection from the other side.
type errTransport struct{ err error }

func (e errTransport) Error() string { return "connection: " + e.err.Error() }
func (e errTransport) Unwrap() error { return e.err }

func (ss *session) run(ctx context.Context) error {
	stop := context.AfterFunc(ctx, func() { ss.closeWith(ErrShuttingDown) })
	defer stop()
	ss.startPing()
	err := ss.readLoop(ctx)
	ss.closeWith(err)
	<-ss.finished
	ss.leaveAll()
	return ss.closeErr
}

// startPing starts the ping timer, if the transport pings.
func (ss *session) startPing() {
	if p, ok := ss.t.(pinger); ok {
		ss.qmu.Lock()
		ss.ping = time.AfterFunc(ss.srv.cfg.PingInterval, func() { ss.pingNow(p) })
		ss.qmu.Unlock()
	}
}

func (ss *session) pingNow(p pinger) {
	if err := p.Ping(); err != nil {
		ss.closeWith(errTransport{err})
		return
	}
	ss.qmu.Lock()
	if !ss.closing {
		ss.ping.Reset(ss.srv.cfg.PingInterval)
	}
	ss.qmu.Unlock()
}

func (ss *session) readLoop(ctx context.Context) error {
	for {
		frame, err := ss.t.Recv(ctx)
		select {
		case <-ss.done:
			return ss.closeErr
		default:
		}
		if err := ss.process(ctx, frame, err); err != nil {
			return err
		}
	}
}

// process handles one received frame, or the error receiving it. A non-nil
// result ends the session; errors the peer can recover from are sent to it
// and nil is returned.
func (ss *session) process(ctx context.Context, frame []byte, err error) error {
	if err != nil {
		switch {
		case errors.Is(err, ErrTextFrame):
			ss.sendError(err, "")
			return nil
		case errors.Is(err, ErrFrameTooLarge):
			return &countLimitError{err: err, limit: ss.srv.cfg.MaxFrameBytes, what: fmt.Sprintf("%d bytes", ss.srv.cfg.MaxFrameBytes)}
		case errors.Is(err, ErrBadFrame):
			return err
		}
		return errTransport{err}
	}
	ss.srv.received.Add(1)
	if !ss.bucket.take(time.Now()) {
		return &countLimitError{err: ErrRateLimited, limit: int64(ss.srv.cfg.RatePerSec),
			what: fmt.Sprintf("%g messages/s, burst %d", ss.srv.cfg.RatePerSec, ss.srv.cfg.RateBurst)}
	}
	msg, err := wire.Decode(frame)
	typ := "invalid"
	if msg != nil && err == nil {
		typ = msg.Type
	}
	if m := ss.srv.metrics; m != nil {
		m.Messages.WithLabelValues("in", typ).Inc()
		m.Bytes.WithLabelValues("in", typ).Add(float64(len(frame)))
	}
	if err != nil {
		ss.sendError(err, "")
		return nil
	}
	return ss.handle(ctx, msg)
}

// handle routes one valid message. Errors it returns end the session;
// errors the peer can recover from are sent and handling goes on.
func (ss *session) handle(ctx context.Context, msg *wire.Message) error {
	if msg.Type == wire.TypeJoin {
		return ss.join(ctx, msg)
	}
	if ss.peerID == "" {
		ss.sendError(ErrJoinFirst, msg.DocumentID)
		return nil
	}
	switch msg.Type {
	case wire.TypeSync, wire.TypeRequest:
		if msg.SenderID != ss.peerID {
			ss.sendError(fmt.Errorf("%w: got %q, joined as %q", ErrSenderMismatch, truncate(msg.SenderID, 60), ss.peerID), msg.DocumentID)
			return nil
		}
		link, access, err := ss.open(ctx, msg.DocumentID)
		if err != nil {
			ss.refuseDoc(err, msg.DocumentID)
			return nil
		}
		err = link.room.Sync(ctx, ss, access, msg.Data, msg.Type == wire.TypeRequest)
		link.exit()
		return ss.roomErr(err)
	case wire.TypeEphemeral:
		if msg.SenderID != ss.peerID {
			return nil // a client re-forwarding what we relayed to it (spec §5): drop quietly
		}
		link, _, err := ss.open(ctx, msg.DocumentID)
		if err != nil {
			ss.refuseDoc(err, msg.DocumentID)
			return nil
		}
		err = link.room.Ephemeral(ctx, ss, rooms.Out{
			SenderID: msg.SenderID, SessionID: msg.SessionID, Count: float64(msg.Count), Data: msg.Data})
		link.exit()
		return ss.roomErr(err)
	case wire.TypeError:
		ss.log.Debug("peer reported an error", slog.String("peer", ss.peerID), slog.String("message", truncate(msg.Message, 200)))
	}
	return nil // doc-unavailable from a client, peer, gossip: nothing to do
}

func (ss *session) roomErr(err error) error {
	if err == nil || errors.Is(err, context.Canceled) {
		return nil
	}
	return err
}

func (ss *session) join(ctx context.Context, msg *wire.Message) error {
	if ss.peerID != "" {
		if msg.SenderID != ss.peerID {
			ss.sendError(fmt.Errorf("%w: %q", ErrAlreadyJoined, ss.peerID), "")
			return nil
		}
	} else {
		if v := msg.SupportedProtocolVersions; len(v) > 0 && !slices.Contains(v, wire.ProtocolV1) {
			return fmt.Errorf("%w: %q; this server speaks %q", ErrProtocolVersion, v, wire.ProtocolV1)
		}
		if err := ss.srv.auth.Authenticate(ctx, ss.cred); err != nil {
			return fmt.Errorf("%w: %v", ErrUnauthorized, err)
		}
		ss.peerID = msg.SenderID
		ss.srv.bind(ss, ss.peerID)
	}
	sid := ss.srv.cfg.StorageID
	pm := &wire.PeerMetadata{IsEphemeral: false}
	if sid != "" {
		pm.StorageID = &sid
	}
	ss.enqueue(outItem{frame: &wire.Message{Type: wire.TypePeer, SenderID: ss.srv.cfg.PeerID, TargetID: ss.peerID,
		PeerMetadata: pm, SelectedProtocolVersion: wire.ProtocolV1}})
	return nil
}

// link returns the session's room for a document, authorizing and opening
// it on first use.
func (ss *session) link(ctx context.Context, raw string) (*docLink, error) {
	if l := ss.docs[crdt.DocID(raw)]; l != nil { // only valid ids are ever keys
		return l, nil
	}
	id, err := crdt.ParseDocID(raw)
	if err != nil {
		return nil, err
	}
	if max := ss.srv.cfg.MaxDocsPerConn; len(ss.docs) >= max {
		return nil, &countLimitError{err: ErrTooManyDocs, limit: int64(max), what: fmt.Sprintf("%d documents", max)}
	}
	epoch := ss.srv.reauthEpoch.Load()
	access, err := ss.srv.auth.Authorize(ctx, ss.cred, id)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrForbidden, err)
	}
	if access < rooms.Read {
		return nil, fmt.Errorf("%w: no access to %s", ErrForbidden, id)
	}
	room, err := ss.srv.rooms.Acquire(ctx, id)
	if err != nil {
		return nil, err
	}
	l := &docLink{room: room, grant: grant{access: access}}
	ss.docs[id] = l
	ss.track(ctx, id, l, epoch)
	return l, nil
}

// refuseDoc tells the peer why a document message was not handled. A
// denied document is also reported unavailable, which is what makes an
// automerge-repo client's find() fail fast.
func (ss *session) refuseDoc(err error, doc string) {
	ss.sendError(err, doc)
	if errors.Is(err, ErrForbidden) {
		ss.enqueue(outItem{frame: &wire.Message{Type: wire.TypeDocUnavailable, SenderID: ss.srv.cfg.PeerID,
			TargetID: ss.peerID, DocumentID: doc}})
	}
}

func (ss *session) errorMessage(err error, doc string) *wire.Message {
	if m := ss.srv.metrics; m != nil {
		m.Errors.WithLabelValues(ErrorCode(err)).Inc()
	}
	return &wire.Message{Type: wire.TypeError, SenderID: ss.srv.cfg.PeerID, TargetID: ss.peerID,
		DocumentID: doc, Message: truncate(err.Error(), 500), Code: ErrorCode(err), Limit: wire.Count(limitOf(err))}
}

func (ss *session) sendError(err error, doc string) {
	ss.log.Info("peer error", slog.String("peer", ss.peerID), slog.String("code", ErrorCode(err)), slog.Any("err", err))
	if !ss.enqueue(outItem{frame: ss.errorMessage(err, doc)}) {
		ss.closeWith(rooms.ErrSlowPeer)
	}
}

func (ss *session) encode(it outItem) (*wire.Message, error) {
	if it.frame != nil {
		return it.frame, nil
	}
	o := it.out
	m := &wire.Message{SenderID: ss.srv.cfg.PeerID, TargetID: ss.peerID, DocumentID: string(o.DocID)}
	switch o.Kind {
	case rooms.OutSync:
		m.Type, m.Data = wire.TypeSync, o.Data
	case rooms.OutDocUnavailable:
		m.Type = wire.TypeDocUnavailable
	case rooms.OutEphemeral:
		m.Type, m.Data, m.SenderID, m.SessionID, m.Count = wire.TypeEphemeral, o.Data, o.SenderID, o.SessionID, wire.Count(o.Count)
	case rooms.OutError:
		return ss.errorMessage(o.Err, string(o.DocID)), nil
	default:
		return nil, fmt.Errorf("unknown outbound kind %d", o.Kind)
	}
	return m, nil
}

type pinger interface{ Ping() error }

// shutdownGrace is how long a session being shut down leaves the peer to
// answer the messages it last received before the close frame arrives.
const shutdownGrace = 250 * time.Millisecond

func (ss *session) write(ctx context.Context, it outItem) error {
	m, err := ss.encode(it)
	if err != nil {
		ss.log.Error("encode", slog.String("peer", ss.peerID), slog.Any("err", err))
		return nil
	}
	b, err := wire.Encode(m)
	if err != nil {
		ss.log.Error("encode", slog.String("peer", ss.peerID), slog.Any("err", err))
		return nil
	}
	if mt := ss.srv.metrics; mt != nil {
		mt.Messages.WithLabelValues("out", m.Type).Inc()
		mt.Bytes.WithLabelValues("out", m.Type).Add(float64(len(b)))
	}
	return ss.t.Send(ctx, b)
}

// finish ends the connection: unless the peer is already gone (or too
// slow to be waited for), what is queued and the reason are sent first,
// briefly.
func (ss *session) finish() {
	defer close(ss.finished)
	err := ss.closeErr
	var te errTransport
	abrupt := err == nil || errors.As(err, &te) || errors.Is(err, rooms.ErrSlowPeer)
	if abrupt { // unblock a writer stuck on a dead or slow peer
		ss.t.Close()
	}
	ss.qmu.Lock()
	ss.closing = true
	if ss.ping != nil {
		ss.ping.Stop()
	}
	ss.qmu.Unlock()
	ss.writerWG.Wait()
	if abrupt {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	ss.qmu.Lock()
	rest := ss.queue
	ss.queue = nil
	ss.qmu.Unlock()
	if errors.Is(err, ErrShuttingDown) {
		// Everything is stored; the client resyncs on reconnect. Sending
		// more sync now would make automerge-repo 2.5.6 answer on a closing
		// socket, which throws and leaves its synchronizer stuck (its issue
		// #297). Let it answer what it just received, then close.
		rest = nil
		grace := time.NewTimer(shutdownGrace)
		select {
		case <-grace.C:
		case <-ctx.Done():
			grace.Stop()
		}
	}
	for _, it := range rest {
		if ss.write(ctx, it) != nil {
			break
		}
	}
	_ = ss.write(ctx, outItem{frame: ss.errorMessage(err, "")})
	if c, ok := ss.t.(Closer); ok {
		c.CloseWith(closeCode(err), err.Error())
		return
	}
	ss.t.Close()
}

func closeCode(err error) int {
	switch {
	case errors.Is(err, ErrFrameTooLarge):
		return CloseTooBig
	case errors.Is(err, ErrShuttingDown):
		return CloseGoingAway
	case errors.Is(err, rooms.ErrSlowPeer), errors.Is(err, ErrRateLimited):
		return CloseTryAgainLater
	case errors.Is(err, ErrProtocolVersion), errors.Is(err, ErrBadFrame):
		return CloseProtocolError
	}
	return ClosePolicy
}

func (ss *session) leaveAll() {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	for id, l := range ss.docs {
		if !l.close() { // revoked: already left and released
			continue
		}
		if err := l.room.Leave(ctx, ss); err != nil && !errors.Is(err, rooms.ErrRoomClosed) {
			ss.log.Warn("leave room", slog.String("peer", ss.peerID), slog.String("doc", string(id)), slog.Any("err", err))
		}
		ss.srv.rooms.Release(id)
	}
	ss.docs = nil
}

// tokenBucket limits messages per connection.
type tokenBucket struct {
	rate, burst, tokens float64
	last                time.Time
}

func (b *tokenBucket) take(now time.Time) bool {
	if !b.last.IsZero() {
		b.tokens = min(b.burst, b.tokens+now.Sub(b.last).Seconds()*b.rate)
	}
	b.last = now
	if b.tokens < 1 {
		return false
	}
	b.tokens--
	return true
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "…"
}
