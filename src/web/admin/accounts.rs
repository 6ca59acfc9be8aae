//! Console accounts: admins (invite with a one-time link, remove, unlock, new password
//! link), the invited admin's set-password page, and admin API tokens for automation.
//! Operators manage everyone; a tenant admin manages the admins of their own tenant.

use std::collections::HashMap;

use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, web};
use askama::Template;
use serde_json::{Value, json};

use super::auth::{
    API_TOKEN_PREFIX, PRE_COOKIE, PRE_SECONDS, Principal, check_csrf, origin_ok, parse_form,
    pre_cookie, submitted_csrf, token_eq,
};
use super::common::{
    self, Chrome, Fail, Notice, api_principal, api_write, json_body, page_principal, rfc3339, when,
};
use crate::app::AppState;
use crate::session::password;
use crate::store::{
    AdminAccount, AdminInfo, AdminRole, ApiTokenInfo, TicketPurpose, random_token, token_hash,
};
use crate::web::pages::{self, html, redirect, store_failure};

/// How long an invitation or password link stays usable.
pub const TICKET_HOURS: i64 = 72;

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.route("/admin/admins", web::get().to(admins_page))
        .route("/admin/admins", web::post().to(invite_form))
        .route("/admin/admins/{id}/remove", web::post().to(remove_form))
        .route("/admin/admins/{id}/unlock", web::post().to(unlock_form))
        .route(
            "/admin/admins/{id}/password-link",
            web::post().to(link_form),
        )
        .route("/admin/set-password", web::get().to(set_password_page))
        .route("/admin/set-password", web::post().to(set_password))
        .route("/admin/api-tokens", web::get().to(tokens_page))
        .route("/admin/api-tokens", web::post().to(token_create_form))
        .route(
            "/admin/api-tokens/{id}/revoke",
            web::post().to(token_revoke_form),
        )
        .route("/admin/api/admins", web::get().to(api_admins))
        .route("/admin/api/admins", web::post().to(api_invite))
        .route("/admin/api/admins/{id}", web::delete().to(api_remove))
        .route("/admin/api/admins/{id}/unlock", web::post().to(api_unlock))
        .route(
            "/admin/api/admins/{id}/password-link",
            web::post().to(api_link),
        )
        .route("/admin/api/api-tokens", web::get().to(api_tokens))
        .route("/admin/api/api-tokens", web::post().to(api_token_create))
        .route(
            "/admin/api/api-tokens/{id}",
            web::delete().to(api_token_revoke),
        );
}

struct AdminRow {
    a: AdminInfo,
    created: String,
    locked: String,
}

#[derive(Template)]
#[template(path = "admin_admins.html")]
struct AdminsPage {
    chrome: Chrome,
    notice: Option<Notice>,
    admins: Vec<AdminRow>,
    tenants: Vec<String>,
    link: Option<String>,
    me: i64,
}

#[derive(Template)]
#[template(path = "admin_set_password.html")]
struct SetPasswordPage<'a> {
    ticket: &'a str,
    csrf: &'a str,
    message: Option<&'a str>,
    valid: bool,
}

struct TokenRow {
    t: ApiTokenInfo,
    created: String,
    expires: String,
    last_used: String,
}

#[derive(Template)]
#[template(path = "admin_api_tokens.html")]
struct TokensPage {
    chrome: Chrome,
    notice: Option<Notice>,
    tokens: Vec<TokenRow>,
    new_token: Option<String>,
}

// ---- admins -------------------------------------------------------------------------------------

/// The admin `id` if `p` may manage it (operators: anyone; tenant admins: their tenant's).
async fn managed(state: &AppState, p: &Principal, id: i64) -> Result<AdminAccount, Fail> {
    let a = state
        .db
        .admin_by_id(id)
        .await?
        .ok_or_else(Fail::not_found)?;
    let ok =
        p.is_operator() || (a.role == AdminRole::TenantAdmin && a.tenant_id == p.admin.tenant_id);
    if ok { Ok(a) } else { Err(Fail::not_found()) }
}

fn ticket_link(state: &AppState, ticket: &str) -> String {
    format!("{}/admin/set-password?ticket={ticket}", state.public_url)
}

