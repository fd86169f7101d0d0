-- Invitations: memberships waiting for someone to sign up with the email
-- they were sent to. One per (organization or app, email); they go with
-- their organization or app.

CREATE TABLE acct_invitations (
	id         text        PRIMARY KEY,
	email      text        NOT NULL,
	org_id     text        REFERENCES acct_orgs (id) ON DELETE CASCADE,
	app_id     text        REFERENCES acct_apps (id) ON DELETE CASCADE,
	role       text        NOT NULL CHECK (role IN ('owner', 'admin', 'editor', 'viewer')),
	invited_by text        NOT NULL DEFAULT '',
	created_at timestamptz NOT NULL,
	expires_at timestamptz NOT NULL,
	CHECK ((org_id IS NULL) <> (app_id IS NULL))
);
CREATE UNIQUE INDEX acct_invitations_org_email ON acct_invitations (org_id, email) WHERE org_id IS NOT NULL;
CREATE UNIQUE INDEX acct_invitations_app_email ON acct_invitations (app_id, email) WHERE app_id IS NOT NULL;
CREATE INDEX acct_invitations_email ON acct_invitations (email);
