//! Identity management: the IdP trust of a tenant. Metadata uploaded (file or pasted),
//! fetched from a URL on a schedule, or entered by hand (sign-in URL, issuer, certificate);
//! a validation report on every change; certificate rollover without downtime (add the
//! next certificate, trust both, see which one verified the latest login, retire the old).

use std::collections::HashMap;

use actix_web::http::StatusCode;
use actix_web::http::header::CONTENT_TYPE;
use actix_web::{HttpRequest, HttpResponse, web};
use askama::Template;
use futures_util::StreamExt as _;
use serde::Serialize;
use serde_json::{Value, json};

use super::auth::{Principal, check_csrf, parse_form};
use super::common::{self, Chrome, Fail, Notice, api_write, json_body, rfc3339, when};
use super::refresh::{self, MAX_METADATA_BYTES, Refreshed};
use crate::app::AppState;
use crate::directory::Tenant;
use crate::saml::metadata::MetadataReport;
use crate::saml::{IdpMetadata, TrustedCertificate};
use crate::store::{CertificateRow, IdpConfig, MetadataSource};
use crate::web::pages::html;

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.route("/admin/tenants/{slug}/idp", web::get().to(idp_page))
        .route("/admin/tenants/{slug}/idp", web::post().to(upload_form))
        .route("/admin/tenants/{slug}/idp/url", web::post().to(url_form))
        .route(
            "/admin/tenants/{slug}/idp/url/remove",
            web::post().to(url_remove_form),
        )
        .route(
            "/admin/tenants/{slug}/idp/url/refresh",
            web::post().to(url_refresh_form),
        )
        .route(
            "/admin/tenants/{slug}/idp/manual",
            web::post().to(manual_form),
        )
        .route(
            "/admin/tenants/{slug}/idp/certificates",
            web::post().to(cert_add_form),
        )
        .route(
            "/admin/tenants/{slug}/idp/certificates/{id}/activate",
            web::post().to(cert_activate_form),
        )
        .route(
            "/admin/tenants/{slug}/idp/certificates/{id}/retire",
            web::post().to(cert_retire_form),
        )
        .route("/admin/api/tenants/{slug}/idp", web::get().to(api_idp))
        .route("/admin/api/tenants/{slug}/idp", web::put().to(api_manual))
        .route(
            "/admin/api/tenants/{slug}/idp-metadata",
            web::post().to(api_upload),
        )
        .route(
            "/admin/api/tenants/{slug}/idp/metadata-url",
            web::put().to(api_url_set),
        )
        .route(
            "/admin/api/tenants/{slug}/idp/metadata-url",
            web::delete().to(api_url_remove),
        )
        .route(
            "/admin/api/tenants/{slug}/idp/metadata-url/refresh",
            web::post().to(api_url_refresh),
        )
        .route(
            "/admin/api/tenants/{slug}/idp/certificates",
            web::post().to(api_cert_add),
        )
        .route(
            "/admin/api/tenants/{slug}/idp/certificates/{id}/activate",
            web::post().to(api_cert_activate),
        )
        .route(
            "/admin/api/tenants/{slug}/idp/certificates/{id}",
            web::delete().to(api_cert_retire),
        );
}

/// One trusted certificate as the IdP page shows it.
#[derive(Debug, Clone, Serialize)]
pub struct CertView {
    pub id: i64,
    pub role: String,
    pub subject: String,
    pub sha256: String,
    pub key: String,
    pub signature_algorithm: String,
    pub not_after: String,
    pub days_left: i64,
    pub added: String,
    pub last_verified: String,
    /// This certificate verified the most recent login.
    pub verified_latest: bool,
}

/// The metadata URL's state, for display.
#[derive(Debug, Clone, Serialize)]
pub struct SourceView {
    pub url: String,
    pub fetched: String,
    pub next_refresh: String,
    pub valid_until: String,
    pub last_error: Option<String>,
    pub last_error_at: String,
}

