//! What every console page and API handler shares: who is asking (and may they see this
//! tenant), the page chrome, one error type with an HTML and a JSON face, and formatting.

use std::collections::HashMap;

use actix_web::http::{StatusCode, header};
use actix_web::{HttpRequest, HttpResponse};
use chrono::DateTime;
use serde_json::json;

use super::auth::{self, Principal, csrf_ok};
use crate::app::AppState;
use crate::directory::Tenant;
use crate::store::{LicenseError, NumberError, StoreError};
use crate::web::pages::{self, redirect};

/// The header, navigation and forms' CSRF token of a console page.
#[derive(Debug, Clone)]
pub struct Chrome {
    pub email: String,
    pub role: &'static str,
    pub csrf: String,
    pub operator: bool,
    /// The tenant whose tabs are shown, and the active tab.
    pub slug: String,
    pub tab: &'static str,
}

impl Chrome {
    pub fn new(p: &Principal, slug: &str, tab: &'static str) -> Self {
        Chrome {
            email: p.admin.email.clone(),
            role: if p.is_operator() {
                "operator"
            } else {
                "tenant admin"
            },
            csrf: p.csrf().to_string(),
            operator: p.is_operator(),
            slug: slug.to_string(),
            tab,
        }
    }
}

/// A message shown at the top of a page after an action.
#[derive(Debug, Clone)]
pub enum Notice {
    Done(String),
    Failed(String),
}

impl Notice {
    pub fn is_error(&self) -> bool {
        matches!(self, Notice::Failed(_))
    }
    pub fn text(&self) -> &str {
        match self {
            Notice::Done(t) | Notice::Failed(t) => t,
        }
    }
}

/// A refused or failed request: status, stable code and a sentence for people.
#[derive(Debug, Clone)]
pub struct Fail {
    pub status: StatusCode,
    pub code: String,
    pub message: String,
}

impl Fail {
    pub fn new(status: StatusCode, code: &str, message: impl Into<String>) -> Self {
        Fail {
            status,
            code: code.to_string(),
            message: message.into(),
        }
    }

    pub fn bad(code: &str, message: impl Into<String>) -> Self {
        Fail::new(StatusCode::BAD_REQUEST, code, message)
    }

    pub fn not_found() -> Self {
        Fail::new(
            StatusCode::NOT_FOUND,
            "not_found",
            "There is nothing at this address.",
        )
    }

    pub fn operator_only() -> Self {
        Fail::new(
            StatusCode::FORBIDDEN,
            "operator_only",
            "Only operators may do this.",
        )
    }

    pub fn json(&self) -> HttpResponse {
        HttpResponse::build(self.status)
            .insert_header((header::CACHE_CONTROL, "no-store"))
            .json(json!({"error": self.code, "message": self.message}))
    }

    /// The generic page for failures that have no page of their own.
    pub fn page(&self) -> HttpResponse {
        let title = match self.status {
            StatusCode::NOT_FOUND => "Not found",
            StatusCode::FORBIDDEN => "Not allowed",
            StatusCode::SERVICE_UNAVAILABLE => "Temporarily unavailable",
            _ => "Not done",
        };
        pages::message(self.status, title, &self.message, None)
    }
}

impl From<StoreError> for Fail {
    fn from(e: StoreError) -> Self {
        match e {
            StoreError::Conflict(what) => Fail::new(
                StatusCode::CONFLICT,
                "conflict",
                format!("{what} already exists"),
            ),
            StoreError::NotFound(what) => Fail::new(
                StatusCode::NOT_FOUND,
                "not_found",
                format!("{what} not found"),
            ),
            other => {
                let inc = pages::incident_id();
                crate::obs::note_incident(&inc);
                tracing::error!(incident = %inc, error = %other, "storage failure");
                Fail::new(
                    StatusCode::SERVICE_UNAVAILABLE,
                    "unavailable",
                    format!("The database could not complete the request; try again ({inc})."),
                )
            }
        }
    }
}

impl From<LicenseError> for Fail {
    fn from(e: LicenseError) -> Self {
        match e {
            // Like any missing object: the same answer whether it exists elsewhere or not.
            LicenseError::UnknownUser | LicenseError::UnknownGroup => {
                Fail::new(StatusCode::NOT_FOUND, "not_found", e.to_string())
            }
            LicenseError::UnknownLicense(_) => Fail::bad(e.code(), e.to_string()),
            _ => Fail::new(StatusCode::CONFLICT, e.code(), e.to_string()),
        }
    }
}

impl From<NumberError> for Fail {
    fn from(e: NumberError) -> Self {
        match e {
            NumberError::Invalid(_) => Fail::bad(e.code(), e.to_string()),
            NumberError::Taken(_) => Fail::new(StatusCode::CONFLICT, e.code(), e.to_string()),
            NumberError::UnknownUser => {
                Fail::new(StatusCode::NOT_FOUND, "not_found", e.to_string())
            }
        }
    }
}

