//! Console accounts and sign-in policy: admin API tokens (act as their admin, no CSRF,
//! revocable, cannot mint tokens), invitations with a one-time set-password link, tenant
//! admins signing in through their own SSO (with the password login kept as break-glass),
//! the staged SSO rollout, and the settings, Okta setup and overview pages.

use actix_web::cookie::Cookie;
use actix_web::http::StatusCode;
use actix_web::test;
use serde_json::json;
use sso_gateway::store::{AdminRole, RequestPurpose, token_hash};

use crate::admin::{ACME_ADMIN, OPERATOR, PASSWORD, add_admin, csrf_field, login, set_cookie};
use crate::common::{NOW, REQUEST_ID, time};
use crate::console_util::{Console, api_call, read, service};
use crate::web::{JANE, add_tenant, env, outstanding, post_acs};

#[actix_web::test]
async fn admin_api_tokens_act_as_their_admin() {
    let e = env().await;
    let acme = add_tenant(&e.db, "acme", "idp-metadata.xml", true).await;
    add_tenant(&e.db, "globex", "idp-metadata.xml", true).await;
    add_admin(&e.db, ACME_ADMIN, AdminRole::TenantAdmin, Some(acme)).await;
    let svc = service(&e).await;
    let c = Console::login(&svc, ACME_ADMIN).await;
    let r = c
        .post(
            "/admin/api-tokens",
            &[("label", "nightly report"), ("days", "90")],
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.text);
    let at = r.text.find("sgw_adm_").unwrap();
    let token: String = r.text[at..]
        .chars()
        .take_while(|c| c.is_ascii_alphanumeric() || *c == '_' || *c == '-')
        .collect();
    assert!(token.len() > 40, "{token}");
    // The token works without cookie or CSRF, with the admin's role.
    let r = api_call(
        &svc,
        "GET",
        "/admin/api/tenants",
        None,
        None,
        None,
        Some(&token),
    )
    .await;
    assert_eq!(r.status, StatusCode::OK);
    assert_eq!(r.json()["tenants"].as_array().unwrap().len(), 1);
    let r = api_call(
        &svc,
        "GET",
        "/admin/api/tenants/globex",
        None,
        None,
        None,
        Some(&token),
    )
    .await;
    assert_eq!(r.status, StatusCode::NOT_FOUND);
    let r = api_call(
        &svc,
        "PATCH",
        "/admin/api/tenants/acme/settings",
        Some(json!({"allow_idp_initiated": false})),
        None,
        None,
        Some(&token),
    )
    .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    let me = api_call(&svc, "GET", "/admin/api/me", None, None, None, Some(&token))
        .await
        .json();
    assert_eq!(
        (me["via"].clone(), me["csrf_token"].clone()),
        (json!("api_token"), json!(null))
    );
    // Audited as the token.
    let a = e.db.audit_entries(acme, 5).await.unwrap();
    assert!(
        a[0].actor.starts_with("api-token:sgw_adm_")
            && a[0].actor.ends_with(&format!("({ACME_ADMIN})")),
        "{:?}",
        a[0]
    );
    // A token cannot create tokens; the list shows it (prefix only).
    let r = api_call(
        &svc,
        "POST",
        "/admin/api/api-tokens",
        Some(json!({"label": "x"})),
        None,
        None,
        Some(&token),
    )
    .await;
    assert_eq!(
        (r.status, r.json()["error"].clone()),
        (StatusCode::FORBIDDEN, json!("session_required"))
    );
    let list = api_call(
        &svc,
        "GET",
        "/admin/api/api-tokens",
        None,
        None,
        None,
        Some(&token),
    )
    .await
    .json();
    let t0 = &list["tokens"][0];
    assert_eq!(t0["label"], "nightly report");
    assert!(
        !list.to_string().contains(&token),
        "the secret is never listed"
    );
    assert!(
        t0["expires_at"].as_str().unwrap().starts_with("2026-08-30"),
        "{t0}"
    );
    // Wrong, unknown-prefix and revoked tokens: 401.
    for bad in ["sgw_adm_nope", "scim_something", ""] {
        let r = api_call(
            &svc,
            "GET",
            "/admin/api/tenants",
            None,
            None,
            None,
            Some(bad),
        )
        .await;
        assert_eq!(r.status, StatusCode::UNAUTHORIZED, "{bad}");
    }
    let id = t0["id"].as_i64().unwrap();
    let r = api_call(
        &svc,
        "DELETE",
        &format!("/admin/api/api-tokens/{id}"),
        None,
        None,
        None,
        Some(&token),
    )
    .await;
    assert_eq!(r.status, StatusCode::NO_CONTENT);
    let r = api_call(
        &svc,
        "GET",
        "/admin/api/tenants",
        None,
        None,
        None,
        Some(&token),
    )
    .await;
    assert_eq!(r.status, StatusCode::UNAUTHORIZED);
    // Expired tokens stop working.
    let r = c
        .api(
            "POST",
            "/admin/api/api-tokens",
            Some(json!({"label": "short", "days": 1})),
        )
        .await;
    let short = r.json()["token"].as_str().unwrap().to_string();
    e.clock.advance(chrono::Duration::days(2));
    let r = api_call(
        &svc,
        "GET",
        "/admin/api/tenants",
        None,
        None,
        None,
        Some(&short),
    )
    .await;
    assert_eq!(r.status, StatusCode::UNAUTHORIZED);
}

