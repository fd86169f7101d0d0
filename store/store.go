// Package store defines how documents are persisted: as content-addressed
// chunks of Automerge data (compacted snapshots and incremental change
// chunks), the same scheme automerge-repo uses. Implementations live in
// subpackages (store/embedded, store/postgres); storetest holds the contract
// tests every implementation must pass.
package store

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
)

// Errors callers branch on.
var (
	// ErrNotFound: the document has no stored chunks.
	ErrNotFound = errors.New("document not found")
	// ErrClosed: the store was closed.
	ErrClosed = errors.New("store closed")
)

// Kind says whether a chunk is a full snapshot or an incremental chunk.
type Kind uint8

// Chunk kinds.
const (
	Snapshot    Kind = 1
	Incremental Kind = 2
)

func (k Kind) String() string {
	switch k {
	case Snapshot:
		return "snapshot"
	case Incremental:
		return "incremental"
	}
	return "unknown"
}

// ChunkRef names a stored chunk. Hash is the hex SHA-256 of its bytes, so
// the same bytes stored twice (two nodes persisting the same changes) are
// one chunk.
type ChunkRef struct {
	Kind Kind
	Hash string
	Size int
}

// Chunk is a stored chunk with its bytes.
type Chunk struct {
	ChunkRef
	Data []byte
}

// RefOf returns the ref a chunk of kind k with these bytes is stored under.
func RefOf(k Kind, data []byte) ChunkRef {
	sum := sha256.Sum256(data)
	return ChunkRef{Kind: k, Hash: hex.EncodeToString(sum[:]), Size: len(data)}
}

// Store persists documents. Every method is safe for concurrent use, across
// documents and for the same document.
type Store interface {
	// StorageID returns the stable id of this storage, created on first use.
	// Peers use it to tell which heads the server has durably stored.
	StorageID(ctx context.Context) (string, error)

	// Append durably adds an incremental chunk to doc. It returns only once
	// the chunk is committed (fsync'd, or committed by the database);
	// concurrent appends, across documents, are committed together.
	// Appending bytes already stored for doc (even as a snapshot) is a no-op
	// returning their ref; dedupe is per document. An empty chunk is an
	// error. An append that failed may still have been stored: retrying is
	// always safe.
	Append(ctx context.Context, doc string, data []byte) (ChunkRef, error)

	// Load returns every chunk of doc: snapshots first, then incremental
	// chunks in the order they were first appended. Concatenated, they load
	// as one Automerge document. ErrNotFound if doc has no chunks.
	Load(ctx context.Context, doc string) ([]Chunk, error)

	// Compact atomically stores snapshot (which must include every change of
	// the replaced chunks) and removes the replaced chunks. Chunks of doc
	// not named in replaced (say, appended meanwhile by another node) stay.
	// Replaced refs match by hash; refs not stored are ignored.
	Compact(ctx context.Context, doc string, snapshot []byte, replaced []ChunkRef) (ChunkRef, error)

	// Delete removes every chunk of doc. Deleting a missing doc is not an error.
	Delete(ctx context.Context, doc string) error

	// Close flushes and releases the store; later calls, a second Close
	// included, fail with ErrClosed.
	Close() error
}

// Concat joins chunks' bytes in order, ready for crdt.Load.
func Concat(chunks []Chunk) []byte {
	n := 0
	for _, c := range chunks {
		n += len(c.Data)
	}
	out := make([]byte, 0, n)
	for _, c := range chunks {
		out = append(out, c.Data...)
	}
	return out
}
