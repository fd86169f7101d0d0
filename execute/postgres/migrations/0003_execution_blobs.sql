-- Uploaded WASM modules (execute.BlobStore), by content address
-- ("sha256:<hex>"), so that every node's executor finds a module uploaded
-- through any node.

CREATE TABLE execution_blobs (
	key        text        NOT NULL COLLATE "C" PRIMARY KEY,
	data       bytea       NOT NULL,
	created_at timestamptz NOT NULL DEFAULT now()
);
