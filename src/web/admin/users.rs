//! Users: the searchable list (source, status, Federation ID, licenses and services, last
//! sign-in), users created here, and a user's page: licenses, extension and direct number,
//! the Federation ID, live sessions (an admin can end them) and the user's audit trail.
//! Okta owns the profile and status of the users it provisions; telephony is ours.

use std::collections::HashMap;

use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, web};
use askama::Template;
use serde_json::{Value, json};

use super::auth::{Principal, check_csrf, parse_form};
use super::common::{
    self, Chrome, Fail, Notice, Paging, api_write, json_body, query_map, query_string, rfc3339,
    when,
};
use crate::app::AppState;
use crate::directory::Tenant;
use crate::directory::telephony::{self, License};
use crate::session::IDLE_TIMEOUT_SECONDS;
use crate::store::{
    AuditEntry, AuditFilter, InventoryLine, LiveSession, NewUser, NumberError, NumberField,
    UserQuery, UserSource, UserSummary,
};
use crate::web::pages::{html, redirect};

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.route("/admin/tenants/{slug}/users", web::get().to(list_page))
        .route("/admin/tenants/{slug}/users", web::post().to(create_form))
        .route("/admin/tenants/{slug}/users/{id}", web::get().to(user_page))
        .route(
            "/admin/tenants/{slug}/users/{id}/licenses",
            web::post().to(assign_form),
        )
        .route(
            "/admin/tenants/{slug}/users/{id}/licenses/{code}/remove",
            web::post().to(unassign_form),
        )
        .route(
            "/admin/tenants/{slug}/users/{id}/numbers",
            web::post().to(numbers_form),
        )
        .route(
            "/admin/tenants/{slug}/users/{id}/federation-id",
            web::post().to(federation_form),
        )
        .route(
            "/admin/tenants/{slug}/users/{id}/status",
            web::post().to(status_form),
        )
        .route(
            "/admin/tenants/{slug}/users/{id}/sessions/end",
            web::post().to(end_all_form),
        )
        .route(
            "/admin/tenants/{slug}/users/{id}/sessions/{handle}/end",
            web::post().to(end_one_form),
        )
        .route("/admin/api/tenants/{slug}/users", web::get().to(api_list))
        .route(
            "/admin/api/tenants/{slug}/users",
            web::post().to(api_create),
        )
        .route(
            "/admin/api/tenants/{slug}/users/{id}",
            web::get().to(api_user),
        )
        .route(
            "/admin/api/tenants/{slug}/users/{id}",
            web::patch().to(api_patch),
        )
        .route(
            "/admin/api/tenants/{slug}/users/{id}/licenses",
            web::post().to(api_assign),
        )
        .route(
            "/admin/api/tenants/{slug}/users/{id}/licenses/{code}",
            web::delete().to(api_unassign),
        )
        .route(
            "/admin/api/tenants/{slug}/users/{id}/sessions",
            web::delete().to(api_end_all),
        )
        .route(
            "/admin/api/tenants/{slug}/users/{id}/sessions/{handle}",
            web::delete().to(api_end_one),
        );
}

/// A users-list row for the template.
struct Row {
    u: UserSummary,
    last_login: String,
}

#[derive(Template)]
#[template(path = "admin_users.html")]
struct ListPage {
    chrome: Chrome,
    notice: Option<Notice>,
    rows: Vec<Row>,
    total: i64,
    page: i64,
    pages: i64,
    q: String,
    status: String,
    source: String,
    license: String,
    catalog: Vec<License>,
    prev_link: String,
    next_link: String,
}

struct SessionView {
    handle: String,
    created: String,
    last_seen: String,
    expires: String,
}

struct AuditView {
    when: String,
    actor: String,
    source_ip: String,
    action: String,
    detail: String,
    before: String,
    after: String,
}

#[derive(Template)]
#[template(path = "admin_user.html")]
struct UserPage {
    chrome: Chrome,
    notice: Option<Notice>,
    u: UserSummary,
    last_login: String,
    created: String,
    groups: Vec<(String, String)>,
    sessions: Vec<SessionView>,
    audit: Vec<AuditView>,
    assignable: Vec<InventoryLine>,
}

