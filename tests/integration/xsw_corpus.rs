//! The signature-wrapping corpus (tests/fixtures/xsw/, built by gen_xsw.py from the
//! xmlsec1-signed responses): every relocation of the signed Assertion, second copies,
//! wrappers in Extensions/Object/Advice, Response-level wrapping, XSW1-8, signature
//! moves, namespace and prefix games, comment/CDATA/PI splits and ID tricks. Each attack
//! must be refused with its named error, or, where the change is harmless ("same"),
//! verify to exactly the values of its signed base fixture. The full table is printed
//! (run with --nocapture to read it).

use std::collections::BTreeMap;

use serde_json::Value;
use sso_gateway::saml::VerifiedAssertion;

use crate::common::{fixture, fixtures_dir, verify};

pub(crate) fn values(a: &VerifiedAssertion) -> String {
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

#[test]
fn every_wrapping_attack_is_refused_with_its_named_error() {
    let manifest: Value =
        serde_json::from_slice(&std::fs::read(fixtures_dir().join("xsw/manifest.json")).unwrap())
            .unwrap();
    let attacks = manifest["attacks"].as_array().unwrap();
    let mut base_values: BTreeMap<String, String> = BTreeMap::new();
    let mut rows = Vec::new();
    let mut failures = Vec::new();
    let mut by_family: BTreeMap<String, BTreeMap<String, usize>> = BTreeMap::new();
    for at in attacks {
        let file = at["file"].as_str().unwrap();
        let base = at["base"].as_str().unwrap();
        let expect = at["expect"].as_str().unwrap();
        let family = at["family"].as_str().unwrap();
        let good = base_values
            .entry(base.to_string())
            .or_insert_with(|| values(&verify(&fixture(base)).unwrap()))
            .clone();
        let got = match verify(&fixture(file)) {
            Ok(a) if values(&a) == good => "same".to_string(),
            Ok(a) => format!("ACCEPTED-WITH-OTHER-VALUES {}", values(&a)),
            Err(e) => e.code().to_string(),
        };
        let ok = got == expect;
        if !ok {
            failures.push(format!(
                "{file}: expected {expect}, got {got}  ({})",
                at["attack"]
            ));
        }
        *by_family
            .entry(family.to_string())
            .or_default()
            .entry(got.clone())
            .or_default() += 1;
        rows.push(format!(
            "| {family} | {} | {} | {got} | {} |",
            file.trim_start_matches("xsw/corpus/"),
            at["attack"].as_str().unwrap(),
            if ok { "ok" } else { "FAIL" }
        ));
    }
    eprintln!(
        "| family | file | attack | verdict | |\n|---|---|---|---|---|\n{}",
        rows.join("\n")
    );
    eprintln!(
        "{} attacks; verdicts by family: {by_family:?}",
        attacks.len()
    );
    assert!(attacks.len() >= 400, "corpus too small: {}", attacks.len());
    assert!(
        failures.is_empty(),
        "{} of {} attacks did not get their expected verdict:\n{}",
        failures.len(),
        attacks.len(),
        failures.join("\n")
    );
    // No attack may ever be accepted with values that were not signed.
    assert!(
        !rows
            .iter()
            .any(|r| r.contains("ACCEPTED-WITH-OTHER-VALUES"))
    );
}
