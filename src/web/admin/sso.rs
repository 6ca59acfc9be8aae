//! Tenant admins signing in to the console through their own organization's SSO, when the
//! tenant allows it. The local password login always remains (break-glass).
//!
//! The ACS is a cross-site POST, on which a `SameSite=Strict` console cookie would not be
//! sent back. So the ACS does not start the console session itself: it stores a one-time
//! ticket bound to this browser (a short-lived `SameSite=Lax` cookie on `/admin/sso`), and
//! answers with a page that moves to `/admin/sso/complete`, a same-site navigation, which
//! consumes the ticket and starts the session like a password login does.

use actix_web::cookie::{Cookie, SameSite, time::Duration as CookieDuration};
use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, web};
use askama::Template;

use super::auth::{origin_ok, parse_form};
use crate::app::AppState;
use crate::directory::Tenant;
use crate::saml::VerifiedAssertion;
use crate::store::{AdminRole, RequestPurpose, TicketPurpose, random_token, token_hash};
use crate::web::pages::{self, html, message, store_failure};

const TICKET_COOKIE: &str = "sso_admin_sso";
const TICKET_SECONDS: i64 = 120;

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.route("/admin/sso", web::post().to(start))
        .route("/admin/sso/complete", web::get().to(complete));
}

#[derive(Template)]
#[template(path = "admin_sso_continue.html")]
struct ContinuePage<'a> {
    url: &'a str,
}

fn refused(title: &str, text: &str) -> HttpResponse {
    message(StatusCode::FORBIDDEN, title, text, None)
}

/// Start SP-initiated SSO for the console: the organization's short name from the form.
async fn start(state: web::Data<AppState>, req: HttpRequest, body: web::Bytes) -> HttpResponse {
    if !origin_ok(&state, &req) {
        return super::auth::forbidden();
    }
    let form = parse_form(&body);
    let org = form
        .get("org")
        .map(|s| s.trim().to_ascii_lowercase())
        .unwrap_or_default();
    let tenant = match state.db.tenant_by_slug(&org).await {
        Ok(Some(t)) => t,
        Ok(None) => {
            return message(
                StatusCode::NOT_FOUND,
                "Unknown organization",
                "No organization has that short name. Check it, or sign in with your password.",
                None,
            );
        }
        Err(e) => return store_failure(&e),
    };
    if !tenant.admin_sso || !tenant.login_mode.allows_sso() {
        return refused(
            "Single sign-on is not enabled for the console",
            "This organization does not let its administrators sign in to the Configuration Manager through single sign-on. Sign in with your password.",
        );
    }
    let Some(sso_url) = tenant.idp_sso_url.clone() else {
        return refused(
            "Single sign-on is not set up",
            "This organization's identity provider has no sign-in URL yet.",
        );
    };
    crate::web::saml::start_sso(&state, &tenant, &sso_url, "/admin", RequestPurpose::Admin).await
}

/// The ACS's answer to a verified assertion for a console sign-in.
pub async fn finish_at_acs(
    state: &AppState,
    tenant: &Tenant,
    a: &VerifiedAssertion,
) -> HttpResponse {
    let incident = pages::incident_id();
    let inc = incident.as_str();
    let record = |outcome: &'static str, subject: String, detail: String| async move {
        crate::obs::metrics::admin_sign_in(&tenant.slug, outcome);
        if outcome == "success" {
            tracing::info!(event = "admin_sign_in", tenant = %tenant.slug, outcome, subject = %subject, "admin_sign_in");
        } else {
            crate::obs::note_incident(inc);
            tracing::warn!(event = "admin_sign_in", tenant = %tenant.slug, outcome, incident = %inc, subject = %subject, "admin_sign_in refused");
        }
        let _ = state
            .db
            .record_event(
                Some(tenant.id),
                (outcome != "success").then_some(inc),
                "admin_sign_in",
                outcome,
                Some(&subject),
                &detail,
                state.now(),
            )
            .await;
    };
    if !tenant.admin_sso || !tenant.login_mode.allows_sso() {
        record(
            "admin_sso_disabled",
            a.name_id().to_string(),
            "console SSO is off for this organization".into(),
        )
        .await;
        return message(
            StatusCode::FORBIDDEN,
            "Single sign-on is not enabled for the console",
            "Sign in with your password.",
            Some(inc),
        );
    }
    let fid = tenant
        .federation_source
        .federation_id(a)
        .unwrap_or(a.name_id())
        .to_string();
    let admin = match state.db.admin_by_email(&fid).await {
        Ok(a) => a.filter(|x| x.role == AdminRole::TenantAdmin && x.tenant_id == Some(tenant.id)),
        Err(e) => return store_failure(&e),
    };
    let Some(admin) = admin else {
        record(
            "admin_unknown",
            fid.clone(),
            "no administrator of this organization has this email".into(),
        )
        .await;
        return message(
            StatusCode::FORBIDDEN,
            "Not an administrator",
            "You signed in, but you are not an administrator of this organization in the Configuration Manager.",
            Some(inc),
        );
    };
    let now = state.now();
    let (ticket, binding) = match (random_token(32), random_token(32)) {
        (Ok(t), Ok(b)) => (t, b),
        (Err(e), _) | (_, Err(e)) => return store_failure(&e),
    };
    if let Err(e) = state
        .db
        .create_ticket(
            &token_hash(&ticket),
            admin.id,
            TicketPurpose::Sso,
            Some(&token_hash(&binding)),
            now + chrono::Duration::seconds(TICKET_SECONDS),
        )
        .await
    {
        return store_failure(&e);
    }
    record(
        "success",
        admin.email.clone(),
        "console sign-in through SSO".into(),
    )
    .await;
    let url = format!("/admin/sso/complete?ticket={ticket}");
    let mut r = html(StatusCode::OK, &ContinuePage { url: &url });
    let _ = r.add_cookie(
        &Cookie::build(TICKET_COOKIE, binding)
            .path("/admin/sso")
            .http_only(true)
            .secure(true)
            .same_site(SameSite::Lax)
            .max_age(CookieDuration::seconds(TICKET_SECONDS))
            .finish(),
    );
    r
}

async fn complete(state: web::Data<AppState>, req: HttpRequest) -> HttpResponse {
    let ticket = super::common::query_map(&req)
        .get("ticket")
        .cloned()
        .unwrap_or_default();
    let binding = req
        .cookie(TICKET_COOKIE)
        .map(|c| c.value().to_string())
        .unwrap_or_default();
    let taken = match state
        .db
        .take_ticket(&token_hash(&ticket), TicketPurpose::Sso, state.now())
        .await
    {
        Ok(t) => t,
        Err(e) => return store_failure(&e),
    };
    let Some((admin_id, Some(bound))) = taken else {
        return message(
            StatusCode::BAD_REQUEST,
            "Sign-in expired",
            "This sign-in link was used already or expired. Start again.",
            None,
        );
    };
    if binding.is_empty() || !super::auth::token_eq(&bound, &token_hash(&binding)) {
        return message(
            StatusCode::BAD_REQUEST,
            "Sign-in refused",
            "This sign-in did not finish in the browser that started it. Start again.",
            None,
        );
    }
    let mut r = super::start_session(&state, &req, admin_id).await;
    let _ = r.add_cookie(
        &Cookie::build(TICKET_COOKIE, "")
            .path("/admin/sso")
            .max_age(CookieDuration::seconds(0))
            .finish(),
    );
    r
}
