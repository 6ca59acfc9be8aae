//! IdP metadata by URL: fetched at once when an admin sets the URL, then refreshed on a
//! schedule with a conditional GET (`If-None-Match` / `If-Modified-Since`). A refresh that
//! fails (network, status, invalid or expired metadata) changes nothing: the last good copy
//! stays trusted and the error is shown on the IdP page. Safe on every instance at once:
//! each due source is claimed by one conditional UPDATE.

use std::time::Duration as StdDuration;

use chrono::Duration;

use crate::app::AppState;
use crate::directory::Tenant;
use crate::saml::IdpMetadata;
use crate::store::{Actor, IdpConfig, MetadataSource, StoreError};

/// Largest metadata document accepted.
pub const MAX_METADATA_BYTES: usize = 1024 * 1024;
/// Refresh interval when the metadata has no cacheDuration.
pub const DEFAULT_REFRESH: Duration = Duration::hours(4);
/// Bounds of the refresh interval.
pub const MIN_REFRESH: Duration = Duration::minutes(5);
pub const MAX_REFRESH: Duration = Duration::hours(24);
/// Retry delay after a failed refresh.
pub const RETRY_AFTER_FAILURE: Duration = Duration::minutes(15);
/// How long a claimed refresh may take before another instance may try.
const LEASE_SECONDS: i64 = 120;
const TIMEOUT: StdDuration = StdDuration::from_secs(10);

/// What a conditional GET returned.
#[derive(Debug)]
pub enum Fetched {
    NotModified,
    Body {
        bytes: Vec<u8>,
        etag: Option<String>,
        last_modified: Option<String>,
    },
}

/// Only `https://` URLs (plain `http://` too when the server allows it, for tests and
/// local development): the metadata decides whom we trust.
pub fn check_url(raw: &str, allow_http: bool) -> Result<url::Url, String> {
    let u =
        url::Url::parse(raw.trim()).map_err(|e| format!("'{}' is not a URL ({e})", raw.trim()))?;
    match u.scheme() {
        "https" => {}
        "http" if allow_http => {}
        "http" => {
            return Err(
                "the metadata URL must use https: the metadata decides which keys are trusted"
                    .into(),
            );
        }
        other => return Err(format!("the metadata URL must use https, not {other}")),
    }
    if u.host_str().is_none_or(str::is_empty) || !u.username().is_empty() || u.password().is_some()
    {
        return Err("the metadata URL must name a host, without a user name or password".into());
    }
    Ok(u)
}

/// GET the URL (no redirects, 10 s, at most 1 MiB), conditionally when a validator is known.
pub async fn fetch(
    url: &url::Url,
    etag: Option<&str>,
    last_modified: Option<&str>,
) -> Result<Fetched, String> {
    let client = awc::Client::builder()
        .timeout(TIMEOUT)
        .disable_redirects()
        .finish();
    let mut req = client
        .get(url.as_str())
        .insert_header((
            "Accept",
            "application/samlmetadata+xml, application/xml;q=0.9, text/xml;q=0.8",
        ))
        .insert_header(("User-Agent", "sso-gateway metadata refresh"));
    if let Some(e) = etag {
        req = req.insert_header(("If-None-Match", e));
    }
    if let Some(m) = last_modified {
        req = req.insert_header(("If-Modified-Since", m));
    }
    let mut resp = req
        .send()
        .await
        .map_err(|e| format!("could not fetch {url}: {e}"))?;
    let status = resp.status();
    if status.as_u16() == 304 {
        return Ok(Fetched::NotModified);
    }
    if status.is_redirection() {
        let to = resp
            .headers()
            .get("location")
            .and_then(|v| v.to_str().ok())
            .unwrap_or("?");
        return Err(format!(
            "{url} redirects ({status}) to {to}: enter the final address instead"
        ));
    }
    if !status.is_success() {
        return Err(format!("{url} answered {status}"));
    }
    let header = |name: &str| {
        resp.headers()
            .get(name)
            .and_then(|v| v.to_str().ok())
            .map(str::to_string)
    };
    let (etag, last_modified) = (header("etag"), header("last-modified"));
    let bytes = resp
        .body()
        .limit(MAX_METADATA_BYTES)
        .await
        .map_err(|e| format!("reading {url}: {e}"))?;
    Ok(Fetched::Body {
        bytes: bytes.to_vec(),
        etag,
        last_modified,
    })
}

/// Parse fetched (or uploaded) metadata for use now: valid, signed keys, not expired.
pub fn usable(bytes: &[u8], now: chrono::DateTime<chrono::Utc>) -> Result<IdpMetadata, String> {
    let md = IdpMetadata::parse(bytes).map_err(|e| format!("{e} ({})", e.code()))?;
    if md.expired(now) {
        return Err(format!(
            "the metadata expired (validUntil {}); the IdP must publish a fresh copy",
            md.valid_until.map(|v| v.to_rfc3339()).unwrap_or_default()
        ));
    }
    Ok(md)
}

