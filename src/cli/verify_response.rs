//! `sso-gateway verify-response`: replay saved responses through the SAML core.

use std::io::{Read, Write};
use std::path::PathBuf;
use std::process::ExitCode;

use chrono::{DateTime, Duration, Utc};
use serde_json::{Value, json};

use crate::clock::{Clock, SystemClock};
use crate::saml::{
    DecryptionKey, IdpMetadata, IdpTrust, InMemoryReplayCache, SamlError, SpSettings, Trace,
    VerifiedAssertion, VerifyContext, verify_response_traced,
};

#[derive(Debug, clap::Args)]
#[command(after_help = "\
Each FILE is raw XML or the base64 SAMLResponse form value (detected); '-' reads stdin.
Files are verified in order in one process and share one replay cache, so the same
assertion given twice is reported as a replay the second time.

An EncryptedAssertion is decrypted with the --sp-key private keys (PEM, RSA), tried in
the order given (current, then next). Without --sp-key it is refused
(decryption_key_missing). Decryption failures are all reported as decryption_failed;
the JSON then carries a \"detail\" with the precise reason (this is your own key: the
detail is for you, never for the sender).

Output: one JSON object per file and line, either
  {\"file\":..,\"valid\":true,\"issuer\":..,\"name_id\":..,\"name_id_format\":..,\"session_index\":..,
   \"attributes\":{\"name\":[\"v\",..]},\"not_on_or_after\":..}
or
  {\"file\":..,\"valid\":false,\"error\":\"<stable code>\",\"message\":\"<human sentence>\"[,\"detail\":..]}

Exit status: 0 every file valid, 1 some file invalid, 2 usage or I/O error.")]
pub struct Args {
    /// The IdP's SAML metadata (XML file): entity ID and trusted signing certificates.
    #[arg(long, value_name = "IDP.xml")]
    idp_metadata: PathBuf,
    /// Our SP entity ID (the expected Audience).
    #[arg(long, value_name = "URL")]
    sp_entity_id: String,
    /// Our ACS URL (the expected Destination and Recipient).
    #[arg(long, value_name = "URL")]
    acs_url: String,
    /// Verify as of this instant (RFC 3339) instead of the current time.
    #[arg(long, value_name = "RFC3339", value_parser = parse_now)]
    now: Option<DateTime<Utc>>,
    /// Allowed clock difference with the IdP, in seconds.
    #[arg(long, value_name = "SECONDS", default_value_t = crate::saml::DEFAULT_CLOCK_SKEW_SECONDS,
          value_parser = clap::value_parser!(i64).range(0..=3600))]
    clock_skew: i64,
    /// An outstanding AuthnRequest ID that responses may answer (repeatable).
    #[arg(long = "request-id", value_name = "ID")]
    request_ids: Vec<String>,
    /// Accept IdP-initiated (unsolicited) responses, which then must carry no InResponseTo.
    #[arg(long)]
    allow_unsolicited: bool,
    /// Accept SHA-1 signatures and digests (legacy IdPs only).
    #[arg(long)]
    allow_sha1: bool,
    /// An SP private key (PEM) that decrypts EncryptedAssertions (repeatable: current,
    /// then next key during a rollover).
    #[arg(long = "sp-key", value_name = "KEY.pem")]
    sp_keys: Vec<PathBuf>,
    /// Refuse responses whose Assertion is not itself signed (WantAssertionsSigned).
    #[arg(long)]
    require_signed_assertions: bool,
    /// Add the list of checks performed, each with pass/fail and the values compared.
    #[arg(long)]
    explain: bool,
    /// Response files (raw XML or base64); '-' for stdin.
    #[arg(required = true, value_name = "FILE")]
    files: Vec<String>,
}

fn parse_now(s: &str) -> Result<DateTime<Utc>, String> {
    DateTime::parse_from_rfc3339(s)
        .map(|t| t.with_timezone(&Utc))
        .map_err(|e| format!("not an RFC 3339 timestamp ({e}), e.g. 2026-06-01T12:00:00Z"))
}

fn read_input(file: &str) -> std::io::Result<Vec<u8>> {
    if file == "-" {
        let mut buf = Vec::new();
        std::io::stdin().read_to_end(&mut buf)?;
        Ok(buf)
    } else {
        std::fs::read(file)
    }
}

