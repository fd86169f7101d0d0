-- AI co-editor run history. The run itself is kept as JSON (its shape is
-- generate.Run); the columns are what lookups filter and sort on. Text ids
-- use the "C" collation so orderings match the embedded store's bytes.

CREATE TABLE ai_runs (
	id         text COLLATE "C" PRIMARY KEY,
	app_id     text COLLATE "C" NOT NULL,
	node       text COLLATE "C" NOT NULL,
	status     text        NOT NULL,
	created_at timestamptz NOT NULL,
	run        json        NOT NULL -- json, not jsonb: it keeps any text (\u0000 too)
);

CREATE INDEX ai_runs_by_time ON ai_runs (created_at DESC, id DESC);
CREATE INDEX ai_runs_by_app ON ai_runs (app_id, created_at DESC, id DESC);
-- Runs not finished yet: what a restarting node marks interrupted.
CREATE INDEX ai_runs_open ON ai_runs (node) WHERE status IN ('queued', 'running');
