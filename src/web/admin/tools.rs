//! Console tools per tenant: sign-in diagnostics (the last failed SSO attempts), the
//! assertion lab (the `verify-response --explain` engine on a pasted SAMLResponse) and SCIM
//! token management. HTML and JSON, same role rules.

use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, web};
use askama::Template;
use serde::Serialize;
use serde_json::{Value, json};

use super::auth::{Principal, check_csrf, parse_form};
use super::common::{self, Chrome, Fail, Notice, Paging, api_write, query_map, rfc3339, when};
use crate::app::AppState;
use crate::directory::{self, Tenant};
use crate::saml::{self, Check, InMemoryReplayCache, Trace, VerifyContext};
use crate::store::{Change, EventRow};
use crate::web::pages::{html, redirect, store_failure};

/// Largest SAMLResponse the lab accepts (the ACS limit, base64-inflated).
const LAB_MAX_INPUT: usize = 400 * 1024;

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.route(
        "/admin/tenants/{slug}/diagnostics",
        web::get().to(diagnostics_page),
    )
    .route(
        "/admin/api/tenants/{slug}/sign-in-events",
        web::get().to(api_events),
    )
    .route("/admin/tenants/{slug}/lab", web::get().to(lab_form))
    .route("/admin/tenants/{slug}/lab", web::post().to(lab_run))
    .route("/admin/api/tenants/{slug}/lab", web::post().to(api_lab))
    .route(
        "/admin/tenants/{slug}/scim-tokens",
        web::get().to(tokens_page),
    )
    .route(
        "/admin/tenants/{slug}/scim-tokens",
        web::post().to(token_create),
    )
    .route(
        "/admin/tenants/{slug}/scim-tokens/{id}/revoke",
        web::post().to(token_revoke),
    )
    .route(
        "/admin/api/tenants/{slug}/scim-tokens",
        web::get().to(api_tokens),
    )
    .route(
        "/admin/api/tenants/{slug}/scim-tokens",
        web::post().to(api_token_create),
    )
    .route(
        "/admin/api/tenants/{slug}/scim-tokens/{id}/revoke",
        web::post().to(api_token_revoke),
    );
}

// ---- the assertion lab ------------------------------------------------------------------------

/// The verdict of the lab.
#[derive(Debug, Serialize)]
pub struct LabResult {
    pub valid: bool,
    pub error: String,
    pub message: String,
    pub federation: String,
    pub name_id: String,
    pub attributes: Value,
    pub checks: Vec<Check>,
}

#[derive(Template)]
#[template(path = "admin_lab.html")]
struct LabPage<'a> {
    chrome: Chrome,
    notice: Option<Notice>,
    input: &'a str,
    result: Option<LabResult>,
}

// ---- sign-in diagnostics ------------------------------------------------------------------------

struct EventView {
    when: String,
    incident_id: String,
    outcome: String,
    subject: String,
    detail: String,
}

#[derive(Template)]
#[template(path = "admin_diagnostics.html")]
struct DiagnosticsPage {
    chrome: Chrome,
    notice: Option<Notice>,
    events: Vec<EventView>,
    all: bool,
    page: i64,
    more: bool,
}

async fn diagnostics_page(
    state: web::Data<AppState>,
    req: HttpRequest,
    path: web::Path<String>,
) -> HttpResponse {
    let (p, t) = match common::tenant_page(&state, &req, &path).await {
        Ok(v) => v,
        Err(r) => return r,
    };
    let qm = query_map(&req);
    let all = qm.get("all").is_some_and(|v| v == "1");
    let paging = Paging::from_query(&qm, 50);
    let events = match state
        .db
        .sign_in_events(t.id, !all, paging.offset(), paging.per_page + 1)
        .await
    {
        Ok(e) => e,
        Err(e) => return store_failure(&e),
    };
    let more = events.len() as i64 > paging.per_page;
    html(
        StatusCode::OK,
        &DiagnosticsPage {
            chrome: Chrome::new(&p, &t.slug, "diagnostics"),
            notice: None,
            events: events
                .into_iter()
                .take(paging.per_page as usize)
                .map(|e| EventView {
                    when: when(Some(e.created_at)),
                    incident_id: e.incident_id.unwrap_or_default(),
                    outcome: e.outcome,
                    subject: e.subject.unwrap_or_default(),
                    detail: e.detail,
                })
                .collect(),
            all,
            page: paging.page,
            more,
        },
    )
}

