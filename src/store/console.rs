//! Tenant configuration from the console: sign-in settings, the IdP trust and its
//! certificates (rollover), metadata fetched from a URL, and sign-in events. Every change
//! is audited with the state before and after, in the same transaction.

use chrono::{DateTime, Utc};
use serde::Serialize;
use serde_json::{Value, json};
use sqlx::Row;
use sqlx::any::AnyRow;

use super::audit::{self, Actor, Change};
use super::db::{Db, NewTenant, StoreError};
use crate::directory::{FederationSource, LoginMode, SsoRollout, Tenant};

/// The sign-in settings an admin edits.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TenantSettings {
    pub display_name: String,
    pub login_mode: LoginMode,
    pub allow_idp_initiated: bool,
    pub sso_rollout: SsoRollout,
    pub admin_sso: bool,
    pub email_domains: Vec<String>,
    pub allowed_return_urls: Vec<String>,
    pub federation_source: FederationSource,
    pub federation_attribute: String,
    pub clock_skew_seconds: i64,
    pub sign_requests: bool,
    pub post_binding: bool,
    pub require_signed_assertions: bool,
    pub sign_metadata: bool,
}

impl TenantSettings {
    pub fn of(t: &Tenant) -> Self {
        TenantSettings {
            display_name: t.display_name.clone(),
            login_mode: t.login_mode,
            allow_idp_initiated: t.allow_idp_initiated,
            sso_rollout: t.sso_rollout.clone(),
            admin_sso: t.admin_sso,
            email_domains: t.email_domains.clone(),
            allowed_return_urls: t.allowed_return_urls.clone(),
            federation_source: t.federation_source.clone(),
            federation_attribute: t.federation_attribute.clone(),
            clock_skew_seconds: t.clock_skew_seconds,
            sign_requests: t.sign_requests,
            post_binding: t.post_binding,
            require_signed_assertions: t.require_signed_assertions,
            sign_metadata: t.sign_metadata,
        }
    }

    pub fn to_json(&self) -> Value {
        json!({
            "display_name": self.display_name,
            "login_mode": self.login_mode.as_str(),
            "allow_idp_initiated": self.allow_idp_initiated,
            "sso_rollout": self.sso_rollout.mode(),
            "sso_test_users": self.sso_rollout.test_users(),
            "admin_sso": self.admin_sso,
            "email_domains": self.email_domains,
            "allowed_return_urls": self.allowed_return_urls,
            "federation_source": self.federation_source.as_db(),
            "federation_attribute": self.federation_attribute,
            "clock_skew_seconds": self.clock_skew_seconds,
            "sign_requests": self.sign_requests,
            "request_binding": if self.post_binding { "post" } else { "redirect" },
            "require_signed_assertions": self.require_signed_assertions,
            "sign_metadata": self.sign_metadata,
        })
    }
}

/// A trusted IdP signing certificate as stored.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct CertificateRow {
    pub id: i64,
    /// `current` or `next`.
    pub role: String,
    pub der_base64: String,
    pub created_at: i64,
    /// The last time this certificate verified a login.
    pub last_verified_at: Option<i64>,
}

/// The IdP side of a tenant, replaced as a whole (metadata upload, refresh, manual entry).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IdpConfig {
    pub entity_id: String,
    pub sso_url: Option<String>,
    pub slo_url: Option<String>,
    /// base64 DER; the first is `current`, the others `next`.
    pub certificates: Vec<String>,
}

/// Metadata fetched from a URL on a schedule.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct MetadataSource {
    pub tenant_id: i64,
    pub url: String,
    pub etag: Option<String>,
    pub last_modified: Option<String>,
    pub fetched_at: Option<i64>,
    pub next_refresh_at: i64,
    pub valid_until: Option<i64>,
    pub last_error: Option<String>,
    pub last_error_at: Option<i64>,
    #[serde(skip)]
    pub good_xml: Option<String>,
}

/// A sign-in (or logout) event, for diagnostics.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct EventRow {
    pub id: i64,
    pub created_at: i64,
    pub incident_id: Option<String>,
    pub kind: String,
    pub outcome: String,
    pub subject: Option<String>,
    pub detail: String,
}

fn fingerprints(certs: &[String]) -> Vec<String> {
    certs
        .iter()
        .map(|c| {
            crate::saml::TrustedCertificate::from_base64_der(c)
                .map(|t| t.fingerprint().to_string())
                .unwrap_or_else(|_| "(unreadable)".into())
        })
        .collect()
}

