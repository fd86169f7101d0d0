package collab

import (
	"encoding/binary"
	"errors"
	"fmt"
	"unicode/utf8"
)

// ErrBadFrame is a WebSocket framing violation (RFC 6455 §5): an unmasked
// client frame, reserved bits or opcodes, a fragmented or oversized control
// frame, a continuation with no message to continue. The connection
// cannot go on after one; the peer gets an error and a 1002 close.
var ErrBadFrame = errors.New("websocket protocol violation")

// WebSocket opcodes.
const (
	opContinuation = 0x0
	opText         = 0x1
	opBinary       = 0x2
	opClose        = 0x8
	opPing         = 0x9
	opPong         = 0xA
)

// wsEvent is one thing a frameParser found: a whole data message (text or
// binary, its fragments joined) or a control frame.
type wsEvent struct {
	op   byte
	data []byte
}

// frameParser assembles the frames a client sends into messages, from
// whatever pieces of the byte stream reads return. It holds only a partial
// frame and a partial fragmented message between reads, so a parser of an
// idle connection holds no buffer at all. It is the reading half of a
// WebSocket server connection: frames must be masked, no extension is
// negotiated.
type frameParser struct {
	maxMessage int64  // largest data message accepted
	pending    []byte // the start of a frame not yet complete
	msg        []byte // fragments of the data message being assembled
	msgOp      byte   // its opcode; 0 when no message is in progress
}

// feed parses b (appended to what an earlier call left) and returns the
// events it completes. After an error the parser must not be fed again: the
// stream is not trustworthy past a framing violation or an oversized
// message, and the connection has to close.
func (p *frameParser) feed(b []byte) ([]wsEvent, error) {
	buf, fromPending := b, len(p.pending) > 0
	if fromPending {
		p.pending = append(p.pending, b...)
		buf = p.pending
	}
	var events []wsEvent
	for {
		n, ev, err := p.next(buf)
		if err != nil {
			p.pending = nil
			return events, err
		}
		if n == 0 {
			break
		}
		buf = buf[n:]
		if ev != nil {
			events = append(events, *ev)
		}
	}
	switch {
	case len(buf) == 0:
		p.pending = nil // an idle connection keeps no buffer
	case fromPending:
		p.pending = append(p.pending[:0], buf...) // shift what is left to the front
	default:
		p.pending = append([]byte(nil), buf...)
	}
	return events, nil
}

// next parses one frame at the start of b. It returns how many bytes the
// frame took (0 if b holds no whole frame yet) and the event it completes,
// if any.
func (p *frameParser) next(b []byte) (int, *wsEvent, error) {
	if len(b) < 2 {
		return 0, nil, nil
	}
	fin, rsv, op := b[0]&0x80 != 0, b[0]&0x70, b[0]&0x0f
	masked, length := b[1]&0x80 != 0, uint64(b[1]&0x7f)
	hdr := 2
	switch length {
	case 126:
		if len(b) < 4 {
			return 0, nil, nil
		}
		length, hdr = uint64(binary.BigEndian.Uint16(b[2:4])), 4
	case 127:
		if len(b) < 10 {
			return 0, nil, nil
		}
		length, hdr = binary.BigEndian.Uint64(b[2:10]), 10
		if length>>63 != 0 {
			return 0, nil, fmt.Errorf("%w: 64-bit length with the high bit set", ErrBadFrame)
		}
	}
	if rsv != 0 {
		return 0, nil, fmt.Errorf("%w: reserved bits %#x set (no extension was negotiated)", ErrBadFrame, rsv>>4)
	}
	if !masked {
		return 0, nil, fmt.Errorf("%w: client frames must be masked", ErrBadFrame)
	}
	control := op >= opClose
	switch {
	case control && op > opPong, !control && op > opBinary:
		return 0, nil, fmt.Errorf("%w: reserved opcode %#x", ErrBadFrame, op)
	case control && (!fin || length > 125):
		return 0, nil, fmt.Errorf("%w: control frames must be whole and at most 125 bytes", ErrBadFrame)
	case op == opContinuation && p.msgOp == 0:
		return 0, nil, fmt.Errorf("%w: continuation frame with no message to continue", ErrBadFrame)
	case (op == opText || op == opBinary) && p.msgOp != 0:
		return 0, nil, fmt.Errorf("%w: new message before the last one's final fragment", ErrBadFrame)
	}
	if !control && int64(len(p.msg))+int64(min(length, 1<<62)) > p.maxMessage {
		// Refused from the header alone: the payload is never buffered.
		return 0, nil, fmt.Errorf("%w: over %d bytes", ErrFrameTooLarge, p.maxMessage)
	}
	total := uint64(hdr) + 4 + length
	if uint64(len(b)) < total {
		return 0, nil, nil
	}
	key := b[hdr : hdr+4]
	payload := b[hdr+4 : total]
	if control {
		data := make([]byte, len(payload))
		unmask(data, payload, key)
		if op == opClose {
			if err := checkClosePayload(data); err != nil {
				return 0, nil, err
			}
		}
		return int(total), &wsEvent{op: op, data: data}, nil
	}
	if op != opContinuation {
		p.msgOp = op
	}
	start := len(p.msg)
	if fin && start == 0 {
		// The common case, one frame: no assembly buffer is kept.
		data := make([]byte, len(payload))
		unmask(data, payload, key)
		ev := &wsEvent{op: p.msgOp, data: data}
		p.msgOp = 0
		return int(total), ev, nil
	}
	p.msg = append(p.msg, payload...)
	unmask(p.msg[start:], p.msg[start:], key)
	if !fin {
		return int(total), nil, nil
	}
	ev := &wsEvent{op: p.msgOp, data: p.msg}
	p.msg, p.msgOp = nil, 0
	return int(total), ev, nil
}

// unmask writes src XOR the masking key into dst (same length; they may
// be the same slice).
func unmask(dst, src, key []byte) {
	for i := range src {
		dst[i] = src[i] ^ key[i&3]
	}
}

// checkClosePayload validates a close frame's body: empty, or a status
// code and a UTF-8 reason.
func checkClosePayload(b []byte) error {
	switch {
	case len(b) == 0:
		return nil
	case len(b) == 1:
		return fmt.Errorf("%w: close frame with a 1-byte body", ErrBadFrame)
	case !utf8.Valid(b[2:]):
		return fmt.Errorf("%w: close reason is not UTF-8", ErrBadFrame)
	}
	return nil
}