#[actix_web::test]
async fn an_invited_admin_sets_a_password_once_and_signs_in() {
    let e = env().await;
    let acme = add_tenant(&e.db, "acme", "idp-metadata.xml", true).await;
    add_admin(&e.db, ACME_ADMIN, AdminRole::TenantAdmin, Some(acme)).await;
    let svc = service(&e).await;
    let c = Console::login(&svc, ACME_ADMIN).await;
    let r = c
        .post("/admin/admins", &[("email", "new.admin@acme.example")])
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    let at = r
        .text
        .find("https://sso.example.test/admin/set-password?ticket=")
        .unwrap();
    let link: String = r.text[at..]
        .chars()
        .take_while(|c| !c.is_whitespace() && *c != '<' && *c != '"')
        .collect();
    let path = link.trim_start_matches("https://sso.example.test");
    // Invited: listed as such, and no password works yet.
    let v = c.api("GET", "/admin/api/admins", None).await.json();
    let invited = v["admins"]
        .as_array()
        .unwrap()
        .iter()
        .find(|a| a["email"] == "new.admin@acme.example")
        .unwrap()
        .clone();
    assert_eq!(
        (
            invited["pending"].clone(),
            invited["tenant"].clone(),
            invited["role"].clone()
        ),
        (json!(true), json!("acme"), json!("tenant_admin"))
    );
    assert_eq!(
        login(&svc, "new.admin@acme.example", "!invited", &[])
            .await
            .status(),
        StatusCode::UNAUTHORIZED
    );
    // The set-password form (pre-session CSRF like the login form).
    let form = test::call_service(&svc, test::TestRequest::get().uri(path).to_request()).await;
    assert_eq!(form.status(), StatusCode::OK);
    let pre = set_cookie(&form, "sso_admin_pre").unwrap();
    let page = read(form).await.text;
    let csrf = csrf_field(&page);
    let ticket = path.split("ticket=").nth(1).unwrap().to_string();
    let post = |pw: &str, again: &str| {
        test::TestRequest::post()
            .uri("/admin/set-password")
            .insert_header(("Origin", "https://sso.example.test"))
            .cookie(Cookie::new("sso_admin_pre", pre.value().to_string()))
            .set_form([
                ("csrf", csrf.as_str()),
                ("ticket", ticket.as_str()),
                ("password", pw),
                ("password_again", again),
            ])
            .to_request()
    };
    let r = read(test::call_service(&svc, post("short", "short")).await).await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
    assert!(r.text.contains("at least 12 characters"), "{}", r.text);
    let r = read(test::call_service(&svc, post(PASSWORD, "something else entirely")).await).await;
    assert!(r.text.contains("The two passwords differ"));
    let r = test::call_service(&svc, post(PASSWORD, PASSWORD)).await;
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    // Once only.
    let r = read(test::call_service(&svc, post(PASSWORD, PASSWORD)).await).await;
    assert_eq!(r.status, StatusCode::GONE);
    let r = test::call_service(&svc, test::TestRequest::get().uri(path).to_request()).await;
    assert_eq!(r.status(), StatusCode::GONE);
    // Signs in, sees acme only.
    let n = Console::login(&svc, "new.admin@acme.example").await;
    let v = n.api("GET", "/admin/api/tenants", None).await.json();
    assert_eq!(v["tenants"][0]["slug"], "acme");
    // Cannot remove themselves; the other admin can remove them; removed admins cannot sign in.
    let me_id =
        e.db.admin_by_email("new.admin@acme.example")
            .await
            .unwrap()
            .unwrap()
            .id;
    let r = n
        .api("DELETE", &format!("/admin/api/admins/{me_id}"), None)
        .await;
    assert_eq!(r.json()["error"], "cannot_remove_self");
    let r = c
        .api("DELETE", &format!("/admin/api/admins/{me_id}"), None)
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    assert_eq!(
        n.api("GET", "/admin/api/tenants", None).await.status,
        StatusCode::UNAUTHORIZED,
        "session ended"
    );
    // A tenant admin cannot see or manage operators.
    add_admin(&e.db, OPERATOR, AdminRole::Operator, None).await;
    let op_id = e.db.admin_by_email(OPERATOR).await.unwrap().unwrap().id;
    let v = c.api("GET", "/admin/api/admins", None).await.json();
    assert!(
        v["admins"]
            .as_array()
            .unwrap()
            .iter()
            .all(|a| a["role"] != "operator")
    );
    assert_eq!(
        c.api("POST", &format!("/admin/api/admins/{op_id}/unlock"), None)
            .await
            .status,
        StatusCode::NOT_FOUND
    );
    assert_eq!(
        c.api("DELETE", &format!("/admin/api/admins/{op_id}"), None)
            .await
            .status,
        StatusCode::NOT_FOUND
    );
    // The last operator cannot be removed (by another operator either).
    add_admin(&e.db, "ops2@gateway.example", AdminRole::Operator, None).await;
    let o = Console::login(&svc, OPERATOR).await;
    let ops2 =
        e.db.admin_by_email("ops2@gateway.example")
            .await
            .unwrap()
            .unwrap()
            .id;
    assert_eq!(
        o.api("DELETE", &format!("/admin/api/admins/{ops2}"), None)
            .await
            .status,
        StatusCode::OK
    );
    let audit: Vec<String> =
        e.db.audit_entries(acme, 20)
            .await
            .unwrap()
            .into_iter()
            .map(|a| a.action)
            .collect();
    for a in ["admin.invite", "admin.password_set", "admin.remove"] {
        assert!(audit.iter().any(|x| x == a), "{a}: {audit:?}");
    }
}

