package signaling

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"sync"
	"sync/atomic"
	"time"

	"github.com/fxamacker/cbor/v2"
	"github.com/pion/webrtc/v4"

	"github.com/casual-dev/casual/collab"
	"github.com/casual-dev/casual/collab/wire"
)

// Fragmentation. Browsers cap data channel messages (Chrome at 256 KiB)
// while a whole-document sync message can be megabytes, so a frame larger
// than the channel's message limit travels as fragments. Every protocol
// frame is a CBOR map (first byte 0xa0-0xbf), so a first byte of 0x00 or
// 0x01 cannot start a frame: it marks a fragment, 0x00 "more follows",
// 0x01 "last". Frames that fit go out unchanged, so on the wire a data
// channel message is exactly an automerge-repo frame in all but that case.
const (
	fragMore = 0x00
	fragLast = 0x01
	// maxChunk bounds every message we send (fragment or whole frame):
	// 64 KiB is accepted by every WebRTC stack and keeps one large sync
	// from holding the association for long.
	maxChunk = 64 << 10
	// defaultRemoteMax is what a peer that advertises no
	// max-message-size accepts (RFC 8841).
	defaultRemoteMax = 65535
)

// Flow control of the reliable channel: Send waits while more than
// highWater bytes are queued, until the queue drains below lowWater.
const (
	highWater = 1 << 20
	lowWater  = 256 << 10
	// presenceHighWater: past this much queued presence, new presence is
	// dropped rather than queued behind stale positions.
	presenceHighWater = 64 << 10
	inboundQueue      = 64
	presenceQueue     = 64
)

// ErrChannel reports a data channel that does not follow the contract:
// an unknown label, an unreliable "automerge" channel, a broken fragment
// sequence.
var ErrChannel = errors.New("data channel misuse")

// Conn carries protocol frames over one peer connection: it implements
// collab.Transport (server side) and client.Transport (client side).
// Frames go over the reliable "automerge" channel, except ephemeral
// messages, which take the "presence" channel when it is open (and are
// dropped if it is congested: loss is tolerated, the next update wins).
// Recv merges both channels.
//
// Recv returns io.EOF once the peer connection has closed or failed and
// the frames already received are consumed; Send and Recv return
// net.ErrClosed after Close.
type Conn struct {
	pc       *webrtc.PeerConnection
	log      *slog.Logger
	maxFrame int64
	metrics  *Metrics

	rel  atomic.Pointer[webrtc.DataChannel]
	pres atomic.Pointer[webrtc.DataChannel]

	opened       chan struct{} // the reliable channel is open
	openOnce     sync.Once
	presOpened   chan struct{} // the presence channel is open
	presOpenOnce sync.Once

	in  chan inbound // reliable channel, in order
	pin chan []byte  // presence channel; the oldest is dropped when full

	asm  []byte // fragments so far; the reliable channel's read loop only
	skip bool   // discarding the rest of an oversized frame

	sendMu sync.Mutex
	low    chan struct{} // the reliable channel's queue drained

	failed    atomic.Bool
	gone      chan struct{} // the peer connection ended (remote close, failure)
	goneOnce  sync.Once
	closed    chan struct{} // Close was called
	closeOnce sync.Once
	closeErr  error
}

type inbound struct {
	frame []byte
	err   error
}

// newConn wraps pc; channels are attached as they appear.
func newConn(pc *webrtc.PeerConnection, maxFrame int64, log *slog.Logger, m *Metrics) *Conn {
	c := &Conn{
		pc: pc, log: log, maxFrame: maxFrame, metrics: m,
		opened: make(chan struct{}), presOpened: make(chan struct{}),
		in:     make(chan inbound, inboundQueue),
		pin:    make(chan []byte, presenceQueue),
		low:    make(chan struct{}, 1),
		gone:   make(chan struct{}),
		closed: make(chan struct{}),
	}
	pc.OnConnectionStateChange(func(s webrtc.PeerConnectionState) {
		switch s {
		case webrtc.PeerConnectionStateFailed:
			c.failed.Store(true)
			c.markGone()
		case webrtc.PeerConnectionStateClosed:
			c.markGone()
		}
	})
	return c
}

