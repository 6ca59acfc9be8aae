//! SP key pairs at rest: the certificate in clear, the private key sealed under the master
//! key (`saml::keys::seal_private_key`); per tenant or for the whole deployment (`scope`
//! None). At most one current and one next key per scope and purpose (a unique index).

use chrono::{DateTime, Utc};
use serde::Serialize;
use serde_json::json;
use sqlx::Row;
use sqlx::any::AnyRow;

use super::audit::{self, Actor, Change};
use super::db::{Db, StoreError};

/// What a key is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum KeyPurpose {
    Signing,
    Encryption,
}

impl KeyPurpose {
    pub fn as_str(self) -> &'static str {
        match self {
            KeyPurpose::Signing => "signing",
            KeyPurpose::Encryption => "encryption",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "signing" => Some(KeyPurpose::Signing),
            "encryption" => Some(KeyPurpose::Encryption),
            _ => None,
        }
    }
}

/// A stored key (never the private key in clear).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct SpKeyRow {
    pub id: i64,
    pub tenant_id: Option<i64>,
    pub purpose: KeyPurpose,
    /// `current`, `next` or `retired`.
    pub state: String,
    pub certificate_pem: String,
    #[serde(skip)]
    pub sealed_key: String,
    pub created_at: i64,
}

pub(super) fn row(r: &AnyRow) -> Result<SpKeyRow, StoreError> {
    let purpose: String = r.try_get("purpose")?;
    Ok(SpKeyRow {
        id: r.try_get("id")?,
        tenant_id: r.try_get("tenant_id")?,
        purpose: KeyPurpose::parse(&purpose)
            .ok_or_else(|| StoreError::Other(format!("unknown key purpose '{purpose}'")))?,
        state: r.try_get("state")?,
        certificate_pem: r.try_get("certificate_pem")?,
        sealed_key: r.try_get("sealed_key")?,
        created_at: r.try_get("created_at")?,
    })
}

impl Db {
    /// The current and next keys of a scope (a tenant, or None: the deployment).
    pub async fn sp_keys(&self, scope: Option<i64>) -> Result<Vec<SpKeyRow>, StoreError> {
        let rows = sqlx::query(
            "SELECT * FROM sp_keys WHERE COALESCE(tenant_id, 0) = $1 AND state IN ('current', 'next')
             ORDER BY purpose, state, id",
        )
        .bind(scope.unwrap_or(0))
        .fetch_all(self.pool())
        .await?;
        rows.iter().map(row).collect()
    }

    /// Store a new key as `state` (`current` or `next`). A scope already holding a key in
    /// that state is a Conflict (the unique index), also when two instances race.
    #[allow(clippy::too_many_arguments)]
    pub async fn add_sp_key(
        &self,
        scope: Option<i64>,
        purpose: KeyPurpose,
        state: &str,
        certificate_pem: &str,
        sealed_key: &str,
        fingerprint: &str,
        actor: &Actor,
        now: DateTime<Utc>,
    ) -> Result<i64, StoreError> {
        let mut tx = self.write_tx(scope.unwrap_or(0)).await?;
        let id: i64 = sqlx::query(
            "INSERT INTO sp_keys (tenant_id, purpose, state, certificate_pem, sealed_key, created_at)
             VALUES ($1, $2, $3, $4, $5, $6) RETURNING id",
        )
        .bind(scope)
        .bind(purpose.as_str())
        .bind(state)
        .bind(certificate_pem)
        .bind(sealed_key)
        .bind(now.timestamp())
        .fetch_one(&mut *tx)
        .await?
        .try_get("id")?;
        let change = Change::new(&format!("sp_key.{state}"), Some(purpose.as_str()))
            .detail(format!("{} key {fingerprint}", purpose.as_str()))
            .after(json!({"id": id, "purpose": purpose.as_str(), "state": state, "sha256": fingerprint}));
        audit::insert(&mut tx, scope, actor, &change, now).await?;
        tx.commit().await?;
        Ok(id)
    }

    /// Roll over: the next key becomes current and the current one is retired. False if
    /// there is no next key.
    pub async fn activate_next_sp_key(
        &self,
        scope: Option<i64>,
        purpose: KeyPurpose,
        actor: &Actor,
        now: DateTime<Utc>,
    ) -> Result<bool, StoreError> {
        let mut tx = self.write_tx(scope.unwrap_or(0)).await?;
        let next = sqlx::query(
            "SELECT id FROM sp_keys WHERE COALESCE(tenant_id, 0) = $1 AND purpose = $2 AND state = 'next'",
        )
        .bind(scope.unwrap_or(0))
        .bind(purpose.as_str())
        .fetch_optional(&mut *tx)
        .await?;
        let Some(next) = next else { return Ok(false) };
        let next_id: i64 = next.try_get("id")?;
        sqlx::query(
            "UPDATE sp_keys SET state = 'retired', retired_at = $1
             WHERE COALESCE(tenant_id, 0) = $2 AND purpose = $3 AND state = 'current'",
        )
        .bind(now.timestamp())
        .bind(scope.unwrap_or(0))
        .bind(purpose.as_str())
        .execute(&mut *tx)
        .await?;
        sqlx::query("UPDATE sp_keys SET state = 'current' WHERE id = $1")
            .bind(next_id)
            .execute(&mut *tx)
            .await?;
        let change = Change::new("sp_key.activate", Some(purpose.as_str()))
            .after(json!({"current": next_id}));
        audit::insert(&mut tx, scope, actor, &change, now).await?;
        tx.commit().await?;
        Ok(true)
    }
}
