//! The Configuration Manager under `/admin` (first slice): admin login and sessions, CSRF,
//! the tenant dashboard and tenant pages, and their JSON equivalents. See ADR 0010.

pub mod auth;
pub mod idp;
pub mod tools;

use actix_web::http::{StatusCode, header};
use actix_web::{HttpRequest, HttpResponse, web};
use askama::Template;
use serde_json::json;

use crate::app::AppState;
use crate::directory::Tenant;
use crate::session::password;
use crate::store::{AdminRole, AdminSession, TenantSummary, random_token, token_hash};
use crate::web::pages::{self, html, redirect, store_failure};

use auth::{
    ABSOLUTE_SECONDS, PRE_COOKIE, PRE_SECONDS, admin_cookie, check_csrf, current, forbidden,
    origin_ok, parse_form, pre_cookie, submitted_csrf, token_eq,
};

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
        .route("/admin/tenants/{slug}", web::get().to(tenant_page))
        .route("/admin/api/tenants", web::get().to(api_tenants))
        .route("/admin/api/tenants/{slug}", web::get().to(api_tenant));
    tools::configure(cfg);
    idp::configure(cfg);
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
struct DashboardPage<'a> {
    email: &'a str,
    role: &'a str,
    csrf: &'a str,
    tenants: Vec<TenantSummary>,
}

struct EventView {
    incident_id: String,
    outcome: String,
    subject: String,
    detail: String,
}

#[derive(Template)]
#[template(path = "admin_tenant.html")]
struct TenantPage<'a> {
    email: &'a str,
    role: &'a str,
    csrf: &'a str,
    slug: &'a str,
    name: &'a str,
    sp_entity_id: String,
    acs_url: String,
    metadata_url: String,
    idp_entity_id: &'a str,
    idp_sso_url: Option<&'a str>,
    certificates: usize,
    events: Vec<EventView>,
}

fn role_label(role: AdminRole) -> &'static str {
    match role {
        AdminRole::Operator => "operator",
        AdminRole::TenantAdmin => "tenant admin",
    }
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

fn api_error(status: StatusCode, error: &str) -> HttpResponse {
    HttpResponse::build(status).json(json!({ "error": error }))
}

fn not_found() -> HttpResponse {
    pages::message(
        StatusCode::NOT_FOUND,
        "Not found",
        "There is nothing at this address.",
        None,
    )
}

/// The session of an HTML request, or a redirect to the login form.
async fn require(state: &AppState, req: &HttpRequest) -> Result<AdminSession, HttpResponse> {
    match current(state, req).await {
        Ok(Some((_, s))) => Ok(s),
        Ok(None) => Err(redirect("/admin/login")),
        Err(e) => Err(store_failure(&e)),
    }
}

/// The session of an API request, or 401 JSON.
async fn require_api(state: &AppState, req: &HttpRequest) -> Result<AdminSession, HttpResponse> {
    match current(state, req).await {
        Ok(Some((_, s))) => Ok(s),
        Ok(None) => Err(api_error(StatusCode::UNAUTHORIZED, "unauthorized")),
        Err(e) => {
            eprintln!("level=error msg=\"storage failure\" error=\"{e}\"");
            Err(api_error(StatusCode::SERVICE_UNAVAILABLE, "unavailable"))
        }
    }
}

/// The tenant `slug` if this admin may see it; `None` also hides tenants of others.
async fn visible_tenant(
    state: &AppState,
    s: &AdminSession,
    slug: &str,
) -> Result<Option<Tenant>, crate::store::StoreError> {
    Ok(state
        .db
        .tenant_by_slug(slug)
        .await?
        .filter(|t| s.admin.may_see(t.id)))
}

/// The admin session and the tenant `slug`, if visible to it (else 404 / login).
pub(super) async fn tenant_for_page(
    state: &AppState,
    req: &HttpRequest,
    slug: &str,
) -> Result<(AdminSession, Tenant), HttpResponse> {
    let s = require(state, req).await?;
    match visible_tenant(state, &s, slug).await {
        Ok(Some(t)) => Ok((s, t)),
        Ok(None) => Err(not_found()),
        Err(e) => Err(store_failure(&e)),
    }
}

/// As `tenant_for_page`, answering in JSON.
pub(super) async fn tenant_for_api(
    state: &AppState,
    req: &HttpRequest,
    slug: &str,
) -> Result<(AdminSession, Tenant), HttpResponse> {
    let s = require_api(state, req).await?;
    match visible_tenant(state, &s, slug).await {
        Ok(Some(t)) => Ok((s, t)),
        Ok(None) => Err(api_error(StatusCode::NOT_FOUND, "not_found")),
        Err(_) => Err(api_error(StatusCode::SERVICE_UNAVAILABLE, "unavailable")),
    }
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
    if !verify_blocking(pw, Some(a.password_hash.clone())).await {
        let locked = state
            .db
            .admin_login_failed(a.id, MAX_FAILURES, LOCK_SECONDS, now)
            .await;
        eprintln!("level=warn msg=\"admin login refused\" admin_id={}", a.id);
        refused_delay().await;
        return match locked {
            Ok(Some(until)) => {
                login_page(StatusCode::LOCKED, Some(&lock_message(until)), email, &pre)
            }
            Ok(None) => login_page(StatusCode::UNAUTHORIZED, Some(BAD_CREDENTIALS), email, &pre),
            Err(e) => store_failure(&e),
        };
    }
    // Success: a fresh session id every time; any session this browser had ends.
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
        state.db.admin_login_succeeded(a.id).await?;
        state
            .db
            .create_admin_session(&token_hash(&raw), a.id, &csrf, now, expires)
            .await
    };
    if let Err(e) = stored.await {
        return store_failure(&e);
    }
    eprintln!("level=info msg=\"admin login\" admin_id={}", a.id);
    let mut r = redirect("/admin");
    let _ = r.add_cookie(&admin_cookie(&raw, ABSOLUTE_SECONDS));
    let _ = r.add_cookie(&pre_cookie("", 0));
    r
}