fn user_query(q: &HashMap<String, String>) -> UserQuery {
    let get = |k: &str| {
        q.get(k)
            .map(|v| v.trim().to_string())
            .filter(|v| !v.is_empty())
    };
    UserQuery {
        q: get("q"),
        active: match get("status").as_deref() {
            Some("active") => Some(true),
            Some("deactivated") => Some(false),
            _ => None,
        },
        source: match get("source").as_deref() {
            Some("okta") => Some(UserSource::Okta),
            Some("here") => Some(UserSource::Here),
            _ => None,
        },
        license: get("license"),
    }
}

async fn render_list(
    state: &AppState,
    req: &HttpRequest,
    p: &Principal,
    t: &Tenant,
    notice: Option<Notice>,
    code: StatusCode,
) -> HttpResponse {
    let qm = query_map(req);
    let paging = Paging::from_query(&qm, 25);
    let uq = user_query(&qm);
    let result = async {
        let (total, users) = state
            .db
            .search_users(t.id, &uq, paging.offset(), paging.per_page)
            .await?;
        let catalog = state.db.license_catalog().await?;
        Ok::<_, Fail>((total, users, catalog))
    }
    .await;
    let (total, users, catalog) = match result {
        Ok(v) => v,
        Err(f) => return f.page(),
    };
    let pages = paging.pages(total);
    let g = |k: &str| qm.get(k).cloned().unwrap_or_default();
    let (q, status, source, license) = (g("q"), g("status"), g("source"), g("license"));
    let link = |page: i64| {
        let pg = page.to_string();
        format!(
            "/admin/tenants/{}/users?{}",
            t.slug,
            query_string(&[
                ("q", &q),
                ("status", &status),
                ("source", &source),
                ("license", &license),
                ("page", &pg)
            ])
        )
    };
    html(
        code,
        &ListPage {
            chrome: Chrome::new(p, &t.slug, "users"),
            notice,
            rows: users
                .into_iter()
                .map(|u| Row {
                    last_login: when(u.last_login_at),
                    u,
                })
                .collect(),
            total,
            page: paging.page,
            pages,
            prev_link: if paging.page > 1 {
                link(paging.page - 1)
            } else {
                String::new()
            },
            next_link: if paging.page < pages {
                link(paging.page + 1)
            } else {
                String::new()
            },
            q,
            status,
            source,
            license,
            catalog,
        },
    )
}

async fn list_page(
    state: web::Data<AppState>,
    req: HttpRequest,
    path: web::Path<String>,
) -> HttpResponse {
    match common::tenant_page(&state, &req, &path).await {
        Ok((p, t)) => render_list(&state, &req, &p, &t, None, StatusCode::OK).await,
        Err(r) => r,
    }
}

/// Create a user here (Okta can link it later: it gets a SCIM id).
async fn create(
    state: &AppState,
    p: &Principal,
    t: &Tenant,
    user_name: &str,
    display_name: &str,
    email: &str,
    license: Option<&str>,
) -> Result<UserSummary, Fail> {
    let user_name = user_name.trim();
    if user_name.is_empty() || user_name.len() > 256 || user_name.chars().any(char::is_control) {
        return Err(Fail::bad(
            "invalid_value",
            "The user name is required (at most 256 characters), usually the email address.",
        ));
    }
    let email = if email.trim().is_empty() && user_name.contains('@') {
        user_name
    } else {
        email.trim()
    };
    let licenses: Vec<String> = license
        .filter(|l| !l.is_empty())
        .map(|l| vec![l.to_string()])
        .unwrap_or_default();
    let new = NewUser {
        user_name,
        display_name: display_name.trim(),
        email,
        licenses: &licenses,
    };
    let u = state
        .db
        .create_user_by(t.id, &new, &p.actor(), state.now())
        .await??;
    state
        .db
        .user_summary(t.id, u.id)
        .await?
        .ok_or_else(Fail::not_found)
}

async fn create_form(
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
    let f = |k: &str| form.get(k).map(String::as_str).unwrap_or("");
    match create(
        &state,
        &p,
        &t,
        f("user_name"),
        f("display_name"),
        f("email"),
        Some(f("license")),
    )
    .await
    {
        Ok(u) => redirect(&format!(
            "/admin/tenants/{}/users/{}?done=created",
            t.slug, u.id
        )),
        Err(fail) => {
            render_list(
                &state,
                &req,
                &p,
                &t,
                Some(Notice::Failed(format!("Not created: {}", fail.message))),
                fail.status,
            )
            .await
        }
    }
}

