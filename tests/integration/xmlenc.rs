//! Encrypted assertions (issue 7): what our encryptor produces decrypts with our verifier
//! and with the independent `xmlsec1 --decrypt`; every decryption failure looks the same
//! to the sender; key rollover; SP key pairs end to end; single-byte mutants.

use std::process::Command;

use serde_json::Value;
use sso_gateway::saml::algorithms::SignatureAlgorithm;
use sso_gateway::saml::keys::{SpKeyPair, parse_master_key};
use sso_gateway::saml::mint::{self, MintOptions, SigningLayout};
use sso_gateway::saml::protocol::SpMetadataOptions;
use sso_gateway::saml::sign::SigningKey;
use sso_gateway::saml::xml::{self, Limits};
use sso_gateway::saml::{
    BlockCipher, DecryptionKey, EncryptOptions, IdpTrust, KeyPlacement, KeyTransport, OaepHash,
    SamlError, SpSettings, VerifiedAssertion,
};

use crate::common::{
    ACS_URL, NOW, REQUEST_ID, SP_ENTITY_ID, command_present, fixture, fixtures_dir, require_in_ci,
    scratch_dir, sp, time, trust, verify_at,
};

const IDP: &str = "http://www.okta.com/exk1fxtr9ZQ8bW3aK5d7";
const NS_MD: &str = "urn:oasis:names:tc:SAML:2.0:metadata";
const NS_DS: &str = "http://www.w3.org/2000/09/xmldsig#";

fn idp_key() -> SigningKey {
    SigningKey::from_pem(&fixture("keys/idp.key"), &fixture("keys/idp.crt")).unwrap()
}

fn cert(name: &str) -> openssl::x509::X509 {
    openssl::x509::X509::from_pem(&fixture(&format!("keys/{name}.crt"))).unwrap()
}

fn dkey(name: &str) -> DecryptionKey {
    DecryptionKey::from_pem(&fixture(&format!("keys/{name}.key"))).unwrap()
}

fn sp_with(keys: &[&str]) -> SpSettings {
    let mut s = sp();
    s.decryption_keys = keys.iter().map(|k| dkey(k)).collect();
    s
}

fn options(layout: SigningLayout, n: usize) -> MintOptions {
    let mut o = MintOptions::new(
        IDP,
        SP_ENTITY_ID,
        ACS_URL,
        "jane.doe@acme.example",
        time("2026-06-01T12:00:00Z"),
    );
    o.attributes = vec![("groups".into(), vec!["Sales".into(), "Support".into()])];
    o.in_response_to = Some(REQUEST_ID.to_string());
    o.layout = layout;
    o.response_id = format!("id{n}0001");
    o.assertion_id = format!("id{n}0002");
    o
}

fn enc(
    cipher: BlockCipher,
    transport: KeyTransport,
    placement: KeyPlacement,
    n: usize,
) -> EncryptOptions {
    EncryptOptions {
        cipher,
        transport,
        placement,
        data_id: format!("_ed{n}"),
        key_id: format!("_ek{n}"),
        include_certificate: true,
    }
}

fn check(v: &VerifiedAssertion, layout: SigningLayout, cipher: BlockCipher) {
    assert_eq!(v.name_id(), "jane.doe@acme.example");
    assert_eq!(v.attributes()["groups"], vec!["Sales", "Support"]);
    let s = v.signed();
    assert_eq!(
        (s.response, s.assertion),
        match layout {
            SigningLayout::Response => (true, false),
            SigningLayout::Assertion => (false, true),
            SigningLayout::Both => (true, true),
        }
    );
    let e = v.encryption().expect("decrypted");
    assert_eq!(e.block_cipher, cipher.name());
    assert_eq!(e.decrypted_with, dkey("sp-enc").fingerprint());
}

const LAYOUTS: [SigningLayout; 3] = [
    SigningLayout::Response,
    SigningLayout::Assertion,
    SigningLayout::Both,
];