/// Invite an admin; returns the one-time link to send them.
async fn invite(
    state: &AppState,
    p: &Principal,
    email: &str,
    role: &str,
    tenant_slug: &str,
) -> Result<String, Fail> {
    let email = email.trim();
    if !crate::directory::valid_email(email) {
        return Err(Fail::bad(
            "invalid_value",
            format!("'{email}' is not an email address"),
        ));
    }
    let (role, tenant_id) = match (role, p.is_operator()) {
        ("operator", true) => (AdminRole::Operator, None),
        ("operator", false) => return Err(Fail::operator_only()),
        (_, true) => {
            let t = common::visible_tenant(state, p, tenant_slug.trim())
                .await
                .map_err(|_| {
                    Fail::bad(
                        "invalid_value",
                        "Choose the organization this admin manages.",
                    )
                })?;
            (AdminRole::TenantAdmin, Some(t.id))
        }
        (_, false) => (AdminRole::TenantAdmin, p.admin.tenant_id),
    };
    let ticket = random_token(32)?;
    let now = state.now();
    state
        .db
        .invite_admin(
            email,
            role,
            tenant_id,
            &token_hash(&ticket),
            now + chrono::Duration::hours(TICKET_HOURS),
            &p.actor(),
            now,
        )
        .await?;
    Ok(ticket_link(state, &ticket))
}

async fn remove(state: &AppState, p: &Principal, id: i64) -> Result<String, Fail> {
    let a = managed(state, p, id).await?;
    if a.id == p.admin.id {
        return Err(Fail::new(
            StatusCode::CONFLICT,
            "cannot_remove_self",
            "You cannot remove your own account.",
        ));
    }
    if !state.db.remove_admin(&a, &p.actor(), state.now()).await? {
        return Err(Fail::new(
            StatusCode::CONFLICT,
            "last_operator",
            "The last operator cannot be removed.",
        ));
    }
    Ok(format!(
        "{} was removed; their sessions and API tokens ended.",
        a.email
    ))
}

async fn unlock(state: &AppState, p: &Principal, id: i64) -> Result<String, Fail> {
    let a = managed(state, p, id).await?;
    state.db.unlock_admin(&a, &p.actor(), state.now()).await?;
    Ok(format!("{} is unlocked.", a.email))
}

async fn password_link(state: &AppState, p: &Principal, id: i64) -> Result<String, Fail> {
    let a = managed(state, p, id).await?;
    let ticket = random_token(32)?;
    let now = state.now();
    state
        .db
        .reissue_password_ticket(
            &a,
            &token_hash(&ticket),
            now + chrono::Duration::hours(TICKET_HOURS),
            &p.actor(),
            now,
        )
        .await?;
    Ok(ticket_link(state, &ticket))
}

async fn render_admins(
    state: &AppState,
    p: &Principal,
    notice: Option<Notice>,
    link: Option<String>,
    code: StatusCode,
) -> HttpResponse {
    let loaded = async {
        let admins = state.db.list_admins(p.admin.tenant_scope()).await?;
        let tenants = state.db.tenant_summaries(p.admin.tenant_scope()).await?;
        Ok::<_, Fail>((admins, tenants))
    }
    .await;
    let (admins, tenants) = match loaded {
        Ok(v) => v,
        Err(f) => return f.page(),
    };
    let now = state.now().timestamp();
    html(
        code,
        &AdminsPage {
            chrome: Chrome::new(p, "", "admins"),
            notice,
            admins: admins
                .into_iter()
                .map(|a| AdminRow {
                    created: when(Some(a.created_at)),
                    locked: a
                        .locked_until
                        .filter(|u| *u > now)
                        .map(|u| when(Some(u)))
                        .unwrap_or_default(),
                    a,
                })
                .collect(),
            tenants: tenants.into_iter().map(|t| t.slug).collect(),
            link,
            me: p.admin.id,
        },
    )
}

async fn admins_page(state: web::Data<AppState>, req: HttpRequest) -> HttpResponse {
    match page_principal(&state, &req).await {
        Ok(p) => render_admins(&state, &p, None, None, StatusCode::OK).await,
        Err(r) => r,
    }
}

/// Run an action on the admins page; `Ok((notice, link))`.
async fn admins_act<F, Fut>(
    state: &web::Data<AppState>,
    req: &HttpRequest,
    body: &[u8],
    f: F,
) -> HttpResponse
where
    F: FnOnce(web::Data<AppState>, Principal, HashMap<String, String>) -> Fut,
    Fut: std::future::Future<Output = Result<(String, Option<String>), Fail>>,
{
    let p = match page_principal(state, req).await {
        Ok(p) => p,
        Err(r) => return r,
    };
    let form = parse_form(body);
    if let Err(r) = check_csrf(state, req, &p, &form) {
        return r;
    }
    match f(state.clone(), p.clone(), form).await {
        Ok((done, link)) => {
            render_admins(state, &p, Some(Notice::Done(done)), link, StatusCode::OK).await
        }
        Err(fail) => {
            render_admins(
                state,
                &p,
                Some(Notice::Failed(format!("Not done: {}", fail.message))),
                None,
                fail.status,
            )
            .await
        }
    }
}

