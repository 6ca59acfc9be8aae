//! Runs every case of tests/fixtures/manifest.json: valid responses in all signing
//! layouts and algorithms, and the attack suite, each with its expected error code.

use std::collections::{BTreeMap, HashMap, HashSet};

use serde_json::Value;
use sso_gateway::saml::{
    DecryptionKey, IdpMetadata, IdpTrust, InMemoryReplayCache, SamlError, SpSettings,
    VerifyContext, verify_response,
};

use crate::common::{fixture, fixtures_dir, time};

fn setting<'a>(case: &'a Value, defaults: &'a Value, key: &str) -> &'a Value {
    case.get(key).unwrap_or(&defaults[key])
}

#[test]
fn manifest_cases() {
    let manifest: Value =
        serde_json::from_slice(&std::fs::read(fixtures_dir().join("manifest.json")).unwrap())
            .unwrap();
    let defaults = &manifest["defaults"];
    let cases = manifest["cases"].as_array().unwrap();
    assert!(
        cases.len() >= 40,
        "the manifest should hold the whole suite, found {}",
        cases.len()
    );
    let known: HashSet<&str> = SamlError::ALL_CODES.iter().copied().collect();
    let mut trusts: HashMap<String, Result<IdpTrust, SamlError>> = HashMap::new();
    let mut failures = Vec::new();
    let mut seen_codes: BTreeMap<String, usize> = BTreeMap::new();

    for case in cases {
        let name = case["name"].as_str().unwrap();
        let metadata = setting(case, defaults, "metadata")
            .as_str()
            .unwrap()
            .to_string();
        let trust = trusts
            .entry(metadata.clone())
            .or_insert_with(|| IdpMetadata::parse(&fixture(&metadata)).and_then(|m| m.trust()));
        if let Some(expected) = case.get("metadata_error").and_then(Value::as_str) {
            match trust {
                Err(e) if e.code() == expected => {}
                other => failures.push(format!(
                    "{name}: metadata expected {expected}, got {:?}",
                    other.as_ref().err()
                )),
            }
            continue;
        }
        let trust = match trust {
            Ok(t) => t.clone(),
            Err(e) => {
                failures.push(format!("{name}: metadata {metadata} failed: {e}"));
                continue;
            }
        };
        let mut sp = SpSettings::new(
            setting(case, defaults, "sp_entity_id").as_str().unwrap(),
            setting(case, defaults, "acs_url").as_str().unwrap(),
        );
        sp.clock_skew =
            chrono::Duration::seconds(setting(case, defaults, "clock_skew").as_i64().unwrap());
        sp.allow_unsolicited = setting(case, defaults, "allow_unsolicited")
            .as_bool()
            .unwrap();
        sp.allow_sha1 = setting(case, defaults, "allow_sha1").as_bool().unwrap();
        // SP decryption keys (PEM files), current first (issue 7).
        sp.decryption_keys = setting(case, defaults, "sp_keys")
            .as_array()
            .unwrap()
            .iter()
            .map(|k| DecryptionKey::from_pem(&fixture(k.as_str().unwrap())).unwrap())
            .collect();
        let request_ids: Vec<String> = setting(case, defaults, "request_ids")
            .as_array()
            .unwrap()
            .iter()
            .map(|v| v.as_str().unwrap().to_string())
            .collect();
        let now = time(setting(case, defaults, "now").as_str().unwrap());
        let mut cache = InMemoryReplayCache::new();
        let files = case["files"].as_array().unwrap();
        let expects = case["expect"].as_array().unwrap();
        assert_eq!(
            files.len(),
            expects.len(),
            "{name}: one expectation per file"
        );
        for (file, expect) in files.iter().zip(expects) {
            let file = file.as_str().unwrap();
            let expect = expect.as_str().unwrap();
            assert!(
                expect == "valid" || known.contains(expect),
                "{name}: unknown code {expect}"
            );
            *seen_codes.entry(expect.to_string()).or_default() += 1;
            let mut ctx = VerifyContext {
                now,
                request_ids: &request_ids,
                replay_cache: &mut cache,
            };
            let result = verify_response(&fixture(file), &sp, &trust, &mut ctx);
            match (&result, expect) {
                (Ok(a), "valid") => {
                    if let Some(n) = case.get("name_id").and_then(Value::as_str)
                        && a.name_id() != n
                    {
                        failures.push(format!("{name}/{file}: name_id {} != {n}", a.name_id()));
                    }
                    if let Some(attrs) = case.get("attributes").and_then(Value::as_object) {
                        for (k, v) in attrs {
                            let want: Vec<String> = v
                                .as_array()
                                .unwrap()
                                .iter()
                                .map(|x| x.as_str().unwrap().into())
                                .collect();
                            if a.attributes().get(k) != Some(&want) {
                                failures.push(format!(
                                    "{name}/{file}: attribute {k} = {:?}, want {want:?}",
                                    a.attributes().get(k)
                                ));
                            }
                        }
                    }
                }
                (Err(e), code) if e.code() == code => {}
                (Ok(a), code) => failures.push(format!(
                    "{name}/{file}: expected {code}, but it was VALID for {}",
                    a.name_id()
                )),
                (Err(e), code) => failures.push(format!(
                    "{name}/{file}: expected {code}, got {} ({})",
                    e.code(),
                    e.log_message()
                )),
            }
        }
    }
    eprintln!(
        "manifest: {} cases; outcomes covered: {seen_codes:?}",
        cases.len()
    );
    assert!(
        failures.is_empty(),
        "{} failing cases:\n{}",
        failures.len(),
        failures.join("\n")
    );

    // The attack suite must exercise these refusals (the list).
    for code in [
        "signature_missing",
        "signature_invalid",
        "reference_mismatch",
        "multiple_assertions",
        "dtd_forbidden",
        "sha1_forbidden",
        "expired",
        "not_yet_valid",
        "audience_mismatch",
        "recipient_mismatch",
        "destination_mismatch",
        "issuer_mismatch",
        "replayed",
        "in_response_to_mismatch",
        "digest_mismatch",
        "unsigned_comment",
        "unsolicited_response_forbidden",
        // issue 7
        "decryption_key_missing",
        "decryption_failed",
        "rsa1_5_key_transport_refused",
        "decrypted_assertion_unsigned",
        "encrypted_assertion_unsupported",
    ] {
        assert!(
            seen_codes.contains_key(code),
            "no fixture case expects {code}"
        );
    }
}
