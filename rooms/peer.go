// Package rooms owns the live session around each open document. A Room is
// one goroutine that owns its crdt.Doc: it applies peers' sync messages,
// persists every change before anything that acknowledges it leaves, fans
// changes out to the other peers through their bounded queues (a peer that
// cannot keep up is dropped, never waited for), and relays presence. The
// Manager opens rooms on demand and unloads idle ones.
//
// Rooms know nothing of sockets or CBOR: peers are the small Peer interface,
// storage is the small Storage interface, so a test can drive a room with
// plain values.
package rooms

import (
	"context"
	"errors"
	"fmt"

	"github.com/casual-dev/casual/crdt"
	"github.com/casual-dev/casual/store"
)

// Errors peers are told about. Each is wrapped with the details.
var (
	ErrReadOnly    = errors.New("read-only access: changes refused")
	ErrDocTooLarge = errors.New("document too large")
	ErrSyncFailed  = errors.New("sync message could not be applied")
	ErrSlowPeer    = errors.New("peer too slow: send queue full")
	ErrRoomClosed  = errors.New("room closed")
	ErrLoad        = errors.New("document could not be loaded")
)

// Access is what a peer may do with a document.
type Access int

// Access levels, weakest first.
const (
	NoAccess Access = iota
	Read
	Write
)

func (a Access) String() string {
	switch a {
	case Read:
		return "read"
	case Write:
		return "write"
	}
	return "none"
}

// OutKind says what an outbound message is.
type OutKind int

// Outbound message kinds.
const (
	OutSync OutKind = iota + 1
	OutDocUnavailable
	OutEphemeral
	OutError
)

// Out is one message for one peer about one document. Data is shared
// between peers and must not be modified.
type Out struct {
	Kind  OutKind
	DocID crdt.DocID
	Data  []byte
	// Ephemeral messages keep their original sender's identity.
	SenderID  string
	SessionID string
	Count     float64
	// Err is set for OutError.
	Err error
}

// Peer is a connected party as a room sees it.
type Peer interface {
	// ID is the peer's protocol peerId.
	ID() string
	// Deliver queues out without blocking. False means the peer's queue is
	// full; the room then drops the peer.
	Deliver(out Out) bool
	// Drop tells the peer it was removed from the room for err (for
	// example ErrSlowPeer). It must not block.
	Drop(err error)
}

// Storage is what a room needs from a store.Store.
type Storage interface {
	Append(ctx context.Context, doc string, data []byte) (store.ChunkRef, error)
	Load(ctx context.Context, doc string) ([]store.Chunk, error)
	Compact(ctx context.Context, doc string, snapshot []byte, replaced []store.ChunkRef) (store.ChunkRef, error)
}

// Limit errors carry the figure that was exceeded.
type LimitError struct {
	Err   error
	Limit int64
	Got   int64
}

func (e *LimitError) Error() string {
	return fmt.Sprintf("%v: %d bytes exceeds the limit of %d", e.Err, e.Got, e.Limit)
}

func (e *LimitError) Unwrap() error { return e.Err }
