//! SCIM 2.0 endpoints: `/scim/v2/{tenant}/...`, bearer-token authenticated, per-token
//! rate limited, errors per RFC 7644 §3.12 as `application/scim+json`.

use std::num::NonZeroU32;
use std::sync::Arc;

use actix_web::http::{StatusCode, header};
use actix_web::{HttpRequest, HttpResponse, web};
use governor::{DefaultKeyedRateLimiter, Quota, RateLimiter};
use serde::Deserialize;
use serde_json::{Value, json};

use super::scim_discovery as discovery;
use super::scim_engine as engine;
use crate::app::AppState;
use crate::directory::Tenant;
use crate::obs::metrics::ScimOp;
use crate::scim::resource::{
    self, ScimError, etag, get_ci, list_response, project, served, with_meta,
};
use crate::scim::sql::Dialect;
use crate::store::{
    Actor, Db, Kind, ResourceRow, StoreError, UserColumns, random_token, token_hash,
};

const SCIM_JSON: &str = "application/scim+json";
const MAX_COUNT: i64 = 1000;

/// Requests per second per token, with a burst allowance. Okta retries on 429.
pub fn rate_limiter(per_second: u32, burst: u32) -> Arc<DefaultKeyedRateLimiter<String>> {
    let per_second = NonZeroU32::new(per_second.max(1)).unwrap_or(NonZeroU32::MIN);
    let burst = NonZeroU32::new(burst.max(1)).unwrap_or(NonZeroU32::MIN);
    Arc::new(RateLimiter::keyed(
        Quota::per_second(per_second).allow_burst(burst),
    ))
}

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(
        web::scope("/scim/v2/{tenant}")
            .route("/Users", web::get().to(list_users))
            .route("/Users", web::post().to(create_user))
            .route("/Users/{id}", web::get().to(get_user))
            .route("/Users/{id}", web::put().to(replace_user))
            .route("/Users/{id}", web::patch().to(patch_user))
            .route("/Users/{id}", web::delete().to(delete_user))
            .route("/Groups", web::get().to(list_groups))
            .route("/Groups", web::post().to(create_group))
            .route("/Groups/{id}", web::get().to(get_group))
            .route("/Groups/{id}", web::put().to(replace_group))
            .route("/Groups/{id}", web::patch().to(patch_group))
            .route("/Groups/{id}", web::delete().to(delete_group))
            .route(
                "/ServiceProviderConfig",
                web::get().to(discovery::service_provider_config),
            )
            .route("/ResourceTypes", web::get().to(discovery::resource_types))
            .route(
                "/ResourceTypes/{name}",
                web::get().to(discovery::resource_type),
            )
            .route("/Schemas", web::get().to(discovery::schemas))
            .route("/Schemas/{id}", web::get().to(discovery::schema))
            .route("/ServiceProviderConfig", web::to(method_not_allowed))
            .route("/ResourceTypes", web::to(method_not_allowed))
            .route("/Schemas", web::to(method_not_allowed))
            .default_service(web::to(not_found)),
    );
}

pub(super) fn scim_json(status: StatusCode, body: &Value) -> HttpResponse {
    HttpResponse::build(status)
        .insert_header((header::CONTENT_TYPE, SCIM_JSON))
        .body(body.to_string())
}

fn error(e: &ScimError) -> HttpResponse {
    let status = StatusCode::from_u16(e.status).unwrap_or(StatusCode::BAD_REQUEST);
    let mut r = scim_json(status, &e.body());
    if e.status == 401 {
        r.headers_mut().insert(
            header::WWW_AUTHENTICATE,
            header::HeaderValue::from_static("Bearer realm=\"scim\""),
        );
    }
    if e.status == 429 {
        r.headers_mut()
            .insert(header::RETRY_AFTER, header::HeaderValue::from_static("1"));
    }
    r
}

fn store_error(e: &StoreError) -> ScimError {
    match e {
        StoreError::Conflict(what) => ScimError::conflict(format!(
            "{what} already exists (user names are unique, ignoring case)"
        )),
        StoreError::NotFound(what) => ScimError::not_found(format!("{what} not found")),
        other => {
            tracing::error!(error = %other, "scim storage failure");
            ScimError::new(
                503,
                None,
                "the provisioning store is temporarily unavailable; retry later",
            )
        }
    }
}

