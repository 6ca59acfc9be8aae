//! The development IdP and the demo app, only with `serve --demo`.
//!
//! The IdP behaves like Okta: a user picker for SP-initiated logins, a dashboard with
//! an app tile for IdP-initiated logins, Okta-shaped Responses signed with the dev key
//! in `certs/dev/`, and front-channel single logout.

use actix_web::http::{StatusCode, header};
use actix_web::{HttpRequest, HttpResponse, web};
use askama::Template;
use base64::Engine as _;
use chrono::{DateTime, Duration, Utc};
use serde::{Deserialize, Serialize};

use super::pages::{html, message, store_failure};
use crate::app::AppState;
use crate::saml::algorithms::{Digest, KeyKind, SignatureAlgorithm};
use crate::saml::mint::{MintOptions, SigningLayout, mint_response, okta_id, okta_session_index};
use crate::saml::protocol::{self, NAMEID_EMAIL};
use crate::saml::sign::SigningKey;
use crate::saml::{binding, xml};
use crate::store::{Db, NewTenant};

const DEV_KEY: &[u8] = include_bytes!("../../certs/dev/idp.key");
const DEV_CERT: &[u8] = include_bytes!("../../certs/dev/idp.crt");
pub const DEMO_TENANT: &str = "demo";
const RSA_SHA256: SignatureAlgorithm = SignatureAlgorithm {
    key: KeyKind::Rsa,
    digest: Digest::Sha256,
};

/// The built-in development IdP.
pub struct DemoIdp {
    pub entity_id: String,
    pub sso_url: String,
    pub slo_url: String,
    key: SigningKey,
    redirect_key: openssl::pkey::PKey<openssl::pkey::Private>,
}

/// The demo's Configuration Manager operator and its password (demo only).
pub const DEMO_OPERATOR: &str = "admin@example.com";
pub const DEMO_OPERATOR_PASSWORD: &str = "demo-operator-password";
/// A tenant admin of the demo company who signs in through the demo SSO.
pub const DEMO_TENANT_ADMIN: &str = "alice@example.com";

/// Create (or refresh) the demo tenant, its users and the dev IdP.
pub async fn setup(db: &Db, public_url: &str, now: DateTime<Utc>) -> Result<DemoIdp, String> {
    let key = SigningKey::from_pem(DEV_KEY, DEV_CERT).map_err(|e| format!("dev IdP key: {e}"))?;
    let redirect_key =
        openssl::pkey::PKey::private_key_from_pem(DEV_KEY).map_err(|e| e.to_string())?;
    let idp = DemoIdp {
        entity_id: format!("{public_url}/demo/idp/metadata"),
        sso_url: format!("{public_url}/demo/idp/sso"),
        slo_url: format!("{public_url}/demo/idp/slo"),
        key,
        redirect_key,
    };
    let tenant = NewTenant {
        slug: DEMO_TENANT.into(),
        display_name: "Demo Company".into(),
        idp_entity_id: idp.entity_id.clone(),
        idp_sso_url: Some(idp.sso_url.clone()),
        idp_slo_url: Some(idp.slo_url.clone()),
        allow_idp_initiated: true,
        email_domains: vec!["example.com".into()],
        allowed_return_urls: vec![public_url.to_string()],
        certificates: vec![idp.key.certificate_base64()],
    };
    let t = match db
        .tenant_by_slug(DEMO_TENANT)
        .await
        .map_err(|e| e.to_string())?
    {
        Some(t) => {
            db.update_tenant_idp(t.id, &tenant)
                .await
                .map_err(|e| e.to_string())?;
            t
        }
        None => db
            .create_tenant(&tenant, now)
            .await
            .map_err(|e| e.to_string())?,
    };
    // Licenses the demo company bought, so that the console has something to assign.
    for line in db.inventory(t.id).await.map_err(|e| e.to_string())? {
        let want = if line.license.kind == crate::directory::telephony::LicenseKind::Plan {
            10
        } else {
            5
        };
        if line.quantity < want {
            db.set_inventory(
                t.id,
                &line.license.code,
                want,
                &crate::store::Actor::system(),
                now,
            )
            .await
            .map_err(|e| e.to_string())?
            .map_err(|e| e.to_string())?;
        }
    }
    for (name, display, licenses, active) in [
        (
            "alice@example.com",
            "Alice Anderson",
            vec!["X6".to_string()],
            true,
        ),
        (
            "bob@example.com",
            "Bob Brown",
            vec!["X2".to_string()],
            false,
        ),
        ("carol@example.com", "Carol Clark", vec![], true),
    ] {
        if db
            .user_by_user_name(t.id, name)
            .await
            .map_err(|e| e.to_string())?
            .is_none()
        {
            let u = db
                .create_user(t.id, name, display, &licenses, now)
                .await
                .map_err(|e| e.to_string())?;
            if !active {
                db.set_user_active(u.id, false, now)
                    .await
                    .map_err(|e| e.to_string())?;
            }
        }
    }
    demo_admins(db, &t, now).await?;
    Ok(idp)
}

