//! The web single sign-on flows, in-process with a fixed clock, driven by the
//! xmlsec1-signed fixture responses (tenant `acme` at https://sso.example.test).

use std::collections::HashMap;
use std::sync::Arc;

use actix_web::cookie::{Cookie, SameSite};
use actix_web::dev::{Service, ServiceResponse};
use actix_web::http::StatusCode;
use actix_web::{App, test, web};
use base64::Engine as _;
use sso_gateway::app::AppState;
use sso_gateway::clock::ManualClock;
use sso_gateway::saml::IdpMetadata;
use sso_gateway::session::token::{TokenKey, key_from_jwk, verify as verify_token};
use sso_gateway::store::{Actor, Db, NewTenant, RequestPurpose, token_hash};

use crate::common::{NOW, REQUEST_ID, fixture, time};

pub const PUBLIC_URL: &str = "https://sso.example.test";
pub const JANE: &str = "jane.doe@acme.example";

pub struct Env {
    pub db: Db,
    pub clock: Arc<ManualClock>,
    pub state: AppState,
}

impl Env {
    pub fn clock_now(&self) -> chrono::DateTime<chrono::Utc> {
        use sso_gateway::clock::Clock;
        self.clock.now()
    }
}

pub async fn env() -> Env {
    let db = crate::common::fresh_db("sqlite::memory:").await;
    let clock = Arc::new(ManualClock::new(time(NOW)));
    let state = AppState {
        db: db.clone(),
        clock: clock.clone(),
        public_url: PUBLIC_URL.into(),
        token_key: Arc::new(TokenKey::generate().unwrap()),
        demo: None,
        app_urls: HashMap::from([(
            "work".to_string(),
            "https://work.8x8.example/app/launch".to_string(),
        )]),
        scim_limiter: sso_gateway::web::scim::rate_limiter(1000, 2000),
        trust: Default::default(),
        allow_http_metadata: true,
        keys: Arc::new(sso_gateway::keyring::Keyring::new(
            sso_gateway::keyring::MasterKey::random().unwrap(),
            sso_gateway::keyring::KeyScope::PerTenant,
            2048,
        )),
    };
    Env { db, clock, state }
}

pub async fn add_tenant(db: &Db, slug: &str, metadata: &str, allow_idp_initiated: bool) -> i64 {
    let md = IdpMetadata::parse(&fixture(metadata)).unwrap();
    let t = NewTenant {
        slug: slug.into(),
        display_name: format!("{slug} Inc."),
        idp_entity_id: md.entity_id.clone(),
        idp_sso_url: md.sso_url.clone(),
        idp_slo_url: None,
        allow_idp_initiated,
        email_domains: vec![format!("{slug}.example")],
        allowed_return_urls: vec!["https://work.8x8.example/app".into()],
        certificates: md
            .signing_certificates
            .iter()
            .map(|c| c.der_base64().to_string())
            .collect(),
    };
    let id = db.create_tenant(&t, time(NOW)).await.unwrap().id;
    // Every test organization bought some of each license.
    for l in db.license_catalog().await.unwrap() {
        db.set_inventory(id, &l.code, 100, &Actor::cli(), time(NOW))
            .await
            .unwrap()
            .unwrap();
    }
    id
}

macro_rules! service {
    ($env:expr) => {
        test::init_service(
            App::new()
                .app_data(web::Data::new($env.state.clone()))
                .wrap(sso_gateway::web::security_headers())
                .configure(|c| sso_gateway::web::configure(c, false)),
        )
        .await
    };
}

fn b64(bytes: &[u8]) -> String {
    base64::engine::general_purpose::STANDARD.encode(bytes)
}

fn location(r: &ServiceResponse) -> String {
    r.headers()
        .get("location")
        .map(|v| v.to_str().unwrap().to_string())
        .unwrap_or_default()
}

pub(crate) fn set_cookie(r: &ServiceResponse, name: &str) -> Option<Cookie<'static>> {
    r.response()
        .cookies()
        .find(|c| c.name() == name)
        .map(|c| c.into_owned())
}