async fn not_found() -> HttpResponse {
    error(&ScimError::not_found(
        "no such SCIM endpoint; the base URL is /scim/v2/{tenant}",
    ))
}

async fn method_not_allowed() -> HttpResponse {
    error(&ScimError::new(405, None, "this endpoint is read-only"))
}

/// Authenticate the bearer token for the tenant in the path, and apply the rate limit.
pub(super) async fn authorize(state: &AppState, req: &HttpRequest) -> Result<Tenant, ScimError> {
    authorize_actor(state, req).await.map(|(t, _)| t)
}

/// As `authorize`, with the actor for the audit log (`scim:<token prefix>` and the address).
pub(super) async fn authorize_actor(
    state: &AppState,
    req: &HttpRequest,
) -> Result<(Tenant, Actor), ScimError> {
    let unauthorized = || {
        ScimError::new(
            401,
            None,
            "missing or invalid bearer token for this SCIM base URL",
        )
    };
    let slug = req
        .match_info()
        .get("tenant")
        .unwrap_or_default()
        .to_string();
    let token = super::pages::bearer_token(req)
        .filter(|t| !t.is_empty())
        .ok_or_else(unauthorized)?;
    let hash = token_hash(token);
    let (tenant_id, prefix) = state
        .db
        .tenant_of_scim_token(&hash, state.now())
        .await
        .map_err(|e| store_error(&e))?
        .ok_or_else(unauthorized)?;
    let tenant = state
        .db
        .tenant_by_id(tenant_id)
        .await
        .map_err(|e| store_error(&e))?
        .ok_or_else(unauthorized)?;
    if tenant.slug != slug {
        return Err(unauthorized());
    }
    if let Err(not_until) = state.scim_limiter.check_key(&hash) {
        let wait = not_until.wait_time_from(governor::clock::Clock::now(
            &governor::clock::DefaultClock::default(),
        ));
        return Err(ScimError::new(
            429,
            None,
            format!("too many requests; retry after {} s", wait.as_secs().max(1)),
        ));
    }
    let actor = Actor::new(format!("scim:{prefix}"), super::pages::client_ip(req));
    Ok((tenant, actor))
}

pub(super) fn base_url(state: &AppState, tenant: &Tenant) -> String {
    format!("{}/scim/v2/{}", state.public_url, tenant.slug)
}

fn parse_body(body: &[u8]) -> Result<Value, ScimError> {
    serde_json::from_slice(body)
        .map_err(|e| ScimError::bad("invalidSyntax", format!("the body is not valid JSON: {e}")))
}

fn check_if_match(req: &HttpRequest, version: i64) -> Result<(), ScimError> {
    match req
        .headers()
        .get(header::IF_MATCH)
        .and_then(|v| v.to_str().ok())
    {
        None => Ok(()),
        Some("*") => Ok(()),
        Some(v) if v.split(',').any(|t| t.trim() == etag(version)) => Ok(()),
        Some(_) => Err(ScimError::new(
            412,
            None,
            format!("the resource changed: its version is now {}", etag(version)),
        )),
    }
}

fn respond(
    status: StatusCode,
    state: &AppState,
    tenant: &Tenant,
    kind: Kind,
    row: &ResourceRow,
    extra: Option<Value>,
) -> HttpResponse {
    let path = if kind == Kind::User {
        "Users"
    } else {
        "Groups"
    };
    let location = format!("{}/{path}/{}", base_url(state, tenant), row.scim_id);
    let mut body = served(row.resource.clone(), &location);
    if let (Some(Value::Object(extra)), Some(o)) = (extra, body.as_object_mut()) {
        o.extend(extra);
    }
    let mut r = scim_json(status, &body);
    r.headers_mut().insert(
        header::ETAG,
        header::HeaderValue::from_str(&etag(row.version))
            .unwrap_or(header::HeaderValue::from_static("")),
    );
    if status == StatusCode::CREATED
        && let Ok(v) = header::HeaderValue::from_str(&location)
    {
        r.headers_mut().insert(header::LOCATION, v);
    }
    r
}