fn event_json(e: &EventRow) -> Value {
    json!({
        "at": rfc3339(Some(e.created_at)),
        "incident_id": e.incident_id,
        "kind": e.kind,
        "outcome": e.outcome,
        "subject": e.subject,
        "detail": e.detail,
    })
}

async fn api_events(
    state: web::Data<AppState>,
    req: HttpRequest,
    path: web::Path<String>,
) -> HttpResponse {
    let (_, t) = match common::tenant_api(&state, &req, &path).await {
        Ok(v) => v,
        Err(r) => return r,
    };
    let qm = query_map(&req);
    let failed = qm.get("failed").is_none_or(|v| v != "false");
    let paging = Paging::from_query(&qm, 50);
    match state
        .db
        .sign_in_events(t.id, failed, paging.offset(), paging.per_page)
        .await
    {
        Ok(ev) => HttpResponse::Ok().json(json!({
            "page": paging.page,
            "events": ev.iter().map(event_json).collect::<Vec<_>>(),
        })),
        Err(e) => Fail::from(e).json(),
    }
}

/// The InResponseTo values a response carries (read from the unverified message only to
/// simulate its outstanding request; every value shown is still read from verified bytes).
fn claimed_request_ids(input: &[u8]) -> Vec<String> {
    let Ok(bytes) = saml::decode_input(input, LAB_MAX_INPUT) else {
        return vec![];
    };
    let Ok(doc) = saml::xml::parse(&bytes, &saml::Limits::default()) else {
        return vec![];
    };
    doc.descendants(doc.root())
        .into_iter()
        .filter_map(|n| {
            doc.element(n)
                .and_then(|e| e.attr("InResponseTo"))
                .map(str::to_string)
        })
        .collect()
}

/// Run a pasted response through the same engine as the ACS, then resolve its Federation ID.
pub async fn run_lab(state: &AppState, tenant: &Tenant, input: &str) -> LabResult {
    let mut trace = Trace::new();
    let trust = match state.trust.trust(tenant) {
        Ok(t) => t,
        Err(e) => {
            return LabResult {
                valid: false,
                error: e.code().into(),
                message: format!("this organization's IdP trust is unusable: {e}"),
                federation: String::new(),
                name_id: String::new(),
                attributes: Value::Null,
                checks: vec![],
            };
        }
    };
    let sp = match state
        .keys
        .sp_settings(&state.db, tenant, &state.public_url, state.now())
        .await
    {
        Ok(sp) => sp,
        Err(e) => {
            return LabResult {
                valid: false,
                error: "sp_keys_unavailable".into(),
                message: format!("this organization's SP keys are unusable: {e}"),
                federation: String::new(),
                name_id: String::new(),
                attributes: Value::Null,
                checks: vec![],
            };
        }
    };
    let ids = claimed_request_ids(input.as_bytes());
    let mut cache = InMemoryReplayCache::new();
    let mut ctx = VerifyContext {
        now: state.now(),
        request_ids: &ids,
        replay_cache: &mut cache,
    };
    let result =
        saml::verify_response_traced(input.trim().as_bytes(), &sp, &trust, &mut ctx, &mut trace);
    let checks = trace.checks().to_vec();
    match result {
        Ok(a) => {
            let federation = match tenant.federation_source.federation_id(&a) {
                None => "no Federation ID where this organization looks for it".to_string(),
                Some(fid) => match state.db.user_by_federation_id(tenant.id, fid).await {
                    Ok(user) => match directory::admit(tenant, fid, user.as_ref()) {
                        Ok(()) => format!(
                            "{fid}: matches an active, licensed user; the login would succeed"
                        ),
                        Err(r) => format!("{fid}: {} ({r:?})", r.code()),
                    },
                    Err(e) => format!("{fid}: lookup failed ({e})"),
                },
            };
            LabResult {
                valid: true,
                error: String::new(),
                message: format!("signed by {} and valid now", a.issuer()),
                federation,
                name_id: a.name_id().to_string(),
                attributes: serde_json::to_value(a.attributes()).unwrap_or(Value::Null),
                checks,
            }
        }
        Err(e) => LabResult {
            valid: false,
            error: e.code().into(),
            message: e.to_string(),
            federation: String::new(),
            name_id: String::new(),
            attributes: Value::Null,
            checks,
        },
    }
}

