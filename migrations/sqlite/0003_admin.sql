-- Configuration Manager accounts (ADR 0010): operators see every tenant, a tenant admin one.
CREATE TABLE admins (
    id              INTEGER PRIMARY KEY,
    email           TEXT NOT NULL,
    password_hash   TEXT NOT NULL, -- argon2id PHC string
    role            TEXT NOT NULL CHECK (role IN ('operator', 'tenant_admin')),
    tenant_id       INTEGER REFERENCES tenants(id) ON DELETE CASCADE,
    failed_attempts INTEGER NOT NULL DEFAULT 0,
    locked_until    INTEGER,
    created_at      INTEGER NOT NULL,
    CHECK ((role = 'operator') = (tenant_id IS NULL))
);
CREATE UNIQUE INDEX admins_email ON admins(lower(email));

-- Admin sessions, separate from app sessions (the id is stored hashed).
CREATE TABLE admin_sessions (
    id_hash      TEXT PRIMARY KEY,
    admin_id     INTEGER NOT NULL REFERENCES admins(id) ON DELETE CASCADE,
    csrf_token   TEXT NOT NULL,
    created_at   INTEGER NOT NULL,
    last_seen_at INTEGER NOT NULL,
    expires_at   INTEGER NOT NULL
);
CREATE INDEX admin_sessions_admin ON admin_sessions(admin_id);
