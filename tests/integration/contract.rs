//! The storage contract, on two connection pools to one database (as two instances would
//! hold): SQLite (a file) always, PostgreSQL too when the suite runs against it. The rest
//! of the integration suite is the broader contract: `scripts/test.sh` runs all of it on
//! both engines.

use chrono::Duration;
use serde_json::json;
use sso_gateway::store::{
    Actor, Db, LoginCommitted, LoginEnd, LoginRecord, NewTenant, RequestPurpose, SessionRow,
    SignInEvent, StoreError, UserColumns,
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

/// The user every login test signs in.
async fn jane(db: &Db, tid: i64) -> sso_gateway::directory::User {
    db.create_user(tid, "jane@acme.example", "Jane", &[], time(NOW))
        .await
        .unwrap()
}

fn login<'a>(
    tid: i64,
    assertion_id: &'a str,
    now: chrono::DateTime<chrono::Utc>,
) -> LoginRecord<'a> {
    LoginRecord {
        tenant_id: tid,
        issuer: "http://idp",
        assertion_id,
        assertion_expires_at: now + Duration::minutes(5),
        certificate_der: None,
        now,
    }
}

fn session_of(tid: i64, user_id: i64, now: chrono::DateTime<chrono::Utc>) -> SessionRow {
    SessionRow {
        tenant_id: tid,
        user_id,
        name_id: "jane@acme.example".into(),
        session_index: None,
        created_at: now.timestamp(),
        absolute_expiry_at: now.timestamp() + 3600,
    }
}

const SUCCESS: SignInEvent<'static> = SignInEvent {
    incident_id: None,
    outcome: "success",
    subject: Some("jane@acme.example"),
    detail: "session created",
};

/// A login's writes (replay record, session, last sign-in, event) are one transaction:
/// all of them or none.
#[actix_web::test]
async fn a_login_is_written_at_once_or_not_at_all() {
    for (engine, a, b) in engines().await {
        let tid = tenant(&a).await;
        let now = time(NOW);
        let u = jane(&a, tid).await;
        let row = session_of(tid, u.id, now);
        let end = |h: &'static str| LoginEnd::Session {
            id_hash: h,
            row: &row,
            event: SUCCESS,
        };
        let events = |db: Db| async move { db.recent_events(tid, 100).await.unwrap() };

        let r = a.complete_login(&login(tid, "_l1", now), &end("h1")).await;
        assert_eq!(r.unwrap(), LoginCommitted::Session, "{engine}");
        assert!(b.live_session("h1", 1800, now).await.unwrap().is_some());
        let ev = events(b.clone()).await;
        assert_eq!(ev.len(), 1, "{engine}: {ev:?}");
        assert_eq!((ev[0].1.as_str(), ev[0].2.as_str()), ("sign_in", "success"));
        let last = b.user_summary(tid, u.id).await.unwrap().unwrap();
        assert_eq!(last.last_login_at, Some(now.timestamp()), "{engine}");

        // The same assertion through the other instance: nothing at all is written.
        let r = b.complete_login(&login(tid, "_l1", now), &end("h2")).await;
        assert_eq!(r.unwrap(), LoginCommitted::Replayed, "{engine}");
        assert!(a.live_session("h2", 1800, now).await.unwrap().is_none());
        assert_eq!(
            events(a.clone()).await.len(),
            1,
            "{engine}: no event for a replay"
        );

        // A refusal writes the replay record and its event, no session.
        let refused = SignInEvent {
            incident_id: Some("INC1"),
            outcome: "user_unlicensed",
            subject: Some("jane@acme.example"),
            detail: "Unlicensed",
        };
        let r = a
            .complete_login(
                &login(tid, "_l2", now),
                &LoginEnd::Refused { event: refused },
            )
            .await;
        assert_eq!(r.unwrap(), LoginCommitted::Refused, "{engine}");
        let ev = events(a.clone()).await;
        assert_eq!(ev.len(), 2, "{engine}");
        assert_eq!(ev[0].0.as_deref(), Some("INC1"));
        let r = b
            .complete_login(
                &login(tid, "_l2", now),
                &LoginEnd::Refused { event: refused },
            )
            .await;
        assert_eq!(
            r.unwrap(),
            LoginCommitted::Replayed,
            "{engine}: refused once, replayed after"
        );

        // Deactivated (on B) after A read the user: no session, the assertion is used up.
        b.set_user_active(u.id, false, now).await.unwrap();
        let r = a.complete_login(&login(tid, "_l3", now), &end("h3")).await;
        assert_eq!(r.unwrap(), LoginCommitted::UserInactive, "{engine}");
        assert!(b.live_session("h3", 1800, now).await.unwrap().is_none());
        b.set_user_active(u.id, true, now).await.unwrap();
        let r = b.complete_login(&login(tid, "_l3", now), &end("h4")).await;
        assert_eq!(r.unwrap(), LoginCommitted::Replayed, "{engine}");

        // A login a minute later stamps the last sign-in again; within the minute it does not.
        let later = now + Duration::seconds(30);
        let r = a
            .complete_login(&login(tid, "_l4", later), &end("h5"))
            .await;
        assert_eq!(r.unwrap(), LoginCommitted::Session, "{engine}");
        let d = a.user_summary(tid, u.id).await.unwrap().unwrap();
        assert_eq!(d.last_login_at, Some(now.timestamp()), "{engine}");
        let later = now + Duration::seconds(61);
        let r = a
            .complete_login(&login(tid, "_l5", later), &end("h6"))
            .await;
        assert_eq!(r.unwrap(), LoginCommitted::Session, "{engine}");
        let d = a.user_summary(tid, u.id).await.unwrap().unwrap();
        assert_eq!(d.last_login_at, Some(later.timestamp()), "{engine}");
    }
}

/// Logins racing a deactivation on another instance: whichever commits first, no session
/// of the user is live afterwards (the login checks the user inside its transaction; on
/// PostgreSQL under a share lock the deactivation waits for).
#[actix_web::test]
async fn a_deactivation_racing_logins_leaves_no_live_session() {
    for (engine, a, b) in engines().await {
        let tid = tenant(&a).await;
        let now = time(NOW);
        let u = jane(&a, tid).await;
        let mut tasks = Vec::new();
        for i in 0..24 {
            let db = a.clone();
            let row = session_of(tid, u.id, now);
            tasks.push(tokio::spawn(async move {
                let id = format!("_race{i}");
                let h = format!("race{i}");
                let end = LoginEnd::Session {
                    id_hash: &h,
                    row: &row,
                    event: SUCCESS,
                };
                db.complete_login(&login(tid, &id, now), &end)
                    .await
                    .unwrap()
            }));
            if i == 12 {
                let db = b.clone();
                let uid = u.id;
                tasks.push(tokio::spawn(async move {
                    db.set_user_active(uid, false, now).await.unwrap();
                    LoginCommitted::Refused
                }));
            }
        }
        let mut outcomes = Vec::new();
        for t in tasks {
            outcomes.push(t.await.unwrap());
        }
        assert!(
            outcomes.iter().all(|o| matches!(
                o,
                LoginCommitted::Session | LoginCommitted::UserInactive | LoginCommitted::Refused
            )),
            "{engine}: {outcomes:?}"
        );
        for i in 0..24 {
            assert!(
                a.live_session(&format!("race{i}"), 1800, now)
                    .await
                    .unwrap()
                    .is_none(),
                "{engine}: session {i} outlived the deactivation ({outcomes:?})"
            );
        }
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
