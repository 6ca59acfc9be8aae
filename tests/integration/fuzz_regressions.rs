//! Regression tests for what the fuzzers (fuzz/, scripts/fuzz.sh) look for, and for each
//! finding they made. Also the decompression-bomb guard of the Redirect binding, with a
//! real bomb: 1 GiB of output from about 1 MiB of DEFLATE.

use std::io::Write;
use std::time::{Duration, Instant};

use base64::Engine as _;
use flate2::Compression;
use flate2::write::DeflateEncoder;
use sso_gateway::saml::binding::{decode_redirect, inflate_base64};

/// A raw DEFLATE stream that inflates to `mib` MiB of zeros: one 1 MiB chunk compressed
/// with a sync flush (non-final blocks ending byte-aligned), repeated, then a final empty
/// fixed-Huffman block. Built in milliseconds, unlike compressing 1 GiB.
fn deflate_bomb(mib: usize) -> Vec<u8> {
    let mut enc = DeflateEncoder::new(Vec::new(), Compression::best());
    enc.write_all(&vec![0u8; 1 << 20]).unwrap();
    enc.flush().unwrap(); // sync flush: ends with an empty stored block 00 00 ff ff
    let chunk = enc.get_ref().clone();
    assert!(chunk.ends_with(&[0, 0, 0xff, 0xff]));
    let mut bomb = Vec::with_capacity(chunk.len() * mib + 2);
    for _ in 0..mib {
        bomb.extend_from_slice(&chunk);
    }
    bomb.extend_from_slice(&[0x03, 0x00]); // BFINAL=1, fixed Huffman, end of block
    bomb
}

