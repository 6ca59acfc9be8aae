//! Minting and signing (`saml::sign`, `saml::mint`, `mint-response`): what we sign
//! verifies with our verifier AND with the independent `xmlsec1` command.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::atomic::{AtomicUsize, Ordering};

use base64::Engine as _;
use serde_json::Value;
use sso_gateway::saml::algorithms::SignatureAlgorithm;
use sso_gateway::saml::mint::{self, MintOptions, SigningLayout};
use sso_gateway::saml::sign::{SigningKey, sign_element};
use sso_gateway::saml::{IdpTrust, VerifiedAssertion};

use crate::common::{
    ACS_URL, NOW, REQUEST_ID, SP_ENTITY_ID, fixture, fixtures_dir, require_in_ci, sp, time,
    verify_at,
};

const IDP: &str = "http://www.okta.com/exk1fxtr9ZQ8bW3aK5d7";
const ISSUED: &str = "2026-06-01T12:00:00Z";
const NS_P: &str = "urn:oasis:names:tc:SAML:2.0:protocol";
const NS_A: &str = "urn:oasis:names:tc:SAML:2.0:assertion";
const XPATH_RESPONSE_SIG: &str = "/*[local-name()='Response']/*[local-name()='Signature' and namespace-uri()='http://www.w3.org/2000/09/xmldsig#']";
const XPATH_ASSERTION_SIG: &str = "/*[local-name()='Response']/*[local-name()='Assertion']/*[local-name()='Signature' and namespace-uri()='http://www.w3.org/2000/09/xmldsig#']";

fn key(name: &str) -> SigningKey {
    SigningKey::from_pem(
        &fixture(&format!("keys/{name}.key")),
        &fixture(&format!("keys/{name}.crt")),
    )
    .unwrap()
}

fn alg(name: &str) -> SignatureAlgorithm {
    SignatureAlgorithm::from_name(name).unwrap()
}

fn trust_for(k: &SigningKey) -> IdpTrust {
    IdpTrust::new(IDP, vec![k.trusted_certificate().unwrap()]).unwrap()
}

fn options(layout: SigningLayout, n: usize) -> MintOptions {
    let mut o = MintOptions::new(
        IDP,
        SP_ENTITY_ID,
        ACS_URL,
        "jane.doe@acme.example",
        time(ISSUED),
    );
    o.name_id_format = mint::NAMEID_EMAIL.to_string();
    o.attributes = vec![
        ("firstName".into(), vec!["Jane".into()]),
        ("groups".into(), vec!["Sales".into(), "Support".into()]),
    ];
    o.in_response_to = Some(REQUEST_ID.to_string());
    o.layout = layout;
    o.response_id = format!("id{n}0001");
    o.assertion_id = format!("id{n}0002");
    o
}

const LAYOUTS: [SigningLayout; 3] = [
    SigningLayout::Response,
    SigningLayout::Assertion,
    SigningLayout::Both,
];

/// (key name, algorithm name)
const KEYS_AND_ALGS: [(&str, &str); 3] = [
    ("idp", "rsa-sha256"),
    ("idp", "rsa-sha512"),
    ("idp-ec", "ecdsa-sha256"),
];

fn check_verified(v: &VerifiedAssertion, layout: SigningLayout, alg_name: &str) {
    assert_eq!(v.name_id(), "jane.doe@acme.example");
    assert_eq!(v.issuer(), IDP);
    assert_eq!(v.in_response_to(), Some(REQUEST_ID));
    assert_eq!(v.attributes()["firstName"], vec!["Jane"]);
    assert_eq!(v.attributes()["groups"], vec!["Sales", "Support"]);
    assert_eq!(v.signature_algorithm(), alg_name);
    let s = v.signed();
    assert_eq!(
        (s.response, s.assertion),
        match layout {
            SigningLayout::Response => (true, false),
            SigningLayout::Assertion => (false, true),
            SigningLayout::Both => (true, true),
        }
    );
}

#[test]
fn minted_responses_verify_in_every_layout_and_algorithm() {
    let mut n = 0;
    for (key_name, alg_name) in KEYS_AND_ALGS {
        let k = key(key_name);
        let trust = trust_for(&k);
        for layout in LAYOUTS {
            n += 1;
            let xml = mint::mint_response(&options(layout, n), &k, alg(alg_name)).unwrap();
            let v = verify_at(xml.as_bytes(), &sp(), &trust, NOW)
                .unwrap_or_else(|e| panic!("{key_name} {alg_name} {layout:?}: {e}\n{xml}"));
            check_verified(&v, layout, alg_name);
        }
    }
}