/// The demo operator (password printed at start) and a tenant admin who signs in through
/// the demo tenant's SSO (the tenant allows console SSO).
async fn demo_admins(
    db: &Db,
    t: &crate::directory::Tenant,
    now: DateTime<Utc>,
) -> Result<(), String> {
    if db
        .admin_by_email(DEMO_OPERATOR)
        .await
        .map_err(|e| e.to_string())?
        .is_none()
    {
        let hash = crate::session::password::hash_password(DEMO_OPERATOR_PASSWORD)?;
        db.create_admin(
            DEMO_OPERATOR,
            &hash,
            crate::store::AdminRole::Operator,
            None,
            now,
        )
        .await
        .map_err(|e| e.to_string())?;
    }
    if db
        .admin_by_email(DEMO_TENANT_ADMIN)
        .await
        .map_err(|e| e.to_string())?
        .is_none()
    {
        db.create_admin(
            DEMO_TENANT_ADMIN,
            crate::store::NO_PASSWORD,
            crate::store::AdminRole::TenantAdmin,
            Some(t.id),
            now,
        )
        .await
        .map_err(|e| e.to_string())?;
    }
    if !t.admin_sso {
        let mut s = crate::store::TenantSettings::of(t);
        s.admin_sso = true;
        db.update_tenant_settings(t, &s, &crate::store::Actor::system(), now)
            .await
            .map_err(|e| e.to_string())?;
    }
    Ok(())
}

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.route("/demo/idp", web::get().to(dashboard))
        .route("/demo/idp/metadata", web::get().to(metadata))
        .route("/demo/idp/sso", web::get().to(sso_request))
        .route("/demo/idp/sso", web::post().to(sso_answer))
        .route("/demo/idp/slo", web::get().to(slo))
        .route("/demo/idp/logout", web::post().to(idp_logout))
        .route("/demo/app/{app}", web::get().to(demo_app));
}

#[derive(Template)]
#[template(path = "demo_idp_login.html")]
struct IdpLogin<'a> {
    purpose: &'a str,
    action: &'a str,
    users: Vec<String>,
    context: &'a str,
}

#[derive(Template)]
#[template(path = "demo_idp_home.html")]
struct IdpHome {
    users: Vec<String>,
}

#[derive(Template)]
#[template(path = "demo_app.html")]
struct DemoApp<'a> {
    app_name: &'a str,
    user_name: &'a str,
    name: &'a str,
    tenant: &'a str,
    services: String,
    expires: String,
}

/// What the user picker carries between the AuthnRequest and the answer.
#[derive(Serialize, Deserialize, Default)]
struct Context {
    rid: Option<String>,
    relay: Option<String>,
}

fn idp(state: &AppState) -> Result<&DemoIdp, HttpResponse> {
    state.demo.as_deref().ok_or_else(|| {
        message(
            StatusCode::NOT_FOUND,
            "Not found",
            "The development IdP runs only with --demo.",
            None,
        )
    })
}

