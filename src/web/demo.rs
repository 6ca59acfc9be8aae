//! The development IdP and demo app (only with `serve --demo`).

use actix_web::web;

/// The built-in development IdP.
pub struct DemoIdp {
    pub entity_id: String,
}

pub fn configure(_cfg: &mut web::ServiceConfig) {}

pub async fn setup(
    _db: &crate::store::Db,
    _public_url: &str,
    _now: chrono::DateTime<chrono::Utc>,
) -> Result<DemoIdp, String> {
    Err("the demo is not available yet".into())
}
