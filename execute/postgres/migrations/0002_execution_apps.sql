-- Runs of one app execute one at a time (execute.History.Claim). A claim
-- takes the app's transaction-scoped advisory lock, then inserts or takes
-- over its run only if no other run of the app is held (unfinished, with
-- an executor and a lease that has not ended); it returns the heads the
-- app's last finished run left in the document, kept here by Finish, so
-- the winner waits until its replica has them.

CREATE TABLE execution_apps (
	app        text        NOT NULL COLLATE "C" PRIMARY KEY,
	heads      jsonb       NOT NULL DEFAULT '[]',
	updated_at timestamptz NOT NULL DEFAULT now()
);

CREATE INDEX executions_held ON executions (app)
	WHERE status NOT IN ('completed', 'failed') AND executor <> '';