#[derive(Template)]
#[template(path = "admin_idp.html")]
struct IdpPage {
    chrome: Chrome,
    notice: Option<Notice>,
    report: MetadataReport,
    certs: Vec<CertView>,
    source: Option<SourceView>,
    configured: bool,
}

fn cert_views(rows: &[CertificateRow], now: i64) -> Vec<CertView> {
    let latest = rows.iter().filter_map(|r| r.last_verified_at).max();
    rows.iter()
        .filter_map(|r| {
            let c = TrustedCertificate::from_base64_der(&r.der_base64).ok()?;
            Some(CertView {
                id: r.id,
                role: r.role.clone(),
                subject: c.subject().to_string(),
                sha256: c.fingerprint().to_string(),
                key: c.key_description().to_string(),
                signature_algorithm: c.signature_algorithm().to_string(),
                not_after: c.not_after().to_string(),
                days_left: (c.not_after_unix() - now).div_euclid(86_400),
                added: when(Some(r.created_at).filter(|t| *t > 0)),
                last_verified: when(r.last_verified_at),
                verified_latest: latest.is_some() && r.last_verified_at == latest,
            })
        })
        .collect()
}

fn source_view(s: &MetadataSource) -> SourceView {
    SourceView {
        url: s.url.clone(),
        fetched: when(s.fetched_at),
        next_refresh: when(Some(s.next_refresh_at)),
        valid_until: s
            .valid_until
            .map(|v| when(Some(v)))
            .unwrap_or_else(|| "not given".into()),
        last_error: s.last_error.clone(),
        last_error_at: when(s.last_error_at),
    }
}

/// The validation report of what the tenant trusts now.
pub fn current_report(state: &AppState, t: &Tenant) -> MetadataReport {
    let certs: Vec<TrustedCertificate> = t
        .certificates
        .iter()
        .filter_map(|c| TrustedCertificate::from_base64_der(c).ok())
        .collect();
    IdpMetadata {
        entity_id: t.idp_entity_id.clone(),
        sso_url: t.idp_sso_url.clone(),
        slo_url: t.idp_slo_url.clone(),
        want_authn_requests_signed: false,
        name_id_formats: vec![],
        signing_certificates: certs,
        valid_until: None,
        cache_duration: None,
    }
    .report(state.now().timestamp())
}

/// Everything the IdP page and `GET .../idp` show.
struct Status {
    report: MetadataReport,
    certs: Vec<CertView>,
    source: Option<SourceView>,
}

async fn status(state: &AppState, t: &Tenant) -> Result<Status, Fail> {
    let rows = state.db.tenant_certificates(t.id).await?;
    let source = state.db.metadata_source(t.id).await?;
    Ok(Status {
        report: current_report(state, t),
        certs: cert_views(&rows, state.now().timestamp()),
        source: source.as_ref().map(source_view),
    })
}

async fn render(
    state: &AppState,
    p: &Principal,
    slug: &str,
    notice: Option<Notice>,
    code: StatusCode,
) -> HttpResponse {
    // Re-read: the action may have changed the tenant.
    let t = match common::visible_tenant(state, p, slug).await {
        Ok(t) => t,
        Err(f) => return f.page(),
    };
    match status(state, &t).await {
        Ok(s) => html(
            code,
            &IdpPage {
                chrome: Chrome::new(p, &t.slug, "idp"),
                notice,
                configured: !t.certificates.is_empty(),
                report: s.report,
                certs: s.certs,
                source: s.source,
            },
        ),
        Err(f) => f.page(),
    }
}

// ---- the operations (shared by pages and API) --------------------------------------------------

/// "{error} ({code}). {what to do}" for a metadata problem.
fn explain(e: &crate::saml::SamlError) -> String {
    let hint = match e.code() {
        "no_trusted_certificate" => {
            " Okta's metadata always has one: check that you copied the whole document."
        }
        "dtd_forbidden" | "entity_forbidden" => " Metadata with a DOCTYPE is refused for safety.",
        "metadata_invalid" | "xml_malformed" => {
            " Paste the XML from Okta's \"Identity Provider metadata\" link."
        }
        _ => "",
    };
    format!("{e} ({}).{hint}", e.code())
}

