//! Exclusive C14N against independent output: the W3C examples and a generated
//! corpus whose expected bytes come from lxml (libxml2), plus a fresh random corpus
//! generated on every run when python3 + lxml are present (always in CI).

use serde_json::Value;
use sso_gateway::saml::c14n::{Options, canonicalize, canonicalize_document};
use sso_gateway::saml::xml::{Document, Limits, NodeId, parse};

use crate::common::{fixtures_dir, python_has, require_in_ci};

fn walk(doc: &Document, path: &[Value]) -> NodeId {
    let mut cur = doc.root();
    for step in path {
        let i = step.as_u64().unwrap() as usize;
        cur = doc
            .child_elements(cur)
            .nth(i)
            .map(|(n, _)| n)
            .expect("path step");
    }
    cur
}

/// Run every JSONL case; returns (cases, failures).
fn run_cases(jsonl: &str) -> (usize, Vec<String>) {
    let limits = Limits {
        max_bytes: 1 << 20,
        ..Limits::default()
    };
    let mut failures = Vec::new();
    let mut n = 0;
    for line in jsonl.lines().filter(|l| !l.trim().is_empty()) {
        let case: Value = serde_json::from_str(line).unwrap();
        if case.get("skip").is_some_and(|s| !s.is_null() && s != false) {
            continue;
        }
        n += 1;
        let id = case["id"].as_str().unwrap_or("?").to_string();
        let doc = match parse(case["input"].as_str().unwrap().as_bytes(), &limits) {
            Ok(d) => d,
            Err(e) => {
                failures.push(format!("{id}: our parser refused the input: {e}"));
                continue;
            }
        };
        let prefixes: Vec<String> = case["prefixes"]
            .as_array()
            .map(|a| a.iter().map(|p| p.as_str().unwrap().to_string()).collect())
            .unwrap_or_default();
        let exclude = case
            .get("exclude")
            .and_then(Value::as_array)
            .map(|p| walk(&doc, p));
        let opts = Options {
            with_comments: case["with_comments"].as_bool().unwrap_or(false),
            inclusive_prefixes: &prefixes,
            exclude,
        };
        let got = match case.get("apex").and_then(Value::as_array) {
            Some(path) => canonicalize(&doc, walk(&doc, path), &opts),
            None => canonicalize_document(&doc, &opts),
        };
        let want = case["expected"].as_str().unwrap();
        if got != want {
            failures.push(format!(
                "{id}:\n  input: {}\n  want:  {want}\n  got:   {got}",
                case["input"]
            ));
        }
    }
    (n, failures)
}

fn assert_file(name: &str, min_cases: usize) {
    let path = fixtures_dir().join("c14n").join(name);
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let (n, failures) = run_cases(&text);
    eprintln!("{name}: {n} cases, {} mismatches", failures.len());
    assert!(n >= min_cases, "{name}: only {n} cases");
    assert!(
        failures.is_empty(),
        "{} of {n} differ:\n{}",
        failures.len(),
        failures
            .iter()
            .take(5)
            .cloned()
            .collect::<Vec<_>>()
            .join("\n")
    );
}

#[test]
fn w3c_examples() {
    assert_file("w3c.jsonl", 5);
}

#[test]
fn committed_corpus_matches_lxml() {
    assert_file("corpus.jsonl", 1000);
}

#[test]
fn fresh_random_corpus_matches_lxml() {
    if !python_has(&["lxml"]) {
        require_in_ci("python3 with lxml");
        return;
    }
    let seed = std::process::id() as u64 * 7919 + 17;
    let out = std::env::temp_dir().join(format!("sso-gateway-c14n-{seed}.jsonl"));
    let status = std::process::Command::new("python3")
        .arg(fixtures_dir().join("c14n/gen_corpus.py"))
        .args(["--seed", &seed.to_string(), "--count", "500", "--out"])
        .arg(&out)
        .status()
        .unwrap();
    assert!(status.success(), "gen_corpus.py failed");
    let text = std::fs::read_to_string(&out).unwrap();
    let _ = std::fs::remove_file(&out);
    let (n, failures) = run_cases(&text);
    eprintln!(
        "fresh corpus seed {seed}: {n} cases, {} mismatches",
        failures.len()
    );
    assert!(n >= 400);
    assert!(
        failures.is_empty(),
        "seed {seed}: {} differ:\n{}",
        failures.len(),
        failures
            .iter()
            .take(5)
            .cloned()
            .collect::<Vec<_>>()
            .join("\n")
    );
}