fn new_id() -> Result<String, ScimError> {
    crate::store::new_scim_id().map_err(|e| store_error(&e))
}

/// The indexed columns of a user resource, with the Federation ID rule: it follows the
/// tenant's attribute (default userName) unless an admin pinned it.
fn user_columns(
    tenant: &Tenant,
    user: &Value,
    previous: Option<&UserColumns>,
) -> Result<UserColumns, ScimError> {
    let user_name = user
        .get("userName")
        .and_then(Value::as_str)
        .unwrap_or_default()
        .to_string();
    let pinned = previous.is_some_and(|p| p.federation_pinned);
    let federation_id = match previous {
        Some(p) if p.federation_pinned => p.federation_id.clone(),
        _ => resource::attribute_text(user, &tenant.federation_attribute)
            .unwrap_or_else(|| user_name.clone()),
    };
    Ok(UserColumns {
        external_id: user
            .as_object()
            .and_then(|o| get_ci(o, "externalId"))
            .and_then(Value::as_str)
            .map(str::to_string),
        display_name: resource::display_name(user),
        email: resource::primary_email(user),
        active: user
            .get("active")
            .and_then(resource::as_bool)
            .unwrap_or(true),
        federation_id,
        federation_pinned: pinned,
        user_name,
    })
}

#[derive(Deserialize)]
pub struct ListQuery {
    filter: Option<String>,
    #[serde(rename = "startIndex")]
    start_index: Option<String>,
    count: Option<String>,
    attributes: Option<String>,
    #[serde(rename = "excludedAttributes")]
    excluded_attributes: Option<String>,
    #[serde(rename = "sortBy")]
    sort_by: Option<String>,
    #[serde(rename = "sortOrder")]
    sort_order: Option<String>,
}

async fn list(
    state: &AppState,
    req: &HttpRequest,
    kind: Kind,
    q: &ListQuery,
) -> Result<HttpResponse, ScimError> {
    let tenant = authorize(state, req).await?;
    let num = |s: &Option<String>, name: &str, default: i64| -> Result<i64, ScimError> {
        match s.as_deref().map(str::trim) {
            None | Some("") => Ok(default),
            Some(v) => v
                .parse::<i64>()
                .map_err(|_| ScimError::bad("invalidValue", format!("{name} must be an integer"))),
        }
    };
    let start = num(&q.start_index, "startIndex", 1)?.max(1);
    let count = num(&q.count, "count", 100)?.clamp(0, MAX_COUNT);
    let (where_sql, binds) = match q.filter.as_deref().map(str::trim).filter(|f| !f.is_empty()) {
        Some(f) => {
            let (w, b) =
                engine::where_clause(kind, f, dialect(state), Db::SCIM_LIST_FIRST_PLACEHOLDER)?;
            (Some(w), b)
        }
        None => (None, vec![]),
    };
    let descending = q
        .sort_order
        .as_deref()
        .is_some_and(|o| o.eq_ignore_ascii_case("descending"));
    let order = engine::order_clause(kind, q.sort_by.as_deref(), descending, dialect(state))?;
    let (total, rows) = state
        .db
        .scim_list(
            kind,
            tenant.id,
            where_sql.as_deref(),
            &binds,
            &order,
            start - 1,
            count,
        )
        .await
        .map_err(|e| store_error(&e))?;
    let path = if kind == Kind::User {
        "Users"
    } else {
        "Groups"
    };
    let base = base_url(state, &tenant);
    let resources = rows
        .into_iter()
        .map(|r| {
            let loc = format!("{base}/{path}/{}", r.scim_id);
            project(
                &served(r.resource, &loc),
                q.attributes.as_deref(),
                q.excluded_attributes.as_deref(),
            )
        })
        .collect();
    Ok(scim_json(
        StatusCode::OK,
        &list_response(total, start, resources),
    ))
}

/// The SCIM filter translation's dialect for the connected database.
fn dialect(state: &AppState) -> Dialect {
    match state.db.dialect() {
        crate::store::Dialect::Sqlite => Dialect::Sqlite,
        crate::store::Dialect::Postgres => Dialect::Postgres,
    }
}

pub(super) fn into_response(r: Result<HttpResponse, ScimError>) -> HttpResponse {
    r.unwrap_or_else(|e| error(&e))
}

