//! Where one verification's time goes (issue 9's profile, by phase): the cost of each
//! step of `verify_response` on the assertion-signed Okta fixture, timed alone, next to
//! the whole verification and one RSA-2048 verify. Prints one table; no assertions.
//!
//! Run: `cargo bench --bench phases`.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]

use std::hint::black_box;
use std::path::Path;
use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use sso_gateway::saml::c14n::{self, Options};
use sso_gateway::saml::xml::{self, Limits};
use sso_gateway::saml::{
    IdpMetadata, ReplayCache, ReplayStoreError, SpSettings, VerifyContext, verify_response,
};

struct NoReplay;
impl ReplayCache for NoReplay {
    fn check_and_record(
        &mut self,
        _: &str,
        _: &str,
        _: DateTime<Utc>,
        _: DateTime<Utc>,
    ) -> Result<bool, ReplayStoreError> {
        Ok(true)
    }
}

fn fixture(rel: &str) -> Vec<u8> {
    std::fs::read(
        Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("tests/fixtures")
            .join(rel),
    )
    .unwrap()
}

/// Microseconds per call of `f`, the median of 5 runs of about 300 ms.
fn micros(mut f: impl FnMut()) -> f64 {
    let mut runs = Vec::new();
    for _ in 0..5 {
        for _ in 0..50 {
            f();
        }
        let start = Instant::now();
        let mut n = 0u64;
        while start.elapsed() < Duration::from_millis(300) {
            for _ in 0..16 {
                f();
            }
            n += 16;
        }
        runs.push(start.elapsed().as_secs_f64() * 1e6 / n as f64);
    }
    runs.sort_by(f64::total_cmp);
    runs[2]
}

fn main() {
    let file = std::env::var("PHASES_FIXTURE")
        .unwrap_or_else(|_| "responses/okta-assertion-signed.xml".to_string());
    let bytes = fixture(&file);
    let limits = Limits::default();
    let doc = xml::parse(&bytes, &limits).unwrap();
    let assertion = doc
        .child_elements(doc.root())
        .find(|(_, e)| e.local == "Assertion")
        .map(|(n, _)| n)
        .unwrap();
    let signature = doc
        .child_elements(assertion)
        .find(|(_, e)| e.local == "Signature")
        .map(|(n, _)| n)
        .unwrap();
    let signed_info = doc.child_elements(signature).next().unwrap().0;
    let opts = Options {
        with_comments: false,
        inclusive_prefixes: &[],
        exclude: Some(signature),
    };
    let canonical = c14n::canonicalize(&doc, assertion, &opts);

    let trust = IdpMetadata::parse(&fixture("idp-metadata.xml"))
        .unwrap()
        .trust()
        .unwrap();
    let sp = SpSettings::new(
        "https://sso.example.test/saml/acme/metadata",
        "https://sso.example.test/saml/acme/acs",
    );
    let now = DateTime::parse_from_rfc3339("2026-06-01T12:01:00Z")
        .unwrap()
        .with_timezone(&Utc);
    let ids = vec!["_8f1c2a9e4b7d4c3e9a0b1c2d3e4f5a6b".to_string()];

    let key = openssl::pkey::PKey::from_rsa(openssl::rsa::Rsa::generate(2048).unwrap()).unwrap();
    let msg = vec![7u8; 700];
    let sig = {
        let mut s =
            openssl::sign::Signer::new(openssl::hash::MessageDigest::sha256(), &key).unwrap();
        s.sign_oneshot_to_vec(&msg).unwrap()
    };

    let rows: Vec<(&str, f64)> = vec![
        (
            "verify_response (whole)",
            micros(|| {
                let mut ctx = VerifyContext {
                    now,
                    request_ids: &ids,
                    replay_cache: &mut NoReplay,
                };
                black_box(verify_response(black_box(&bytes), &sp, &trust, &mut ctx).unwrap());
            }),
        ),
        (
            "parse whole response",
            micros(|| {
                black_box(xml::parse(black_box(&bytes), &limits).unwrap());
            }),
        ),
        (
            "c14n signed element",
            micros(|| {
                black_box(c14n::canonicalize(&doc, assertion, &opts));
            }),
        ),
        (
            "c14n SignedInfo",
            micros(|| {
                black_box(c14n::canonicalize(&doc, signed_info, &Options::default()));
            }),
        ),
        (
            "sha256 of the canonical bytes",
            micros(|| {
                black_box(
                    openssl::hash::hash(
                        openssl::hash::MessageDigest::sha256(),
                        black_box(canonical.as_bytes()),
                    )
                    .unwrap(),
                );
            }),
        ),
        (
            "re-parse the verified bytes",
            micros(|| {
                black_box(xml::parse(black_box(canonical.as_bytes()), &limits).unwrap());
            }),
        ),
        (
            "RSA-2048 verify (openssl::sign::Verifier)",
            micros(|| {
                let mut v =
                    openssl::sign::Verifier::new(openssl::hash::MessageDigest::sha256(), &key)
                        .unwrap();
                black_box(v.verify_oneshot(&sig, &msg).unwrap());
            }),
        ),
    ];
    println!(
        "PHASES {} ({} bytes; canonical assertion {} bytes)",
        file,
        bytes.len(),
        canonical.len()
    );
    for (name, us) in rows {
        println!("PHASE {name:<44} {us:>8.2} us");
    }
}
