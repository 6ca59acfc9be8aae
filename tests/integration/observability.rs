//! Observability (issue 10): `/metrics` in the Prometheus text format, checked with the
//! reference parser (Python's `prometheus_client`), counting sign-ins, SCIM operations and
//! latency by route pattern; who may scrape; `/readyz`; the request id; and the real
//! `serve` binary writing nothing but JSON lines when its output is not a terminal.

use std::io::{Read as _, Write as _};
use std::process::{Command, Stdio};
use std::time::Duration;

use actix_web::http::StatusCode;
use actix_web::{App, test, web};
use serde_json::{Value, json};
use sso_gateway::obs::metrics::MetricsAccess;

use crate::common::{NOW, time};
use crate::web::{JANE, add_tenant, env, minted_for, outstanding_for, post_acs_body};

/// The gauges are process-wide and refreshed by each scrape from the scraping app's
/// database: scrapes in this file take turns so one test's values are not another's.
static SCRAPE: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

macro_rules! service {
    ($state:expr, $access:expr) => {
        test::init_service(
            App::new()
                .app_data(web::Data::new($state.clone()))
                .app_data(web::Data::new($access))
                .wrap(sso_gateway::web::security_headers())
                .wrap(actix_web::middleware::from_fn(
                    sso_gateway::obs::request_id::middleware,
                ))
                .configure(|c| sso_gateway::web::configure(c, false)),
        )
        .await
    };
}

const PARSE_PY: &str = r#"
import json, sys
from prometheus_client.parser import text_string_to_metric_families
out = []
for fam in text_string_to_metric_families(sys.stdin.read()):
    for s in fam.samples:
        out.append({"family": fam.name, "type": fam.type, "name": s.name,
                    "labels": s.labels, "value": s.value})
print(json.dumps(out, allow_nan=False))
"#;

/// Every sample of an exposition, parsed by `prometheus_client` (which refuses malformed
/// text); None when it is not installed (a failure in CI, a skip elsewhere).
fn parse_exposition(text: &str) -> Option<Vec<Value>> {
    if !crate::common::python_has(&["prometheus_client"]) {
        crate::common::require_in_ci("python3 with prometheus_client");
        return None;
    }
    let mut child = Command::new("python3")
        .args(["-c", PARSE_PY])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(text.as_bytes())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(
        out.status.success(),
        "prometheus_client refused the exposition: {}\n{text}",
        String::from_utf8_lossy(&out.stderr)
    );
    Some(serde_json::from_slice(&out.stdout).unwrap())
}

/// The value of the sample `name` whose labels include `labels`.
fn sample(samples: &[Value], name: &str, labels: &[(&str, &str)]) -> Option<f64> {
    samples
        .iter()
        .find(|s| {
            s["name"] == name
                && labels
                    .iter()
                    .all(|(k, v)| s["labels"][*k].as_str() == Some(*v))
        })
        .and_then(|s| s["value"].as_f64())
}

async fn scrape<S>(svc: &S) -> String
where
    S: actix_web::dev::Service<
            actix_http::Request,
            Response = actix_web::dev::ServiceResponse,
            Error = actix_web::Error,
        >,
{
    let r = test::call_service(svc, test::TestRequest::get().uri("/metrics").to_request()).await;
    assert_eq!(r.status(), StatusCode::OK);
    assert_eq!(
        r.headers().get("content-type").unwrap(),
        "text/plain; version=0.0.4; charset=utf-8"
    );
    String::from_utf8(test::read_body(r).await.to_vec()).unwrap()
}