fn load_keys(paths: &[PathBuf]) -> Result<Vec<DecryptionKey>, String> {
    paths
        .iter()
        .map(|p| {
            let pem = std::fs::read(p).map_err(|e| format!("cannot read {}: {e}", p.display()))?;
            DecryptionKey::from_pem(&pem)
                .map_err(|e| format!("{}: {e} ({})", p.display(), e.code()))
        })
        .collect()
}

fn load_trust(path: &PathBuf) -> Result<IdpTrust, String> {
    let bytes = std::fs::read(path).map_err(|e| format!("cannot read {}: {e}", path.display()))?;
    IdpMetadata::parse(&bytes)
        .and_then(|m| m.trust())
        .map_err(|e| format!("{}: {} ({})", path.display(), e, e.code()))
}

/// The JSON verdict of one file.
pub fn verdict_json(
    file: &str,
    result: &Result<VerifiedAssertion, SamlError>,
    trace: Option<&Trace>,
) -> Value {
    let mut v = match result {
        Ok(a) => json!({
            "file": file,
            "valid": true,
            "issuer": a.issuer(),
            "name_id": a.name_id(),
            "name_id_format": a.name_id_format(),
            "session_index": a.session_index(),
            "attributes": a.attributes(),
            "not_on_or_after": a.not_on_or_after().map(|t| t.to_rfc3339_opts(chrono::SecondsFormat::AutoSi, true)),
            "session_not_on_or_after": a.session_not_on_or_after().map(|t| t.to_rfc3339_opts(chrono::SecondsFormat::AutoSi, true)),
            "in_response_to": a.in_response_to(),
            "assertion_id": a.assertion_id(),
            "signed": a.signed(),
            "signature_algorithm": a.signature_algorithm(),
            "verified_by": a.verified_by(),
            "encrypted": a.encryption(),
        }),
        Err(e) => {
            let mut v = json!({
                "file": file,
                "valid": false,
                "error": e.code(),
                "message": e.to_string(),
            });
            if let (Some(d), Some(obj)) = (e.log_detail(), v.as_object_mut()) {
                obj.insert("detail".into(), Value::String(d.to_string()));
            }
            v
        }
    };
    if let (Some(t), Some(obj)) = (trace, v.as_object_mut()) {
        obj.insert(
            "checks".into(),
            serde_json::to_value(t).unwrap_or(Value::Null),
        );
    }
    v
}

pub fn run(args: Args) -> ExitCode {
    let (trust, decryption_keys) =
        match load_trust(&args.idp_metadata).and_then(|t| Ok((t, load_keys(&args.sp_keys)?))) {
            Ok(t) => t,
            Err(msg) => {
                eprintln!("sso-gateway verify-response: {msg}");
                return ExitCode::from(2);
            }
        };
    let mut sp = SpSettings::new(args.sp_entity_id, args.acs_url);
    sp.clock_skew = Duration::seconds(args.clock_skew);
    sp.allow_unsolicited = args.allow_unsolicited;
    sp.allow_sha1 = args.allow_sha1;
    sp.decryption_keys = decryption_keys;
    sp.require_signed_assertions = args.require_signed_assertions;
    let now = args.now.unwrap_or_else(|| SystemClock.now());
    let mut cache = InMemoryReplayCache::new();

    let stdout = std::io::stdout();
    let mut out = stdout.lock();
    let mut any_invalid = false;
    let mut io_error = false;
    for file in &args.files {
        let line = match read_input(file) {
            Ok(bytes) => {
                let mut trace = Trace::new();
                let mut ctx = VerifyContext {
                    now,
                    request_ids: &args.request_ids,
                    replay_cache: &mut cache,
                };
                let result = verify_response_traced(&bytes, &sp, &trust, &mut ctx, &mut trace);
                any_invalid |= result.is_err();
                verdict_json(file, &result, args.explain.then_some(&trace))
            }
            Err(e) => {
                io_error = true;
                json!({"file": file, "valid": false, "error": "io_error", "message": format!("cannot read: {e}")})
            }
        };
        if writeln!(out, "{line}").is_err() {
            return ExitCode::from(2);
        }
    }
    if io_error {
        ExitCode::from(2)
    } else if any_invalid {
        ExitCode::from(1)
    } else {
        ExitCode::SUCCESS
    }
}