fn urlencode(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

#[test]
fn the_bomb_is_real() {
    // 8 MiB version fully inflated, to prove the construction (the 1 GiB one is never
    // inflated in full by anything here).
    let bomb = deflate_bomb(8);
    let mut out = Vec::new();
    std::io::Read::read_to_end(&mut flate2::read::DeflateDecoder::new(&bomb[..]), &mut out)
        .unwrap();
    assert_eq!(out.len(), 8 << 20);
    assert!(out.iter().all(|&b| b == 0));
    assert!(
        bomb.len() * 500 < out.len(),
        "ratio {}",
        out.len() / bomb.len()
    );
}

#[test]
fn redirect_decompression_bomb_is_stopped_at_the_limit() {
    let bomb = deflate_bomb(1024); // 1 GiB when inflated
    let b64 = base64::engine::general_purpose::STANDARD.encode(&bomb);
    eprintln!(
        "bomb: {} bytes of DEFLATE, {} of base64, inflates to 1 GiB",
        bomb.len(),
        b64.len()
    );
    let started = Instant::now();
    let e = inflate_base64(&b64, 256 * 1024).unwrap_err();
    assert_eq!(e.code(), "input_too_large", "{e}");
    // The same through the query-string decoder the /slo and demo endpoints use.
    let query = format!("SAMLRequest={}&RelayState=x", urlencode(&b64));
    let e = decode_redirect(&query, 256 * 1024).unwrap_err();
    assert_eq!(e.code(), "input_too_large", "{e}");
    // Bounded work: inflating stops right after limit + 1 bytes, it never reaches 1 GiB.
    assert!(
        started.elapsed() < Duration::from_secs(20),
        "took {:?}",
        started.elapsed()
    );
}

#[test]
fn redirect_message_just_under_and_over_the_limit() {
    let limit = 4096;
    for (len, ok) in [(limit, true), (limit + 1, false)] {
        let msg = "A".repeat(len);
        let b64 = sso_gateway::saml::binding::deflate_base64(&msg).unwrap();
        let r = decode_redirect(&format!("SAMLRequest={}", urlencode(&b64)), limit);
        assert_eq!(r.is_ok(), ok, "{len} bytes: {r:?}");
    }
}

/// A filter as long as actix lets through (the request head is limited to 128 KiB):
/// `and`/`or` chains build a deep left-leaning tree; parsing, evaluation, SQL translation
/// and dropping it must not exhaust a 2 MiB worker-thread stack.
#[test]
fn very_long_scim_filter_chains_do_not_overflow_the_stack() {
    use sso_gateway::scim::{USER_COLUMNS, matches, parse_filter, to_sql, user_schema};
    for op in ["and", "or"] {
        let term = format!("id pr {op} ");
        let n = 120 * 1024 / term.len();
        let filter = format!("{}id pr", term.repeat(n));
        let outcome = std::thread::Builder::new()
            .stack_size(2 << 20)
            .spawn(move || {
                let r = parse_filter(&filter, user_schema());
                if let Ok(f) = &r {
                    let _ = matches(f, &serde_json::json!({"id": "x"}), user_schema());
                    let _ = to_sql(f, &USER_COLUMNS, sso_gateway::scim::sql::Dialect::Sqlite, 1);
                    let _ = to_sql(
                        f,
                        &USER_COLUMNS,
                        sso_gateway::scim::sql::Dialect::Postgres,
                        1,
                    );
                }
                r.map(|_| ()).map_err(|e| e.to_string())
            })
            .unwrap()
            .join();
        let outcome = outcome.unwrap_or_else(|_| panic!("{op}: the thread died"));
        let e = outcome.unwrap_err();
        assert!(e.contains("more than 256"), "{op}: {e}");
    }
    // The bound itself: 256 operators parse, 257 do not.
    let at = |n: usize| format!("{}id pr", "id pr or ".repeat(n));
    assert!(parse_filter(&at(256), user_schema()).is_ok());
    assert!(parse_filter(&at(257), user_schema()).is_err());
}

/// How far the verify_response fuzz corpus gets: replays fuzz/corpus/verify_response
/// (left by scripts/fuzz.sh) and checks that the structure-aware mutator gets past the
/// parser into the signature checks, i.e. that the fuzzing exercises what it claims to.
/// Needs the corpus, so `.ci/run` runs it after the fuzz runs:
/// `cargo test --test integration fuzz_corpus_outcomes -- --ignored --nocapture`
#[test]
#[ignore = "needs the fuzz corpus: run by .ci/run after scripts/fuzz.sh"]
fn fuzz_corpus_outcomes() {
    let dir = crate::common::fixtures_dir().join("../../fuzz/corpus/verify_response");
    let seeds = crate::common::fixtures_dir().join("../../fuzz/seeds/verify_response");
    let mut codes: std::collections::BTreeMap<String, usize> = Default::default();
    let mut n = 0;
    let entries = std::fs::read_dir(&dir)
        .unwrap()
        .chain(std::fs::read_dir(&seeds).unwrap());
    for entry in entries {
        let bytes = std::fs::read(entry.unwrap().path()).unwrap();
        n += 1;
        // The fuzz target trusts more keys and allows SHA-1 and unsolicited responses; the
        // default settings here give a slightly different mix, which is fine for a census.
        let code = match crate::common::verify(&bytes) {
            Ok(_) => "valid".to_string(),
            Err(e) => e.code().to_string(),
        };
        *codes.entry(code).or_default() += 1;
    }
    let mut by_count: Vec<_> = codes.into_iter().collect();
    by_count.sort_by_key(|c| std::cmp::Reverse(c.1));
    eprintln!("{n} corpus inputs: {by_count:?}");
    let count = |c: &str| by_count.iter().find(|(k, _)| k == c).map_or(0, |x| x.1);
    assert!(n >= 100, "only {n} corpus inputs in {}", dir.display());
    // The signed seeds themselves verify, and mutants reach the digest check.
    assert!(count("valid") > 0, "{by_count:?}");
    assert!(count("digest_mismatch") > 0, "{by_count:?}");
    // Most inputs are well-formed XML: the mutator works at the XML level, not on bytes.
    let parse_errors = count("xml_malformed") + count("base64_invalid");
    assert!(
        parse_errors * 2 < n,
        "{parse_errors} of {n} inputs stop at the parser"
    );
}