#[test]
fn minted_responses_verify_with_the_fixture_metadata() {
    // The verifier's trust comes from idp-metadata.xml here, not from the signing key.
    let xml = mint::mint_response(
        &options(SigningLayout::Both, 1),
        &key("idp"),
        alg("rsa-sha256"),
    )
    .unwrap();
    let v = crate::common::verify(xml.as_bytes()).unwrap();
    check_verified(&v, SigningLayout::Both, "rsa-sha256");
    // ... and a key the metadata does not trust is refused.
    let xml = mint::mint_response(
        &options(SigningLayout::Assertion, 2),
        &key("attacker"),
        alg("rsa-sha256"),
    )
    .unwrap();
    assert_eq!(
        crate::common::verify(xml.as_bytes()).unwrap_err().code(),
        "signature_invalid"
    );
}

static TMP: AtomicUsize = AtomicUsize::new(0);

fn temp_dir(label: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!(
        "sso-gateway-mint-{}-{label}-{}",
        std::process::id(),
        TMP.fetch_add(1, Ordering::SeqCst)
    ));
    std::fs::create_dir_all(&d).unwrap();
    d
}

fn xmlsec1_present() -> bool {
    Command::new("xmlsec1")
        .arg("--version")
        .output()
        .is_ok_and(|o| o.status.success())
}

/// The exact verification command of tests/fixtures/generate.py: only the given
/// certificate is used (KeyInfo ignored), one signature selected by `xpath`.
fn xmlsec1_verifies(file: &Path, cert: &str, xpath: &str) -> bool {
    let o = Command::new("xmlsec1")
        .current_dir(fixtures_dir())
        .args([
            "--verify",
            "--pubkey-cert-pem",
            &format!("keys/{cert}.crt"),
            "--enabled-key-data",
            "key-name",
            "--id-attr:ID",
            &format!("{NS_P}:Response"),
            "--id-attr:ID",
            &format!("{NS_A}:Assertion"),
            "--node-xpath",
            xpath,
        ])
        .arg(file)
        .output()
        .unwrap();
    o.status.success()
}

#[test]
fn xmlsec1_verifies_minted_responses() {
    if !xmlsec1_present() {
        require_in_ci("xmlsec1");
        return;
    }
    let dir = temp_dir("xmlsec1");
    let mut n = 0;
    for (key_name, alg_name) in KEYS_AND_ALGS
        .into_iter()
        .chain([("idp", "rsa-sha384"), ("idp-ec", "ecdsa-sha512")])
    {
        let k = key(key_name);
        for layout in LAYOUTS {
            n += 1;
            let mut o = options(layout, n);
            o.name_id = "o'brien <admin> & \"co\"@acme.example".into();
            o.attributes
                .push(("note".into(), vec!["a<b & c>\"d\"\tе".into()]));
            let xml = mint::mint_response(&o, &k, alg(alg_name)).unwrap();
            let f = dir.join(format!("{n}.xml"));
            std::fs::write(&f, &xml).unwrap();
            let label = format!("{key_name} {alg_name} {layout:?}");
            let (resp, assn) = match layout {
                SigningLayout::Response => (true, false),
                SigningLayout::Assertion => (false, true),
                SigningLayout::Both => (true, true),
            };
            if resp {
                assert!(
                    xmlsec1_verifies(&f, key_name, XPATH_RESPONSE_SIG),
                    "{label}: response"
                );
            }
            if assn {
                assert!(
                    xmlsec1_verifies(&f, key_name, XPATH_ASSERTION_SIG),
                    "{label}: assertion"
                );
            }
            // xmlsec1 is really checking: a tampered NameID or the wrong key fails.
            let tampered = xml.replacen("o'brien", "admin", 1);
            assert_ne!(tampered, xml);
            let t = dir.join(format!("{n}-tampered.xml"));
            std::fs::write(&t, tampered).unwrap();
            let xpath = if assn {
                XPATH_ASSERTION_SIG
            } else {
                XPATH_RESPONSE_SIG
            };
            assert!(!xmlsec1_verifies(&t, key_name, xpath), "{label}: tampered");
            let other = if key_name == "idp" { "idp-next" } else { "idp" };
            assert!(!xmlsec1_verifies(&f, other, xpath), "{label}: wrong key");
        }
    }
    std::fs::remove_dir_all(&dir).ok();
}