async fn lab_form(
    state: web::Data<AppState>,
    req: HttpRequest,
    path: web::Path<String>,
) -> HttpResponse {
    let (p, t) = match common::tenant_page(&state, &req, &path).await {
        Ok(v) => v,
        Err(r) => return r,
    };
    html(
        StatusCode::OK,
        &LabPage {
            chrome: Chrome::new(&p, &t.slug, "diagnostics"),
            notice: None,
            input: "",
            result: None,
        },
    )
}

async fn lab_run(
    state: web::Data<AppState>,
    req: HttpRequest,
    path: web::Path<String>,
    body: web::Bytes,
) -> HttpResponse {
    let (p, t) = match common::tenant_page(&state, &req, &path).await {
        Ok(v) => v,
        Err(r) => return r,
    };
    let form = parse_form(&body);
    if let Err(r) = check_csrf(&state, &req, &p, &form) {
        return r;
    }
    let input = form.get("saml_response").map(String::as_str).unwrap_or("");
    let result = run_lab(&state, &t, input).await;
    html(
        StatusCode::OK,
        &LabPage {
            chrome: Chrome::new(&p, &t.slug, "diagnostics"),
            notice: None,
            input,
            result: Some(result),
        },
    )
}

async fn api_lab(
    state: web::Data<AppState>,
    req: HttpRequest,
    path: web::Path<String>,
    body: web::Bytes,
) -> HttpResponse {
    let (p, t) = match common::tenant_api(&state, &req, &path).await {
        Ok(v) => v,
        Err(r) => return r,
    };
    if let Err(r) = api_write(&state, &req, &p) {
        return r;
    }
    let input: Value = match common::json_body(&body) {
        Ok(v) => v,
        Err(f) => return f.json(),
    };
    let Some(resp) = input.get("saml_response").and_then(Value::as_str) else {
        return Fail::bad("invalid_value", "saml_response is required").json();
    };
    HttpResponse::Ok().json(run_lab(&state, &t, resp).await)
}

// ---- SCIM tokens ------------------------------------------------------------------------------

struct TokenRow {
    id: i64,
    label: String,
    prefix: String,
    created: String,
    last_used: String,
    revoked: bool,
}

#[derive(Template)]
#[template(path = "admin_scim_tokens.html")]
struct TokensPage {
    chrome: Chrome,
    notice: Option<Notice>,
    base_url: String,
    new_token: Option<String>,
    tokens: Vec<TokenRow>,
}

async fn render_tokens(
    state: &AppState,
    p: &Principal,
    t: &Tenant,
    new_token: Option<String>,
) -> HttpResponse {
    let tokens = match state.db.scim_tokens(t.id).await {
        Ok(list) => list,
        Err(e) => return store_failure(&e),
    };
    html(
        if new_token.is_some() {
            StatusCode::CREATED
        } else {
            StatusCode::OK
        },
        &TokensPage {
            chrome: Chrome::new(p, &t.slug, "scim"),
            notice: None,
            base_url: format!("{}/scim/v2/{}", state.public_url, t.slug),
            new_token,
            tokens: tokens
                .into_iter()
                .map(|k| TokenRow {
                    id: k.id,
                    label: k.label,
                    prefix: k.prefix,
                    created: when(Some(k.created_at)),
                    last_used: when(k.last_used_at),
                    revoked: k.revoked_at.is_some(),
                })
                .collect(),
        },
    )
}

async fn tokens_page(
    state: web::Data<AppState>,
    req: HttpRequest,
    path: web::Path<String>,
) -> HttpResponse {
    match common::tenant_page(&state, &req, &path).await {
        Ok((p, t)) => render_tokens(&state, &p, &t, None).await,
        Err(r) => r,
    }
}

/// Create a token; returns (id, token), audited.
async fn create_token(
    state: &AppState,
    p: &Principal,
    t: &Tenant,
    label: &str,
) -> Result<(i64, String), crate::store::StoreError> {
    let now = state.now();
    let (id, token) = crate::web::scim::issue_token(&state.db, t.id, label.trim(), now).await?;
    let prefix = token.get(..12).unwrap_or_default();
    let change = Change::new("scim_token.create", Some(&id.to_string()))
        .detail(label.trim())
        .after(json!({"id": id, "prefix": prefix, "label": label.trim()}));
    state
        .db
        .record_audit(Some(t.id), &p.actor(), change, now)
        .await?;
    Ok((id, token))
}