// attach takes over a data channel of the connection.
func (c *Conn) attach(dc *webrtc.DataChannel) error {
	switch dc.Label() {
	case LabelAutomerge:
		if !dc.Ordered() || dc.MaxRetransmits() != nil || dc.MaxPacketLifeTime() != nil {
			return fmt.Errorf("%w: channel %q must be reliable and ordered", ErrChannel, LabelAutomerge)
		}
		if !c.rel.CompareAndSwap(nil, dc) {
			return fmt.Errorf("%w: a second %q channel", ErrChannel, LabelAutomerge)
		}
		dc.SetBufferedAmountLowThreshold(lowWater)
		dc.OnBufferedAmountLow(func() {
			select {
			case c.low <- struct{}{}:
			default:
			}
		})
		dc.OnMessage(c.onReliable)
		dc.OnOpen(func() { c.openOnce.Do(func() { close(c.opened) }) })
		dc.OnClose(c.markGone)
	case LabelPresence:
		if !c.pres.CompareAndSwap(nil, dc) {
			return fmt.Errorf("%w: a second %q channel", ErrChannel, LabelPresence)
		}
		dc.OnMessage(c.onPresence)
		dc.OnOpen(func() { c.presOpenOnce.Do(func() { close(c.presOpened) }) })
	default:
		return fmt.Errorf("%w: unknown channel %q (want %q or %q)", ErrChannel, truncate(dc.Label(), 40), LabelAutomerge, LabelPresence)
	}
	return nil
}

func (c *Conn) markGone() { c.goneOnce.Do(func() { close(c.gone) }) }

// Opened is closed once the reliable channel is open.
func (c *Conn) Opened() <-chan struct{} { return c.opened }

// Done is closed when the peer connection has ended: closed by the other
// side, or failed.
func (c *Conn) Done() <-chan struct{} { return c.gone }

// Failed reports whether the peer connection failed (lost connectivity)
// rather than closed.
func (c *Conn) Failed() bool { return c.failed.Load() }

// PresenceOpen reports whether ephemeral messages currently take the
// unreliable channel.
func (c *Conn) PresenceOpen() bool {
	p := c.pres.Load()
	return p != nil && p.ReadyState() == webrtc.DataChannelStateOpen
}

// onReliable runs on the reliable channel's read loop; blocking here
// pushes back on the sender through SCTP flow control.
func (c *Conn) onReliable(msg webrtc.DataChannelMessage) {
	if msg.IsString {
		c.deliver(inbound{err: collab.ErrTextFrame})
		return
	}
	b := msg.Data
	if len(b) == 0 || (b[0] != fragMore && b[0] != fragLast) {
		if c.asm != nil {
			c.asm = nil
			c.deliver(inbound{err: fmt.Errorf("%w: whole message inside a fragmented frame", ErrChannel)})
			return
		}
		if int64(len(b)) > c.maxFrame {
			c.deliver(inbound{err: fmt.Errorf("%w: over %d bytes", collab.ErrFrameTooLarge, c.maxFrame)})
			return
		}
		c.deliver(inbound{frame: b})
		return
	}
	if c.skip {
		c.skip = b[0] == fragMore
		return
	}
	if int64(len(c.asm))+int64(len(b)-1) > c.maxFrame {
		c.asm, c.skip = nil, b[0] == fragMore
		c.deliver(inbound{err: fmt.Errorf("%w: over %d bytes", collab.ErrFrameTooLarge, c.maxFrame)})
		return
	}
	c.asm = append(c.asm, b[1:]...)
	if b[0] == fragLast {
		frame := c.asm
		c.asm = nil
		c.deliver(inbound{frame: frame})
	}
}

func (c *Conn) deliver(it inbound) {
	select {
	case c.in <- it:
	case <-c.closed:
	}
}

// onPresence runs on the presence channel's read loop. Only ephemeral
// messages may arrive unordered; anything else would break the ordering
// sync depends on, so it is dropped. Undecodable frames are passed on:
// the session tells the peer what is wrong with them.
func (c *Conn) onPresence(msg webrtc.DataChannelMessage) {
	if msg.IsString || len(msg.Data) == 0 || int64(len(msg.Data)) > c.maxFrame {
		c.metrics.presenceDropped("in_invalid")
		return
	}
	if typ, err := peekType(msg.Data); err == nil && typ != wire.TypeEphemeral {
		c.log.Debug("drop non-ephemeral message on the presence channel", slog.String("type", truncate(typ, 40)))
		c.metrics.presenceDropped("in_not_ephemeral")
		return
	}
	c.metrics.presenceReceived()
	for {
		select {
		case c.pin <- msg.Data:
			return
		case <-c.closed:
			return
		default:
		}
		select { // latest wins: make room by dropping the oldest
		case <-c.pin:
			c.metrics.presenceDropped("in_queue_full")
		default:
		}
	}
}

