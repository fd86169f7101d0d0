-- The chunk store behind store.Store: content-addressed Automerge chunks
-- (snapshots and incremental changes) per document.

-- storage_meta holds the storage id, created once by the first node to open
-- the store (see Open).
CREATE TABLE storage_meta (
	key   text PRIMARY KEY,
	value text NOT NULL
);

-- chunks: hash is the SHA-256 of data, so two nodes storing the same bytes
-- for a document collide on the primary key and keep one row; seq records
-- the order chunks were first appended; size lets operators sum sizes
-- without reading (and detoasting) data.
CREATE TABLE chunks (
	doc        text        NOT NULL,
	kind       smallint    NOT NULL CHECK (kind IN (1, 2)), -- 1 snapshot, 2 incremental (store.Kind)
	hash       bytea       NOT NULL CHECK (length(hash) = 32),
	seq        bigserial   NOT NULL,
	data       bytea       NOT NULL,
	size       integer     NOT NULL,
	created_at timestamptz NOT NULL DEFAULT now(),
	PRIMARY KEY (doc, hash)
);

-- Load reads one document's chunks snapshots first, then in append order.
CREATE INDEX chunks_doc_kind_seq ON chunks (doc, kind, seq);