async fn body_text(r: ServiceResponse) -> String {
    String::from_utf8(test::read_body(r).await.to_vec()).unwrap()
}

/// Store an outstanding request whose ID the fixtures answer; returns (relay, cookie).
pub(crate) async fn outstanding(
    db: &Db,
    tenant_id: i64,
    return_to: &str,
) -> (String, Cookie<'static>) {
    outstanding_with(db, tenant_id, return_to, "relay-token-for-tests-0123456789").await
}

/// As `outstanding`, with a chosen RelayState token.
pub(crate) async fn outstanding_with(
    db: &Db,
    tenant_id: i64,
    return_to: &str,
    relay: &str,
) -> (String, Cookie<'static>) {
    let relay = relay.to_string();
    let binding = "binding-secret-0123456789".to_string();
    let rh = token_hash(&relay);
    db.save_authn_request(
        &rh,
        tenant_id,
        REQUEST_ID,
        return_to,
        &token_hash(&binding),
        time(NOW) + chrono::Duration::minutes(10),
        RequestPurpose::App,
    )
    .await
    .unwrap();
    (relay, Cookie::new(format!("sso_rb_{}", &rh[..16]), binding))
}

/// A freshly minted Okta-shaped response for `name_id` at tenant `slug` (signed with the
/// fixture IdP key, unique IDs, at the env's clock): (base64 body, the request ID it
/// answers; empty when unsolicited).
pub(crate) async fn minted_for(
    e: &Env,
    slug: &str,
    name_id: &str,
    solicited: bool,
) -> (String, String) {
    use sso_gateway::saml::{MintOptions, SigningKey, SigningLayout, mint_response};
    let key = SigningKey::from_pem(&fixture("keys/idp.key"), &fixture("keys/idp.crt")).unwrap();
    let mut o = MintOptions::new(
        "http://www.okta.com/exk1fxtr9ZQ8bW3aK5d7",
        format!("{PUBLIC_URL}/saml/{slug}/metadata"),
        format!("{PUBLIC_URL}/saml/{slug}/acs"),
        name_id,
        e.clock_now(),
    );
    let mut rnd = [0u8; 16];
    openssl::rand::rand_bytes(&mut rnd).unwrap();
    o.assertion_id = sso_gateway::saml::mint::okta_id(rnd);
    o.response_id = format!("{}r", o.assertion_id);
    o.layout = SigningLayout::Assertion;
    let rid = if solicited {
        format!("_req{}", &o.assertion_id[3..])
    } else {
        String::new()
    };
    if solicited {
        o.in_response_to = Some(rid.clone());
    }
    let xml = mint_response(&o, &key, key.default_algorithm()).unwrap();
    (b64(xml.as_bytes()), rid)
}

/// An outstanding request with a chosen request ID (for minted responses).
pub(crate) async fn outstanding_for(
    db: &Db,
    tenant_id: i64,
    return_to: &str,
    request_id: &str,
) -> (String, Cookie<'static>) {
    let relay = format!("relay-for-{request_id}");
    let binding = "binding-secret-0123456789".to_string();
    let rh = token_hash(&relay);
    db.save_authn_request(
        &rh,
        tenant_id,
        request_id,
        return_to,
        &token_hash(&binding),
        time(NOW) + chrono::Duration::minutes(10),
        RequestPurpose::App,
    )
    .await
    .unwrap();
    (relay, Cookie::new(format!("sso_rb_{}", &rh[..16]), binding))
}