#[test]
fn values_needing_escaping_round_trip_exactly() {
    let k = key("idp");
    let trust = trust_for(&k);
    let name_id = "<script>&amp;\"quoted\" 'single' a>b ü 🙂";
    let tricky = vec![
        "<".to_string(),
        "&".to_string(),
        "\"".to_string(),
        "&lt;&#x41;]]>".to_string(),
        "tab\there, line\nend".to_string(),
        " lead and trail ".to_string(),
    ];
    for (n, layout) in LAYOUTS.into_iter().enumerate() {
        let mut o = options(layout, 100 + n);
        o.name_id = name_id.to_string();
        o.attributes = vec![
            ("tricky".into(), tricky.clone()),
            ("name with \"quotes\" & <angles>".into(), vec!["x".into()]),
        ];
        let xml = mint::mint_response(&o, &k, alg("rsa-sha256")).unwrap();
        let v = verify_at(xml.as_bytes(), &sp(), &trust, NOW).unwrap();
        assert_eq!(v.name_id(), name_id);
        assert_eq!(v.attributes()["tricky"], tricky);
        assert_eq!(v.attributes()["name with \"quotes\" & <angles>"], vec!["x"]);
    }
}

#[test]
fn reproduces_the_xmlsec1_fixture_signatures_byte_for_byte() {
    // Same inputs as tests/fixtures/generate.py; RSA PKCS#1 v1.5 is deterministic, so our
    // DigestValue and SignatureValue must equal the ones xmlsec1 produced.
    let mut o = MintOptions::new(
        IDP,
        SP_ENTITY_ID,
        ACS_URL,
        "jane.doe@acme.example",
        time(ISSUED),
    );
    o.name_id_format = mint::NAMEID_EMAIL.to_string();
    o.in_response_to = Some(REQUEST_ID.to_string());
    o.authn_instant = Some(time("2026-06-01T11:59:58Z"));
    o.session_index = "id1780315200000.1234567".into();
    o.response_id = "id2481640157236931962036745".into();
    o.assertion_id = "id24816401573372041299887340".into();
    o.attributes = vec![
        ("firstName".into(), vec!["Jane".into()]),
        ("lastName".into(), vec!["Doe".into()]),
        ("email".into(), vec!["jane.doe@acme.example".into()]),
        ("groups".into(), vec!["Sales".into(), "Support".into()]),
    ];
    let k = key("idp");
    let values = |xml: &str, tag: &str| -> Vec<String> {
        xml.split(&format!("<ds:{tag}>"))
            .skip(1)
            .map(|s| {
                s.split(&format!("</ds:{tag}>"))
                    .next()
                    .unwrap()
                    .chars()
                    .filter(|c| !c.is_whitespace())
                    .collect()
            })
            .collect()
    };
    for (layout, file) in [
        (
            SigningLayout::Assertion,
            "responses/okta-assertion-signed.xml",
        ),
        (
            SigningLayout::Response,
            "responses/okta-response-signed.xml",
        ),
    ] {
        o.layout = layout;
        let ours = mint::mint_response(&o, &k, alg("rsa-sha256")).unwrap();
        let theirs = String::from_utf8(fixture(file)).unwrap();
        assert_eq!(values(&theirs, "DigestValue").len(), 1, "{file}");
        assert_eq!(
            values(&ours, "DigestValue"),
            values(&theirs, "DigestValue"),
            "{file}"
        );
        assert_eq!(
            values(&ours, "SignatureValue"),
            values(&theirs, "SignatureValue"),
            "{file}"
        );
    }
}

