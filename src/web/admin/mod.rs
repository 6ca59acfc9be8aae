//! The Configuration Manager under `/admin`: the phone-system administrators' console as
//! server-rendered pages, and a JSON admin API (`/admin/api/...`) with the same operations,
//! documented at `/api/openapi.json`. See ADR 0010 (accounts) and ADR 0012 (the console).

pub mod accounts;
pub mod audit;
pub mod auth;
pub mod common;
pub mod idp;
pub mod licenses;
pub mod okta;
pub mod openapi;
pub mod refresh;
pub mod settings;
pub mod sso;
pub mod tools;
pub mod users;

use actix_web::http::{StatusCode, header};
use actix_web::{HttpRequest, HttpResponse, web};
use askama::Template;
use serde_json::{Value, json};

use crate::app::AppState;
use crate::directory::Tenant;
use crate::session::password;
use crate::store::{NewTenant, TenantSummary, random_token, token_hash};
use crate::web::pages::{html, redirect, store_failure};

use auth::{
    ABSOLUTE_SECONDS, PRE_COOKIE, PRE_SECONDS, admin_cookie, check_csrf, current, forbidden,
    origin_ok, parse_form, pre_cookie, submitted_csrf, token_eq,
};
use common::{Chrome, Fail, Notice, api_principal, api_write, json_body, page_principal};

/// Wrong passwords in a row before the account locks.
pub const MAX_FAILURES: i64 = 5;
/// How long a locked account stays locked.
pub const LOCK_SECONDS: i64 = 15 * 60;
/// Every refused login waits this long (on top of argon2), known account or not.
const FAILURE_DELAY_MS: u64 = 250;
/// The one message for an unknown email and a wrong password.
pub const BAD_CREDENTIALS: &str = "The email or password is incorrect.";

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.route("/admin", web::get().to(dashboard))
        .route("/admin/login", web::get().to(login_form))
        .route("/admin/login", web::post().to(login))
        .route("/admin/logout", web::post().to(logout))
        .route("/admin/tenants", web::post().to(create_tenant_form))
        .route("/admin/tenants/{slug}", web::get().to(tenant_page))
        .route("/admin/api/me", web::get().to(api_me))
        .route("/admin/api/tenants", web::get().to(api_tenants))
        .route("/admin/api/tenants", web::post().to(api_create_tenant))
        .route("/admin/api/tenants/{slug}", web::get().to(api_tenant))
        .route("/api/openapi.json", web::get().to(openapi::document));
    accounts::configure(cfg);
    audit::configure(cfg);
    idp::configure(cfg);
    licenses::configure(cfg);
    okta::configure(cfg);
    settings::configure(cfg);
    sso::configure(cfg);
    tools::configure(cfg);
    users::configure(cfg);
}

#[derive(Template)]
#[template(path = "admin_login.html")]
struct LoginPage<'a> {
    message: Option<&'a str>,
    email: &'a str,
    csrf: &'a str,
}

#[derive(Template)]
#[template(path = "admin_dashboard.html")]
struct DashboardPage {
    chrome: Chrome,
    notice: Option<Notice>,
    tenants: Vec<TenantSummary>,
}

/// What the overview shows about one tenant.
struct Overview {
    sp_entity_id: String,
    acs_url: String,
    metadata_url: String,
    scim_url: String,
    idp_entity_id: String,
    idp_sso_url: String,
    certificates: usize,
    warnings: Vec<String>,
    users: i64,
    active: i64,
    licensed: i64,
    failed: Vec<crate::store::EventRow>,
}

#[derive(Template)]
#[template(path = "admin_tenant.html")]
struct TenantPage {
    chrome: Chrome,
    notice: Option<Notice>,
    name: String,
    o: Overview,
}

fn login_page(status: StatusCode, message: Option<&str>, email: &str, csrf: &str) -> HttpResponse {
    html(
        status,
        &LoginPage {
            message,
            email,
            csrf,
        },
    )
}

// ---- login and logout -----------------------------------------------------------------------

async fn login_form(state: web::Data<AppState>, req: HttpRequest) -> HttpResponse {
    if let Ok(Some(_)) = current(&state, &req).await {
        return redirect("/admin");
    }
    let pre = match random_token(32) {
        Ok(t) => t,
        Err(e) => return store_failure(&e),
    };
    let mut r = login_page(StatusCode::OK, None, "", &pre);
    let _ = r.add_cookie(&pre_cookie(&pre, PRE_SECONDS));
    r
}

fn lock_message(until: i64) -> String {
    let when = chrono::DateTime::<chrono::Utc>::from_timestamp(until, 0)
        .map(|t| t.format("%Y-%m-%d %H:%M UTC").to_string())
        .unwrap_or_default();
    format!("This account is locked after too many failed sign-ins, until {when}.")
}

