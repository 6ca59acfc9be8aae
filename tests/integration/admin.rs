//! The Configuration Manager (first slice): admin login, lockout, sessions, CSRF, roles, and
//! the `admin create-operator` command.

use std::io::Write;
use std::process::{Command, Stdio};

use actix_web::cookie::{Cookie, SameSite};
use actix_web::dev::{Service, ServiceResponse};
use actix_web::http::StatusCode;
use actix_web::{App, test, web};
use serde_json::Value;
use sso_gateway::session::password::hash_password;
use sso_gateway::store::{AdminRole, Db};

use crate::common::{NOW, time};
use crate::web::{add_tenant, env};

pub(crate) const OPERATOR: &str = "ops@gateway.example";
pub(crate) const ACME_ADMIN: &str = "it@acme.example";
pub(crate) const PASSWORD: &str = "correct horse battery staple";

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

pub(crate) async fn add_admin(db: &Db, email: &str, role: AdminRole, tenant_id: Option<i64>) {
    let hash = hash_password(PASSWORD).unwrap();
    assert!(hash.starts_with("$argon2id$"), "{hash}");
    db.create_admin(email, &hash, role, tenant_id, time(NOW))
        .await
        .unwrap();
}

pub(crate) fn set_cookie(r: &ServiceResponse, name: &str) -> Option<Cookie<'static>> {
    r.response()
        .cookies()
        .find(|c| c.name() == name)
        .map(|c| c.into_owned())
}

pub(crate) fn location(r: &ServiceResponse) -> String {
    r.headers()
        .get("location")
        .map(|v| v.to_str().unwrap().to_string())
        .unwrap_or_default()
}

pub(crate) async fn body_text(r: ServiceResponse) -> String {
    String::from_utf8(test::read_body(r).await.to_vec()).unwrap()
}

/// The value of the hidden `csrf` field of a page.
pub(crate) fn csrf_field(html: &str) -> String {
    let at = html.find("name=\"csrf\" value=\"").unwrap() + "name=\"csrf\" value=\"".len();
    html[at..].split('"').next().unwrap().to_string()
}

