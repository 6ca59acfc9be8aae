//! The HTTP edge (issue 8): per-route body limits, rate limits with `Retry-After`, client
//! addresses through trusted proxies, security headers, and `serve` with a TOML file, TLS
//! and refused typos.

use std::process::{Command, Stdio};
use std::time::Duration;

use actix_web::http::StatusCode;
use actix_web::middleware::from_fn;
use actix_web::{App, test, web};
use sso_gateway::web::edge::{Edge, Rate, RateSettings, RouteClass, parse_proxies};

use crate::cluster::free_port;
use crate::common::scratch_dir;
use crate::web::{add_tenant, env};

macro_rules! edge_service {
    ($env:expr, $edge:expr) => {
        test::init_service(
            App::new()
                .app_data(web::Data::new($env.state.clone()))
                .app_data(web::Data::new($edge))
                .app_data(web::PayloadConfig::default().limit(4 * 1024 * 1024))
                .app_data(web::FormConfig::default().limit(4 * 1024 * 1024))
                .wrap(from_fn(sso_gateway::web::edge::guard))
                .wrap(sso_gateway::web::security_headers_for(false))
                .configure(|c| sso_gateway::web::configure(c, false)),
        )
        .await
    };
}

fn tight() -> RateSettings {
    let r = Rate {
        per_minute: 1,
        burst: 2,
    };
    RateSettings {
        login: r,
        acs: r,
        scim: r,
        admin_login: r,
    }
}

fn hdr(h: &actix_web::http::header::HeaderMap, name: &str) -> String {
    h.get(name)
        .map(|v| v.to_str().unwrap().to_string())
        .unwrap_or_default()
}

fn peer(ip: &str) -> std::net::SocketAddr {
    format!("{ip}:40000").parse().unwrap()
}

#[actix_web::test]
async fn bodies_over_a_routes_limit_get_413_declared_or_chunked() {
    let e = env().await;
    add_tenant(&e.db, "acme", "idp-metadata.xml", true).await;
    let svc = edge_service!(e, Edge::new(&RateSettings::default(), vec![]));
    let cases = [
        ("/login", RouteClass::Login),
        ("/admin/login", RouteClass::AdminLogin),
        ("/saml/acme/acs", RouteClass::Acs),
        ("/scim/v2/acme/Users", RouteClass::Scim),
        ("/admin/tenants/acme/users", RouteClass::Admin),
        ("/admin/tenants/acme/idp", RouteClass::AdminUpload),
    ];
    for (path, class) in cases {
        let limit = class.body_limit();
        // Declared too long: refused before the body is read.
        let r = test::call_service(
            &svc,
            test::TestRequest::post()
                .uri(path)
                .insert_header(("content-type", "application/x-www-form-urlencoded"))
                .set_payload(vec![b'a'; limit + 1])
                .to_request(),
        )
        .await;
        assert_eq!(r.status(), StatusCode::PAYLOAD_TOO_LARGE, "{path}");
        let text = String::from_utf8(test::read_body(r).await.to_vec()).unwrap();
        assert!(
            text.contains(&format!("{} KiB", limit / 1024)),
            "{path}: {text}"
        );
        // Chunked (no length): cut at the limit: 413 where the handler reads the body;
        // a handler that refuses before reading (no admin session) answers as it does
        // to a small body.
        let chunked = |n: usize| {
            let mut req = test::TestRequest::post()
                .uri(path)
                .insert_header(("content-type", "application/x-www-form-urlencoded"))
                .set_payload(vec![b'a'; n])
                .to_request();
            req.headers_mut().remove("content-length");
            req
        };
        let small = test::call_service(&svc, chunked(10)).await.status();
        let big = test::call_service(&svc, chunked(limit + 1)).await.status();
        assert!(
            big == StatusCode::PAYLOAD_TOO_LARGE || (big == small && !small.is_success()),
            "{path} chunked: {big} (small body: {small})"
        );
        if matches!(
            class,
            RouteClass::Login | RouteClass::Acs | RouteClass::Scim | RouteClass::AdminLogin
        ) {
            assert_eq!(big, StatusCode::PAYLOAD_TOO_LARGE, "{path} chunked");
        }
    }
    // At the limit an ACS post is read and judged on its content (not a SAML response).
    let r = test::call_service(
        &svc,
        test::TestRequest::post()
            .uri("/saml/acme/acs")
            .insert_header(("content-type", "application/x-www-form-urlencoded"))
            .set_payload(format!(
                "SAMLResponse={}",
                "A".repeat(RouteClass::Acs.body_limit() - 20)
            ))
            .to_request(),
    )
    .await;
    assert_eq!(r.status(), StatusCode::BAD_REQUEST);
}