/// Validate uploaded metadata and make it the tenant's trust; nothing changes if invalid.
async fn apply_metadata(
    state: &AppState,
    p: &Principal,
    t: &Tenant,
    xml: &[u8],
) -> Result<MetadataReport, Fail> {
    if xml.iter().all(u8::is_ascii_whitespace) {
        return Err(Fail::bad(
            "metadata_missing",
            "No metadata was given: choose the XML file or paste its contents.",
        ));
    }
    let now = state.now();
    let md = IdpMetadata::parse(xml).map_err(|e| Fail::bad(e.code(), explain(&e)))?;
    if md.expired(now) {
        return Err(Fail::bad(
            "metadata_expired",
            format!(
                "This metadata expired (validUntil {}). Download a fresh copy from the IdP.",
                md.valid_until.map(|v| v.to_rfc3339()).unwrap_or_default()
            ),
        ));
    }
    state
        .db
        .set_idp(
            t,
            &refresh::config_of(&md),
            "idp.metadata_upload",
            &p.actor(),
            now,
        )
        .await?;
    Ok(md.report(now.timestamp()))
}

/// A certificate given as PEM or as the base64 of its DER (as Okta shows it).
fn parse_certificate(text: &str) -> Result<TrustedCertificate, Fail> {
    let t = text.trim();
    if t.is_empty() {
        return Err(Fail::bad(
            "certificate_missing",
            "Paste the X.509 certificate (PEM, or the base64 text Okta shows).",
        ));
    }
    let cert = if t.contains("-----BEGIN") {
        openssl::x509::X509::from_pem(t.as_bytes())
            .map_err(|e| {
                Fail::bad(
                    "certificate_invalid",
                    format!("This is not a PEM certificate: {e}"),
                )
            })
            .and_then(|c| {
                TrustedCertificate::from_x509(&c).map_err(|e| Fail::bad(e.code(), e.to_string()))
            })?
    } else {
        let b64: String = t.chars().filter(|c| !c.is_whitespace()).collect();
        TrustedCertificate::from_base64_der(&b64).map_err(|e| {
            Fail::bad(
                e.code(),
                format!("This is not a certificate (PEM or base64 DER): {e}"),
            )
        })?
    };
    Ok(cert)
}

/// An `https://` URL (the IdP's sign-in or logout endpoint).
fn endpoint(label: &str, v: &str, required: bool) -> Result<Option<String>, Fail> {
    let v = v.trim();
    if v.is_empty() {
        return if required {
            Err(Fail::bad("field_missing", format!("{label} is required.")))
        } else {
            Ok(None)
        };
    }
    match url::Url::parse(v) {
        Ok(u) if u.scheme() == "https" => Ok(Some(v.to_string())),
        _ => Err(Fail::bad(
            "url_invalid",
            format!(
                "{label} must be an https:// URL, e.g. https://acme.okta.com/app/acme_8x8/exk1/sso/saml"
            ),
        )),
    }
}

