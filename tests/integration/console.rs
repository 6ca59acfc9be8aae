//! Configuration Manager boundaries, route by route: a tenant admin cannot read or change
//! another tenant by URL or API (every route is tried; all answer exactly like a missing
//! tenant and change nothing); every state-changing route refuses a request without the
//! CSRF token (or from a foreign Origin); operator-only actions are refused to tenant
//! admins; and the OpenAPI document lists exactly the API routes the code registers.

use std::collections::BTreeSet;

use actix_web::http::StatusCode;
use serde_json::{Value, json};
use sso_gateway::store::{Actor, AdminRole};

use crate::admin::{ACME_ADMIN, OPERATOR, add_admin};
use crate::common::{NOW, time};
use crate::console_util::{Console, api_call, service};
use crate::web::{add_tenant, env};

/// Every `.route("/admin...", web::METHOD()...)` registered under `src/web/admin/`.
pub fn registered_routes() -> BTreeSet<(String, String)> {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("src/web/admin");
    let mut out = BTreeSet::new();
    for entry in std::fs::read_dir(dir).unwrap() {
        let src = std::fs::read_to_string(entry.unwrap().path()).unwrap();
        let mut rest = src.as_str();
        while let Some(i) = rest.find(".route(") {
            rest = &rest[i + ".route(".len()..];
            let t = rest.trim_start();
            let Some(t) = t.strip_prefix('"') else {
                continue;
            };
            let Some(end) = t.find('"') else { continue };
            let path = &t[..end];
            let after = t[end + 1..]
                .trim_start()
                .trim_start_matches(',')
                .trim_start();
            let Some(m) = after.strip_prefix("web::") else {
                continue;
            };
            let method: String = m.chars().take_while(|c| c.is_ascii_alphabetic()).collect();
            if path.starts_with("/admin") || path.starts_with("/api") {
                out.insert((method, path.to_string()));
            }
        }
    }
    out
}

/// Routes outside the per-tenant and session rules, each tested on its own.
fn special(path: &str) -> bool {
    [
        "/admin/login",
        "/admin/logout",
        "/admin/set-password",
        "/admin/sso",
        "/admin/sso/complete",
        "/api/openapi.json",
    ]
    .contains(&path)
}

/// The ids the routes need, all belonging to `slug`'s tenant.
struct Ids {
    user: i64,
    cert: i64,
    group: String,
    token: i64,
}

fn concrete(path: &str, slug: &str, ids: &Ids) -> String {
    path.replace("{slug}", slug)
        .replace("{group}", &ids.group)
        .replace("{code}", "X6")
        .replace("{handle}", "0123456789abcdef")
        .replace(
            "{id}",
            &if path.contains("/certificates/") {
                ids.cert
            } else if path.contains("/scim-tokens/") {
                ids.token
            } else {
                ids.user
            }
            .to_string(),
        )
}

async fn seed(e: &crate::web::Env, slug: &str) -> Ids {
    let tid = add_tenant(&e.db, slug, "idp-metadata.xml", true).await;
    let u =
        e.db.create_user(
            tid,
            &format!("someone@{slug}.example"),
            "Some One",
            &["X2".into()],
            time(NOW),
        )
        .await
        .unwrap();
    let scim_id =
        e.db.user_summary(tid, u.id)
            .await
            .unwrap()
            .unwrap()
            .scim_id
            .unwrap();
    let group = sso_gateway::store::new_scim_id().unwrap();
    e.db.scim_insert_group(
        tid,
        &group,
        "Sales",
        None,
        &json!({"displayName": "Sales", "members": [{"value": scim_id}]}),
        &Actor::cli(),
        time(NOW),
    )
    .await
    .unwrap();
    let (token, _) = sso_gateway::web::scim::issue_token(&e.db, tid, "okta", time(NOW))
        .await
        .unwrap();
    Ids {
        user: u.id,
        cert: e.db.tenant_certificates(tid).await.unwrap()[0].id,
        group,
        token,
    }
}

