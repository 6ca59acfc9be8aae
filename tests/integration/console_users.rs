//! Users, services and licenses in the console: inventory exhaustion (per user, per group,
//! concurrently), the plan/add-on rules, unique extensions and direct numbers, ending a
//! user's sessions, the users list (search, pages, Federation ID right after provisioning),
//! and an audit entry (who, from where, before and after) for every change, exported as CSV.

use actix_web::http::StatusCode;
use serde_json::{Value, json};
use sso_gateway::store::{Actor, AdminRole, AuditFilter};

use crate::admin::{ACME_ADMIN, OPERATOR, add_admin};
use crate::common::{NOW, time};
use crate::console_util::{Console, api_call, service};
use crate::web::{add_tenant, env};

async fn user(e: &crate::web::Env, tid: i64, name: &str) -> i64 {
    e.db.create_user(tid, name, "", &[], time(NOW))
        .await
        .unwrap()
        .id
}

#[actix_web::test]
async fn licenses_never_exceed_the_inventory() {
    let e = env().await;
    let tid = add_tenant(&e.db, "acme", "idp-metadata.xml", true).await;
    e.db.set_inventory(tid, "X6", 1, &Actor::cli(), time(NOW))
        .await
        .unwrap()
        .unwrap();
    let (a, b) = (
        user(&e, tid, "a@acme.example").await,
        user(&e, tid, "b@acme.example").await,
    );
    add_admin(&e.db, ACME_ADMIN, AdminRole::TenantAdmin, Some(tid)).await;
    let svc = service(&e).await;
    let c = Console::login(&svc, ACME_ADMIN).await;

    // The last X6 goes to a; b is refused clearly, by page and by API.
    let r = c
        .post(
            &format!("/admin/tenants/acme/users/{a}/licenses"),
            &[("license", "X6")],
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    assert!(r.text.contains("X6 assigned"), "{}", r.text);
    let r = c
        .post(
            &format!("/admin/tenants/acme/users/{b}/licenses"),
            &[("license", "X6")],
        )
        .await;
    assert_eq!(r.status, StatusCode::CONFLICT);
    assert!(
        r.text
            .contains("no X6 license left: 1 of the 1 bought are assigned"),
        "{}",
        r.text
    );
    let r = c
        .api(
            "POST",
            &format!("/admin/api/tenants/acme/users/{b}/licenses"),
            Some(json!({"license": "X6"})),
        )
        .await;
    assert_eq!(
        (r.status, r.json()["error"].clone()),
        (StatusCode::CONFLICT, json!("license_inventory_exhausted"))
    );
    assert!(e.db.user_licenses(b).await.unwrap().is_empty());
    // The page shows the inventory.
    let page = c.get("/admin/tenants/acme/licenses").await.text;
    assert!(
        page.contains("X6") && page.contains("<span class=\"warn\">0</span>"),
        "{page}"
    );
    let inv = c
        .api("GET", "/admin/api/tenants/acme/licenses", None)
        .await
        .json();
    let x6 = inv["licenses"]
        .as_array()
        .unwrap()
        .iter()
        .find(|l| l["code"] == "X6")
        .unwrap()
        .clone();
    assert_eq!(
        (
            x6["quantity"].clone(),
            x6["assigned"].clone(),
            x6["available"].clone()
        ),
        (json!(1), json!(1), json!(0))
    );

    // One plan per user; add-ons need a plan; the plan cannot go before its add-ons.
    let r = c
        .api(
            "POST",
            &format!("/admin/api/tenants/acme/users/{a}/licenses"),
            Some(json!({"license": "X2"})),
        )
        .await;
    assert_eq!(r.json()["error"], "license_other_plan", "{}", r.text);
    let r = c
        .api(
            "POST",
            &format!("/admin/api/tenants/acme/users/{b}/licenses"),
            Some(json!({"license": "CC-AGENT"})),
        )
        .await;
    assert_eq!(r.json()["error"], "license_addon_needs_plan");
    let r = c
        .api(
            "POST",
            &format!("/admin/api/tenants/acme/users/{a}/licenses"),
            Some(json!({"license": "CC-AGENT"})),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    assert_eq!(r.json()["licenses"], json!(["X6", "CC-AGENT"]));
    let r = c
        .api(
            "DELETE",
            &format!("/admin/api/tenants/acme/users/{a}/licenses/X6"),
            None,
        )
        .await;
    assert_eq!(r.json()["error"], "license_plan_has_addons");
    let r = c
        .api(
            "POST",
            &format!("/admin/api/tenants/acme/users/{a}/licenses"),
            Some(json!({"license": "X99"})),
        )
        .await;
    assert_eq!(
        (r.status, r.json()["error"].clone()),
        (StatusCode::BAD_REQUEST, json!("license_unknown"))
    );

    // The inventory cannot go below what is assigned (operators set it).
    add_admin(&e.db, OPERATOR, AdminRole::Operator, None).await;
    let o = Console::login(&svc, OPERATOR).await;
    let r = o
        .api(
            "PUT",
            "/admin/api/tenants/acme/licenses/X6",
            Some(json!({"quantity": 0})),
        )
        .await;
    assert_eq!(r.json()["error"], "license_inventory_below_assigned");
    let r = o
        .api(
            "PUT",
            "/admin/api/tenants/acme/licenses/X6",
            Some(json!({"quantity": -1})),
        )
        .await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
    // After unassigning, the license is free for b.
    c.api(
        "DELETE",
        &format!("/admin/api/tenants/acme/users/{a}/licenses/CC-AGENT"),
        None,
    )
    .await;
    let r = c
        .api(
            "DELETE",
            &format!("/admin/api/tenants/acme/users/{a}/licenses/X6"),
            None,
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    let r = c
        .api(
            "POST",
            &format!("/admin/api/tenants/acme/users/{b}/licenses"),
            Some(json!({"license": "X6"})),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK);
    // Entitlements flow into the app session: b's services.
    assert_eq!(r.json()["services"], json!(["work", "contact-center"]));
}

#[actix_web::test]
async fn two_admins_cannot_both_take_the_last_license() {
    // A file database, so that the writers really run on several connections.
    let dir = std::env::temp_dir().join(format!("sgw-lic-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let db = crate::common::fresh_db(&format!("sqlite://{}/l.db?mode=rwc", dir.display())).await;
    let t = db
        .create_tenant(
            &sso_gateway::store::NewTenant {
                slug: "acme".into(),
                display_name: "Acme".into(),
                idp_entity_id: "http://idp".into(),
                idp_sso_url: None,
                idp_slo_url: None,
                allow_idp_initiated: false,
                email_domains: vec![],
                allowed_return_urls: vec![],
                certificates: vec![],
            },
            time(NOW),
        )
        .await
        .unwrap();
    db.set_inventory(t.id, "X8", 3, &Actor::cli(), time(NOW))
        .await
        .unwrap()
        .unwrap();
    let mut users = vec![];
    for i in 0..12 {
        users.push(
            db.create_user(t.id, &format!("u{i}@acme.example"), "", &[], time(NOW))
                .await
                .unwrap()
                .id,
        );
    }
    let mut tasks = vec![];
    for u in users {
        let db = db.clone();
        tasks.push(tokio::spawn(async move {
            db.assign_license(t.id, u, "X8", &Actor::cli(), time(NOW))
                .await
                .unwrap()
                .is_ok()
        }));
    }
    let mut granted = 0;
    for task in tasks {
        granted += i32::from(task.await.unwrap());
    }
    assert_eq!(granted, 3, "exactly the inventory");
    let inv = db.inventory(t.id).await.unwrap();
    assert_eq!(
        inv.iter()
            .find(|l| l.license.code == "X8")
            .unwrap()
            .assigned,
        3
    );
    let _ = std::fs::remove_dir_all(&dir);
}

#[actix_web::test]
async fn a_group_assignment_is_all_or_nothing() {
    let e = env().await;
    let tid = add_tenant(&e.db, "acme", "idp-metadata.xml", true).await;
    e.db.set_inventory(tid, "X4", 2, &Actor::cli(), time(NOW))
        .await
        .unwrap()
        .unwrap();
    let mut members = vec![];
    let mut uids = vec![];
    for i in 0..3 {
        let id = user(&e, tid, &format!("m{i}@acme.example")).await;
        uids.push(id);
        let s = e.db.user_summary(tid, id).await.unwrap().unwrap();
        members.push(json!({"value": s.scim_id.unwrap()}));
    }
    let gid = sso_gateway::store::new_scim_id().unwrap();
    e.db.scim_insert_group(
        tid,
        &gid,
        "Support",
        None,
        &json!({"displayName": "Support", "members": members}),
        &Actor::cli(),
        time(NOW),
    )
    .await
    .unwrap();
    add_admin(&e.db, ACME_ADMIN, AdminRole::TenantAdmin, Some(tid)).await;
    let svc = service(&e).await;
    let c = Console::login(&svc, ACME_ADMIN).await;
    // Three members, two X4 left: nobody gets one.
    let r = c
        .post(
            &format!("/admin/tenants/acme/groups/{gid}/licenses"),
            &[("license", "X4")],
        )
        .await;
    assert_eq!(r.status, StatusCode::CONFLICT);
    assert!(
        r.text.contains("2 more are needed") || r.text.contains("3 more are needed"),
        "{}",
        r.text
    );
    for u in &uids {
        assert!(e.db.user_licenses(*u).await.unwrap().is_empty());
    }
    // With enough, all get it; members who had it already are skipped.
    e.db.set_inventory(tid, "X4", 3, &Actor::cli(), time(NOW))
        .await
        .unwrap()
        .unwrap();
    e.db.assign_license(tid, uids[0], "X4", &Actor::cli(), time(NOW))
        .await
        .unwrap()
        .unwrap();
    let r = c
        .api(
            "POST",
            &format!("/admin/api/tenants/acme/groups/{gid}/licenses"),
            Some(json!({"license": "X4"})),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    assert!(
        r.json()["message"]
            .as_str()
            .unwrap()
            .contains("to 2 member(s)")
    );
    for u in &uids {
        assert_eq!(e.db.user_licenses(*u).await.unwrap().len(), 1);
    }
    // An add-on to the group: fine now; the plan cannot be taken back before it.
    e.db.set_inventory(tid, "RECORDING", 3, &Actor::cli(), time(NOW))
        .await
        .unwrap()
        .unwrap();
    let r = c
        .api(
            "POST",
            &format!("/admin/api/tenants/acme/groups/{gid}/licenses"),
            Some(json!({"license": "RECORDING"})),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    let r = c
        .api(
            "DELETE",
            &format!("/admin/api/tenants/acme/groups/{gid}/licenses/X4"),
            None,
        )
        .await;
    assert_eq!(
        r.json()["error"],
        "license_group_members_refused",
        "{}",
        r.text
    );
    let r = c
        .api(
            "DELETE",
            &format!("/admin/api/tenants/acme/groups/{gid}/licenses/RECORDING"),
            None,
        )
        .await;
    assert_eq!(r.status, StatusCode::OK);
    let r = c.api("GET", "/admin/api/tenants/acme/groups", None).await;
    assert_eq!(r.json()["groups"][0]["members"], 3);
}

#[actix_web::test]
async fn extensions_are_unique_per_tenant_and_numbers_across_the_deployment() {
    let e = env().await;
    let acme = add_tenant(&e.db, "acme", "idp-metadata.xml", true).await;
    let globex = add_tenant(&e.db, "globex", "idp-metadata.xml", true).await;
    let (a, b) = (
        user(&e, acme, "a@acme.example").await,
        user(&e, acme, "b@acme.example").await,
    );
    let g = user(&e, globex, "g@globex.example").await;
    add_admin(&e.db, OPERATOR, AdminRole::Operator, None).await;
    let svc = service(&e).await;
    let c = Console::login(&svc, OPERATOR).await;
    let r = c
        .post(
            &format!("/admin/tenants/acme/users/{a}/numbers"),
            &[("extension", "1042"), ("phone_number", "+1 (415) 555-0123")],
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    let s = e.db.user_summary(acme, a).await.unwrap().unwrap();
    assert_eq!(
        (s.extension.as_deref(), s.phone_number.as_deref()),
        (Some("1042"), Some("+14155550123"))
    );
    // Same extension in the same tenant: refused, naming the holder.
    let r = c
        .api(
            "PATCH",
            &format!("/admin/api/tenants/acme/users/{b}"),
            Some(json!({"extension": "1042"})),
        )
        .await;
    assert_eq!(
        (r.status, r.json()["error"].clone()),
        (StatusCode::CONFLICT, json!("number_taken"))
    );
    assert!(
        r.json()["message"]
            .as_str()
            .unwrap()
            .contains("a@acme.example")
    );
    // Same extension in another tenant: fine. Same direct number anywhere: refused.
    let r = c
        .api(
            "PATCH",
            &format!("/admin/api/tenants/globex/users/{g}"),
            Some(json!({"extension": "1042"})),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    let r = c
        .api(
            "PATCH",
            &format!("/admin/api/tenants/globex/users/{g}"),
            Some(json!({"phone_number": "+14155550123"})),
        )
        .await;
    assert_eq!(r.status, StatusCode::CONFLICT);
    assert!(
        r.json()["message"]
            .as_str()
            .unwrap()
            .contains("another organization"),
        "{}",
        r.text
    );
    assert!(
        !r.text.contains("a@acme.example"),
        "no names across tenants"
    );
    // Invalid values: a clear 400, nothing stored.
    for (k, v) in [
        ("extension", "10a2"),
        ("extension", "1"),
        ("phone_number", "4155550123"),
        ("phone_number", "+0123456789"),
    ] {
        let r = c
            .api(
                "PATCH",
                &format!("/admin/api/tenants/acme/users/{b}"),
                Some(json!({k: v})),
            )
            .await;
        assert_eq!(
            (r.status, r.json()["error"].clone()),
            (StatusCode::BAD_REQUEST, json!("number_invalid")),
            "{k}={v}"
        );
    }
    let r = c
        .post(
            &format!("/admin/tenants/acme/users/{b}/numbers"),
            &[("extension", "12x")],
        )
        .await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
    assert!(r.text.contains("2 to 10 digits"), "{}", r.text);
    // Clearing frees it.
    let r = c
        .api(
            "PATCH",
            &format!("/admin/api/tenants/acme/users/{a}"),
            Some(json!({"extension": null, "phone_number": ""})),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK);
    let r = c
        .api(
            "PATCH",
            &format!("/admin/api/tenants/acme/users/{b}"),
            Some(json!({"extension": "1042", "phone_number": "+14155550123"})),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    // Okta owns the profile: other fields are refused.
    let r = c
        .api(
            "PATCH",
            &format!("/admin/api/tenants/acme/users/{b}"),
            Some(json!({"display_name": "X"})),
        )
        .await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
    // Audit: the number changes, with before and after.
    let f = AuditFilter {
        action: Some("user.".into()),
        ..Default::default()
    };
    let (_, entries) = e.db.audit_page(acme, &f, 0, 50).await.unwrap();
    let ext = entries
        .iter()
        .find(|a| {
            a.action == "user.extension"
                && a.after == Some(json!({"extension": "1042"}))
                && a.before == Some(json!({"extension": null}))
        })
        .unwrap();
    assert_eq!(ext.actor, format!("admin:{OPERATOR}"));
}

#[actix_web::test]
async fn the_users_list_searches_pages_and_shows_the_federation_id_at_once() {
    let e = env().await;
    let tid = add_tenant(&e.db, "acme", "idp-metadata.xml", true).await;
    for i in 0..30 {
        e.db.create_user(
            tid,
            &format!("user{i:02}@acme.example"),
            &format!("User {i:02}"),
            &[],
            time(NOW),
        )
        .await
        .unwrap();
    }
    // Provisioned by Okta: the Federation ID is there right away.
    let (_, token) = sso_gateway::web::scim::issue_token(&e.db, tid, "okta", time(NOW))
        .await
        .unwrap();
    let svc = service(&e).await;
    let r = api_call(&svc, "POST", "/scim/v2/acme/Users", Some(json!({
        "schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"], "userName": "okta.user@acme.example",
        "name": {"givenName": "Okta", "familyName": "User"}, "emails": [{"value": "okta.user@acme.example", "primary": true}], "active": true
    })), None, None, Some(&token)).await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.text);
    add_admin(&e.db, ACME_ADMIN, AdminRole::TenantAdmin, Some(tid)).await;
    let c = Console::login(&svc, ACME_ADMIN).await;
    let page = c.get("/admin/tenants/acme/users?q=okta").await;
    assert_eq!(page.status, StatusCode::OK);
    assert!(
        page.text.contains("okta.user@acme.example</a>"),
        "{}",
        page.text
    );
    assert!(
        page.text.contains("<code>okta.user@acme.example</code>"),
        "the Federation ID: {}",
        page.text
    );
    assert!(page.text.contains("<td>Okta</td>"), "source");
    let v = c
        .api("GET", "/admin/api/tenants/acme/users?q=okta", None)
        .await
        .json();
    assert_eq!(v["total"], 1);
    assert_eq!(v["users"][0]["federation_id"], "okta.user@acme.example");
    assert_eq!(v["users"][0]["source"], "okta");
    // Pages of 25: 31 users.
    let p1 = c.get("/admin/tenants/acme/users").await.text;
    assert!(
        p1.contains("Page 1 of 2") && p1.contains("rel=\"next\""),
        "{p1}"
    );
    let p2 = c.get("/admin/tenants/acme/users?page=2").await.text;
    assert!(
        p2.contains("user29@acme.example") && !p2.contains("user00@acme.example"),
        "{p2}"
    );
    let v = c
        .api(
            "GET",
            "/admin/api/tenants/acme/users?source=here&per_page=10&page=3",
            None,
        )
        .await
        .json();
    assert_eq!(
        (v["total"].clone(), v["users"].as_array().unwrap().len()),
        (json!(30), 10)
    );
    // Filters: deactivated, by license, search by display name.
    let v = c
        .api(
            "GET",
            "/admin/api/tenants/acme/users?status=deactivated",
            None,
        )
        .await
        .json();
    assert_eq!(v["total"], 0);
    let v = c
        .api("GET", "/admin/api/tenants/acme/users?q=User%2007", None)
        .await
        .json();
    assert_eq!(v["users"][0]["user_name"], "user07@acme.example");
    // A search with LIKE wildcards matches them literally.
    let v = c
        .api("GET", "/admin/api/tenants/acme/users?q=%25", None)
        .await
        .json();
    assert_eq!(v["total"], 0);
    // Create a user here (with a plan).
    let r = c
        .post(
            "/admin/tenants/acme/users",
            &[
                ("user_name", "new.hire@acme.example"),
                ("display_name", "New Hire"),
                ("license", "X2"),
            ],
        )
        .await;
    assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.text);
    let r = c
        .post(
            "/admin/tenants/acme/users",
            &[("user_name", "NEW.HIRE@acme.example")],
        )
        .await;
    assert_eq!(r.status, StatusCode::CONFLICT, "{}", r.text);
    let v = c
        .api("GET", "/admin/api/tenants/acme/users?q=new.hire", None)
        .await
        .json();
    assert_eq!(
        (
            v["users"][0]["source"].clone(),
            v["users"][0]["licenses"].clone()
        ),
        (json!("here"), json!(["X2"]))
    );
}

#[actix_web::test]
async fn an_admin_ends_a_users_sessions() {
    let e = env().await;
    let tid = add_tenant(&e.db, "acme", "idp-metadata.xml", true).await;
    let u =
        e.db.create_user(tid, crate::web::JANE, "", &["X2".into()], time(NOW))
            .await
            .unwrap();
    let svc = service(&e).await;
    // Two live app sessions.
    for id in ["session-one-hash", "session-two-hash"] {
        e.db.create_session(
            &sso_gateway::store::token_hash(id),
            &sso_gateway::store::SessionRow {
                tenant_id: tid,
                user_id: u.id,
                name_id: crate::web::JANE.into(),
                session_index: None,
                created_at: time(NOW).timestamp(),
                absolute_expiry_at: time(NOW).timestamp() + 3600,
            },
            time(NOW),
        )
        .await
        .unwrap();
    }
    add_admin(&e.db, ACME_ADMIN, AdminRole::TenantAdmin, Some(tid)).await;
    let c = Console::login(&svc, ACME_ADMIN).await;
    let v = c
        .api(
            "GET",
            &format!("/admin/api/tenants/acme/users/{}", u.id),
            None,
        )
        .await
        .json();
    let sessions = v["sessions"].as_array().unwrap();
    assert_eq!(sessions.len(), 2);
    let handle = sessions[0]["handle"].as_str().unwrap().to_string();
    let page = c
        .get(&format!("/admin/tenants/acme/users/{}", u.id))
        .await
        .text;
    assert!(page.contains(&handle), "{page}");
    let r = c
        .post(
            &format!("/admin/tenants/acme/users/{}/sessions/{handle}/end", u.id),
            &[],
        )
        .await;
    assert_eq!(r.status, StatusCode::OK);
    assert!(r.text.contains("1 session(s) ended"), "{}", r.text);
    let r = c
        .api(
            "DELETE",
            &format!("/admin/api/tenants/acme/users/{}/sessions", u.id),
            None,
        )
        .await;
    assert_eq!(r.status, StatusCode::OK);
    let alive =
        e.db.live_session(
            &sso_gateway::store::token_hash("session-two-hash"),
            1800,
            time(NOW),
        )
        .await
        .unwrap();
    assert!(
        alive.is_none(),
        "ended on the server: the cookie no longer works"
    );
    let v = c
        .api(
            "GET",
            &format!("/admin/api/tenants/acme/users/{}", u.id),
            None,
        )
        .await
        .json();
    assert!(v["sessions"].as_array().unwrap().is_empty());
    assert!(
        v["audit"]
            .as_array()
            .unwrap()
            .iter()
            .any(|a| a["action"] == "session.end"),
        "{v}"
    );
}

#[actix_web::test]
async fn every_change_is_audited_and_exported_as_csv() {
    let e = env().await;
    let tid = add_tenant(&e.db, "acme", "idp-metadata.xml", true).await;
    let u = user(&e, tid, "=cmd|' /C calc'!A0@acme.example").await;
    add_admin(&e.db, OPERATOR, AdminRole::Operator, None).await;
    let svc = service(&e).await;
    let c = Console::login(&svc, OPERATOR).await;
    let (_, token) = sso_gateway::web::scim::issue_token(&e.db, tid, "okta", time(NOW))
        .await
        .unwrap();
    // A series of changes through the console, the API and SCIM.
    assert_eq!(c.api("PATCH", "/admin/api/tenants/acme/settings", Some(json!({"allow_idp_initiated": false, "sso_rollout": "staged", "sso_test_users": ["pilot@acme.example"]}))).await.status, StatusCode::OK);
    assert_eq!(
        c.api(
            "PUT",
            "/admin/api/tenants/acme/licenses/X2",
            Some(json!({"quantity": 50}))
        )
        .await
        .status,
        StatusCode::OK
    );
    assert_eq!(
        c.api(
            "POST",
            &format!("/admin/api/tenants/acme/users/{u}/licenses"),
            Some(json!({"license": "X2"}))
        )
        .await
        .status,
        StatusCode::OK
    );
    assert_eq!(
        c.api(
            "PATCH",
            &format!("/admin/api/tenants/acme/users/{u}"),
            Some(json!({"federation_id": "FID-1"}))
        )
        .await
        .status,
        StatusCode::OK
    );
    assert_eq!(
        c.api(
            "POST",
            "/admin/api/tenants/acme/scim-tokens",
            Some(json!({"label": "rotation"}))
        )
        .await
        .status,
        StatusCode::CREATED
    );
    let r = api_call(&svc, "POST", "/scim/v2/acme/Users", Some(json!({"schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"], "userName": "scim.user@acme.example", "active": true})), None, None, Some(&token)).await;
    let sid = r.json()["id"].as_str().unwrap().to_string();
    let r = api_call(&svc, "PATCH", &format!("/scim/v2/acme/Users/{sid}"), Some(json!({"schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"], "Operations": [{"op": "replace", "value": {"active": false}}]})), None, None, Some(&token)).await;
    assert_eq!(r.status, StatusCode::OK);

    let all = e.db.audit_entries(tid, 100).await.unwrap();
    let find = |action: &str| {
        all.iter()
            .find(|a| a.action == action)
            .unwrap_or_else(|| panic!("{action} not audited: {all:?}"))
    };
    let s = find("tenant.settings");
    assert_eq!(s.actor, format!("admin:{OPERATOR}"));
    assert_eq!(s.source_ip.as_deref(), Some("203.0.113.9"), "from where");
    assert_eq!(s.before.as_ref().unwrap()["sso_rollout"], "all");
    assert_eq!(s.after.as_ref().unwrap()["sso_rollout"], "staged");
    assert_eq!(
        find("license.inventory").after,
        Some(json!({"quantity": 50}))
    );
    assert_eq!(
        find("license.assign").after,
        Some(json!({"licenses": ["X2"]}))
    );
    assert_eq!(
        find("user.federation_id.pin").after.as_ref().unwrap()["federationId"],
        "FID-1"
    );
    assert!(find("scim_token.create").after.is_some());
    let created = find("user.create");
    assert!(created.actor.starts_with("scim:scim_"), "{}", created.actor);
    let deact = find("user.deactivate");
    assert_eq!(deact.before.as_ref().unwrap()["active"], true);
    assert_eq!(deact.after.as_ref().unwrap()["active"], false);
    assert!(all.iter().all(|a| a.created_at > 0));

    // The audit page filters; the CSV holds the same rows, formulas defused.
    let page = c
        .get("/admin/tenants/acme/audit?action=license.")
        .await
        .text;
    assert!(
        page.contains("license.assign") && !page.contains("tenant.settings"),
        "{page}"
    );
    let csv = c.get("/admin/tenants/acme/audit.csv").await;
    assert_eq!(
        csv.headers.get("content-type").unwrap(),
        "text/csv; charset=utf-8"
    );
    assert!(
        csv.headers
            .get("content-disposition")
            .unwrap()
            .to_str()
            .unwrap()
            .starts_with("attachment; filename=\"audit-acme-")
    );
    let mut reader = csv::Reader::from_reader(csv.text.as_bytes());
    assert_eq!(
        reader.headers().unwrap().iter().collect::<Vec<_>>(),
        [
            "time",
            "actor",
            "source_ip",
            "action",
            "target",
            "detail",
            "before",
            "after"
        ]
    );
    let rows: Vec<csv::StringRecord> = reader.records().map(|r| r.unwrap()).collect();
    assert_eq!(rows.len(), all.len());
    assert!(rows.iter().any(|r| &r[3] == "user.deactivate"));
    assert!(
        rows.iter()
            .all(|r| !r[5].starts_with('=') && !r[4].starts_with('=')),
        "no formula cell"
    );
    let v = c
        .api("GET", "/admin/api/tenants/acme/audit?actor=scim", None)
        .await
        .json();
    assert!(
        v["entries"]
            .as_array()
            .unwrap()
            .iter()
            .all(|e| e["actor"].as_str().unwrap().starts_with("scim:")),
        "{v}"
    );
    assert!(v["total"].as_i64().unwrap() >= 2);
    let r = c
        .api("GET", "/admin/api/tenants/acme/audit?from=yesterday", None)
        .await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
    let r = c
        .api(
            "GET",
            "/admin/api/tenants/acme/audit?from=2026-06-01&to=2026-06-01",
            None,
        )
        .await
        .json();
    assert_eq!(
        r["total"].as_i64().unwrap() as usize,
        all.len(),
        "all happened on the test clock's day"
    );
    let _: Value = r;
}