#[test]
fn sign_element_refusals() {
    let k = key("idp");
    let ec = key("idp-ec");
    let doc = r#"<r xmlns:saml="urn:oasis:names:tc:SAML:2.0:assertion" ID="a"><saml:Issuer>i</saml:Issuer><x/></r>"#;
    let code = |r: Result<String, sso_gateway::saml::SamlError>| r.unwrap_err().code();
    assert_eq!(
        code(sign_element(doc, "nope", &k, alg("rsa-sha256"))),
        "signing_failed"
    );
    assert_eq!(
        code(sign_element(doc, "a", &k, alg("ecdsa-sha256"))),
        "signing_failed"
    );
    assert_eq!(
        code(sign_element(doc, "a", &ec, alg("rsa-sha256"))),
        "signing_failed"
    );
    assert_eq!(
        code(sign_element(doc, "a", &k, alg("rsa-sha1"))),
        "signing_failed"
    );
    assert_eq!(
        code(sign_element(
            "<r ID='a'><!--c--></r>",
            "a",
            &k,
            alg("rsa-sha256")
        )),
        "signing_failed"
    );
    assert_eq!(
        code(sign_element("<r ID='a'", "a", &k, alg("rsa-sha256"))),
        "xml_malformed"
    );
    let once = sign_element(doc, "a", &k, alg("rsa-sha256")).unwrap();
    assert_eq!(
        code(sign_element(&once, "a", &k, alg("rsa-sha256"))),
        "signing_failed"
    );
    // The signature sits right after the Issuer.
    assert!(once.contains("</saml:Issuer><ds:Signature "), "{once}");
    // Key and certificate must match.
    assert_eq!(
        SigningKey::from_pem(&fixture("keys/idp.key"), &fixture("keys/idp-next.crt"))
            .unwrap_err()
            .code(),
        "signing_failed"
    );
    assert_eq!(k.certificate_base64().len() % 4, 0);
}

// ---- the CLI ---------------------------------------------------------------------------

fn bin() -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_sso-gateway"));
    c.current_dir(fixtures_dir());
    c
}

fn mint_cmd(extra: &[&str]) -> Command {
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
        "--now",
        ISSUED,
    ]);
    c.args(extra);
    c
}

fn verify_files(files: &[PathBuf], extra: &[&str]) -> Vec<Value> {
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
        .args(files)
        .output()
        .unwrap();
    let out: Vec<Value> = String::from_utf8_lossy(&o.stdout)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(o.status.code(), Some(0), "{out:?}");
    out
}

#[test]
fn cli_mints_distinct_base64_responses_that_verify_response_accepts() {
    let o = mint_cmd(&[
        "--count",
        "3",
        "--base64",
        "--in-response-to",
        REQUEST_ID,
        "--attribute",
        "groups=Sales",
        "--attribute",
        "email=jane.doe@acme.example",
        "--attribute",
        "groups=Support",
    ])
    .output()
    .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let stdout = String::from_utf8(o.stdout).unwrap();
    let lines: Vec<&str> = stdout.lines().collect();
    assert_eq!(lines.len(), 3);
    let distinct: std::collections::HashSet<&&str> = lines.iter().collect();
    assert_eq!(distinct.len(), 3);
    let dir = temp_dir("cli");
    let files: Vec<PathBuf> = lines
        .iter()
        .enumerate()
        .map(|(i, l)| {
            let f = dir.join(format!("{i}.b64"));
            std::fs::write(&f, l).unwrap();
            f
        })
        .collect();
    // One process, one replay cache: distinct assertion IDs are needed for all to pass.
    let verdicts = verify_files(&files, &[]);
    assert_eq!(verdicts.len(), 3);
    let mut ids = std::collections::HashSet::new();
    let mut sessions = std::collections::HashSet::new();
    for v in &verdicts {
        assert_eq!(v["valid"], true, "{v}");
        assert_eq!(v["name_id"], "jane.doe@acme.example");
        assert_eq!(v["in_response_to"], REQUEST_ID);
        assert_eq!(
            v["attributes"]["groups"],
            serde_json::json!(["Sales", "Support"])
        );
        assert_eq!(v["signed"]["response"], true);
        assert_eq!(v["signed"]["assertion"], true);
        assert_eq!(v["session_not_on_or_after"], "2026-06-01T20:00:00Z");
        let id = v["assertion_id"].as_str().unwrap();
        assert!(
            id.starts_with("id") && id[2..].bytes().all(|b| b.is_ascii_digit()),
            "{id}"
        );
        ids.insert(id.to_string());
        sessions.insert(v["session_index"].as_str().unwrap().to_string());
    }
    assert_eq!(ids.len(), 3);
    assert_eq!(sessions.len(), 3);
    // The decoded XML has distinct Response IDs too.
    let response_ids: std::collections::HashSet<String> = lines
        .iter()
        .map(|l| {
            let xml =
                String::from_utf8(base64::engine::general_purpose::STANDARD.decode(l).unwrap())
                    .unwrap();
            xml.split(" ID=\"")
                .nth(1)
                .unwrap()
                .split('"')
                .next()
                .unwrap()
                .to_string()
        })
        .collect();
    assert_eq!(response_ids.len(), 3);
    std::fs::remove_dir_all(&dir).ok();
}