/// Hand-entered trust, the way 8x8 admins fill it in: sign-in URL, issuer, certificate.
async fn apply_manual(
    state: &AppState,
    p: &Principal,
    t: &Tenant,
    fields: &HashMap<String, String>,
) -> Result<MetadataReport, Fail> {
    let f = |k: &str| fields.get(k).map(String::as_str).unwrap_or("");
    let issuer = f("issuer").trim();
    if issuer.is_empty() {
        return Err(Fail::bad(
            "field_missing",
            "The IdP issuer (Okta: \"Identity Provider Issuer\") is required.",
        ));
    }
    let sso = endpoint(
        "The sign-in URL (Okta: \"Identity Provider Single Sign-On URL\")",
        f("sso_url"),
        true,
    )?;
    let slo = endpoint("The logout URL", f("slo_url"), false)?;
    let cert = parse_certificate(f("certificate"))?;
    let cfg = IdpConfig {
        entity_id: issuer.to_string(),
        sso_url: sso,
        slo_url: slo,
        certificates: vec![cert.der_base64().to_string()],
    };
    let now = state.now();
    state
        .db
        .set_idp(t, &cfg, "idp.manual", &p.actor(), now)
        .await?;
    let md = IdpMetadata {
        entity_id: cfg.entity_id,
        sso_url: cfg.sso_url,
        slo_url: cfg.slo_url,
        want_authn_requests_signed: false,
        name_id_formats: vec![],
        signing_certificates: vec![cert],
        valid_until: None,
        cache_duration: None,
    };
    Ok(md.report(now.timestamp()))
}

/// Trust one more certificate (the next Okta certificate, before it is activated there).
async fn add_certificate(
    state: &AppState,
    p: &Principal,
    t: &Tenant,
    text: &str,
) -> Result<String, Fail> {
    if t.idp_entity_id.is_empty() {
        return Err(Fail::bad(
            "idp_not_configured",
            "Configure the IdP first (metadata or the fields by hand); then add further certificates.",
        ));
    }
    let cert = parse_certificate(text)?;
    let der = cert.der_base64().to_string();
    if t.certificates.contains(&der) {
        return Err(Fail::new(
            StatusCode::CONFLICT,
            "certificate_already_trusted",
            format!("The certificate {} is already trusted.", cert.fingerprint()),
        ));
    }
    let mut cfg = IdpConfig::of(t);
    cfg.certificates.push(der);
    state
        .db
        .set_idp(t, &cfg, "idp.certificate_add", &p.actor(), state.now())
        .await?;
    Ok(cert.fingerprint().to_string())
}

async fn cert_by_id(state: &AppState, t: &Tenant, id: i64) -> Result<CertificateRow, Fail> {
    state
        .db
        .tenant_certificates(t.id)
        .await?
        .into_iter()
        .find(|r| r.id == id)
        .ok_or_else(Fail::not_found)
}

/// Make a trusted certificate the current one (the others stay trusted as "next").
async fn activate_certificate(
    state: &AppState,
    p: &Principal,
    t: &Tenant,
    id: i64,
) -> Result<(), Fail> {
    let row = cert_by_id(state, t, id).await?;
    let mut cfg = IdpConfig::of(t);
    cfg.certificates.retain(|c| c != &row.der_base64);
    cfg.certificates.insert(0, row.der_base64);
    state
        .db
        .set_idp(t, &cfg, "idp.certificate_activate", &p.actor(), state.now())
        .await?;
    Ok(())
}

/// Stop trusting a certificate (never the last one).
async fn retire_certificate(
    state: &AppState,
    p: &Principal,
    t: &Tenant,
    id: i64,
) -> Result<(), Fail> {
    let row = cert_by_id(state, t, id).await?;
    if t.certificates.len() <= 1 {
        return Err(Fail::new(
            StatusCode::CONFLICT,
            "last_certificate",
            "This is the only trusted certificate; retiring it would stop every sign-in. Add the new one first.",
        ));
    }
    let mut cfg = IdpConfig::of(t);
    cfg.certificates.retain(|c| c != &row.der_base64);
    state
        .db
        .set_idp(t, &cfg, "idp.certificate_retire", &p.actor(), state.now())
        .await?;
    Ok(())
}