/// As `into_response`, counted in `sso_gateway_scim_requests_total`.
fn observed(kind: Kind, op: ScimOp, r: Result<HttpResponse, ScimError>) -> HttpResponse {
    let resp = into_response(r);
    let resource = match kind {
        Kind::User => "users",
        Kind::Group => "groups",
    };
    crate::obs::metrics::scim(resource, op, resp.status());
    resp
}

async fn list_users(
    state: web::Data<AppState>,
    req: HttpRequest,
    q: web::Query<ListQuery>,
) -> HttpResponse {
    observed(
        Kind::User,
        ScimOp::List,
        list(&state, &req, Kind::User, &q).await,
    )
}

async fn list_groups(
    state: web::Data<AppState>,
    req: HttpRequest,
    q: web::Query<ListQuery>,
) -> HttpResponse {
    observed(
        Kind::Group,
        ScimOp::List,
        list(&state, &req, Kind::Group, &q).await,
    )
}

async fn create_user(
    state: web::Data<AppState>,
    req: HttpRequest,
    body: web::Bytes,
) -> HttpResponse {
    observed(
        Kind::User,
        ScimOp::Create,
        async {
            let (tenant, actor) = authorize_actor(&state, &req).await?;
            let user = resource::normalize_user(&parse_body(&body)?)?;
            let id = new_id()?;
            let now = state.now();
            let stored = with_meta(user, &id, "User", now.timestamp(), now.timestamp(), 1);
            let cols = user_columns(&tenant, &stored, None)?;
            let row = state
                .db
                .scim_insert_user(tenant.id, &id, &stored, &cols, &actor, now)
                .await
                .map_err(|e| store_error(&e))?;
            Ok(respond(
                StatusCode::CREATED,
                &state,
                &tenant,
                Kind::User,
                &row,
                None,
            ))
        }
        .await,
    )
}

async fn user_groups_extra(
    state: &AppState,
    tenant: &Tenant,
    id: &str,
) -> Result<Value, ScimError> {
    let groups = state
        .db
        .groups_of_user(tenant.id, id)
        .await
        .map_err(|e| store_error(&e))?;
    let base = base_url(state, tenant);
    Ok(
        json!({"groups": groups.into_iter().map(|(gid, name)| json!({"value": gid, "display": name, "$ref": format!("{base}/Groups/{gid}")})).collect::<Vec<_>>()}),
    )
}

#[derive(Deserialize)]
pub struct GetQuery {
    attributes: Option<String>,
    #[serde(rename = "excludedAttributes")]
    excluded_attributes: Option<String>,
}

async fn get_one(
    state: &AppState,
    req: &HttpRequest,
    kind: Kind,
    q: &GetQuery,
) -> Result<HttpResponse, ScimError> {
    let tenant = authorize(state, req).await?;
    let id = req.match_info().get("id").unwrap_or_default().to_string();
    let row = state
        .db
        .scim_get(kind, tenant.id, &id)
        .await
        .map_err(|e| store_error(&e))?;
    let row = row.ok_or_else(|| {
        ScimError::not_found(format!(
            "no {} with id {id}",
            if kind == Kind::User { "user" } else { "group" }
        ))
    })?;
    let extra = if kind == Kind::User {
        Some(user_groups_extra(state, &tenant, &id).await?)
    } else {
        None
    };
    let r = respond(StatusCode::OK, state, &tenant, kind, &row, extra);
    if q.attributes.is_none() && q.excluded_attributes.is_none() {
        return Ok(r);
    }
    let body: Value = serde_json::from_slice(
        &actix_web::body::to_bytes(r.into_body())
            .await
            .unwrap_or_default(),
    )
    .unwrap_or(Value::Null);
    Ok(scim_json(
        StatusCode::OK,
        &project(
            &body,
            q.attributes.as_deref(),
            q.excluded_attributes.as_deref(),
        ),
    ))
}

async fn get_user(
    state: web::Data<AppState>,
    req: HttpRequest,
    q: web::Query<GetQuery>,
) -> HttpResponse {
    observed(
        Kind::User,
        ScimOp::Get,
        get_one(&state, &req, Kind::User, &q).await,
    )
}

