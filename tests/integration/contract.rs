//! The storage contract, on two connection pools to one database (as two instances would
//! hold): SQLite (a file) always, PostgreSQL too when the suite runs against it. The rest
//! of the integration suite is the broader contract: `scripts/test.sh` runs all of it on
//! both engines.

use chrono::Duration;
use serde_json::json;
use sso_gateway::store::{
    Actor, Db, NewTenant, RequestPurpose, SessionRow, StoreError, UserColumns,
};

use crate::common::{NOW, postgres_schema, postgres_url, time};

/// (engine name, two pools on one fresh database).
async fn engines() -> Vec<(&'static str, Db, Db)> {
    let mut out = Vec::new();
    let dir = std::env::temp_dir().join(format!(
        "sgw-contract-{}-{}",
        std::process::id(),
        rand_suffix()
    ));
    std::fs::create_dir_all(&dir).unwrap();
    let url = format!("sqlite://{}/c.db", dir.display());
    out.push((
        "sqlite",
        Db::connect(&url).await.unwrap(),
        Db::connect(&url).await.unwrap(),
    ));
    if let Some(base) = postgres_url() {
        let url = postgres_schema(&base).await;
        out.push((
            "postgres",
            Db::connect(&url).await.unwrap(),
            Db::connect(&url).await.unwrap(),
        ));
    }
    out
}

fn rand_suffix() -> String {
    let mut b = [0u8; 4];
    openssl::rand::rand_bytes(&mut b).unwrap();
    b.iter().map(|x| format!("{x:02x}")).collect()
}

async fn tenant(db: &Db) -> i64 {
    db.create_tenant(
        &NewTenant {
            slug: "acme".into(),
            display_name: "Acme".into(),
            idp_entity_id: "http://idp".into(),
            idp_sso_url: None,
            idp_slo_url: None,
            allow_idp_initiated: true,
            email_domains: vec!["acme.example".into()],
            allowed_return_urls: vec![],
            certificates: vec![],
        },
        time(NOW),
    )
    .await
    .unwrap()
    .id
}

#[actix_web::test]
async fn at_most_once_across_instances() {
    for (engine, a, b) in engines().await {
        let tid = tenant(&a).await;
        let now = time(NOW);
        // An assertion ID is consumed once, whichever instance sees it; it may be reused
        // only after it expired.
        assert!(
            a.consume_assertion_id("idp", "_a1", now + Duration::minutes(5), now)
                .await
                .unwrap(),
            "{engine}"
        );
        assert!(
            !b.consume_assertion_id("idp", "_a1", now + Duration::minutes(5), now)
                .await
                .unwrap(),
            "{engine}"
        );
        let later = now + Duration::minutes(6);
        assert!(
            b.consume_assertion_id("idp", "_a1", later + Duration::minutes(5), later)
                .await
                .unwrap(),
            "{engine}: expired entries are reusable"
        );
        // Concurrently, from both pools: exactly one wins.
        let mut tasks = Vec::new();
        for i in 0..20 {
            let db = if i % 2 == 0 { a.clone() } else { b.clone() };
            tasks.push(tokio::spawn(async move {
                db.consume_assertion_id("idp", "_race", now + Duration::minutes(5), now)
                    .await
                    .unwrap()
            }));
        }
        let mut wins = 0;
        for t in tasks {
            wins += i32::from(t.await.unwrap());
        }
        assert_eq!(wins, 1, "{engine}");
        // An outstanding request is taken once.
        a.save_authn_request(
            "relay",
            tid,
            "_req",
            "/",
            "bind",
            now + Duration::minutes(10),
            RequestPurpose::App,
        )
        .await
        .unwrap();
        let mut tasks = Vec::new();
        for i in 0..10 {
            let db = if i % 2 == 0 { a.clone() } else { b.clone() };
            tasks.push(tokio::spawn(async move {
                db.take_authn_request("relay", now).await.unwrap().is_some()
            }));
        }
        let mut taken = 0;
        for t in tasks {
            taken += i32::from(t.await.unwrap());
        }
        assert_eq!(taken, 1, "{engine}");
        // One-time app tokens too.
        assert!(
            a.consume_app_token("jti-1", now.timestamp() + 60)
                .await
                .unwrap()
        );
        assert!(
            !b.consume_app_token("jti-1", now.timestamp() + 60)
                .await
                .unwrap()
        );
    }
}