/// Everything the user page and `GET .../users/{id}` show.
struct Detail {
    u: UserSummary,
    groups: Vec<(String, String)>,
    sessions: Vec<LiveSession>,
    audit: Vec<AuditEntry>,
    inventory: Vec<InventoryLine>,
}

async fn detail(state: &AppState, t: &Tenant, id: i64) -> Result<Detail, Fail> {
    let u = state
        .db
        .user_summary(t.id, id)
        .await?
        .ok_or_else(Fail::not_found)?;
    let groups = match &u.scim_id {
        Some(s) => state.db.groups_of_user(t.id, s).await?,
        None => vec![],
    };
    let sessions = state
        .db
        .live_sessions_of(u.id, IDLE_TIMEOUT_SECONDS, state.now())
        .await?;
    let target = u.scim_id.clone().unwrap_or_else(|| u.user_name.clone());
    let filter = AuditFilter {
        target: Some(target),
        ..Default::default()
    };
    let (_, audit) = state.db.audit_page(t.id, &filter, 0, 50).await?;
    let inventory = state.db.inventory(t.id).await?;
    Ok(Detail {
        u,
        groups,
        sessions,
        audit,
        inventory,
    })
}

fn compact(v: &Option<Value>) -> String {
    v.as_ref().map(Value::to_string).unwrap_or_default()
}

async fn render_user(
    state: &AppState,
    p: &Principal,
    t: &Tenant,
    id: i64,
    notice: Option<Notice>,
    code: StatusCode,
) -> HttpResponse {
    let d = match detail(state, t, id).await {
        Ok(d) => d,
        Err(f) => return f.page(),
    };
    let held: Vec<String> = d.u.licenses.clone();
    html(
        code,
        &UserPage {
            chrome: Chrome::new(p, &t.slug, "users"),
            notice,
            last_login: when(d.u.last_login_at),
            created: when(Some(d.u.created_at)),
            groups: d.groups,
            sessions: d
                .sessions
                .into_iter()
                .map(|s| SessionView {
                    handle: s.handle,
                    created: when(Some(s.created_at)),
                    last_seen: when(Some(s.last_seen_at)),
                    expires: when(Some(s.expires_at)),
                })
                .collect(),
            audit: d
                .audit
                .into_iter()
                .map(|a| AuditView {
                    when: when(Some(a.created_at)),
                    actor: a.actor,
                    source_ip: a.source_ip.unwrap_or_default(),
                    action: a.action,
                    detail: a.detail,
                    before: compact(&a.before),
                    after: compact(&a.after),
                })
                .collect(),
            assignable: d
                .inventory
                .into_iter()
                .filter(|l| !held.contains(&l.license.code))
                .collect(),
            u: d.u,
        },
    )
}

async fn user_page(
    state: web::Data<AppState>,
    req: HttpRequest,
    path: web::Path<(String, i64)>,
) -> HttpResponse {
    let (slug, id) = path.into_inner();
    let (p, t) = match common::tenant_page(&state, &req, &slug).await {
        Ok(v) => v,
        Err(r) => return r,
    };
    let notice = match query_map(&req).get("done").map(String::as_str) {
        Some("created") => Some(Notice::Done(
            "The user was created here. Assign a license so they can sign in.".into(),
        )),
        _ => None,
    };
    render_user(&state, &p, &t, id, notice, StatusCode::OK).await
}

// ---- actions ------------------------------------------------------------------------------------

async fn assign(
    state: &AppState,
    p: &Principal,
    t: &Tenant,
    id: i64,
    code: &str,
) -> Result<String, Fail> {
    let code = code.trim();
    if code.is_empty() {
        return Err(Fail::bad("invalid_value", "Choose a license."));
    }
    state
        .db
        .assign_license(t.id, id, code, &p.actor(), state.now())
        .await??;
    Ok(format!("{code} assigned."))
}

async fn unassign(
    state: &AppState,
    p: &Principal,
    t: &Tenant,
    id: i64,
    code: &str,
) -> Result<String, Fail> {
    state
        .db
        .unassign_license(t.id, id, code, &p.actor(), state.now())
        .await??;
    Ok(format!("{code} unassigned."))
}