async fn revoke_token(
    state: &AppState,
    p: &Principal,
    t: &Tenant,
    id: i64,
) -> Result<bool, crate::store::StoreError> {
    let now = state.now();
    let done = state.db.revoke_scim_token(t.id, id, now).await?;
    if done {
        let change = Change::new("scim_token.revoke", Some(&id.to_string()));
        state
            .db
            .record_audit(Some(t.id), &p.actor(), change, now)
            .await?;
    }
    Ok(done)
}

async fn token_create(
    state: web::Data<AppState>,
    req: HttpRequest,
    path: web::Path<String>,
    body: web::Bytes,
) -> HttpResponse {
    let (p, t) = match common::tenant_page(&state, &req, &path).await {
        Ok(v) => v,
        Err(r) => return r,
    };
    let form = parse_form(&body);
    if let Err(r) = check_csrf(&state, &req, &p, &form) {
        return r;
    }
    match create_token(
        &state,
        &p,
        &t,
        form.get("label").map(String::as_str).unwrap_or(""),
    )
    .await
    {
        Ok((_, token)) => render_tokens(&state, &p, &t, Some(token)).await,
        Err(e) => store_failure(&e),
    }
}

async fn token_revoke(
    state: web::Data<AppState>,
    req: HttpRequest,
    path: web::Path<(String, i64)>,
    body: web::Bytes,
) -> HttpResponse {
    let (slug, id) = path.into_inner();
    let (p, t) = match common::tenant_page(&state, &req, &slug).await {
        Ok(v) => v,
        Err(r) => return r,
    };
    let form = parse_form(&body);
    if let Err(r) = check_csrf(&state, &req, &p, &form) {
        return r;
    }
    match revoke_token(&state, &p, &t, id).await {
        Ok(_) => redirect(&format!("/admin/tenants/{}/scim-tokens", t.slug)),
        Err(e) => store_failure(&e),
    }
}

async fn api_tokens(
    state: web::Data<AppState>,
    req: HttpRequest,
    path: web::Path<String>,
) -> HttpResponse {
    let (_, t) = match common::tenant_api(&state, &req, &path).await {
        Ok(v) => v,
        Err(r) => return r,
    };
    match state.db.scim_tokens(t.id).await {
        Ok(list) => HttpResponse::Ok().json(json!({"scim_base_url": format!("{}/scim/v2/{}", state.public_url, t.slug), "tokens": list})),
        Err(e) => Fail::from(e).json(),
    }
}

async fn api_token_create(
    state: web::Data<AppState>,
    req: HttpRequest,
    path: web::Path<String>,
    body: web::Bytes,
) -> HttpResponse {
    let (p, t) = match common::tenant_api(&state, &req, &path).await {
        Ok(v) => v,
        Err(r) => return r,
    };
    if let Err(r) = api_write(&state, &req, &p) {
        return r;
    }
    let label = serde_json::from_slice::<Value>(&body)
        .ok()
        .and_then(|v| v.get("label").and_then(Value::as_str).map(str::to_string))
        .unwrap_or_default();
    match create_token(&state, &p, &t, &label).await {
        Ok((id, token)) => HttpResponse::Created().json(json!({
            "id": id, "token": token, "scim_base_url": format!("{}/scim/v2/{}", state.public_url, t.slug)
        })),
        Err(e) => Fail::from(e).json(),
    }
}

async fn api_token_revoke(
    state: web::Data<AppState>,
    req: HttpRequest,
    path: web::Path<(String, i64)>,
) -> HttpResponse {
    let (slug, id) = path.into_inner();
    let (p, t) = match common::tenant_api(&state, &req, &slug).await {
        Ok(v) => v,
        Err(r) => return r,
    };
    if let Err(r) = api_write(&state, &req, &p) {
        return r;
    }
    match revoke_token(&state, &p, &t, id).await {
        Ok(true) => HttpResponse::NoContent().finish(),
        Ok(false) => Fail::not_found().json(),
        Err(e) => Fail::from(e).json(),
    }
}