fn transports() -> Vec<KeyTransport> {
    vec![
        KeyTransport::OKTA,
        KeyTransport::RsaOaepMgf1p {
            digest: OaepHash::Sha256,
        },
        KeyTransport::RsaOaep {
            digest: OaepHash::Sha1,
            mgf: OaepHash::Sha1,
        },
        KeyTransport::RsaOaep {
            digest: OaepHash::Sha256,
            mgf: OaepHash::Sha256,
        },
        KeyTransport::RsaOaep {
            digest: OaepHash::Sha512,
            mgf: OaepHash::Sha224,
        },
    ]
}

#[test]
fn minted_encrypted_responses_verify_in_every_layout_and_algorithm() {
    let key = idp_key();
    let alg = SignatureAlgorithm::from_name("rsa-sha256").unwrap();
    let s = sp_with(&["sp-other", "sp-enc"]);
    let t = trust("idp-metadata.xml");
    let mut n = 0;
    for cipher in BlockCipher::ALL {
        for transport in transports() {
            for placement in [KeyPlacement::RetrievalMethod, KeyPlacement::KeyInfo] {
                let layout = LAYOUTS[n % 3];
                n += 1;
                let xml = mint::mint_encrypted_response(
                    &options(layout, n),
                    &key,
                    alg,
                    &cert("sp-enc"),
                    &enc(cipher, transport, placement, n),
                )
                .unwrap();
                let v = verify_at(xml.as_bytes(), &s, &t, NOW).unwrap_or_else(|e| {
                    panic!(
                        "{cipher:?} {transport:?} {placement:?} {layout:?}: {}",
                        e.log_message()
                    )
                });
                check(&v, layout, cipher);
                assert_eq!(v.encryption().unwrap().key_transport, transport.name());
            }
        }
    }
}

/// xmlsec1 decrypts (with only the SP key) what `encrypt_assertion` wrote, for every block
/// cipher and both key placements (xmlsec1 1.2.37 supports rsa-oaep-mgf1p with SHA-1 only),
/// and the decrypted Assertion's signature verifies with xmlsec1 too.
#[test]
fn xmlsec1_decrypts_what_we_encrypt() {
    if !command_present("xmlsec1") {
        require_in_ci("xmlsec1");
        return;
    }
    let dir = scratch_dir("xmlsec1-decrypt");
    let key = idp_key();
    let alg = SignatureAlgorithm::from_name("rsa-sha256").unwrap();
    let mut n = 100;
    for cipher in BlockCipher::ALL {
        for placement in [KeyPlacement::RetrievalMethod, KeyPlacement::KeyInfo] {
            n += 1;
            let xml = mint::mint_encrypted_response(
                &options(SigningLayout::Assertion, n),
                &key,
                alg,
                &cert("sp-enc"),
                &enc(cipher, KeyTransport::OKTA, placement, n),
            )
            .unwrap();
            let f = dir.join(format!("enc-{n}.xml"));
            std::fs::write(&f, &xml).unwrap();
            let out = dir.join(format!("dec-{n}.xml"));
            let o = Command::new("xmlsec1")
                .current_dir(fixtures_dir())
                .args([
                    "--decrypt",
                    "--privkey-pem",
                    "keys/sp-enc.key",
                    "--id-attr:Id",
                    "http://www.w3.org/2001/04/xmlenc#:EncryptedKey",
                    "--output",
                ])
                .arg(&out)
                .arg(&f)
                .output()
                .unwrap();
            assert!(
                o.status.success(),
                "{cipher:?} {placement:?}: xmlsec1 --decrypt failed: {}",
                String::from_utf8_lossy(&o.stderr)
            );
            let dec = std::fs::read_to_string(&out).unwrap();
            assert!(
                dec.contains(">jane.doe@acme.example</saml2:NameID>"),
                "{dec}"
            );
            let o = Command::new("xmlsec1")
                .current_dir(fixtures_dir())
                .args([
                    "--verify",
                    "--pubkey-cert-pem",
                    "keys/idp.crt",
                    "--enabled-key-data",
                    "key-name",
                    "--id-attr:ID",
                    "urn:oasis:names:tc:SAML:2.0:assertion:Assertion",
                    "--node-xpath",
                    "//*[local-name()='Assertion']/*[local-name()='Signature']",
                ])
                .arg(&out)
                .output()
                .unwrap();
            assert!(
                o.status.success(),
                "{cipher:?} {placement:?}: the decrypted assertion's signature: {}",
                String::from_utf8_lossy(&o.stderr)
            );
        }
    }
    let _ = std::fs::remove_dir_all(&dir);
}