async fn refused_delay() {
    tokio::time::sleep(std::time::Duration::from_millis(FAILURE_DELAY_MS)).await;
}

/// Run an argon2 verification off the async workers.
async fn verify_blocking(pw: String, phc: Option<String>) -> bool {
    web::block(move || match phc {
        Some(phc) => password::verify_password(&pw, &phc),
        None => {
            password::dummy_verify(&pw);
            false
        }
    })
    .await
    .unwrap_or(false)
}

/// Start an admin session for `admin_id`: a fresh id, the browser's old session ends.
pub(crate) async fn start_session(
    state: &AppState,
    req: &HttpRequest,
    admin_id: i64,
) -> HttpResponse {
    let now = state.now();
    if let Some(old) = req.cookie(auth::ADMIN_COOKIE)
        && let Err(e) = state
            .db
            .delete_admin_session(&token_hash(old.value()))
            .await
    {
        return store_failure(&e);
    }
    let (raw, csrf) = match (random_token(32), random_token(32)) {
        (Ok(r), Ok(c)) => (r, c),
        (Err(e), _) | (_, Err(e)) => return store_failure(&e),
    };
    let expires = now + chrono::Duration::seconds(ABSOLUTE_SECONDS);
    let stored = async {
        state.db.admin_login_succeeded(admin_id).await?;
        state
            .db
            .create_admin_session(&token_hash(&raw), admin_id, &csrf, now, expires)
            .await
    };
    if let Err(e) = stored.await {
        return store_failure(&e);
    }
    tracing::info!(admin_id, "admin login");
    let mut r = redirect("/admin");
    let _ = r.add_cookie(&admin_cookie(&raw, ABSOLUTE_SECONDS));
    let _ = r.add_cookie(&pre_cookie("", 0));
    r
}

async fn login(state: web::Data<AppState>, req: HttpRequest, body: web::Bytes) -> HttpResponse {
    let form = parse_form(&body);
    let pre = req
        .cookie(PRE_COOKIE)
        .map(|c| c.value().to_string())
        .unwrap_or_default();
    if !origin_ok(&state, &req) || !token_eq(&pre, &submitted_csrf(&req, &form)) {
        return forbidden();
    }
    let email = form.get("email").map(|s| s.trim()).unwrap_or_default();
    let pw = form.get("password").cloned().unwrap_or_default();
    let now = state.now();
    let account = match state.db.admin_by_email(email).await {
        Ok(a) => a,
        Err(e) => return store_failure(&e),
    };
    let Some(a) = account else {
        verify_blocking(pw, None).await;
        refused_delay().await;
        return login_page(StatusCode::UNAUTHORIZED, Some(BAD_CREDENTIALS), email, &pre);
    };
    if let Some(until) = a.locked_until.filter(|u| *u > now.timestamp()) {
        return login_page(StatusCode::LOCKED, Some(&lock_message(until)), email, &pre);
    }
    if !verify_blocking(pw, Some(a.password_hash.expose().clone())).await {
        let locked = state
            .db
            .admin_login_failed(a.id, MAX_FAILURES, LOCK_SECONDS, now)
            .await;
        tracing::warn!(admin_id = a.id, "admin login refused");
        refused_delay().await;
        return match locked {
            Ok(Some(until)) => {
                login_page(StatusCode::LOCKED, Some(&lock_message(until)), email, &pre)
            }
            Ok(None) => login_page(StatusCode::UNAUTHORIZED, Some(BAD_CREDENTIALS), email, &pre),
            Err(e) => store_failure(&e),
        };
    }
    start_session(&state, &req, a.id).await
}

async fn logout(state: web::Data<AppState>, req: HttpRequest, body: web::Bytes) -> HttpResponse {
    let form = parse_form(&body);
    let (raw, s) = match current(&state, &req).await {
        Ok(Some(v)) => v,
        // Nothing to end; still refuse a cross-site or tokenless POST as such.
        Ok(None) => return forbidden(),
        Err(e) => return store_failure(&e),
    };
    let p = auth::Principal::from_session(s, &req);
    if let Err(r) = check_csrf(&state, &req, &p, &form) {
        return r;
    }
    if let Err(e) = state.db.delete_admin_session(&token_hash(&raw)).await {
        return store_failure(&e);
    }
    let mut r = redirect("/admin/login");
    let _ = r.add_cookie(&admin_cookie("", 0));
    r
}

// ---- tenants --------------------------------------------------------------------------------