#[actix_web::test]
async fn limited_routes_answer_429_with_retry_after_per_client_address() {
    let e = env().await;
    add_tenant(&e.db, "acme", "idp-metadata.xml", true).await;
    let svc = edge_service!(
        e,
        Edge::new(&tight(), parse_proxies(&["10.0.0.1".into()]).unwrap())
    );
    let routes: [(&str, &str); 4] = [
        ("POST", "/admin/login"),
        ("POST", "/saml/acme/acs"),
        ("GET", "/saml/acme/login"),
        ("GET", "/scim/v2/acme/Users"),
    ];
    for (i, (method, path)) in routes.into_iter().enumerate() {
        let ip = format!("198.51.100.{}", i + 1);
        let call = |ip: String| {
            let req = match method {
                "POST" => test::TestRequest::post().set_payload("x=1"),
                _ => test::TestRequest::get(),
            };
            req.uri(path)
                .insert_header(("content-type", "application/x-www-form-urlencoded"))
                .peer_addr(peer(&ip))
                .to_request()
        };
        for _ in 0..2 {
            let r = test::call_service(&svc, call(ip.clone())).await;
            assert_ne!(r.status(), StatusCode::TOO_MANY_REQUESTS, "{path}");
        }
        let r = test::call_service(&svc, call(ip.clone())).await;
        assert_eq!(r.status(), StatusCode::TOO_MANY_REQUESTS, "{path}");
        let retry: u64 = hdr(r.headers(), "retry-after").as_str().parse().unwrap();
        assert!((1..=60).contains(&retry), "{path}: Retry-After {retry}");
        let ctype = hdr(r.headers(), "content-type").as_str().to_string();
        let body = String::from_utf8(test::read_body(r).await.to_vec()).unwrap();
        assert!(body.contains("Retry after"), "{body}");
        if path.starts_with("/scim") {
            assert_eq!(ctype, "application/scim+json");
            let v: serde_json::Value = serde_json::from_str(&body).unwrap();
            assert_eq!(v["status"], "429");
        }
        // Another address is not affected.
        let r = test::call_service(&svc, call("192.0.2.200".to_string())).await;
        assert_ne!(r.status(), StatusCode::TOO_MANY_REQUESTS, "{path}");
    }
    // Unlimited routes stay open.
    for _ in 0..5 {
        let r = test::call_service(
            &svc,
            test::TestRequest::get()
                .uri("/healthz")
                .peer_addr(peer("198.51.100.1"))
                .to_request(),
        )
        .await;
        assert_eq!(r.status(), StatusCode::OK);
    }
    // X-Forwarded-For counts only through the trusted proxy: an untrusted client that
    // rotates the header still hits its own limit...
    for n in 0..3 {
        let r = test::call_service(
            &svc,
            test::TestRequest::post()
                .uri("/admin/login")
                .insert_header(("x-forwarded-for", format!("203.0.113.{n}")))
                .peer_addr(peer("198.51.100.77"))
                .set_payload("x=1")
                .to_request(),
        )
        .await;
        assert_eq!(r.status() == StatusCode::TOO_MANY_REQUESTS, n == 2);
    }
    // ...while behind the trusted proxy each client has its own.
    for n in 0..3 {
        let r = test::call_service(
            &svc,
            test::TestRequest::post()
                .uri("/admin/login")
                .insert_header(("x-forwarded-for", format!("203.0.113.{n}")))
                .peer_addr(peer("10.0.0.1"))
                .set_payload("x=1")
                .to_request(),
        )
        .await;
        assert_ne!(r.status(), StatusCode::TOO_MANY_REQUESTS);
    }
}

