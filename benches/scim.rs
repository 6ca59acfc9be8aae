//! SCIM load figures through real HTTP on loopback: users created per second, and the
//! latency (p50, p99) of Okta's `userName eq` lookup with 100,000 users in SQLite.
//! Run: `cargo bench --bench scim` (SCIM_BENCH_USERS, SCIM_BENCH_CREATES to resize).
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use std::collections::HashMap;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::sync::Arc;
use std::time::{Duration, Instant};

use actix_web::{App, HttpServer, web};
use sso_gateway::app::AppState;
use sso_gateway::clock::SystemClock;
use sso_gateway::session::token::TokenKey;
use sso_gateway::store::{Db, NewTenant};

/// A minimal keep-alive HTTP/1.1 client (enough for JSON requests to our own server).
struct Client {
    reader: BufReader<TcpStream>,
    writer: TcpStream,
    token: String,
}

impl Client {
    fn connect(addr: &str, token: &str) -> Self {
        let s = TcpStream::connect(addr).unwrap();
        s.set_nodelay(true).unwrap();
        Client {
            reader: BufReader::new(s.try_clone().unwrap()),
            writer: s,
            token: token.into(),
        }
    }

    fn request(&mut self, method: &str, path: &str, body: Option<&str>) -> (u16, String) {
        let body = body.unwrap_or("");
        write!(
            self.writer,
            "{method} {path} HTTP/1.1\r\nHost: bench\r\nAuthorization: Bearer {}\r\nContent-Type: application/scim+json\r\nContent-Length: {}\r\n\r\n{body}",
            self.token,
            body.len()
        )
        .unwrap();
        let mut line = String::new();
        self.reader.read_line(&mut line).unwrap();
        let status: u16 = line.split_whitespace().nth(1).unwrap().parse().unwrap();
        let mut len = 0usize;
        loop {
            line.clear();
            self.reader.read_line(&mut line).unwrap();
            if line == "\r\n" {
                break;
            }
            if let Some((k, v)) = line.split_once(':')
                && k.eq_ignore_ascii_case("content-length")
            {
                len = v.trim().parse().unwrap();
            }
        }
        let mut buf = vec![0u8; len];
        self.reader.read_exact(&mut buf).unwrap();
        (status, String::from_utf8(buf).unwrap())
    }
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    sorted[((sorted.len() as f64 - 1.0) * p).round() as usize]
}

