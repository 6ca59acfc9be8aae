//! Peer figure for issue 9: samael 0.0.22 (our dependency, default feature `xmlsec`, so
//! libxmlsec1/libxml2 do the XML-DSig) validating the same response files as
//! `benches/verify.rs`, as a ratio to RSA-2048 verifications per second measured
//! alternately in the same process. Only our code calling samael's public API; no peer
//! code is vendored. `scripts/bench-peers` runs it next to python3-saml and node-saml.
//!
//! Run: `cargo bench --bench peer_samael`.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use std::hint::black_box;
use std::path::Path;
use std::time::{Duration, Instant};

use samael::metadata::EntityDescriptor;
use samael::service_provider::ServiceProvider;

const SHAPES: &[(&str, &str)] = &[
    ("okta_response_signed", "responses/okta-response-signed.xml"),
    (
        "okta_assertion_signed",
        "responses/okta-assertion-signed.xml",
    ),
    ("okta_both_signed", "responses/okta-both-signed.xml"),
    ("large_assertion_signed", "responses/large-response.xml"),
    (
        "okta_200_attributes_assertion_signed",
        "bench/okta-200-attributes.xml",
    ),
];

fn fixture(rel: &str) -> String {
    std::fs::read_to_string(
        Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("tests/fixtures")
            .join(rel),
    )
    .unwrap()
}

fn rate(mut f: impl FnMut(), d: Duration) -> f64 {
    for _ in 0..5 {
        f();
    }
    let start = Instant::now();
    let mut n = 0u64;
    while start.elapsed() < d {
        f();
        n += 1;
    }
    n as f64 / start.elapsed().as_secs_f64()
}

fn median(v: &mut [f64]) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

fn main() {
    let idp: EntityDescriptor = fixture("idp-metadata.xml").parse().unwrap();
    // The fixtures are dated 2026-06-01; samael reads the clock itself, so its time
    // windows are opened wide (the checks still run).
    let sp = ServiceProvider {
        entity_id: Some("https://sso.example.test/saml/acme/metadata".into()),
        acs_url: Some("https://sso.example.test/saml/acme/acs".into()),
        idp_metadata: idp,
        max_issue_delay: chrono::Duration::days(36500),
        max_clock_skew: chrono::Duration::days(36500),
        ..ServiceProvider::default()
    };
    let ids = ["_8f1c2a9e4b7d4c3e9a0b1c2d3e4f5a6b"];

    let key = openssl::pkey::PKey::from_rsa(openssl::rsa::Rsa::generate(2048).unwrap()).unwrap();
    let msg = vec![7u8; 700];
    let sig = openssl::sign::Signer::new(openssl::hash::MessageDigest::sha256(), &key)
        .unwrap()
        .sign_oneshot_to_vec(&msg)
        .unwrap();
    let floor = || {
        let mut v =
            openssl::sign::Verifier::new(openssl::hash::MessageDigest::sha256(), &key).unwrap();
        assert!(v.verify_oneshot(black_box(&sig), &msg).unwrap());
    };

    println!("PEER samael 0.0.22 (xmlsec), single thread");
    let slice = Duration::from_millis(300);
    for (name, file) in SHAPES {
        let xml = fixture(file);
        if let Err(e) = sp.parse_xml_response(&xml, Some(&ids)) {
            println!("RATIO samael {name:<38} {:>7} refused: {e}", xml.len());
            continue;
        }
        let (mut rates, mut ratios) = (Vec::new(), Vec::new());
        for _ in 0..5 {
            let before = rate(floor, slice);
            let r = rate(
                || {
                    black_box(sp.parse_xml_response(black_box(&xml), Some(&ids)).unwrap());
                },
                slice,
            );
            let after = rate(floor, slice);
            rates.push(r);
            ratios.push(2.0 * r / (before + after));
        }
        println!(
            "RATIO samael {name:<38} {:>7} {:>10.0} {:>7.2} %",
            xml.len(),
            median(&mut rates),
            median(&mut ratios) * 100.0
        );
    }
}