async fn logout(state: web::Data<AppState>, req: HttpRequest, body: web::Bytes) -> HttpResponse {
    let form = parse_form(&body);
    let (raw, s) = match current(&state, &req).await {
        Ok(Some(v)) => v,
        // Nothing to end; still refuse a cross-site or tokenless POST as such.
        Ok(None) => return forbidden(),
        Err(e) => return store_failure(&e),
    };
    if let Err(r) = check_csrf(&state, &req, &s, &form) {
        return r;
    }
    if let Err(e) = state.db.delete_admin_session(&token_hash(&raw)).await {
        return store_failure(&e);
    }
    let mut r = redirect("/admin/login");
    let _ = r.add_cookie(&admin_cookie("", 0));
    r
}

// ---- pages -----------------------------------------------------------------------------------

async fn dashboard(state: web::Data<AppState>, req: HttpRequest) -> HttpResponse {
    let s = match require(&state, &req).await {
        Ok(s) => s,
        Err(r) => return r,
    };
    let tenants = match state.db.tenant_summaries(s.admin.tenant_scope()).await {
        Ok(t) => t,
        Err(e) => return store_failure(&e),
    };
    html(
        StatusCode::OK,
        &DashboardPage {
            email: &s.admin.email,
            role: role_label(s.admin.role),
            csrf: &s.csrf_token,
            tenants,
        },
    )
}

async fn tenant_page(
    state: web::Data<AppState>,
    req: HttpRequest,
    path: web::Path<String>,
) -> HttpResponse {
    let s = match require(&state, &req).await {
        Ok(s) => s,
        Err(r) => return r,
    };
    let t = match visible_tenant(&state, &s, &path).await {
        Ok(Some(t)) => t,
        Ok(None) => return not_found(),
        Err(e) => return store_failure(&e),
    };
    let events = match state.db.recent_events(t.id, 20).await {
        Ok(ev) => ev,
        Err(e) => return store_failure(&e),
    };
    let pu = &state.public_url;
    html(
        StatusCode::OK,
        &TenantPage {
            email: &s.admin.email,
            role: role_label(s.admin.role),
            csrf: &s.csrf_token,
            slug: &t.slug,
            name: &t.display_name,
            sp_entity_id: t.sp_entity_id(pu),
            acs_url: t.acs_url(pu),
            metadata_url: t.sp_entity_id(pu),
            idp_entity_id: &t.idp_entity_id,
            idp_sso_url: t.idp_sso_url.as_deref(),
            certificates: t.certificates.len(),
            events: events
                .into_iter()
                .map(|(incident, _kind, outcome, subject, detail)| EventView {
                    incident_id: incident.unwrap_or_default(),
                    outcome,
                    subject: subject.unwrap_or_default(),
                    detail,
                })
                .collect(),
        },
    )
}

// ---- JSON ------------------------------------------------------------------------------------

async fn api_tenants(state: web::Data<AppState>, req: HttpRequest) -> HttpResponse {
    let s = match require_api(&state, &req).await {
        Ok(s) => s,
        Err(r) => return r,
    };
    match state.db.tenant_summaries(s.admin.tenant_scope()).await {
        Ok(t) => HttpResponse::Ok().json(json!({ "tenants": t })),
        Err(e) => {
            eprintln!("level=error msg=\"storage failure\" error=\"{e}\"");
            api_error(StatusCode::SERVICE_UNAVAILABLE, "unavailable")
        }
    }
}

async fn api_tenant(
    state: web::Data<AppState>,
    req: HttpRequest,
    path: web::Path<String>,
) -> HttpResponse {
    let s = match require_api(&state, &req).await {
        Ok(s) => s,
        Err(r) => return r,
    };
    let found = match visible_tenant(&state, &s, &path).await {
        Ok(Some(t)) => state
            .db
            .recent_events(t.id, 20)
            .await
            .map(|ev| Some((t, ev))),
        Ok(None) => Ok(None),
        Err(e) => Err(e),
    };
    let (t, events) = match found {
        Ok(Some(v)) => v,
        Ok(None) => return api_error(StatusCode::NOT_FOUND, "not_found"),
        Err(e) => {
            eprintln!("level=error msg=\"storage failure\" error=\"{e}\"");
            return api_error(StatusCode::SERVICE_UNAVAILABLE, "unavailable");
        }
    };
    let pu = &state.public_url;
    let events: Vec<_> = events
        .into_iter()
        .map(|(incident, kind, outcome, subject, detail)| {
            json!({"incident_id": incident, "kind": kind, "outcome": outcome,
                   "subject": subject, "detail": detail})
        })
        .collect();
    HttpResponse::Ok()
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .json(json!({
            "slug": t.slug,
            "name": t.display_name,
            "sp_entity_id": t.sp_entity_id(pu),
            "acs_url": t.acs_url(pu),
            "metadata_url": t.sp_entity_id(pu),
            "idp_entity_id": t.idp_entity_id,
            "idp_sso_url": t.idp_sso_url,
            "certificates": t.certificates.len(),
            "events": events,
        }))
}
