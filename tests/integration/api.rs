//! The library interface: values of a verified assertion, trust rules, boundaries.

use sso_gateway::saml::{IdpMetadata, IdpTrust, SamlError, TrustedCertificate};

use crate::common::{fixture, sp, trust, verify, verify_at};

#[test]
fn verified_assertion_carries_the_signed_values() {
    for f in [
        "responses/okta-response-signed.xml",
        "responses/okta-assertion-signed.xml",
        "responses/okta-both-signed.xml",
    ] {
        let a = verify(&fixture(f)).unwrap_or_else(|e| panic!("{f}: {e}"));
        assert_eq!(a.issuer(), "http://www.okta.com/exk1fxtr9ZQ8bW3aK5d7");
        assert_eq!(a.name_id(), "jane.doe@acme.example");
        assert_eq!(a.attribute("firstName"), Some("Jane"));
        assert_eq!(a.in_response_to(), Some(crate::common::REQUEST_ID));
        assert_eq!(
            a.session_not_on_or_after().unwrap().to_rfc3339(),
            "2026-06-01T20:00:00+00:00"
        );
        assert_eq!(
            a.authn_context_class(),
            Some("urn:oasis:names:tc:SAML:2.0:ac:classes:PasswordProtectedTransport")
        );
        assert_eq!(a.signature_algorithm(), "rsa-sha256");
        let fp = trust("idp-metadata.xml").certificates()[0]
            .fingerprint()
            .to_string();
        assert_eq!(a.verified_by(), fp);
    }
}

#[test]
fn clock_skew_boundaries() {
    let bytes = fixture("responses/okta-both-signed.xml");
    let (sp, t) = (sp(), trust("idp-metadata.xml"));
    // NotOnOrAfter 12:05:00, skew 180 s: valid through 12:07:59, expired at 12:08:00.
    assert!(verify_at(&bytes, &sp, &t, "2026-06-01T12:07:59Z").is_ok());
    assert_eq!(
        verify_at(&bytes, &sp, &t, "2026-06-01T12:08:00Z")
            .unwrap_err()
            .code(),
        "expired"
    );
    // NotBefore 11:55:00: valid from 11:52:00.
    assert!(verify_at(&bytes, &sp, &t, "2026-06-01T11:52:00Z").is_ok());
    assert_eq!(
        verify_at(&bytes, &sp, &t, "2026-06-01T11:51:59Z")
            .unwrap_err()
            .code(),
        "not_yet_valid"
    );
}

#[test]
fn allowing_unsolicited_does_not_waive_in_response_to() {
    // samael ignores InResponseTo when IdP-initiated login is allowed; we do not.
    let mut sp = sp();
    sp.allow_unsolicited = true;
    let t = trust("idp-metadata.xml");
    let bytes = fixture("responses/okta-both-signed.xml");
    let mut cache = sso_gateway::saml::InMemoryReplayCache::new();
    let ids = vec!["_some_other_request".to_string()];
    let mut ctx = sso_gateway::saml::VerifyContext {
        now: crate::common::time(crate::common::NOW),
        request_ids: &ids,
        replay_cache: &mut cache,
    };
    let err = sso_gateway::saml::verify_response(&bytes, &sp, &t, &mut ctx).unwrap_err();
    assert_eq!(err.code(), "in_response_to_mismatch");
}

#[test]
fn rollover_trusts_current_and_next() {
    let bytes = fixture("responses/signed-by-next-key.xml");
    assert_eq!(verify(&bytes).unwrap_err().code(), "signature_invalid");
    let a = verify_at(
        &bytes,
        &sp(),
        &trust("idp-metadata-rollover.xml"),
        crate::common::NOW,
    )
    .unwrap();
    let next = trust("idp-metadata-rollover.xml").certificates()[1]
        .fingerprint()
        .to_string();
    assert_eq!(a.verified_by(), next);
}

#[test]
fn trust_cannot_be_empty_or_weak() {
    assert_eq!(
        IdpTrust::new("http://idp", vec![]).unwrap_err(),
        SamlError::NoTrustedCertificate
    );
    assert_eq!(
        IdpMetadata::parse(&fixture("idp-metadata-nokey.xml"))
            .unwrap_err()
            .code(),
        "no_trusted_certificate"
    );
    let dtd = b"<!DOCTYPE x [<!ENTITY e 'x'>]><md:EntityDescriptor xmlns:md='urn:oasis:names:tc:SAML:2.0:metadata' entityID='&e;'/>";
    assert_eq!(IdpMetadata::parse(dtd).unwrap_err().code(), "dtd_forbidden");
    let weak = openssl::rsa::Rsa::generate(1024).unwrap();
    let key = openssl::pkey::PKey::from_rsa(weak).unwrap();
    let mut b = openssl::x509::X509::builder().unwrap();
    b.set_pubkey(&key).unwrap();
    b.sign(&key, openssl::hash::MessageDigest::sha256())
        .unwrap();
    assert_eq!(
        TrustedCertificate::from_x509(&b.build())
            .unwrap_err()
            .code(),
        "certificate_invalid"
    );
}

#[test]
fn metadata_fields() {
    let m = IdpMetadata::parse(&fixture("idp-metadata.xml")).unwrap();
    assert_eq!(m.entity_id, "http://www.okta.com/exk1fxtr9ZQ8bW3aK5d7");
    assert!(m.sso_url.as_deref().unwrap().ends_with("/sso/saml"));
    assert_eq!(m.signing_certificates.len(), 1);
    assert!(m.signing_certificates[0].subject().contains("Okta"));
    assert_eq!(
        IdpMetadata::parse(&fixture("idp-metadata-rollover.xml"))
            .unwrap()
            .signing_certificates
            .len(),
        2
    );
}

#[test]
fn every_error_code_is_unique_and_snake_case() {
    let mut seen = std::collections::HashSet::new();
    for c in SamlError::ALL_CODES {
        assert!(seen.insert(c), "duplicate code {c}");
        assert!(
            c.chars()
                .all(|ch| ch.is_ascii_lowercase() || ch.is_ascii_digit() || ch == '_'),
            "{c}"
        );
    }
}
