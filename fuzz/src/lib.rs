//! Shared pieces of the fuzz targets: the test IdP trust and fixed verification inputs,
//! the known-good verified values of the signed fixtures (the oracle of the
//! `verify_response` target), and a structure-aware XML mutator.
//!
//! Fuzz code may panic: a panic is how a fuzz target reports a finding.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

pub mod xmlmut;

use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use chrono::{DateTime, Utc};
use sso_gateway::saml::{
    IdpMetadata, IdpTrust, InMemoryReplayCache, SamlError, SpSettings, VerifiedAssertion,
    VerifyContext, verify_response,
};

pub const SP_ENTITY_ID: &str = "https://sso.example.test/saml/acme/metadata";
pub const ACS_URL: &str = "https://sso.example.test/saml/acme/acs";
pub const REQUEST_ID: &str = "_8f1c2a9e4b7d4c3e9a0b1c2d3e4f5a6b";
/// The fixture clock (tests/fixtures/manifest.json `now`).
pub const NOW: &str = "2026-06-01T12:01:00Z";

/// The signed fixtures the verify_response target starts from (all verify under
/// [`sp`] + [`trust`] at [`NOW`]).
pub const SIGNED_FIXTURES: &[&str] = &[
    "responses/okta-response-signed.xml",
    "responses/okta-assertion-signed.xml",
    "responses/okta-both-signed.xml",
    "responses/ecdsa-sha256.xml",
    "responses/ecdsa-sha384.xml",
    "responses/exc-c14n-with-comments.xml",
    "responses/keyinfo-absent.xml",
    "responses/keyinfo-foreign-cert.xml",
    "responses/rsa-sha384.xml",
    "responses/rsa-sha512.xml",
    "responses/sha1.xml",
    "responses/signed-by-next-key.xml",
    "responses/unsolicited-assertion-signed.xml",
    "responses/okta-response-signed.b64",
];

pub fn fixtures_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../tests/fixtures")
}

pub fn fixture(rel: &str) -> Vec<u8> {
    std::fs::read(fixtures_dir().join(rel)).unwrap_or_else(|e| panic!("fixture {rel}: {e}"))
}

pub fn now() -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(NOW)
        .unwrap()
        .with_timezone(&Utc)
}

/// The SP: unsolicited responses and SHA-1 allowed, so that every signed fixture
/// verifies and the fuzzer starts from the deepest path. (The policy switches are not
/// what the oracle checks: it checks that accepted values were signed.)
pub fn sp() -> SpSettings {
    let mut sp = SpSettings::new(SP_ENTITY_ID, ACS_URL);
    sp.allow_unsolicited = true;
    sp.allow_sha1 = true;
    sp
}

/// The test IdP trusting its current, next (rollover) and EC certificates.
pub fn trust() -> &'static IdpTrust {
    static T: OnceLock<IdpTrust> = OnceLock::new();
    T.get_or_init(|| {
        let mut certs = Vec::new();
        let mut entity = String::new();
        for m in ["idp-metadata-rollover.xml", "idp-metadata-ec.xml"] {
            let md = IdpMetadata::parse(&fixture(m)).unwrap();
            entity = md.entity_id.clone();
            certs.extend(md.signing_certificates);
        }
        IdpTrust::new(entity, certs).unwrap()
    })
}

pub fn verify(input: &[u8]) -> Result<VerifiedAssertion, SamlError> {
    let mut cache = InMemoryReplayCache::new();
    let ids = vec![REQUEST_ID.to_string()];
    let mut ctx = VerifyContext {
        now: now(),
        request_ids: &ids,
        replay_cache: &mut cache,
    };
    verify_response(input, &sp(), trust(), &mut ctx)
}

/// Everything a relying party reads from a verified assertion.
pub fn identity(a: &VerifiedAssertion) -> String {
    format!(
        "{:?}",
        (
            a.issuer(),
            a.assertion_id(),
            a.name_id(),
            a.name_id_format(),
            a.session_index(),
            a.authn_instant(),
            a.authn_context_class(),
            a.session_not_on_or_after(),
            a.not_on_or_after(),
            a.in_response_to(),
            a.attributes(),
        )
    )
}

/// The identities of the signed fixtures: whatever the verifier accepts must be one
/// of these (a mutated document may only be accepted with exactly the signed values).
pub fn signed_identities() -> &'static Vec<String> {
    static S: OnceLock<Vec<String>> = OnceLock::new();
    S.get_or_init(|| {
        SIGNED_FIXTURES
            .iter()
            .map(|f| {
                let a = verify(&fixture(f))
                    .unwrap_or_else(|e| panic!("seed fixture {f} must verify: {e}"));
                identity(&a)
            })
            .collect()
    })
}

/// A tiny deterministic PRNG (splitmix64) for the mutators.
pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Self {
        Rng(seed ^ 0x9E37_79B9_7F4A_7C15)
    }
    pub fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
    /// Uniform in 0..n (n > 0).
    pub fn below(&mut self, n: usize) -> usize {
        (self.next() % n.max(1) as u64) as usize
    }
    pub fn chance(&mut self, one_in: usize) -> bool {
        self.below(one_in) == 0
    }
    pub fn pick<'a, T>(&mut self, items: &'a [T]) -> &'a T {
        &items[self.below(items.len())]
    }
}
