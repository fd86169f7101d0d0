-- Accounts: users, sessions, organizations, apps and their sharing,
-- versions and the audit log. Tables are prefixed acct_ because they share
-- the schema with the document store's. Text ids are compared with the "C"
-- collation so orderings match the embedded store's byte order.

CREATE TABLE acct_meta (
	key   text  PRIMARY KEY,
	value bytea NOT NULL
);

CREATE TABLE acct_users (
	id             text        PRIMARY KEY,
	email          text        NOT NULL UNIQUE,
	name           text        NOT NULL DEFAULT '',
	password_hash  text        NOT NULL,
	email_verified boolean     NOT NULL DEFAULT false,
	totp_secret    text        NOT NULL DEFAULT '',
	totp_pending   text        NOT NULL DEFAULT '',
	totp_enabled   boolean     NOT NULL DEFAULT false,
	totp_last_step bigint      NOT NULL DEFAULT 0,
	backup_codes   text[]      NOT NULL DEFAULT '{}',
	created_at     timestamptz NOT NULL,
	updated_at     timestamptz NOT NULL,
	last_login_at  timestamptz
);

-- A session is a family of refresh tokens; revoking it ends them all.
CREATE TABLE acct_sessions (
	id           text        PRIMARY KEY,
	user_id      text        NOT NULL REFERENCES acct_users (id) ON DELETE CASCADE,
	created_at   timestamptz NOT NULL,
	last_used_at timestamptz NOT NULL,
	expires_at   timestamptz NOT NULL,
	revoked_at   timestamptz,
	user_agent   text        NOT NULL DEFAULT '',
	ip           text        NOT NULL DEFAULT ''
);
CREATE INDEX acct_sessions_user ON acct_sessions (user_id);

-- Only hashes of refresh tokens are stored.
CREATE TABLE acct_refresh_tokens (
	hash       text        PRIMARY KEY,
	session_id text        NOT NULL REFERENCES acct_sessions (id) ON DELETE CASCADE,
	user_id    text        NOT NULL,
	created_at timestamptz NOT NULL,
	expires_at timestamptz NOT NULL,
	used_at    timestamptz
);
CREATE INDEX acct_refresh_tokens_session ON acct_refresh_tokens (session_id);

CREATE TABLE acct_one_time_tokens (
	hash       text        PRIMARY KEY,
	kind       text        NOT NULL,
	user_id    text        NOT NULL REFERENCES acct_users (id) ON DELETE CASCADE,
	email      text        NOT NULL DEFAULT '',
	created_at timestamptz NOT NULL,
	expires_at timestamptz NOT NULL
);

CREATE TABLE acct_orgs (
	id         text        PRIMARY KEY,
	name       text        NOT NULL,
	created_by text        NOT NULL DEFAULT '',
	created_at timestamptz NOT NULL,
	updated_at timestamptz NOT NULL
);

CREATE TABLE acct_org_members (
	org_id   text        NOT NULL REFERENCES acct_orgs (id) ON DELETE CASCADE,
	user_id  text        NOT NULL REFERENCES acct_users (id) ON DELETE CASCADE,
	role     text        NOT NULL CHECK (role IN ('owner', 'admin', 'editor', 'viewer')),
	added_by text        NOT NULL DEFAULT '',
	added_at timestamptz NOT NULL,
	PRIMARY KEY (org_id, user_id)
);
CREATE INDEX acct_org_members_user ON acct_org_members (user_id);

-- Apps outlive their owner's account and organization in the trash, so
-- owner_id and org_id are not foreign keys.
CREATE TABLE acct_apps (
	id           text        PRIMARY KEY,
	name         text        NOT NULL,
	description  text        NOT NULL DEFAULT '',
	owner_id     text        NOT NULL DEFAULT '',
	org_id       text        NOT NULL DEFAULT '',
	visibility   text        NOT NULL CHECK (visibility IN ('private', 'org', 'public')),
	template     text        NOT NULL DEFAULT '',
	forked_from  text        NOT NULL DEFAULT '',
	created_by   text        NOT NULL DEFAULT '',
	created_at   timestamptz NOT NULL,
	updated_at   timestamptz NOT NULL,
	published_at timestamptz,
	deleted_at   timestamptz
);
CREATE INDEX acct_apps_owner ON acct_apps (owner_id) WHERE owner_id <> '';
CREATE INDEX acct_apps_org ON acct_apps (org_id) WHERE org_id <> '';
CREATE INDEX acct_apps_public ON acct_apps (visibility) WHERE visibility = 'public';
CREATE INDEX acct_apps_trash ON acct_apps (deleted_at) WHERE deleted_at IS NOT NULL;

CREATE TABLE acct_app_members (
	app_id   text        NOT NULL REFERENCES acct_apps (id) ON DELETE CASCADE,
	user_id  text        NOT NULL REFERENCES acct_users (id) ON DELETE CASCADE,
	role     text        NOT NULL CHECK (role IN ('admin', 'editor', 'viewer')),
	added_by text        NOT NULL DEFAULT '',
	added_at timestamptz NOT NULL,
	PRIMARY KEY (app_id, user_id)
);
CREATE INDEX acct_app_members_user ON acct_app_members (user_id);

CREATE TABLE acct_versions (
	id         text        PRIMARY KEY,
	app_id     text        NOT NULL REFERENCES acct_apps (id) ON DELETE CASCADE,
	label      text        NOT NULL,
	heads      text[]      NOT NULL,
	author_id  text        NOT NULL DEFAULT '',
	created_at timestamptz NOT NULL
);
CREATE INDEX acct_versions_app ON acct_versions (app_id, created_at);

CREATE TABLE acct_shares (
	id         text        PRIMARY KEY,
	app_id     text        NOT NULL REFERENCES acct_apps (id) ON DELETE CASCADE,
	kind       text        NOT NULL,
	mode       text        NOT NULL CHECK (mode IN ('read', 'write', 'run')),
	created_by text        NOT NULL DEFAULT '',
	created_at timestamptz NOT NULL,
	expires_at timestamptz NOT NULL,
	revoked_at timestamptz
);
CREATE INDEX acct_shares_app ON acct_shares (app_id);

-- Audit ids sort by time; listings walk them backwards.
CREATE TABLE acct_audit (
	id        text        COLLATE "C" PRIMARY KEY,
	at        timestamptz NOT NULL,
	actor_id  text        NOT NULL DEFAULT '',
	action    text        NOT NULL,
	org_id    text        NOT NULL DEFAULT '',
	app_id    text        NOT NULL DEFAULT '',
	target_id text        NOT NULL DEFAULT '',
	ip        text        NOT NULL DEFAULT '',
	detail    jsonb
);
CREATE INDEX acct_audit_org ON acct_audit (org_id, id) WHERE org_id <> '';
CREATE INDEX acct_audit_actor ON acct_audit (actor_id, id) WHERE actor_id <> '';
CREATE INDEX acct_audit_app ON acct_audit (app_id, id) WHERE app_id <> '';