#[actix_web::test]
async fn a_tenant_admin_reaches_no_other_tenant_by_any_route() {
    let e = env().await;
    let acme = seed(&e, "acme").await;
    let globex = seed(&e, "globex").await;
    let acme_id = e.db.tenant_by_slug("acme").await.unwrap().unwrap().id;
    let globex_id = e.db.tenant_by_slug("globex").await.unwrap().unwrap().id;
    add_admin(&e.db, ACME_ADMIN, AdminRole::TenantAdmin, Some(acme_id)).await;
    let svc = service(&e).await;
    let c = Console::login(&svc, ACME_ADMIN).await;
    let audit_before = e.db.audit_entries(globex_id, 1000).await.unwrap().len();
    let settings_before = e.db.tenant_by_slug("globex").await.unwrap().unwrap();

    let routes: Vec<_> = registered_routes()
        .into_iter()
        .filter(|(_, p)| p.contains("{slug}"))
        .collect();
    assert!(routes.len() >= 60, "{} tenant routes", routes.len());
    let body = json!({"license": "X6", "quantity": 5, "url": "https://idp.example/md", "certificate": "x",
                      "extension": "1042", "label": "x", "saml_response": "x", "login_mode": "password_only"});
    for (method, path) in &routes {
        for (slug, ids) in [("globex", &globex), ("initech", &globex), ("acme", &globex)] {
            // ("acme", globex ids): this tenant's URL with another tenant's objects.
            if slug == "acme" && !path.contains("{id}") && !path.contains("{group}") {
                continue;
            }
            if slug == "acme" && path.contains("/scim-tokens/") {
                continue; // token ids are checked by the tools test
            }
            let url = concrete(path, slug, ids);
            let got = if path.starts_with("/admin/api/") {
                c.api(&method.to_uppercase(), &url, Some(body.clone()))
                    .await
            } else if method == "get" {
                c.get(&url).await
            } else {
                c.post(
                    &url,
                    &[
                        ("license", "X6"),
                        ("quantity", "5"),
                        ("certificate", "x"),
                        ("label", "x"),
                    ],
                )
                .await
            };
            assert_eq!(
                got.status,
                StatusCode::NOT_FOUND,
                "{method} {url}: {}",
                got.text
            );
            if path.starts_with("/admin/api/") && !url.ends_with(".csv") {
                assert_eq!(
                    got.json()["error"],
                    "not_found",
                    "{method} {url}: {}",
                    got.text
                );
            }
        }
    }
    // Same answer for another tenant and for no tenant at all.
    assert_eq!(
        c.get("/admin/tenants/globex/users").await.text,
        c.get("/admin/tenants/initech/users").await.text
    );
    // Nothing changed at globex.
    assert_eq!(
        e.db.audit_entries(globex_id, 1000).await.unwrap().len(),
        audit_before
    );
    let after = e.db.tenant_by_slug("globex").await.unwrap().unwrap();
    assert_eq!(after.login_mode, settings_before.login_mode);
    assert_eq!(after.certificates, settings_before.certificates);
    assert_eq!(e.db.user_licenses(globex.user).await.unwrap().len(), 1);
    // The acme admin's own tenant works through the same routes.
    assert_eq!(
        c.get(&format!("/admin/tenants/acme/users/{}", acme.user))
            .await
            .status,
        StatusCode::OK
    );
    assert_eq!(
        c.api(
            "GET",
            &format!("/admin/api/tenants/acme/users/{}", acme.user),
            None
        )
        .await
        .status,
        StatusCode::OK
    );
}