/// Set (or clear, when empty) one telephony field.
async fn set_number(
    state: &AppState,
    p: &Principal,
    t: &Tenant,
    id: i64,
    field: NumberField,
    raw: &str,
) -> Result<(), Fail> {
    let value = if raw.trim().is_empty() {
        None
    } else {
        Some(
            match field {
                NumberField::Extension => telephony::normalize_extension(raw),
                NumberField::PhoneNumber => telephony::normalize_e164(raw),
            }
            .map_err(NumberError::Invalid)?,
        )
    };
    state
        .db
        .set_user_number(t.id, id, field, value.as_deref(), &p.actor(), state.now())
        .await??;
    Ok(())
}

async fn set_numbers(
    state: &AppState,
    p: &Principal,
    t: &Tenant,
    id: i64,
    f: &HashMap<String, String>,
) -> Result<String, Fail> {
    let u = state
        .db
        .user_summary(t.id, id)
        .await?
        .ok_or_else(Fail::not_found)?;
    let mut changed = Vec::new();
    if let Some(e) = f.get("extension")
        && e.trim() != u.extension.as_deref().unwrap_or("")
    {
        set_number(state, p, t, id, NumberField::Extension, e).await?;
        changed.push("extension");
    }
    if let Some(n) = f.get("phone_number") {
        let normalized = if n.trim().is_empty() {
            String::new()
        } else {
            telephony::normalize_e164(n).unwrap_or_else(|_| n.clone())
        };
        if normalized != u.phone_number.clone().unwrap_or_default() {
            set_number(state, p, t, id, NumberField::PhoneNumber, n).await?;
            changed.push("direct number");
        }
    }
    Ok(if changed.is_empty() {
        "Nothing changed.".into()
    } else {
        format!("Saved the {}.", changed.join(" and "))
    })
}

/// Pin the Federation ID to a value, or unpin it (`None`) so it follows Okta again.
async fn set_federation(
    state: &AppState,
    p: &Principal,
    t: &Tenant,
    id: i64,
    value: Option<&str>,
) -> Result<String, Fail> {
    let u = state
        .db
        .user_summary(t.id, id)
        .await?
        .ok_or_else(Fail::not_found)?;
    if let Some(v) = value
        && (v.trim().is_empty() || v.len() > 256)
    {
        return Err(Fail::bad(
            "invalid_value",
            "The Federation ID may not be empty (at most 256 characters).",
        ));
    }
    state
        .db
        .pin_federation_id(t.id, &u.user_name, value, &p.actor(), state.now())
        .await?;
    Ok(match value {
        Some(v) => format!(
            "The Federation ID is now {} and pinned: Okta changes no longer move it.",
            v.trim()
        ),
        None => "The Federation ID follows Okta again from the next profile update.".into(),
    })
}

async fn set_status(
    state: &AppState,
    p: &Principal,
    t: &Tenant,
    id: i64,
    active: bool,
) -> Result<String, Fail> {
    let u = state
        .db
        .user_summary(t.id, id)
        .await?
        .ok_or_else(Fail::not_found)?;
    if u.source == UserSource::Okta {
        return Err(Fail::new(
            StatusCode::CONFLICT,
            "managed_by_okta",
            "Okta provisions this user: deactivate or reactivate them in Okta (changes flow from Okta to here).",
        ));
    }
    let ended = state
        .db
        .set_user_status(t.id, id, active, &p.actor(), state.now())
        .await?
        .ok_or_else(Fail::not_found)?;
    Ok(if active {
        "The user is active again.".into()
    } else {
        format!("The user is deactivated; {ended} session(s) ended.")
    })
}

async fn end_sessions(
    state: &AppState,
    p: &Principal,
    t: &Tenant,
    id: i64,
    handle: Option<&str>,
) -> Result<String, Fail> {
    if let Some(h) = handle
        && (h.len() != 16 || !h.bytes().all(|b| b.is_ascii_hexdigit()))
    {
        return Err(Fail::not_found());
    }
    let n = state
        .db
        .end_user_sessions(t.id, id, handle, &p.actor(), state.now())
        .await?
        .ok_or_else(Fail::not_found)?;
    if handle.is_some() && n == 0 {
        return Err(Fail::new(
            StatusCode::NOT_FOUND,
            "session_not_found",
            "That session already ended.",
        ));
    }
    Ok(format!("{n} session(s) ended."))
}