#[actix_web::test]
async fn metrics_count_sign_ins_scim_operations_and_latency_by_route() {
    let e = env().await;
    let tid = add_tenant(&e.db, "obsm", "idp-metadata.xml", true).await;
    e.db.create_user(tid, JANE, "Jane Doe", &["X6".into()], time(NOW))
        .await
        .unwrap();
    let svc = service!(e.state, MetricsAccess::Open);

    // A sign-in that succeeds, and one for a user this organization does not know.
    let (body, rid) = minted_for(&e, "obsm", JANE, true).await;
    let (relay, binding) = outstanding_for(&e.db, tid, "/", &rid).await;
    let r = post_acs_body(&svc, "obsm", &body, Some(&relay), &[binding]).await;
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    let id = r.headers().get("x-request-id").unwrap().to_str().unwrap();
    assert_eq!(id.len(), 32, "a generated request id: {id}");
    let (body, _) = minted_for(&e, "obsm", "nobody@obsm.example", false).await;
    let r = post_acs_body(&svc, "obsm", &body, None, &[]).await;
    assert_eq!(r.status(), StatusCode::FORBIDDEN);

    // A SCIM create.
    let (_, tok) = sso_gateway::web::scim::issue_token(&e.db, tid, "obs", time(NOW))
        .await
        .unwrap();
    let r = test::call_service(
        &svc,
        test::TestRequest::post()
            .uri("/scim/v2/obsm/Users")
            .insert_header(("Authorization", format!("Bearer {tok}")))
            .insert_header(("Content-Type", "application/scim+json"))
            .insert_header(("X-Request-Id", "okta-req-42"))
            .set_payload(
                json!({
                    "schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"],
                    "userName": "max.mustermann@obsm.example",
                    "name": {"givenName": "Max", "familyName": "Mustermann"},
                    "emails": [{"primary": true, "value": "max.mustermann@obsm.example"}],
                    "active": true
                })
                .to_string(),
            )
            .to_request(),
    )
    .await;
    assert_eq!(r.status(), StatusCode::CREATED);
    assert_eq!(
        r.headers().get("x-request-id").unwrap(),
        "okta-req-42",
        "a sane incoming id is kept"
    );
    // An id that could forge log lines is replaced.
    let r = test::call_service(
        &svc,
        test::TestRequest::get()
            .uri("/healthz")
            .insert_header(("X-Request-Id", "a\"b c"))
            .to_request(),
    )
    .await;
    let replaced = r.headers().get("x-request-id").unwrap().to_str().unwrap();
    assert!(replaced.len() == 32 && replaced.bytes().all(|b| b.is_ascii_hexdigit()));

    let _turn = SCRAPE.lock().await;
    let text = scrape(&svc).await;
    let Some(s) = parse_exposition(&text) else {
        assert!(text.contains("sso_gateway_sign_ins_total{tenant=\"obsm\",outcome=\"success\"} 1"));
        return;
    };
    let signed_in = |outcome| {
        sample(
            &s,
            "sso_gateway_sign_ins_total",
            &[("tenant", "obsm"), ("outcome", outcome)],
        )
    };
    assert_eq!(signed_in("success"), Some(1.0), "{text}");
    assert_eq!(signed_in("user_unknown"), Some(1.0), "{text}");
    assert!(
        sample(
            &s,
            "sso_gateway_scim_requests_total",
            &[
                ("resource", "users"),
                ("operation", "create"),
                ("status", "201")
            ]
        )
        .is_some_and(|v| v >= 1.0),
        "{text}"
    );
    // Latency by route pattern, never the raw path.
    assert!(
        sample(
            &s,
            "sso_gateway_http_request_duration_seconds_count",
            &[
                ("route", "/saml/{tenant}/acs"),
                ("method", "POST"),
                ("status", "303")
            ]
        )
        .is_some_and(|v| v >= 1.0),
        "{text}"
    );
    assert!(
        sample(
            &s,
            "sso_gateway_http_request_duration_seconds_bucket",
            &[("route", "/scim/v2/{tenant}/Users"), ("le", "+Inf")]
        )
        .is_some_and(|v| v >= 1.0),
        "{text}"
    );
    assert!(
        !s.iter().any(|x| x["labels"]["route"]
            .as_str()
            .is_some_and(|r| r.contains("obsm"))),
        "a raw path in a route label: {text}"
    );
    // Scrape-time gauges from this app's database: Jane's session, two assertion ids.
    assert_eq!(
        sample(&s, "sso_gateway_sessions_active", &[]),
        Some(1.0),
        "{text}"
    );
    assert_eq!(
        sample(&s, "sso_gateway_replay_cache_entries", &[]),
        Some(2.0),
        "{text}"
    );
    assert_eq!(sample(&s, "sso_gateway_database_up", &[]), Some(1.0));
    assert!(sample(&s, "sso_gateway_db_pool_max_connections", &[]).is_some_and(|v| v >= 1.0));
    assert!(sample(&s, "sso_gateway_db_pool_connections", &[]).is_some());
    assert!(sample(&s, "sso_gateway_db_pool_idle_connections", &[]).is_some());
    assert!(sample(&s, "sso_gateway_authn_requests_pending", &[]).is_some());
    assert!(sample(&s, "sso_gateway_admin_sessions_active", &[]).is_some());
    assert!(
        sample(
            &s,
            "sso_gateway_build_info",
            &[("version", env!("CARGO_PKG_VERSION"))]
        ) == Some(1.0)
    );
}