/// POST a base64 SAMLResponse to the ACS.
pub(crate) async fn post_acs_body<S>(
    svc: &S,
    slug: &str,
    b64_body: &str,
    relay: Option<&str>,
    cookies: &[Cookie<'static>],
) -> ServiceResponse
where
    S: Service<actix_http::Request, Response = ServiceResponse, Error = actix_web::Error>,
{
    let mut form = vec![("SAMLResponse".to_string(), b64_body.to_string())];
    if let Some(r) = relay {
        form.push(("RelayState".into(), r.into()));
    }
    let mut req = test::TestRequest::post()
        .uri(&format!("/saml/{slug}/acs"))
        .set_form(form);
    for c in cookies {
        req = req.cookie(c.clone());
    }
    test::call_service(svc, req.to_request()).await
}

pub(crate) async fn post_acs<S>(
    svc: &S,
    slug: &str,
    file: &str,
    relay: Option<&str>,
    cookies: &[Cookie<'static>],
) -> ServiceResponse
where
    S: Service<actix_http::Request, Response = ServiceResponse, Error = actix_web::Error>,
{
    let mut form = vec![("SAMLResponse".to_string(), b64(&fixture(file)))];
    if let Some(r) = relay {
        form.push(("RelayState".into(), r.into()));
    }
    let mut req = test::TestRequest::post()
        .uri(&format!("/saml/{slug}/acs"))
        .set_form(form);
    for c in cookies {
        req = req.cookie(c.clone());
    }
    test::call_service(svc, req.to_request()).await
}

async fn api_session<S>(svc: &S, session: &Cookie<'static>) -> (StatusCode, serde_json::Value)
where
    S: Service<actix_http::Request, Response = ServiceResponse, Error = actix_web::Error>,
{
    let r = test::call_service(
        svc,
        test::TestRequest::get()
            .uri("/api/session")
            .cookie(session.clone())
            .to_request(),
    )
    .await;
    let status = r.status();
    (status, test::read_body_json(r).await)
}

#[actix_web::test]
async fn metadata_and_sp_initiated_redirect() {
    let e = env().await;
    add_tenant(&e.db, "acme", "idp-metadata.xml", false).await;
    let svc = service!(e);
    let r = test::call_service(
        &svc,
        test::TestRequest::get()
            .uri("/saml/acme/metadata")
            .to_request(),
    )
    .await;
    assert_eq!(r.status(), StatusCode::OK);
    let xml = body_text(r).await;
    assert!(xml.contains(r#"entityID="https://sso.example.test/saml/acme/metadata""#));
    assert!(xml.contains(r#"Location="https://sso.example.test/saml/acme/acs""#));

    let r = test::call_service(
        &svc,
        test::TestRequest::get()
            .uri("/saml/acme/login?return_to=/apps/work")
            .to_request(),
    )
    .await;
    assert_eq!(r.status(), StatusCode::FOUND);
    let loc = location(&r);
    assert!(
        loc.starts_with(
            "https://acme.okta.example/app/8x8inc/exk1fxtr9ZQ8bW3aK5d7/sso/saml?SAMLRequest="
        ),
        "{loc}"
    );
    let m =
        sso_gateway::saml::binding::decode_redirect(loc.split_once('?').unwrap().1, 65536).unwrap();
    let req = String::from_utf8(m.xml).unwrap();
    assert!(
        req.contains("AssertionConsumerServiceURL=\"https://sso.example.test/saml/acme/acs\""),
        "{req}"
    );
    let relay = m.relay_state.unwrap();
    assert!(relay.len() >= 40, "RelayState is an opaque random token");
    let c = r
        .response()
        .cookies()
        .find(|c| c.name().starts_with("sso_rb_"))
        .unwrap();
    assert_eq!(
        (c.http_only(), c.secure(), c.same_site()),
        (Some(true), Some(true), Some(SameSite::None))
    );
}

#[actix_web::test]
async fn sp_initiated_login_creates_a_session_and_launches_an_app() {
    let e = env().await;
    let tid = add_tenant(&e.db, "acme", "idp-metadata.xml", false).await;
    e.db.create_user(tid, JANE, "Jane Doe", &["X6".into()], time(NOW))
        .await
        .unwrap();
    let svc = service!(e);
    let (relay, binding) = outstanding(&e.db, tid, "/apps/work").await;
    let fixation = Cookie::new("sso_session", "attacker-chosen-session-id");
    let r = post_acs(
        &svc,
        "acme",
        "responses/okta-both-signed.xml",
        Some(&relay),
        &[binding, fixation.clone()],
    )
    .await;
    assert_eq!(r.status(), StatusCode::SEE_OTHER, "{}", body_text(r).await);
    assert_eq!(location(&r), "/apps/work");
    let session = set_cookie(&r, "sso_session").unwrap();
    assert_eq!(
        (session.http_only(), session.secure(), session.same_site()),
        (Some(true), Some(true), Some(SameSite::Lax))
    );
    assert_eq!(session.path(), Some("/"));
    assert_ne!(
        session.value(),
        fixation.value(),
        "a new session id at login (no fixation)"
    );
    assert!(session.value().len() >= 43, "256-bit id");

    let (status, s) = api_session(&svc, &session).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(s["user"]["user_name"], JANE);
    assert_eq!(s["tenant"]["slug"], "acme");
    assert_eq!(s["services"], serde_json::json!(["work", "contact-center"]));
    // The IdP said SessionNotOnOrAfter 20:00, earlier than now + 8 h: honoured.
    assert_eq!(
        s["session"]["expires_at"],
        time("2026-06-01T20:00:00Z").timestamp()
    );

    // Launch: a 60-second token for the app, verifiable with the JWKS.
    let r = test::call_service(
        &svc,
        test::TestRequest::get()
            .uri("/apps/work")
            .cookie(session.clone())
            .to_request(),
    )
    .await;
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    let loc = location(&r);
    let token = loc
        .strip_prefix("https://work.8x8.example/app/launch?token=")
        .unwrap();
    let r = test::call_service(
        &svc,
        test::TestRequest::get()
            .uri("/.well-known/jwks.json")
            .to_request(),
    )
    .await;
    let jwks: serde_json::Value = test::read_body_json(r).await;
    let key = key_from_jwk(&jwks["keys"][0]).unwrap();
    let claims = verify_token(token, &key, PUBLIC_URL, "work", time(NOW).timestamp()).unwrap();
    assert_eq!(claims.user_name, JANE);
    assert_eq!(claims.exp - claims.iat, 60);
    assert!(
        verify_token(
            token,
            &key,
            PUBLIC_URL,
            "contact-center",
            time(NOW).timestamp()
        )
        .is_err()
    );
    assert!(verify_token(token, &key, PUBLIC_URL, "work", time(NOW).timestamp() + 61).is_err());

    // An app the licenses do not include is refused.
    let r = test::call_service(
        &svc,
        test::TestRequest::get()
            .uri("/apps/analytics")
            .cookie(session.clone())
            .to_request(),
    )
    .await;
    assert_eq!(r.status(), StatusCode::FORBIDDEN);

    // Logout ends the session.
    let r = test::call_service(
        &svc,
        test::TestRequest::get()
            .uri("/logout")
            .cookie(session.clone())
            .to_request(),
    )
    .await;
    assert_eq!(r.status(), StatusCode::OK);
    assert_eq!(set_cookie(&r, "sso_session").unwrap().value(), "");
    assert_eq!(
        api_session(&svc, &session).await.0,
        StatusCode::UNAUTHORIZED
    );
}

#[actix_web::test]
async fn request_is_bound_to_the_browser_and_used_once() {
    let e = env().await;
    let tid = add_tenant(&e.db, "acme", "idp-metadata.xml", false).await;
    e.db.create_user(tid, JANE, "", &["X2".into()], time(NOW))
        .await
        .unwrap();
    let svc = service!(e);
    let (relay, _binding) = outstanding(&e.db, tid, "/").await;
    // Without the companion cookie (another browser): refused, and the request is spent.
    let r = post_acs(
        &svc,
        "acme",
        "responses/okta-both-signed.xml",
        Some(&relay),
        &[],
    )
    .await;
    assert_eq!(r.status(), StatusCode::BAD_REQUEST);
    assert!(body_text(r).await.contains("Incident ID"));
    let events = e.db.recent_events(tid, 5).await.unwrap();
    assert_eq!(events[0].2, "request_binding_mismatch");
}

#[actix_web::test]
async fn idp_initiated_login_and_replay() {
    let e = env().await;
    let tid = add_tenant(&e.db, "acme", "idp-metadata.xml", true).await;
    e.db.create_user(tid, JANE, "", &["X2".into()], time(NOW))
        .await
        .unwrap();
    let svc = service!(e);
    let r = post_acs(
        &svc,
        "acme",
        "responses/unsolicited-assertion-signed.xml",
        None,
        &[],
    )
    .await;
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    assert_eq!(location(&r), "/");
    assert!(set_cookie(&r, "sso_session").is_some());
    // The same assertion again: refused as a replay.
    let r = post_acs(
        &svc,
        "acme",
        "responses/unsolicited-assertion-signed.xml",
        None,
        &[],
    )
    .await;
    assert_eq!(r.status(), StatusCode::BAD_REQUEST);
    assert!(set_cookie(&r, "sso_session").is_none());
    assert_eq!(e.db.recent_events(tid, 1).await.unwrap()[0].2, "replayed");
}

#[actix_web::test]
async fn idp_initiated_refused_when_not_allowed() {
    let e = env().await;
    let tid = add_tenant(&e.db, "acme", "idp-metadata.xml", false).await;
    e.db.create_user(tid, JANE, "", &["X2".into()], time(NOW))
        .await
        .unwrap();
    let svc = service!(e);
    let r = post_acs(
        &svc,
        "acme",
        "responses/unsolicited-assertion-signed.xml",
        None,
        &[],
    )
    .await;
    assert_eq!(r.status(), StatusCode::BAD_REQUEST);
    assert_eq!(
        e.db.recent_events(tid, 1).await.unwrap()[0].2,
        "unsolicited_response_forbidden"
    );
}

#[actix_web::test]
async fn unknown_deactivated_and_unlicensed_users_get_their_own_pages() {
    for (case, title) in [
        ("unknown", "not set up"),
        ("deactivated", "deactivated"),
        ("unlicensed", "No 8x8 license"),
    ] {
        let e = env().await;
        let tid = add_tenant(&e.db, "acme", "idp-metadata.xml", true).await;
        match case {
            "deactivated" => {
                let u =
                    e.db.create_user(tid, JANE, "", &["X2".into()], time(NOW))
                        .await
                        .unwrap();
                e.db.set_user_active(u.id, false, time(NOW)).await.unwrap();
            }
            "unlicensed" => {
                e.db.create_user(tid, JANE, "", &[], time(NOW))
                    .await
                    .unwrap();
            }
            _ => {}
        }
        let svc = service!(e);
        let r = post_acs(
            &svc,
            "acme",
            "responses/unsolicited-assertion-signed.xml",
            None,
            &[],
        )
        .await;
        assert_eq!(r.status(), StatusCode::FORBIDDEN, "{case}");
        assert!(set_cookie(&r, "sso_session").is_none());
        let page = body_text(r).await;
        assert!(page.contains(title), "{case}: {page}");
        assert!(page.contains("INC-"), "{case}: an incident id");
        let ev = &e.db.recent_events(tid, 1).await.unwrap()[0];
        assert_eq!(ev.2, format!("user_{case}"));
        assert!(
            page.contains(ev.0.as_deref().unwrap()),
            "the page shows the event's incident id"
        );
    }
}

#[actix_web::test]
async fn assertion_for_tenant_a_is_refused_at_tenant_b() {
    let e = env().await;
    add_tenant(&e.db, "acme", "idp-metadata.xml", true).await;
    // Globex trusts the very same IdP and has a user with the same Federation ID.
    let b = add_tenant(&e.db, "globex", "idp-metadata.xml", true).await;
    e.db.create_user(b, JANE, "", &["X8".into()], time(NOW))
        .await
        .unwrap();
    let svc = service!(e);
    let r = post_acs(
        &svc,
        "globex",
        "responses/unsolicited-assertion-signed.xml",
        None,
        &[],
    )
    .await;
    assert_eq!(r.status(), StatusCode::BAD_REQUEST);
    assert!(set_cookie(&r, "sso_session").is_none());
    let ev = &e.db.recent_events(b, 1).await.unwrap()[0];
    assert!(
        matches!(ev.2.as_str(), "audience_mismatch" | "destination_mismatch"),
        "{ev:?}"
    );
}

#[actix_web::test]
async fn open_redirects_are_refused() {
    let e = env().await;
    let tid = add_tenant(&e.db, "acme", "idp-metadata.xml", true).await;
    e.db.create_user(tid, JANE, "", &["X2".into()], time(NOW))
        .await
        .unwrap();
    let svc = service!(e);
    for bad in [
        "https://evil.example/",
        "//evil.example/x",
        "https://work.8x8.example.evil.example/app",
    ] {
        let uri = format!("/saml/acme/login?return_to={}", urlencoding::encode(bad));
        let r = test::call_service(&svc, test::TestRequest::get().uri(&uri).to_request()).await;
        assert_eq!(r.status(), StatusCode::BAD_REQUEST, "{bad}");
    }
    // An IdP-supplied RelayState that is not an allowed app URL lands on the home page.
    let r = post_acs(
        &svc,
        "acme",
        "responses/unsolicited-assertion-signed.xml",
        Some("https://evil.example/phish"),
        &[],
    )
    .await;
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    assert_eq!(location(&r), "/");
}

#[actix_web::test]
async fn allowed_idp_relay_state_is_followed() {
    let e = env().await;
    let tid = add_tenant(&e.db, "acme", "idp-metadata.xml", true).await;
    e.db.create_user(tid, JANE, "", &["X2".into()], time(NOW))
        .await
        .unwrap();
    let svc = service!(e);
    let r = post_acs(
        &svc,
        "acme",
        "responses/unsolicited-assertion-signed.xml",
        Some("https://work.8x8.example/app/inbox"),
        &[],
    )
    .await;
    assert_eq!(location(&r), "https://work.8x8.example/app/inbox");
}

#[actix_web::test]
async fn idp_logout_request_ends_the_session() {
    let e = env().await;
    let tid = add_tenant(&e.db, "acme", "idp-metadata.xml", true).await;
    e.db.create_user(tid, JANE, "", &["X2".into()], time(NOW))
        .await
        .unwrap();
    let svc = service!(e);
    let r = post_acs(
        &svc,
        "acme",
        "responses/unsolicited-assertion-signed.xml",
        None,
        &[],
    )
    .await;
    let session = set_cookie(&r, "sso_session").unwrap();
    assert_eq!(api_session(&svc, &session).await.0, StatusCode::OK);

    let lr = sso_gateway::saml::protocol::logout_request(
        "_lr1",
        time(NOW),
        "https://sso.example.test/saml/acme/slo",
        "http://www.okta.com/exk1fxtr9ZQ8bW3aK5d7",
        JANE,
        None,
    );
    // Unsigned: refused, the session stays.
    let url =
        sso_gateway::saml::binding::redirect_url("/saml/acme/slo", "SAMLRequest", &lr, None, None)
            .unwrap();
    let r = test::call_service(&svc, test::TestRequest::get().uri(&url).to_request()).await;
    assert_eq!(r.status(), StatusCode::BAD_REQUEST);
    assert_eq!(api_session(&svc, &session).await.0, StatusCode::OK);
    // Signed by another key: refused.
    let attacker =
        openssl::pkey::PKey::private_key_from_pem(&fixture("keys/attacker.key")).unwrap();
    let url = sso_gateway::saml::binding::redirect_url(
        "/saml/acme/slo",
        "SAMLRequest",
        &lr,
        None,
        Some(&attacker),
    )
    .unwrap();
    let r = test::call_service(&svc, test::TestRequest::get().uri(&url).to_request()).await;
    assert_eq!(r.status(), StatusCode::BAD_REQUEST);
    // Signed by the IdP: the session ends.
    let idp = openssl::pkey::PKey::private_key_from_pem(&fixture("keys/idp.key")).unwrap();
    let url = sso_gateway::saml::binding::redirect_url(
        "/saml/acme/slo",
        "SAMLRequest",
        &lr,
        Some("rs"),
        Some(&idp),
    )
    .unwrap();
    let r = test::call_service(&svc, test::TestRequest::get().uri(&url).to_request()).await;
    // Okta's hidden iframe may frame this answer: the IdP's origin, and nobody else.
    let csp = r
        .headers()
        .get("content-security-policy")
        .unwrap()
        .to_str()
        .unwrap()
        .to_string();
    let idp_origin = url::Url::parse(
        &IdpMetadata::parse(&fixture("idp-metadata.xml"))
            .unwrap()
            .sso_url
            .unwrap(),
    )
    .unwrap()
    .origin()
    .ascii_serialization();
    assert!(
        csp.contains(&format!("frame-ancestors 'self' {idp_origin}")) && !csp.contains("https:;"),
        "{csp}"
    );
    assert_eq!(r.status(), StatusCode::OK, "{}", body_text(r).await);
    assert_eq!(
        api_session(&svc, &session).await.0,
        StatusCode::UNAUTHORIZED
    );
}

#[actix_web::test]
async fn sessions_expire_when_idle_and_deactivation_ends_them() {
    let e = env().await;
    let tid = add_tenant(&e.db, "acme", "idp-metadata.xml", true).await;
    let u =
        e.db.create_user(tid, JANE, "", &["X2".into()], time(NOW))
            .await
            .unwrap();
    let svc = service!(e);
    let r = post_acs(
        &svc,
        "acme",
        "responses/unsolicited-assertion-signed.xml",
        None,
        &[],
    )
    .await;
    let session = set_cookie(&r, "sso_session").unwrap();
    e.clock.advance(chrono::Duration::minutes(29));
    assert_eq!(
        api_session(&svc, &session).await.0,
        StatusCode::OK,
        "used within the idle timeout"
    );
    e.db.set_user_active(u.id, false, time(NOW)).await.unwrap();
    assert_eq!(
        api_session(&svc, &session).await.0,
        StatusCode::UNAUTHORIZED,
        "deactivation ends live sessions"
    );
}

#[actix_web::test]
async fn discovery_finds_the_tenant_and_security_headers_are_set() {
    let e = env().await;
    let tid = add_tenant(&e.db, "acme", "idp-metadata.xml", false).await;
    e.db.create_user(tid, JANE, "", &["X2".into()], time(NOW))
        .await
        .unwrap();
    let svc = service!(e);
    let r = test::call_service(&svc, test::TestRequest::get().uri("/").to_request()).await;
    assert_eq!(r.status(), StatusCode::OK);
    let csp = r
        .headers()
        .get("content-security-policy")
        .unwrap()
        .to_str()
        .unwrap()
        .to_string();
    assert!(
        csp.contains("frame-ancestors 'none'") && csp.contains("script-src 'self'"),
        "{csp}"
    );
    assert_eq!(
        r.headers().get("x-content-type-options").unwrap(),
        "nosniff"
    );
    for login in [JANE, "JANE.DOE@ACME.EXAMPLE", "someone.else@acme.example"] {
        let r = test::call_service(
            &svc,
            test::TestRequest::post()
                .uri("/login")
                .set_form([("login", login), ("return_to", "/apps/work")])
                .to_request(),
        )
        .await;
        assert_eq!(r.status(), StatusCode::FOUND, "{login}");
        assert!(
            location(&r).starts_with("https://acme.okta.example/"),
            "{login}"
        );
    }
    let r = test::call_service(
        &svc,
        test::TestRequest::post()
            .uri("/login")
            .set_form([("login", "x@nowhere.example")])
            .to_request(),
    )
    .await;
    assert!(
        body_text(r)
            .await
            .contains("could not find an organization")
    );
}

#[actix_web::test]
async fn federation_id_from_a_named_attribute() {
    let e = env().await;
    let tid = add_tenant(&e.db, "acme", "idp-metadata.xml", true).await;
    // The fixture carries firstName=Jane; NameID jane.doe@acme.example matches nobody here.
    e.db.set_federation_source(
        tid,
        &sso_gateway::directory::FederationSource::Attribute("firstName".into()),
    )
    .await
    .unwrap();
    e.db.create_user(tid, "JANE", "", &["X2".into()], time(NOW))
        .await
        .unwrap();
    let svc = service!(e);
    let r = post_acs(
        &svc,
        "acme",
        "responses/unsolicited-assertion-signed.xml",
        None,
        &[],
    )
    .await;
    assert_eq!(r.status(), StatusCode::SEE_OTHER, "{}", body_text(r).await);
    let session = set_cookie(&r, "sso_session").unwrap();
    assert_eq!(
        api_session(&svc, &session).await.1["user"]["user_name"],
        "JANE"
    );
}

#[actix_web::test]
async fn idle_sessions_end_and_app_launch_without_a_session_starts_sso() {
    let e = env().await;
    let tid = add_tenant(&e.db, "acme", "idp-metadata.xml", true).await;
    e.db.create_user(tid, JANE, "", &["X2".into()], time(NOW))
        .await
        .unwrap();
    let svc = service!(e);
    let r = post_acs(
        &svc,
        "acme",
        "responses/unsolicited-assertion-signed.xml",
        None,
        &[],
    )
    .await;
    let session = set_cookie(&r, "sso_session").unwrap();
    let hint = set_cookie(&r, "sso_tenant").unwrap();
    assert_eq!(hint.value(), "acme");
    e.clock.advance(chrono::Duration::minutes(31));
    assert_eq!(
        api_session(&svc, &session).await.0,
        StatusCode::UNAUTHORIZED,
        "idle for 31 minutes"
    );
    // /apps/work without a live session: the remembered tenant's SSO starts, coming back here.
    let r = test::call_service(
        &svc,
        test::TestRequest::get()
            .uri("/apps/work")
            .cookie(session)
            .cookie(hint)
            .to_request(),
    )
    .await;
    assert_eq!(r.status(), StatusCode::FOUND);
    assert!(location(&r).starts_with("https://acme.okta.example/"));
    let relay =
        sso_gateway::saml::binding::decode_redirect(location(&r).split_once('?').unwrap().1, 65536)
            .unwrap()
            .relay_state
            .unwrap();
    let stored =
        e.db.take_authn_request(&token_hash(&relay), e.clock_now())
            .await
            .unwrap()
            .unwrap();
    assert_eq!(stored.return_to, "/apps/work");
    // Without any cookie: discovery, carrying the way back.
    let r = test::call_service(
        &svc,
        test::TestRequest::get().uri("/apps/work").to_request(),
    )
    .await;
    assert_eq!(location(&r), "/?return_to=/apps/work");
}

#[actix_web::test]
async fn housekeeping_purges_only_what_expired() {
    let e = env().await;
    let tid = add_tenant(&e.db, "acme", "idp-metadata.xml", true).await;
    e.db.create_user(tid, JANE, "", &["X2".into()], time(NOW))
        .await
        .unwrap();
    let svc = service!(e);
    let r = post_acs(
        &svc,
        "acme",
        "responses/unsolicited-assertion-signed.xml",
        None,
        &[],
    )
    .await;
    let session = set_cookie(&r, "sso_session").unwrap();
    let (relay, _) = outstanding(&e.db, tid, "/").await;
    assert_eq!(
        e.db.purge_expired(time(NOW)).await.unwrap(),
        0,
        "nothing has expired yet"
    );
    // An hour later the request and the replay entry have expired; the session has not.
    let later = time(NOW) + chrono::Duration::hours(1);
    assert_eq!(e.db.purge_expired(later).await.unwrap(), 2);
    assert!(
        e.db.take_authn_request(&token_hash(&relay), time(NOW))
            .await
            .unwrap()
            .is_none()
    );
    e.clock.set(later - chrono::Duration::minutes(40));
    assert_eq!(api_session(&svc, &session).await.0, StatusCode::OK);
}
