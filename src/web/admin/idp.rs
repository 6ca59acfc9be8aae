//! Identity management: upload IdP metadata with a validation report (certificates,
//! keys, expiry, warnings); several certificates are trusted at once for a rollover.

use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, web};
use askama::Template;
use serde_json::json;

use super::auth::{check_csrf, parse_form};
use super::{api_error, role_label, tenant_for_api, tenant_for_page};
use crate::app::AppState;
use crate::directory::Tenant;
use crate::saml::metadata::MetadataReport;
use crate::saml::{IdpMetadata, SamlError, TrustedCertificate};
use crate::store::{AdminSession, NewTenant};
use crate::web::pages::{html, store_failure};

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.route("/admin/tenants/{slug}/idp", web::get().to(idp_page))
        .route("/admin/tenants/{slug}/idp", web::post().to(idp_upload))
        .route(
            "/admin/api/tenants/{slug}/idp-metadata",
            web::post().to(api_idp_upload),
        );
}

#[derive(Template)]
#[template(path = "admin_idp.html")]
struct IdpPage<'a> {
    email: &'a str,
    role: &'a str,
    csrf: &'a str,
    slug: &'a str,
    report: MetadataReport,
    error: Option<String>,
    applied: bool,
}

/// The report of what a tenant trusts now.
fn current_report(state: &AppState, t: &Tenant) -> MetadataReport {
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
    }
    .report(state.now().timestamp())
}

/// Parse and apply metadata; nothing changes unless it is valid.
async fn apply(
    state: &AppState,
    s: &AdminSession,
    t: &Tenant,
    xml: &[u8],
) -> Result<Result<MetadataReport, SamlError>, crate::store::StoreError> {
    let md = match IdpMetadata::parse(xml) {
        Ok(m) => m,
        Err(e) => return Ok(Err(e)),
    };
    let update = NewTenant {
        slug: t.slug.clone(),
        display_name: t.display_name.clone(),
        idp_entity_id: md.entity_id.clone(),
        idp_sso_url: md.sso_url.clone(),
        idp_slo_url: md.slo_url.clone(),
        allow_idp_initiated: t.allow_idp_initiated,
        email_domains: t.email_domains.clone(),
        allowed_return_urls: t.allowed_return_urls.clone(),
        certificates: md
            .signing_certificates
            .iter()
            .map(|c| c.der_base64().to_string())
            .collect(),
    };
    state.db.update_tenant_idp(t.id, &update).await?;
    let now = state.now();
    let fps: Vec<&str> = md
        .signing_certificates
        .iter()
        .map(|c| c.fingerprint())
        .collect();
    let detail = format!(
        "entity {} -> {}; certificates {}",
        t.idp_entity_id,
        md.entity_id,
        fps.join(", ")
    );
    state
        .db
        .record_audit(
            Some(t.id),
            &s.admin.email,
            "tenant.idp_metadata",
            Some(&t.slug),
            &detail,
            now,
        )
        .await?;
    Ok(Ok(md.report(now.timestamp())))
}

fn explain(e: &SamlError) -> String {
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

async fn idp_page(
    state: web::Data<AppState>,
    req: HttpRequest,
    path: web::Path<String>,
) -> HttpResponse {
    let (s, t) = match tenant_for_page(&state, &req, &path).await {
        Ok(v) => v,
        Err(r) => return r,
    };
    let report = current_report(&state, &t);
    html(
        StatusCode::OK,
        &IdpPage {
            email: &s.admin.email,
            role: role_label(s.admin.role),
            csrf: &s.csrf_token,
            slug: &t.slug,
            report,
            error: None,
            applied: false,
        },
    )
}

async fn idp_upload(
    state: web::Data<AppState>,
    req: HttpRequest,
    path: web::Path<String>,
    body: web::Bytes,
) -> HttpResponse {
    let (s, t) = match tenant_for_page(&state, &req, &path).await {
        Ok(v) => v,
        Err(r) => return r,
    };
    let form = parse_form(&body);
    if let Err(r) = check_csrf(&state, &req, &s, &form) {
        return r;
    }
    let xml = form
        .get("metadata")
        .map(String::as_str)
        .unwrap_or("")
        .trim();
    let (status, report, error, applied) = match apply(&state, &s, &t, xml.as_bytes()).await {
        Ok(Ok(report)) => (StatusCode::OK, report, None, true),
        Ok(Err(e)) => (
            StatusCode::BAD_REQUEST,
            current_report(&state, &t),
            Some(explain(&e)),
            false,
        ),
        Err(e) => return store_failure(&e),
    };
    html(
        status,
        &IdpPage {
            email: &s.admin.email,
            role: role_label(s.admin.role),
            csrf: &s.csrf_token,
            slug: &t.slug,
            report,
            error,
            applied,
        },
    )
}

async fn api_idp_upload(
    state: web::Data<AppState>,
    req: HttpRequest,
    path: web::Path<String>,
    body: web::Bytes,
) -> HttpResponse {
    let (s, t) = match tenant_for_api(&state, &req, &path).await {
        Ok(v) => v,
        Err(r) => return r,
    };
    if let Err(r) = check_csrf(&state, &req, &s, &Default::default()) {
        return r;
    }
    match apply(&state, &s, &t, &body).await {
        Ok(Ok(report)) => HttpResponse::Ok().json(json!({"applied": true, "report": report})),
        Ok(Err(e)) => HttpResponse::BadRequest()
            .json(json!({"applied": false, "error": e.code(), "message": explain(&e)})),
        Err(_) => api_error(StatusCode::SERVICE_UNAVAILABLE, "unavailable"),
    }
}
