package collab

import (
	"errors"

	"github.com/casual-dev/casual/collab/wire"
	"github.com/casual-dev/casual/crdt"
	"github.com/casual-dev/casual/rooms"
)

// Session-level errors; each reaches the peer as an error message whose
// code is ErrorCode(err).
var (
	ErrJoinFirst       = errors.New("join first: send a join message before anything else")
	ErrProtocolVersion = errors.New("unsupported protocol version")
	ErrSenderMismatch  = errors.New("senderId is not the peer that joined on this connection")
	ErrAlreadyJoined   = errors.New("already joined as another peer on this connection")
	ErrTooManyDocs     = errors.New("too many documents on one connection")
	ErrRateLimited     = errors.New("message rate limit exceeded")
	ErrForbidden       = errors.New("access denied")
	ErrUnauthorized    = errors.New("unauthorized")
	ErrReplaced        = errors.New("another connection joined as the same peer")
	ErrShuttingDown    = errors.New("server shutting down")
)

// ErrorCode maps an error to the stable code sent in error messages.
func ErrorCode(err error) string {
	for _, c := range []struct {
		err  error
		code string
	}{
		{wire.ErrMalformed, "malformed_message"},
		{wire.ErrInvalid, "invalid_message"},
		{wire.ErrUnknownType, "unknown_message_type"},
		{ErrTextFrame, "text_frame"},
		{ErrFrameTooLarge, "frame_too_large"},
		{ErrBadFrame, "bad_frame"},
		{crdt.ErrInvalidDocID, "invalid_document_id"},
		{ErrJoinFirst, "join_required"},
		{ErrProtocolVersion, "unsupported_protocol_version"},
		{ErrSenderMismatch, "sender_mismatch"},
		{ErrAlreadyJoined, "already_joined"},
		{ErrTooManyDocs, "too_many_documents"},
		{ErrRateLimited, "rate_limited"},
		{ErrAccessRevoked, "access_revoked"}, // before ErrForbidden, which it wraps
		{ErrForbidden, "forbidden"},
		{ErrUnauthorized, "unauthorized"},
		{ErrReplaced, "replaced"},
		{ErrShuttingDown, "shutting_down"},
		{rooms.ErrReadOnly, "read_only"},
		{rooms.ErrDocTooLarge, "document_too_large"},
		{rooms.ErrSyncFailed, "sync_failed"},
		{rooms.ErrSlowPeer, "slow_peer"},
		{rooms.ErrLoad, "load_failed"},
		{rooms.ErrRoomClosed, "room_closed"},
	} {
		if errors.Is(err, c.err) {
			return c.code
		}
	}
	return "internal"
}

// limitOf returns the limit an error reports, if any.
func limitOf(err error) float64 {
	var le *rooms.LimitError
	if errors.As(err, &le) {
		return float64(le.Limit)
	}
	var ce *countLimitError
	if errors.As(err, &ce) {
		return float64(ce.limit)
	}
	return 0
}

type countLimitError struct {
	err   error
	limit int64
	what  string
}

func (e *countLimitError) Error() string { return e.err.Error() + " (limit " + e.what + ")" }
func (e *countLimitError) Unwrap() error { return e.err }
