//! Admin sessions, cookies, CSRF and Origin checks (ADR 0010).

use std::collections::HashMap;

use actix_web::cookie::{Cookie, SameSite, time::Duration as CookieDuration};
use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse};

use crate::app::AppState;
use crate::store::{Actor, AdminAccount, AdminRole, AdminSession, StoreError, token_hash};
use crate::web::pages;

/// The admin-session cookie (never sent outside `/admin`).
pub const ADMIN_COOKIE: &str = "sso_admin";
/// The pre-session cookie that carries the login form's CSRF token.
pub const PRE_COOKIE: &str = "sso_admin_pre";
/// Admin sessions end after this long without use.
pub const IDLE_SECONDS: i64 = 30 * 60;
/// Admin sessions never last longer than this.
pub const ABSOLUTE_SECONDS: i64 = 8 * 60 * 60;
/// How long the login form stays usable.
pub const PRE_SECONDS: i64 = 60 * 60;
/// The header alternative to the `csrf` form field.
pub const CSRF_HEADER: &str = "X-CSRF-Token";
/// Admin API tokens start with this, so a leaked one is recognisable.
pub const API_TOKEN_PREFIX: &str = "sgw_adm_";

/// How an admin request is authenticated.
#[derive(Debug, Clone)]
pub enum Via {
    /// The console's session cookie: state-changing requests need the CSRF token.
    Session { csrf: crate::secret::Secret<String> },
    /// An admin API token (`Authorization: Bearer sgw_adm_...`): not ambient, no CSRF.
    Token { prefix: String },
}

/// The admin behind a request.
#[derive(Debug, Clone)]
pub struct Principal {
    pub admin: AdminAccount,
    pub via: Via,
    pub ip: Option<String>,
}

impl Principal {
    pub fn from_session(s: AdminSession, req: &HttpRequest) -> Self {
        Principal {
            admin: s.admin,
            via: Via::Session { csrf: s.csrf_token },
            ip: pages::client_ip(req),
        }
    }

    /// Who the audit log names.
    pub fn actor(&self) -> Actor {
        let name = match &self.via {
            Via::Session { .. } => format!("admin:{}", self.admin.email),
            Via::Token { prefix } => format!("api-token:{prefix} ({})", self.admin.email),
        };
        Actor::new(name, self.ip.clone())
    }

    /// The session's CSRF token (empty for API tokens).
    pub fn csrf(&self) -> &str {
        match &self.via {
            Via::Session { csrf } => csrf.expose(),
            Via::Token { .. } => "",
        }
    }

    pub fn is_operator(&self) -> bool {
        self.admin.role == AdminRole::Operator
    }

    pub fn is_session(&self) -> bool {
        matches!(self.via, Via::Session { .. })
    }
}

/// The admin of an API request: a Bearer admin API token, else the session cookie.
pub async fn api_principal(
    state: &AppState,
    req: &HttpRequest,
) -> Result<Option<Principal>, StoreError> {
    let bearer = crate::web::pages::bearer_token(req);
    if let Some(token) = bearer {
        if !token.starts_with(API_TOKEN_PREFIX) {
            return Ok(None);
        }
        return Ok(state
            .db
            .admin_of_api_token(&token_hash(token), state.now())
            .await?
            .map(|(admin, prefix)| Principal {
                admin,
                via: Via::Token { prefix },
                ip: pages::client_ip(req),
            }));
    }
    Ok(current(state, req)
        .await?
        .map(|(_, s)| Principal::from_session(s, req)))
}

fn cookie(name: &'static str, value: &str, max_age_seconds: i64) -> Cookie<'static> {
    Cookie::build(name, value.to_string())
        .path("/admin")
        .http_only(true)
        .secure(true)
        .same_site(SameSite::Strict)
        .max_age(CookieDuration::seconds(max_age_seconds.max(0)))
        .finish()
}

/// `sso_admin`: HttpOnly; Secure; SameSite=Strict; Path=/admin.
pub fn admin_cookie(value: &str, max_age_seconds: i64) -> Cookie<'static> {
    cookie(ADMIN_COOKIE, value, max_age_seconds)
}

pub fn pre_cookie(value: &str, max_age_seconds: i64) -> Cookie<'static> {
    cookie(PRE_COOKIE, value, max_age_seconds)
}

/// The live admin session of this request: (raw id, session).
pub async fn current(
    state: &AppState,
    req: &HttpRequest,
) -> Result<Option<(String, AdminSession)>, StoreError> {
    let Some(c) = req.cookie(ADMIN_COOKIE) else {
        return Ok(None);
    };
    let raw = c.value().to_string();
    if raw.is_empty() {
        return Ok(None);
    }
    let s = state
        .db
        .live_admin_session(&token_hash(&raw), IDLE_SECONDS, state.now())
        .await?;
    Ok(s.map(|s| (raw, s)))
}

/// Constant-time equality of two tokens; empty never matches.
pub fn token_eq(expected: &str, given: &str) -> bool {
    !expected.is_empty()
        && expected.len() == given.len()
        && openssl::memcmp::eq(expected.as_bytes(), given.as_bytes())
}

/// An `application/x-www-form-urlencoded` body; later duplicates are ignored.
pub fn parse_form(body: &[u8]) -> HashMap<String, String> {
    let mut out = HashMap::new();
    for (k, v) in url::form_urlencoded::parse(body) {
        out.entry(k.into_owned()).or_insert_with(|| v.into_owned());
    }
    out
}

/// The CSRF token the request carries: the header, else the `csrf` form field.
pub fn submitted_csrf(req: &HttpRequest, form: &HashMap<String, String>) -> String {
    req.headers()
        .get(CSRF_HEADER)
        .and_then(|v| v.to_str().ok())
        .map(str::to_string)
        .or_else(|| form.get("csrf").cloned())
        .unwrap_or_default()
}

/// If the browser sent `Origin`, it must be our public URL's origin.
pub fn origin_ok(state: &AppState, req: &HttpRequest) -> bool {
    let Some(origin) = req.headers().get(actix_web::http::header::ORIGIN) else {
        return true;
    };
    let ours = url::Url::parse(&state.public_url)
        .map(|u| u.origin().ascii_serialization())
        .unwrap_or_default();
    origin
        .to_str()
        .is_ok_and(|o| !ours.is_empty() && o.trim_end_matches('/') == ours)
}

/// The 403 page for a missing or wrong CSRF token or a foreign Origin.
pub fn forbidden() -> HttpResponse {
    pages::message(
        StatusCode::FORBIDDEN,
        "Request refused",
        "This form has expired or did not come from this site. Go back, reload the page and try again.",
        None,
    )
}

/// Gate for a state-changing admin POST: for a session, the Origin and the session's
/// CSRF token (from the form or the header); an API token needs neither.
pub fn check_csrf(
    state: &AppState,
    req: &HttpRequest,
    p: &Principal,
    form: &HashMap<String, String>,
) -> Result<(), HttpResponse> {
    if csrf_ok(state, req, p, form) {
        Ok(())
    } else {
        Err(forbidden())
    }
}

pub fn csrf_ok(
    state: &AppState,
    req: &HttpRequest,
    p: &Principal,
    form: &HashMap<String, String>,
) -> bool {
    match &p.via {
        Via::Token { .. } => true,
        Via::Session { csrf } => {
            origin_ok(state, req) && token_eq(csrf.expose(), &submitted_csrf(req, form))
        }
    }
}