#[test]
fn cli_out_dir_layouts_and_algorithms() {
    let dir = temp_dir("outdir");
    let d = dir.to_str().unwrap();
    let o = mint_cmd(&[
        "--count",
        "2",
        "--out-dir",
        d,
        "--layout",
        "response",
        "--algorithm",
        "rsa-sha384",
    ])
    .output()
    .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    assert!(o.stdout.is_empty());
    let files = vec![
        dir.join("response-000001.xml"),
        dir.join("response-000002.xml"),
    ];
    let verdicts = verify_files(&files, &["--allow-unsolicited"]);
    for v in &verdicts {
        assert_eq!(v["valid"], true, "{v}");
        assert_eq!(v["signed"]["assertion"], false);
        assert_eq!(v["signature_algorithm"], "rsa-sha384");
        assert_eq!(v["in_response_to"], Value::Null);
    }
    std::fs::remove_dir_all(&dir).ok();

    // One response, XML on stdout; EC key defaults to ecdsa-sha256.
    let o = bin()
        .args([
            "mint-response",
            "--key",
            "keys/idp-ec.key",
            "--cert",
            "keys/idp-ec.crt",
            "--issuer",
            IDP,
            "--audience",
            SP_ENTITY_ID,
            "--acs-url",
            ACS_URL,
            "--name-id",
            "x",
            "--layout",
            "assertion",
            "--now",
            ISSUED,
            "--validity",
            "60",
            "--session-hours",
            "0",
        ])
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let xml = String::from_utf8(o.stdout).unwrap();
    assert!(xml.starts_with("<?xml"), "{xml}");
    assert!(xml.contains("xmldsig-more#ecdsa-sha256"));
    assert!(xml.contains("NotOnOrAfter=\"2026-06-01T12:01:00.000Z\""));
    assert!(!xml.contains("SessionNotOnOrAfter"));
}

#[test]
fn cli_usage_errors_exit_2() {
    for extra in [
        vec!["--count", "2"],
        vec!["--algorithm", "ecdsa-sha256"],
        vec!["--algorithm", "rsa-sha1"],
        vec!["--attribute", "novalue"],
        vec!["--layout", "neither"],
        vec!["--now", "yesterday"],
        vec!["--validity", "0"],
    ] {
        let o = mint_cmd(&extra).output().unwrap();
        assert_eq!(o.status.code(), Some(2), "{extra:?}");
        assert!(o.stdout.is_empty(), "{extra:?}");
    }
    let o = bin()
        .args([
            "mint-response",
            "--key",
            "keys/missing.key",
            "--cert",
            "keys/idp.crt",
            "--issuer",
            IDP,
            "--audience",
            SP_ENTITY_ID,
            "--acs-url",
            ACS_URL,
            "--name-id",
            "x",
        ])
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(2));
}

#[test]
fn cli_help_mentions_every_flag() {
    let o = bin().arg("--help").output().unwrap();
    assert!(String::from_utf8_lossy(&o.stdout).contains("mint-response"));
    let o = bin().args(["mint-response", "--help"]).output().unwrap();
    assert!(o.status.success());
    let text = String::from_utf8_lossy(&o.stdout);
    for flag in [
        "--key",
        "--cert",
        "--issuer",
        "--audience",
        "--acs-url",
        "--name-id",
        "--name-id-format",
        "--attribute",
        "--in-response-to",
        "--now",
        "--validity",
        "--session-hours",
        "--layout",
        "--algorithm",
        "--base64",
        "--count",
        "--out-dir",
        "rsa-sha512",
        "ecdsa-sha256",
        "Exit status",
    ] {
        assert!(text.contains(flag), "help lacks {flag}:\n{text}");
    }
}
