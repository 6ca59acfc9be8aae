//! The only actix code: routes, handlers and HTTP concerns.

// Handlers short-circuit with a ready HttpResponse as the error branch, on purpose.
#![allow(clippy::result_large_err)]

pub mod admin;
pub mod apps;
pub mod demo;
pub mod edge;
pub mod pages;
pub mod saml;
pub mod scim;
pub mod scim_discovery;
pub mod scim_engine;

use actix_web::{HttpResponse, http::header, middleware::DefaultHeaders, web};

/// The security headers every response carries unless a handler sets its own, with HSTS.
pub fn security_headers() -> DefaultHeaders {
    security_headers_for(true)
}

/// The security headers; `hsts` when the public URL is https (browsers ignore HSTS over
/// plain http, and a development setup on http should not claim it).
///
/// - CSP: scripts and styles only from here (no inline script anywhere: the auto-submitting
///   SAML forms use `/static/autosubmit.js`), no plugins, no `<base>`, forms may post here or
///   to an https IdP (the POST binding), and no framing. The SLO endpoint alone allows being
///   framed by the tenant's IdP origin, for Okta's hidden-iframe front-channel logout
///   (`web::saml::frame_for_idp`).
/// - `Referrer-Policy: same-origin`, not `no-referrer`: with `no-referrer` Chromium sends
///   `Origin: null` on same-origin form posts, and the console's Origin check refuses them.
/// - `Cache-Control: no-store`: pages carry personal data and one-time forms.
pub fn security_headers_for(hsts: bool) -> DefaultHeaders {
    let h = DefaultHeaders::new()
        .add((
            header::CONTENT_SECURITY_POLICY,
            "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; \
             object-src 'none'; form-action 'self' https:; frame-ancestors 'none'; base-uri 'none'",
        ))
        .add((header::X_CONTENT_TYPE_OPTIONS, "nosniff"))
        .add((header::X_FRAME_OPTIONS, "DENY"))
        .add((header::REFERRER_POLICY, "same-origin"))
        .add(("cross-origin-opener-policy", "same-origin"))
        .add(("cross-origin-resource-policy", "same-origin"))
        .add((
            "permissions-policy",
            "camera=(), microphone=(), geolocation=(), payment=(), usb=()",
        ))
        .add((header::CACHE_CONTROL, "no-store"));
    if hsts {
        h.add((
            header::STRICT_TRANSPORT_SECURITY,
            "max-age=31536000; includeSubDomains",
        ))
    } else {
        h
    }
}

/// Register every route. `demo` adds the development IdP and the demo app.
pub fn configure(cfg: &mut web::ServiceConfig, demo: bool) {
    cfg.route("/", web::get().to(apps::home))
        .route("/login", web::post().to(apps::discover))
        .route("/logout", web::get().to(saml::logout))
        .route("/apps/{app}", web::get().to(apps::launch))
        .route("/api/session", web::get().to(apps::api_session))
        .route("/.well-known/jwks.json", web::get().to(apps::jwks))
        .route("/healthz", web::get().to(apps::healthz))
        // Observability (issue 10): Prometheus text format, readiness checks.
        .route("/metrics", web::get().to(crate::obs::metrics::endpoint))
        .route("/readyz", web::get().to(crate::obs::health::readyz))
        .route("/static/app.css", web::get().to(static_css))
        .route("/static/autosubmit.js", web::get().to(static_js))
        .route("/static/admin.js", web::get().to(static_admin_js))
        .route("/saml/{tenant}/metadata", web::get().to(saml::metadata))
        .route("/saml/{tenant}/login", web::get().to(saml::login))
        .route("/saml/{tenant}/acs", web::post().to(saml::acs))
        .route("/saml/{tenant}/slo", web::get().to(saml::slo_redirect))
        .route("/saml/{tenant}/slo", web::post().to(saml::slo_post));
    scim::configure(cfg);
    admin::configure(cfg);
    if demo {
        demo::configure(cfg);
    }
}

async fn static_css() -> HttpResponse {
    HttpResponse::Ok()
        .insert_header((header::CONTENT_TYPE, "text/css; charset=utf-8"))
        .insert_header((header::CACHE_CONTROL, "public, max-age=3600"))
        .body(include_str!("../../static/app.css"))
}

async fn static_js() -> HttpResponse {
    HttpResponse::Ok()
        .insert_header((header::CONTENT_TYPE, "text/javascript; charset=utf-8"))
        .insert_header((header::CACHE_CONTROL, "public, max-age=3600"))
        .body(include_str!("../../static/autosubmit.js"))
}

async fn static_admin_js() -> HttpResponse {
    HttpResponse::Ok()
        .insert_header((header::CONTENT_TYPE, "text/javascript; charset=utf-8"))
        .insert_header((header::CACHE_CONTROL, "public, max-age=3600"))
        .body(include_str!("../../static/admin.js"))
}