async fn get_group(
    state: web::Data<AppState>,
    req: HttpRequest,
    q: web::Query<GetQuery>,
) -> HttpResponse {
    observed(
        Kind::Group,
        ScimOp::Get,
        get_one(&state, &req, Kind::Group, &q).await,
    )
}

/// Update a user by a function of its current resource (PUT and PATCH).
async fn update_user_with(
    state: &AppState,
    req: &HttpRequest,
    f: impl FnOnce(&Value) -> Result<Value, ScimError>,
) -> Result<HttpResponse, ScimError> {
    let (tenant, actor) = authorize_actor(state, req).await?;
    let id = req.match_info().get("id").unwrap_or_default().to_string();
    let now = state.now();
    let t2 = tenant.clone();
    let result = state
        .db
        .scim_update_user(tenant.id, &id, &actor, now, |row, old| {
            check_if_match(req, row.version)?;
            let new = resource::normalize_user(&f(&row.resource)?)?;
            let created = row.created_at;
            let stored = with_meta(
                new,
                &row.scim_id,
                "User",
                created,
                now.timestamp(),
                row.version + 1,
            );
            let cols = user_columns(&t2, &stored, Some(old))?;
            Ok::<_, ScimError>((stored, cols))
        })
        .await
        .map_err(|e| store_error(&e))?;
    let row = result?;
    let extra = user_groups_extra(state, &tenant, &id).await?;
    Ok(respond(
        StatusCode::OK,
        state,
        &tenant,
        Kind::User,
        &row,
        Some(extra),
    ))
}

async fn replace_user(
    state: web::Data<AppState>,
    req: HttpRequest,
    body: web::Bytes,
) -> HttpResponse {
    observed(
        Kind::User,
        ScimOp::Replace,
        async {
            let new = parse_body(&body)?;
            update_user_with(&state, &req, move |_| Ok(new)).await
        }
        .await,
    )
}

async fn patch_user(
    state: web::Data<AppState>,
    req: HttpRequest,
    body: web::Bytes,
) -> HttpResponse {
    observed(
        Kind::User,
        ScimOp::Patch,
        async {
            let ops = parse_body(&body)?;
            update_user_with(&state, &req, move |current| {
                let mut r = current.clone();
                engine::patch(Kind::User, &mut r, &ops)?;
                Ok(r)
            })
            .await
        }
        .await,
    )
}

async fn delete_one(
    state: &AppState,
    req: &HttpRequest,
    kind: Kind,
) -> Result<HttpResponse, ScimError> {
    let (tenant, actor) = authorize_actor(state, req).await?;
    let id = req.match_info().get("id").unwrap_or_default().to_string();
    if let Some(row) = state
        .db
        .scim_get(kind, tenant.id, &id)
        .await
        .map_err(|e| store_error(&e))?
    {
        check_if_match(req, row.version)?;
    }
    if state
        .db
        .scim_delete(kind, tenant.id, &id, &actor, state.now())
        .await
        .map_err(|e| store_error(&e))?
    {
        Ok(HttpResponse::NoContent().finish())
    } else {
        Err(ScimError::not_found(format!("no resource with id {id}")))
    }
}

async fn delete_user(state: web::Data<AppState>, req: HttpRequest) -> HttpResponse {
    observed(
        Kind::User,
        ScimOp::Delete,
        delete_one(&state, &req, Kind::User).await,
    )
}

async fn delete_group(state: web::Data<AppState>, req: HttpRequest) -> HttpResponse {
    observed(
        Kind::Group,
        ScimOp::Delete,
        delete_one(&state, &req, Kind::Group).await,
    )
}

fn missing_member(id: String) -> ScimError {
    ScimError::bad(
        "invalidValue",
        format!("member {id} is not a user of this organization"),
    )
}

/// Members must be users of this tenant.
async fn check_members(state: &AppState, tenant: &Tenant, group: &Value) -> Result<(), ScimError> {
    let ids = resource::member_ids(group);
    let found = state
        .db
        .existing_user_ids(tenant.id, &ids)
        .await
        .map_err(|e| store_error(&e))?;
    match ids.iter().find(|i| !found.contains(i)) {
        Some(missing) => Err(missing_member(missing.clone())),
        None => Ok(()),
    }
}

