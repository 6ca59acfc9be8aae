//! samael (libxmlsec1) as a differential oracle for the signature verdict: we never
//! accept a response whose signatures libxmlsec1 rejects, and libxmlsec1 agrees with
//! our refusals of tampered and re-signed responses.

use samael::crypto::{CertificateDer, Crypto, CryptoProvider};

use crate::common::{fixture, verify};

fn idp_cert_der() -> CertificateDer {
    let pem = fixture("keys/idp.crt");
    CertificateDer::from(
        openssl::x509::X509::from_pem(&pem)
            .unwrap()
            .to_der()
            .unwrap(),
    )
}

fn xmlsec_accepts(xml: &[u8], cert: &CertificateDer) -> bool {
    Crypto::verify_signed_xml(xml, cert, Some("ID")).is_ok()
}

#[test]
fn libxmlsec1_accepts_what_we_accept() {
    let cert = idp_cert_der();
    for f in [
        "responses/okta-response-signed.xml",
        "responses/okta-assertion-signed.xml",
        "responses/okta-both-signed.xml",
        "responses/rsa-sha384.xml",
        "responses/rsa-sha512.xml",
        "responses/large-response.xml",
    ] {
        let xml = fixture(f);
        assert!(verify(&xml).is_ok(), "{f}: ours");
        assert!(xmlsec_accepts(&xml, &cert), "{f}: libxmlsec1");
    }
}

#[test]
fn libxmlsec1_refuses_what_we_refuse_for_crypto_reasons() {
    let cert = idp_cert_der();
    for (f, code) in [
        ("attacks/tampered-nameid.xml", "digest_mismatch"),
        ("attacks/tampered-signature-value.xml", "signature_invalid"),
        ("attacks/attacker-resigned.xml", "signature_invalid"),
    ] {
        let xml = fixture(f);
        assert_eq!(verify(&xml).unwrap_err().code(), code, "{f}");
        assert!(!xmlsec_accepts(&xml, &cert), "{f}: libxmlsec1 accepted it");
    }
}

/// Byte ranges of `<ds:KeyInfo>...</ds:KeyInfo>`: ignored by us by design, while
/// libxmlsec1 may try to use what is there.
fn keyinfo_ranges(xml: &str) -> Vec<(usize, usize)> {
    let mut out = Vec::new();
    let mut from = 0;
    while let Some(s) = xml[from..].find("<ds:KeyInfo") {
        let start = from + s;
        let end = xml[start..]
            .find("</ds:KeyInfo>")
            .map(|e| start + e + 13)
            .unwrap_or(xml.len());
        out.push((start, end));
        from = end;
    }
    out
}

#[test]
fn single_byte_mutants_never_accepted_against_libxmlsec1() {
    let cert = idp_cert_der();
    let original = fixture("responses/okta-both-signed.xml");
    let ranges = keyinfo_ranges(std::str::from_utf8(&original).unwrap());
    let (mut both_accept, mut both_refuse, mut only_xmlsec) = (0, 0, 0);
    for i in (0..original.len()).step_by(13) {
        if ranges.iter().any(|&(s, e)| i >= s && i < e) {
            continue;
        }
        let mut m = original.clone();
        m[i] = if m[i] == b'x' { b'y' } else { b'x' };
        let ours = verify(&m).is_ok();
        let theirs = xmlsec_accepts(&m, &cert);
        assert!(
            !ours || theirs,
            "byte {i}: we accepted a mutant libxmlsec1 refuses"
        );
        match (ours, theirs) {
            (true, true) => both_accept += 1,
            (false, false) => both_refuse += 1,
            (false, true) => only_xmlsec += 1,
            (true, false) => unreachable!(),
        }
    }
    eprintln!(
        "mutants: both accept {both_accept}, both refuse {both_refuse}, only libxmlsec1 accepts {only_xmlsec} (our stricter protocol checks)"
    );
    assert!(both_refuse > 100);
}