/// The admin of a console page (sessions only), or a redirect to the login.
pub async fn page_principal(
    state: &AppState,
    req: &HttpRequest,
) -> Result<Principal, HttpResponse> {
    match auth::current(state, req).await {
        Ok(Some((_, s))) => Ok(Principal::from_session(s, req)),
        Ok(None) => Err(redirect("/admin/login")),
        Err(e) => Err(pages::store_failure(&e)),
    }
}

/// The admin of an API request (token or session), or 401 JSON.
pub async fn api_principal(state: &AppState, req: &HttpRequest) -> Result<Principal, HttpResponse> {
    match auth::api_principal(state, req).await {
        Ok(Some(p)) => Ok(p),
        Ok(None) => Err(HttpResponse::Unauthorized()
            .insert_header((header::WWW_AUTHENTICATE, "Bearer realm=\"sso-gateway admin\""))
            .json(json!({"error": "unauthorized", "message": "Sign in to the console, or send an admin API token as a Bearer token."}))),
        Err(e) => Err(Fail::from(e).json()),
    }
}

/// The tenant `slug` if this admin may see it (others look exactly like missing ones).
pub async fn visible_tenant(state: &AppState, p: &Principal, slug: &str) -> Result<Tenant, Fail> {
    match state.db.tenant_by_slug(slug).await? {
        Some(t) if p.admin.may_see(t.id) => Ok(t),
        _ => Err(Fail::not_found()),
    }
}

/// A page of a tenant: the admin (session) and the tenant, or the login / a 404 page.
pub async fn tenant_page(
    state: &AppState,
    req: &HttpRequest,
    slug: &str,
) -> Result<(Principal, Tenant), HttpResponse> {
    let p = page_principal(state, req).await?;
    match visible_tenant(state, &p, slug).await {
        Ok(t) => Ok((p, t)),
        Err(f) => Err(f.page()),
    }
}

/// An API call on a tenant: the admin (token or session) and the tenant, or JSON errors.
pub async fn tenant_api(
    state: &AppState,
    req: &HttpRequest,
    slug: &str,
) -> Result<(Principal, Tenant), HttpResponse> {
    let p = api_principal(state, req).await?;
    match visible_tenant(state, &p, slug).await {
        Ok(t) => Ok((p, t)),
        Err(f) => Err(f.json()),
    }
}

/// For a state-changing API call: the CSRF check when it rides on the session cookie.
pub fn api_write(state: &AppState, req: &HttpRequest, p: &Principal) -> Result<(), HttpResponse> {
    if csrf_ok(state, req, p, &HashMap::new()) {
        Ok(())
    } else {
        Err(Fail::new(
            StatusCode::FORBIDDEN,
            "csrf",
            "A console session must send its CSRF token in the X-CSRF-Token header (or use an admin API token).",
        )
        .json())
    }
}

/// Parse a JSON body.
pub fn json_body(body: &[u8]) -> Result<serde_json::Value, Fail> {
    if body.is_empty() {
        return Ok(json!({}));
    }
    serde_json::from_slice(body)
        .map_err(|e| Fail::bad("invalid_json", format!("The body is not valid JSON: {e}")))
}

/// Unix seconds as `2026-06-01 12:00 UTC` ("never" for none).
pub fn when(t: Option<i64>) -> String {
    t.and_then(|t| DateTime::from_timestamp(t, 0))
        .map(|d| d.format("%Y-%m-%d %H:%M UTC").to_string())
        .unwrap_or_else(|| "never".into())
}

/// Unix seconds as RFC 3339 for JSON (null for none).
pub fn rfc3339(t: Option<i64>) -> serde_json::Value {
    t.and_then(|t| DateTime::from_timestamp(t, 0))
        .map(|d| json!(d.to_rfc3339_opts(chrono::SecondsFormat::Secs, true)))
        .unwrap_or(serde_json::Value::Null)
}

/// A page number from the query (1-based) and the page size.
#[derive(Debug, Clone, Copy)]
pub struct Paging {
    pub page: i64,
    pub per_page: i64,
}

impl Paging {
    pub fn from_query(q: &HashMap<String, String>, default_size: i64) -> Self {
        let num = |k: &str| q.get(k).and_then(|v| v.trim().parse::<i64>().ok());
        Paging {
            page: num("page").unwrap_or(1).max(1),
            per_page: num("per_page").unwrap_or(default_size).clamp(1, 200),
        }
    }
    pub fn offset(&self) -> i64 {
        (self.page - 1).saturating_mul(self.per_page)
    }
    pub fn pages(&self, total: i64) -> i64 {
        ((total + self.per_page - 1) / self.per_page).max(1)
    }
}

/// The query string as a map (first value wins).
pub fn query_map(req: &HttpRequest) -> HashMap<String, String> {
    auth::parse_form(req.query_string().as_bytes())
}

/// Encode a query string for links (pagination, filters).
pub fn query_string(pairs: &[(&str, &str)]) -> String {
    let mut s = url::form_urlencoded::Serializer::new(String::new());
    for (k, v) in pairs {
        if !v.is_empty() {
            s.append_pair(k, v);
        }
    }
    s.finish()
}