/// Manage the metadata from a URL: fetched and applied now (refused, and nothing saved, if
/// that fails), then refreshed on a schedule.
async fn set_url(
    state: &AppState,
    p: &Principal,
    t: &Tenant,
    raw: &str,
) -> Result<Refreshed, Fail> {
    let url = refresh::check_url(raw, state.allow_http_metadata)
        .map_err(|m| Fail::bad("url_invalid", m))?;
    let now = state.now();
    let fetched = refresh::fetch(&url, None, None)
        .await
        .map_err(|m| Fail::new(StatusCode::BAD_GATEWAY, "metadata_fetch_failed", m))?;
    let refresh::Fetched::Body { bytes, .. } = fetched else {
        return Err(Fail::new(
            StatusCode::BAD_GATEWAY,
            "metadata_fetch_failed",
            "the server answered 304 Not Modified to an unconditional request",
        ));
    };
    refresh::usable(&bytes, now).map_err(|m| Fail::bad("metadata_invalid", m))?;
    state
        .db
        .set_metadata_source(t, Some(url.as_str()), &p.actor(), now)
        .await?;
    refresh_now(state, p, t).await
}

async fn refresh_now(state: &AppState, p: &Principal, t: &Tenant) -> Result<Refreshed, Fail> {
    let src = state.db.metadata_source(t.id).await?.ok_or_else(|| {
        Fail::bad(
            "no_metadata_url",
            "This organization's metadata is not managed from a URL.",
        )
    })?;
    match refresh::refresh(state, t, &src, &p.actor()).await? {
        Ok(r) => Ok(r),
        Err(m) => Err(Fail::new(
            StatusCode::BAD_GATEWAY,
            "metadata_refresh_failed",
            m,
        )),
    }
}

async fn remove_url(state: &AppState, p: &Principal, t: &Tenant) -> Result<(), Fail> {
    if state.db.metadata_source(t.id).await?.is_none() {
        return Err(Fail::bad("no_metadata_url", "No metadata URL is set."));
    }
    state
        .db
        .set_metadata_source(t, None, &p.actor(), state.now())
        .await?;
    Ok(())
}

fn refreshed_text(r: &Refreshed) -> &'static str {
    match r {
        Refreshed::Applied => "The metadata was fetched and the new IdP configuration is active.",
        Refreshed::Unchanged => "The metadata was fetched; the IdP configuration is unchanged.",
        Refreshed::NotModified => "The metadata has not changed since the last fetch.",
    }
}

// ---- pages ------------------------------------------------------------------------------------

async fn idp_page(
    state: web::Data<AppState>,
    req: HttpRequest,
    path: web::Path<String>,
) -> HttpResponse {
    let (p, t) = match common::tenant_page(&state, &req, &path).await {
        Ok(v) => v,
        Err(r) => return r,
    };
    let notice = match common::query_map(&req).get("done").map(String::as_str) {
        Some("created") => Some(Notice::Done(
            "The organization was created. Set up its identity provider below, then follow the Okta setup tab.".into(),
        )),
        _ => None,
    };
    render(&state, &p, &t.slug, notice, StatusCode::OK).await
}

/// Run an action of the IdP page and show the page with its outcome.
async fn act<F, Fut>(
    state: &web::Data<AppState>,
    req: &HttpRequest,
    slug: &str,
    form: &HashMap<String, String>,
    f: F,
) -> HttpResponse
where
    F: FnOnce(web::Data<AppState>, Principal, Tenant) -> Fut,
    Fut: std::future::Future<Output = Result<String, Fail>>,
{
    let (p, t) = match common::tenant_page(state, req, slug).await {
        Ok(v) => v,
        Err(r) => return r,
    };
    if let Err(r) = check_csrf(state, req, &p, form) {
        return r;
    }
    let slug = t.slug.clone();
    match f(state.clone(), p.clone(), t).await {
        Ok(done) => render(state, &p, &slug, Some(Notice::Done(done)), StatusCode::OK).await,
        Err(fail) => {
            render(
                state,
                &p,
                &slug,
                Some(Notice::Failed(format!("Not applied: {}", fail.message))),
                fail.status,
            )
            .await
        }
    }
}