// Recv implements collab.Transport.
func (c *Conn) Recv(ctx context.Context) ([]byte, error) {
	select {
	case <-c.closed:
		return nil, net.ErrClosed
	default:
	}
	select {
	case it := <-c.in:
		return it.frame, it.err
	case f := <-c.pin:
		return f, nil
	case <-c.closed:
		return nil, net.ErrClosed
	case <-c.gone:
		select {
		case it := <-c.in:
			return it.frame, it.err
		default:
			return nil, io.EOF
		}
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}

// Send implements collab.Transport.
func (c *Conn) Send(ctx context.Context, frame []byte) error {
	select {
	case <-c.closed:
		return net.ErrClosed
	case <-c.gone:
		return fmt.Errorf("webrtc send: %w", io.ErrClosedPipe)
	default:
	}
	c.sendMu.Lock()
	defer c.sendMu.Unlock()
	limit := c.chunkLimit()
	if len(frame) <= limit && c.sendPresence(frame) {
		return nil
	}
	rel := c.rel.Load()
	if rel == nil || rel.ReadyState() != webrtc.DataChannelStateOpen {
		return fmt.Errorf("webrtc send: channel %q is not open", LabelAutomerge)
	}
	if len(frame) <= limit {
		return c.sendReliable(ctx, rel, frame)
	}
	piece := make([]byte, 0, limit)
	for off := 0; off < len(frame); off += limit - 1 {
		end := min(off+limit-1, len(frame))
		marker := byte(fragMore)
		if end == len(frame) {
			marker = fragLast
		}
		piece = append(append(piece[:0], marker), frame[off:end]...)
		if err := c.sendReliable(ctx, rel, piece); err != nil {
			return err
		}
	}
	return nil
}

var ephemeralText = []byte("\x69" + wire.TypeEphemeral) // CBOR text "ephemeral"

// peekType returns a frame's message type without decoding the rest (the
// server's session decodes and validates it fully): routing happens on
// every presence frame, in both directions.
func peekType(frame []byte) (string, error) {
	var m struct {
		Type string `cbor:"type"`
	}
	if err := cbor.Unmarshal(frame, &m); err != nil {
		return "", err
	}
	return m.Type, nil
}

// sendPresence sends an ephemeral frame over the presence channel when it
// is open, and reports whether the frame was taken care of (sent, or
// dropped because the channel is congested).
func (c *Conn) sendPresence(frame []byte) bool {
	p := c.pres.Load()
	if p == nil || p.ReadyState() != webrtc.DataChannelStateOpen || !bytes.Contains(frame, ephemeralText) {
		return false
	}
	if typ, err := peekType(frame); err != nil || typ != wire.TypeEphemeral {
		return false
	}
	if p.BufferedAmount() > presenceHighWater {
		c.metrics.presenceDropped("out_congested")
		return true
	}
	if err := p.Send(frame); err != nil {
		c.log.Debug("presence send failed; using the reliable channel", slog.Any("err", err))
		return false
	}
	c.metrics.presenceSent()
	return true
}

func (c *Conn) sendReliable(ctx context.Context, dc *webrtc.DataChannel, b []byte) error {
	for dc.BufferedAmount() > highWater {
		select {
		case <-c.low:
		case <-ctx.Done():
			return ctx.Err()
		case <-c.closed:
			return net.ErrClosed
		case <-c.gone:
			return fmt.Errorf("webrtc send: %w", io.ErrClosedPipe)
		}
	}
	if err := dc.Send(b); err != nil {
		return fmt.Errorf("webrtc send: %w", err)
	}
	return nil
}

// chunkLimit is the largest message we send: the peer's advertised limit,
// at most maxChunk.
func (c *Conn) chunkLimit() int {
	n := defaultRemoteMax
	if s := c.pc.SCTP(); s != nil {
		if m := s.GetCapabilities().MaxMessageSize; m > 0 {
			n = int(m)
		}
	}
	return min(n, maxChunk)
}

// closeFlushWait bounds how long Close waits for the peer to acknowledge
// what was sent: an error message explaining why the server closes should
// arrive, as it does before a WebSocket close frame.
const closeFlushWait = 2 * time.Second

// Close waits briefly for sent frames to be acknowledged, then closes the
// peer connection and waits for its goroutines.
func (c *Conn) Close() error {
	c.closeOnce.Do(func() {
		c.flush()
		close(c.closed)
		c.closeErr = c.pc.GracefulClose()
	})
	return c.closeErr
}

func (c *Conn) flush() {
	rel := c.rel.Load()
	if rel == nil || rel.ReadyState() != webrtc.DataChannelStateOpen {
		return
	}
	rel.SetBufferedAmountLowThreshold(0)
	timer := time.NewTimer(closeFlushWait)
	defer timer.Stop()
	for rel.BufferedAmount() > 0 {
		select {
		case <-c.low:
		case <-c.gone:
			return
		case <-timer.C:
			return
		}
	}
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "…"
}
