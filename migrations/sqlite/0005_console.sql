-- Configuration Manager (issue 5): identity management, telephony services and licenses,
-- audit with before/after, admin API tokens, tenant-admin SSO.

-- Sign-in policy per tenant.
ALTER TABLE tenants ADD COLUMN sso_rollout TEXT NOT NULL DEFAULT 'all'
    CHECK (sso_rollout IN ('all', 'staged'));
ALTER TABLE tenants ADD COLUMN sso_test_users TEXT NOT NULL DEFAULT ''; -- newline-separated user names
ALTER TABLE tenants ADD COLUMN admin_sso INTEGER NOT NULL DEFAULT 0;   -- tenant admins may sign in through SSO

-- Which trusted certificate verified the latest login.
ALTER TABLE tenant_certificates ADD COLUMN last_verified_at INTEGER;

-- IdP metadata fetched from a URL on a schedule; the last good copy is kept.
CREATE TABLE idp_metadata_sources (
    tenant_id       INTEGER PRIMARY KEY REFERENCES tenants(id) ON DELETE CASCADE,
    url             TEXT NOT NULL,
    etag            TEXT,
    last_modified   TEXT,
    fetched_at      INTEGER,          -- last successful fetch (200 or 304)
    next_refresh_at INTEGER NOT NULL, -- due when <= now; claimed by moving it forward
    valid_until     INTEGER,
    last_error      TEXT,
    last_error_at   INTEGER,
    good_xml        TEXT              -- the last metadata that validated and was applied
);
CREATE INDEX idp_metadata_sources_due ON idp_metadata_sources(next_refresh_at);

-- Telephony fields and the last sign-in of a user.
ALTER TABLE users ADD COLUMN extension TEXT;
ALTER TABLE users ADD COLUMN phone_number TEXT;
ALTER TABLE users ADD COLUMN last_login_at INTEGER;
CREATE UNIQUE INDEX users_tenant_extension ON users(tenant_id, extension) WHERE extension IS NOT NULL;
CREATE UNIQUE INDEX users_phone_number ON users(phone_number) WHERE phone_number IS NOT NULL;

-- The catalog: X Series plans (one per user) and add-ons (need a plan).
ALTER TABLE licenses ADD COLUMN kind TEXT NOT NULL DEFAULT 'plan' CHECK (kind IN ('plan', 'addon'));
ALTER TABLE licenses ADD COLUMN description TEXT NOT NULL DEFAULT '';
ALTER TABLE licenses ADD COLUMN position INTEGER NOT NULL DEFAULT 0;
UPDATE licenses SET position = 10 WHERE code = 'X2';
UPDATE licenses SET position = 20 WHERE code = 'X4';
UPDATE licenses SET position = 30 WHERE code = 'X6';
UPDATE licenses SET position = 40 WHERE code = 'X7';
UPDATE licenses SET position = 50 WHERE code = 'X8';
INSERT INTO licenses (code, name, apps, kind, description, position) VALUES
    ('CC-AGENT', 'Contact Center agent', 'contact-center', 'addon', 'An agent seat in 8x8 Contact Center', 60),
    ('CC-SUPERVISOR', 'Contact Center supervisor', 'contact-center analytics', 'addon', 'Contact Center supervision and reports', 70),
    ('RECORDING', 'Call recording', 'work', 'addon', 'Call recording for 8x8 Work', 80);

-- How many of each license a tenant bought; assignments never exceed it.
CREATE TABLE license_inventory (
    tenant_id    INTEGER NOT NULL REFERENCES tenants(id) ON DELETE CASCADE,
    license_code TEXT NOT NULL REFERENCES licenses(code),
    quantity     INTEGER NOT NULL CHECK (quantity >= 0),
    PRIMARY KEY (tenant_id, license_code)
);
CREATE INDEX user_licenses_code ON user_licenses(license_code);

-- Audit: where the change came from, and the state before and after (JSON).
ALTER TABLE audit_log ADD COLUMN source_ip TEXT;
ALTER TABLE audit_log ADD COLUMN before_state TEXT;
ALTER TABLE audit_log ADD COLUMN after_state TEXT;
CREATE INDEX audit_log_tenant_target ON audit_log(tenant_id, target);

-- Admin API tokens for automation: act as their admin, stored hashed, revocable.
CREATE TABLE admin_api_tokens (
    id           INTEGER PRIMARY KEY,
    admin_id     INTEGER NOT NULL REFERENCES admins(id) ON DELETE CASCADE,
    token_hash   TEXT NOT NULL UNIQUE,
    prefix       TEXT NOT NULL,
    label        TEXT NOT NULL DEFAULT '',
    created_at   INTEGER NOT NULL,
    expires_at   INTEGER,
    last_used_at INTEGER,
    revoked_at   INTEGER
);
CREATE INDEX admin_api_tokens_admin ON admin_api_tokens(admin_id);

-- One-time links: an invited admin sets a password; a tenant admin finishes an SSO sign-in.
CREATE TABLE admin_tickets (
    ticket_hash  TEXT PRIMARY KEY,
    admin_id     INTEGER NOT NULL REFERENCES admins(id) ON DELETE CASCADE,
    purpose      TEXT NOT NULL CHECK (purpose IN ('set_password', 'sso')),
    binding_hash TEXT,               -- hash of the companion cookie (sso)
    expires_at   INTEGER NOT NULL,
    consumed     INTEGER NOT NULL DEFAULT 0
);

-- What a sign-in was started for: an app session, or the admin console.
ALTER TABLE authn_requests ADD COLUMN purpose TEXT NOT NULL DEFAULT 'app' CHECK (purpose IN ('app', 'admin'));