/// The trust a metadata document establishes, as stored.
pub fn config_of(md: &IdpMetadata) -> IdpConfig {
    IdpConfig {
        entity_id: md.entity_id.clone(),
        sso_url: md.sso_url.clone(),
        slo_url: md.slo_url.clone(),
        certificates: md
            .signing_certificates
            .iter()
            .map(|c| c.der_base64().to_string())
            .collect(),
    }
}

/// Same trust (entity, endpoints, the same set of certificates)?
fn same_trust(t: &Tenant, new: &IdpConfig) -> bool {
    let mut a = t.certificates.clone();
    let mut b = new.certificates.clone();
    a.sort();
    b.sort();
    t.idp_entity_id == new.entity_id
        && t.idp_sso_url == new.sso_url
        && t.idp_slo_url == new.slo_url
        && a == b
}

/// The result of refreshing one source.
#[derive(Debug, PartialEq, Eq)]
pub enum Refreshed {
    NotModified,
    Unchanged,
    Applied,
}

/// Fetch one tenant's metadata now and apply it when it changed. Errors are recorded on
/// the source (and returned); the trust is then unchanged.
pub async fn refresh(
    state: &AppState,
    tenant: &Tenant,
    src: &MetadataSource,
    actor: &Actor,
) -> Result<Result<Refreshed, String>, StoreError> {
    let now = state.now();
    match refresh_inner(state, tenant, src, actor).await {
        Ok(Ok(r)) => Ok(Ok(r)),
        Ok(Err(msg)) => {
            let next = (now + RETRY_AFTER_FAILURE).timestamp();
            state
                .db
                .metadata_fetch_failed(tenant.id, &msg, next, now)
                .await?;
            tracing::warn!(tenant = %tenant.slug, error = %msg, "metadata refresh failed");
            Ok(Err(msg))
        }
        Err(e) => Err(e),
    }
}

async fn refresh_inner(
    state: &AppState,
    tenant: &Tenant,
    src: &MetadataSource,
    actor: &Actor,
) -> Result<Result<Refreshed, String>, StoreError> {
    let now = state.now();
    let url = match check_url(&src.url, state.allow_http_metadata) {
        Ok(u) => u,
        Err(e) => return Ok(Err(e)),
    };
    let fetched = match fetch(&url, src.etag.as_deref(), src.last_modified.as_deref()).await {
        Ok(f) => f,
        Err(e) => return Ok(Err(e)),
    };
    let (bytes, etag, last_modified) = match fetched {
        Fetched::NotModified => {
            // The copy we hold is still current; it must not have expired meanwhile.
            let Some(xml) = src.good_xml.as_deref() else {
                return Ok(Err("the server answered 304 but no copy is held".into()));
            };
            let md = match usable(xml.as_bytes(), now) {
                Ok(m) => m,
                Err(e) => return Ok(Err(e)),
            };
            let next = (now + md.refresh_after(now, DEFAULT_REFRESH, MIN_REFRESH, MAX_REFRESH))
                .timestamp();
            state
                .db
                .metadata_fetched(tenant.id, None, None, None, None, next, now)
                .await?;
            return Ok(Ok(Refreshed::NotModified));
        }
        Fetched::Body {
            bytes,
            etag,
            last_modified,
        } => (bytes, etag, last_modified),
    };
    let md = match usable(&bytes, now) {
        Ok(m) => m,
        Err(e) => return Ok(Err(e)),
    };
    let cfg = config_of(&md);
    let changed = !same_trust(tenant, &cfg);
    if changed {
        state
            .db
            .set_idp(tenant, &cfg, "idp.metadata_refresh", actor, now)
            .await?;
    }
    let next = (now + md.refresh_after(now, DEFAULT_REFRESH, MIN_REFRESH, MAX_REFRESH)).timestamp();
    let xml = String::from_utf8_lossy(&bytes).into_owned();
    state
        .db
        .metadata_fetched(
            tenant.id,
            etag.as_deref(),
            last_modified.as_deref(),
            md.valid_until.map(|v| v.timestamp()),
            Some(&xml),
            next,
            now,
        )
        .await?;
    Ok(Ok(if changed {
        Refreshed::Applied
    } else {
        Refreshed::Unchanged
    }))
}

/// Refresh every due source once (the scheduled job).
pub async fn refresh_due(state: &AppState) -> Result<usize, StoreError> {
    let due = state
        .db
        .claim_due_metadata_sources(state.now(), LEASE_SECONDS)
        .await?;
    let n = due.len();
    for src in due {
        if let Some(t) = state.db.tenant_by_id(src.tenant_id).await? {
            // A failure is recorded on the source and retried later.
            let _ = refresh(state, &t, &src, &Actor::system()).await?;
        }
    }
    Ok(n)
}

/// Run `refresh_due` every minute in the background.
pub fn spawn(state: AppState) {
    actix_web::rt::spawn(async move {
        let mut tick = actix_web::rt::time::interval(StdDuration::from_secs(60));
        loop {
            tick.tick().await;
            if let Err(e) = refresh_due(&state).await {
                tracing::error!(error = %e, "metadata refresh job failed");
            }
        }
    });
}