/// Run a user-page action and show the page with its outcome.
async fn act<F, Fut>(
    state: &web::Data<AppState>,
    req: &HttpRequest,
    slug: &str,
    id: i64,
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
    let (p2, t2) = (p.clone(), t.clone());
    match f(state.clone(), p, t).await {
        Ok(done) => {
            render_user(
                state,
                &p2,
                &t2,
                id,
                Some(Notice::Done(done)),
                StatusCode::OK,
            )
            .await
        }
        Err(fail) if fail.status == StatusCode::NOT_FOUND && fail.code == "not_found" => {
            fail.page()
        }
        Err(fail) => {
            render_user(
                state,
                &p2,
                &t2,
                id,
                Some(Notice::Failed(format!("Not done: {}", fail.message))),
                fail.status,
            )
            .await
        }
    }
}

async fn assign_form(
    state: web::Data<AppState>,
    req: HttpRequest,
    path: web::Path<(String, i64)>,
    body: web::Bytes,
) -> HttpResponse {
    let (slug, id) = path.into_inner();
    let form = parse_form(&body);
    let code = form.get("license").cloned().unwrap_or_default();
    act(&state, &req, &slug, id, &form, |state, p, t| async move {
        assign(&state, &p, &t, id, &code).await
    })
    .await
}

async fn unassign_form(
    state: web::Data<AppState>,
    req: HttpRequest,
    path: web::Path<(String, i64, String)>,
    body: web::Bytes,
) -> HttpResponse {
    let (slug, id, code) = path.into_inner();
    let form = parse_form(&body);
    act(&state, &req, &slug, id, &form, |state, p, t| async move {
        unassign(&state, &p, &t, id, &code).await
    })
    .await
}

async fn numbers_form(
    state: web::Data<AppState>,
    req: HttpRequest,
    path: web::Path<(String, i64)>,
    body: web::Bytes,
) -> HttpResponse {
    let (slug, id) = path.into_inner();
    let form = parse_form(&body);
    let fields = form.clone();
    act(&state, &req, &slug, id, &form, |state, p, t| async move {
        set_numbers(&state, &p, &t, id, &fields).await
    })
    .await
}

async fn federation_form(
    state: web::Data<AppState>,
    req: HttpRequest,
    path: web::Path<(String, i64)>,
    body: web::Bytes,
) -> HttpResponse {
    let (slug, id) = path.into_inner();
    let form = parse_form(&body);
    let unpin = form.get("action").is_some_and(|a| a == "unpin");
    let value = form.get("federation_id").cloned().unwrap_or_default();
    act(&state, &req, &slug, id, &form, |state, p, t| async move {
        set_federation(&state, &p, &t, id, if unpin { None } else { Some(&value) }).await
    })
    .await
}

async fn status_form(
    state: web::Data<AppState>,
    req: HttpRequest,
    path: web::Path<(String, i64)>,
    body: web::Bytes,
) -> HttpResponse {
    let (slug, id) = path.into_inner();
    let form = parse_form(&body);
    let active = form.get("active").is_some_and(|a| a == "true");
    act(&state, &req, &slug, id, &form, |state, p, t| async move {
        set_status(&state, &p, &t, id, active).await
    })
    .await
}

async fn end_all_form(
    state: web::Data<AppState>,
    req: HttpRequest,
    path: web::Path<(String, i64)>,
    body: web::Bytes,
) -> HttpResponse {
    let (slug, id) = path.into_inner();
    let form = parse_form(&body);
    act(&state, &req, &slug, id, &form, |state, p, t| async move {
        end_sessions(&state, &p, &t, id, None).await
    })
    .await
}

async fn end_one_form(
    state: web::Data<AppState>,
    req: HttpRequest,
    path: web::Path<(String, i64, String)>,
    body: web::Bytes,
) -> HttpResponse {
    let (slug, id, handle) = path.into_inner();
    let form = parse_form(&body);
    act(&state, &req, &slug, id, &form, |state, p, t| async move {
        end_sessions(&state, &p, &t, id, Some(&handle)).await
    })
    .await
}