/// Every decryption failure in the fixtures (wrong key, tampered ciphertext, tag,
/// EncryptedKey, garbled CBC plaintext, unsigned CBC plaintext) gives the same code and
/// sentence; only `log_detail` tells them apart, and `Debug` does not show it.
#[test]
fn every_decryption_failure_looks_the_same_to_the_sender() {
    let cases = [
        (
            "encrypted/keyinfo-assertion-signed-aes256-gcm-mgf1p-sha1.xml",
            vec!["sp-other"],
        ),
        (
            "encrypted/tampered-ciphertext-aes256-cbc.xml",
            vec!["sp-enc"],
        ),
        (
            "encrypted/tampered-ciphertext-aes256-gcm.xml",
            vec!["sp-enc"],
        ),
        ("encrypted/tampered-tag-aes256-gcm.xml", vec!["sp-enc"]),
        ("encrypted/tampered-encrypted-key.xml", vec!["sp-enc"]),
        (
            "encrypted/unsigned-assertion-aes256-cbc.xml",
            vec!["sp-enc"],
        ),
        (
            "encrypted/okta-response-signed-aes256-gcm-to-next-key.xml",
            vec!["sp-enc"],
        ),
    ];
    let t = trust("idp-metadata.xml");
    let mut messages = std::collections::BTreeSet::new();
    let mut details = std::collections::BTreeSet::new();
    for (file, keys) in cases {
        let e = verify_at(&fixture(file), &sp_with(&keys), &t, NOW).unwrap_err();
        assert_eq!(e.code(), "decryption_failed", "{file}: {}", e.log_message());
        messages.insert(e.to_string());
        let d = e.log_detail().unwrap().to_string();
        assert!(
            !format!("{e:?}").contains(&d),
            "{file}: Debug leaks the detail"
        );
        assert!(e.log_message().contains(&d));
        details.insert(d);
    }
    assert_eq!(messages.len(), 1, "{messages:?}");
    assert_eq!(
        details.len(),
        5,
        "wrong key, tampered EncryptedKey and key not held share 'no SP key unwrapped' \
         (naming the key tried); tampered ciphertext and tag share 'the GCM tag': {details:?}"
    );
}

/// A CBC padding-oracle attempt on an unsigned Response: every value of the last byte of
/// the second-to-last ciphertext block (which steers the padding byte) gives the same
/// public error, whether the padding check or the XML parser refused the result.
#[test]
fn cbc_in_an_unsigned_response_is_no_padding_oracle() {
    use base64::Engine as _;
    let src = String::from_utf8(fixture(
        "encrypted/keyinfo-assertion-signed-aes256-cbc-mgf1p-sha1.xml",
    ))
    .unwrap();
    // The EncryptedData's CipherValue is the last one in the document.
    let start = src.rfind("<xenc:CipherValue>").unwrap() + "<xenc:CipherValue>".len();
    let end = start + src[start..].find("</xenc:CipherValue>").unwrap();
    let b64 = &base64::engine::general_purpose::STANDARD;
    let ct = b64
        .decode(src[start..end].replace(['\n', '\r', ' '], ""))
        .unwrap();
    let s = sp_with(&["sp-enc"]);
    let t = trust("idp-metadata.xml");
    let mut public = std::collections::BTreeSet::new();
    let mut reasons = std::collections::BTreeSet::new();
    for v in 0..=255u8 {
        let mut m = ct.clone();
        let i = m.len() - 17;
        m[i] ^= v;
        if v == 0 {
            continue;
        }
        let doc = format!("{}{}{}", &src[..start], b64.encode(&m), &src[end..]);
        let e = verify_at(doc.as_bytes(), &s, &t, NOW).unwrap_err();
        public.insert((e.code(), e.to_string()));
        let d = e.log_detail().unwrap_or_default();
        reasons.insert(if d.contains("padding") {
            "padding"
        } else {
            "after padding"
        });
    }
    assert_eq!(public.len(), 1, "{public:?}");
    assert_eq!(public.first().unwrap().0, "decryption_failed");
    assert_eq!(
        reasons.len(),
        2,
        "both internal outcomes occurred: {reasons:?}"
    );
}

