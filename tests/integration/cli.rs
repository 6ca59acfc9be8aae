//! The `verify-response` command as test suites use it.

use std::io::Write;
use std::process::{Command, Output, Stdio};

use serde_json::Value;

use crate::common::{ACS_URL, NOW, REQUEST_ID, SP_ENTITY_ID, fixtures_dir};

fn bin() -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_sso-gateway"));
    c.current_dir(fixtures_dir());
    c
}

fn verify_cmd(extra: &[&str]) -> Command {
    let mut c = bin();
    c.args([
        "verify-response",
        "--idp-metadata",
        "idp-metadata.xml",
        "--sp-entity-id",
        SP_ENTITY_ID,
        "--acs-url",
        ACS_URL,
        "--request-id",
        REQUEST_ID,
    ]);
    if !extra.contains(&"--now") {
        c.args(["--now", NOW]);
    }
    c.args(extra);
    c
}

fn lines(o: &Output) -> Vec<Value> {
    String::from_utf8_lossy(&o.stdout)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("not JSON: {l}: {e}")))
        .collect()
}

#[test]
fn help_explains_itself() {
    let o = bin().arg("--help").output().unwrap();
    assert!(o.status.success());
    let text = String::from_utf8_lossy(&o.stdout);
    assert!(text.contains("verify-response"), "{text}");
    let o = bin().args(["verify-response", "--help"]).output().unwrap();
    assert!(o.status.success());
    let text = String::from_utf8_lossy(&o.stdout);
    for word in [
        "--idp-metadata",
        "--sp-entity-id",
        "--acs-url",
        "--now",
        "--clock-skew",
        "--request-id",
        "--allow-unsolicited",
        "--allow-sha1",
        "--explain",
        "Exit status",
        "replay",
    ] {
        assert!(text.contains(word), "help lacks {word}:\n{text}");
    }
}

#[test]
fn valid_file_prints_the_documented_object_and_exits_0() {
    let o = verify_cmd(&["responses/okta-response-signed.xml"])
        .output()
        .unwrap();
    assert_eq!(
        o.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );
    let v = &lines(&o)[0];
    assert_eq!(v["file"], "responses/okta-response-signed.xml");
    assert_eq!(v["valid"], true);
    assert_eq!(v["issuer"], "http://www.okta.com/exk1fxtr9ZQ8bW3aK5d7");
    assert_eq!(v["name_id"], "jane.doe@acme.example");
    assert_eq!(
        v["name_id_format"],
        "urn:oasis:names:tc:SAML:1.1:nameid-format:emailAddress"
    );
    assert!(v["session_index"].is_string());
    assert_eq!(
        v["attributes"]["groups"],
        serde_json::json!(["Sales", "Support"])
    );
    assert_eq!(v["not_on_or_after"], "2026-06-01T12:05:00Z");
    assert!(v.get("checks").is_none());
}

#[test]
fn several_files_share_a_replay_cache_and_exit_1() {
    let f = "responses/okta-both-signed.xml";
    let o = verify_cmd(&[f, f]).output().unwrap();
    assert_eq!(o.status.code(), Some(1));
    let v = lines(&o);
    assert_eq!(v.len(), 2);
    assert_eq!(v[0]["valid"], true);
    assert_eq!(v[1]["valid"], false);
    assert_eq!(v[1]["error"], "replayed");
    assert!(v[1]["message"].as_str().unwrap().contains("already used"));
}