fn idp_json(t: &IdpConfig) -> Value {
    json!({
        "entity_id": t.entity_id,
        "sso_url": t.sso_url,
        "slo_url": t.slo_url,
        "certificates": fingerprints(&t.certificates),
    })
}

fn source_row(r: &AnyRow) -> Result<MetadataSource, StoreError> {
    Ok(MetadataSource {
        tenant_id: r.try_get("tenant_id")?,
        url: r.try_get("url")?,
        etag: r.try_get("etag")?,
        last_modified: r.try_get("last_modified")?,
        fetched_at: r.try_get("fetched_at")?,
        next_refresh_at: r.try_get("next_refresh_at")?,
        valid_until: r.try_get("valid_until")?,
        last_error: r.try_get("last_error")?,
        last_error_at: r.try_get("last_error_at")?,
        good_xml: r.try_get("good_xml")?,
    })
}

impl IdpConfig {
    pub fn of(t: &Tenant) -> Self {
        IdpConfig {
            entity_id: t.idp_entity_id.clone(),
            sso_url: t.idp_sso_url.clone(),
            slo_url: t.idp_slo_url.clone(),
            certificates: t.certificates.clone(),
        }
    }
}

impl Db {
    /// Create a tenant from the console (audited); its IdP may be configured later.
    pub async fn create_tenant_by(
        &self,
        t: &NewTenant,
        actor: &Actor,
        now: DateTime<Utc>,
    ) -> Result<Tenant, StoreError> {
        let tenant = self.create_tenant(t, now).await?;
        let change = Change::new("tenant.create", Some(&tenant.slug))
            .detail(format!("name={}", tenant.display_name))
            .after(TenantSettings::of(&tenant).to_json());
        self.record_audit(Some(tenant.id), actor, change, now)
            .await?;
        Ok(tenant)
    }

    /// Replace a tenant's sign-in settings.
    pub async fn update_tenant_settings(
        &self,
        tenant: &Tenant,
        s: &TenantSettings,
        actor: &Actor,
        now: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        let before = TenantSettings::of(tenant);
        if &before == s {
            return Ok(());
        }
        let mut tx = self.write_tx(tenant.id).await?;
        sqlx::query(
            "UPDATE tenants SET display_name = $1, login_mode = $2, allow_idp_initiated = $3, sso_rollout = $4,
                 sso_test_users = $5, admin_sso = $6, email_domains = $7, allowed_return_urls = $8,
                 federation_source = $9, federation_attribute = $10, clock_skew_seconds = $11,
                 sign_requests = $12, request_binding = $13, require_signed_assertions = $14, sign_metadata = $15
             WHERE id = $16",
        )
        .bind(&s.display_name)
        .bind(s.login_mode.as_str())
        .bind(s.allow_idp_initiated)
        .bind(s.sso_rollout.mode())
        .bind(s.sso_rollout.test_users().join("\n"))
        .bind(s.admin_sso)
        .bind(s.email_domains.join(" "))
        .bind(s.allowed_return_urls.join(" "))
        .bind(s.federation_source.as_db())
        .bind(&s.federation_attribute)
        .bind(s.clock_skew_seconds)
        .bind(s.sign_requests)
        .bind(if s.post_binding { "post" } else { "redirect" })
        .bind(s.require_signed_assertions)
        .bind(s.sign_metadata)
        .bind(tenant.id)
        .execute(&mut *tx)
        .await?;
        let change = Change::new("tenant.settings", Some(&tenant.slug))
            .before(before.to_json())
            .after(s.to_json());
        audit::insert(&mut tx, Some(tenant.id), actor, &change, now).await?;
        tx.commit().await?;
        Ok(())
    }