#[actix_web::test]
async fn security_headers_on_every_page() {
    let e = env().await;
    let svc = edge_service!(e, Edge::new(&RateSettings::default(), vec![]));
    for path in ["/", "/admin/login", "/healthz", "/api/session", "/nope"] {
        let r = test::call_service(&svc, test::TestRequest::get().uri(path).to_request()).await;
        let h = r.headers();
        let csp = hdr(h, "content-security-policy");
        for part in [
            "default-src 'self'",
            "script-src 'self'",
            "object-src 'none'",
            "frame-ancestors 'none'",
            "base-uri 'none'",
        ] {
            assert!(csp.contains(part), "{path}: {csp}");
        }
        assert!(!csp.contains("unsafe-inline"), "{path}");
        assert_eq!(hdr(h, "x-frame-options"), "DENY", "{path}");
        assert_eq!(hdr(h, "x-content-type-options"), "nosniff", "{path}");
        assert_eq!(hdr(h, "referrer-policy"), "same-origin", "{path}");
        assert_eq!(
            hdr(h, "cross-origin-opener-policy"),
            "same-origin",
            "{path}"
        );
        assert!(h.contains_key("permissions-policy"), "{path}");
        // Plain http here: no HSTS claim.
        assert!(!h.contains_key("strict-transport-security"), "{path}");
    }
    let https = test::init_service(
        App::new()
            .wrap(sso_gateway::web::security_headers_for(true))
            .configure(|c| sso_gateway::web::configure(c, false))
            .app_data(web::Data::new(e.state.clone())),
    )
    .await;
    let r = test::call_service(
        &https,
        test::TestRequest::get().uri("/healthz").to_request(),
    )
    .await;
    assert_eq!(
        hdr(r.headers(), "strict-transport-security"),
        "max-age=31536000; includeSubDomains"
    );
}