#[core::prelude::v1::test]
fn metrics_are_open_on_loopback_only_unless_a_token_is_set() {
    let open = |l: &str| matches!(MetricsAccess::for_listen(l, None), MetricsAccess::Open);
    assert!(open("127.0.0.1:8080"));
    assert!(open("127.3.4.5:80"));
    assert!(open("[::1]:8080"));
    assert!(open("localhost:8080"));
    assert!(!open("0.0.0.0:8080"));
    assert!(!open("[::]:8080"));
    assert!(!open("10.1.2.3:8080"));
    assert!(!open("gateway.internal:8080"));
    assert!(matches!(
        MetricsAccess::for_listen("0.0.0.0:8080", Some("t0k")),
        MetricsAccess::Token(t) if t == "t0k"
    ));
    assert!(matches!(
        MetricsAccess::for_listen("0.0.0.0:8080", Some("  ")),
        MetricsAccess::Closed
    ));
    assert_eq!(
        format!("{:?}", MetricsAccess::Token("secret".into())),
        "Token(***)"
    );
}

#[actix_web::test]
async fn metrics_token_and_closed_listener() {
    let e = env().await;
    let svc = service!(e.state, MetricsAccess::Token("s3cret-metrics".into()));
    let get = |auth: Option<&str>| {
        let mut r = test::TestRequest::get().uri("/metrics");
        if let Some(a) = auth {
            r = r.insert_header(("Authorization", a.to_string()));
        }
        r.to_request()
    };
    let r = test::call_service(&svc, get(None)).await;
    assert_eq!(r.status(), StatusCode::UNAUTHORIZED);
    assert!(r.headers().contains_key("www-authenticate"));
    let r = test::call_service(&svc, get(Some("Bearer wrong"))).await;
    assert_eq!(r.status(), StatusCode::UNAUTHORIZED);
    {
        let _turn = SCRAPE.lock().await;
        let r = test::call_service(&svc, get(Some("Bearer s3cret-metrics"))).await;
        assert_eq!(r.status(), StatusCode::OK);
    }

    // Open on loopback, but not through a proxy in front of it.
    let open = service!(e.state, MetricsAccess::Open);
    for h in ["X-Forwarded-For", "Forwarded"] {
        let r = test::call_service(
            &open,
            test::TestRequest::get()
                .uri("/metrics")
                .insert_header((h, "for=203.0.113.9"))
                .to_request(),
        )
        .await;
        assert_eq!(r.status(), StatusCode::FORBIDDEN, "{h}");
    }

    let closed = service!(e.state, MetricsAccess::Closed);
    let r = test::call_service(&closed, get(Some("Bearer s3cret-metrics"))).await;
    assert_eq!(r.status(), StatusCode::FORBIDDEN);
    let body = String::from_utf8(test::read_body(r).await.to_vec()).unwrap();
    assert!(body.contains("--metrics-token"), "{body}");
}

async fn readyz<S>(svc: &S) -> (StatusCode, Value)
where
    S: actix_web::dev::Service<
            actix_http::Request,
            Response = actix_web::dev::ServiceResponse,
            Error = actix_web::Error,
        >,
{
    let r = test::call_service(svc, test::TestRequest::get().uri("/readyz").to_request()).await;
    let status = r.status();
    (status, test::read_body_json(r).await)
}

fn check<'a>(body: &'a Value, name: &str) -> &'a Value {
    body["checks"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["name"] == name)
        .unwrap_or_else(|| panic!("no {name} check in {body}"))
}