#[actix_web::test]
async fn operator_only_actions_are_refused_to_tenant_admins() {
    let e = env().await;
    let acme = seed(&e, "acme").await;
    let _ = acme;
    let tid = e.db.tenant_by_slug("acme").await.unwrap().unwrap().id;
    add_admin(&e.db, ACME_ADMIN, AdminRole::TenantAdmin, Some(tid)).await;
    let svc = service(&e).await;
    let c = Console::login(&svc, ACME_ADMIN).await;
    let r = c
        .api(
            "PUT",
            "/admin/api/tenants/acme/licenses/X6",
            Some(json!({"quantity": 1000})),
        )
        .await;
    assert_eq!(
        (r.status, r.json()["error"].clone()),
        (StatusCode::FORBIDDEN, json!("operator_only"))
    );
    let r = c
        .post(
            "/admin/tenants/acme/licenses/X6/inventory",
            &[("quantity", "1000")],
        )
        .await;
    assert_eq!(r.status, StatusCode::FORBIDDEN);
    assert!(r.text.contains("Only operators"), "{}", r.text);
    let r = c
        .api(
            "POST",
            "/admin/api/tenants",
            Some(json!({"slug": "initech"})),
        )
        .await;
    assert_eq!(r.status, StatusCode::FORBIDDEN);
    let r = c.post("/admin/tenants", &[("slug", "initech")]).await;
    assert_eq!(r.status, StatusCode::FORBIDDEN);
    let r = c
        .api(
            "POST",
            "/admin/api/admins",
            Some(json!({"email": "evil@acme.example", "role": "operator"})),
        )
        .await;
    assert_eq!(r.status, StatusCode::FORBIDDEN);
    assert!(e.db.tenant_by_slug("initech").await.unwrap().is_none());
    assert!(
        e.db.admin_by_email("evil@acme.example")
            .await
            .unwrap()
            .is_none()
    );
    let inv = e.db.inventory(tid).await.unwrap();
    assert!(inv.iter().all(|l| l.quantity == 100), "unchanged");
    // The operator may.
    add_admin(&e.db, OPERATOR, AdminRole::Operator, None).await;
    let o = Console::login(&svc, OPERATOR).await;
    let r = o
        .api(
            "PUT",
            "/admin/api/tenants/acme/licenses/X6",
            Some(json!({"quantity": 7})),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    let r = o
        .api(
            "POST",
            "/admin/api/tenants",
            Some(
                json!({"slug": "initech", "name": "Initech", "email_domains": ["initech.example"]}),
            ),
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.text);
    assert_eq!(
        r.json()["acs_url"],
        "https://sso.example.test/saml/initech/acs"
    );
    let r = o
        .api(
            "POST",
            "/admin/api/tenants",
            Some(json!({"slug": "Bad Slug!"})),
        )
        .await;
    assert_eq!(
        (r.status, r.json()["error"].clone()),
        (StatusCode::BAD_REQUEST, json!("slug_invalid"))
    );
}

#[actix_web::test]
async fn every_state_changing_route_needs_the_csrf_token() {
    let e = env().await;
    let ids = seed(&e, "acme").await;
    let tid = e.db.tenant_by_slug("acme").await.unwrap().unwrap().id;
    add_admin(&e.db, OPERATOR, AdminRole::Operator, None).await;
    let svc = service(&e).await;
    let c = Console::login(&svc, OPERATOR).await;
    let audit_before = e.db.audit_entries(tid, 1000).await.unwrap().len();
    let writes: Vec<_> = registered_routes()
        .into_iter()
        .filter(|(m, p)| m != "get" && !special(p))
        .collect();
    assert!(writes.len() >= 45, "{} write routes", writes.len());
    let body = json!({"license": "X6", "quantity": 5, "extension": "1042", "label": "x", "slug": "newco",
                      "email": "new@acme.example", "login_mode": "password_only"});
    for (method, path) in &writes {
        let url = concrete(path, "acme", &ids);
        if path.starts_with("/admin/api/") {
            // The session cookie without the X-CSRF-Token header.
            let r = api_call(
                c.svc,
                &method.to_uppercase(),
                &url,
                Some(body.clone()),
                Some(&c.cookie),
                None,
                None,
            )
            .await;
            assert_eq!(
                r.status,
                StatusCode::FORBIDDEN,
                "{method} {url}: {}",
                r.text
            );
            assert_eq!(r.json()["error"], "csrf", "{method} {url}");
            // A wrong token.
            let r = api_call(
                c.svc,
                &method.to_uppercase(),
                &url,
                Some(body.clone()),
                Some(&c.cookie),
                Some("nope"),
                None,
            )
            .await;
            assert_eq!(
                r.status,
                StatusCode::FORBIDDEN,
                "{method} {url}: {}",
                r.text
            );
        } else {
            let r = c
                .post_raw(
                    &url,
                    &[("license", "X6"), ("quantity", "5"), ("slug", "newco")],
                )
                .await;
            assert_eq!(
                r.status,
                StatusCode::FORBIDDEN,
                "{method} {url}: {}",
                r.text
            );
            assert!(r.text.contains("Request refused"), "{url}");
            // The right token from a foreign page.
            let r = read_foreign(&c, &url).await;
            assert_eq!(r, StatusCode::FORBIDDEN, "{url} from a foreign Origin");
        }
    }
    assert_eq!(
        e.db.audit_entries(tid, 1000).await.unwrap().len(),
        audit_before,
        "nothing changed"
    );
    assert!(e.db.tenant_by_slug("newco").await.unwrap().is_none());
    assert_eq!(e.db.user_licenses(ids.user).await.unwrap().len(), 1);
}

async fn read_foreign<S>(c: &Console<'_, S>, url: &str) -> StatusCode
where
    S: actix_web::dev::Service<
            actix_http::Request,
            Response = actix_web::dev::ServiceResponse,
            Error = actix_web::Error,
        >,
{
    let r = actix_web::test::call_service(
        c.svc,
        actix_web::test::TestRequest::post()
            .uri(url)
            .insert_header(("Origin", "https://evil.example"))
            .cookie(c.cookie.clone())
            .set_form([("csrf", c.csrf.as_str()), ("license", "X6")])
            .to_request(),
    )
    .await;
    r.status()
}

#[actix_web::test]
async fn the_openapi_document_lists_exactly_the_api_routes() {
    let e = env().await;
    let svc = service(&e).await;
    let r = api_call(&svc, "GET", "/api/openapi.json", None, None, None, None).await;
    assert_eq!(r.status, StatusCode::OK);
    let doc = r.json();
    assert_eq!(doc["openapi"], "3.1.0");
    assert_eq!(doc["servers"][0]["url"], "https://sso.example.test");
    let mut documented = BTreeSet::new();
    for (path, ops) in doc["paths"].as_object().unwrap() {
        for (method, op) in ops.as_object().unwrap() {
            documented.insert((method.clone(), path.clone()));
            assert!(
                op["responses"].as_object().is_some_and(|r| !r.is_empty()),
                "{method} {path}"
            );
            // Every path parameter is declared.
            let declared: Vec<&str> = op["parameters"]
                .as_array()
                .unwrap()
                .iter()
                .map(|p| p["name"].as_str().unwrap())
                .collect();
            for seg in path.split('/').filter(|s| s.starts_with('{')) {
                assert!(
                    declared.contains(&seg.trim_matches(['{', '}'])),
                    "{method} {path}"
                );
            }
            if let Some(r) = op["requestBody"]["content"].as_object() {
                for (_, media) in r {
                    let name = media["schema"]["$ref"]
                        .as_str()
                        .unwrap()
                        .rsplit('/')
                        .next()
                        .unwrap();
                    assert!(doc["components"]["schemas"][name].is_object(), "{name}");
                }
            }
        }
    }
    let registered: BTreeSet<_> = registered_routes()
        .into_iter()
        .filter(|(_, p)| p.starts_with("/admin/api/"))
        .collect();
    let missing: Vec<_> = registered.difference(&documented).collect();
    let extra: Vec<_> = documented.difference(&registered).collect();
    assert!(
        missing.is_empty() && extra.is_empty(),
        "undocumented: {missing:?}; not registered: {extra:?}"
    );
    assert!(registered.len() >= 40, "{}", registered.len());
    let _ = Value::Null;
}