#[actix_web::test]
async fn sessions_are_shared_and_revoked_everywhere() {
    for (engine, a, b) in engines().await {
        let tid = tenant(&a).await;
        let u = a
            .create_user(tid, "jane@acme.example", "Jane", &[], time(NOW))
            .await
            .unwrap();
        let now = time(NOW);
        a.create_session(
            "h1",
            &SessionRow {
                tenant_id: tid,
                user_id: u.id,
                name_id: "jane@acme.example".into(),
                session_index: Some("s1".into()),
                created_at: now.timestamp(),
                absolute_expiry_at: now.timestamp() + 3600,
            },
            now,
        )
        .await
        .unwrap();
        assert!(
            b.live_session("h1", 1800, now).await.unwrap().is_some(),
            "{engine}: minted on A, valid on B"
        );
        // Idle timeout counts from the last use on any instance.
        assert!(
            a.live_session("h1", 1800, now + Duration::minutes(20))
                .await
                .unwrap()
                .is_some()
        );
        assert!(
            b.live_session("h1", 1800, now + Duration::minutes(40))
                .await
                .unwrap()
                .is_some(),
            "{engine}: touched by A"
        );
        // Deactivation on B ends it on A at once.
        b.set_user_active(u.id, false, now).await.unwrap();
        assert!(
            a.live_session("h1", 1800, now + Duration::minutes(41))
                .await
                .unwrap()
                .is_none(),
            "{engine}"
        );
    }
}

#[actix_web::test]
async fn concurrent_read_modify_write_loses_no_update() {
    for (engine, a, b) in engines().await {
        let tid = tenant(&a).await;
        let cols = |n: &str| UserColumns {
            user_name: n.into(),
            external_id: None,
            display_name: String::new(),
            email: String::new(),
            active: true,
            federation_id: n.into(),
            federation_pinned: false,
        };
        a.scim_insert_user(
            tid,
            "u1",
            &json!({"userName": "counter", "nickName": "0"}),
            &cols("counter"),
            &Actor::cli(),
            time(NOW),
        )
        .await
        .unwrap();
        // 40 increments of a counter inside the resource, half through each pool.
        let mut tasks = Vec::new();
        for i in 0..40 {
            let db = if i % 2 == 0 { a.clone() } else { b.clone() };
            let c = cols("counter");
            tasks.push(tokio::spawn(async move {
                db.scim_update_user(tid, "u1", &Actor::cli(), time(NOW), move |row, _| {
                    let n: i64 = row.resource["nickName"].as_str().unwrap().parse().unwrap();
                    let mut r = row.resource.clone();
                    r["nickName"] = json!((n + 1).to_string());
                    Ok::<_, ()>((r, c))
                })
                .await
                .unwrap()
                .unwrap()
            }));
        }
        for t in tasks {
            t.await.unwrap();
        }
        let row = a
            .scim_get(sso_gateway::store::Kind::User, tid, "u1")
            .await
            .unwrap()
            .unwrap();
        assert_eq!(row.resource["nickName"], "40", "{engine}: no lost update");
        assert_eq!(row.version, 41, "{engine}");
        // A unique key taken by a concurrent writer is a conflict, not a failure.
        let dup = b
            .scim_insert_user(
                tid,
                "u2",
                &json!({"userName": "COUNTER"}),
                &cols("COUNTER"),
                &Actor::cli(),
                time(NOW),
            )
            .await;
        assert!(
            matches!(dup, Err(StoreError::Conflict(_))),
            "{engine}: {dup:?}"
        );
    }
}

#[actix_web::test]
async fn housekeeping_runs_on_every_instance_at_once() {
    for (engine, a, b) in engines().await {
        let tid = tenant(&a).await;
        let now = time(NOW);
        for i in 0..50 {
            a.consume_assertion_id("idp", &format!("_p{i}"), now + Duration::minutes(5), now)
                .await
                .unwrap();
            a.save_authn_request(
                &format!("r{i}"),
                tid,
                "_x",
                "/",
                "b",
                now + Duration::minutes(10),
                RequestPurpose::App,
            )
            .await
            .unwrap();
        }
        a.consume_assertion_id("idp", "_keep", now + Duration::hours(5), now)
            .await
            .unwrap();
        let later = now + Duration::hours(1);
        let (x, y) = tokio::join!(a.purge_expired(later), b.purge_expired(later));
        let purged = x.unwrap() + y.unwrap();
        assert_eq!(purged, 100, "{engine}: each row deleted once, no error");
        assert!(
            !b.consume_assertion_id("idp", "_keep", now + Duration::hours(5), later)
                .await
                .unwrap(),
            "{engine}: live entries stay"
        );
    }
}