#[actix_web::test]
async fn readyz_checks_the_database_and_the_keys() {
    let e = env().await;
    add_tenant(&e.db, "obsr", "idp-metadata.xml", false).await;
    let svc = service!(e.state, MetricsAccess::Open);
    let (status, body) = readyz(&svc).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["status"], "ready");
    assert_eq!(check(&body, "database")["ok"], true);
    assert_eq!(check(&body, "keys")["ok"], true);

    // Keys generated under this master key (the metadata needs them) ...
    let r = test::call_service(
        &svc,
        test::TestRequest::get()
            .uri("/saml/obsr/metadata")
            .to_request(),
    )
    .await;
    assert_eq!(r.status(), StatusCode::OK);
    let (status, body) = readyz(&svc).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(
        check(&body, "keys")["detail"],
        "the master key opens the stored SP keys"
    );
    // ... that another master key cannot open: not ready.
    let mut wrong = e.state.clone();
    wrong.keys = std::sync::Arc::new(sso_gateway::keyring::Keyring::new(
        sso_gateway::keyring::MasterKey::random().unwrap(),
        sso_gateway::keyring::KeyScope::PerTenant,
        2048,
    ));
    let other = service!(wrong, MetricsAccess::Open);
    let (status, body) = readyz(&other).await;
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE, "{body}");
    assert_eq!(body["status"], "not ready");
    assert_eq!(check(&body, "database")["ok"], true);
    assert_eq!(check(&body, "keys")["ok"], false);
    assert!(
        check(&body, "keys")["error"]
            .as_str()
            .unwrap()
            .contains("master"),
        "{body}"
    );

    // The database gone (its pool closed): not ready, and the failing check says so.
    e.db.close().await;
    let (status, body) = readyz(&svc).await;
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE, "{body}");
    assert_eq!(body["status"], "not ready");
    assert_eq!(check(&body, "database")["ok"], false);
    assert!(check(&body, "database")["error"].as_str().is_some());
}

/// Collect a child's pipe on a thread (so a full pipe never blocks the server).
fn drain(mut pipe: impl std::io::Read + Send + 'static) -> std::thread::JoinHandle<String> {
    std::thread::spawn(move || {
        let mut s = String::new();
        let _ = pipe.read_to_string(&mut s);
        s
    })
}