async fn create_group(
    state: web::Data<AppState>,
    req: HttpRequest,
    body: web::Bytes,
) -> HttpResponse {
    observed(
        Kind::Group,
        ScimOp::Create,
        async {
            let (tenant, actor) = authorize_actor(&state, &req).await?;
            let group = resource::normalize_group(&parse_body(&body)?)?;
            check_members(&state, &tenant, &group).await?;
            let id = new_id()?;
            let now = state.now();
            let stored = with_meta(group, &id, "Group", now.timestamp(), now.timestamp(), 1);
            let name = stored
                .get("displayName")
                .and_then(Value::as_str)
                .unwrap_or_default()
                .to_string();
            let ext = stored
                .get("externalId")
                .and_then(Value::as_str)
                .map(str::to_string);
            let row = state
                .db
                .scim_insert_group(tenant.id, &id, &name, ext.as_deref(), &stored, &actor, now)
                .await
                .map_err(|e| store_error(&e))?;
            Ok(respond(
                StatusCode::CREATED,
                &state,
                &tenant,
                Kind::Group,
                &row,
                None,
            ))
        }
        .await,
    )
}

async fn update_group_with(
    state: &AppState,
    req: &HttpRequest,
    f: impl FnOnce(&Value) -> Result<Value, ScimError>,
) -> Result<HttpResponse, ScimError> {
    let (tenant, actor) = authorize_actor(state, req).await?;
    let id = req.match_info().get("id").unwrap_or_default().to_string();
    let now = state.now();
    let current = state
        .db
        .scim_get(Kind::Group, tenant.id, &id)
        .await
        .map_err(|e| store_error(&e))?;
    let current = current.ok_or_else(|| ScimError::not_found(format!("no group with id {id}")))?;
    check_if_match(req, current.version)?;
    let result = state
        .db
        .scim_update_group(
            tenant.id,
            &id,
            &actor,
            now,
            |row| {
                let new = resource::normalize_group(&f(&row.resource)?)?;
                let stored = with_meta(
                    new,
                    &row.scim_id,
                    "Group",
                    row.created_at,
                    now.timestamp(),
                    row.version + 1,
                );
                let name = stored
                    .get("displayName")
                    .and_then(Value::as_str)
                    .unwrap_or_default()
                    .to_string();
                let ext = stored
                    .get("externalId")
                    .and_then(Value::as_str)
                    .map(str::to_string);
                Ok::<_, ScimError>((stored, name, ext))
            },
            missing_member,
        )
        .await
        .map_err(|e| store_error(&e))?;
    let row = result?;
    Ok(respond(
        StatusCode::OK,
        state,
        &tenant,
        Kind::Group,
        &row,
        None,
    ))
}

async fn replace_group(
    state: web::Data<AppState>,
    req: HttpRequest,
    body: web::Bytes,
) -> HttpResponse {
    observed(
        Kind::Group,
        ScimOp::Replace,
        async {
            let new = parse_body(&body)?;
            update_group_with(&state, &req, move |_| Ok(new)).await
        }
        .await,
    )
}

async fn patch_group(
    state: web::Data<AppState>,
    req: HttpRequest,
    body: web::Bytes,
) -> HttpResponse {
    observed(
        Kind::Group,
        ScimOp::Patch,
        async {
            let ops = parse_body(&body)?;
            update_group_with(&state, &req, move |current| {
                let mut r = current.clone();
                engine::patch(Kind::Group, &mut r, &ops)?;
                Ok(r)
            })
            .await
        }
        .await,
    )
}

/// Create a SCIM token for a tenant (shown once, stored hashed).
pub async fn issue_token(
    db: &crate::store::Db,
    tenant_id: i64,
    label: &str,
    now: chrono::DateTime<chrono::Utc>,
) -> Result<(i64, String), StoreError> {
    let raw = format!("scim_{}", random_token(32)?);
    let id = db
        .add_scim_token(tenant_id, &token_hash(&raw), label, now)
        .await?;
    db.set_scim_token_prefix(id, raw.get(..12).unwrap_or_default())
        .await?;
    Ok((id, raw))
}
