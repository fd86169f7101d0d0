package rooms

import (
	"context"

	"github.com/casual-dev/casual/crdt"
)

// Bus carries what one node's room accepts to the rooms of the same
// document on other nodes (which share the store). Delivery may be lossy:
// a room that sees a gap — changes whose dependencies it lacks, or a
// Resync after the bus reconnected — catches up from the store.
type Bus interface {
	// Subscribe delivers messages other nodes publish for doc to fn until
	// the returned cancel is called. fn must not block for long.
	Subscribe(ctx context.Context, doc crdt.DocID, fn func(BusMessage)) (cancel func(), err error)
	// Publish sends msg to the other nodes' rooms of doc.
	Publish(ctx context.Context, doc crdt.DocID, msg BusMessage) error
}

// BusKind says what a bus message carries.
type BusKind uint8

// Bus message kinds.
const (
	// BusChanges: Changes holds stored change chunks; Heads the
	// publisher's heads after them.
	BusChanges BusKind = iota + 1
	// BusPresence: Presence holds an ephemeral message to relay.
	BusPresence
	// BusResync: the subscription may have missed messages (the bus
	// reconnected); catch up from the store. Only the bus itself sends it.
	BusResync
)

// BusMessage is one message between nodes.
type BusMessage struct {
	Kind     BusKind
	Node     string // publisher; a node ignores its own messages
	Changes  []byte
	Heads    []crdt.Hash
	Presence Out
	// SentAt is the publisher's clock (Unix ns), for cross-node latency.
	SentAt int64
}