/// A slug: 2 to 40 of a-z, 0-9 and `-`, starting with a letter.
fn valid_slug(s: &str) -> bool {
    (2..=40).contains(&s.len())
        && s.bytes().next().is_some_and(|b| b.is_ascii_lowercase())
        && s.bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
}

/// Create a tenant (operators only); its IdP is configured afterwards.
async fn create_tenant(
    state: &AppState,
    p: &auth::Principal,
    slug: &str,
    name: &str,
    domains: &str,
) -> Result<Tenant, Fail> {
    if !p.is_operator() {
        return Err(Fail::operator_only());
    }
    let slug = slug.trim().to_ascii_lowercase();
    if !valid_slug(&slug) {
        return Err(Fail::bad(
            "slug_invalid",
            "The short name must be 2 to 40 lowercase letters, digits or dashes, starting with a letter (it appears in URLs).",
        ));
    }
    let name = if name.trim().is_empty() {
        slug.clone()
    } else {
        name.trim().to_string()
    };
    let t = NewTenant {
        slug: slug.clone(),
        display_name: name,
        idp_entity_id: String::new(),
        idp_sso_url: None,
        idp_slo_url: None,
        allow_idp_initiated: false,
        email_domains: domains
            .split([' ', ',', '\n'])
            .map(|d| d.trim().to_ascii_lowercase())
            .filter(|d| !d.is_empty())
            .collect(),
        allowed_return_urls: vec![],
        certificates: vec![],
    };
    Ok(state
        .db
        .create_tenant_by(&t, &p.actor(), state.now())
        .await?)
}

async fn dashboard(state: web::Data<AppState>, req: HttpRequest) -> HttpResponse {
    let p = match page_principal(&state, &req).await {
        Ok(p) => p,
        Err(r) => return r,
    };
    render_dashboard(&state, &p, None, StatusCode::OK).await
}

async fn render_dashboard(
    state: &AppState,
    p: &auth::Principal,
    notice: Option<Notice>,
    status: StatusCode,
) -> HttpResponse {
    let tenants = match state.db.tenant_summaries(p.admin.tenant_scope()).await {
        Ok(t) => t,
        Err(e) => return store_failure(&e),
    };
    html(
        status,
        &DashboardPage {
            chrome: Chrome::new(p, "", "tenants"),
            notice,
            tenants,
        },
    )
}

async fn create_tenant_form(
    state: web::Data<AppState>,
    req: HttpRequest,
    body: web::Bytes,
) -> HttpResponse {
    let p = match page_principal(&state, &req).await {
        Ok(p) => p,
        Err(r) => return r,
    };
    let form = parse_form(&body);
    if let Err(r) = check_csrf(&state, &req, &p, &form) {
        return r;
    }
    let field = |k: &str| form.get(k).map(String::as_str).unwrap_or("");
    match create_tenant(
        &state,
        &p,
        field("slug"),
        field("name"),
        field("email_domains"),
    )
    .await
    {
        Ok(t) => redirect(&format!("/admin/tenants/{}/idp?done=created", t.slug)),
        Err(f) => render_dashboard(&state, &p, Some(Notice::Failed(f.message)), f.status).await,
    }
}

/// The warnings of the overview: IdP not set up, certificates expiring, metadata failing.
async fn overview(state: &AppState, t: &Tenant) -> Result<Overview, Fail> {
    let pu = &state.public_url;
    let now = state.now().timestamp();
    let mut warnings = Vec::new();
    if t.certificates.is_empty() {
        warnings.push(
            "No IdP is configured yet: upload Okta's metadata on the Identity provider tab."
                .to_string(),
        );
    }
    for c in &t.certificates {
        if let Ok(tc) = crate::saml::TrustedCertificate::from_base64_der(c) {
            let days = (tc.not_after_unix() - now).div_euclid(86_400);
            if days < 30 {
                warnings.push(format!(
                    "The IdP certificate {} expires in {days} days: add the next one before Okta activates it.",
                    tc.fingerprint().get(..11).unwrap_or_default()
                ));
            }
        }
    }
    if let Some(src) = state.db.metadata_source(t.id).await?
        && let Some(err) = src.last_error
    {
        warnings.push(format!(
            "The last metadata refresh from {} failed: {err}",
            src.url
        ));
    }
    let (users, _) = state
        .db
        .search_users(t.id, &Default::default(), 0, 0)
        .await?;
    let active_q = crate::store::UserQuery {
        active: Some(true),
        ..Default::default()
    };
    let (active, _) = state.db.search_users(t.id, &active_q, 0, 0).await?;
    let licensed: i64 = state
        .db
        .inventory(t.id)
        .await?
        .iter()
        .filter(|l| l.license.kind == crate::directory::telephony::LicenseKind::Plan)
        .map(|l| l.assigned)
        .sum();
    let failed = state.db.sign_in_events(t.id, true, 0, 5).await?;
    Ok(Overview {
        sp_entity_id: t.sp_entity_id(pu),
        acs_url: t.acs_url(pu),
        metadata_url: t.sp_entity_id(pu),
        scim_url: format!("{pu}/scim/v2/{}", t.slug),
        idp_entity_id: t.idp_entity_id.clone(),
        idp_sso_url: t.idp_sso_url.clone().unwrap_or_default(),
        certificates: t.certificates.len(),
        warnings,
        users,
        active,
        licensed,
        failed,
    })
}