async fn invite_form(
    state: web::Data<AppState>,
    req: HttpRequest,
    body: web::Bytes,
) -> HttpResponse {
    admins_act(&state, &req, &body, |state, p, form| async move {
        let g = |k: &str| form.get(k).cloned().unwrap_or_default();
        let link = invite(&state, &p, &g("email"), &g("role"), &g("tenant")).await?;
        Ok((
            format!("{} is invited. Send them this one-time link (valid {TICKET_HOURS} hours) to choose a password:", g("email").trim()),
            Some(link),
        ))
    })
    .await
}

async fn remove_form(
    state: web::Data<AppState>,
    req: HttpRequest,
    path: web::Path<i64>,
    body: web::Bytes,
) -> HttpResponse {
    let id = path.into_inner();
    admins_act(&state, &req, &body, |state, p, _| async move {
        Ok((remove(&state, &p, id).await?, None))
    })
    .await
}

async fn unlock_form(
    state: web::Data<AppState>,
    req: HttpRequest,
    path: web::Path<i64>,
    body: web::Bytes,
) -> HttpResponse {
    let id = path.into_inner();
    admins_act(&state, &req, &body, |state, p, _| async move {
        Ok((unlock(&state, &p, id).await?, None))
    })
    .await
}

async fn link_form(
    state: web::Data<AppState>,
    req: HttpRequest,
    path: web::Path<i64>,
    body: web::Bytes,
) -> HttpResponse {
    let id = path.into_inner();
    admins_act(&state, &req, &body, |state, p, _| async move {
        let link = password_link(&state, &p, id).await?;
        Ok((
            format!(
                "A new one-time link (valid {TICKET_HOURS} hours); earlier links no longer work:"
            ),
            Some(link),
        ))
    })
    .await
}

// ---- set a password with a one-time link -----------------------------------------------------------

async fn set_password_page(state: web::Data<AppState>, req: HttpRequest) -> HttpResponse {
    let ticket = common::query_map(&req)
        .get("ticket")
        .cloned()
        .unwrap_or_default();
    let live = match state
        .db
        .ticket_is_live(&token_hash(&ticket), state.now())
        .await
    {
        Ok(v) => v.is_some(),
        Err(e) => return store_failure(&e),
    };
    let pre = match random_token(32) {
        Ok(t) => t,
        Err(e) => return store_failure(&e),
    };
    let msg = (!live).then_some("This link is not valid: it was used already, or it expired. Ask an administrator for a new one.");
    let mut r = html(
        if live {
            StatusCode::OK
        } else {
            StatusCode::GONE
        },
        &SetPasswordPage {
            ticket: &ticket,
            csrf: &pre,
            message: msg,
            valid: live,
        },
    );
    let _ = r.add_cookie(&pre_cookie(&pre, PRE_SECONDS));
    r
}

async fn set_password(
    state: web::Data<AppState>,
    req: HttpRequest,
    body: web::Bytes,
) -> HttpResponse {
    let form = parse_form(&body);
    let pre = req
        .cookie(PRE_COOKIE)
        .map(|c| c.value().to_string())
        .unwrap_or_default();
    if !origin_ok(&state, &req) || !token_eq(&pre, &submitted_csrf(&req, &form)) {
        return super::auth::forbidden();
    }
    let g = |k: &str| form.get(k).cloned().unwrap_or_default();
    let (ticket, pw, again) = (g("ticket"), g("password"), g("password_again"));
    let again_page = |msg: &str, code: StatusCode| {
        html(
            code,
            &SetPasswordPage {
                ticket: &ticket,
                csrf: &pre,
                message: Some(msg),
                valid: true,
            },
        )
    };
    if pw != again {
        return again_page("The two passwords differ.", StatusCode::BAD_REQUEST);
    }
    if let Err(e) = password::check_new_password(&pw) {
        return again_page(&format!("Not accepted: {e}."), StatusCode::BAD_REQUEST);
    }
    let now = state.now();
    let admin_id = match state
        .db
        .take_ticket(&token_hash(&ticket), TicketPurpose::SetPassword, now)
        .await
    {
        Ok(Some((id, _))) => id,
        Ok(None) => {
            return html(
                StatusCode::GONE,
                &SetPasswordPage {
                    ticket: "",
                    csrf: &pre,
                    message: Some(
                        "This link is not valid any more. Ask an administrator for a new one.",
                    ),
                    valid: false,
                },
            );
        }
        Err(e) => return store_failure(&e),
    };
    let hash = match web::block(move || password::hash_password(&pw)).await {
        Ok(Ok(h)) => h,
        _ => {
            return pages::message(
                StatusCode::INTERNAL_SERVER_ERROR,
                "Not done",
                "The password could not be stored.",
                None,
            );
        }
    };
    if let Err(e) = state.db.set_admin_password(admin_id, &hash, now).await {
        return store_failure(&e);
    }
    let mut r = redirect("/admin/login");
    let _ = r.add_cookie(&pre_cookie("", 0));
    r
}

