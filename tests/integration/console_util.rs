//! Helpers of the Configuration Manager tests: a signed-in console (cookie + CSRF token)
//! that GETs pages, POSTs forms and calls the JSON API.

use actix_web::cookie::Cookie;
use actix_web::dev::{Service, ServiceResponse};
use actix_web::http::{Method, StatusCode};
use actix_web::{App, test, web};
use serde_json::Value;

use crate::admin::{body_text, csrf_field, session};
use crate::web::Env;

pub const ORIGIN: &str = "https://sso.example.test";
/// The address every console request comes from (it appears in the audit log).
pub const ADMIN_IP: &str = "203.0.113.9:50123";

pub async fn service(
    e: &Env,
) -> impl Service<actix_http::Request, Response = ServiceResponse, Error = actix_web::Error> {
    test::init_service(
        App::new()
            .app_data(web::Data::new(e.state.clone()))
            .wrap(sso_gateway::web::security_headers())
            .configure(|c| sso_gateway::web::configure(c, false)),
    )
    .await
}

/// A signed-in admin.
pub struct Console<'a, S> {
    pub svc: &'a S,
    pub cookie: Cookie<'static>,
    pub csrf: String,
}

/// A response read whole: status, body text, and the body as JSON when it is JSON.
#[derive(Debug)]
pub struct Got {
    pub status: StatusCode,
    pub text: String,
    pub headers: actix_web::http::header::HeaderMap,
}

impl Got {
    pub fn json(&self) -> Value {
        serde_json::from_str(&self.text).unwrap_or(Value::Null)
    }
}

pub async fn read(r: ServiceResponse) -> Got {
    let status = r.status();
    let headers = r.headers().clone();
    Got {
        status,
        text: body_text(r).await,
        headers,
    }
}

impl<'a, S> Console<'a, S>
where
    S: Service<actix_http::Request, Response = ServiceResponse, Error = actix_web::Error>,
{
    pub async fn login(svc: &'a S, email: &str) -> Self {
        let cookie = session(svc, email).await;
        let r = test::call_service(
            svc,
            test::TestRequest::get()
                .uri("/admin")
                .cookie(cookie.clone())
                .to_request(),
        )
        .await;
        let csrf = csrf_field(&body_text(r).await);
        Console { svc, cookie, csrf }
    }

    pub async fn get(&self, uri: &str) -> Got {
        read(
            test::call_service(
                self.svc,
                test::TestRequest::get()
                    .uri(uri)
                    .cookie(self.cookie.clone())
                    .to_request(),
            )
            .await,
        )
        .await
    }

    /// POST a form with the session's CSRF token.
    pub async fn post(&self, uri: &str, form: &[(&str, &str)]) -> Got {
        let mut f: Vec<(&str, &str)> = vec![("csrf", self.csrf.as_str())];
        f.extend_from_slice(form);
        self.post_raw(uri, &f).await
    }

    /// POST a form exactly as given (no CSRF token added).
    pub async fn post_raw(&self, uri: &str, form: &[(&str, &str)]) -> Got {
        read(
            test::call_service(
                self.svc,
                test::TestRequest::post()
                    .uri(uri)
                    .peer_addr(ADMIN_IP.parse().unwrap())
                    .insert_header(("Origin", ORIGIN))
                    .cookie(self.cookie.clone())
                    .set_form(form)
                    .to_request(),
            )
            .await,
        )
        .await
    }

    /// Call the JSON API with the session cookie and the CSRF header.
    pub async fn api(&self, method: &str, uri: &str, body: Option<Value>) -> Got {
        api_call(
            self.svc,
            method,
            uri,
            body,
            Some(&self.cookie),
            Some(&self.csrf),
            None,
        )
        .await
    }
}

/// Call the JSON API with any combination of cookie, CSRF header and bearer token.
pub async fn api_call<S>(
    svc: &S,
    method: &str,
    uri: &str,
    body: Option<Value>,
    cookie: Option<&Cookie<'static>>,
    csrf: Option<&str>,
    bearer: Option<&str>,
) -> Got
where
    S: Service<actix_http::Request, Response = ServiceResponse, Error = actix_web::Error>,
{
    let mut req = test::TestRequest::default()
        .method(Method::from_bytes(method.as_bytes()).unwrap())
        .peer_addr(ADMIN_IP.parse().unwrap())
        .uri(uri);
    if let Some(c) = cookie {
        req = req.cookie(c.clone());
    }
    if let Some(t) = csrf {
        req = req.insert_header(("X-CSRF-Token", t));
    }
    if let Some(b) = bearer {
        req = req.insert_header(("Authorization", format!("Bearer {b}")));
    }
    if let Some(b) = body {
        req = req
            .insert_header(("Content-Type", "application/json"))
            .set_payload(b.to_string());
    }
    read(test::call_service(svc, req.to_request()).await).await
}