/// Run `serve` with these args and env; returns (exit status or None if still running,
/// stderr) after waiting up to `secs`.
fn serve_once(args: &[&str], env: &[(&str, &str)], secs: u64) -> (Option<i32>, String) {
    let dir = scratch_dir("serve-once");
    let err = dir.join("stderr");
    let mut child = Command::new(env!("CARGO_BIN_EXE_sso-gateway"))
        .arg("serve")
        .args(args)
        .envs(env.iter().copied())
        .env_remove("SSO_GATEWAY_CONFIG")
        .stdout(Stdio::null())
        .stderr(std::fs::File::create(&err).unwrap())
        .spawn()
        .unwrap();
    let mut code = None;
    for _ in 0..secs * 10 {
        if let Some(s) = child.try_wait().unwrap() {
            code = s.code();
            break;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    let _ = child.kill();
    let _ = child.wait();
    (code, std::fs::read_to_string(err).unwrap_or_default())
}

#[core::prelude::v1::test]
fn serve_refuses_unknown_keys_and_variables_by_name() {
    let dir = scratch_dir("config-typo");
    let cfg = dir.join("gw.toml");
    std::fs::write(
        &cfg,
        "[server]\nlisten = \"127.0.0.1:1\"\npublic_ulr = \"x\"\n",
    )
    .unwrap();
    let (code, err) = serve_once(&["--config", cfg.to_str().unwrap()], &[], 20);
    assert_eq!(code, Some(2), "{err}");
    assert!(err.contains("public_ulr"), "{err}");
    let (code, err) = serve_once(&[], &[("SSO_GATEWAY_LISTN", "127.0.0.1:1")], 20);
    assert_eq!(code, Some(2), "{err}");
    assert!(err.contains("SSO_GATEWAY_LISTN"), "{err}");
    let (code, err) = serve_once(
        &[
            "--tls-cert",
            "/nonexistent.pem",
            "--tls-key",
            "/nonexistent.key",
        ],
        &[],
        20,
    );
    assert_eq!(code, Some(2), "{err}");
    assert!(err.contains("nonexistent"), "{err}");
}

#[core::prelude::v1::test]
fn serve_over_tls_from_a_toml_file() {
    let dir = scratch_dir("tls");
    let (cert, key) = (dir.join("cert.pem"), dir.join("key.pem"));
    let ok = Command::new("openssl")
        .args([
            "req",
            "-x509",
            "-newkey",
            "ec",
            "-pkeyopt",
            "ec_paramgen_curve:P-256",
        ])
        .args(["-nodes", "-days", "2", "-subj", "/CN=127.0.0.1"])
        .args(["-addext", "subjectAltName=IP:127.0.0.1"])
        .arg("-keyout")
        .arg(&key)
        .arg("-out")
        .arg(&cert)
        .stderr(Stdio::null())
        .status()
        .unwrap();
    assert!(ok.success());
    let port = free_port();
    let cfg = dir.join("gw.toml");
    std::fs::write(
        &cfg,
        format!(
            "[server]\nlisten = \"127.0.0.1:{port}\"\ntls_cert = \"{}\"\ntls_key = \"{}\"\n\
             [database]\nurl = \"sqlite://{}/gw.db\"\n[rate_limits.admin_login]\nper_minute = 1\nburst = 1\n",
            cert.display(),
            key.display(),
            dir.display()
        ),
    )
    .unwrap();
    let log = dir.join("serve.log");
    let mut child = Command::new(env!("CARGO_BIN_EXE_sso-gateway"))
        .args(["serve", "--demo", "--config", cfg.to_str().unwrap()])
        .stdout(std::fs::File::create(&log).unwrap())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let curl = |args: &[&str]| -> (String, String) {
        let o = Command::new("curl")
            .args(["-s", "--cacert", cert.to_str().unwrap(), "-D", "-"])
            .args(args)
            .output()
            .unwrap();
        let text = String::from_utf8_lossy(&o.stdout).to_string();
        let (head, body) = text.split_once("\r\n\r\n").unwrap_or((&text, ""));
        (head.to_lowercase(), body.to_string())
    };
    let base = format!("https://127.0.0.1:{port}");
    let mut up = false;
    for _ in 0..300 {
        if curl(&[&format!("{base}/healthz")]).0.starts_with("http/") {
            up = true;
            break;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    let outcome = std::panic::catch_unwind(|| {
        assert!(up, "{}", std::fs::read_to_string(&log).unwrap_or_default());
        // The certificate verifies (curl checks it against --cacert), HSTS is on, and the
        // public URL defaults to https.
        let (head, _) = curl(&[&format!("{base}/healthz")]);
        assert!(
            head.contains("strict-transport-security: max-age=31536000"),
            "{head}"
        );
        let (_, md) = curl(&[&format!("{base}/saml/demo/metadata")]);
        assert!(
            md.contains(&format!("Location=\"{base}/saml/demo/acs\"")),
            "{md}"
        );
        // The file's admin-login limit applies: one per minute.
        let post = |n: u8| {
            curl(&[
                "-X",
                "POST",
                "-d",
                &format!("email=x{n}"),
                &format!("{base}/admin/login"),
            ])
            .0
        };
        let first = post(1);
        assert!(!first.contains(" 429"), "{first}");
        let second = post(2);
        assert!(
            second.starts_with("http/1.1 429") || second.starts_with("http/2 429"),
            "{second}"
        );
        assert!(second.contains("retry-after: "), "{second}");
        // Plain http on the TLS port is not served.
        let o = Command::new("curl")
            .args([
                "-s",
                "-o",
                "/dev/null",
                "-w",
                "%{http_code}",
                &format!("http://127.0.0.1:{port}/healthz"),
            ])
            .output()
            .unwrap();
        assert_ne!(String::from_utf8_lossy(&o.stdout), "200");
    });
    let _ = child.kill();
    let _ = child.wait();
    if let Err(e) = outcome {
        std::panic::resume_unwind(e);
    }
}