/// A form body: multipart (a file field `metadata_file` and text fields) or urlencoded.
async fn read_form(
    req: &HttpRequest,
    mut payload: web::Payload,
) -> Result<HashMap<String, String>, Fail> {
    let too_big = || {
        Fail::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            "too_large",
            "The upload is larger than 2 MiB.",
        )
    };
    let is_multipart = req
        .headers()
        .get(CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("multipart/form-data"));
    if !is_multipart {
        let mut body = web::BytesMut::new();
        while let Some(chunk) = payload.next().await {
            let chunk = chunk.map_err(|e| match e {
                actix_web::error::PayloadError::Overflow => too_big(),
                e => Fail::bad("body_invalid", e.to_string()),
            })?;
            if body.len() + chunk.len() > MAX_METADATA_BYTES * 2 {
                return Err(too_big());
            }
            body.extend_from_slice(&chunk);
        }
        return Ok(parse_form(&body));
    }
    let mut mp = actix_multipart::Multipart::new(req.headers(), payload);
    let mut out = HashMap::new();
    let mut total = 0usize;
    while let Some(field) = mp.next().await {
        let mut field = field.map_err(|e| match e {
            actix_multipart::MultipartError::Payload(actix_web::error::PayloadError::Overflow) => {
                too_big()
            }
            e => Fail::bad("body_invalid", e.to_string()),
        })?;
        let name = field.name().unwrap_or_default().to_string();
        let mut value = Vec::new();
        while let Some(chunk) = field.next().await {
            let chunk = chunk.map_err(|e| match e {
                actix_multipart::MultipartError::Payload(
                    actix_web::error::PayloadError::Overflow,
                ) => too_big(),
                e => Fail::bad("body_invalid", e.to_string()),
            })?;
            total += chunk.len();
            if total > MAX_METADATA_BYTES * 2 {
                return Err(too_big());
            }
            value.extend_from_slice(&chunk);
        }
        let text = String::from_utf8(value).map_err(|_| {
            Fail::bad(
                "encoding_unsupported",
                "The file is not UTF-8 text; SAML metadata is XML in UTF-8.",
            )
        })?;
        out.entry(name).or_insert(text);
    }
    Ok(out)
}

async fn upload_form(
    state: web::Data<AppState>,
    req: HttpRequest,
    path: web::Path<String>,
    payload: web::Payload,
) -> HttpResponse {
    let form = match read_form(&req, payload).await {
        Ok(f) => f,
        Err(f) => return f.page(),
    };
    let xml = form
        .get("metadata_file")
        .filter(|s| !s.trim().is_empty())
        .or_else(|| form.get("metadata"))
        .cloned()
        .unwrap_or_default();
    act(&state, &req, &path, &form, |state, p, t| async move {
        apply_metadata(&state, &p, &t, xml.trim().as_bytes())
            .await
            .map(|_| "The new IdP metadata is active.".to_string())
    })
    .await
}

async fn url_form(
    state: web::Data<AppState>,
    req: HttpRequest,
    path: web::Path<String>,
    body: web::Bytes,
) -> HttpResponse {
    let form = parse_form(&body);
    let url = form.get("url").cloned().unwrap_or_default();
    act(&state, &req, &path, &form, |state, p, t| async move {
        set_url(&state, &p, &t, &url)
            .await
            .map(|r| refreshed_text(&r).to_string())
    })
    .await
}

async fn url_remove_form(
    state: web::Data<AppState>,
    req: HttpRequest,
    path: web::Path<String>,
    body: web::Bytes,
) -> HttpResponse {
    let form = parse_form(&body);
    act(&state, &req, &path, &form, |state, p, t| async move {
        remove_url(&state, &p, &t).await.map(|_| {
            "The metadata is no longer refreshed from the URL; the current configuration stays."
                .to_string()
        })
    })
    .await
}

async fn url_refresh_form(
    state: web::Data<AppState>,
    req: HttpRequest,
    path: web::Path<String>,
    body: web::Bytes,
) -> HttpResponse {
    let form = parse_form(&body);
    act(&state, &req, &path, &form, |state, p, t| async move {
        refresh_now(&state, &p, &t)
            .await
            .map(|r| refreshed_text(&r).to_string())
    })
    .await
}