#[actix_web::test]
async fn a_locked_admin_is_unlocked_and_gets_a_new_password_link() {
    let e = env().await;
    let acme = add_tenant(&e.db, "acme", "idp-metadata.xml", true).await;
    add_admin(&e.db, ACME_ADMIN, AdminRole::TenantAdmin, Some(acme)).await;
    add_admin(
        &e.db,
        "second@acme.example",
        AdminRole::TenantAdmin,
        Some(acme),
    )
    .await;
    let svc = service(&e).await;
    for _ in 0..5 {
        login(&svc, "second@acme.example", "wrong password here", &[]).await;
    }
    assert_eq!(
        login(&svc, "second@acme.example", PASSWORD, &[])
            .await
            .status(),
        StatusCode::LOCKED
    );
    let c = Console::login(&svc, ACME_ADMIN).await;
    let id =
        e.db.admin_by_email("second@acme.example")
            .await
            .unwrap()
            .unwrap()
            .id;
    let page = c.get("/admin/admins").await.text;
    assert!(page.contains("locked until"), "{page}");
    let r = c.post(&format!("/admin/admins/{id}/unlock"), &[]).await;
    assert_eq!(r.status, StatusCode::OK);
    assert_eq!(
        login(&svc, "second@acme.example", PASSWORD, &[])
            .await
            .status(),
        StatusCode::SEE_OTHER
    );
    let r = c
        .api(
            "POST",
            &format!("/admin/api/admins/{id}/password-link"),
            None,
        )
        .await;
    assert!(
        r.json()["set_password_link"]
            .as_str()
            .unwrap()
            .contains("/admin/set-password?ticket=")
    );
}