// ---- API ----------------------------------------------------------------------------------------

fn user_json(u: &UserSummary) -> Value {
    json!({
        "id": u.id,
        "scim_id": u.scim_id,
        "user_name": u.user_name,
        "display_name": u.display_name,
        "email": u.email,
        "active": u.active,
        "source": u.source,
        "federation_id": u.federation_id,
        "federation_id_pinned": u.federation_id_pinned,
        "extension": u.extension,
        "phone_number": u.phone_number,
        "licenses": u.licenses,
        "services": u.services,
        "last_login_at": rfc3339(u.last_login_at),
        "created_at": rfc3339(Some(u.created_at)),
    })
}

async fn api_list(
    state: web::Data<AppState>,
    req: HttpRequest,
    path: web::Path<String>,
) -> HttpResponse {
    let (_, t) = match common::tenant_api(&state, &req, &path).await {
        Ok(v) => v,
        Err(r) => return r,
    };
    let qm = query_map(&req);
    let paging = Paging::from_query(&qm, 50);
    match state
        .db
        .search_users(t.id, &user_query(&qm), paging.offset(), paging.per_page)
        .await
    {
        Ok((total, users)) => HttpResponse::Ok().json(json!({
            "total": total,
            "page": paging.page,
            "per_page": paging.per_page,
            "users": users.iter().map(user_json).collect::<Vec<_>>(),
        })),
        Err(e) => Fail::from(e).json(),
    }
}

async fn api_create(
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
    let r = async {
        let v = json_body(&body)?;
        let s = |k: &str| v.get(k).and_then(Value::as_str).unwrap_or("").to_string();
        create(
            &state,
            &p,
            &t,
            &s("user_name"),
            &s("display_name"),
            &s("email"),
            v.get("license").and_then(Value::as_str),
        )
        .await
    }
    .await;
    match r {
        Ok(u) => HttpResponse::Created().json(user_json(&u)),
        Err(f) => f.json(),
    }
}

async fn api_user(
    state: web::Data<AppState>,
    req: HttpRequest,
    path: web::Path<(String, i64)>,
) -> HttpResponse {
    let (slug, id) = path.into_inner();
    let (_, t) = match common::tenant_api(&state, &req, &slug).await {
        Ok(v) => v,
        Err(r) => return r,
    };
    match detail(&state, &t, id).await {
        Ok(d) => {
            let mut body = user_json(&d.u);
            if let Some(m) = body.as_object_mut() {
                m.insert(
                    "groups".into(),
                    json!(
                        d.groups
                            .iter()
                            .map(|(id, name)| json!({"id": id, "display_name": name}))
                            .collect::<Vec<_>>()
                    ),
                );
                m.insert("sessions".into(), json!(d.sessions.iter().map(|s| json!({
                    "handle": s.handle, "created_at": rfc3339(Some(s.created_at)),
                    "last_seen_at": rfc3339(Some(s.last_seen_at)), "expires_at": rfc3339(Some(s.expires_at)),
                })).collect::<Vec<_>>()));
                m.insert("audit".into(), json!(d.audit));
            }
            HttpResponse::Ok().json(body)
        }
        Err(f) => f.json(),
    }
}

/// Gate and run a user API action; answer with the user afterwards.
async fn api_act<F, Fut>(
    state: &web::Data<AppState>,
    req: &HttpRequest,
    slug: &str,
    id: i64,
    f: F,
) -> HttpResponse
where
    F: FnOnce(web::Data<AppState>, Principal, Tenant) -> Fut,
    Fut: std::future::Future<Output = Result<String, Fail>>,
{
    let (p, t) = match common::tenant_api(state, req, slug).await {
        Ok(v) => v,
        Err(r) => return r,
    };
    if let Err(r) = api_write(state, req, &p) {
        return r;
    }
    match f(state.clone(), p, t.clone()).await {
        Ok(msg) => match state.db.user_summary(t.id, id).await {
            Ok(Some(u)) => {
                let mut body = user_json(&u);
                if let Some(m) = body.as_object_mut() {
                    m.insert("message".into(), json!(msg));
                }
                HttpResponse::Ok().json(body)
            }
            Ok(None) => Fail::not_found().json(),
            Err(e) => Fail::from(e).json(),
        },
        Err(fail) => fail.json(),
    }
}