async fn demo_users(state: &AppState) -> Result<Vec<String>, HttpResponse> {
    let t = match state.db.tenant_by_slug(DEMO_TENANT).await {
        Ok(Some(t)) => t,
        Ok(None) => return Ok(vec![]),
        Err(e) => return Err(store_failure(&e)),
    };
    state
        .db
        .users_of_tenant(t.id)
        .await
        .map(|us| us.into_iter().map(|u| u.user_name).collect())
        .map_err(|e| store_failure(&e))
}

async fn dashboard(state: web::Data<AppState>) -> HttpResponse {
    if let Err(r) = idp(&state) {
        return r;
    }
    match demo_users(&state).await {
        Ok(users) => html(StatusCode::OK, &IdpHome { users }),
        Err(r) => r,
    }
}

async fn metadata(state: web::Data<AppState>) -> HttpResponse {
    let idp = match idp(&state) {
        Ok(i) => i,
        Err(r) => return r,
    };
    let xml = format!(
        r#"<?xml version="1.0" encoding="UTF-8"?>
<md:EntityDescriptor xmlns:md="urn:oasis:names:tc:SAML:2.0:metadata" entityID="{e}">
  <md:IDPSSODescriptor WantAuthnRequestsSigned="false" protocolSupportEnumeration="urn:oasis:names:tc:SAML:2.0:protocol">
    <md:KeyDescriptor use="signing"><ds:KeyInfo xmlns:ds="http://www.w3.org/2000/09/xmldsig#"><ds:X509Data><ds:X509Certificate>{c}</ds:X509Certificate></ds:X509Data></ds:KeyInfo></md:KeyDescriptor>
    <md:SingleLogoutService Binding="{r}" Location="{slo}"/>
    <md:NameIDFormat>urn:oasis:names:tc:SAML:1.1:nameid-format:emailAddress</md:NameIDFormat>
    <md:SingleSignOnService Binding="urn:oasis:names:tc:SAML:2.0:bindings:HTTP-POST" Location="{sso}"/>
    <md:SingleSignOnService Binding="{r}" Location="{sso}"/>
  </md:IDPSSODescriptor>
</md:EntityDescriptor>
"#,
        e = protocol::escape(&idp.entity_id),
        c = idp.key.certificate_base64(),
        r = protocol::BINDING_REDIRECT,
        slo = protocol::escape(&idp.slo_url),
        sso = protocol::escape(&idp.sso_url),
    );
    HttpResponse::Ok()
        .insert_header((header::CONTENT_TYPE, "application/samlmetadata+xml"))
        .body(xml)
}

/// An AuthnRequest arrives (HTTP-Redirect): show the user picker.
async fn sso_request(state: web::Data<AppState>, req: HttpRequest) -> HttpResponse {
    if let Err(r) = idp(&state) {
        return r;
    }
    let msg = match binding::decode_redirect(req.query_string(), 64 * 1024) {
        Ok(m) => m,
        Err(e) => {
            return message(
                StatusCode::BAD_REQUEST,
                "Bad AuthnRequest",
                &e.to_string(),
                None,
            );
        }
    };
    let doc = match xml::parse(&msg.xml, &xml::Limits::default()) {
        Ok(d) => d,
        Err(e) => {
            return message(
                StatusCode::BAD_REQUEST,
                "Bad AuthnRequest",
                &e.to_string(),
                None,
            );
        }
    };
    let rid = doc
        .element(doc.root())
        .and_then(|e| e.attr("ID"))
        .map(str::to_string);
    let ctx = Context {
        rid,
        relay: msg.relay_state,
    };
    let ctx = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .encode(serde_json::to_vec(&ctx).unwrap_or_default());
    let users = match demo_users(&state).await {
        Ok(u) => u,
        Err(r) => return r,
    };
    html(
        StatusCode::OK,
        &IdpLogin {
            purpose: "The 8x8 gateway asked who you are (SP-initiated login). Pick a user, as if you had typed their Okta password.",
            action: "/demo/idp/sso",
            users,
            context: &ctx,
        },
    )
}

