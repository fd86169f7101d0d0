// Package collab serves the automerge-repo protocol to peers. It owns peer
// sessions over any frame transport (WebSocket, WebRTC data channel,
// in-process pipe), the join/peer handshake, authorization of every
// document a peer touches, per-connection limits, and the wiring from
// sessions to rooms. Server-side peers (AI co-editor, executor) connect
// through the same path with an in-process transport, so they are checked
// and fanned out exactly like browsers.
package collab

import (
	"context"
	"errors"
	"fmt"
	"io"
	"sync"
	"time"

	"github.com/gorilla/websocket"
)

// Transport carries whole protocol frames.
type Transport interface {
	// Recv returns the next frame. ErrTextFrame and ErrFrameTooLarge are
	// errors of one frame; any other error ends the connection.
	Recv(ctx context.Context) ([]byte, error)
	Send(ctx context.Context, frame []byte) error
	Close() error
}

// Closer is implemented by transports that can say why they close.
type Closer interface {
	CloseWith(code int, reason string) error
}

// Transport errors.
var (
	ErrTextFrame     = errors.New("text frame: the protocol uses binary frames only")
	ErrFrameTooLarge = errors.New("frame too large")
)

// Close codes (RFC 6455) used when the server ends a connection.
const (
	CloseGoingAway      = websocket.CloseGoingAway
	ClosePolicy         = websocket.ClosePolicyViolation
	CloseTooBig         = websocket.CloseMessageTooBig
	CloseTryAgainLater  = websocket.CloseTryAgainLater
	CloseProtocolError  = websocket.CloseProtocolError
	CloseInternalServer = websocket.CloseInternalServerErr
)

// WebSocket adapts an upgraded gorilla connection. Reads happen on one
// goroutine and writes on another, as gorilla allows.
type WebSocket struct {
	conn     *websocket.Conn
	maxFrame int64
	pongWait time.Duration
	closeMu  sync.Mutex
	closed   bool
}

// NewWebSocket wraps conn, refusing frames over maxFrame bytes. A peer that
// answers no ping within pongWait is considered gone.
func NewWebSocket(conn *websocket.Conn, maxFrame int64, pongWait time.Duration) *WebSocket {
	w := &WebSocket{conn: conn, maxFrame: maxFrame, pongWait: pongWait}
	// gorilla's own read limit would close the connection at once; we
	// check sizes ourselves so the peer gets an error message first.
	conn.SetReadLimit(0)
	if pongWait > 0 {
		conn.SetReadDeadline(time.Now().Add(pongWait))
		conn.SetPongHandler(func(string) error {
			return conn.SetReadDeadline(time.Now().Add(pongWait))
		})
	}
	return w
}

// Recv implements Transport.
func (w *WebSocket) Recv(ctx context.Context) ([]byte, error) {
	typ, rd, err := w.conn.NextReader()
	if err != nil {
		return nil, err
	}
	if w.pongWait > 0 { // any traffic proves the peer alive
		w.conn.SetReadDeadline(time.Now().Add(w.pongWait))
	}
	b, err := io.ReadAll(io.LimitReader(rd, w.maxFrame+1))
	if err != nil {
		return nil, err
	}
	if int64(len(b)) > w.maxFrame {
		// The rest of the frame is never read: the connection must close.
		return nil, fmt.Errorf("%w: over %d bytes", ErrFrameTooLarge, w.maxFrame)
	}
	if typ != websocket.BinaryMessage {
		return nil, ErrTextFrame
	}
	return b, nil
}

// Send implements Transport.
func (w *WebSocket) Send(ctx context.Context, frame []byte) error {
	if d, ok := ctx.Deadline(); ok {
		w.conn.SetWriteDeadline(d)
	} else {
		w.conn.SetWriteDeadline(time.Now().Add(30 * time.Second))
	}
	return w.conn.WriteMessage(websocket.BinaryMessage, frame)
}

// Ping sends a ping control frame.
func (w *WebSocket) Ping() error {
	return w.conn.WriteControl(websocket.PingMessage, nil, time.Now().Add(10*time.Second))
}

// CloseWith sends a close frame with code and reason, then closes.
func (w *WebSocket) CloseWith(code int, reason string) error {
	w.closeMu.Lock()
	defer w.closeMu.Unlock()
	if w.closed {
		return nil
	}
	w.closed = true
	if len(reason) > 120 {
		reason = reason[:120]
	}
	w.conn.WriteControl(websocket.CloseMessage, websocket.FormatCloseMessage(code, reason), time.Now().Add(time.Second))
	return w.conn.Close()
}

// Close implements Transport.
func (w *WebSocket) Close() error { return w.CloseWith(websocket.CloseNormalClosure, "") }