async fn tenant_page(
    state: web::Data<AppState>,
    req: HttpRequest,
    path: web::Path<String>,
) -> HttpResponse {
    let (p, t) = match common::tenant_page(&state, &req, &path).await {
        Ok(v) => v,
        Err(r) => return r,
    };
    match overview(&state, &t).await {
        Ok(o) => html(
            StatusCode::OK,
            &TenantPage {
                chrome: Chrome::new(&p, &t.slug, "overview"),
                notice: None,
                name: t.display_name.clone(),
                o,
            },
        ),
        Err(f) => f.page(),
    }
}

// ---- JSON ------------------------------------------------------------------------------------

async fn api_me(state: web::Data<AppState>, req: HttpRequest) -> HttpResponse {
    match api_principal(&state, &req).await {
        Ok(p) => HttpResponse::Ok().json(json!({
            "email": p.admin.email,
            "role": p.admin.role.as_str(),
            "tenant_id": p.admin.tenant_id,
            "via": if p.is_session() { "session" } else { "api_token" },
            "csrf_token": if p.is_session() { Value::from(p.csrf()) } else { Value::Null },
        })),
        Err(r) => r,
    }
}

async fn api_tenants(state: web::Data<AppState>, req: HttpRequest) -> HttpResponse {
    let p = match api_principal(&state, &req).await {
        Ok(p) => p,
        Err(r) => return r,
    };
    match state.db.tenant_summaries(p.admin.tenant_scope()).await {
        Ok(t) => HttpResponse::Ok().json(json!({ "tenants": t })),
        Err(e) => Fail::from(e).json(),
    }
}

async fn api_create_tenant(
    state: web::Data<AppState>,
    req: HttpRequest,
    body: web::Bytes,
) -> HttpResponse {
    let p = match api_principal(&state, &req).await {
        Ok(p) => p,
        Err(r) => return r,
    };
    if let Err(r) = api_write(&state, &req, &p) {
        return r;
    }
    let v = match json_body(&body) {
        Ok(v) => v,
        Err(f) => return f.json(),
    };
    let s = |k: &str| v.get(k).and_then(Value::as_str).unwrap_or("").to_string();
    let domains = match v.get("email_domains") {
        Some(Value::Array(a)) => a
            .iter()
            .filter_map(Value::as_str)
            .collect::<Vec<_>>()
            .join(" "),
        _ => s("email_domains"),
    };
    match create_tenant(&state, &p, &s("slug"), &s("name"), &domains).await {
        Ok(t) => HttpResponse::Created().json(tenant_json(&state, &t)),
        Err(f) => f.json(),
    }
}

fn tenant_json(state: &AppState, t: &Tenant) -> Value {
    let pu = &state.public_url;
    json!({
        "slug": t.slug,
        "name": t.display_name,
        "sp_entity_id": t.sp_entity_id(pu),
        "acs_url": t.acs_url(pu),
        "metadata_url": t.sp_entity_id(pu),
        "scim_base_url": format!("{pu}/scim/v2/{}", t.slug),
        "idp_entity_id": t.idp_entity_id,
        "idp_sso_url": t.idp_sso_url,
        "certificates": t.certificates.len(),
    })
}

async fn api_tenant(
    state: web::Data<AppState>,
    req: HttpRequest,
    path: web::Path<String>,
) -> HttpResponse {
    let (_, t) = match common::tenant_api(&state, &req, &path).await {
        Ok(v) => v,
        Err(r) => return r,
    };
    let o = match overview(&state, &t).await {
        Ok(o) => o,
        Err(f) => return f.json(),
    };
    let mut body = tenant_json(&state, &t);
    if let Some(m) = body.as_object_mut() {
        m.insert("warnings".into(), json!(o.warnings));
        m.insert(
            "users".into(),
            json!({"total": o.users, "active": o.active, "with_plan": o.licensed}),
        );
        m.insert("recent_failed_sign_ins".into(), json!(o.failed));
    }
    HttpResponse::Ok()
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .json(body)
}