async fn manual_form(
    state: web::Data<AppState>,
    req: HttpRequest,
    path: web::Path<String>,
    body: web::Bytes,
) -> HttpResponse {
    let form = parse_form(&body);
    let fields = form.clone();
    act(&state, &req, &path, &form, |state, p, t| async move {
        apply_manual(&state, &p, &t, &fields)
            .await
            .map(|_| "The IdP configuration entered by hand is active.".to_string())
    })
    .await
}

async fn cert_add_form(
    state: web::Data<AppState>,
    req: HttpRequest,
    path: web::Path<String>,
    body: web::Bytes,
) -> HttpResponse {
    let form = parse_form(&body);
    let text = form.get("certificate").cloned().unwrap_or_default();
    act(&state, &req, &path, &form, |state, p, t| async move {
        add_certificate(&state, &p, &t, &text).await.map(|fp| {
            format!("The certificate {fp} is now trusted as well. Activate it in Okta when ready; sign-ins work with either.")
        })
    })
    .await
}

async fn cert_activate_form(
    state: web::Data<AppState>,
    req: HttpRequest,
    path: web::Path<(String, i64)>,
    body: web::Bytes,
) -> HttpResponse {
    let (slug, id) = path.into_inner();
    let form = parse_form(&body);
    act(&state, &req, &slug, &form, |state, p, t| async move {
        activate_certificate(&state, &p, &t, id)
            .await
            .map(|_| "The certificate is now marked current.".to_string())
    })
    .await
}

async fn cert_retire_form(
    state: web::Data<AppState>,
    req: HttpRequest,
    path: web::Path<(String, i64)>,
    body: web::Bytes,
) -> HttpResponse {
    let (slug, id) = path.into_inner();
    let form = parse_form(&body);
    act(&state, &req, &slug, &form, |state, p, t| async move {
        retire_certificate(&state, &p, &t, id)
            .await
            .map(|_| "The certificate is no longer trusted.".to_string())
    })
    .await
}

// ---- API --------------------------------------------------------------------------------------

async fn api_status(state: &AppState, slug: &str, p: &Principal) -> HttpResponse {
    let t = match common::visible_tenant(state, p, slug).await {
        Ok(t) => t,
        Err(f) => return f.json(),
    };
    let s = match status(state, &t).await {
        Ok(s) => s,
        Err(f) => return f.json(),
    };
    let src = state.db.metadata_source(t.id).await.ok().flatten();
    HttpResponse::Ok().json(json!({
        "entity_id": t.idp_entity_id,
        "sso_url": t.idp_sso_url,
        "slo_url": t.idp_slo_url,
        "report": s.report,
        "certificates": s.certs,
        "metadata_url": src.map(|m| json!({
            "url": m.url,
            "fetched_at": rfc3339(m.fetched_at),
            "next_refresh_at": rfc3339(Some(m.next_refresh_at)),
            "valid_until": rfc3339(m.valid_until),
            "last_error": m.last_error,
            "last_error_at": rfc3339(m.last_error_at),
        })),
    }))
}

/// Gate, run an API action, then answer with the IdP status (or the failure).
async fn api_act<F, Fut>(
    state: &web::Data<AppState>,
    req: &HttpRequest,
    slug: &str,
    f: F,
) -> HttpResponse
where
    F: FnOnce(web::Data<AppState>, Principal, Tenant) -> Fut,
    Fut: std::future::Future<Output = Result<Value, Fail>>,
{
    let (p, t) = match common::tenant_api(state, req, slug).await {
        Ok(v) => v,
        Err(r) => return r,
    };
    if let Err(r) = api_write(state, req, &p) {
        return r;
    }
    match f(state.clone(), p.clone(), t).await {
        Ok(v) => HttpResponse::Ok().json(v),
        Err(fail) => fail.json(),
    }
}

