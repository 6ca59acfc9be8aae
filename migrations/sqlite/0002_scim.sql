-- SCIM 2.0 provisioning.

-- Bearer tokens, several per tenant (rotation), stored hashed, revocable.
CREATE TABLE scim_tokens (
    id           INTEGER PRIMARY KEY,
    tenant_id    INTEGER NOT NULL REFERENCES tenants(id) ON DELETE CASCADE,
    token_hash   TEXT NOT NULL UNIQUE,
    label        TEXT NOT NULL DEFAULT '',
    created_at   INTEGER NOT NULL,
    last_used_at INTEGER,
    revoked_at   INTEGER
);

-- Which user attribute the Federation ID follows (SCIM path, default userName).
ALTER TABLE tenants ADD COLUMN federation_attribute TEXT NOT NULL DEFAULT 'userName';

-- Users as SCIM resources: the full resource JSON, plus indexed columns.
ALTER TABLE users ADD COLUMN scim_id TEXT;
ALTER TABLE users ADD COLUMN resource TEXT NOT NULL DEFAULT '{}';
ALTER TABLE users ADD COLUMN version INTEGER NOT NULL DEFAULT 1;
ALTER TABLE users ADD COLUMN federation_pinned INTEGER NOT NULL DEFAULT 0;
ALTER TABLE users ADD COLUMN user_name_lc TEXT GENERATED ALWAYS AS (lower(user_name)) VIRTUAL;
CREATE UNIQUE INDEX users_scim_id ON users(tenant_id, scim_id);
CREATE INDEX users_tenant_user_name_lc ON users(tenant_id, user_name_lc);
CREATE INDEX users_tenant_external_id ON users(tenant_id, external_id);

CREATE TABLE groups (
    id              INTEGER PRIMARY KEY,
    tenant_id       INTEGER NOT NULL REFERENCES tenants(id) ON DELETE CASCADE,
    scim_id         TEXT NOT NULL,
    display_name    TEXT NOT NULL,
    display_name_lc TEXT GENERATED ALWAYS AS (lower(display_name)) VIRTUAL,
    external_id     TEXT,
    resource        TEXT NOT NULL,
    version         INTEGER NOT NULL DEFAULT 1,
    created_at      INTEGER NOT NULL,
    updated_at      INTEGER NOT NULL
);
CREATE UNIQUE INDEX groups_scim_id ON groups(tenant_id, scim_id);
CREATE INDEX groups_tenant_display_name_lc ON groups(tenant_id, display_name_lc);

-- Who changed what (Federation ID changes, deactivations, token use...).
CREATE TABLE audit_log (
    id         INTEGER PRIMARY KEY,
    tenant_id  INTEGER REFERENCES tenants(id) ON DELETE CASCADE,
    actor      TEXT NOT NULL,
    action     TEXT NOT NULL,
    target     TEXT,
    detail     TEXT NOT NULL,
    created_at INTEGER NOT NULL
);
CREATE INDEX audit_log_tenant_time ON audit_log(tenant_id, created_at);
