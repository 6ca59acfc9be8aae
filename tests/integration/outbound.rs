//! Signed outbound messages (issue 7): our POST-binding AuthnRequest, LogoutRequest,
//! LogoutResponse and SP metadata verify with the independent `xmlsec1 --verify`; our
//! Redirect-binding signatures verify with `openssl dgst -verify` over the exact query
//! octets `SAMLRequest=..&RelayState=..&SigAlg=..`; metadata flags tell the truth.

use std::path::Path;
use std::process::Command;

use base64::Engine as _;
use sso_gateway::saml::algorithms::SignatureAlgorithm;
use sso_gateway::saml::binding::{self, decode_redirect, verify_redirect_signature};
use sso_gateway::saml::protocol::{self, SpMetadataOptions};
use sso_gateway::saml::sign::SigningKey;
use sso_gateway::saml::{AlgorithmPolicy, SpKeyPair, TrustedCertificate};

use crate::common::{command_present, fixture, fixtures_dir, require_in_ci, scratch_dir, time};

const SP: &str = "https://sso.example.test/saml/acme/metadata";
const ACS: &str = "https://sso.example.test/saml/acme/acs";
const SLO: &str = "https://sso.example.test/saml/acme/slo";
const IDP_SSO: &str = "https://acme.okta.example/app/8x8inc/exk1fxtr9ZQ8bW3aK5d7/sso/saml";
const IDP_SLO: &str = "https://acme.okta.example/app/8x8inc/exk1fxtr9ZQ8bW3aK5d7/slo/saml";

fn sp_key(name: &str) -> SigningKey {
    SigningKey::from_pem(
        &fixture(&format!("keys/{name}.key")),
        &fixture(&format!("keys/{name}.crt")),
    )
    .unwrap()
}

fn alg(name: &str) -> SignatureAlgorithm {
    SignatureAlgorithm::from_name(name).unwrap()
}

fn cert(name: &str) -> TrustedCertificate {
    TrustedCertificate::from_pem(&fixture(&format!("keys/{name}.crt"))).unwrap()
}

/// `xmlsec1 --verify` with only `cert` (KeyInfo ignored), the ID attribute declared on
/// `id_node` (`{ns}:{local}`), for the signature that is a child of the document element.
fn xmlsec1_verifies(file: &Path, cert: &str, id_node: &str) -> bool {
    Command::new("xmlsec1")
        .current_dir(fixtures_dir())
        .args([
            "--verify",
            "--pubkey-cert-pem",
            &format!("keys/{cert}.crt"),
            "--enabled-key-data",
            "key-name",
            "--id-attr:ID",
            id_node,
            "--node-xpath",
            "/*/*[local-name()='Signature' and namespace-uri()='http://www.w3.org/2000/09/xmldsig#']",
        ])
        .arg(file)
        .output()
        .unwrap()
        .status
        .success()
}

