//! Verify one fixture many times (for profilers: `valgrind --tool=callgrind`).
use chrono::{DateTime, Utc};
use sso_gateway::saml::{
    IdpMetadata, ReplayCache, ReplayStoreError, SpSettings, VerifyContext, verify_response,
};

struct NoReplay;
impl ReplayCache for NoReplay {
    fn check_and_record(
        &mut self,
        _: &str,
        _: &str,
        _: DateTime<Utc>,
        _: DateTime<Utc>,
    ) -> Result<bool, ReplayStoreError> {
        Ok(true)
    }
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures");
    let file = std::env::args()
        .nth(1)
        .unwrap_or_else(|| "responses/okta-response-signed.xml".into());
    let n: usize = std::env::args()
        .nth(2)
        .and_then(|s| s.parse().ok())
        .unwrap_or(200);
    let trust = IdpMetadata::parse(&std::fs::read(dir.join("idp-metadata.xml"))?)?.trust()?;
    let sp = SpSettings::new(
        "https://sso.example.test/saml/acme/metadata",
        "https://sso.example.test/saml/acme/acs",
    );
    let now = DateTime::parse_from_rfc3339("2026-06-01T12:01:00Z")?.with_timezone(&Utc);
    let ids = vec!["_8f1c2a9e4b7d4c3e9a0b1c2d3e4f5a6b".to_string()];
    let bytes = std::fs::read(dir.join(file))?;
    for _ in 0..n {
        let mut ctx = VerifyContext {
            now,
            request_ids: &ids,
            replay_cache: &mut NoReplay,
        };
        verify_response(&bytes, &sp, &trust, &mut ctx)?;
    }
    Ok(())
}