#[test]
fn key_rollover_metadata_lists_both_keys_and_the_next_key_decrypts() {
    let current =
        SpKeyPair::from_pem(&fixture("keys/sp-enc.key"), &fixture("keys/sp-enc.crt")).unwrap();
    let next = SpKeyPair::from_pem(
        &fixture("keys/sp-enc-next.key"),
        &fixture("keys/sp-enc-next.crt"),
    )
    .unwrap();
    let mut md = SpMetadataOptions::new(
        SP_ENTITY_ID,
        ACS_URL,
        "https://sso.example.test/saml/acme/slo",
    );
    md.encryption_certificates = vec![
        current.trusted_certificate().unwrap(),
        next.trusted_certificate().unwrap(),
    ];
    md.signing_certificates = vec![current.trusted_certificate().unwrap()];
    let xml_md = md.to_xml();
    let doc = xml::parse(xml_md.as_bytes(), &Limits::default()).unwrap();
    let (spsso, _) = doc
        .child_named(doc.root(), NS_MD, "SPSSODescriptor")
        .unwrap();
    let certs_for = |usage: &str| -> Vec<String> {
        doc.children_named(spsso, NS_MD, "KeyDescriptor")
            .filter(|(_, e)| e.attr("use") == Some(usage))
            .map(|(k, _)| {
                let (ki, _) = doc.child_named(k, NS_DS, "KeyInfo").unwrap();
                let (xd, _) = doc.child_named(ki, NS_DS, "X509Data").unwrap();
                let (c, _) = doc.child_named(xd, NS_DS, "X509Certificate").unwrap();
                doc.text_content(c)
            })
            .collect()
    };
    assert_eq!(
        certs_for("encryption"),
        vec![
            current.certificate_base64().unwrap(),
            next.certificate_base64().unwrap()
        ]
    );
    assert_eq!(
        certs_for("signing"),
        vec![current.certificate_base64().unwrap()]
    );
    assert!(xml_md.contains("xmlenc11#aes256-gcm") && xml_md.contains("xmlenc#rsa-oaep-mgf1p"));

    // The IdP picks up the next certificate and encrypts to it: the SP still decrypts.
    let xml = mint::mint_encrypted_response(
        &options(SigningLayout::Both, 900),
        &idp_key(),
        SignatureAlgorithm::from_name("rsa-sha256").unwrap(),
        next.certificate(),
        &EncryptOptions {
            cipher: BlockCipher::Aes256Gcm,
            ..EncryptOptions::default()
        },
    )
    .unwrap();
    let mut s = sp();
    s.decryption_keys = vec![
        current.decryption_key().unwrap(),
        next.decryption_key().unwrap(),
    ];
    let v = verify_at(xml.as_bytes(), &s, &trust("idp-metadata.xml"), NOW).unwrap();
    assert_eq!(
        v.encryption().unwrap().decrypted_with,
        next.decryption_key().unwrap().fingerprint()
    );
    s.decryption_keys = vec![current.decryption_key().unwrap()];
    assert_eq!(
        verify_at(xml.as_bytes(), &s, &trust("idp-metadata.xml"), NOW)
            .unwrap_err()
            .code(),
        "decryption_failed"
    );
}

#[test]
fn generated_key_pair_sealed_at_rest_decrypts_end_to_end() {
    let now = time("2026-06-01T00:00:00Z");
    let kp =
        SpKeyPair::generate("sso.example.test", now, chrono::Duration::days(365), 2048).unwrap();
    let master = parse_master_key(&"42".repeat(32)).unwrap();
    let sealed = kp.seal(&master, "tenant:acme:encryption").unwrap();
    assert!(sealed.starts_with("v1:") && !sealed.contains("PRIVATE"));
    let cert_pem = kp.certificate_pem().unwrap();
    let back = SpKeyPair::unseal(
        &sealed,
        cert_pem.as_bytes(),
        &master,
        "tenant:acme:encryption",
    )
    .unwrap();
    let wrong = parse_master_key(&"43".repeat(32)).unwrap();
    assert_eq!(
        SpKeyPair::unseal(
            &sealed,
            cert_pem.as_bytes(),
            &wrong,
            "tenant:acme:encryption"
        )
        .unwrap_err()
        .code(),
        "sealed_key_wrong_master_key"
    );
    let xml = mint::mint_encrypted_response(
        &options(SigningLayout::Assertion, 901),
        &idp_key(),
        SignatureAlgorithm::from_name("rsa-sha256").unwrap(),
        kp.certificate(),
        &EncryptOptions::default(),
    )
    .unwrap();
    let mut s = sp();
    s.decryption_keys = vec![back.decryption_key().unwrap()];
    let v = verify_at(xml.as_bytes(), &s, &trust("idp-metadata.xml"), NOW).unwrap();
    assert_eq!(v.name_id(), "jane.doe@acme.example");
}

