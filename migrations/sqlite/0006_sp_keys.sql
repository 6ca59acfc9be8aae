-- SP key pairs (issue 7): signing and encryption keys per tenant (tenant_id) or for the
-- whole deployment (tenant_id NULL). The private key is sealed (AES-256-GCM) under the
-- master key from configuration; the certificate is public. At most one current and one
-- next key per scope and purpose; the next key is published in SP metadata before use.
CREATE TABLE sp_keys (
    id              INTEGER PRIMARY KEY,
    tenant_id       INTEGER REFERENCES tenants(id) ON DELETE CASCADE,
    purpose         TEXT NOT NULL CHECK (purpose IN ('signing', 'encryption')),
    state           TEXT NOT NULL CHECK (state IN ('current', 'next', 'retired')),
    certificate_pem TEXT NOT NULL,
    sealed_key      TEXT NOT NULL,
    created_at      INTEGER NOT NULL,
    retired_at      INTEGER
);
CREATE UNIQUE INDEX sp_keys_live ON sp_keys(COALESCE(tenant_id, 0), purpose, state)
    WHERE state IN ('current', 'next');

-- Outbound SAML per tenant.
ALTER TABLE tenants ADD COLUMN sign_requests INTEGER NOT NULL DEFAULT 1;
ALTER TABLE tenants ADD COLUMN request_binding TEXT NOT NULL DEFAULT 'redirect'
    CHECK (request_binding IN ('redirect', 'post'));
ALTER TABLE tenants ADD COLUMN require_signed_assertions INTEGER NOT NULL DEFAULT 0;
ALTER TABLE tenants ADD COLUMN sign_metadata INTEGER NOT NULL DEFAULT 0;