fn check_with_xmlsec1(label: &str, xml: &str, id_node: &str, tamper: (&str, &str)) {
    let dir = scratch_dir(label);
    let f = dir.join("signed.xml");
    std::fs::write(&f, xml).unwrap();
    assert!(
        xmlsec1_verifies(&f, "sp-enc", id_node),
        "{label}: xmlsec1 refused:\n{xml}"
    );
    assert!(
        !xmlsec1_verifies(&f, "sp-enc-next", id_node),
        "{label}: wrong key accepted"
    );
    assert!(
        xml.contains(tamper.0),
        "{label}: {} not in the message",
        tamper.0
    );
    let t = dir.join("tampered.xml");
    std::fs::write(&t, xml.replacen(tamper.0, tamper.1, 1)).unwrap();
    assert!(
        !xmlsec1_verifies(&t, "sp-enc", id_node),
        "{label}: tampering accepted"
    );
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn signed_post_messages_verify_with_xmlsec1() {
    if !command_present("xmlsec1") {
        require_in_ci("xmlsec1");
        return;
    }
    let key = sp_key("sp-enc");
    let now = time("2026-06-01T12:00:00Z");
    for a in ["rsa-sha256", "rsa-sha512"] {
        let req =
            protocol::signed_authn_request("_req1", now, IDP_SSO, SP, ACS, &key, alg(a)).unwrap();
        check_with_xmlsec1(
            "authn-request",
            &req,
            "urn:oasis:names:tc:SAML:2.0:protocol:AuthnRequest",
            (ACS, "https://evil.example/acs"),
        );
        let lr = protocol::logout_request(
            "_lr1",
            now,
            IDP_SLO,
            SP,
            "jane.doe@acme.example",
            Some("id1.2"),
        );
        let lr = protocol::sign_message(&lr, &key, alg(a)).unwrap();
        check_with_xmlsec1(
            "logout-request",
            &lr,
            "urn:oasis:names:tc:SAML:2.0:protocol:LogoutRequest",
            ("jane.doe@acme.example", "admin@acme.example"),
        );
        let lresp = protocol::logout_response("_lresp1", now, IDP_SLO, SP, "_idp_lr_7");
        let lresp = protocol::sign_message(&lresp, &key, alg(a)).unwrap();
        check_with_xmlsec1(
            "logout-response",
            &lresp,
            "urn:oasis:names:tc:SAML:2.0:protocol:LogoutResponse",
            ("_idp_lr_7", "_idp_lr_8"),
        );
    }
    // The signature sits right after the Issuer, before NameIDPolicy (schema order).
    let req =
        protocol::signed_authn_request("_req2", now, IDP_SSO, SP, ACS, &key, alg("rsa-sha256"))
            .unwrap();
    let sig = req.find("<ds:Signature").unwrap();
    let issuer_close = req.find(&format!("{SP}</")).unwrap();
    let policy = req.find("NameIDPolicy").unwrap();
    assert!(issuer_close < sig && sig < policy, "{req}");
}

#[test]
fn signed_metadata_verifies_with_xmlsec1_and_tells_the_truth() {
    let plain = protocol::sp_metadata(SP, ACS, SLO);
    assert!(plain.contains(r#"AuthnRequestsSigned="false""#), "{plain}");
    assert!(plain.contains(r#"WantAssertionsSigned="false""#), "{plain}");
    assert!(!plain.contains("KeyDescriptor"));

    let mut md = SpMetadataOptions::new(SP, ACS, SLO);
    md.signing_certificates = vec![cert("sp-enc"), cert("sp-enc-next")];
    md.encryption_certificates = vec![cert("sp-enc"), cert("sp-enc-next")];
    md.authn_requests_signed = true;
    md.want_assertions_signed = true;
    md.id = Some("_md-acme-1".into());
    md.valid_until = Some(time("2026-07-01T00:00:00Z"));
    let xml = md.to_xml();
    assert!(xml.contains(r#"AuthnRequestsSigned="true" WantAssertionsSigned="true""#));
    assert_eq!(
        xml.matches(r#"<md:KeyDescriptor use="signing">"#).count(),
        2
    );
    assert_eq!(
        xml.matches(r#"<md:KeyDescriptor use="encryption">"#)
            .count(),
        2
    );
    assert!(xml.contains(r#"validUntil="2026-07-01T00:00:00Z""#));
    // samael's typed model reads it (the IdP side's view).
    let parsed: samael::metadata::EntityDescriptor = xml.parse().unwrap();
    assert_eq!(parsed.entity_id.as_deref(), Some(SP));

    let signed = protocol::signed_sp_metadata(&md, &sp_key("sp-enc"), alg("rsa-sha256")).unwrap();
    let after_open = signed.find("<md:EntityDescriptor").unwrap();
    let first_child = signed[after_open..].find('>').unwrap() + after_open + 1;
    assert!(
        signed[first_child..].starts_with("<ds:Signature"),
        "Signature must come first"
    );
    if !command_present("xmlsec1") {
        require_in_ci("xmlsec1");
        return;
    }
    check_with_xmlsec1(
        "metadata",
        &signed,
        "urn:oasis:names:tc:SAML:2.0:metadata:EntityDescriptor",
        (ACS, "https://evil.example/acs"),
    );
    md.id = None;
    assert_eq!(
        protocol::signed_sp_metadata(&md, &sp_key("sp-enc"), alg("rsa-sha256"))
            .unwrap_err()
            .code(),
        "signing_failed"
    );
}

pub(crate) fn urldecode(s: &str) -> String {
    let mut out = Vec::new();
    let b = s.as_bytes();
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'%' {
            out.push(u8::from_str_radix(&s[i + 1..i + 3], 16).unwrap());
            i += 3;
        } else {
            out.push(b[i]);
            i += 1;
        }
    }
    String::from_utf8(out).unwrap()
}

/// The signed octets and the signature bytes of a signed Redirect URL; checks the order
/// and names of the parameters on the way.
pub(crate) fn split_signed_url(url: &str, param: &str, relay: bool) -> (String, Vec<u8>) {
    let query = url.split_once('?').unwrap().1;
    let (signed, sig) = query.split_once("&Signature=").unwrap();
    let names: Vec<&str> = signed
        .split('&')
        .map(|p| p.split_once('=').unwrap().0)
        .collect();
    let want: Vec<&str> = if relay {
        vec![param, "RelayState", "SigAlg"]
    } else {
        vec![param, "SigAlg"]
    };
    assert_eq!(names, want, "{signed}");
    assert!(!sig.contains('&'));
    let sig = base64::engine::general_purpose::STANDARD
        .decode(urldecode(sig))
        .unwrap();
    (signed.to_string(), sig)
}

pub(crate) fn openssl_dgst_verifies(
    dir: &Path,
    digest: &str,
    pubkey: &Path,
    octets: &str,
    sig: &[u8],
) -> bool {
    let data = dir.join("octets.txt");
    let sigf = dir.join("sig.bin");
    std::fs::write(&data, octets).unwrap();
    std::fs::write(&sigf, sig).unwrap();
    let o = Command::new("openssl")
        .args(["dgst", &format!("-{digest}"), "-verify"])
        .arg(pubkey)
        .arg("-signature")
        .arg(&sigf)
        .arg(&data)
        .output()
        .unwrap();
    o.status.success() && String::from_utf8_lossy(&o.stdout).contains("Verified OK")
}

fn der_of_raw_ecdsa(raw: &[u8]) -> Vec<u8> {
    let (r, s) = raw.split_at(raw.len() / 2);
    openssl::ecdsa::EcdsaSig::from_private_components(
        openssl::bn::BigNum::from_slice(r).unwrap(),
        openssl::bn::BigNum::from_slice(s).unwrap(),
    )
    .unwrap()
    .to_der()
    .unwrap()
}

#[test]
fn redirect_signatures_verify_with_openssl_over_the_exact_query() {
    if !command_present("openssl") {
        require_in_ci("openssl");
        return;
    }
    let dir = scratch_dir("redirect");
    let now = time("2026-06-01T12:00:00Z");
    let req = protocol::authn_request("_req3", now, IDP_SSO, SP, ACS).unwrap();
    let lr = protocol::logout_request("_lr3", now, IDP_SLO, SP, "jane.doe@acme.example", None);
    let lresp = protocol::logout_response("_lresp3", now, IDP_SLO, SP, "_idp_lr_9");
    let policy = AlgorithmPolicy::default();
    // A RelayState with characters that need encoding: the signed octets carry it encoded.
    let relay = "r/s+t=u&v w~";
    for (key_name, a, digest) in [
        ("sp-enc", "rsa-sha256", "sha256"),
        ("sp-enc", "rsa-sha384", "sha384"),
        ("sp-enc", "rsa-sha512", "sha512"),
        ("idp-ec", "ecdsa-sha256", "sha256"),
    ] {
        let key = sp_key(key_name);
        let pubkey = dir.join(format!("{key_name}.pub.pem"));
        let o = Command::new("openssl")
            .current_dir(fixtures_dir())
            .args([
                "x509",
                "-pubkey",
                "-noout",
                "-in",
                &format!("keys/{key_name}.crt"),
            ])
            .output()
            .unwrap();
        std::fs::write(&pubkey, &o.stdout).unwrap();
        for (param, xml, rs) in [
            ("SAMLRequest", &req, Some(relay)),
            ("SAMLRequest", &lr, None),
            ("SAMLResponse", &lresp, Some("abc")),
        ] {
            let url = binding::signed_redirect_url(IDP_SLO, param, xml, rs, &key, alg(a)).unwrap();
            let (octets, sig) = split_signed_url(&url, param, rs.is_some());
            assert!(octets.contains(&format!("SigAlg={}", binding::urlencode(alg(a).uri()))));
            if let Some(r) = rs {
                assert!(octets.contains(&format!("RelayState={}", binding::urlencode(r))));
            }
            let sig_for_openssl = if a.starts_with("ecdsa") {
                der_of_raw_ecdsa(&sig)
            } else {
                sig.clone()
            };
            assert!(
                openssl_dgst_verifies(&dir, digest, &pubkey, &octets, &sig_for_openssl),
                "{a} {param}: openssl dgst -verify failed over {octets}"
            );
            // One changed octet and it no longer verifies.
            let tampered = octets.replacen("SigAlg=", "SigAlg=x", 1);
            assert!(!openssl_dgst_verifies(
                &dir,
                digest,
                &pubkey,
                &tampered,
                &sig_for_openssl
            ));
            // Our own decoder and verifier agree.
            let m = decode_redirect(url.split_once('?').unwrap().1, 256 * 1024).unwrap();
            assert_eq!(m.xml, xml.as_bytes());
            assert_eq!(m.relay_state.as_deref(), rs);
            assert_eq!(
                verify_redirect_signature(
                    m.signature.as_ref().unwrap(),
                    &[cert(key_name)],
                    &policy
                )
                .unwrap(),
                0
            );
        }
    }
    // The original RSA-SHA256 helper signs the same octets in the same order.
    let pkey = openssl::pkey::PKey::private_key_from_pem(&fixture("keys/sp-enc.key")).unwrap();
    let url =
        binding::redirect_url(IDP_SSO, "SAMLRequest", &req, Some(relay), Some(&pkey)).unwrap();
    let (octets, sig) = split_signed_url(&url, "SAMLRequest", true);
    assert!(openssl_dgst_verifies(
        &dir,
        "sha256",
        &dir.join("sp-enc.pub.pem"),
        &octets,
        &sig
    ));
    assert_eq!(
        binding::signed_redirect_url(
            IDP_SSO,
            "SAMLRequest",
            &req,
            None,
            &sp_key("sp-enc"),
            alg("rsa-sha1")
        )
        .unwrap_err()
        .code(),
        "signing_failed"
    );
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn generated_sp_key_pair_signs_requests_its_certificate_verifies() {
    let kp = SpKeyPair::generate(
        "sso.example.test",
        time("2026-06-01T00:00:00Z"),
        chrono::Duration::days(30),
        2048,
    )
    .unwrap();
    let key = kp.signing_key().unwrap();
    let req = protocol::signed_authn_request(
        "_req9",
        time("2026-06-01T12:00:00Z"),
        IDP_SSO,
        SP,
        ACS,
        &key,
        alg("rsa-sha256"),
    )
    .unwrap();
    // Our own verifier accepts it with the pair's certificate (as an IdP would with the
    // certificate from our metadata).
    let doc = sso_gateway::saml::xml::parse(req.as_bytes(), &Default::default()).unwrap();
    let (sig, _) = doc
        .child_named(
            doc.root(),
            "http://www.w3.org/2000/09/xmldsig#",
            "Signature",
        )
        .unwrap();
    let v = sso_gateway::saml::dsig::verify_enveloped(
        &doc,
        sig,
        "AuthnRequest",
        &[kp.trusted_certificate().unwrap()],
        &AlgorithmPolicy::default(),
        &mut Default::default(),
    )
    .unwrap();
    assert!(v.as_str().contains("AssertionConsumerServiceURL"));
}
