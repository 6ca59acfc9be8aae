//! Identity management beyond the paste upload: a metadata file (multipart), the fields by
//! hand, the rollover by adding the next certificate (the login it signs is refused before
//! and accepted after; the page shows which certificate verified the latest login; the old
//! one is retired, never the last), and metadata from a URL with conditional GET,
//! `validUntil`/`cacheDuration`, and the last good copy kept when a refresh fails.

use std::sync::{Arc, Mutex};

use actix_web::http::StatusCode;
use actix_web::{App, HttpRequest, HttpResponse, HttpServer, test, web};
use serde_json::json;
use sso_gateway::store::AdminRole;

use crate::admin::{OPERATOR, add_admin};
use crate::common::{NOW, fixture, time};
use crate::console_util::{Console, read, service};
use crate::web::{JANE, add_tenant, env, outstanding, outstanding_with, post_acs};

const ACME_ENTITY: &str = "http://www.okta.com/exk1fxtr9ZQ8bW3aK5d7";

fn next_cert_pem() -> String {
    String::from_utf8(fixture("keys/idp-next.crt")).unwrap()
}

#[actix_web::test]
async fn the_next_certificate_is_added_verifies_a_login_and_the_old_one_retires() {
    let e = env().await;
    let tid = add_tenant(&e.db, "acme", "idp-metadata.xml", false).await;
    e.db.create_user(tid, JANE, "", &["X2".into()], time(NOW))
        .await
        .unwrap();
    add_admin(&e.db, OPERATOR, AdminRole::Operator, None).await;
    let svc = service(&e).await;
    let c = Console::login(&svc, OPERATOR).await;

    let (relay, binding) = outstanding(&e.db, tid, "/").await;
    let r = post_acs(
        &svc,
        "acme",
        "responses/signed-by-next-key.xml",
        Some(&relay),
        &[binding],
    )
    .await;
    assert_eq!(r.status(), StatusCode::BAD_REQUEST, "not trusted yet");

    let r = c
        .post(
            "/admin/tenants/acme/idp/certificates",
            &[("certificate", &next_cert_pem())],
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    assert!(r.text.contains("is now trusted as well"), "{}", r.text);
    assert_eq!(r.text.matches("RSA 2048").count(), 2);
    // Adding it twice: refused.
    let r = c
        .api(
            "POST",
            "/admin/api/tenants/acme/idp/certificates",
            Some(json!({"certificate": next_cert_pem()})),
        )
        .await;
    assert_eq!(
        (r.status, r.json()["error"].clone()),
        (StatusCode::CONFLICT, json!("certificate_already_trusted"))
    );
    // Garbage: a clear refusal.
    let r = c
        .api(
            "POST",
            "/admin/api/tenants/acme/idp/certificates",
            Some(json!({"certificate": "not a certificate"})),
        )
        .await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST, "{}", r.text);

    // Okta activates the new certificate: the login it signs works.
    let (relay, binding) = outstanding_with(&e.db, tid, "/", "second-relay-token-0123456789").await;
    let r = post_acs(
        &svc,
        "acme",
        "responses/signed-by-next-key.xml",
        Some(&relay),
        &[binding],
    )
    .await;
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    // The page shows which certificate verified the latest login.
    let v = c
        .api("GET", "/admin/api/tenants/acme/idp", None)
        .await
        .json();
    let certs = v["certificates"].as_array().unwrap().clone();
    assert_eq!(certs.len(), 2);
    let (old, new): (Vec<_>, Vec<_>) = certs.iter().partition(|c| c["role"] == "current");
    assert_eq!(new[0]["verified_latest"], true, "{v}");
    assert_eq!(old[0]["verified_latest"], false);
    assert_eq!(old[0]["last_verified"], "never");
    let page = c.get("/admin/tenants/acme/idp").await.text;
    assert!(page.contains("verified the latest login"), "{page}");

    // Mark the new one current, then retire the old one; the last one cannot go.
    let new_id = new[0]["id"].as_i64().unwrap();
    let old_id = old[0]["id"].as_i64().unwrap();
    let r = c
        .post(
            &format!("/admin/tenants/acme/idp/certificates/{new_id}/activate"),
            &[],
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    let r = c
        .api(
            "DELETE",
            &format!("/admin/api/tenants/acme/idp/certificates/{old_id}"),
            None,
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    let r = c
        .post(
            &format!("/admin/tenants/acme/idp/certificates/{new_id}/retire"),
            &[],
        )
        .await;
    assert_eq!(r.status, StatusCode::CONFLICT);
    assert!(r.text.contains("only trusted certificate"), "{}", r.text);
    let t = e.db.tenant_by_slug("acme").await.unwrap().unwrap();
    assert_eq!(t.certificates.len(), 1);
    let rows = e.db.tenant_certificates(tid).await.unwrap();
    assert_eq!(
        (rows[0].role.as_str(), rows[0].last_verified_at.is_some()),
        ("current", true),
        "kept its history"
    );
    // A response signed by the retired key is now refused.
    let (relay, binding) = outstanding_with(&e.db, tid, "/", "third-relay-token-0123456789").await;
    let r = post_acs(
        &svc,
        "acme",
        "responses/okta-both-signed.xml",
        Some(&relay),
        &[binding],
    )
    .await;
    assert_eq!(r.status(), StatusCode::BAD_REQUEST);
    // Each step is in the audit log.
    let actions: Vec<String> =
        e.db.audit_entries(tid, 20)
            .await
            .unwrap()
            .into_iter()
            .map(|a| a.action)
            .collect();
    for a in [
        "idp.certificate_add",
        "idp.certificate_activate",
        "idp.certificate_retire",
    ] {
        assert!(actions.iter().any(|x| x == a), "{a}: {actions:?}");
    }
}

fn multipart(fields: &[(&str, &str, Option<&str>)]) -> (String, Vec<u8>) {
    let boundary = "----sgwtestboundary7MA4YWxkTrZu0gW";
    let mut body = Vec::new();
    for (name, value, filename) in fields {
        body.extend_from_slice(format!("--{boundary}\r\n").as_bytes());
        match filename {
            Some(f) => body.extend_from_slice(
                format!("Content-Disposition: form-data; name=\"{name}\"; filename=\"{f}\"\r\nContent-Type: application/xml\r\n\r\n").as_bytes(),
            ),
            None => body.extend_from_slice(format!("Content-Disposition: form-data; name=\"{name}\"\r\n\r\n").as_bytes()),
        }
        body.extend_from_slice(value.as_bytes());
        body.extend_from_slice(b"\r\n");
    }
    body.extend_from_slice(format!("--{boundary}--\r\n").as_bytes());
    (format!("multipart/form-data; boundary={boundary}"), body)
}

#[actix_web::test]
async fn metadata_comes_as_a_file_or_by_hand() {
    let e = env().await;
    let tid = add_tenant(&e.db, "acme", "idp-metadata.xml", false).await;
    add_admin(&e.db, OPERATOR, AdminRole::Operator, None).await;
    let svc = service(&e).await;
    let c = Console::login(&svc, OPERATOR).await;
    let upload = |fields: Vec<(&'static str, String, Option<&'static str>)>| {
        let f: Vec<(&str, &str, Option<&str>)> = fields
            .iter()
            .map(|(a, b, c)| (*a, b.as_str(), *c))
            .collect();
        let (ct, body) = multipart(&f);
        test::TestRequest::post()
            .uri("/admin/tenants/acme/idp")
            .insert_header(("Origin", "https://sso.example.test"))
            .insert_header(("Content-Type", ct))
            .cookie(c.cookie.clone())
            .set_payload(body)
            .to_request()
    };
    let rollover = String::from_utf8(fixture("idp-metadata-rollover.xml")).unwrap();
    let r = read(
        test::call_service(
            &svc,
            upload(vec![
                ("csrf", c.csrf.clone(), None),
                ("metadata_file", rollover.clone(), Some("okta.xml")),
                ("metadata", String::new(), None),
            ]),
        )
        .await,
    )
    .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    assert!(r.text.contains("The new IdP metadata is active"));
    assert_eq!(
        e.db.tenant_by_slug("acme")
            .await
            .unwrap()
            .unwrap()
            .certificates
            .len(),
        2
    );
    // Without the CSRF field in the multipart body: refused.
    let r = read(
        test::call_service(
            &svc,
            upload(vec![("metadata_file", rollover.clone(), Some("okta.xml"))]),
        )
        .await,
    )
    .await;
    assert_eq!(r.status, StatusCode::FORBIDDEN);
    // An empty upload, and expired metadata: clear refusals.
    let r = read(
        test::call_service(
            &svc,
            upload(vec![
                ("csrf", c.csrf.clone(), None),
                ("metadata", " ".into(), None),
            ]),
        )
        .await,
    )
    .await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
    assert!(r.text.contains("No metadata was given"), "{}", r.text);
    let expired = rollover.replacen(
        "entityID=",
        "validUntil=\"2026-01-01T00:00:00Z\" entityID=",
        1,
    );
    let r = c
        .api("POST", "/admin/api/tenants/acme/idp-metadata", None)
        .await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST, "empty body");
    let r = crate::console_util::api_call(
        &svc,
        "POST",
        "/admin/api/tenants/acme/idp-metadata",
        None,
        Some(&c.cookie),
        Some(&c.csrf),
        None,
    )
    .await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
    let r = read(
        test::call_service(
            &svc,
            upload(vec![
                ("csrf", c.csrf.clone(), None),
                ("metadata", expired, None),
            ]),
        )
        .await,
    )
    .await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
    assert!(r.text.contains("This metadata expired"), "{}", r.text);

    // By hand, as 8x8 admins do it: sign-in URL, issuer, certificate.
    let pem = String::from_utf8(fixture("keys/idp.crt")).unwrap();
    let r = c
        .post(
            "/admin/tenants/acme/idp/manual",
            &[
                ("sso_url", "https://acme.okta.example/app/x/sso/saml"),
                ("issuer", ACME_ENTITY),
                ("certificate", &pem),
            ],
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    let t = e.db.tenant_by_slug("acme").await.unwrap().unwrap();
    assert_eq!(
        (t.certificates.len(), t.idp_sso_url.as_deref()),
        (1, Some("https://acme.okta.example/app/x/sso/saml"))
    );
    for (field, value, says) in [
        (
            "sso_url",
            "http://acme.okta.example/sso",
            "must be an https:// URL",
        ),
        ("issuer", "", "issuer"),
        (
            "certificate",
            "-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----",
            "not a PEM certificate",
        ),
    ] {
        let mut f = vec![
            ("sso_url", "https://acme.okta.example/app/x/sso/saml"),
            ("issuer", ACME_ENTITY),
            ("certificate", pem.as_str()),
        ];
        f.retain(|(k, _)| *k != field);
        f.push((field, value));
        let r = c.post("/admin/tenants/acme/idp/manual", &f).await;
        assert_eq!(r.status, StatusCode::BAD_REQUEST, "{field}");
        assert!(r.text.contains(says), "{field}: {}", r.text);
    }
    let r = c.api("PUT", "/admin/api/tenants/acme/idp", Some(json!({"issuer": "http://other", "sso_url": "https://idp.example/sso", "certificate": pem}))).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    assert_eq!(r.json()["report"]["entity_id"], "http://other");
    let audit: Vec<String> =
        e.db.audit_entries(tid, 20)
            .await
            .unwrap()
            .into_iter()
            .map(|a| a.action)
            .collect();
    assert_eq!(
        audit.iter().filter(|a| *a == "idp.manual").count(),
        2,
        "{audit:?}"
    );
    assert_eq!(
        audit.iter().filter(|a| *a == "idp.metadata_upload").count(),
        1,
        "{audit:?}"
    );
}

/// A tiny metadata server: serves the current document with an ETag, honours
/// If-None-Match, and counts requests.
#[derive(Clone, Default)]
struct MdServer {
    doc: Arc<Mutex<(String, String, u16)>>,
    hits: Arc<Mutex<Vec<Option<String>>>>,
}

async fn serve_md(req: HttpRequest, s: web::Data<MdServer>) -> HttpResponse {
    let inm = req
        .headers()
        .get("if-none-match")
        .and_then(|v| v.to_str().ok())
        .map(str::to_string);
    s.hits.lock().unwrap().push(inm.clone());
    let (body, etag, status) = s.doc.lock().unwrap().clone();
    if status != 200 {
        return HttpResponse::build(StatusCode::from_u16(status).unwrap()).body("unavailable");
    }
    if inm.as_deref() == Some(etag.as_str()) {
        return HttpResponse::NotModified()
            .insert_header(("ETag", etag))
            .finish();
    }
    HttpResponse::Ok()
        .insert_header(("ETag", etag))
        .content_type("application/samlmetadata+xml")
        .body(body)
}

async fn start_md_server(s: MdServer) -> String {
    let data = web::Data::new(s);
    let server = HttpServer::new(move || {
        App::new()
            .app_data(data.clone())
            .route("/md.xml", web::get().to(serve_md))
    })
    .workers(1)
    .bind("127.0.0.1:0")
    .unwrap();
    let addr = server.addrs()[0];
    actix_web::rt::spawn(server.run());
    format!("http://{addr}/md.xml")
}

#[actix_web::test]
async fn metadata_from_a_url_is_refreshed_conditionally_and_the_last_good_copy_stays() {
    let e = env().await;
    let tid = add_tenant(&e.db, "acme", "idp-metadata.xml", false).await;
    add_admin(&e.db, OPERATOR, AdminRole::Operator, None).await;
    let svc = service(&e).await;
    let c = Console::login(&svc, OPERATOR).await;
    let md = MdServer::default();
    let rollover = String::from_utf8(fixture("idp-metadata-rollover.xml")).unwrap();
    let with_cache = rollover.replacen("entityID=", "cacheDuration=\"PT1H\" entityID=", 1);
    *md.doc.lock().unwrap() = (with_cache.clone(), "\"v1\"".into(), 200);
    let url = start_md_server(md.clone()).await;

    // https only, unless the server allows http (tests do): refused in production mode.
    let mut strict = e.state.clone();
    strict.allow_http_metadata = false;
    assert!(sso_gateway::web::admin::refresh::check_url(&url, false).is_err());
    assert!(sso_gateway::web::admin::refresh::check_url("ftp://x/md", true).is_err());
    let _ = strict;

    // Setting the URL fetches and applies it now.
    let r = c
        .post("/admin/tenants/acme/idp/url", &[("url", &url)])
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    assert!(
        r.text
            .contains("fetched and the new IdP configuration is active"),
        "{}",
        r.text
    );
    assert_eq!(
        e.db.tenant_by_slug("acme")
            .await
            .unwrap()
            .unwrap()
            .certificates
            .len(),
        2
    );
    let src = e.db.metadata_source(tid).await.unwrap().unwrap();
    assert_eq!(src.etag.as_deref(), Some("\"v1\""));
    assert_eq!(
        src.next_refresh_at,
        time(NOW).timestamp() + 3600,
        "cacheDuration PT1H"
    );

    // Not due yet: the scheduled job does nothing.
    assert_eq!(
        sso_gateway::web::admin::refresh::refresh_due(&e.state)
            .await
            .unwrap(),
        0
    );
    // Due: a conditional GET, answered 304; nothing changes.
    e.clock.advance(chrono::Duration::hours(2));
    assert_eq!(
        sso_gateway::web::admin::refresh::refresh_due(&e.state)
            .await
            .unwrap(),
        1
    );
    assert_eq!(
        md.hits.lock().unwrap().last().unwrap().as_deref(),
        Some("\"v1\""),
        "If-None-Match sent"
    );
    let src2 = e.db.metadata_source(tid).await.unwrap().unwrap();
    assert!(src2.next_refresh_at > src.next_refresh_at && src2.last_error.is_none());

    // (The console session idled out over those two hours.)
    let c = Console::login(&svc, OPERATOR).await;
    // The IdP publishes a broken document: the refresh fails, the trust stays, the error shows.
    *md.doc.lock().unwrap() = ("<oops".into(), "\"v2\"".into(), 200);
    let r = c.post("/admin/tenants/acme/idp/url/refresh", &[]).await;
    assert_eq!(r.status, StatusCode::BAD_GATEWAY);
    assert!(r.text.contains("xml_malformed"), "{}", r.text);
    let t = e.db.tenant_by_slug("acme").await.unwrap().unwrap();
    assert_eq!(t.certificates.len(), 2, "the last good copy stays trusted");
    let page = c.get("/admin/tenants/acme/idp").await.text;
    assert!(page.contains("failed and changed nothing"), "{page}");
    let o = c.get("/admin/tenants/acme").await.text;
    assert!(
        o.contains("The last metadata refresh"),
        "overview warns: {o}"
    );
    // Expired (validUntil passed): refused the same way. Server errors too.
    let expired = rollover.replacen(
        "entityID=",
        "validUntil=\"2026-05-01T00:00:00Z\" entityID=",
        1,
    );
    *md.doc.lock().unwrap() = (expired, "\"v3\"".into(), 200);
    let r = c
        .api(
            "POST",
            "/admin/api/tenants/acme/idp/metadata-url/refresh",
            None,
        )
        .await;
    assert_eq!(r.status, StatusCode::BAD_GATEWAY);
    assert!(
        r.json()["message"].as_str().unwrap().contains("expired"),
        "{}",
        r.text
    );
    *md.doc.lock().unwrap() = (String::new(), "\"v4\"".into(), 503);
    let r = c
        .api(
            "POST",
            "/admin/api/tenants/acme/idp/metadata-url/refresh",
            None,
        )
        .await;
    assert!(
        r.json()["message"].as_str().unwrap().contains("503"),
        "{}",
        r.text
    );
    assert_eq!(
        e.db.tenant_by_slug("acme")
            .await
            .unwrap()
            .unwrap()
            .certificates
            .len(),
        2
    );

    // The IdP publishes new metadata (one certificate): the next refresh applies it.
    *md.doc.lock().unwrap() = (
        String::from_utf8(fixture("idp-metadata.xml")).unwrap(),
        "\"v5\"".into(),
        200,
    );
    e.clock.advance(chrono::Duration::hours(1));
    assert_eq!(
        sso_gateway::web::admin::refresh::refresh_due(&e.state)
            .await
            .unwrap(),
        1
    );
    assert_eq!(
        e.db.tenant_by_slug("acme")
            .await
            .unwrap()
            .unwrap()
            .certificates
            .len(),
        1
    );
    let c = Console::login(&svc, OPERATOR).await;
    let audit = e.db.audit_entries(tid, 20).await.unwrap();
    assert!(
        audit
            .iter()
            .any(|a| a.action == "idp.metadata_refresh" && a.actor == "system"),
        "{audit:?}"
    );
    // A URL that does not answer with metadata is refused and nothing is saved.
    let r = c
        .api(
            "PUT",
            "/admin/api/tenants/acme/idp/metadata-url",
            Some(json!({"url": url.replace("md.xml", "missing.xml")})),
        )
        .await;
    assert_eq!(r.status, StatusCode::BAD_GATEWAY, "{}", r.text);
    assert_eq!(e.db.metadata_source(tid).await.unwrap().unwrap().url, url);
    // Stop refreshing: the trust stays.
    let r = c
        .api("DELETE", "/admin/api/tenants/acme/idp/metadata-url", None)
        .await;
    assert_eq!(r.status, StatusCode::OK);
    assert!(e.db.metadata_source(tid).await.unwrap().is_none());
    assert_eq!(
        e.db.tenant_by_slug("acme")
            .await
            .unwrap()
            .unwrap()
            .certificates
            .len(),
        1
    );
}
