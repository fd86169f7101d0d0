-- The execution history (the product plan's executions table): one row
-- per run, keyed by app and run id. It is also the fence that makes a run
-- execute once across nodes: a claim is an INSERT ... ON CONFLICT DO UPDATE
-- whose WHERE clause lets through only an unheld run, the holder's own
-- claim, or a takeover of a lapsed lease (see execute.History).
--
-- The columns hold what claims and listings look at; record holds the
-- whole execute.Record as JSON (input, output, error, logs...).

CREATE TABLE executions (
	app         text        NOT NULL COLLATE "C",
	id          text        NOT NULL COLLATE "C",
	status      text        NOT NULL,
	executor    text        NOT NULL DEFAULT '',
	lease_until timestamptz,
	queued_at   timestamptz NOT NULL,
	updated_at  timestamptz NOT NULL DEFAULT now(),
	record      jsonb       NOT NULL,
	PRIMARY KEY (app, id)
);

CREATE INDEX executions_by_id ON executions (id);
CREATE INDEX executions_by_app_time ON executions (app, queued_at DESC, id DESC);
