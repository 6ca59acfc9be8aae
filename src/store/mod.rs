//! Storage adapters. SQLite (embedded, WAL) is the default; PostgreSQL follows in the
//! multi-instance issue behind the same methods.

mod admin;
mod scim;
mod sqlite;

pub use admin::{AdminAccount, AdminRole, AdminSession, TenantSummary};
pub use scim::{BindValue, Kind, ResourceRow, ScimTokenInfo, UserColumns};
pub use sqlite::{Db, NewTenant, SessionRow, StoreError, new_scim_id};

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
