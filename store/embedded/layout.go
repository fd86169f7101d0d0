package embedded

import (
	"bytes"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"

	"go.etcd.io/bbolt"
	berrors "go.etcd.io/bbolt/errors"

	"github.com/casual-dev/casual/store"
)

// File layout (format 1):
//
//	meta/format      "1"
//	meta/storage-id  UUID created on first open
//	docs/<doc id>/   one bucket per document; its sequence numbers chunks
//	    c/<kind><seq><sha256>  chunk bytes
//	    h/<sha256>             the chunk's key in c (dedupe and compaction)
//
// Keys in c are 1 byte of store.Kind, 8 bytes of big-endian sequence and
// the 32-byte hash, so a cursor walks snapshots first, then incremental
// chunks in first-append order, and Load needs no hashing.
const (
	bucketMeta   = "meta"
	bucketDocs   = "docs"
	bucketChunks = "c"
	bucketIndex  = "h"
	keyFormat    = "format"
	keyStorageID = "storage-id"
	formatV1     = "1"

	chunkKeyLen = 1 + 8 + sha256.Size
)

// initLayout creates the top-level buckets and the storage id on first use
// and returns the storage id.
func initLayout(db *bbolt.DB) (id string, err error) {
	err = db.Update(func(tx *bbolt.Tx) error {
		meta, err := tx.CreateBucketIfNotExists([]byte(bucketMeta))
		if err != nil {
			return err
		}
		if _, err := tx.CreateBucketIfNotExists([]byte(bucketDocs)); err != nil {
			return err
		}
		switch f := meta.Get([]byte(keyFormat)); {
		case f == nil:
			if err := meta.Put([]byte(keyFormat), []byte(formatV1)); err != nil {
				return err
			}
		case string(f) != formatV1:
			return fmt.Errorf("unsupported file format %q (want %q)", f, formatV1)
		}
		if v := meta.Get([]byte(keyStorageID)); v != nil {
			id = string(v)
			return nil
		}
		if id, err = newStorageID(); err != nil {
			return err
		}
		return meta.Put([]byte(keyStorageID), []byte(id))
	})
	if err != nil {
		return "", fmt.Errorf("init layout: %w", err)
	}
	return id, nil
}

func chunkKey(kind store.Kind, seq uint64, sum [sha256.Size]byte) []byte {
	k := make([]byte, chunkKeyLen)
	k[0] = byte(kind)
	binary.BigEndian.PutUint64(k[1:9], seq)
	copy(k[9:], sum[:])
	return k
}

// refOf decodes a chunk key of c and the length of its value.
func refOf(key []byte, size int) (store.ChunkRef, error) {
	if len(key) != chunkKeyLen {
		return store.ChunkRef{}, fmt.Errorf("corrupt chunk key %x", key)
	}
	return store.ChunkRef{Kind: store.Kind(key[0]), Hash: hex.EncodeToString(key[9:]), Size: size}, nil
}

// docBuckets returns doc's bucket and its chunk and index buckets,
// creating them.
func docBuckets(docs *bbolt.Bucket, doc string) (d, chunks, index *bbolt.Bucket, err error) {
	if d, err = docs.CreateBucketIfNotExists([]byte(doc)); err != nil {
		return nil, nil, nil, err
	}
	if chunks, err = d.CreateBucketIfNotExists([]byte(bucketChunks)); err != nil {
		return nil, nil, nil, err
	}
	if index, err = d.CreateBucketIfNotExists([]byte(bucketIndex)); err != nil {
		return nil, nil, nil, err
	}
	return d, chunks, index, nil
}

// put stores data as a new chunk of kind at the end of its kind's run.
func put(d, chunks, index *bbolt.Bucket, kind store.Kind, sum [sha256.Size]byte, data []byte) error {
	seq, err := d.NextSequence()
	if err != nil {
		return err
	}
	key := chunkKey(kind, seq, sum)
	if err := chunks.Put(key, data); err != nil {
		return err
	}
	return index.Put(sum[:], key)
}

func appendChunk(docs *bbolt.Bucket, doc string, sum [sha256.Size]byte, ref store.ChunkRef, data []byte) (store.ChunkRef, error) {
	d, chunks, index, err := docBuckets(docs, doc)
	if err != nil {
		return store.ChunkRef{}, err
	}
	if key := index.Get(sum[:]); key != nil {
		// Already stored (maybe as a snapshot): keep its place and kind.
		return refOf(key, len(data))
	}
	if err := put(d, chunks, index, store.Incremental, sum, data); err != nil {
		return store.ChunkRef{}, err
	}
	return ref, nil
}

func compactDoc(docs *bbolt.Bucket, doc string, sum [sha256.Size]byte, ref store.ChunkRef, data []byte, replaced [][sha256.Size]byte) (store.ChunkRef, error) {
	d, chunks, index, err := docBuckets(docs, doc)
	if err != nil {
		return store.ChunkRef{}, err
	}
	for _, h := range replaced {
		if h == sum {
			continue // the new snapshot is already stored: keep it
		}
		if err := remove(chunks, index, h); err != nil {
			return store.ChunkRef{}, err
		}
	}
	if key := index.Get(sum[:]); key != nil {
		if store.Kind(key[0]) == store.Snapshot {
			return ref, nil
		}
		// Stored as an incremental chunk: move it to the snapshots so it
		// loads before the chunks that depend on it.
		if err := remove(chunks, index, sum); err != nil {
			return store.ChunkRef{}, err
		}
	}
	if err := put(d, chunks, index, store.Snapshot, sum, data); err != nil {
		return store.ChunkRef{}, err
	}
	return ref, nil
}

// remove deletes the chunk with hash h, if stored.
func remove(chunks, index *bbolt.Bucket, h [sha256.Size]byte) error {
	key := index.Get(h[:])
	if key == nil {
		return nil
	}
	// Copy: bbolt's slices are invalid once the transaction writes.
	key = bytes.Clone(key)
	if err := chunks.Delete(key); err != nil {
		return err
	}
	return index.Delete(h[:])
}

func deleteDoc(docs *bbolt.Bucket, doc string) error {
	err := docs.DeleteBucket([]byte(doc))
	if errors.Is(err, berrors.ErrBucketNotFound) {
		return nil
	}
	return err
}

// loadDoc copies doc's chunks out of the read transaction into one buffer.
func loadDoc(tx *bbolt.Tx, doc string) ([]store.Chunk, error) {
	d := tx.Bucket([]byte(bucketDocs)).Bucket([]byte(doc))
	if d == nil {
		return nil, store.ErrNotFound
	}
	c := d.Bucket([]byte(bucketChunks))
	if c == nil {
		return nil, store.ErrNotFound
	}
	n, total := 0, 0
	cur := c.Cursor()
	for k, v := cur.First(); k != nil; k, v = cur.Next() {
		n++
		total += len(v)
	}
	if n == 0 {
		return nil, store.ErrNotFound
	}
	buf := make([]byte, 0, total)
	out := make([]store.Chunk, 0, n)
	for k, v := cur.First(); k != nil; k, v = cur.Next() {
		ref, err := refOf(k, len(v))
		if err != nil {
			return nil, err
		}
		start := len(buf)
		buf = append(buf, v...)
		// Cap each chunk's slice so appending to one cannot clobber the next.
		out = append(out, store.Chunk{ChunkRef: ref, Data: buf[start:len(buf):len(buf)]})
	}
	return out, nil
}