// ---- API tokens ---------------------------------------------------------------------------------

/// Create a token (from a console session only: a token cannot mint more tokens).
async fn create_token(
    state: &AppState,
    p: &Principal,
    label: &str,
    days: &str,
) -> Result<String, Fail> {
    if !p.is_session() {
        return Err(Fail::new(
            StatusCode::FORBIDDEN,
            "session_required",
            "API tokens are created from a console session, not with another token.",
        ));
    }
    let label = label.trim();
    if label.len() > 100 {
        return Err(Fail::bad(
            "invalid_value",
            "The label has at most 100 characters.",
        ));
    }
    let now = state.now();
    let expires_at = match days.trim() {
        "" | "never" => None,
        d => Some(
            d.parse::<i64>()
                .ok()
                .filter(|d| (1..=3650).contains(d))
                .map(|d| (now + chrono::Duration::days(d)).timestamp())
                .ok_or_else(|| {
                    Fail::bad(
                        "invalid_value",
                        "The validity is a number of days from 1 to 3650, or never.",
                    )
                })?,
        ),
    };
    let raw = format!("{API_TOKEN_PREFIX}{}", random_token(32)?);
    let prefix = raw
        .get(..API_TOKEN_PREFIX.len() + 6)
        .unwrap_or_default()
        .to_string();
    state
        .db
        .create_api_token(
            &p.admin,
            &token_hash(&raw),
            &prefix,
            label,
            expires_at,
            &p.actor(),
            now,
        )
        .await?;
    Ok(raw)
}

/// Operators see (and may revoke) every token; others only their own.
fn token_scope(p: &Principal) -> Option<i64> {
    if p.is_operator() {
        None
    } else {
        Some(p.admin.id)
    }
}

async fn render_tokens(
    state: &AppState,
    p: &Principal,
    notice: Option<Notice>,
    new_token: Option<String>,
    code: StatusCode,
) -> HttpResponse {
    let tokens = match state.db.api_tokens(token_scope(p)).await {
        Ok(t) => t,
        Err(e) => return Fail::from(e).page(),
    };
    html(
        code,
        &TokensPage {
            chrome: Chrome::new(p, "", "api-tokens"),
            notice,
            tokens: tokens
                .into_iter()
                .map(|t| TokenRow {
                    created: when(Some(t.created_at)),
                    expires: t
                        .expires_at
                        .map(|e| when(Some(e)))
                        .unwrap_or_else(|| "never".into()),
                    last_used: when(t.last_used_at),
                    t,
                })
                .collect(),
            new_token,
        },
    )
}

async fn tokens_page(state: web::Data<AppState>, req: HttpRequest) -> HttpResponse {
    match page_principal(&state, &req).await {
        Ok(p) => render_tokens(&state, &p, None, None, StatusCode::OK).await,
        Err(r) => r,
    }
}

async fn token_create_form(
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
    let g = |k: &str| form.get(k).cloned().unwrap_or_default();
    match create_token(&state, &p, &g("label"), &g("days")).await {
        Ok(raw) => render_tokens(&state, &p, None, Some(raw), StatusCode::CREATED).await,
        Err(f) => {
            render_tokens(
                &state,
                &p,
                Some(Notice::Failed(format!("Not created: {}", f.message))),
                None,
                f.status,
            )
            .await
        }
    }
}

async fn token_revoke_form(
    state: web::Data<AppState>,
    req: HttpRequest,
    path: web::Path<i64>,
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
    match state
        .db
        .revoke_api_token(path.into_inner(), token_scope(&p), &p.actor(), state.now())
        .await
    {
        Ok(true) => {
            render_tokens(
                &state,
                &p,
                Some(Notice::Done("The token is revoked.".into())),
                None,
                StatusCode::OK,
            )
            .await
        }
        Ok(false) => Fail::not_found().page(),
        Err(e) => Fail::from(e).page(),
    }
}

// ---- API ----------------------------------------------------------------------------------------

async fn api_admins(state: web::Data<AppState>, req: HttpRequest) -> HttpResponse {
    let p = match api_principal(&state, &req).await {
        Ok(p) => p,
        Err(r) => return r,
    };
    match state.db.list_admins(p.admin.tenant_scope()).await {
        Ok(a) => HttpResponse::Ok().json(json!({"admins": a})),
        Err(e) => Fail::from(e).json(),
    }
}

