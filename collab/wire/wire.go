// Package wire is the automerge-repo network protocol v1 as bytes: one CBOR
// map per binary WebSocket frame (or data-channel message). It decodes what
// @automerge/automerge-repo 2.5 clients send, validates it, and encodes only
// what their cbor-x decoder accepts: definite lengths, minimal integers
// (never the 64-bit form, which JS decodes as BigInt), untagged byte
// strings, float64 for non-integers.
//
// The package is pure: no I/O, no state. The server (collab), the Go client
// (collab/client) and the in-process peers share it.
package wire

import (
	"errors"
	"fmt"
	"math"

	"github.com/fxamacker/cbor/v2"
)

// Message types of the protocol (automerge-repo 2.5.6), plus error.
const (
	TypeJoin                     = "join"
	TypePeer                     = "peer"
	TypeError                    = "error"
	TypeSync                     = "sync"
	TypeRequest                  = "request"
	TypeDocUnavailable           = "doc-unavailable"
	TypeEphemeral                = "ephemeral"
	TypeRemoteSubscriptionChange = "remote-subscription-change"
	TypeRemoteHeadsChanged       = "remote-heads-changed"
)

// ProtocolV1 is the only protocol version there is.
const ProtocolV1 = "1"

// Errors callers branch on. Decode wraps exactly one of them.
var (
	// ErrMalformed: the bytes are not a CBOR map of the expected shape
	// (bad CBOR, wrong field types, trailing bytes).
	ErrMalformed = errors.New("malformed message")
	// ErrInvalid: well-formed CBOR, but a required field is missing or empty.
	ErrInvalid = errors.New("invalid message")
	// ErrUnknownType: a type this server does not know.
	ErrUnknownType = errors.New("unknown message type")
)

// PeerMetadata is what each side says about itself in join/peer.
type PeerMetadata struct {
	// StorageID is nil for a peer without storage (JS sends undefined).
	StorageID   *string `cbor:"storageId"`
	IsEphemeral bool    `cbor:"isEphemeral"`
}

// Message is every message of the protocol; which fields are set depends on
// Type. Unknown keys are ignored on decode, as JS does.
type Message struct {
	Type       string `cbor:"type"`
	SenderID   string `cbor:"senderId,omitempty"`
	TargetID   string `cbor:"targetId,omitempty"`
	DocumentID string `cbor:"documentId,omitempty"`
	Data       []byte `cbor:"data,omitempty"`

	// join / peer
	PeerMetadata              *PeerMetadata `cbor:"peerMetadata,omitempty"`
	SupportedProtocolVersions []string      `cbor:"supportedProtocolVersions,omitempty"`
	SelectedProtocolVersion   string        `cbor:"selectedProtocolVersion,omitempty"`

	// ephemeral
	Count     Count  `cbor:"count,omitempty"`
	SessionID string `cbor:"sessionId,omitempty"`

	// error: Message is the text clients log. Code, Limit and the document
	// id are our additions, for clients that read them.
	Message string `cbor:"message,omitempty"`
	Code    string `cbor:"code,omitempty"`
	Limit   Count  `cbor:"limit,omitempty"`
}

// Count is a JS number used as a counter: sent as a minimal unsigned integer
// when it is one below 2^32, else as float64, as cbor-x does.
type Count float64

// MarshalCBOR implements cbor.Marshaler.
func (c Count) MarshalCBOR() ([]byte, error) {
	f := float64(c)
	if f >= 0 && f < 1<<32 && f == math.Trunc(f) {
		return encMode.Marshal(uint32(f))
	}
	return encMode.Marshal(f)
}

// UnmarshalCBOR implements cbor.Unmarshaler.
func (c *Count) UnmarshalCBOR(b []byte) error {
	var f float64
	if err := decMode.Unmarshal(b, &f); err != nil {
		return err
	}
	*c = Count(f)
	return nil
}

var (
	encMode cbor.EncMode
	decMode cbor.DecMode
)

func init() {
	var err error
	encMode, err = cbor.EncOptions{
		IndefLength: cbor.IndefLengthForbidden,
		TagsMd:      cbor.TagsForbidden,
	}.EncMode()
	if err != nil {
		panic(err)
	}
	decMode, err = cbor.DecOptions{
		MaxNestedLevels:   16,
		MaxArrayElements:  4096,
		MaxMapPairs:       4096,
		DupMapKey:         cbor.DupMapKeyEnforcedAPF,
		ExtraReturnErrors: cbor.ExtraDecErrorNone,
	}.DecMode()
	if err != nil {
		panic(err)
	}
}

// Encode returns the CBOR form of m.
func Encode(m *Message) ([]byte, error) {
	b, err := encMode.Marshal(m)
	if err != nil {
		return nil, fmt.Errorf("encode %s: %w", m.Type, err)
	}
	return b, nil
}

// Decode parses and validates one frame.
func Decode(b []byte) (*Message, error) {
	if len(b) == 0 {
		return nil, fmt.Errorf("%w: empty frame", ErrMalformed)
	}
	if b[0]>>5 != 5 { // major type 5: map
		return nil, fmt.Errorf("%w: frame is not a CBOR map", ErrMalformed)
	}
	var m Message
	if err := decMode.Unmarshal(b, &m); err != nil {
		return nil, fmt.Errorf("%w: %v", ErrMalformed, err)
	}
	if err := m.validate(); err != nil {
		return &m, err
	}
	return &m, nil
}

func (m *Message) validate() error {
	missing := func(field string) error {
		return fmt.Errorf("%w: %s message without %s", ErrInvalid, m.Type, field)
	}
	switch m.Type {
	case "":
		return fmt.Errorf("%w: message without type", ErrInvalid)
	case TypeJoin:
		if m.SenderID == "" {
			return missing("senderId")
		}
	case TypeSync, TypeRequest:
		switch {
		case m.SenderID == "":
			return missing("senderId")
		case m.DocumentID == "":
			return missing("documentId")
		case len(m.Data) == 0:
			return missing("data")
		}
	case TypeEphemeral:
		switch {
		case m.SenderID == "":
			return missing("senderId")
		case m.DocumentID == "":
			return missing("documentId")
		case len(m.Data) == 0:
			return missing("data")
		case m.SessionID == "":
			return missing("sessionId")
		}
	case TypeDocUnavailable:
		if m.SenderID == "" || m.DocumentID == "" {
			return missing("senderId or documentId")
		}
	case TypePeer, TypeError, TypeRemoteSubscriptionChange, TypeRemoteHeadsChanged:
	default:
		return fmt.Errorf("%w: %q", ErrUnknownType, truncate(m.Type, 40))
	}
	return nil
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "…"
}
