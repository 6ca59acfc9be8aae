//! The demo end to end, in-process: discovery, the development IdP (SP- and
//! IdP-initiated), the ACS, app launch into the demo app, and both logout directions.

use std::sync::Arc;

use actix_web::cookie::Cookie;
use actix_web::dev::{Service, ServiceResponse};
use actix_web::http::StatusCode;
use actix_web::{App, test, web};

use crate::common::{NOW, time};
use crate::web::env;

const GW: &str = "http://gw.test";

fn field(html: &str, name: &str) -> Option<String> {
    let pat = format!("name=\"{name}\" value=\"");
    let start = html.find(&pat)? + pat.len();
    let end = html[start..].find('"')? + start;
    Some(
        html[start..end]
            .replace("&#43;", "+")
            .replace("&#61;", "=")
            .replace("&#47;", "/"),
    )
}

fn path_of(url: &str) -> String {
    url.strip_prefix(GW).unwrap_or(url).to_string()
}

fn location(r: &ServiceResponse) -> String {
    r.headers()
        .get("location")
        .map(|v| v.to_str().unwrap().to_string())
        .unwrap_or_default()
}

struct Browser {
    cookies: Vec<Cookie<'static>>,
}

impl Browser {
    fn take(&mut self, r: &ServiceResponse) {
        for c in r.response().cookies() {
            self.cookies.retain(|x| x.name() != c.name());
            if !c.value().is_empty() {
                self.cookies.push(c.into_owned());
            }
        }
    }

    async fn get<S>(&mut self, svc: &S, uri: &str) -> ServiceResponse
    where
        S: Service<actix_http::Request, Response = ServiceResponse, Error = actix_web::Error>,
    {
        let mut req = test::TestRequest::get().uri(&path_of(uri));
        for c in &self.cookies {
            req = req.cookie(c.clone());
        }
        let r = test::call_service(svc, req.to_request()).await;
        self.take(&r);
        r
    }

    async fn post<S>(&mut self, svc: &S, uri: &str, form: &[(&str, &str)]) -> ServiceResponse
    where
        S: Service<actix_http::Request, Response = ServiceResponse, Error = actix_web::Error>,
    {
        let mut req = test::TestRequest::post().uri(&path_of(uri)).set_form(form);
        for c in &self.cookies {
            req = req.cookie(c.clone());
        }
        let r = test::call_service(svc, req.to_request()).await;
        self.take(&r);
        r
    }
}

async fn text(r: ServiceResponse) -> String {
    String::from_utf8(test::read_body(r).await.to_vec()).unwrap()
}

/// Sign in through discovery and the dev IdP; returns the ACS response.
async fn sp_initiated<S>(svc: &S, b: &mut Browser, user: &str) -> ServiceResponse
where
    S: Service<actix_http::Request, Response = ServiceResponse, Error = actix_web::Error>,
{
    let r = b
        .post(
            svc,
            "/login",
            &[("login", user), ("return_to", "/apps/work")],
        )
        .await;
    assert_eq!(r.status(), StatusCode::FOUND);
    let to_idp = location(&r);
    assert!(
        to_idp.starts_with("http://gw.test/demo/idp/sso?SAMLRequest="),
        "{to_idp}"
    );
    let picker = text(b.get(svc, &to_idp).await).await;
    assert!(picker.contains("alice@example.com"));
    let ctx = field(&picker, "context").unwrap();
    let form = text(
        b.post(svc, "/demo/idp/sso", &[("user", user), ("context", &ctx)])
            .await,
    )
    .await;
    let saml = field(&form, "SAMLResponse").expect("auto-post form");
    let relay = field(&form, "RelayState").expect("RelayState echoed");
    assert!(form.contains("action=\"http://gw.test/saml/demo/acs\""));
    b.post(
        svc,
        "/saml/demo/acs",
        &[("SAMLResponse", &saml), ("RelayState", &relay)],
    )
    .await
}

macro_rules! demo_service {
    ($e:expr) => {{
        let mut e = $e;
        e.state.public_url = GW.into();
        e.state.app_urls.clear();
        let idp = sso_gateway::web::demo::setup(&e.db, GW, time(NOW))
            .await
            .unwrap();
        e.state.demo = Some(Arc::new(idp));
        let svc = test::init_service(
            App::new()
                .app_data(web::Data::new(e.state.clone()))
                .wrap(sso_gateway::web::security_headers())
                .configure(|c| sso_gateway::web::configure(c, true)),
        )
        .await;
        (e, svc)
    }};
}