#[derive(Deserialize)]
struct Answer {
    user: String,
    context: String,
}

/// Mint an Okta-shaped signed Response for the chosen user and POST it to the ACS.
async fn sso_answer(state: web::Data<AppState>, form: web::Form<Answer>) -> HttpResponse {
    let idp = match idp(&state) {
        Ok(i) => i,
        Err(r) => return r,
    };
    let ctx: Context = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(form.context.as_bytes())
        .ok()
        .and_then(|b| serde_json::from_slice(&b).ok())
        .unwrap_or_default();
    let tenant = match state.db.tenant_by_slug(DEMO_TENANT).await {
        Ok(Some(t)) => t,
        Ok(None) => return message(StatusCode::NOT_FOUND, "No demo tenant", "", None),
        Err(e) => return store_failure(&e),
    };
    let now = state.now();
    let mut rnd = [0u8; 36];
    if openssl::rand::rand_bytes(&mut rnd).is_err() {
        return message(StatusCode::INTERNAL_SERVER_ERROR, "No randomness", "", None);
    }
    let id = |o: usize| {
        let mut b = [0u8; 16];
        b.copy_from_slice(rnd.get(o..o + 16).unwrap_or(&[0u8; 16]));
        okta_id(b)
    };
    let mut si = [0u8; 4];
    si.copy_from_slice(rnd.get(32..36).unwrap_or(&[0u8; 4]));
    let pu = &state.public_url;
    let user = form.user.trim().to_string();
    let (first, last) = user
        .split('@')
        .next()
        .map(|n| (n.to_string(), String::new()))
        .unwrap_or_default();
    let mut o = MintOptions::new(
        &idp.entity_id,
        tenant.sp_entity_id(pu),
        tenant.acs_url(pu),
        &user,
        now,
    );
    o.name_id_format = NAMEID_EMAIL.into();
    o.in_response_to = ctx.rid.clone();
    o.response_id = id(0);
    o.assertion_id = id(16);
    o.session_index = okta_session_index(now, si);
    o.layout = SigningLayout::Both;
    o.session_not_on_or_after = Some(now + Duration::hours(8));
    o.attributes = vec![
        ("firstName".into(), vec![first]),
        ("lastName".into(), vec![last]),
        ("email".into(), vec![user.clone()]),
    ];
    match mint_response(&o, &idp.key, RSA_SHA256) {
        Ok(xml) => {
            let b64 = base64::engine::general_purpose::STANDARD.encode(xml.as_bytes());
            super::saml::post_form(
                &tenant.acs_url(pu),
                "SAMLResponse",
                &b64,
                ctx.relay.as_deref(),
            )
        }
        Err(e) => message(
            StatusCode::INTERNAL_SERVER_ERROR,
            "Could not sign the response",
            &e.to_string(),
            None,
        ),
    }
}

/// Our SP's LogoutRequest arrives: answer with a LogoutResponse.
async fn slo(state: web::Data<AppState>, req: HttpRequest) -> HttpResponse {
    let idp = match idp(&state) {
        Ok(i) => i,
        Err(r) => return r,
    };
    let msg = match binding::decode_redirect(req.query_string(), 64 * 1024) {
        Ok(m) => m,
        Err(e) => {
            return message(
                StatusCode::BAD_REQUEST,
                "Bad LogoutRequest",
                &e.to_string(),
                None,
            );
        }
    };
    let rid = xml::parse(&msg.xml, &xml::Limits::default())
        .ok()
        .and_then(|d| {
            d.element(d.root())
                .and_then(|e| e.attr("ID"))
                .map(str::to_string)
        })
        .unwrap_or_default();
    let dest = format!("{}/saml/{DEMO_TENANT}/slo", state.public_url);
    let resp = protocol::logout_response("_devidp_lr", state.now(), &dest, &idp.entity_id, &rid);
    match binding::redirect_url(
        &dest,
        "SAMLResponse",
        &resp,
        msg.relay_state.as_deref(),
        Some(&idp.redirect_key),
    ) {
        Ok(u) => HttpResponse::Found()
            .insert_header((header::LOCATION, u))
            .finish(),
        Err(e) => message(
            StatusCode::INTERNAL_SERVER_ERROR,
            "Logout failed",
            &e.to_string(),
            None,
        ),
    }
}