#[test]
fn require_signed_assertions_refuses_a_response_only_signature() {
    let f = fixture("encrypted/okta-response-signed-aes256-cbc-mgf1p-sha1.xml");
    let mut s = sp_with(&["sp-enc"]);
    s.require_signed_assertions = true;
    let t = trust("idp-metadata.xml");
    assert_eq!(
        verify_at(&f, &s, &t, NOW).unwrap_err().code(),
        "assertion_signature_required"
    );
    let both = fixture("encrypted/okta-both-signed-aes256-cbc-mgf1p-sha1.xml");
    assert!(verify_at(&both, &s, &t, NOW).is_ok());
    assert_eq!(
        verify_at(&fixture("responses/okta-response-signed.xml"), &s, &t, NOW)
            .unwrap_err()
            .code(),
        "assertion_signature_required"
    );
}

fn mutate_all(file: &str, keys: &[&str], step: usize) {
    let original = fixture(file);
    let s = sp_with(keys);
    let t = trust("idp-metadata.xml");
    let good = verify_at(&original, &s, &t, NOW).unwrap();
    let (mut accepted, mut refused) = (0, 0);
    for i in (0..original.len()).step_by(step) {
        for replacement in [b'A', b'"', b'<'] {
            if original[i] == replacement {
                continue;
            }
            let mut m = original.clone();
            m[i] = replacement;
            match verify_at(&m, &s, &t, NOW) {
                Ok(a) => {
                    accepted += 1;
                    assert!(
                        a.name_id() == good.name_id()
                            && a.attributes() == good.attributes()
                            && a.assertion_id() == good.assertion_id()
                            && a.in_response_to() == good.in_response_to()
                            && a.not_on_or_after() == good.not_on_or_after(),
                        "{file}: byte {i} -> {:?} changed the verified values",
                        replacement as char
                    );
                }
                Err(_) => refused += 1,
            }
        }
    }
    eprintln!("{file}: {refused} mutants refused, {accepted} accepted with identical values");
    assert!(refused > accepted);
}

#[test]
fn encrypted_response_signed_mutants() {
    mutate_all(
        "encrypted/okta-response-signed-aes256-cbc-mgf1p-sha1.xml",
        &["sp-enc"],
        13,
    );
}

#[test]
fn encrypted_assertion_signed_mutants() {
    mutate_all(
        "encrypted/keyinfo-assertion-signed-aes128-gcm-mgf1p-sha1.xml",
        &["sp-enc"],
        13,
    );
    mutate_all(
        "encrypted/keyinfo-assertion-signed-aes128-cbc-mgf1p-sha1.xml",
        &["sp-enc"],
        13,
    );
}

fn bin() -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_sso-gateway"));
    c.current_dir(fixtures_dir());
    c
}