#[test]
fn stdin_base64_and_explain() {
    let b64 = std::fs::read(fixtures_dir().join("responses/okta-response-signed.b64")).unwrap();
    let mut child = verify_cmd(&["--explain", "-"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    child.stdin.take().unwrap().write_all(&b64).unwrap();
    let o = child.wait_with_output().unwrap();
    assert_eq!(o.status.code(), Some(0));
    let v = &lines(&o)[0];
    assert_eq!(v["file"], "-");
    let checks = v["checks"].as_array().unwrap();
    assert!(checks.len() >= 10);
    assert!(
        checks
            .iter()
            .all(|c| c["passed"] == true && c["check"].is_string() && c["detail"].is_string())
    );
    assert!(checks.iter().any(|c| c["check"] == "audience"));
}

#[test]
fn explain_shows_the_failed_check() {
    let o = verify_cmd(&[
        "--explain",
        "--now",
        "2026-06-01T13:00:00Z",
        "responses/okta-response-signed.xml",
    ])
    .output()
    .unwrap();
    assert_eq!(o.status.code(), Some(1));
    let v = &lines(&o)[0];
    assert_eq!(v["error"], "expired");
    let last = v["checks"].as_array().unwrap().last().unwrap().clone();
    assert_eq!(last["passed"], false);
    assert_eq!(last["check"], "not_on_or_after");
}

#[test]
fn flags_change_the_verdict() {
    let o = verify_cmd(&["responses/unsolicited-assertion-signed.xml"])
        .output()
        .unwrap();
    assert_eq!(lines(&o)[0]["error"], "unsolicited_response_forbidden");
    let o = verify_cmd(&[
        "--allow-unsolicited",
        "responses/unsolicited-assertion-signed.xml",
    ])
    .output()
    .unwrap();
    assert_eq!(o.status.code(), Some(0));
    let o = verify_cmd(&["responses/sha1.xml"]).output().unwrap();
    assert_eq!(lines(&o)[0]["error"], "sha1_forbidden");
    let o = verify_cmd(&["--allow-sha1", "responses/sha1.xml"])
        .output()
        .unwrap();
    assert_eq!(
        o.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&o.stdout)
    );
    // A skew of 0 turns a response verified 30 s after NotOnOrAfter into an expiry.
    let o = verify_cmd(&[
        "--clock-skew",
        "0",
        "--now",
        "2026-06-01T12:05:30Z",
        "responses/okta-both-signed.xml",
    ])
    .output()
    .unwrap();
    assert_eq!(lines(&o)[0]["error"], "expired");
    let o = verify_cmd(&[
        "--now",
        "2026-06-01T12:05:30Z",
        "responses/okta-both-signed.xml",
    ])
    .output()
    .unwrap();
    assert_eq!(o.status.code(), Some(0));
}

#[test]
fn usage_and_io_errors_exit_2() {
    let o = bin()
        .args(["verify-response", "responses/okta-response-signed.xml"])
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(2), "missing required flags");
    let o = verify_cmd(&["--now", "yesterday", "responses/okta-response-signed.xml"])
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(2));
    let o = verify_cmd(&["does-not-exist.xml"]).output().unwrap();
    assert_eq!(o.status.code(), Some(2));
    assert_eq!(lines(&o)[0]["error"], "io_error");
    let mut c = bin();
    c.args([
        "verify-response",
        "--idp-metadata",
        "idp-metadata-nokey.xml",
        "--sp-entity-id",
        SP_ENTITY_ID,
        "--acs-url",
        ACS_URL,
        "responses/okta-response-signed.xml",
    ]);
    let o = c.output().unwrap();
    assert_eq!(o.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&o.stderr).contains("no_trusted_certificate"));
}

#[test]
fn admin_commands_create_tenants_and_users() {
    let dir = std::env::temp_dir().join(format!("sso-gw-admin-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let db = format!("sqlite://{}/gw.db", dir.display());
    let run = |args: &[&str]| {
        let mut c = bin();
        c.args([
            "admin",
            "--database",
            &db,
            "--public-url",
            "https://gw.example",
        ]);
        c.args(args);
        c.output().unwrap()
    };
    let o = run(&[
        "tenant",
        "create",
        "acme",
        "--idp-metadata",
        "idp-metadata.xml",
        "--allow-idp-initiated",
        "--json",
    ]);
    assert_eq!(
        o.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );
    let t: Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(t["sp_entity_id"], "https://gw.example/saml/acme/metadata");
    assert_eq!(t["acs_url"], "https://gw.example/saml/acme/acs");
    assert_eq!(t["metadata_url"], "https://gw.example/saml/acme/metadata");
    // The same slug twice is refused.
    assert_eq!(
        run(&[
            "tenant",
            "create",
            "acme",
            "--idp-metadata",
            "idp-metadata.xml"
        ])
        .status
        .code(),
        Some(2)
    );
    // Metadata without a signing key is refused.
    assert_eq!(
        run(&[
            "tenant",
            "create",
            "other",
            "--idp-metadata",
            "idp-metadata-nokey.xml"
        ])
        .status
        .code(),
        Some(2)
    );
    // No X6 bought yet: refused, clearly.
    let o = run(&[
        "user",
        "create",
        "--tenant",
        "acme",
        "--user-name",
        "Jane.Doe@acme.example",
        "--license",
        "x6",
    ]);
    assert_eq!(o.status.code(), Some(2));
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(
        err.contains("no X6 license left: 0 of the 0 bought"),
        "{err}"
    );
    let o = run(&[
        "license",
        "set",
        "--tenant",
        "acme",
        "--license",
        "x6",
        "--quantity",
        "1",
    ]);
    assert_eq!(
        o.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );
    let o = run(&[
        "user",
        "create",
        "--tenant",
        "acme",
        "--user-name",
        "Jane.Doe@acme.example",
        "--license",
        "x6",
        "--json",
    ]);
    assert_eq!(
        o.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );
    let u: Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(u["federation_id"], "Jane.Doe@acme.example");
    assert_eq!(u["active"], true);
    assert_eq!(u["licenses"], serde_json::json!(["X6"]));
    assert_eq!(
        run(&[
            "user",
            "create",
            "--tenant",
            "acme",
            "--user-name",
            "jane.doe@ACME.example"
        ])
        .status
        .code(),
        Some(2),
        "user names are unique case-insensitively"
    );
    assert_eq!(
        run(&[
            "user",
            "create",
            "--tenant",
            "acme",
            "--user-name",
            "x",
            "--license",
            "X9"
        ])
        .status
        .code(),
        Some(2),
        "unknown license"
    );
    let _ = std::fs::remove_dir_all(&dir);
}