/// Our canonical form of every apex of an xmlsec_diff.py batch, digested, against the
/// DigestValue xmlsec1 computed; and xmlsec1's HMAC over our canonical SignedInfo.
/// Returns (documents, references compared, failures).
fn run_xmlsec_batches(jsonl: &str) -> (usize, usize, Vec<String>) {
    use base64::Engine as _;
    let limits = Limits {
        max_bytes: 1 << 24,
        max_nodes: 1 << 20,
        ..Limits::default()
    };
    let b64 = base64::engine::general_purpose::STANDARD;
    let (mut docs, mut refs) = (0, 0);
    let mut failures = Vec::new();
    for line in jsonl.lines().filter(|l| !l.trim().is_empty()) {
        let batch: Value = serde_json::from_str(line).unwrap();
        let id = batch["id"].as_str().unwrap();
        let doc = match parse(batch["unsigned"].as_str().unwrap().as_bytes(), &limits) {
            Ok(d) => d,
            Err(e) => {
                failures.push(format!("{id}: our parser refused the batch: {e}"));
                continue;
            }
        };
        docs += doc.child_elements(doc.root()).count() - 1; // less the ds:Signature
        for (k, r) in batch["refs"].as_array().unwrap().iter().enumerate() {
            refs += 1;
            let prefixes: Vec<String> = r["prefixes"]
                .as_array()
                .unwrap()
                .iter()
                .map(|p| p.as_str().unwrap().to_string())
                .collect();
            let apex = walk(&doc, r["apex"].as_array().unwrap());
            let exclude = r["exclude"].as_array().map(|p| walk(&doc, p));
            let opts = Options {
                with_comments: r["with_comments"].as_bool().unwrap(),
                inclusive_prefixes: &prefixes,
                exclude,
            };
            let ours = canonicalize(&doc, apex, &opts);
            let digest = b64.encode(openssl::sha::sha256(ours.as_bytes()));
            if digest != r["digest"].as_str().unwrap() {
                failures.push(format!(
                    "{id} ref {k} {r}: digest differs; our canonical form:\n{ours}"
                ));
            }
        }
        // SignedInfo: canonicalised by us in the signed document, HMAC'd by xmlsec1.
        let signed = match parse(batch["signed"].as_str().unwrap().as_bytes(), &limits) {
            Ok(d) => d,
            Err(e) => {
                failures.push(format!("{id}: our parser refused xmlsec1's output: {e}"));
                continue;
            }
        };
        const DS: &str = "http://www.w3.org/2000/09/xmldsig#";
        let (sig, _) = signed
            .children_named(signed.root(), DS, "Signature")
            .last()
            .unwrap();
        let (si, _) = signed.child_named(sig, DS, "SignedInfo").unwrap();
        let (sv, _) = signed.child_named(sig, DS, "SignatureValue").unwrap();
        let canon = canonicalize(&signed, si, &Options::default());
        let key =
            openssl::pkey::PKey::hmac(batch["hmac_key"].as_str().unwrap().as_bytes()).unwrap();
        let mut signer =
            openssl::sign::Signer::new(openssl::hash::MessageDigest::sha256(), &key).unwrap();
        let mac = b64.encode(signer.sign_oneshot_to_vec(canon.as_bytes()).unwrap());
        let want: String = signed
            .text_content(sv)
            .chars()
            .filter(|c| !c.is_whitespace())
            .collect();
        if mac != want {
            failures.push(format!("{id}: SignedInfo HMAC differs; ours:\n{canon}"));
        }
    }
    (docs, refs, failures)
}

#[test]
fn fresh_random_corpus_matches_xmlsec1() {
    if !python_has(&["lxml"])
        || std::process::Command::new("xmlsec1")
            .arg("--version")
            .output()
            .is_err()
    {
        require_in_ci("python3 with lxml, and xmlsec1");
        return;
    }
    // SSO_C14N_XMLSEC_BATCHES scales the run (50 documents, 100 references per batch).
    let batches: usize = std::env::var("SSO_C14N_XMLSEC_BATCHES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(20);
    let seed = std::process::id() as u64 * 104_729 + 3;
    let out = std::env::temp_dir().join(format!("sso-gateway-c14n-xmlsec-{seed}.jsonl"));
    let status = std::process::Command::new("python3")
        .arg(fixtures_dir().join("c14n/xmlsec_diff.py"))
        .args([
            "--seed",
            &seed.to_string(),
            "--batches",
            &batches.to_string(),
        ])
        .args(["--per-batch", "50", "--out"])
        .arg(&out)
        .status()
        .unwrap();
    assert!(status.success(), "xmlsec_diff.py failed");
    let text = std::fs::read_to_string(&out).unwrap();
    let _ = std::fs::remove_file(&out);
    let (docs, refs, failures) = run_xmlsec_batches(&text);
    eprintln!(
        "xmlsec1 differential seed {seed}: {docs} documents, {refs} references + {batches} SignedInfo, {} mismatches",
        failures.len()
    );
    assert!(docs >= batches * 50 && refs >= batches * 100);
    assert!(
        failures.is_empty(),
        "seed {seed}: {} differ:\n{}",
        failures.len(),
        failures
            .iter()
            .take(3)
            .cloned()
            .collect::<Vec<_>>()
            .join("\n")
    );
}