fn verify_cmd(extra: &[&str]) -> Vec<Value> {
    let o = bin()
        .args([
            "verify-response",
            "--idp-metadata",
            "idp-metadata.xml",
            "--sp-entity-id",
            SP_ENTITY_ID,
            "--acs-url",
            ACS_URL,
            "--request-id",
            REQUEST_ID,
            "--now",
            NOW,
        ])
        .args(extra)
        .output()
        .unwrap();
    String::from_utf8_lossy(&o.stdout)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

#[test]
fn cli_sp_key_decrypts_and_explains() {
    let file = "encrypted/okta-both-signed-aes256-gcm-mgf1p-sha1.xml";
    let v = &verify_cmd(&[
        "--sp-key",
        "keys/sp-other.key",
        "--sp-key",
        "keys/sp-enc.key",
        "--explain",
        file,
    ])[0];
    assert_eq!(v["valid"], true, "{v}");
    assert_eq!(v["encrypted"]["block_cipher"], "aes256-gcm");
    let checks: Vec<&str> = v["checks"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["check"].as_str().unwrap())
        .collect();
    for c in [
        "structure",
        "response_signature",
        "encrypted_assertion",
        "decrypt",
        "decrypted_parse",
        "decrypted_structure",
        "assertion_signature",
        "audience",
        "replay",
    ] {
        assert!(checks.contains(&c), "{c} missing from {checks:?}");
    }
    let v = &verify_cmd(&[file])[0];
    assert_eq!(v["error"], "decryption_key_missing");
    let v = &verify_cmd(&["--sp-key", "keys/sp-other.key", "--explain", file])[0];
    assert_eq!(v["error"], "decryption_failed");
    assert!(
        v["detail"]
            .as_str()
            .unwrap()
            .contains("no SP key unwrapped"),
        "{v}"
    );
    let last = v["checks"].as_array().unwrap().last().unwrap();
    assert_eq!(last["check"], "decrypt");
    assert!(
        !last["detail"].as_str().unwrap().contains("OAEP"),
        "the trace stays public"
    );
}

#[test]
fn cli_mint_encrypt_to_feeds_verify_response() {
    let dir = scratch_dir("cli-encrypt");
    for (layout, cipher, transport, extra) in [
        ("response", "aes256-cbc", "rsa-oaep-mgf1p", None),
        (
            "assertion",
            "aes128-gcm",
            "rsa-oaep:sha256:sha256",
            Some("--key-in-keyinfo"),
        ),
        ("both", "aes192-gcm", "rsa-oaep-mgf1p:sha256", None),
    ] {
        let out = dir.join(layout);
        let mut c = bin();
        c.args([
            "mint-response",
            "--key",
            "keys/idp.key",
            "--cert",
            "keys/idp.crt",
            "--issuer",
            IDP,
            "--audience",
            SP_ENTITY_ID,
            "--acs-url",
            ACS_URL,
            "--name-id",
            "jane.doe@acme.example",
            "--in-response-to",
            REQUEST_ID,
            "--now",
            "2026-06-01T12:00:00Z",
            "--layout",
            layout,
            "--encrypt-to",
            "keys/sp-enc.crt",
            "--block-cipher",
            cipher,
            "--key-transport",
            transport,
            "--count",
            "2",
            "--out-dir",
        ])
        .arg(&out);
        if let Some(e) = extra {
            c.arg(e);
        }
        let o = c.output().unwrap();
        assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
        let files: Vec<String> = (1..=2)
            .map(|i| {
                out.join(format!("response-{i:06}.xml"))
                    .display()
                    .to_string()
            })
            .collect();
        let mut args = vec!["--sp-key", "keys/sp-enc.key"];
        args.extend(files.iter().map(String::as_str));
        for v in verify_cmd(&args) {
            assert_eq!(v["valid"], true, "{layout}: {v}");
            assert_eq!(v["encrypted"]["block_cipher"], cipher);
        }
    }
    let o = bin()
        .args([
            "mint-response",
            "--block-cipher",
            "aes256-gcm",
            "--key",
            "k",
            "--cert",
            "c",
        ])
        .output()
        .unwrap();
    assert_eq!(
        o.status.code(),
        Some(2),
        "--block-cipher needs --encrypt-to"
    );
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn error_codes_for_encryption_are_listed() {
    for c in [
        "decryption_key_missing",
        "decryption_failed",
        "rsa1_5_key_transport_refused",
        "decrypted_assertion_unsigned",
        "encryption_algorithm_unsupported",
        "key_transport_unsupported",
        "encrypted_assertion_unsupported",
        "assertion_signature_required",
        "sealed_key_wrong_master_key",
    ] {
        assert!(SamlError::ALL_CODES.contains(&c), "{c}");
    }
    let _ = IdpTrust::new(IDP, vec![idp_key().trusted_certificate().unwrap()]).unwrap();
}