    /// Replace the IdP trust (entity ID, endpoints, certificates) in one transaction.
    pub async fn set_idp(
        &self,
        tenant: &Tenant,
        new: &IdpConfig,
        action: &str,
        actor: &Actor,
        now: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        let before = IdpConfig::of(tenant);
        let mut tx = self.write_tx(tenant.id).await?;
        sqlx::query(
            "UPDATE tenants SET idp_entity_id = $1, idp_sso_url = $2, idp_slo_url = $3 WHERE id = $4",
        )
        .bind(&new.entity_id)
        .bind(&new.sso_url)
        .bind(&new.slo_url)
        .bind(tenant.id)
        .execute(&mut *tx)
        .await?;
        // Keep rows (and their last-verified times) of certificates that stay trusted.
        let existing =
            sqlx::query("SELECT id, der_base64 FROM tenant_certificates WHERE tenant_id = $1")
                .bind(tenant.id)
                .fetch_all(&mut *tx)
                .await?;
        for r in &existing {
            let der: String = r.try_get("der_base64")?;
            if !new.certificates.contains(&der) {
                let id: i64 = r.try_get("id")?;
                sqlx::query("DELETE FROM tenant_certificates WHERE id = $1")
                    .bind(id)
                    .execute(&mut *tx)
                    .await?;
            }
        }
        for (i, der) in new.certificates.iter().enumerate() {
            let role = if i == 0 { "current" } else { "next" };
            let n = sqlx::query(
                "UPDATE tenant_certificates SET role = $1 WHERE tenant_id = $2 AND der_base64 = $3",
            )
            .bind(role)
            .bind(tenant.id)
            .bind(der)
            .execute(&mut *tx)
            .await?
            .rows_affected();
            if n == 0 {
                sqlx::query("INSERT INTO tenant_certificates (tenant_id, role, der_base64, created_at) VALUES ($1, $2, $3, $4)")
                    .bind(tenant.id)
                    .bind(role)
                    .bind(der)
                    .bind(now.timestamp())
                    .execute(&mut *tx)
                    .await?;
            }
        }
        let change = Change::new(action, Some(&tenant.slug))
            .detail(format!(
                "entity {} -> {}; certificates {}",
                before.entity_id,
                new.entity_id,
                fingerprints(&new.certificates).join(", ")
            ))
            .before(idp_json(&before))
            .after(idp_json(new));
        audit::insert(&mut tx, Some(tenant.id), actor, &change, now).await?;
        tx.commit().await?;
        Ok(())
    }

    /// The tenant's trusted certificates with their roles, current first.
    pub async fn tenant_certificates(
        &self,
        tenant_id: i64,
    ) -> Result<Vec<CertificateRow>, StoreError> {
        let rows = sqlx::query(
            "SELECT id, role, der_base64, created_at, last_verified_at FROM tenant_certificates
             WHERE tenant_id = $1 ORDER BY role = 'next', id",
        )
        .bind(tenant_id)
        .fetch_all(self.pool())
        .await?;
        rows.iter()
            .map(|r| {
                Ok(CertificateRow {
                    id: r.try_get("id")?,
                    role: r.try_get("role")?,
                    der_base64: r.try_get("der_base64")?,
                    created_at: r.try_get("created_at")?,
                    last_verified_at: r.try_get("last_verified_at")?,
                })
            })
            .collect()
    }

    /// Record that this certificate verified a login (at most once a minute).
    pub async fn mark_certificate_used(
        &self,
        tenant_id: i64,
        der_base64: &str,
        now: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        sqlx::query(
            "UPDATE tenant_certificates SET last_verified_at = $1
             WHERE tenant_id = $2 AND der_base64 = $3 AND (last_verified_at IS NULL OR last_verified_at < $1 - 60)",
        )
        .bind(now.timestamp())
        .bind(tenant_id)
        .bind(der_base64)
        .execute(self.pool())
        .await?;
        Ok(())
    }

    // ---- metadata from a URL ------------------------------------------------------------------

    pub async fn metadata_source(
        &self,
        tenant_id: i64,
    ) -> Result<Option<MetadataSource>, StoreError> {
        sqlx::query("SELECT * FROM idp_metadata_sources WHERE tenant_id = $1")
            .bind(tenant_id)
            .fetch_optional(self.pool())
            .await?
            .as_ref()
            .map(source_row)
            .transpose()
    }

    /// Manage the tenant's metadata from `url` (due at once), or stop (`None`). Audited.
    pub async fn set_metadata_source(
        &self,
        tenant: &Tenant,
        url: Option<&str>,
        actor: &Actor,
        now: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        let before = self.metadata_source(tenant.id).await?.map(|s| s.url);
        let mut tx = self.write_tx(tenant.id).await?;
        match url {
            Some(u) => {
                sqlx::query(
                    "INSERT INTO idp_metadata_sources (tenant_id, url, next_refresh_at) VALUES ($1, $2, $3)
                     ON CONFLICT (tenant_id) DO UPDATE SET url = excluded.url, next_refresh_at = excluded.next_refresh_at,
                         etag = NULL, last_modified = NULL, last_error = NULL, last_error_at = NULL",
                )
                .bind(tenant.id)
                .bind(u)
                .bind(now.timestamp())
                .execute(&mut *tx)
                .await?;
            }
            None => {
                sqlx::query("DELETE FROM idp_metadata_sources WHERE tenant_id = $1")
                    .bind(tenant.id)
                    .execute(&mut *tx)
                    .await?;
            }
        }
        let change = Change::new("idp.metadata_url", Some(&tenant.slug))
            .before(json!({ "url": before }))
            .after(json!({ "url": url }));
        audit::insert(&mut tx, Some(tenant.id), actor, &change, now).await?;
        tx.commit().await?;
        Ok(())
    }