async fn api_gate(state: &AppState, req: &HttpRequest) -> Result<Principal, HttpResponse> {
    let p = api_principal(state, req).await?;
    api_write(state, req, &p)?;
    Ok(p)
}

async fn api_invite(
    state: web::Data<AppState>,
    req: HttpRequest,
    body: web::Bytes,
) -> HttpResponse {
    let p = match api_gate(&state, &req).await {
        Ok(p) => p,
        Err(r) => return r,
    };
    let r = async {
        let v = json_body(&body)?;
        let s = |k: &str| v.get(k).and_then(Value::as_str).unwrap_or("").to_string();
        invite(&state, &p, &s("email"), &s("role"), &s("tenant")).await
    }
    .await;
    match r {
        Ok(link) => HttpResponse::Created()
            .json(json!({"set_password_link": link, "valid_hours": TICKET_HOURS})),
        Err(f) => f.json(),
    }
}

async fn api_remove(
    state: web::Data<AppState>,
    req: HttpRequest,
    path: web::Path<i64>,
) -> HttpResponse {
    match api_gate(&state, &req).await {
        Ok(p) => match remove(&state, &p, path.into_inner()).await {
            Ok(m) => HttpResponse::Ok().json(json!({"message": m})),
            Err(f) => f.json(),
        },
        Err(r) => r,
    }
}

async fn api_unlock(
    state: web::Data<AppState>,
    req: HttpRequest,
    path: web::Path<i64>,
) -> HttpResponse {
    match api_gate(&state, &req).await {
        Ok(p) => match unlock(&state, &p, path.into_inner()).await {
            Ok(m) => HttpResponse::Ok().json(json!({"message": m})),
            Err(f) => f.json(),
        },
        Err(r) => r,
    }
}

async fn api_link(
    state: web::Data<AppState>,
    req: HttpRequest,
    path: web::Path<i64>,
) -> HttpResponse {
    match api_gate(&state, &req).await {
        Ok(p) => match password_link(&state, &p, path.into_inner()).await {
            Ok(link) => HttpResponse::Ok()
                .json(json!({"set_password_link": link, "valid_hours": TICKET_HOURS})),
            Err(f) => f.json(),
        },
        Err(r) => r,
    }
}

fn token_json(t: &ApiTokenInfo) -> Value {
    json!({
        "id": t.id, "admin": t.admin_email, "prefix": t.prefix, "label": t.label,
        "created_at": rfc3339(Some(t.created_at)), "expires_at": rfc3339(t.expires_at),
        "last_used_at": rfc3339(t.last_used_at), "revoked_at": rfc3339(t.revoked_at),
    })
}

async fn api_tokens(state: web::Data<AppState>, req: HttpRequest) -> HttpResponse {
    let p = match api_principal(&state, &req).await {
        Ok(p) => p,
        Err(r) => return r,
    };
    match state.db.api_tokens(token_scope(&p)).await {
        Ok(t) => {
            HttpResponse::Ok().json(json!({"tokens": t.iter().map(token_json).collect::<Vec<_>>()}))
        }
        Err(e) => Fail::from(e).json(),
    }
}

async fn api_token_create(
    state: web::Data<AppState>,
    req: HttpRequest,
    body: web::Bytes,
) -> HttpResponse {
    let p = match api_gate(&state, &req).await {
        Ok(p) => p,
        Err(r) => return r,
    };
    let r = async {
        let v = json_body(&body)?;
        let label = v
            .get("label")
            .and_then(Value::as_str)
            .unwrap_or("")
            .to_string();
        let days = match v.get("days") {
            Some(Value::Number(n)) => n.to_string(),
            Some(Value::String(s)) => s.clone(),
            _ => String::new(),
        };
        create_token(&state, &p, &label, &days).await
    }
    .await;
    match r {
        Ok(raw) => HttpResponse::Created().json(json!({"token": raw})),
        Err(f) => f.json(),
    }
}

async fn api_token_revoke(
    state: web::Data<AppState>,
    req: HttpRequest,
    path: web::Path<i64>,
) -> HttpResponse {
    let p = match api_gate(&state, &req).await {
        Ok(p) => p,
        Err(r) => return r,
    };
    match state
        .db
        .revoke_api_token(path.into_inner(), token_scope(&p), &p.actor(), state.now())
        .await
    {
        Ok(true) => HttpResponse::NoContent().finish(),
        Ok(false) => Fail::not_found().json(),
        Err(e) => Fail::from(e).json(),
    }
}
