//! Page rendering and the responses shared by handlers.

use actix_web::cookie::{Cookie, SameSite, time::Duration as CookieDuration};
use actix_web::http::{StatusCode, header};
use actix_web::{HttpRequest, HttpResponse};
use askama::Template;

use crate::app::AppState;
use crate::store::StoreError;

pub const SESSION_COOKIE: &str = "sso_session";
pub const BINDING_COOKIE_PREFIX: &str = "sso_rb_";
/// Remembers which organization this browser signs in with (not a secret).
pub const TENANT_HINT_COOKIE: &str = "sso_tenant";

#[derive(Template)]
#[template(path = "login.html")]
pub struct LoginPage<'a> {
    pub message: Option<&'a str>,
    pub login: &'a str,
    pub return_to: &'a str,
    pub demo: bool,
}

#[derive(Template)]
#[template(path = "home.html")]
pub struct HomePage<'a> {
    pub user_name: &'a str,
    pub tenant_name: &'a str,
    pub apps: Vec<(&'static str, &'static str)>,
}

#[derive(Template)]
#[template(path = "message.html")]
pub struct MessagePage<'a> {
    pub title: &'a str,
    pub text: &'a str,
    pub incident: Option<&'a str>,
}

#[derive(Template)]
#[template(path = "post_form.html")]
pub struct PostForm<'a> {
    pub action: &'a str,
    pub field: &'a str,
    pub value: &'a str,
    pub relay_state: Option<&'a str>,
}

/// Render a template into an HTML response.
pub fn html(status: StatusCode, t: &impl Template) -> HttpResponse {
    match t.render() {
        Ok(body) => HttpResponse::build(status)
            .insert_header((header::CONTENT_TYPE, "text/html; charset=utf-8"))
            .body(body),
        Err(e) => {
            tracing::error!(error = %e, "template failed");
            HttpResponse::InternalServerError().body("internal error")
        }
    }
}

pub fn message(
    status: StatusCode,
    title: &str,
    text: &str,
    incident: Option<&str>,
) -> HttpResponse {
    html(
        status,
        &MessagePage {
            title,
            text,
            incident,
        },
    )
}

/// A fresh incident id, shown to the user and logged with the precise reason.
pub fn incident_id() -> String {
    let mut b = [0u8; 5];
    let _ = openssl::rand::rand_bytes(&mut b);
    format!(
        "INC-{}",
        b.iter().map(|x| format!("{x:02X}")).collect::<String>()
    )
}

/// A storage failure: the user sees a generic page with an incident id.
pub fn store_failure(e: &StoreError) -> HttpResponse {
    let inc = incident_id();
    crate::obs::note_incident(&inc);
    tracing::error!(incident = %inc, error = %e, "storage failure");
    message(
        StatusCode::SERVICE_UNAVAILABLE,
        "Temporarily unavailable",
        "The sign-in service could not complete your request. Please try again in a moment.",
        Some(&inc),
    )
}

/// The address a request came from, for the audit log and the rate limits: the TCP peer,
/// or behind a configured trusted proxy the client it names in `X-Forwarded-For`
/// (`web::edge`); the header of an untrusted peer is ignored, since any client can send it.
pub fn client_ip(req: &HttpRequest) -> Option<String> {
    super::edge::request_client_ip(req).map(|a| a.to_string())
}

/// The credentials of an `Authorization: Bearer ...` header (the scheme in either case
/// Okta and curl send), trimmed; `None` without one.
pub fn bearer_token(req: &HttpRequest) -> Option<&str> {
    req.headers()
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| {
            v.strip_prefix("Bearer ")
                .or_else(|| v.strip_prefix("bearer "))
        })
        .map(str::trim)
}

pub fn redirect(to: &str) -> HttpResponse {
    HttpResponse::SeeOther()
        .insert_header((header::LOCATION, to))
        .finish()
}

/// The app-session cookie: HttpOnly, Secure, SameSite=Lax.
pub fn session_cookie(value: &str, max_age_seconds: i64) -> Cookie<'static> {
    Cookie::build(SESSION_COOKIE, value.to_string())
        .path("/")
        .http_only(true)
        .secure(true)
        .same_site(SameSite::Lax)
        .max_age(CookieDuration::seconds(max_age_seconds.max(0)))
        .finish()
}

/// The tenant hint: lets `/apps/{app}` start the right SSO without asking again.
pub fn tenant_hint_cookie(slug: &str) -> Cookie<'static> {
    Cookie::build(TENANT_HINT_COOKIE, slug.to_string())
        .path("/")
        .http_only(true)
        .secure(true)
        .same_site(SameSite::Lax)
        .max_age(CookieDuration::days(365))
        .finish()
}

pub fn clear_session_cookie() -> Cookie<'static> {
    session_cookie("", 0)
}

/// The cookie binding an outstanding request to this browser. SameSite=None so that
/// it comes back on the IdP's cross-site POST to the ACS.
pub fn binding_cookie(name: &str, value: &str, max_age_seconds: i64) -> Cookie<'static> {
    Cookie::build(name.to_string(), value.to_string())
        .path("/saml/")
        .http_only(true)
        .secure(true)
        .same_site(SameSite::None)
        .max_age(CookieDuration::seconds(max_age_seconds.max(0)))
        .finish()
}

/// The live session of this request, if any: (raw session id, row).
pub async fn current_session(
    state: &AppState,
    req: &HttpRequest,
) -> Result<Option<(String, crate::store::SessionRow)>, StoreError> {
    let Some(c) = req.cookie(SESSION_COOKIE) else {
        return Ok(None);
    };
    let raw = c.value().to_string();
    if raw.is_empty() {
        return Ok(None);
    }
    let row = state
        .db
        .live_session(
            &crate::store::token_hash(&raw),
            crate::session::IDLE_TIMEOUT_SECONDS,
            state.now(),
        )
        .await?;
    Ok(row.map(|r| (raw, r)))
}