#[actix_web::test]
async fn serve_writes_only_json_lines_and_every_request_line_has_a_request_id() {
    let dir = crate::common::scratch_dir("obs-serve");
    let port = crate::cluster::free_port();
    let base = format!("http://127.0.0.1:{port}");
    let token_file = dir.join("metrics-token");
    std::fs::write(&token_file, "obs-metrics-token\n").unwrap();
    let mut child = Command::new(env!("CARGO_BIN_EXE_sso-gateway"))
        .args(["serve", "--demo", "--listen", &format!("127.0.0.1:{port}")])
        .arg("--database")
        .arg(format!("sqlite://{}/x.db", dir.display()))
        .env_remove("SSO_GATEWAY_LOG_FORMAT")
        .env_remove("SSO_GATEWAY_LOG")
        .env_remove("RUST_LOG")
        .env_remove("SSO_GATEWAY_METRICS_TOKEN")
        // Known to the configuration's check of SSO_GATEWAY_* variables.
        .env("SSO_GATEWAY_METRICS_TOKEN_FILE", &token_file)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let out = drain(child.stdout.take().unwrap());
    let err = drain(child.stderr.take().unwrap());
    let client = crate::cluster::client();
    let mut up = false;
    for _ in 0..400 {
        if let Ok(r) = client.get(format!("{base}/healthz")).send().await
            && r.status().is_success()
        {
            up = true;
            break;
        }
        actix_web::rt::time::sleep(Duration::from_millis(50)).await;
    }

    let mut statuses = vec![];
    if up {
        let r = client
            .get(format!("{base}/no/such/page"))
            .insert_header(("X-Request-Id", "obs-serve-404"))
            .send()
            .await
            .unwrap();
        assert_eq!(r.headers().get("x-request-id").unwrap(), "obs-serve-404");
        statuses.push(r.status().as_u16());
        // A sign-in that fails: not a SAML response at all.
        let r = client
            .post(format!("{base}/saml/demo/acs"))
            .send_form(&[("SAMLResponse", "bm90IGEgU0FNTCByZXNwb25zZQ==")])
            .await
            .unwrap();
        statuses.push(r.status().as_u16());
        let r = client.get(format!("{base}/metrics")).send().await.unwrap();
        statuses.push(r.status().as_u16());
        let mut r = client
            .get(format!("{base}/metrics"))
            .insert_header(("Authorization", "Bearer obs-metrics-token"))
            .send()
            .await
            .unwrap();
        statuses.push(r.status().as_u16());
        let text = String::from_utf8(r.body().await.unwrap().to_vec()).unwrap();
        if let Some(s) = parse_exposition(&text) {
            assert!(
                s.iter().any(|x| x["name"] == "sso_gateway_sign_ins_total"
                    && x["labels"]["tenant"] == "demo"
                    && x["labels"]["outcome"] != "success"),
                "{text}"
            );
        }
        let r = client.get(format!("{base}/readyz")).send().await.unwrap();
        statuses.push(r.status().as_u16());
    }
    // Stop it as an orchestrator would (SIGTERM), then make sure.
    let _ = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status();
    for _ in 0..100 {
        if child.try_wait().unwrap().is_some() {
            break;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    let _ = child.kill();
    let _ = child.wait();
    let (stdout, stderr) = (out.join().unwrap(), err.join().unwrap());
    assert!(up, "serve did not start:\n{stdout}\n{stderr}");
    assert_eq!(statuses, [404, 400, 401, 200, 200], "{stderr}");

    let mut lines = vec![];
    for (stream, text) in [("stdout", &stdout), ("stderr", &stderr)] {
        for l in text.lines() {
            let v: Value = serde_json::from_str(l)
                .unwrap_or_else(|e| panic!("{stream} line is not JSON ({e}): {l:?}\n{stderr}"));
            assert!(v.is_object() && v["level"].is_string(), "{stream}: {l}");
            assert!(v["message"].is_string(), "{stream}: {l}");
            lines.push(v);
        }
    }
    assert!(
        lines
            .iter()
            .any(|l| l["message"].as_str().unwrap().contains("listening on")),
        "the banner is JSON too:\n{stderr}"
    );
    let requests: Vec<&Value> = lines.iter().filter(|l| l["message"] == "request").collect();
    assert!(requests.len() >= 2, "{stderr}");
    for r in &requests {
        let id = r["request_id"].as_str().unwrap_or_default();
        assert!(!id.is_empty(), "a request line without a request id: {r}");
        assert_eq!(r["span"]["request_id"], id, "{r}");
        assert!(r["route"].is_string() && r["status"].is_u64(), "{r}");
    }
    assert!(
        requests.iter().any(|r| r["request_id"] == "obs-serve-404"
            && r["status"] == 404
            && r["route"] == "unmatched"),
        "{stderr}"
    );
    let acs = requests
        .iter()
        .find(|r| r["route"] == "/saml/{tenant}/acs")
        .unwrap_or_else(|| panic!("no ACS request line:\n{stderr}"));
    assert_eq!(acs["status"], 400);
    assert_eq!(acs["path"], "/saml/demo/acs");
    let incident = acs["span"]["incident"].as_str().unwrap();
    assert!(incident.starts_with("INC-"), "{acs}");
    // The refusal itself: same request id, same incident, a reason code; no payload.
    let refusal = lines
        .iter()
        .find(|l| l["event"] == "sign_in" && l["span"]["request_id"] == acs["request_id"])
        .unwrap_or_else(|| panic!("no sign_in event for the ACS request:\n{stderr}"));
    assert_eq!(refusal["incident"], incident);
    assert_eq!(refusal["tenant"], "demo");
    assert!(refusal["outcome"].is_string());
    assert!(
        !stderr.contains("bm90IGEgU0FNTCByZXNwb25zZQ") && !stderr.contains("not a SAML response"),
        "the SAMLResponse must not be logged"
    );
    let _ = std::fs::remove_dir_all(&dir);
}

#[core::prelude::v1::test]
fn serve_fails_in_json_too() {
    let mut child = Command::new(env!("CARGO_BIN_EXE_sso-gateway"))
        .args([
            "serve",
            "--log-format",
            "json",
            "--listen",
            "127.0.0.1:1",
            "--database",
            "mysql://nowhere/x",
        ])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut err = String::new();
    child
        .stderr
        .take()
        .unwrap()
        .read_to_string(&mut err)
        .unwrap();
    let status = child.wait().unwrap();
    assert!(!status.success());
    assert!(!err.trim().is_empty());
    for l in err.lines() {
        let v: Value = serde_json::from_str(l).unwrap_or_else(|e| panic!("{e}: {l}"));
        assert_eq!(v["level"], "ERROR", "{l}");
        assert!(
            v["message"]
                .as_str()
                .unwrap()
                .contains("unsupported database URL"),
            "{l}"
        );
    }
}

#[core::prelude::v1::test]
fn serve_fails_in_plain_text_with_log_format_text() {
    let o = Command::new(env!("CARGO_BIN_EXE_sso-gateway"))
        .args([
            "serve",
            "--log-format",
            "text",
            "--listen",
            "127.0.0.1:1",
            "--database",
            "mysql://nowhere/x",
        ])
        .output()
        .unwrap();
    assert!(!o.status.success());
    let err = String::from_utf8(o.stderr).unwrap();
    assert!(
        err.starts_with("sso-gateway serve: ") && err.contains("unsupported database URL"),
        "{err}"
    );
    assert!(serde_json::from_str::<Value>(err.lines().next().unwrap()).is_err());
}
