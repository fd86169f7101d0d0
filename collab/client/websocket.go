package client

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"sync"
	"time"

	"github.com/gorilla/websocket"
)

// DefaultReadLimit is the largest frame DialWebSocket accepts unless told
// otherwise: a full-document sync message can be megabytes.
const DefaultReadLimit = 64 << 20

// closeWriteWait bounds how long Close tries to send a close frame.
const closeWriteWait = time.Second

// DialOption configures DialWebSocket.
type DialOption func(*dialConfig)

type dialConfig struct {
	readLimit int64
	header    http.Header
	dialer    *websocket.Dialer
}

// WithReadLimit sets the largest frame accepted, in bytes.
func WithReadLimit(n int64) DialOption { return func(c *dialConfig) { c.readLimit = n } }

// WithHeader adds HTTP headers to the upgrade request (cookies, tokens).
func WithHeader(h http.Header) DialOption { return func(c *dialConfig) { c.header = h } }

// WithDialer replaces the default dialer, for example to share a write
// buffer pool across many connections or to set TLS options.
func WithDialer(d *websocket.Dialer) DialOption { return func(c *dialConfig) { c.dialer = d } }

// DialWebSocket connects to an automerge-repo sync endpoint (ws://host/sync)
// and returns a Transport that sends binary frames. Pings from the server are
// answered while frames are being received.
func DialWebSocket(ctx context.Context, url string, opts ...DialOption) (Transport, error) {
	cfg := dialConfig{readLimit: DefaultReadLimit, dialer: websocket.DefaultDialer}
	for _, o := range opts {
		o(&cfg)
	}
	conn, resp, err := cfg.dialer.DialContext(ctx, url, cfg.header)
	if resp != nil && resp.Body != nil {
		resp.Body.Close()
	}
	if err != nil {
		if resp != nil {
			return nil, fmt.Errorf("dial %s: %s: %w", url, resp.Status, err)
		}
		return nil, fmt.Errorf("dial %s: %w", url, err)
	}
	conn.SetReadLimit(cfg.readLimit)
	return NewWebSocketTransport(conn), nil
}

// NewWebSocketTransport wraps an established connection (either side of it)
// as a Transport. If the context of a Send or Recv ends while it is blocked,
// the connection is closed: a half-written or half-read frame cannot be
// recovered.
func NewWebSocketTransport(conn *websocket.Conn) Transport {
	return &wsTransport{conn: conn, closed: make(chan struct{})}
}

type wsTransport struct {
	conn   *websocket.Conn
	wmu    sync.Mutex // gorilla allows one writer at a time
	closed chan struct{}
	once   sync.Once
	err    error
}

func (t *wsTransport) Send(ctx context.Context, frame []byte) error {
	if t.isClosed() {
		return net.ErrClosed
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	t.wmu.Lock()
	defer t.wmu.Unlock()
	if ctx.Done() != nil {
		stop := context.AfterFunc(ctx, t.abort)
		defer stop()
	}
	if err := t.conn.WriteMessage(websocket.BinaryMessage, frame); err != nil {
		return t.mapErr(ctx, "write", err)
	}
	return nil
}

func (t *wsTransport) Recv(ctx context.Context) ([]byte, error) {
	if t.isClosed() {
		return nil, net.ErrClosed
	}
	if ctx.Done() != nil {
		stop := context.AfterFunc(ctx, t.abort)
		defer stop()
	}
	for {
		typ, data, err := t.conn.ReadMessage()
		if err != nil {
			return nil, t.mapErr(ctx, "read", err)
		}
		if typ == websocket.BinaryMessage {
			return data, nil
		}
		// Text frames carry no protocol message; JS clients drop them too.
	}
}

func (t *wsTransport) mapErr(ctx context.Context, op string, err error) error {
	if cerr := ctx.Err(); cerr != nil {
		return cerr
	}
	if t.isClosed() {
		return net.ErrClosed
	}
	if websocket.IsCloseError(err, websocket.CloseNormalClosure, websocket.CloseGoingAway,
		websocket.CloseNoStatusReceived) || errors.Is(err, io.EOF) {
		return io.EOF
	}
	return fmt.Errorf("websocket %s: %w", op, err)
}

func (t *wsTransport) isClosed() bool {
	select {
	case <-t.closed:
		return true
	default:
		return false
	}
}

// Close sends a close frame (best effort) and closes the connection.
func (t *wsTransport) Close() error {
	t.shutdown(true)
	return t.err
}

// abort closes without a close frame: a write may be stuck half-way.
func (t *wsTransport) abort() { t.shutdown(false) }

func (t *wsTransport) shutdown(graceful bool) {
	t.once.Do(func() {
		close(t.closed)
		if graceful {
			msg := websocket.FormatCloseMessage(websocket.CloseNormalClosure, "")
			_ = t.conn.WriteControl(websocket.CloseMessage, msg, time.Now().Add(closeWriteWait))
		}
		t.err = t.conn.Close()
	})
}