#[actix_web::test]
async fn alice_signs_in_and_opens_work() {
    let (_e, svc) = demo_service!(env().await);
    let mut b = Browser { cookies: vec![] };
    let r = sp_initiated(&svc, &mut b, "alice@example.com").await;
    assert_eq!(r.status(), StatusCode::SEE_OTHER, "{}", text(r).await);
    assert_eq!(location(&r), "/apps/work");
    let r = b.get(&svc, "/apps/work").await;
    let app_url = location(&r);
    assert!(
        app_url.starts_with("http://gw.test/demo/app/work?token="),
        "{app_url}"
    );
    let page = text(b.get(&svc, &app_url).await).await;
    assert!(
        page.contains("<dd id=\"user\">alice@example.com</dd>"),
        "{page}"
    );
    assert!(page.contains("8x8 Work, 8x8 Contact Center"));
    // The token works once.
    let r = b.get(&svc, &app_url).await;
    assert_eq!(r.status(), StatusCode::UNAUTHORIZED);
    // The home page lists the apps.
    let home = text(b.get(&svc, "/").await).await;
    assert!(home.contains("href=\"/apps/contact-center\""));
}

#[actix_web::test]
async fn bob_carol_and_mallory_are_refused_with_their_pages() {
    for (user, says) in [
        ("bob@example.com", "deactivated"),
        ("carol@example.com", "No 8x8 license"),
        ("mallory@example.com", "not set up"),
    ] {
        let (_e, svc) = demo_service!(env().await);
        let mut b = Browser { cookies: vec![] };
        let r = if user == "mallory@example.com" {
            // Not provisioned, so discovery cannot find it: start from the IdP dashboard.
            let form = text(
                b.post(&svc, "/demo/idp/sso", &[("user", user), ("context", "")])
                    .await,
            )
            .await;
            let saml = field(&form, "SAMLResponse").unwrap();
            b.post(&svc, "/saml/demo/acs", &[("SAMLResponse", &saml)])
                .await
        } else {
            sp_initiated(&svc, &mut b, user).await
        };
        assert_eq!(r.status(), StatusCode::FORBIDDEN, "{user}");
        assert!(text(r).await.contains(says), "{user}");
        assert!(
            !b.cookies.iter().any(|c| c.name() == "sso_session"),
            "{user}: no session"
        );
    }
}

#[actix_web::test]
async fn idp_initiated_login_then_both_logouts() {
    let (_e, svc) = demo_service!(env().await);
    let mut b = Browser { cookies: vec![] };
    // The Okta dashboard tile: IdP-initiated.
    let form = text(
        b.post(
            &svc,
            "/demo/idp/sso",
            &[("user", "alice@example.com"), ("context", "")],
        )
        .await,
    )
    .await;
    assert!(field(&form, "RelayState").is_none());
    let saml = field(&form, "SAMLResponse").unwrap();
    let r = b
        .post(&svc, "/saml/demo/acs", &[("SAMLResponse", &saml)])
        .await;
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    assert_eq!(b.get(&svc, "/api/session").await.status(), StatusCode::OK);

    // IdP-initiated single logout (signed Redirect-binding LogoutRequest).
    let r = b
        .post(&svc, "/demo/idp/logout", &[("user", "alice@example.com")])
        .await;
    let to_sp = location(&r);
    assert!(
        to_sp.contains("/saml/demo/slo?SAMLRequest=") && to_sp.contains("&Signature="),
        "{to_sp}"
    );
    let r = b.get(&svc, &to_sp).await;
    assert_eq!(
        r.status(),
        StatusCode::FOUND,
        "answers the IdP with a LogoutResponse"
    );
    assert_eq!(
        b.get(&svc, "/api/session").await.status(),
        StatusCode::UNAUTHORIZED
    );

    // Sign in again, then SP-initiated logout through the IdP and back.
    let form = text(
        b.post(
            &svc,
            "/demo/idp/sso",
            &[("user", "alice@example.com"), ("context", "")],
        )
        .await,
    )
    .await;
    let saml = field(&form, "SAMLResponse").unwrap();
    b.post(&svc, "/saml/demo/acs", &[("SAMLResponse", &saml)])
        .await;
    assert_eq!(b.get(&svc, "/api/session").await.status(), StatusCode::OK);
    let r = b.get(&svc, "/logout").await;
    let to_idp = location(&r);
    assert!(
        to_idp.starts_with("http://gw.test/demo/idp/slo?SAMLRequest="),
        "{to_idp}"
    );
    assert_eq!(
        b.get(&svc, "/api/session").await.status(),
        StatusCode::UNAUTHORIZED
    );
    let r = b.get(&svc, &to_idp).await;
    let back = location(&r);
    assert!(back.contains("/saml/demo/slo?SAMLResponse="), "{back}");
    let r = b.get(&svc, &back).await;
    assert_eq!(r.status(), StatusCode::OK);
    assert!(text(r).await.contains("signed out"));
}
