package signaling

import (
	"encoding/json"
	"errors"
	"fmt"
	"strings"

	"github.com/pion/ice/v4"
	"github.com/pion/sdp/v3"

	"github.com/casual-dev/casual/collab"
	"github.com/casual-dev/casual/crdt"
	"github.com/casual-dev/casual/rooms"
)

// Relay message types (JSON text frames; see README.md).
const (
	// Sent by peers, relayed to the peer named in "to".
	TypeOffer     = "offer"
	TypeAnswer    = "answer"
	TypeCandidate = "candidate"
	// Sent by the relay.
	TypePeers      = "peers"
	TypePeerJoined = "peer-joined"
	TypePeerLeft   = "peer-left"
	TypeError      = "error"
)

// Message is every relay message; which fields are set depends on Type.
// Unknown fields are ignored; "from" is always set by the relay.
type Message struct {
	Type      string     `json:"type"`
	From      string     `json:"from,omitempty"`
	To        string     `json:"to,omitempty"`
	SDP       string     `json:"sdp,omitempty"`
	Candidate *Candidate `json:"candidate,omitempty"`
	// peers: who you are and who else is in the room.
	Self  string   `json:"self,omitempty"`
	Peers []string `json:"peers,omitempty"`
	// peer-joined, peer-left.
	PeerID string `json:"peerId,omitempty"`
	// error.
	Code    string `json:"code,omitempty"`
	Message string `json:"message,omitempty"`
	Limit   int64  `json:"limit,omitempty"`
}

// Candidate is an ICE candidate as the browser's RTCIceCandidateInit
// (what RTCIceCandidate.toJSON() returns). An empty Candidate string is
// the end-of-candidates marker.
type Candidate struct {
	Candidate        string  `json:"candidate"`
	SDPMid           *string `json:"sdpMid,omitempty"`
	SDPMLineIndex    *uint16 `json:"sdpMLineIndex,omitempty"`
	UsernameFragment *string `json:"usernameFragment,omitempty"`
}

// Errors of the relay protocol; ErrorCode gives the code peers see.
var (
	ErrMalformedJSON    = errors.New("malformed JSON")
	ErrInvalidMessage   = errors.New("invalid message")
	ErrUnknownType      = errors.New("unknown message type")
	ErrInvalidCandidate = errors.New("invalid ICE candidate")
	ErrUnknownPeer      = errors.New("unknown peer")
	ErrMessageTooLarge  = errors.New("message too large")
	ErrBinaryFrame      = errors.New("binary frame: the relay speaks JSON text frames")
	ErrRoomFull         = errors.New("room full")
	ErrPeerIDInUse      = errors.New("peer id in use")
	ErrInvalidPeerID    = errors.New("invalid peer id")
	ErrNotWebSocket     = errors.New("not a WebSocket upgrade")
)

// ErrorCode maps an error to the stable code sent in error messages.
func ErrorCode(err error) string {
	for _, c := range []struct {
		err  error
		code string
	}{
		{ErrMalformedJSON, "malformed_json"},
		{ErrInvalidMessage, "invalid_message"},
		{ErrUnknownType, "unknown_type"},
		{ErrInvalidSDP, "invalid_sdp"},
		{ErrInvalidCandidate, "invalid_candidate"},
		{ErrUnknownPeer, "unknown_peer"},
		{ErrMessageTooLarge, "message_too_large"},
		{ErrBinaryFrame, "binary_frame"},
		{ErrRoomFull, "room_full"},
		{ErrPeerIDInUse, "peer_id_in_use"},
		{ErrInvalidPeerID, "invalid_peer_id"},
		{ErrNotWebSocket, "not_websocket"},
		{crdt.ErrInvalidDocID, "invalid_document_id"},
		{collab.ErrUnauthorized, "unauthorized"},
		{collab.ErrForbidden, "forbidden"},
		{collab.ErrRateLimited, "rate_limited"},
		{collab.ErrShuttingDown, "shutting_down"},
		{rooms.ErrSlowPeer, "slow_peer"},
	} {
		if errors.Is(err, c.err) {
			return c.code
		}
	}
	return "internal"
}

// limitError is an error that reports the limit it hit.
type limitError struct {
	err   error
	limit int64
	what  string
}

func (e *limitError) Error() string { return fmt.Sprintf("%v (limit %d %s)", e.err, e.limit, e.what) }
func (e *limitError) Unwrap() error { return e.err }

func limitOf(err error) int64 {
	var le *limitError
	if errors.As(err, &le) {
		return le.limit
	}
	return 0
}

// DecodeMessage parses and validates a message a peer sent to the relay.
func DecodeMessage(b []byte) (*Message, error) {
	var m Message
	if err := json.Unmarshal(b, &m); err != nil {
		return nil, fmt.Errorf("%w: %v", ErrMalformedJSON, err)
	}
	if err := m.validate(); err != nil {
		return &m, err
	}
	return &m, nil
}

func (m *Message) validate() error {
	switch m.Type {
	case "":
		return fmt.Errorf("%w: message without type", ErrInvalidMessage)
	case TypeOffer, TypeAnswer:
		if m.To == "" {
			return fmt.Errorf("%w: %s without \"to\"", ErrInvalidMessage, m.Type)
		}
		if strings.TrimSpace(m.SDP) == "" {
			return fmt.Errorf("%w: %s without \"sdp\"", ErrInvalidSDP, m.Type)
		}
		var sd sdp.SessionDescription
		if err := sd.UnmarshalString(m.SDP); err != nil {
			return fmt.Errorf("%w: %s: %v", ErrInvalidSDP, m.Type, err)
		}
	case TypeCandidate:
		if m.To == "" {
			return fmt.Errorf("%w: candidate without \"to\"", ErrInvalidMessage)
		}
		if m.Candidate == nil {
			return fmt.Errorf("%w: candidate without \"candidate\" (an RTCIceCandidateInit object)", ErrInvalidCandidate)
		}
		if c := m.Candidate.Candidate; c != "" {
			if _, err := ice.UnmarshalCandidate(c); err != nil {
				return fmt.Errorf("%w: %v", ErrInvalidCandidate, err)
			}
		}
	case TypePeers, TypePeerJoined, TypePeerLeft, TypeError:
		return fmt.Errorf("%w: %q is sent by the relay only; peers send offer, answer and candidate", ErrUnknownType, m.Type)
	default:
		return fmt.Errorf("%w: %q; peers send offer, answer and candidate", ErrUnknownType, truncate(m.Type, 40))
	}
	return nil
}

// validPeerID accepts what automerge-repo and our clients generate,
// and nothing that could confuse a log line or a UI.
func validPeerID(id string) error {
	if id == "" || len(id) > 100 {
		return fmt.Errorf("%w: want 1 to 100 characters", ErrInvalidPeerID)
	}
	for _, r := range id {
		ok := r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || strings.ContainsRune("-_.:@", r)
		if !ok {
			return fmt.Errorf("%w: %q: use letters, digits and - _ . : @", ErrInvalidPeerID, truncate(id, 40))
		}
	}
	return nil
}