    /// Claim the sources due for a refresh: each is pushed `lease_seconds` ahead in one
    /// conditional UPDATE, so when several instances run this at once only one fetches.
    pub async fn claim_due_metadata_sources(
        &self,
        now: DateTime<Utc>,
        lease_seconds: i64,
    ) -> Result<Vec<MetadataSource>, StoreError> {
        let due = sqlx::query("SELECT tenant_id, next_refresh_at FROM idp_metadata_sources WHERE next_refresh_at <= $1")
            .bind(now.timestamp())
            .fetch_all(self.pool())
            .await?;
        let mut out = Vec::new();
        for r in due {
            let tid: i64 = r.try_get("tenant_id")?;
            let was: i64 = r.try_get("next_refresh_at")?;
            let claimed = sqlx::query(
                "UPDATE idp_metadata_sources SET next_refresh_at = $1 WHERE tenant_id = $2 AND next_refresh_at = $3
                 RETURNING *",
            )
            .bind(now.timestamp() + lease_seconds)
            .bind(tid)
            .bind(was)
            .fetch_optional(self.pool())
            .await?;
            if let Some(c) = claimed {
                out.push(source_row(&c)?);
            }
        }
        Ok(out)
    }

    /// A fetch answered 200 with valid metadata (kept as the last good copy) or 304.
    #[allow(clippy::too_many_arguments)]
    pub async fn metadata_fetched(
        &self,
        tenant_id: i64,
        etag: Option<&str>,
        last_modified: Option<&str>,
        valid_until: Option<i64>,
        good_xml: Option<&str>,
        next_refresh_at: i64,
        now: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        sqlx::query(
            "UPDATE idp_metadata_sources SET etag = COALESCE($1, etag), last_modified = COALESCE($2, last_modified),
                 valid_until = COALESCE($3, valid_until), good_xml = COALESCE($4, good_xml), next_refresh_at = $5,
                 fetched_at = $6, last_error = NULL, last_error_at = NULL
             WHERE tenant_id = $7",
        )
        .bind(etag)
        .bind(last_modified)
        .bind(valid_until)
        .bind(good_xml)
        .bind(next_refresh_at)
        .bind(now.timestamp())
        .bind(tenant_id)
        .execute(self.pool())
        .await?;
        Ok(())
    }

    /// A fetch failed (network, HTTP status, invalid or expired metadata): the trust is
    /// unchanged, the error is shown, and it is retried at `next_refresh_at`.
    pub async fn metadata_fetch_failed(
        &self,
        tenant_id: i64,
        error: &str,
        next_refresh_at: i64,
        now: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        sqlx::query(
            "UPDATE idp_metadata_sources SET last_error = $1, last_error_at = $2, next_refresh_at = $3 WHERE tenant_id = $4",
        )
        .bind(error)
        .bind(now.timestamp())
        .bind(next_refresh_at)
        .bind(tenant_id)
        .execute(self.pool())
        .await?;
        Ok(())
    }

    // ---- events -------------------------------------------------------------------------------

    /// A page of a tenant's sign-in events, newest first (`failed_only`: refusals only).
    pub async fn sign_in_events(
        &self,
        tenant_id: i64,
        failed_only: bool,
        offset: i64,
        limit: i64,
    ) -> Result<Vec<EventRow>, StoreError> {
        let rows = sqlx::query(
            "SELECT id, created_at, incident_id, kind, outcome, subject, detail FROM events
             WHERE tenant_id = $1 AND ($2 = 0 OR incident_id IS NOT NULL)
             ORDER BY id DESC LIMIT $3 OFFSET $4",
        )
        .bind(tenant_id)
        .bind(i64::from(failed_only))
        .bind(limit)
        .bind(offset)
        .fetch_all(self.pool())
        .await?;
        rows.iter()
            .map(|r| {
                Ok(EventRow {
                    id: r.try_get("id")?,
                    created_at: r.try_get("created_at")?,
                    incident_id: r.try_get("incident_id")?,
                    kind: r.try_get("kind")?,
                    outcome: r.try_get("outcome")?,
                    subject: r.try_get("subject")?,
                    detail: r.try_get("detail")?,
                })
            })
            .collect()
    }
}
