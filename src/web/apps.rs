//! Home-realm discovery, the signed-in home page, app launch, the session API, JWKS.

use actix_web::http::{StatusCode, header};
use actix_web::{HttpRequest, HttpResponse, web};
use serde::Deserialize;
use serde_json::json;

use super::pages::{self, HomePage, LoginPage, current_session, html, message, store_failure};
use crate::app::AppState;
use crate::directory::{self, APPS};
use crate::session::APP_TOKEN_SECONDS;
use crate::session::token::AppClaims;
use crate::store::random_token;

#[derive(Deserialize)]
pub struct HomeQuery {
    return_to: Option<String>,
}

pub async fn home(
    state: web::Data<AppState>,
    req: HttpRequest,
    q: web::Query<HomeQuery>,
) -> HttpResponse {
    match current_session(&state, &req).await {
        Ok(Some((_, s))) => {
            let (user, tenant) = match (
                state.db.user_by_id(s.user_id).await,
                state.db.tenant_by_id(s.tenant_id).await,
            ) {
                (Ok(Some(u)), Ok(Some(t))) => (u, t),
                (Err(e), _) | (_, Err(e)) => return store_failure(&e),
                _ => return message(StatusCode::OK, "Signed out", "Your session ended.", None),
            };
            let apps = APPS
                .iter()
                .filter(|a| user.apps.iter().any(|x| x == a.id))
                .map(|a| (a.id, a.name))
                .collect();
            html(
                StatusCode::OK,
                &HomePage {
                    user_name: &user.user_name,
                    tenant_name: &tenant.display_name,
                    apps,
                },
            )
        }
        Ok(None) => html(
            StatusCode::OK,
            &LoginPage {
                message: None,
                login: "",
                return_to: q.return_to.as_deref().unwrap_or(""),
                demo: state.demo.is_some(),
            },
        ),
        Err(e) => store_failure(&e),
    }
}

#[derive(Deserialize)]
pub struct DiscoverForm {
    login: String,
    return_to: Option<String>,
}

/// Home-realm discovery: find the organization of this email or username and start
/// its single sign-on.
pub async fn discover(state: web::Data<AppState>, form: web::Form<DiscoverForm>) -> HttpResponse {
    let login = form.login.trim();
    let again = |msg: &str| {
        html(
            StatusCode::OK,
            &LoginPage {
                message: Some(msg),
                login,
                return_to: form.return_to.as_deref().unwrap_or(""),
                demo: state.demo.is_some(),
            },
        )
    };
    if login.is_empty() || login.len() > 256 {
        return again("Enter your work email or username.");
    }
    let tenants = match state.db.discover_tenants(login).await {
        Ok(t) => t,
        Err(e) => return store_failure(&e),
    };
    let tenant = match tenants.as_slice() {
        [one] => one.clone(),
        [] => return again("We could not find an organization for that email or username."),
        _ => {
            return again(
                "That username belongs to several organizations; sign in from your organization's own link.",
            );
        }
    };
    if !tenant.login_mode.allows_sso() {
        return again("Your organization signs in with 8x8 passwords, not single sign-on.");
    }
    let return_to = form
        .return_to
        .as_deref()
        .filter(|r| !r.is_empty())
        .and_then(|r| directory::safe_return_to(&tenant, &state.public_url, r))
        .unwrap_or_else(|| "/".into());
    let Some(sso) = tenant.idp_sso_url.clone() else {
        return again("Your organization's single sign-on is not set up yet.");
    };
    super::saml::start_sso(
        &state,
        &tenant,
        &sso,
        &return_to,
        crate::store::RequestPurpose::App,
    )
    .await
}

