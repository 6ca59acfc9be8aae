-- Tenants: customer organizations, each with its own IdP trust and SP identity.
CREATE TABLE tenants (
    id                  INTEGER PRIMARY KEY,
    slug                TEXT NOT NULL UNIQUE,
    display_name        TEXT NOT NULL,
    idp_entity_id       TEXT NOT NULL,
    idp_sso_url         TEXT,
    idp_slo_url         TEXT,
    login_mode          TEXT NOT NULL DEFAULT 'sso_only'
                        CHECK (login_mode IN ('sso_only', 'sso_and_password', 'password_only')),
    allow_idp_initiated INTEGER NOT NULL DEFAULT 0,
    federation_source   TEXT NOT NULL DEFAULT 'name_id', -- 'name_id' or 'attribute:<Name>'
    clock_skew_seconds  INTEGER NOT NULL DEFAULT 180,
    email_domains       TEXT NOT NULL DEFAULT '',        -- space-separated, for home-realm discovery
    allowed_return_urls TEXT NOT NULL DEFAULT '',        -- space-separated absolute URL prefixes
    created_at          INTEGER NOT NULL
);

-- IdP signing certificates: 'current' and 'next' during a rollover.
CREATE TABLE tenant_certificates (
    id         INTEGER PRIMARY KEY,
    tenant_id  INTEGER NOT NULL REFERENCES tenants(id) ON DELETE CASCADE,
    role       TEXT NOT NULL CHECK (role IN ('current', 'next')),
    der_base64 TEXT NOT NULL,
    created_at INTEGER NOT NULL
);
CREATE INDEX tenant_certificates_tenant ON tenant_certificates(tenant_id);

-- Users come from provisioning only (SCIM, or the admin command that does what SCIM does).
CREATE TABLE users (
    id               INTEGER PRIMARY KEY,
    tenant_id        INTEGER NOT NULL REFERENCES tenants(id) ON DELETE CASCADE,
    external_id      TEXT,
    user_name        TEXT NOT NULL,
    federation_id    TEXT NOT NULL,
    display_name     TEXT NOT NULL DEFAULT '',
    email            TEXT NOT NULL DEFAULT '',
    active           INTEGER NOT NULL DEFAULT 1,
    source           TEXT NOT NULL DEFAULT 'provisioned',
    created_at       INTEGER NOT NULL,
    updated_at       INTEGER NOT NULL
);
CREATE UNIQUE INDEX users_tenant_user_name ON users(tenant_id, lower(user_name));
CREATE INDEX users_tenant_federation_id ON users(tenant_id, lower(federation_id));

-- License catalog (8x8 X Series) and assignments.
CREATE TABLE licenses (
    code  TEXT PRIMARY KEY,
    name  TEXT NOT NULL,
    apps  TEXT NOT NULL -- space-separated app ids this license grants
);
INSERT INTO licenses (code, name, apps) VALUES
    ('X2', 'X Series X2', 'work'),
    ('X4', 'X Series X4', 'work'),
    ('X6', 'X Series X6', 'work contact-center'),
    ('X7', 'X Series X7', 'work contact-center'),
    ('X8', 'X Series X8', 'work contact-center analytics');
CREATE TABLE user_licenses (
    user_id      INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    license_code TEXT NOT NULL REFERENCES licenses(code),
    PRIMARY KEY (user_id, license_code)
);

-- Outstanding AuthnRequests, keyed by the opaque RelayState token (stored hashed).
CREATE TABLE authn_requests (
    relay_hash   TEXT PRIMARY KEY,
    tenant_id    INTEGER NOT NULL REFERENCES tenants(id) ON DELETE CASCADE,
    request_id   TEXT NOT NULL,
    return_to    TEXT NOT NULL,
    binding_hash TEXT NOT NULL, -- hash of the companion cookie value
    expires_at   INTEGER NOT NULL,
    consumed     INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX authn_requests_expiry ON authn_requests(expires_at);

-- Replay cache: an assertion ID is consumed once.
CREATE TABLE used_assertions (
    issuer       TEXT NOT NULL,
    assertion_id TEXT NOT NULL,
    expires_at   INTEGER NOT NULL,
    PRIMARY KEY (issuer, assertion_id)
);

-- App sessions (the id is stored hashed).
CREATE TABLE sessions (
    id_hash            TEXT PRIMARY KEY,
    tenant_id          INTEGER NOT NULL REFERENCES tenants(id) ON DELETE CASCADE,
    user_id            INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    name_id            TEXT NOT NULL,
    session_index      TEXT,
    created_at         INTEGER NOT NULL,
    last_seen_at       INTEGER NOT NULL,
    absolute_expiry_at INTEGER NOT NULL,
    revoked_at         INTEGER
);
CREATE INDEX sessions_user ON sessions(user_id);
CREATE INDEX sessions_tenant_name_id ON sessions(tenant_id, name_id);

-- One-time app tokens: the jti is consumed by the app (the demo app does).
CREATE TABLE used_app_tokens (
    jti        TEXT PRIMARY KEY,
    expires_at INTEGER NOT NULL
);

-- Sign-in diagnostics an admin can see later.
CREATE TABLE events (
    id          INTEGER PRIMARY KEY,
    tenant_id   INTEGER REFERENCES tenants(id) ON DELETE CASCADE,
    incident_id TEXT,
    kind        TEXT NOT NULL,
    outcome     TEXT NOT NULL,
    subject     TEXT,
    detail      TEXT NOT NULL,
    created_at  INTEGER NOT NULL
);
CREATE INDEX events_tenant_time ON events(tenant_id, created_at);