/// GET the login form: the pre-session cookie and the form's token (they are equal).
pub(crate) async fn login_form<S>(svc: &S) -> (Cookie<'static>, String)
where
    S: Service<actix_http::Request, Response = ServiceResponse, Error = actix_web::Error>,
{
    let r = test::call_service(
        svc,
        test::TestRequest::get().uri("/admin/login").to_request(),
    )
    .await;
    assert_eq!(r.status(), StatusCode::OK);
    let pre = set_cookie(&r, "sso_admin_pre").unwrap();
    let token = csrf_field(&body_text(r).await);
    assert_eq!(pre.value(), token);
    (Cookie::new("sso_admin_pre", pre.value().to_string()), token)
}

/// Fill in and post the login form, with any extra cookies.
pub(crate) async fn login<S>(
    svc: &S,
    email: &str,
    password: &str,
    extra: &[Cookie<'static>],
) -> ServiceResponse
where
    S: Service<actix_http::Request, Response = ServiceResponse, Error = actix_web::Error>,
{
    let (pre, token) = login_form(svc).await;
    let mut req = test::TestRequest::post()
        .uri("/admin/login")
        .insert_header(("Origin", "https://sso.example.test"))
        .set_form([
            ("csrf", token.as_str()),
            ("email", email),
            ("password", password),
        ])
        .cookie(pre);
    for c in extra {
        req = req.cookie(c.clone());
    }
    test::call_service(svc, req.to_request()).await
}

/// Log in successfully; the session cookie as a browser would send it back.
pub(crate) async fn session<S>(svc: &S, email: &str) -> Cookie<'static>
where
    S: Service<actix_http::Request, Response = ServiceResponse, Error = actix_web::Error>,
{
    let r = login(svc, email, PASSWORD, &[]).await;
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    assert_eq!(location(&r), "/admin");
    Cookie::new(
        "sso_admin",
        set_cookie(&r, "sso_admin").unwrap().value().to_string(),
    )
}

pub(crate) async fn get<S>(svc: &S, uri: &str, cookie: Option<&Cookie<'static>>) -> ServiceResponse
where
    S: Service<actix_http::Request, Response = ServiceResponse, Error = actix_web::Error>,
{
    let mut req = test::TestRequest::get().uri(uri);
    if let Some(c) = cookie {
        req = req.cookie(c.clone());
    }
    test::call_service(svc, req.to_request()).await
}

pub(crate) async fn json_of(r: ServiceResponse) -> Value {
    serde_json::from_slice(&test::read_body(r).await).unwrap()
}

#[actix_web::test]
async fn operator_logs_in_and_sees_every_tenant() {
    let e = env().await;
    let acme = add_tenant(&e.db, "acme", "idp-metadata.xml", true).await;
    add_tenant(&e.db, "globex", "idp-metadata.xml", true).await;
    e.db.create_user(acme, "jane@acme.example", "Jane", &[], time(NOW))
        .await
        .unwrap();
    add_admin(&e.db, OPERATOR, AdminRole::Operator, None).await;
    let svc = service!(e);

    // Without a session: the form, and 401 JSON from the API.
    let r = get(&svc, "/admin", None).await;
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    assert_eq!(location(&r), "/admin/login");
    let r = get(&svc, "/admin/api/tenants", None).await;
    assert_eq!(r.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(json_of(r).await["error"], "unauthorized");

    // The email is case-insensitive.
    let r = login(&svc, "OPS@Gateway.example", PASSWORD, &[]).await;
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    let c = Cookie::new(
        "sso_admin",
        set_cookie(&r, "sso_admin").unwrap().value().to_string(),
    );
    let r = get(&svc, "/admin", Some(&c)).await;
    assert_eq!(r.status(), StatusCode::OK);
    let csp = r.headers().get("content-security-policy").unwrap();
    assert!(csp.to_str().unwrap().contains("script-src 'self'"));
    let html = body_text(r).await;
    assert!(html.contains("/admin/tenants/acme"), "{html}");
    assert!(html.contains("/admin/tenants/globex"), "{html}");
    // Scripts only from files (the CSP forbids inline ones).
    assert!(
        html.match_indices("<script")
            .all(|(i, _)| html[i..].starts_with("<script src=\"/static/")),
        "{html}"
    );

    let r = get(&svc, "/admin/api/tenants", Some(&c)).await;
    assert_eq!(r.status(), StatusCode::OK);
    let v = json_of(r).await;
    let tenants = v["tenants"].as_array().unwrap();
    assert_eq!(tenants.len(), 2);
    assert_eq!(tenants[0]["slug"], "acme");
    assert_eq!(tenants[0]["users"], 1);
    assert_eq!(tenants[1]["users"], 0);

    let r = get(&svc, "/admin/tenants/globex", Some(&c)).await;
    assert_eq!(r.status(), StatusCode::OK);
    let html = body_text(r).await;
    assert!(
        html.contains("https://sso.example.test/saml/globex/acs"),
        "{html}"
    );
}

#[actix_web::test]
async fn tenant_admin_sees_only_its_tenant() {
    let e = env().await;
    let acme = add_tenant(&e.db, "acme", "idp-metadata.xml", true).await;
    let globex = add_tenant(&e.db, "globex", "idp-metadata.xml", true).await;
    add_admin(&e.db, ACME_ADMIN, AdminRole::TenantAdmin, Some(acme)).await;
    for (tid, inc) in [(acme, "INC-ACME000001"), (globex, "INC-GLOBEX0001")] {
        e.db.record_event(
            Some(tid),
            Some(inc),
            "login",
            "refused",
            Some("someone@example"),
            "unknown_user",
            time(NOW),
        )
        .await
        .unwrap();
    }
    let svc = service!(e);
    let c = session(&svc, ACME_ADMIN).await;

    let html = body_text(get(&svc, "/admin", Some(&c)).await).await;
    assert!(html.contains("/admin/tenants/acme"), "{html}");
    assert!(!html.contains("globex"), "{html}");

    let r = get(&svc, "/admin/tenants/acme", Some(&c)).await;
    assert_eq!(r.status(), StatusCode::OK);
    let html = body_text(r).await;
    for s in [
        "https://sso.example.test/saml/acme/metadata",
        "https://sso.example.test/saml/acme/acs",
        "INC-ACME000001",
    ] {
        assert!(html.contains(s), "{s}: {html}");
    }
    assert!(!html.contains("INC-GLOBEX0001"), "{html}");
    // The diagnostics tab has the details.
    let html = body_text(get(&svc, "/admin/tenants/acme/diagnostics", Some(&c)).await).await;
    assert!(
        html.contains("INC-ACME000001") && html.contains("unknown_user"),
        "{html}"
    );
    assert!(!html.contains("INC-GLOBEX0001"), "{html}");

    // Another tenant and a tenant that does not exist look the same.
    let other = get(&svc, "/admin/tenants/globex", Some(&c)).await;
    assert_eq!(other.status(), StatusCode::NOT_FOUND);
    let other = body_text(other).await;
    let missing = get(&svc, "/admin/tenants/initech", Some(&c)).await;
    assert_eq!(missing.status(), StatusCode::NOT_FOUND);
    assert_eq!(other, body_text(missing).await);

    let v = json_of(get(&svc, "/admin/api/tenants", Some(&c)).await).await;
    let tenants = v["tenants"].as_array().unwrap();
    assert_eq!(tenants.len(), 1);
    assert_eq!(tenants[0]["slug"], "acme");
    let r = get(&svc, "/admin/api/tenants/acme", Some(&c)).await;
    assert_eq!(r.status(), StatusCode::OK);
    let v = json_of(r).await;
    assert_eq!(v["acs_url"], "https://sso.example.test/saml/acme/acs");
    assert_eq!(v["certificates"], 1);
    assert_eq!(
        v["recent_failed_sign_ins"][0]["incident_id"],
        "INC-ACME000001"
    );
    let r = get(&svc, "/admin/api/tenants/globex", Some(&c)).await;
    assert_eq!(r.status(), StatusCode::NOT_FOUND);
    assert_eq!(json_of(r).await["error"], "not_found");
    let r = get(&svc, "/admin/api/tenants/globex", None).await;
    assert_eq!(r.status(), StatusCode::UNAUTHORIZED);
}

#[actix_web::test]
async fn five_wrong_passwords_lock_the_account_for_fifteen_minutes() {
    let e = env().await;
    add_admin(&e.db, OPERATOR, AdminRole::Operator, None).await;
    let svc = service!(e);
    for _ in 0..4 {
        let r = login(&svc, OPERATOR, "wrong password 123", &[]).await;
        assert_eq!(r.status(), StatusCode::UNAUTHORIZED);
        assert!(
            body_text(r)
                .await
                .contains("The email or password is incorrect.")
        );
    }
    let r = login(&svc, OPERATOR, "wrong password 123", &[]).await;
    assert_eq!(r.status(), StatusCode::LOCKED);
    let html = body_text(r).await;
    assert!(html.contains("locked"), "{html}");
    assert!(html.contains("until 2026-06-01 12:16 UTC"), "{html}");

    // The right password is refused while locked.
    let r = login(&svc, OPERATOR, PASSWORD, &[]).await;
    assert_eq!(r.status(), StatusCode::LOCKED);
    assert!(set_cookie(&r, "sso_admin").is_none());
    e.clock.advance(chrono::Duration::minutes(14));
    assert_eq!(
        login(&svc, OPERATOR, PASSWORD, &[]).await.status(),
        StatusCode::LOCKED
    );

    e.clock.advance(chrono::Duration::minutes(2));
    let r = login(&svc, OPERATOR, PASSWORD, &[]).await;
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    // A success resets the count: four more failures do not lock.
    for _ in 0..4 {
        let r = login(&svc, OPERATOR, "wrong password 123", &[]).await;
        assert_eq!(r.status(), StatusCode::UNAUTHORIZED);
    }
}

#[actix_web::test]
async fn unknown_email_and_wrong_password_look_the_same() {
    let e = env().await;
    add_admin(&e.db, OPERATOR, AdminRole::Operator, None).await;
    let svc = service!(e);
    let (pre, token) = login_form(&svc).await;
    let attempt = |email: &'static str| {
        test::TestRequest::post()
            .uri("/admin/login")
            .set_form([
                ("csrf", token.as_str()),
                ("email", email),
                ("password", "not the password"),
            ])
            .cookie(pre.clone())
            .to_request()
    };
    let wrong = test::call_service(&svc, attempt(OPERATOR)).await;
    let unknown = test::call_service(&svc, attempt("nobody@gateway.example")).await;
    assert_eq!(wrong.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(unknown.status(), wrong.status());
    let (wrong, unknown) = (body_text(wrong).await, body_text(unknown).await);
    assert!(
        wrong.contains("The email or password is incorrect."),
        "{wrong}"
    );
    assert_eq!(
        wrong.replace(OPERATOR, "EMAIL"),
        unknown.replace("nobody@gateway.example", "EMAIL")
    );
}

#[actix_web::test]
async fn admin_cookie_flags_and_a_new_session_id_at_each_login() {
    let e = env().await;
    add_admin(&e.db, OPERATOR, AdminRole::Operator, None).await;
    let svc = service!(e);
    let r = login(&svc, OPERATOR, PASSWORD, &[]).await;
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    for name in ["sso_admin", "sso_admin_pre"] {
        let c = set_cookie(&r, name).unwrap();
        assert_eq!(c.http_only(), Some(true), "{name}");
        assert_eq!(c.secure(), Some(true), "{name}");
        assert_eq!(c.same_site(), Some(SameSite::Strict), "{name}");
        assert_eq!(c.path(), Some("/admin"), "{name}");
    }
    let raw = r
        .headers()
        .get_all("set-cookie")
        .map(|v| v.to_str().unwrap().to_string())
        .find(|v| v.starts_with("sso_admin="))
        .unwrap();
    for flag in ["HttpOnly", "Secure", "SameSite=Strict", "Path=/admin"] {
        assert!(raw.contains(flag), "{raw}");
    }
    let first = Cookie::new(
        "sso_admin",
        set_cookie(&r, "sso_admin").unwrap().value().to_string(),
    );

    // Logging in again (with the old cookie) gives a new id and ends the old session.
    let r = login(&svc, OPERATOR, PASSWORD, std::slice::from_ref(&first)).await;
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    let second = Cookie::new(
        "sso_admin",
        set_cookie(&r, "sso_admin").unwrap().value().to_string(),
    );
    assert_ne!(first.value(), second.value());
    assert_eq!(
        get(&svc, "/admin", Some(&first)).await.status(),
        StatusCode::SEE_OTHER
    );
    assert_eq!(
        get(&svc, "/admin", Some(&second)).await.status(),
        StatusCode::OK
    );

    // Idle timeout: 30 minutes without use.
    e.clock.advance(chrono::Duration::minutes(29));
    assert_eq!(
        get(&svc, "/admin", Some(&second)).await.status(),
        StatusCode::OK
    );
    e.clock.advance(chrono::Duration::minutes(31));
    assert_eq!(
        get(&svc, "/admin", Some(&second)).await.status(),
        StatusCode::SEE_OTHER
    );
}

#[actix_web::test]
async fn posts_without_the_right_csrf_token_are_refused() {
    let e = env().await;
    add_admin(&e.db, OPERATOR, AdminRole::Operator, None).await;
    let svc = service!(e);

    // Login: no pre-session cookie, or a token that does not match it.
    let (pre, token) = login_form(&svc).await;
    let form = |csrf: &str| {
        vec![
            ("csrf".to_string(), csrf.to_string()),
            ("email".to_string(), OPERATOR.to_string()),
            ("password".to_string(), PASSWORD.to_string()),
        ]
    };
    let r = test::TestRequest::post()
        .uri("/admin/login")
        .set_form(form(&token))
        .to_request();
    assert_eq!(
        test::call_service(&svc, r).await.status(),
        StatusCode::FORBIDDEN
    );
    for bad in ["", "forged-token"] {
        let r = test::TestRequest::post()
            .uri("/admin/login")
            .set_form(form(bad))
            .cookie(pre.clone())
            .to_request();
        assert_eq!(
            test::call_service(&svc, r).await.status(),
            StatusCode::FORBIDDEN
        );
    }
    let r = test::TestRequest::post()
        .uri("/admin/login")
        .insert_header(("Origin", "https://evil.example"))
        .set_form(form(&token))
        .cookie(pre.clone())
        .to_request();
    assert_eq!(
        test::call_service(&svc, r).await.status(),
        StatusCode::FORBIDDEN
    );

    // Logout: the session's token is required, by form field or header.
    let c = session(&svc, OPERATOR).await;
    let csrf = csrf_field(&body_text(get(&svc, "/admin", Some(&c)).await).await);
    let logout = |fields: Vec<(&'static str, String)>| {
        test::TestRequest::post()
            .uri("/admin/logout")
            .set_form(fields)
            .cookie(c.clone())
    };
    for r in [
        logout(vec![]),
        logout(vec![("csrf", "wrong".into())]),
        logout(vec![("csrf", token.clone())]),
        logout(vec![("csrf", csrf.clone())]).insert_header(("Origin", "https://evil.example")),
        logout(vec![]).insert_header(("X-CSRF-Token", "wrong")),
    ] {
        let r = test::call_service(&svc, r.to_request()).await;
        assert_eq!(r.status(), StatusCode::FORBIDDEN);
        assert!(body_text(r).await.contains("Request refused"));
    }
    assert_eq!(get(&svc, "/admin", Some(&c)).await.status(), StatusCode::OK);
    let r = logout(vec![])
        .insert_header(("X-CSRF-Token", csrf.clone()))
        .insert_header(("Origin", "https://sso.example.test"))
        .to_request();
    let r = test::call_service(&svc, r).await;
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    assert_eq!(location(&r), "/admin/login");
    assert_eq!(set_cookie(&r, "sso_admin").unwrap().value(), "");
    assert_eq!(
        get(&svc, "/admin", Some(&c)).await.status(),
        StatusCode::SEE_OTHER
    );
}

fn cli(
    db: &str,
    args: &[&str],
    env_password: Option<&str>,
    stdin: Option<&str>,
) -> std::process::Output {
    let mut c = Command::new(env!("CARGO_BIN_EXE_sso-gateway"));
    c.current_dir(crate::common::fixtures_dir())
        .args(["admin", "--database", db])
        .args(args)
        .env_remove("SSO_GATEWAY_ADMIN_PASSWORD")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    if let Some(p) = env_password {
        c.env("SSO_GATEWAY_ADMIN_PASSWORD", p);
    }
    let mut child = c.spawn().unwrap();
    let mut input = child.stdin.take().unwrap();
    input.write_all(stdin.unwrap_or("").as_bytes()).unwrap();
    drop(input);
    child.wait_with_output().unwrap()
}

#[actix_web::test]
async fn create_operator_and_tenant_admin_commands() {
    let dir = std::env::temp_dir().join(format!("sso-gw-admins-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let db = format!("sqlite://{}/gw.db", dir.display());

    let o = cli(
        &db,
        &["create-operator", "--email", OPERATOR],
        Some(PASSWORD),
        None,
    );
    assert_eq!(
        o.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );
    // Too short, from stdin.
    let o = cli(
        &db,
        &["create-operator", "--email", "b@gateway.example"],
        None,
        Some("short\n"),
    );
    assert_eq!(o.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&o.stderr).contains("at least 12"));
    // The same email in another case is a duplicate.
    let o = cli(
        &db,
        &["create-operator", "--email", "OPS@gateway.example"],
        Some(PASSWORD),
        None,
    );
    assert_eq!(o.status.code(), Some(2));
    // No password flag exists.
    let o = cli(
        &db,
        &[
            "create-operator",
            "--email",
            "c@gateway.example",
            "--password",
            PASSWORD,
        ],
        None,
        None,
    );
    assert_eq!(o.status.code(), Some(2));
    // A tenant admin needs an existing tenant; the password may come from stdin.
    let o = cli(
        &db,
        &[
            "create-tenant-admin",
            "--tenant",
            "acme",
            "--email",
            ACME_ADMIN,
        ],
        None,
        Some(&format!("{PASSWORD}\n")),
    );
    assert_eq!(o.status.code(), Some(2));
    let o = cli(
        &db,
        &[
            "tenant",
            "create",
            "acme",
            "--idp-metadata",
            "idp-metadata.xml",
        ],
        None,
        None,
    );
    assert_eq!(
        o.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );
    let o = cli(
        &db,
        &[
            "create-tenant-admin",
            "--tenant",
            "acme",
            "--email",
            ACME_ADMIN,
        ],
        None,
        Some(&format!("{PASSWORD}\n")),
    );
    assert_eq!(
        o.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );

    let store = Db::connect(&db).await.unwrap();
    let op = store.admin_by_email(OPERATOR).await.unwrap().unwrap();
    assert_eq!(op.role, AdminRole::Operator);
    assert_eq!(op.tenant_id, None);
    assert!(
        op.password_hash.expose().starts_with("$argon2id$v=19$"),
        "{}",
        op.password_hash.expose()
    );
    assert!(sso_gateway::session::password::verify_password(
        PASSWORD,
        op.password_hash.expose()
    ));
    assert!(
        store
            .admin_by_email("b@gateway.example")
            .await
            .unwrap()
            .is_none()
    );
    let ta = store.admin_by_email(ACME_ADMIN).await.unwrap().unwrap();
    assert_eq!(ta.role, AdminRole::TenantAdmin);
    assert!(sso_gateway::session::password::verify_password(
        PASSWORD,
        ta.password_hash.expose()
    ));
    let _ = std::fs::remove_dir_all(&dir);
}
