//! Services and licenses: the catalog with this tenant's inventory (operators set how many
//! were bought), and assignment to every member of a group Okta pushed. Provisioning never
//! assigns licenses.

use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, web};
use askama::Template;
use serde_json::{Value, json};

use super::auth::{Principal, check_csrf, parse_form};
use super::common::{self, Chrome, Fail, Notice, api_write, json_body};
use crate::app::AppState;
use crate::directory::Tenant;
use crate::store::InventoryLine;
use crate::web::pages::html;

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.route("/admin/tenants/{slug}/licenses", web::get().to(page))
        .route(
            "/admin/tenants/{slug}/licenses/{code}/inventory",
            web::post().to(inventory_form),
        )
        .route(
            "/admin/tenants/{slug}/groups/{group}/licenses",
            web::post().to(group_assign_form),
        )
        .route(
            "/admin/tenants/{slug}/groups/{group}/licenses/remove",
            web::post().to(group_unassign_form),
        )
        .route(
            "/admin/api/tenants/{slug}/licenses",
            web::get().to(api_inventory),
        )
        .route(
            "/admin/api/tenants/{slug}/licenses/{code}",
            web::put().to(api_set_inventory),
        )
        .route(
            "/admin/api/tenants/{slug}/groups",
            web::get().to(api_groups),
        )
        .route(
            "/admin/api/tenants/{slug}/groups/{group}/licenses",
            web::post().to(api_group_assign),
        )
        .route(
            "/admin/api/tenants/{slug}/groups/{group}/licenses/{code}",
            web::delete().to(api_group_unassign),
        );
}

struct GroupView {
    id: String,
    name: String,
    members: i64,
}

#[derive(Template)]
#[template(path = "admin_licenses.html")]
struct LicensesPage {
    chrome: Chrome,
    notice: Option<Notice>,
    lines: Vec<InventoryLine>,
    groups: Vec<GroupView>,
}

async fn render(
    state: &AppState,
    p: &Principal,
    t: &Tenant,
    notice: Option<Notice>,
    code: StatusCode,
) -> HttpResponse {
    let loaded = async {
        Ok::<_, Fail>((
            state.db.inventory(t.id).await?,
            state.db.tenant_groups(t.id).await?,
        ))
    }
    .await;
    match loaded {
        Ok((lines, groups)) => html(
            code,
            &LicensesPage {
                chrome: Chrome::new(p, &t.slug, "licenses"),
                notice,
                lines,
                groups: groups
                    .into_iter()
                    .map(|(id, name, members)| GroupView { id, name, members })
                    .collect(),
            },
        ),
        Err(f) => f.page(),
    }
}

async fn page(
    state: web::Data<AppState>,
    req: HttpRequest,
    path: web::Path<String>,
) -> HttpResponse {
    match common::tenant_page(&state, &req, &path).await {
        Ok((p, t)) => render(&state, &p, &t, None, StatusCode::OK).await,
        Err(r) => r,
    }
}

async fn set_inventory(
    state: &AppState,
    p: &Principal,
    t: &Tenant,
    code: &str,
    quantity: &str,
) -> Result<String, Fail> {
    if !p.is_operator() {
        return Err(Fail::operator_only());
    }
    let q: i64 = quantity
        .trim()
        .parse()
        .ok()
        .filter(|q| (0..=1_000_000).contains(q))
        .ok_or_else(|| {
            Fail::bad(
                "invalid_value",
                "The quantity must be a whole number from 0 to 1,000,000.",
            )
        })?;
    state
        .db
        .set_inventory(t.id, code, q, &p.actor(), state.now())
        .await??;
    Ok(format!("{code}: {q} bought."))
}

async fn group_assign(
    state: &AppState,
    p: &Principal,
    t: &Tenant,
    group: &str,
    code: &str,
) -> Result<String, Fail> {
    if code.trim().is_empty() {
        return Err(Fail::bad("invalid_value", "Choose a license."));
    }
    let n = state
        .db
        .assign_license_to_group(t.id, group, code.trim(), &p.actor(), state.now())
        .await??;
    Ok(format!(
        "{code} assigned to {n} member(s) of the group (members who had it already were skipped)."
    ))
}

async fn group_unassign(
    state: &AppState,
    p: &Principal,
    t: &Tenant,
    group: &str,
    code: &str,
) -> Result<String, Fail> {
    let n = state
        .db
        .unassign_license_from_group(t.id, group, code.trim(), &p.actor(), state.now())
        .await??;
    Ok(format!(
        "{code} unassigned from {n} member(s) of the group."
    ))
}

async fn act<F, Fut>(
    state: &web::Data<AppState>,
    req: &HttpRequest,
    slug: &str,
    body: &[u8],
    f: F,
) -> HttpResponse
where
    F: FnOnce(
        web::Data<AppState>,
        Principal,
        Tenant,
        std::collections::HashMap<String, String>,
    ) -> Fut,
    Fut: std::future::Future<Output = Result<String, Fail>>,
{
    let (p, t) = match common::tenant_page(state, req, slug).await {
        Ok(v) => v,
        Err(r) => return r,
    };
    let form = parse_form(body);
    if let Err(r) = check_csrf(state, req, &p, &form) {
        return r;
    }
    match f(state.clone(), p.clone(), t.clone(), form).await {
        Ok(done) => render(state, &p, &t, Some(Notice::Done(done)), StatusCode::OK).await,
        Err(fail) => {
            render(
                state,
                &p,
                &t,
                Some(Notice::Failed(format!("Not done: {}", fail.message))),
                fail.status,
            )
            .await
        }
    }
}