/// Launch an app: with a session and an entitlement, send the browser to the app with a
/// 60-second one-time token; without a session, sign in first and come back.
pub async fn launch(
    state: web::Data<AppState>,
    req: HttpRequest,
    path: web::Path<String>,
) -> HttpResponse {
    let app_id = path.into_inner();
    let Some(app) = directory::app(&app_id) else {
        return message(
            StatusCode::NOT_FOUND,
            "Unknown app",
            "There is no such app.",
            None,
        );
    };
    let session = match current_session(&state, &req).await {
        Ok(s) => s,
        Err(e) => return store_failure(&e),
    };
    let Some((_, s)) = session else {
        // Without a session: start the SSO of the organization this browser used before,
        // and come back here; otherwise ask who the user is.
        let back = format!("/apps/{}", app.id);
        if let Some(slug) = req
            .cookie(pages::TENANT_HINT_COOKIE)
            .map(|c| c.value().to_string())
        {
            match state.db.tenant_by_slug(&slug).await {
                Ok(Some(t)) if t.login_mode.allows_sso() => {
                    if let Some(sso) = t.idp_sso_url.clone() {
                        return super::saml::start_sso(
                            &state,
                            &t,
                            &sso,
                            &back,
                            crate::store::RequestPurpose::App,
                        )
                        .await;
                    }
                }
                Ok(_) => {}
                Err(e) => return store_failure(&e),
            }
        }
        return pages::redirect(&format!("/?return_to={back}"));
    };
    let (user, tenant) = match (
        state.db.user_by_id(s.user_id).await,
        state.db.tenant_by_id(s.tenant_id).await,
    ) {
        (Ok(Some(u)), Ok(Some(t))) => (u, t),
        (Err(e), _) | (_, Err(e)) => return store_failure(&e),
        _ => return pages::redirect("/"),
    };
    if !user.active {
        return message(
            StatusCode::FORBIDDEN,
            "Your account is deactivated",
            "Contact your administrator.",
            None,
        );
    }
    if !user.apps.iter().any(|a| a == app.id) {
        return message(
            StatusCode::FORBIDDEN,
            "Not licensed",
            &format!("Your licenses do not include {}.", app.name),
            None,
        );
    }
    let now = state.now().timestamp();
    let jti = match random_token(16) {
        Ok(j) => j,
        Err(e) => return store_failure(&e),
    };
    let claims = AppClaims {
        iss: state.public_url.clone(),
        sub: user.id.to_string(),
        aud: app.id.to_string(),
        iat: now,
        exp: now + APP_TOKEN_SECONDS,
        jti,
        tenant: tenant.slug.clone(),
        user_name: user.user_name.clone(),
        name: user.display_name.clone(),
        services: user.apps.clone(),
    };
    let token = match state.token_key.sign(&claims) {
        Ok(t) => t,
        Err(e) => {
            return message(
                StatusCode::INTERNAL_SERVER_ERROR,
                "Could not launch the app",
                &e.to_string(),
                None,
            );
        }
    };
    let base = state.app_url(app.id);
    let sep = if base.contains('?') { '&' } else { '?' };
    pages::redirect(&format!("{base}{sep}token={token}"))
}

/// The signed-in user, tenant and entitled services.
pub async fn api_session(state: web::Data<AppState>, req: HttpRequest) -> HttpResponse {
    let s = match current_session(&state, &req).await {
        Ok(Some((_, s))) => s,
        Ok(None) => {
            return HttpResponse::Unauthorized()
                .json(json!({"error": "no_session", "message": "not signed in"}));
        }
        Err(e) => {
            tracing::error!(error = %e, "session lookup failed");
            return HttpResponse::ServiceUnavailable().json(json!({"error": "unavailable"}));
        }
    };
    match (state.db.user_by_id(s.user_id).await, state.db.tenant_by_id(s.tenant_id).await) {
        (Ok(Some(u)), Ok(Some(t))) => HttpResponse::Ok().json(json!({
            "user": {"id": u.id, "user_name": u.user_name, "display_name": u.display_name, "email": u.email,
                     "federation_id": u.federation_id},
            "tenant": {"slug": t.slug, "name": t.display_name},
            "licenses": u.licenses,
            "services": u.apps,
            "session": {"created_at": s.created_at, "expires_at": s.absolute_expiry_at, "session_index": s.session_index},
        })),
        _ => HttpResponse::Unauthorized().json(json!({"error": "no_session"})),
    }
}

pub async fn jwks(state: web::Data<AppState>) -> HttpResponse {
    match state.token_key.jwks() {
        Ok(j) => HttpResponse::Ok()
            .insert_header((header::CACHE_CONTROL, "public, max-age=300"))
            .json(j),
        Err(e) => HttpResponse::InternalServerError().json(json!({"error": e.to_string()})),
    }
}

/// Liveness: the process answers. It touches nothing else, so an outage of the database
/// never makes an orchestrator restart healthy processes; `/readyz` checks the database
/// and the keys.
pub async fn healthz() -> HttpResponse {
    HttpResponse::Ok().json(json!({"status": "alive"}))
}
