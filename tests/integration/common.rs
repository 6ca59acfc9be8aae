//! Shared helpers for the integration tests.

use std::path::{Path, PathBuf};

use chrono::{DateTime, Utc};
use sso_gateway::saml::{
    IdpMetadata, IdpTrust, InMemoryReplayCache, SamlError, SpSettings, VerifiedAssertion,
    VerifyContext,
};

pub const SP_ENTITY_ID: &str = "https://sso.example.test/saml/acme/metadata";
pub const ACS_URL: &str = "https://sso.example.test/saml/acme/acs";
pub const REQUEST_ID: &str = "_8f1c2a9e4b7d4c3e9a0b1c2d3e4f5a6b";
pub const NOW: &str = "2026-06-01T12:01:00Z";

pub fn fixtures_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures")
}

pub fn fixture(rel: &str) -> Vec<u8> {
    std::fs::read(fixtures_dir().join(rel)).unwrap_or_else(|e| panic!("fixture {rel}: {e}"))
}

pub fn time(s: &str) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc)
}

pub fn trust(metadata: &str) -> IdpTrust {
    IdpMetadata::parse(&fixture(metadata))
        .unwrap()
        .trust()
        .unwrap()
}

pub fn sp() -> SpSettings {
    SpSettings::new(SP_ENTITY_ID, ACS_URL)
}

/// Verify with a fresh replay cache at `now`.
pub fn verify_at(
    bytes: &[u8],
    sp: &SpSettings,
    trust: &IdpTrust,
    now: &str,
) -> Result<VerifiedAssertion, SamlError> {
    let mut cache = InMemoryReplayCache::new();
    let ids = vec![REQUEST_ID.to_string()];
    let mut ctx = VerifyContext {
        now: time(now),
        request_ids: &ids,
        replay_cache: &mut cache,
    };
    sso_gateway::saml::verify_response(bytes, sp, trust, &mut ctx)
}

pub fn verify(bytes: &[u8]) -> Result<VerifiedAssertion, SamlError> {
    verify_at(bytes, &sp(), &trust("idp-metadata.xml"), NOW)
}

/// True when `python3` can import every module named.
pub fn python_has(modules: &[&str]) -> bool {
    let code = modules
        .iter()
        .map(|m| format!("import {m}"))
        .collect::<Vec<_>>()
        .join(";");
    std::process::Command::new("python3")
        .args(["-c", &code])
        .output()
        .map(|o| o.status.success())
        .unwrap_or(false)
}

/// In CI every external oracle must be present: a missing one is a failure, not a skip.
pub fn require_in_ci(what: &str) {
    if std::env::var("CI").is_ok_and(|v| v == "true" || v == "1") {
        panic!("{what} is required in CI but missing; .ci/run installs it");
    }
    eprintln!("note: {what} missing; this part of the test is skipped outside CI");
}

static TMP_SEQ: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);

/// A fresh scratch directory under the system temp dir.
pub fn scratch_dir(label: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!(
        "sso-gateway-it-{}-{label}-{}",
        std::process::id(),
        TMP_SEQ.fetch_add(1, std::sync::atomic::Ordering::SeqCst)
    ));
    std::fs::create_dir_all(&d).unwrap();
    d
}

/// True when the named command runs (`CMD --version` or `CMD version` succeeds).
pub fn command_present(cmd: &str) -> bool {
    ["--version", "version"].iter().any(|a| {
        std::process::Command::new(cmd)
            .arg(a)
            .output()
            .is_ok_and(|o| o.status.success())
    })
}

/// The PostgreSQL server the suite also runs against (`SSO_GATEWAY_TEST_POSTGRES`, e.g.
/// `postgres://postgres@127.0.0.1:5432/test`; `.ci/run` sets it). Without it: SQLite only.
pub fn postgres_url() -> Option<String> {
    std::env::var("SSO_GATEWAY_TEST_POSTGRES")
        .ok()
        .filter(|s| !s.is_empty())
}

/// A fresh PostgreSQL schema (`t_<random>`) and a URL whose connections use it.
pub async fn postgres_schema(base: &str) -> String {
    use sqlx::Connection as _;
    sqlx::any::install_default_drivers();
    let mut rnd = [0u8; 8];
    openssl::rand::rand_bytes(&mut rnd).unwrap();
    let schema = format!(
        "t_{}",
        rnd.iter().map(|b| format!("{b:02x}")).collect::<String>()
    );
    let mut c = sqlx::AnyConnection::connect(base).await.unwrap();
    sqlx::query(sqlx::AssertSqlSafe(format!("CREATE SCHEMA {schema}")))
        .execute(&mut c)
        .await
        .unwrap();
    let sep = if base.contains('?') { '&' } else { '?' };
    format!("{base}{sep}options=-c%20search_path%3D{schema}")
}

/// A fresh, migrated database for one test: a new PostgreSQL schema when the suite runs
/// against PostgreSQL, else the SQLite URL given (in memory, or a file for tests that need
/// several connections).
pub async fn fresh_db(sqlite_url: &str) -> sso_gateway::store::Db {
    let url = match postgres_url() {
        Some(base) => postgres_schema(&base).await,
        None => sqlite_url.to_string(),
    };
    sso_gateway::store::Db::connect(&url).await.unwrap()
}

/// A number unique in this test process (for file names).
pub fn scratch_seq() -> usize {
    TMP_SEQ.fetch_add(1, std::sync::atomic::Ordering::SeqCst)
}
