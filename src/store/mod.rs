//! Storage adapters. SQLite (embedded, WAL) is the default; PostgreSQL follows in the
//! multi-instance issue behind the same methods.

mod admin;
mod admin_access;
mod audit;
mod console;
mod db;
mod licenses;
mod login;
mod scim;
mod scim_cursors;
mod sp_keys;
mod stats;
mod users;

pub use admin::{AdminAccount, AdminRole, AdminSession, TenantSummary};
pub use admin_access::{AdminInfo, ApiTokenInfo, NO_PASSWORD, TicketPurpose};
pub use audit::{Actor, AuditEntry, AuditFilter, Change};
pub use console::{CertificateRow, EventRow, IdpConfig, MetadataSource, TenantSettings};
pub use db::{
    Db, Dialect, NewTenant, NewUser, PendingRequest, RequestPurpose, SessionRow, StoreError,
    new_scim_id,
};
pub use licenses::{InventoryLine, LicenseError};
pub use login::{LoginCommitted, LoginEnd, LoginRecord, SignInEvent};
pub use scim::{BindValue, Kind, ResourceRow, ScimTokenInfo, UserColumns};
pub use sp_keys::{KeyPurpose, SpKeyRow};
pub use stats::LiveCounts;
pub use users::{LiveSession, NumberError, NumberField, UserQuery, UserSource, UserSummary};

/// SHA-256 of a secret token, hex: tokens are stored only hashed.
pub fn token_hash(token: &str) -> String {
    openssl::sha::sha256(token.as_bytes())
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// A random URL-safe token of `bytes` random bytes.
pub fn random_token(bytes: usize) -> Result<String, StoreError> {
    use base64::Engine as _;
    let mut buf = vec![0u8; bytes];
    openssl::rand::rand_bytes(&mut buf).map_err(|e| StoreError::Other(format!("random: {e}")))?;
    Ok(base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(buf))
}
