//! Identity management in the console: metadata upload with a validation report, the
//! certificate rollover flow, clear refusals that change nothing, roles, CSRF, audit.

use actix_web::cookie::Cookie;
use actix_web::dev::{Service, ServiceResponse};
use actix_web::http::StatusCode;
use actix_web::{App, test, web};
use sso_gateway::store::AdminRole;

use crate::admin::{ACME_ADMIN, OPERATOR, add_admin, body_text, csrf_field, get, json_of, session};
use crate::common::{NOW, fixture, time};
use crate::web::{JANE, add_tenant, env, outstanding, outstanding_with, post_acs, set_cookie};

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

async fn upload<S>(svc: &S, c: &Cookie<'static>, csrf: &str, xml: &str) -> ServiceResponse
where
    S: Service<actix_http::Request, Response = ServiceResponse, Error = actix_web::Error>,
{
    test::call_service(
        svc,
        test::TestRequest::post()
            .uri("/admin/tenants/acme/idp")
            .insert_header(("Origin", "https://sso.example.test"))
            .cookie(c.clone())
            .set_form([("csrf", csrf), ("metadata", xml)])
            .to_request(),
    )
    .await
}

#[actix_web::test]
async fn rollover_upload_lets_the_next_certificate_sign_in() {
    let e = env().await;
    let tid = add_tenant(&e.db, "acme", "idp-metadata.xml", false).await;
    e.db.create_user(tid, JANE, "", &["X2".into()], time(NOW))
        .await
        .unwrap();
    add_admin(&e.db, OPERATOR, AdminRole::Operator, None).await;
    let svc = service!(e);
    let c = session(&svc, OPERATOR).await;
    let page = body_text(get(&svc, "/admin/tenants/acme/idp", Some(&c)).await).await;
    assert!(
        page.contains("http://www.okta.com/exk1fxtr9ZQ8bW3aK5d7") && page.contains("RSA 2048"),
        "{page}"
    );
    let csrf = csrf_field(&page);

    // Before: a response signed by the next key is refused.
    let (relay, binding) = outstanding(&e.db, tid, "/").await;
    let r = post_acs(
        &svc,
        "acme",
        "responses/signed-by-next-key.xml",
        Some(&relay),
        &[binding],
    )
    .await;
    assert_eq!(r.status(), StatusCode::BAD_REQUEST);

    // Upload metadata listing current and next: the report shows both, with the rollover note.
    let xml = String::from_utf8(fixture("idp-metadata-rollover.xml")).unwrap();
    let r = upload(&svc, &c, &csrf, &xml).await;
    assert_eq!(r.status(), StatusCode::OK);
    let page = body_text(r).await;
    assert!(page.contains("The new IdP metadata is active"), "{page}");
    assert_eq!(page.matches("RSA 2048").count(), 2);
    assert!(page.contains("2 signing certificates are trusted"));
    let audit = e.db.audit_entries(tid, 5).await.unwrap();
    assert!(
        audit
            .iter()
            .any(|a| a.actor == format!("admin:{OPERATOR}") && a.action == "idp.metadata_upload"),
        "{audit:?}"
    );

    // After: the same kind of response signs Jane in.
    let (relay, binding) = outstanding_with(&e.db, tid, "/", "second-relay-token-0123456789").await;
    let r = post_acs(
        &svc,
        "acme",
        "responses/signed-by-next-key.xml",
        Some(&relay),
        &[binding],
    )
    .await;
    assert_eq!(r.status(), StatusCode::SEE_OTHER, "{}", body_text(r).await);
}

#[actix_web::test]
async fn bad_metadata_is_refused_clearly_and_changes_nothing() {
    let e = env().await;
    let tid = add_tenant(&e.db, "acme", "idp-metadata.xml", false).await;
    add_tenant(&e.db, "globex", "idp-metadata.xml", false).await;
    add_admin(&e.db, ACME_ADMIN, AdminRole::TenantAdmin, Some(tid)).await;
    let svc = service!(e);
    let c = session(&svc, ACME_ADMIN).await;
    let csrf = csrf_field(&body_text(get(&svc, "/admin/tenants/acme/idp", Some(&c)).await).await);
    for (xml, says) in [
        (
            String::from_utf8(fixture("idp-metadata-nokey.xml")).unwrap(),
            "no_trusted_certificate",
        ),
        (
            "<!DOCTYPE x [<!ENTITY e 'x'>]><x/>".to_string(),
            "dtd_forbidden",
        ),
        ("hello".to_string(), "xml_malformed"),
        (
            "<md:EntityDescriptor xmlns:md='urn:oasis:names:tc:SAML:2.0:metadata' entityID='x'/>"
                .to_string(),
            "metadata_invalid",
        ),
    ] {
        let r = upload(&svc, &c, &csrf, &xml).await;
        assert_eq!(r.status(), StatusCode::BAD_REQUEST, "{says}");
        let page = body_text(r).await;
        assert!(
            page.contains("Not applied") && page.contains(says),
            "{says}: {page}"
        );
    }
    let t = e.db.tenant_by_slug("acme").await.unwrap().unwrap();
    assert_eq!(
        (t.certificates.len(), t.idp_entity_id.as_str()),
        (1, "http://www.okta.com/exk1fxtr9ZQ8bW3aK5d7")
    );
    assert!(
        e.db.audit_entries(tid, 5)
            .await
            .unwrap()
            .iter()
            .all(|a| a.action != "idp.metadata_upload")
    );
    // Roles and CSRF.
    assert_eq!(
        get(&svc, "/admin/tenants/globex/idp", Some(&c))
            .await
            .status(),
        StatusCode::NOT_FOUND
    );
    let xml = String::from_utf8(fixture("idp-metadata-rollover.xml")).unwrap();
    assert_eq!(
        upload(&svc, &c, "wrong", &xml).await.status(),
        StatusCode::FORBIDDEN
    );
    // The API equivalent.
    let api = |body: String| {
        test::TestRequest::post()
            .uri("/admin/api/tenants/acme/idp-metadata")
            .cookie(c.clone())
            .insert_header(("X-CSRF-Token", csrf.as_str()))
            .set_payload(body)
            .to_request()
    };
    let r = test::call_service(&svc, api("nonsense".into())).await;
    assert_eq!(r.status(), StatusCode::BAD_REQUEST);
    let v = json_of(r).await;
    assert_eq!(v["error"], "xml_malformed", "{v}");
    assert!(
        v["message"].as_str().unwrap().contains("Paste the XML"),
        "{v}"
    );
    let r = test::call_service(&svc, api(xml)).await;
    assert_eq!(r.status(), StatusCode::OK);
    let v = json_of(r).await;
    assert_eq!(v["report"]["certificates"].as_array().unwrap().len(), 2);
    let _ = set_cookie;
}
