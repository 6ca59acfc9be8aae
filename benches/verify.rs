//! Verifications per second for an Okta-shaped response (~8 KB), a large one (~56 KB)
//! and encrypted ones (one RSA-2048 decryption more), plus the RSA-2048 verify alone for
//! comparison.
//! Run: `cargo bench --bench verify`.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use std::hint::black_box;
use std::path::Path;

use chrono::{DateTime, Utc};
use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use sso_gateway::saml::{
    DecryptionKey, IdpMetadata, ReplayCache, ReplayStoreError, SpSettings, VerifyContext,
    verify_response,
};

/// Accepts every assertion ID, so one fixture can be verified repeatedly.
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

fn bench(c: &mut Criterion) {
    let trust = IdpMetadata::parse(&fixture("idp-metadata.xml"))
        .unwrap()
        .trust()
        .unwrap();
    let mut sp = SpSettings::new(
        "https://sso.example.test/saml/acme/metadata",
        "https://sso.example.test/saml/acme/acs",
    );
    // For the encrypted fixtures (issue 7): one RSA-2048 private-key operation each.
    sp.decryption_keys = vec![DecryptionKey::from_pem(&fixture("keys/sp-enc.key")).unwrap()];
    let now = DateTime::parse_from_rfc3339("2026-06-01T12:01:00Z")
        .unwrap()
        .with_timezone(&Utc);
    let ids = vec!["_8f1c2a9e4b7d4c3e9a0b1c2d3e4f5a6b".to_string()];

    let mut group = c.benchmark_group("verify_response");
    for (name, file) in [
        ("okta_response_signed", "responses/okta-response-signed.xml"),
        ("okta_both_signed", "responses/okta-both-signed.xml"),
        ("large_assertion_signed", "responses/large-response.xml"),
        (
            "okta_encrypted_response_signed_aes256_cbc",
            "encrypted/okta-response-signed-aes256-cbc-mgf1p-sha1.xml",
        ),
        (
            "okta_encrypted_both_signed_aes256_gcm",
            "encrypted/okta-both-signed-aes256-gcm-mgf1p-sha1.xml",
        ),
    ] {
        let bytes = fixture(file);
        group.throughput(Throughput::Elements(1));
        group.bench_function(format!("{name}_{}KB", bytes.len() / 1024), |b| {
            b.iter(|| {
                let mut ctx = VerifyContext {
                    now,
                    request_ids: &ids,
                    replay_cache: &mut NoReplay,
                };
                verify_response(black_box(&bytes), &sp, &trust, &mut ctx).unwrap()
            })
        });
    }
    group.finish();

    // The floor: one RSA-2048 PKCS#1 v1.5 SHA-256 verification of a small message.
    let key = openssl::pkey::PKey::from_rsa(openssl::rsa::Rsa::generate(2048).unwrap()).unwrap();
    let msg = vec![7u8; 700];
    let mut signer =
        openssl::sign::Signer::new(openssl::hash::MessageDigest::sha256(), &key).unwrap();
    let sig = signer.sign_oneshot_to_vec(&msg).unwrap();
    let mut group = c.benchmark_group("floor");
    group.throughput(Throughput::Elements(1));
    group.bench_function("rsa2048_sha256_verify", |b| {
        b.iter(|| {
            let mut v =
                openssl::sign::Verifier::new(openssl::hash::MessageDigest::sha256(), &key).unwrap();
            assert!(v.verify_oneshot(black_box(&sig), &msg).unwrap());
        })
    });
    group.finish();
}

criterion_group! {
    name = benches;
    config = Criterion::default().sample_size(30).measurement_time(std::time::Duration::from_secs(4));
    targets = bench
}
criterion_main!(benches);
