package collab

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/gorilla/websocket"
)

// ServeWebSocket serves a peer over an upgraded WebSocket and returns
// without waiting for the session to end; the Server owns the session and
// Shutdown ends it.
//
// On Linux the connection is read by the server's poller (epoll): a
// goroutine runs only while the peer has sent something, so an idle
// connection holds no goroutine and no read buffer. Elsewhere, or if the
// connection cannot be polled, a goroutine reads it (Serve).
func (s *Server) ServeWebSocket(ctx context.Context, conn *websocket.Conn, cred Credentials) {
	if err := s.serveEvented(ctx, conn, cred); err == nil {
		return
	} else if !errors.Is(err, errNotPollable) {
		s.log.Warn("websocket: polled reading unavailable, using a reader goroutine", "err", err)
	}
	t := NewWebSocket(conn, s.cfg.MaxFrameBytes, s.cfg.PongWait())
	go s.Serve(ctx, t, cred)
}

// errNotPollable: the connection has no descriptor the poller can watch
// (not a socket, or not this platform).
var errNotPollable = errors.New("connection cannot be polled")

func (s *Server) serveEvented(ctx context.Context, conn *websocket.Conn, cred Credentials) error {
	sc, ok := conn.NetConn().(syscall.Conn)
	if !ok {
		return errNotPollable
	}
	rc, err := sc.SyscallConn()
	if err != nil {
		return fmt.Errorf("%w: %v", errNotPollable, err)
	}
	fd, err := rawFD(rc)
	if err != nil {
		return fmt.Errorf("%w: %v", errNotPollable, err)
	}
	p, err := s.getPoller()
	if err != nil {
		return err
	}
	ev := &eventedWS{
		WebSocket: &WebSocket{conn: conn, maxFrame: s.cfg.MaxFrameBytes},
		rc:        rc, fd: fd, p: p, ctx: ctx,
		parser:   frameParser{maxMessage: s.cfg.MaxFrameBytes},
		pongWait: s.cfg.PongWait(),
	}
	conn.SetReadLimit(0)
	ev.lastRead.Store(time.Now().UnixNano())
	ss := newSession(s, ev, cred)
	ev.ss = ss
	stop := context.AfterFunc(ctx, func() { ss.closeWith(ErrShuttingDown) })
	ss.after = func() {
		stop()
		ev.procMu.Lock() // the last reading goroutine is done with ss.docs
		ss.leaveAll()
		ev.procMu.Unlock()
		s.unregister(ss)
	}
	if !s.register(ss) {
		ss.closeWith(ErrShuttingDown)
		return nil
	}
	ss.startPing()
	if err := p.add(fd, ev); err != nil {
		ss.closeWith(errTransport{err})
	}
	return nil
}

// getPoller returns the server's poller, starting it on first use.
func (s *Server) getPoller() (*poller, error) {
	s.pollMu.Lock()
	defer s.pollMu.Unlock()
	if s.pollErr == nil && s.poll == nil {
		s.poll, s.pollErr = newPoller()
	}
	if s.pollErr != nil {
		return nil, fmt.Errorf("%w: %v", errNotPollable, s.pollErr)
	}
	return s.poll, nil
}

// closePoller stops the poller once every session has ended.
func (s *Server) closePoller() {
	s.pollMu.Lock()
	defer s.pollMu.Unlock()
	if s.poll != nil {
		s.poll.close()
		s.poll = nil
	}
}

// eventedWS is a WebSocket read when the poller says it has bytes: frames
// are parsed from non-blocking reads of the socket (frameParser), and
// writes, pings and closes go through gorilla as for WebSocket.
type eventedWS struct {
	*WebSocket
	rc       syscall.RawConn
	fd       int
	p        *poller
	ctx      context.Context
	ss       *session
	pongWait time.Duration
	lastRead atomic.Int64 // unix nanoseconds of the last bytes received

	procMu  sync.Mutex // held by the goroutine reading; serializes frames
	parser  frameParser
	removed atomic.Bool
}

// maxReadsPerWake bounds one wake-up's work on a busy connection so others
// get their turn; the rest is reported again at once.
const maxReadsPerWake = 16

// readable reads and handles what arrived, then re-arms the poller.
func (e *eventedWS) readable() {
	e.procMu.Lock()
	defer e.procMu.Unlock()
	buf := e.p.buffer()
	defer e.p.release(buf)
	for range maxReadsPerWake {
		select {
		case <-e.ss.done:
			return
		default:
		}
		n, err := readNow(e.rc, *buf)
		if errors.Is(err, errWouldBlock) {
			break
		}
		if err != nil {
			e.ss.closeWith(errTransport{err})
			return
		}
		e.lastRead.Store(time.Now().UnixNano())
		events, perr := e.parser.feed((*buf)[:n])
		for _, ev := range events {
			if !e.handle(ev) {
				return
			}
		}
		if perr != nil {
			e.ss.closeWith(e.ss.process(e.ctx, nil, perr))
			return
		}
	}
	if !e.removed.Load() {
		if err := e.p.rearm(e.fd); err != nil {
			e.ss.closeWith(errTransport{err})
		}
	}
}

// handle acts on one frame event; false ends reading.
func (e *eventedWS) handle(ev wsEvent) bool {
	switch ev.op {
	case opPing:
		if err := e.conn.WriteControl(websocket.PongMessage, ev.data, time.Now().Add(10*time.Second)); err != nil {
			e.ss.closeWith(errTransport{err})
			return false
		}
	case opPong:
		// lastRead was refreshed: the peer is alive.
	case opClose:
		code, text := websocket.CloseNoStatusReceived, ""
		if len(ev.data) >= 2 {
			code, text = int(ev.data[0])<<8|int(ev.data[1]), string(ev.data[2:])
		}
		echo := code
		if code == websocket.CloseNoStatusReceived {
			echo = websocket.CloseNormalClosure
		}
		e.CloseWith(echo, "")
		e.ss.closeWith(errTransport{&websocket.CloseError{Code: code, Text: text}})
		return false
	default:
		var ferr error
		if ev.op == opText {
			ferr = ErrTextFrame
		}
		if err := e.ss.process(e.ctx, ev.data, ferr); err != nil {
			e.ss.closeWith(err)
			return false
		}
	}
	return true
}

// Recv implements Transport; an evented connection is never read this way.
func (e *eventedWS) Recv(context.Context) ([]byte, error) {
	return nil, errors.New("evented websocket: frames are delivered by the poller")
}

// Ping implements pinger: it sends a ping, or reports the peer gone when
// nothing (not even a pong) arrived for the pong wait.
func (e *eventedWS) Ping() error {
	if e.pongWait > 0 && time.Since(time.Unix(0, e.lastRead.Load())) > e.pongWait {
		return fmt.Errorf("peer silent for over %v", e.pongWait)
	}
	return e.WebSocket.Ping()
}

// CloseWith leaves the poller, then sends a close frame and closes.
func (e *eventedWS) CloseWith(code int, reason string) error {
	if !e.removed.Swap(true) {
		e.p.remove(e.fd, e)
	}
	return e.WebSocket.CloseWith(code, reason)
}

// Close implements Transport.
func (e *eventedWS) Close() error { return e.CloseWith(websocket.CloseNormalClosure, "") }