fn main() {
    let users: usize = std::env::var("SCIM_BENCH_USERS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(100_000);
    let creates: usize = std::env::var("SCIM_BENCH_CREATES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(2_000);
    if std::env::args().any(|a| a == "--test") {
        println!("scim bench: skipped in --test mode");
        return;
    }
    let dir = std::env::temp_dir().join(format!("sso-gw-scim-bench-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let url = format!("sqlite://{}/bench.db", dir.display());
    let (tx, rx) = std::sync::mpsc::channel();
    let url2 = url.clone();
    std::thread::spawn(move || {
        let url = url2;
        let sys = actix_web::rt::System::new();
        let (addr, token, db) = sys.block_on(async {
            let db = Db::connect(&url).await.unwrap();
            let md = sso_gateway::saml::IdpMetadata::parse(
                &std::fs::read("tests/fixtures/idp-metadata.xml").unwrap(),
            )
            .unwrap();
            let t = db
                .create_tenant(
                    &NewTenant {
                        slug: "bench".into(),
                        display_name: "Bench".into(),
                        idp_entity_id: md.entity_id.clone(),
                        idp_sso_url: md.sso_url.clone(),
                        idp_slo_url: None,
                        allow_idp_initiated: false,
                        email_domains: vec![],
                        allowed_return_urls: vec![],
                        certificates: md
                            .signing_certificates
                            .iter()
                            .map(|c| c.der_base64().to_string())
                            .collect(),
                    },
                    sso_gateway::clock::Clock::now(&SystemClock),
                )
                .await
                .unwrap();
            let (_, token) = sso_gateway::web::scim::issue_token(
                &db,
                t.id,
                "bench",
                sso_gateway::clock::Clock::now(&SystemClock),
            )
            .await
            .unwrap();
            let state = AppState {
                db: db.clone(),
                clock: Arc::new(SystemClock),
                public_url: "http://bench".into(),
                token_key: Arc::new(TokenKey::generate().unwrap()),
                demo: None,
                app_urls: HashMap::new(),
                scim_limiter: sso_gateway::web::scim::rate_limiter(1_000_000, 1_000_000),
                trust: Default::default(),
                allow_http_metadata: false,
                keys: std::sync::Arc::new(sso_gateway::keyring::Keyring::new(
                    sso_gateway::keyring::MasterKey::random().unwrap(),
                    sso_gateway::keyring::KeyScope::PerTenant,
                    2048,
                )),
            };
            let data = web::Data::new(state);
            let server = HttpServer::new(move || {
                App::new()
                    .app_data(data.clone())
                    .configure(|c| sso_gateway::web::configure(c, false))
            })
            .workers(1)
            .bind("127.0.0.1:0")
            .unwrap();
            let addr = server.addrs()[0].to_string();
            actix_web::rt::spawn(server.run());
            (addr, token, db)
        });
        let _ = db;
        tx.send((addr, token)).unwrap();
        sys.run().unwrap();
    });
    let (addr, token): (String, String) = rx.recv().unwrap();
    std::thread::sleep(Duration::from_millis(200));
    let mut c = Client::connect(&addr, &token);

    // 1. Users created per second through HTTP (one connection, sequential, Okta-shaped bodies).
    let t0 = Instant::now();
    for i in 0..creates {
        let body = format!(
            r#"{{"schemas":["urn:ietf:params:scim:schemas:core:2.0:User"],"userName":"http.user{i}@bench.example","name":{{"givenName":"U","familyName":"{i}"}},"emails":[{{"primary":true,"value":"http.user{i}@bench.example","type":"work"}}],"active":true,"password":"x"}}"#
        );
        let (s, _) = c.request("POST", "/scim/v2/bench/Users", Some(&body));
        assert_eq!(s, 201);
    }
    let el = t0.elapsed();
    println!(
        "scim/create_user_http: {creates} users in {:.2} s = {:.0} users/s (1 connection, synchronous=FULL WAL)",
        el.as_secs_f64(),
        creates as f64 / el.as_secs_f64()
    );

    // 2. Fill to `users` through SCIM POSTs on 4 connections, then measure lookups.
    let remaining = users.saturating_sub(creates);
    let t0 = Instant::now();
    let threads: Vec<_> = (0..4)
        .map(|w| {
            let (addr, token) = (addr.clone(), token.clone());
            std::thread::spawn(move || {
                let mut c = Client::connect(&addr, &token);
                for i in (w..remaining).step_by(4) {
                    let body = format!(r#"{{"userName":"fill{i}@bench.example","name":{{"givenName":"F","familyName":"{i}"}},"active":true}}"#);
                    let (s, _) = c.request("POST", "/scim/v2/bench/Users", Some(&body));
                    assert_eq!(s, 201);
                }
            })
        })
        .collect();
    for t in threads {
        t.join().unwrap();
    }
    let el = t0.elapsed();
    println!(
        "scim/create_user_http_4conn: {remaining} users in {:.1} s = {:.0} users/s (4 connections)",
        el.as_secs_f64(),
        remaining as f64 / el.as_secs_f64().max(1e-9)
    );

    // A fresh connection: the first one idled past the server's keep-alive during the fill.
    let mut c = Client::connect(&addr, &token);
    let mut lat = Vec::new();
    let n = 2_000;
    for k in 0..n {
        let i = (k * 7919) % remaining.max(1);
        let path = format!(
            "/scim/v2/bench/Users?filter=userName%20eq%20%22FILL{i}%40bench.example%22&startIndex=1&count=100"
        );
        let t = Instant::now();
        let (s, body) = c.request("GET", &path, None);
        lat.push(t.elapsed());
        assert_eq!(s, 200);
        assert!(body.contains("\"totalResults\":1"), "{body}");
    }
    lat.sort();
    println!(
        "scim/username_eq_lookup_http: {users} users, {n} lookups: p50 {:.3} ms, p99 {:.3} ms, max {:.3} ms",
        percentile(&lat, 0.50).as_secs_f64() * 1e3,
        percentile(&lat, 0.99).as_secs_f64() * 1e3,
        lat.last().unwrap().as_secs_f64() * 1e3
    );
    let _ = std::fs::remove_dir_all(&dir);
}