#[derive(Deserialize)]
struct LogoutForm {
    user: String,
}

/// IdP-initiated single logout: a signed LogoutRequest to the gateway's SLO endpoint.
async fn idp_logout(state: web::Data<AppState>, form: web::Form<LogoutForm>) -> HttpResponse {
    let idp = match idp(&state) {
        Ok(i) => i,
        Err(r) => return r,
    };
    let dest = format!("{}/saml/{DEMO_TENANT}/slo", state.public_url);
    let id = format!(
        "_devidp_{}",
        crate::store::random_token(12)
            .unwrap_or_default()
            .replace(['-', '_'], "x")
    );
    let lr = protocol::logout_request(
        &id,
        state.now(),
        &dest,
        &idp.entity_id,
        form.user.trim(),
        None,
    );
    match binding::redirect_url(&dest, "SAMLRequest", &lr, None, Some(&idp.redirect_key)) {
        Ok(u) => HttpResponse::Found()
            .insert_header((header::LOCATION, u))
            .finish(),
        Err(e) => message(
            StatusCode::INTERNAL_SERVER_ERROR,
            "Logout failed",
            &e.to_string(),
            None,
        ),
    }
}

#[derive(Deserialize)]
struct AppQuery {
    token: Option<String>,
}

/// The demo app: verifies the one-time token with the gateway's JWKS and shows who
/// is signed in, with which services.
async fn demo_app(
    state: web::Data<AppState>,
    path: web::Path<String>,
    q: web::Query<AppQuery>,
) -> HttpResponse {
    let Some(app) = crate::directory::app(&path) else {
        return message(StatusCode::NOT_FOUND, "Unknown app", "", None);
    };
    let Some(token) = q.token.as_deref() else {
        return HttpResponse::SeeOther()
            .insert_header((header::LOCATION, format!("/apps/{}", app.id)))
            .finish();
    };
    let now = state.now().timestamp();
    let verified = state
        .token_key
        .jwks()
        .ok()
        .and_then(|j| j.get("keys").and_then(|k| k.get(0)).cloned())
        .ok_or_else(|| "no JWKS".to_string())
        .and_then(|jwk| crate::session::token::key_from_jwk(&jwk).map_err(|e| e.to_string()))
        .and_then(|k| {
            crate::session::token::verify(token, &k, &state.public_url, app.id, now)
                .map_err(|e| e.to_string())
        });
    let claims = match verified {
        Ok(c) => c,
        Err(e) => return message(StatusCode::UNAUTHORIZED, "Invalid app token", &e, None),
    };
    match state.db.consume_app_token(&claims.jti, claims.exp).await {
        Ok(true) => {}
        Ok(false) => {
            return message(
                StatusCode::UNAUTHORIZED,
                "Token already used",
                "App tokens work once. Open the app again from the gateway.",
                None,
            );
        }
        Err(e) => return store_failure(&e),
    }
    let names: Vec<&str> = claims
        .services
        .iter()
        .filter_map(|s| crate::directory::app(s).map(|a| a.name))
        .collect();
    html(
        StatusCode::OK,
        &DemoApp {
            app_name: app.name,
            user_name: &claims.user_name,
            name: &claims.name,
            tenant: &claims.tenant,
            services: names.join(", "),
            expires: DateTime::from_timestamp(claims.exp, 0)
                .map(|t| t.to_rfc3339())
                .unwrap_or_default(),
        },
    )
}