/// PATCH: `extension`, `phone_number` (string; "" or null clears), `federation_id` (a
/// string pins it, null unpins), `active` (users created here only).
async fn api_patch(
    state: web::Data<AppState>,
    req: HttpRequest,
    path: web::Path<(String, i64)>,
    body: web::Bytes,
) -> HttpResponse {
    let (slug, id) = path.into_inner();
    api_act(&state, &req, &slug, id, |state, p, t| async move {
        state
            .db
            .user_summary(t.id, id)
            .await?
            .ok_or_else(Fail::not_found)?;
        let v = json_body(&body)?;
        let obj = v
            .as_object()
            .ok_or_else(|| Fail::bad("invalid_json", "Send a JSON object."))?;
        for k in obj.keys() {
            if !["extension", "phone_number", "federation_id", "active"].contains(&k.as_str()) {
                return Err(Fail::bad(
                    "invalid_value",
                    format!("'{k}' cannot be changed here (Okta owns the profile)"),
                ));
            }
        }
        let text = |k: &str| -> Result<Option<String>, Fail> {
            match obj.get(k) {
                None => Ok(None),
                Some(Value::Null) => Ok(Some(String::new())),
                Some(Value::String(s)) => Ok(Some(s.clone())),
                Some(_) => Err(Fail::bad(
                    "invalid_value",
                    format!("{k} must be a string or null"),
                )),
            }
        };
        let mut done = Vec::new();
        let mut numbers = HashMap::new();
        if let Some(e) = text("extension")? {
            numbers.insert("extension".to_string(), e);
        }
        if let Some(n) = text("phone_number")? {
            numbers.insert("phone_number".to_string(), n);
        }
        if !numbers.is_empty() {
            done.push(set_numbers(&state, &p, &t, id, &numbers).await?);
        }
        match obj.get("federation_id") {
            None => {}
            Some(Value::Null) => done.push(set_federation(&state, &p, &t, id, None).await?),
            Some(Value::String(s)) => done.push(set_federation(&state, &p, &t, id, Some(s)).await?),
            Some(_) => {
                return Err(Fail::bad(
                    "invalid_value",
                    "federation_id must be a string (pin) or null (unpin)",
                ));
            }
        }
        match obj.get("active") {
            None => {}
            Some(Value::Bool(a)) => done.push(set_status(&state, &p, &t, id, *a).await?),
            Some(_) => return Err(Fail::bad("invalid_value", "active must be true or false")),
        }
        Ok(done.join(" "))
    })
    .await
}

async fn api_assign(
    state: web::Data<AppState>,
    req: HttpRequest,
    path: web::Path<(String, i64)>,
    body: web::Bytes,
) -> HttpResponse {
    let (slug, id) = path.into_inner();
    api_act(&state, &req, &slug, id, |state, p, t| async move {
        let v = json_body(&body)?;
        let code = v
            .get("license")
            .and_then(Value::as_str)
            .unwrap_or("")
            .to_string();
        assign(&state, &p, &t, id, &code).await
    })
    .await
}

async fn api_unassign(
    state: web::Data<AppState>,
    req: HttpRequest,
    path: web::Path<(String, i64, String)>,
) -> HttpResponse {
    let (slug, id, code) = path.into_inner();
    api_act(&state, &req, &slug, id, |state, p, t| async move {
        unassign(&state, &p, &t, id, &code).await
    })
    .await
}

async fn api_end_all(
    state: web::Data<AppState>,
    req: HttpRequest,
    path: web::Path<(String, i64)>,
) -> HttpResponse {
    let (slug, id) = path.into_inner();
    api_act(&state, &req, &slug, id, |state, p, t| async move {
        end_sessions(&state, &p, &t, id, None).await
    })
    .await
}

async fn api_end_one(
    state: web::Data<AppState>,
    req: HttpRequest,
    path: web::Path<(String, i64, String)>,
) -> HttpResponse {
    let (slug, id, handle) = path.into_inner();
    api_act(&state, &req, &slug, id, |state, p, t| async move {
        end_sessions(&state, &p, &t, id, Some(&handle)).await
    })
    .await
}
