package redisbus

import (
	"encoding/binary"
	"errors"
	"fmt"
	"math"

	"github.com/casual-dev/casual/crdt"
	"github.com/casual-dev/casual/rooms"
)

// ErrBadMessage reports a payload that is not a bus message of this
// version: another program on the channel, or a newer node.
var ErrBadMessage = errors.New("redisbus: undecodable message")

// version is the first byte of every payload; a node drops payloads of
// other versions (and catches up from the store when it sees gaps).
const version = 1

// Layout, all lengths unsigned varints:
//
//	version kind sentAt(varint) len(node) node nheads heads(32 each)
//	kind == presence: okind len(doc) doc len(sender) sender
//	                  len(session) session count(8 bytes, float64 bits)
//	rest: the change chunk (changes) or the ephemeral data (presence)
//
// The bulky part goes last and raw, so encoding is one append of it.

// appendMessage appends the encoding of msg to b. Presence.Err does not
// cross nodes.
func appendMessage(b []byte, msg rooms.BusMessage) []byte {
	b = append(b, version, byte(msg.Kind))
	b = binary.AppendVarint(b, msg.SentAt)
	b = appendString(b, msg.Node)
	b = binary.AppendUvarint(b, uint64(len(msg.Heads)))
	for _, h := range msg.Heads {
		b = append(b, h[:]...)
	}
	if msg.Kind == rooms.BusPresence {
		p := msg.Presence
		b = binary.AppendUvarint(b, uint64(p.Kind))
		b = appendString(b, string(p.DocID))
		b = appendString(b, p.SenderID)
		b = appendString(b, p.SessionID)
		b = binary.BigEndian.AppendUint64(b, math.Float64bits(p.Count))
		return append(b, p.Data...)
	}
	return append(b, msg.Changes...)
}

func appendString(b []byte, s string) []byte {
	b = binary.AppendUvarint(b, uint64(len(s)))
	return append(b, s...)
}

// decodeMessage parses a payload made by appendMessage. The result does
// not alias b.
func decodeMessage(b []byte) (rooms.BusMessage, error) {
	var msg rooms.BusMessage
	d := decoder{b: b}
	if v := d.byte(); v != version {
		return msg, fmt.Errorf("%w: version %d", ErrBadMessage, v)
	}
	msg.Kind = rooms.BusKind(d.byte())
	switch msg.Kind {
	case rooms.BusChanges, rooms.BusPresence, rooms.BusResync:
	default:
		if d.err == nil {
			return msg, fmt.Errorf("%w: kind %d", ErrBadMessage, msg.Kind)
		}
	}
	msg.SentAt = d.varint()
	msg.Node = d.string()
	if n := d.uvarint(); n > 0 && d.err == nil {
		if n > uint64(len(d.b))/32 {
			return msg, fmt.Errorf("%w: %d heads in %d bytes", ErrBadMessage, n, len(d.b))
		}
		msg.Heads = make([]crdt.Hash, n)
		for i := range msg.Heads {
			copy(msg.Heads[i][:], d.take(32))
		}
	}
	rest := &msg.Changes
	if msg.Kind == rooms.BusPresence {
		p := &msg.Presence
		p.Kind = rooms.OutKind(d.uvarint())
		p.DocID = crdt.DocID(d.string())
		p.SenderID = d.string()
		p.SessionID = d.string()
		p.Count = math.Float64frombits(binary.BigEndian.Uint64(d.take(8)))
		rest = &p.Data
	}
	if d.err != nil {
		return rooms.BusMessage{}, d.err
	}
	if len(d.b) > 0 {
		*rest = append([]byte(nil), d.b...)
	}
	return msg, nil
}

// decoder reads from b; the first short read sets err and every later read
// returns zero values.
type decoder struct {
	b   []byte
	err error
}

func (d *decoder) fail(what string) {
	if d.err == nil {
		d.err = fmt.Errorf("%w: truncated %s", ErrBadMessage, what)
	}
	d.b = nil
}

func (d *decoder) byte() byte {
	if len(d.b) < 1 {
		d.fail("header")
		return 0
	}
	c := d.b[0]
	d.b = d.b[1:]
	return c
}

func (d *decoder) uvarint() uint64 {
	v, n := binary.Uvarint(d.b)
	if n <= 0 {
		d.fail("length")
		return 0
	}
	d.b = d.b[n:]
	return v
}

func (d *decoder) varint() int64 {
	v, n := binary.Varint(d.b)
	if n <= 0 {
		d.fail("timestamp")
		return 0
	}
	d.b = d.b[n:]
	return v
}

// take returns the next n bytes, or n zero bytes after a short read.
func (d *decoder) take(n int) []byte {
	if n < 0 || len(d.b) < n {
		d.fail("field")
		return make([]byte, max(n, 0))
	}
	out := d.b[:n]
	d.b = d.b[n:]
	return out
}

func (d *decoder) string() string {
	n := d.uvarint()
	if n > uint64(len(d.b)) {
		d.fail("string")
		return ""
	}
	return string(d.take(int(n)))
}