async fn inventory_form(
    state: web::Data<AppState>,
    req: HttpRequest,
    path: web::Path<(String, String)>,
    body: web::Bytes,
) -> HttpResponse {
    let (slug, code) = path.into_inner();
    act(&state, &req, &slug, &body, |state, p, t, form| async move {
        set_inventory(
            &state,
            &p,
            &t,
            &code,
            form.get("quantity").map(String::as_str).unwrap_or(""),
        )
        .await
    })
    .await
}

async fn group_assign_form(
    state: web::Data<AppState>,
    req: HttpRequest,
    path: web::Path<(String, String)>,
    body: web::Bytes,
) -> HttpResponse {
    let (slug, group) = path.into_inner();
    act(&state, &req, &slug, &body, |state, p, t, form| async move {
        group_assign(
            &state,
            &p,
            &t,
            &group,
            form.get("license").map(String::as_str).unwrap_or(""),
        )
        .await
    })
    .await
}

async fn group_unassign_form(
    state: web::Data<AppState>,
    req: HttpRequest,
    path: web::Path<(String, String)>,
    body: web::Bytes,
) -> HttpResponse {
    let (slug, group) = path.into_inner();
    act(&state, &req, &slug, &body, |state, p, t, form| async move {
        group_unassign(
            &state,
            &p,
            &t,
            &group,
            form.get("license").map(String::as_str).unwrap_or(""),
        )
        .await
    })
    .await
}

// ---- API ----------------------------------------------------------------------------------------

fn inventory_json(lines: &[InventoryLine]) -> Value {
    json!({"licenses": lines.iter().map(|l| json!({
        "code": l.license.code,
        "name": l.license.name,
        "kind": l.license.kind,
        "description": l.license.description,
        "services": l.license.apps,
        "quantity": l.quantity,
        "assigned": l.assigned,
        "available": l.available(),
    })).collect::<Vec<_>>()})
}

async fn api_inventory(
    state: web::Data<AppState>,
    req: HttpRequest,
    path: web::Path<String>,
) -> HttpResponse {
    match common::tenant_api(&state, &req, &path).await {
        Ok((_, t)) => match state.db.inventory(t.id).await {
            Ok(lines) => HttpResponse::Ok().json(inventory_json(&lines)),
            Err(e) => Fail::from(e).json(),
        },
        Err(r) => r,
    }
}

async fn api_act<F, Fut>(
    state: &web::Data<AppState>,
    req: &HttpRequest,
    slug: &str,
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
        Ok(msg) => match state.db.inventory(t.id).await {
            Ok(lines) => {
                let mut body = inventory_json(&lines);
                if let Some(m) = body.as_object_mut() {
                    m.insert("message".into(), json!(msg));
                }
                HttpResponse::Ok().json(body)
            }
            Err(e) => Fail::from(e).json(),
        },
        Err(fail) => fail.json(),
    }
}

fn field(body: &[u8], k: &str) -> Result<String, Fail> {
    let v = json_body(body)?;
    Ok(match v.get(k) {
        Some(Value::String(s)) => s.clone(),
        Some(Value::Number(n)) => n.to_string(),
        _ => String::new(),
    })
}

async fn api_set_inventory(
    state: web::Data<AppState>,
    req: HttpRequest,
    path: web::Path<(String, String)>,
    body: web::Bytes,
) -> HttpResponse {
    let (slug, code) = path.into_inner();
    api_act(&state, &req, &slug, |state, p, t| async move {
        set_inventory(&state, &p, &t, &code, &field(&body, "quantity")?).await
    })
    .await
}

async fn api_groups(
    state: web::Data<AppState>,
    req: HttpRequest,
    path: web::Path<String>,
) -> HttpResponse {
    match common::tenant_api(&state, &req, &path).await {
        Ok((_, t)) => match state.db.tenant_groups(t.id).await {
            Ok(g) => HttpResponse::Ok().json(json!({"groups": g.iter().map(|(id, name, n)| json!({"id": id, "display_name": name, "members": n})).collect::<Vec<_>>()})),
            Err(e) => Fail::from(e).json(),
        },
        Err(r) => r,
    }
}

async fn api_group_assign(
    state: web::Data<AppState>,
    req: HttpRequest,
    path: web::Path<(String, String)>,
    body: web::Bytes,
) -> HttpResponse {
    let (slug, group) = path.into_inner();
    api_act(&state, &req, &slug, |state, p, t| async move {
        group_assign(&state, &p, &t, &group, &field(&body, "license")?).await
    })
    .await
}

async fn api_group_unassign(
    state: web::Data<AppState>,
    req: HttpRequest,
    path: web::Path<(String, String, String)>,
) -> HttpResponse {
    let (slug, group, code) = path.into_inner();
    api_act(&state, &req, &slug, |state, p, t| async move {
        group_unassign(&state, &p, &t, &group, &code).await
    })
    .await
}
