package signaling

import (
	"crypto/rand"
	"errors"
	"io"
	"sync"
	"time"

	"github.com/gorilla/websocket"

	"github.com/casual-dev/casual/collab"
	"github.com/casual-dev/casual/crdt"
	"github.com/casual-dev/casual/rooms"
)

// member is one peer's relay connection. The handler goroutine reads;
// one writer goroutine drains out.
type member struct {
	id     string
	doc    crdt.DocID
	conn   *websocket.Conn
	out    chan []byte
	bucket tokenBucket // reader only

	once   sync.Once
	done   chan struct{}
	reason error // set before done closes
}

// send queues b without blocking; false means the queue is full.
func (m *member) send(b []byte) bool {
	select {
	case m.out <- b:
		return true
	case <-m.done:
		return true // going away anyway
	default:
		return false
	}
}

func (m *member) close(err error) {
	m.once.Do(func() {
		m.reason = err
		close(m.done)
	})
}

const writeWait = 10 * time.Second

func (r *Relay) writeLoop(m *member) {
	ping := time.NewTicker(r.cfg.PingInterval)
	defer ping.Stop()
	write := func(b []byte) error {
		m.conn.SetWriteDeadline(time.Now().Add(writeWait))
		return m.conn.WriteMessage(websocket.TextMessage, b)
	}
	for {
		select {
		case b := <-m.out:
			if err := write(b); err != nil {
				m.close(err)
			}
		case <-ping.C:
			if err := m.conn.WriteControl(websocket.PingMessage, nil, time.Now().Add(writeWait)); err != nil {
				m.close(err)
			}
		case <-m.done:
			r.finish(m, write)
			return
		}
	}
}

// finish sends what is queued (an error explaining the close, often) and
// a close frame, unless the connection already failed.
func (r *Relay) finish(m *member, write func([]byte) error) {
	defer m.conn.Close()
	err := m.reason
	var closeErr *websocket.CloseError
	if err != nil && (errors.As(err, &closeErr) || errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF)) {
		return
	}
	for drained := false; !drained; {
		select {
		case b := <-m.out:
			if write(b) != nil {
				return
			}
		default:
			drained = true
		}
	}
	code, reason := websocket.CloseNormalClosure, ""
	if err != nil {
		code, reason = relayCloseCode(err), truncate(err.Error(), 120)
	}
	m.conn.WriteControl(websocket.CloseMessage, websocket.FormatCloseMessage(code, reason), time.Now().Add(time.Second))
}

func relayCloseCode(err error) int {
	switch {
	case errors.Is(err, collab.ErrShuttingDown):
		return websocket.CloseGoingAway
	case errors.Is(err, ErrRoomFull), errors.Is(err, rooms.ErrSlowPeer):
		return websocket.CloseTryAgainLater
	case errors.Is(err, websocket.ErrReadLimit):
		return websocket.CloseMessageTooBig
	}
	return websocket.ClosePolicyViolation
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

const base36 = "0123456789abcdefghijklmnopqrstuvwxyz"

func randomID() string {
	b := make([]byte, 10)
	rand.Read(b)
	for i, x := range b {
		b[i] = base36[int(x)%len(base36)]
	}
	return string(b)
}
