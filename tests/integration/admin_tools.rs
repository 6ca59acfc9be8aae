//! Console tools: the assertion lab and SCIM token management (HTML and API), with the
//! same role and CSRF rules as the rest of the console.

use actix_web::cookie::Cookie;
use actix_web::dev::{Service, ServiceResponse};
use actix_web::http::StatusCode;
use actix_web::{App, test, web};
use base64::Engine as _;
use sso_gateway::store::AdminRole;

use crate::admin::{ACME_ADMIN, OPERATOR, add_admin, body_text, csrf_field, get, json_of, session};
use crate::common::{NOW, fixture, time};
use crate::web::{JANE, add_tenant, env};

const ORIGIN: &str = "https://sso.example.test";

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

async fn csrf_of<S>(svc: &S, c: &Cookie<'static>) -> String
where
    S: Service<actix_http::Request, Response = ServiceResponse, Error = actix_web::Error>,
{
    csrf_field(&body_text(get(svc, "/admin", Some(c)).await).await)
}

async fn post_form<S>(
    svc: &S,
    uri: &str,
    c: &Cookie<'static>,
    form: &[(&str, &str)],
) -> ServiceResponse
where
    S: Service<actix_http::Request, Response = ServiceResponse, Error = actix_web::Error>,
{
    test::call_service(
        svc,
        test::TestRequest::post()
            .uri(uri)
            .insert_header(("Origin", ORIGIN))
            .cookie(c.clone())
            .set_form(form)
            .to_request(),
    )
    .await
}

#[actix_web::test]
async fn the_assertion_lab_shows_every_check_and_the_federation_outcome() {
    let e = env().await;
    let tid = add_tenant(&e.db, "acme", "idp-metadata.xml", true).await;
    add_admin(&e.db, OPERATOR, AdminRole::Operator, None).await;
    let svc = service!(e);
    let c = session(&svc, OPERATOR).await;
    let csrf = csrf_of(&svc, &c).await;
    assert_eq!(
        get(&svc, "/admin/tenants/acme/lab", Some(&c))
            .await
            .status(),
        StatusCode::OK
    );
    let b64 = base64::engine::general_purpose::STANDARD
        .encode(fixture("responses/unsolicited-assertion-signed.xml"));

    // Valid signature, but nobody is provisioned with that Federation ID yet.
    let r = post_form(
        &svc,
        "/admin/tenants/acme/lab",
        &c,
        &[("csrf", &csrf), ("saml_response", &b64)],
    )
    .await;
    assert_eq!(r.status(), StatusCode::OK);
    let page = body_text(r).await;
    assert!(page.contains("<h2>Valid"), "{page}");
    assert!(page.contains("user_unknown"));
    assert!(page.contains("<code>audience</code>") && page.contains("<code>replay</code>"));
    // Once provisioned and licensed, the lab says the login would succeed; nothing was consumed.
    e.db.create_user(tid, JANE, "", &["X2".into()], time(NOW))
        .await
        .unwrap();
    let page = body_text(
        post_form(
            &svc,
            "/admin/tenants/acme/lab",
            &c,
            &[("csrf", &csrf), ("saml_response", &b64)],
        )
        .await,
    )
    .await;
    assert!(page.contains("the login would succeed"), "{page}");

    // A tampered response: the failing check is shown.
    let bad =
        base64::engine::general_purpose::STANDARD.encode(fixture("attacks/tampered-nameid.xml"));
    let page = body_text(
        post_form(
            &svc,
            "/admin/tenants/acme/lab",
            &c,
            &[("csrf", &csrf), ("saml_response", &bad)],
        )
        .await,
    )
    .await;
    assert!(
        page.contains("Refused: <code>digest_mismatch</code>"),
        "{page}"
    );
    assert!(page.contains("<strong>FAIL</strong>"));

    // Without the CSRF token: refused.
    let r = post_form(
        &svc,
        "/admin/tenants/acme/lab",
        &c,
        &[("saml_response", &b64)],
    )
    .await;
    assert_eq!(r.status(), StatusCode::FORBIDDEN);

    // The API equivalent.
    let r = test::call_service(
        &svc,
        test::TestRequest::post()
            .uri("/admin/api/tenants/acme/lab")
            .cookie(c.clone())
            .insert_header(("X-CSRF-Token", csrf.as_str()))
            .set_payload(serde_json::json!({"saml_response": b64}).to_string())
            .to_request(),
    )
    .await;
    assert_eq!(r.status(), StatusCode::OK);
    let v = json_of(r).await;
    assert_eq!(v["valid"], true);
    assert_eq!(v["name_id"], JANE);
    assert!(v["checks"].as_array().unwrap().len() >= 10);
}

#[actix_web::test]
async fn scim_tokens_are_created_once_listed_and_revoked_with_audit() {
    let e = env().await;
    let tid = add_tenant(&e.db, "acme", "idp-metadata.xml", true).await;
    let other = add_tenant(&e.db, "globex", "idp-metadata.xml", true).await;
    add_admin(&e.db, ACME_ADMIN, AdminRole::TenantAdmin, Some(tid)).await;
    let svc = service!(e);
    let c = session(&svc, ACME_ADMIN).await;
    let csrf = csrf_of(&svc, &c).await;
    // Create: the token is shown once.
    let r = post_form(
        &svc,
        "/admin/tenants/acme/scim-tokens",
        &c,
        &[("csrf", &csrf), ("label", "Okta production")],
    )
    .await;
    assert_eq!(r.status(), StatusCode::CREATED);
    let page = body_text(r).await;
    let start = page.find("id=\"new-token\">").unwrap() + "id=\"new-token\">".len();
    let token = page[start..].split('<').next().unwrap().to_string();
    assert!(token.starts_with("scim_"));
    assert!(page.contains("https://sso.example.test/scim/v2/acme"));
    // It works, and the list shows only its prefix.
    let scim = |tok: String| {
        test::TestRequest::get()
            .uri("/scim/v2/acme/Users")
            .insert_header(("Authorization", format!("Bearer {tok}")))
            .to_request()
    };
    assert_eq!(
        test::call_service(&svc, scim(token.clone())).await.status(),
        StatusCode::OK
    );
    let list = body_text(get(&svc, "/admin/tenants/acme/scim-tokens", Some(&c)).await).await;
    assert!(
        list.contains(&format!("{}…", &token[..12])) && !list.contains(&token),
        "never shown again"
    );
    let api = json_of(get(&svc, "/admin/api/tenants/acme/scim-tokens", Some(&c)).await).await;
    let id = api["tokens"][0]["id"].as_i64().unwrap();
    assert_eq!(api["tokens"][0]["label"], "Okta production");
    // Revoke: the token stops working; both actions are audited with the admin's email.
    let r = post_form(
        &svc,
        &format!("/admin/tenants/acme/scim-tokens/{id}/revoke"),
        &c,
        &[("csrf", &csrf)],
    )
    .await;
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    assert_eq!(
        test::call_service(&svc, scim(token)).await.status(),
        StatusCode::UNAUTHORIZED
    );
    let audit = e.db.audit_entries(tid, 5).await.unwrap();
    assert!(
        audit
            .iter()
            .any(|a| a.actor == format!("admin:{ACME_ADMIN}") && a.action == "scim_token.create"),
        "{audit:?}"
    );
    assert!(
        audit
            .iter()
            .any(|a| a.actor == format!("admin:{ACME_ADMIN}") && a.action == "scim_token.revoke")
    );
    // Another tenant's tokens: not found, by page and by API; no CSRF token: refused.
    let _ = other;
    assert_eq!(
        get(&svc, "/admin/tenants/globex/scim-tokens", Some(&c))
            .await
            .status(),
        StatusCode::NOT_FOUND
    );
    assert_eq!(
        get(&svc, "/admin/api/tenants/globex/scim-tokens", Some(&c))
            .await
            .status(),
        StatusCode::NOT_FOUND
    );
    let r = post_form(
        &svc,
        "/admin/tenants/globex/scim-tokens",
        &c,
        &[("csrf", &csrf)],
    )
    .await;
    assert_eq!(r.status(), StatusCode::NOT_FOUND);
    let r = post_form(
        &svc,
        "/admin/tenants/acme/scim-tokens",
        &c,
        &[("label", "x")],
    )
    .await;
    assert_eq!(r.status(), StatusCode::FORBIDDEN);
}