async fn api_idp(
    state: web::Data<AppState>,
    req: HttpRequest,
    path: web::Path<String>,
) -> HttpResponse {
    match common::tenant_api(&state, &req, &path).await {
        Ok((p, t)) => api_status(&state, &t.slug, &p).await,
        Err(r) => r,
    }
}

async fn api_upload(
    state: web::Data<AppState>,
    req: HttpRequest,
    path: web::Path<String>,
    body: web::Bytes,
) -> HttpResponse {
    api_act(&state, &req, &path, |state, p, t| async move {
        apply_metadata(&state, &p, &t, &body)
            .await
            .map(|report| json!({"applied": true, "report": report}))
    })
    .await
}

fn str_field(v: &Value, k: &str) -> String {
    v.get(k).and_then(Value::as_str).unwrap_or("").to_string()
}

async fn api_manual(
    state: web::Data<AppState>,
    req: HttpRequest,
    path: web::Path<String>,
    body: web::Bytes,
) -> HttpResponse {
    api_act(&state, &req, &path, |state, p, t| async move {
        let v = json_body(&body)?;
        let fields: HashMap<String, String> = ["issuer", "sso_url", "slo_url", "certificate"]
            .iter()
            .map(|k| (k.to_string(), str_field(&v, k)))
            .collect();
        apply_manual(&state, &p, &t, &fields)
            .await
            .map(|report| json!({"applied": true, "report": report}))
    })
    .await
}

async fn api_url_set(
    state: web::Data<AppState>,
    req: HttpRequest,
    path: web::Path<String>,
    body: web::Bytes,
) -> HttpResponse {
    api_act(&state, &req, &path, |state, p, t| async move {
        let v = json_body(&body)?;
        set_url(&state, &p, &t, &str_field(&v, "url"))
            .await
            .map(|r| json!({"applied": r == Refreshed::Applied, "message": refreshed_text(&r)}))
    })
    .await
}

async fn api_url_remove(
    state: web::Data<AppState>,
    req: HttpRequest,
    path: web::Path<String>,
) -> HttpResponse {
    api_act(&state, &req, &path, |state, p, t| async move {
        remove_url(&state, &p, &t)
            .await
            .map(|_| json!({"removed": true}))
    })
    .await
}

async fn api_url_refresh(
    state: web::Data<AppState>,
    req: HttpRequest,
    path: web::Path<String>,
) -> HttpResponse {
    api_act(&state, &req, &path, |state, p, t| async move {
        refresh_now(&state, &p, &t)
            .await
            .map(|r| json!({"applied": r == Refreshed::Applied, "message": refreshed_text(&r)}))
    })
    .await
}

async fn api_cert_add(
    state: web::Data<AppState>,
    req: HttpRequest,
    path: web::Path<String>,
    body: web::Bytes,
) -> HttpResponse {
    api_act(&state, &req, &path, |state, p, t| async move {
        let v = json_body(&body)?;
        add_certificate(&state, &p, &t, &str_field(&v, "certificate"))
            .await
            .map(|fp| json!({"added": fp}))
    })
    .await
}

async fn api_cert_activate(
    state: web::Data<AppState>,
    req: HttpRequest,
    path: web::Path<(String, i64)>,
) -> HttpResponse {
    let (slug, id) = path.into_inner();
    api_act(&state, &req, &slug, |state, p, t| async move {
        activate_certificate(&state, &p, &t, id)
            .await
            .map(|_| json!({"activated": id}))
    })
    .await
}

async fn api_cert_retire(
    state: web::Data<AppState>,
    req: HttpRequest,
    path: web::Path<(String, i64)>,
) -> HttpResponse {
    let (slug, id) = path.into_inner();
    api_act(&state, &req, &slug, |state, p, t| async move {
        retire_certificate(&state, &p, &t, id)
            .await
            .map(|_| json!({"retired": id}))
    })
    .await
}