/// An outstanding console sign-in for the fixtures' request ID.
async fn admin_request(e: &crate::web::Env, tenant_id: i64) -> (String, Cookie<'static>) {
    let relay = "admin-relay-token-0123456789".to_string();
    let binding = "admin-binding-0123456789".to_string();
    let rh = token_hash(&relay);
    e.db.save_authn_request(
        &rh,
        tenant_id,
        REQUEST_ID,
        "/admin",
        &token_hash(&binding),
        time(NOW) + chrono::Duration::minutes(10),
        RequestPurpose::Admin,
    )
    .await
    .unwrap();
    (relay, Cookie::new(format!("sso_rb_{}", &rh[..16]), binding))
}

#[actix_web::test]
async fn a_tenant_admin_signs_in_through_the_tenants_sso() {
    let e = env().await;
    let acme = add_tenant(&e.db, "acme", "idp-metadata.xml", false).await;
    // Jane (the fixtures' NameID) is an admin of acme, with a password too (break-glass).
    add_admin(&e.db, JANE, AdminRole::TenantAdmin, Some(acme)).await;
    let svc = service(&e).await;

    // Console SSO is off by default.
    let start = |org: &str| {
        test::TestRequest::post()
            .uri("/admin/sso")
            .insert_header(("Origin", "https://sso.example.test"))
            .set_form([("org", org)])
            .to_request()
    };
    let r = read(test::call_service(&svc, start("acme")).await).await;
    assert_eq!(r.status, StatusCode::FORBIDDEN);
    assert!(r.text.contains("not enabled"), "{}", r.text);
    let (relay, binding) = admin_request(&e, acme).await;
    let r = read(
        post_acs(
            &svc,
            "acme",
            "responses/okta-both-signed.xml",
            Some(&relay),
            &[binding],
        )
        .await,
    )
    .await;
    assert_eq!(r.status, StatusCode::FORBIDDEN, "{}", r.text);

    // Turned on by an admin.
    let c = Console::login(&svc, JANE).await;
    let r = c
        .post(
            "/admin/tenants/acme/settings",
            &[
                ("admin_sso", "true"),
                ("login_mode", "sso_and_password"),
                ("allow_idp_initiated", "true"),
            ],
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    let r = test::call_service(&svc, start("acme")).await;
    assert_eq!(r.status(), StatusCode::FOUND);
    let to = r.headers().get("location").unwrap().to_str().unwrap();
    assert!(
        to.starts_with(
            "https://acme.okta.example/app/8x8inc/exk1fxtr9ZQ8bW3aK5d7/sso/saml?SAMLRequest="
        ),
        "{to}"
    );
    let r = read(test::call_service(&svc, start("nosuchorg")).await).await;
    assert_eq!(r.status, StatusCode::NOT_FOUND);

    // The IdP answers: a page moves the browser on to a one-time completion URL.
    let fresh = crate::web::minted_for(&e, "acme", JANE, true).await;
    let (relay, binding) = admin_request_with(&e, acme, &fresh.1).await;
    let r = crate::web::post_acs_body(&svc, "acme", &fresh.0, Some(&relay), &[binding]).await;
    assert_eq!(r.status(), StatusCode::OK);
    let ticket_cookie = set_cookie(&r, "sso_admin_sso").unwrap();
    assert_eq!(
        (ticket_cookie.path(), ticket_cookie.http_only()),
        (Some("/admin/sso"), Some(true))
    );
    assert!(
        r.response().cookies().all(|c| c.name() != "sso_admin"),
        "no console session on the cross-site POST"
    );
    let page = read(r).await.text;
    let at = page.find("/admin/sso/complete?ticket=").unwrap();
    let url: String = page[at..].chars().take_while(|c| *c != '"').collect();
    assert!(page.contains("http-equiv=\"refresh\""));
    // Without the browser's ticket cookie: refused (and the ticket is spent).
    let r =
        read(test::call_service(&svc, test::TestRequest::get().uri(&url).to_request()).await).await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
    assert!(
        r.text.contains("did not finish in the browser"),
        "{}",
        r.text
    );
    // Again, properly.
    let fresh = crate::web::minted_for(&e, "acme", JANE, true).await;
    let (relay, binding) = admin_request_with(&e, acme, fresh.1.as_str()).await;
    let r = crate::web::post_acs_body(&svc, "acme", &fresh.0, Some(&relay), &[binding]).await;
    assert_eq!(r.status(), StatusCode::OK);
    let ticket_cookie = set_cookie(&r, "sso_admin_sso").unwrap();
    let page = read(r).await.text;
    let at = page.find("/admin/sso/complete?ticket=").unwrap();
    let url: String = page[at..].chars().take_while(|c| *c != '"').collect();
    let r = test::call_service(
        &svc,
        test::TestRequest::get()
            .uri(&url)
            .cookie(Cookie::new(
                "sso_admin_sso",
                ticket_cookie.value().to_string(),
            ))
            .to_request(),
    )
    .await;
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    assert_eq!(r.headers().get("location").unwrap(), "/admin");
    let session = Cookie::new(
        "sso_admin",
        set_cookie(&r, "sso_admin").unwrap().value().to_string(),
    );
    let r = api_call(
        &svc,
        "GET",
        "/admin/api/me",
        None,
        Some(&session),
        None,
        None,
    )
    .await;
    assert_eq!(r.json()["email"], JANE);
    // The ticket works once.
    let r = test::call_service(
        &svc,
        test::TestRequest::get()
            .uri(&url)
            .cookie(Cookie::new(
                "sso_admin_sso",
                ticket_cookie.value().to_string(),
            ))
            .to_request(),
    )
    .await;
    assert_eq!(r.status(), StatusCode::BAD_REQUEST);
    // Recorded for diagnostics; the password login still works (break-glass).
    let ev = e.db.sign_in_events(acme, false, 0, 10).await.unwrap();
    assert!(
        ev.iter()
            .any(|e| e.kind == "admin_sign_in" && e.outcome == "success"),
        "{ev:?}"
    );
    assert_eq!(
        login(&svc, JANE, PASSWORD, &[]).await.status(),
        StatusCode::SEE_OTHER
    );
}

async fn admin_request_with(
    e: &crate::web::Env,
    tenant_id: i64,
    request_id: &str,
) -> (String, Cookie<'static>) {
    let relay = format!("admin-relay-{request_id}");
    let binding = "admin-binding-0123456789".to_string();
    let rh = token_hash(&relay);
    e.db.save_authn_request(
        &rh,
        tenant_id,
        request_id,
        "/admin",
        &token_hash(&binding),
        time(NOW) + chrono::Duration::minutes(10),
        RequestPurpose::Admin,
    )
    .await
    .unwrap();
    (relay, Cookie::new(format!("sso_rb_{}", &rh[..16]), binding))
}

#[actix_web::test]
async fn someone_who_is_not_an_admin_gets_no_console_session_through_sso() {
    let e = env().await;
    let acme = add_tenant(&e.db, "acme", "idp-metadata.xml", false).await;
    let globex = add_tenant(&e.db, "globex", "idp-metadata.xml", false).await;
    // Jane administers globex, not acme; acme allows console SSO.
    add_admin(&e.db, JANE, AdminRole::TenantAdmin, Some(globex)).await;
    let t = e.db.tenant_by_slug("acme").await.unwrap().unwrap();
    let mut s = sso_gateway::store::TenantSettings::of(&t);
    s.admin_sso = true;
    e.db.update_tenant_settings(&t, &s, &sso_gateway::store::Actor::cli(), time(NOW))
        .await
        .unwrap();
    let svc = service(&e).await;
    let (relay, binding) = admin_request(&e, acme).await;
    let r = read(
        post_acs(
            &svc,
            "acme",
            "responses/okta-both-signed.xml",
            Some(&relay),
            &[binding],
        )
        .await,
    )
    .await;
    assert_eq!(r.status, StatusCode::FORBIDDEN);
    assert!(
        r.text.contains("not an administrator of this organization"),
        "{}",
        r.text
    );
    assert!(r.text.contains("INC-"), "with an incident id");
    let ev = e.db.sign_in_events(acme, true, 0, 10).await.unwrap();
    assert_eq!(ev[0].outcome, "admin_unknown");
}

#[actix_web::test]
async fn a_staged_rollout_admits_only_the_test_users() {
    let e = env().await;
    let acme = add_tenant(&e.db, "acme", "idp-metadata.xml", false).await;
    e.db.create_user(acme, JANE, "", &["X2".into()], time(NOW))
        .await
        .unwrap();
    add_admin(&e.db, OPERATOR, AdminRole::Operator, None).await;
    let svc = service(&e).await;
    let c = Console::login(&svc, OPERATOR).await;
    let r = c.api("PATCH", "/admin/api/tenants/acme/settings", Some(json!({"sso_rollout": "staged", "sso_test_users": ["pilot@acme.example"], "login_mode": "sso_and_password"}))).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    assert_eq!(r.json()["sso_test_users"], json!(["pilot@acme.example"]));
    let (relay, binding) = outstanding(&e.db, acme, "/").await;
    let r = read(
        post_acs(
            &svc,
            "acme",
            "responses/okta-both-signed.xml",
            Some(&relay),
            &[binding],
        )
        .await,
    )
    .await;
    assert_eq!(r.status, StatusCode::FORBIDDEN);
    assert!(r.text.contains("not on for you yet"), "{}", r.text);
    let ev = e.db.sign_in_events(acme, true, 0, 1).await.unwrap();
    assert_eq!(ev[0].outcome, "sso_not_rolled_out");
    // Jane joins the test list (the settings page, checkbox semantics): she signs in.
    let page = c.get("/admin/tenants/acme/settings").await.text;
    assert!(page.contains("pilot@acme.example"), "{page}");
    let r = c
        .post(
            "/admin/tenants/acme/settings",
            &[
                ("display_name", "Acme"),
                ("login_mode", "sso_and_password"),
                ("sso_rollout", "staged"),
                (
                    "sso_test_users",
                    &format!("pilot@acme.example\n{}", JANE.to_uppercase()),
                ),
            ],
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    let fresh = crate::web::minted_for(&e, "acme", JANE, true).await;
    let (relay, binding) = crate::web::outstanding_for(&e.db, acme, "/", &fresh.1).await;
    let r = crate::web::post_acs_body(&svc, "acme", &fresh.0, Some(&relay), &[binding]).await;
    assert_eq!(r.status(), StatusCode::SEE_OTHER, "{}", read(r).await.text);
    // Bad settings: refused with the field's rule, nothing saved.
    for (k, v) in [
        ("login_mode", "sometimes"),
        ("clock_skew_seconds", "3600"),
        ("allowed_return_urls", "http://insecure.example"),
    ] {
        let r = c
            .api(
                "PATCH",
                "/admin/api/tenants/acme/settings",
                Some(json!({k: v})),
            )
            .await;
        assert_eq!(r.status, StatusCode::BAD_REQUEST, "{k}");
    }
    let t = e.db.tenant_by_slug("acme").await.unwrap().unwrap();
    assert_eq!(t.clock_skew_seconds, 180);
    // Staged with an SSO-only mode warns on the page.
    c.api(
        "PATCH",
        "/admin/api/tenants/acme/settings",
        Some(json!({"login_mode": "sso_only"})),
    )
    .await;
    let page = c.get("/admin/tenants/acme/settings").await.text;
    assert!(page.contains("cannot sign in at all"), "{page}");
}

#[actix_web::test]
async fn the_okta_setup_page_lists_okta_fields_with_our_values() {
    let e = env().await;
    add_tenant(&e.db, "acme", "idp-metadata.xml", false).await;
    add_admin(&e.db, OPERATOR, AdminRole::Operator, None).await;
    let svc = service(&e).await;
    let c = Console::login(&svc, OPERATOR).await;
    let page = c.get("/admin/tenants/acme/okta").await.text;
    for s in [
        "Single sign-on URL",
        "https://sso.example.test/saml/acme/acs",
        "Audience URI (SP Entity ID)",
        "https://sso.example.test/saml/acme/metadata",
        "Name ID format",
        "Application username",
        "Attribute Statements",
        "SCIM connector base URL",
        "https://sso.example.test/scim/v2/acme",
        "Unique identifier field for users",
        "Authentication Mode",
        "HTTP Header",
    ] {
        assert!(page.contains(s), "{s}");
    }
    let v = c
        .api("GET", "/admin/api/tenants/acme/okta-setup", None)
        .await
        .json();
    assert_eq!(v["saml"][0]["label"], "Single sign-on URL");
    assert_eq!(
        v["saml"][0]["value"],
        "https://sso.example.test/saml/acme/acs"
    );
    let md = c.get("/admin/tenants/acme/sp-metadata.xml").await;
    assert_eq!(md.status, StatusCode::OK);
    assert!(
        md.headers
            .get("content-disposition")
            .unwrap()
            .to_str()
            .unwrap()
            .contains("sp-metadata-acme.xml")
    );
    assert!(
        md.text
            .contains("entityID=\"https://sso.example.test/saml/acme/metadata\"")
    );
}
