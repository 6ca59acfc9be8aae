//! Composition root: configuration -> database, keys, clock -> web state.

use std::collections::HashMap;
use std::sync::Arc;

use crate::clock::Clock;
use crate::session::token::TokenKey;
use crate::store::Db;

/// Everything a request handler may use.
#[derive(Clone)]
pub struct AppState {
    pub db: Db,
    pub clock: Arc<dyn Clock>,
    /// The externally visible base URL, e.g. `https://sso.example.com` (no trailing slash).
    pub public_url: String,
    pub token_key: Arc<TokenKey>,
    /// The built-in development IdP, only with `serve --demo`.
    pub demo: Option<Arc<crate::web::demo::DemoIdp>>,
    /// Where each app is launched (app id -> URL); default: the demo app page.
    pub app_urls: HashMap<String, String>,
    /// Per-token rate limit of the SCIM API.
    pub scim_limiter: Arc<governor::DefaultKeyedRateLimiter<String>>,
    /// The SP's signing and encryption keys.
    pub keys: Arc<crate::keyring::Keyring>,
    /// Allow `http://` IdP metadata URLs (tests and local development only; the default
    /// is https only, since the metadata decides which keys are trusted).
    pub allow_http_metadata: bool,
    /// Each tenant's IdP trust, reused while its certificates are unchanged.
    pub trust: Arc<crate::directory::TrustCache>,
}

impl AppState {
    pub fn now(&self) -> chrono::DateTime<chrono::Utc> {
        self.clock.now()
    }

    /// The launch URL of an app.
    pub fn app_url(&self, app: &str) -> String {
        self.app_urls
            .get(app)
            .cloned()
            .unwrap_or_else(|| format!("{}/demo/app/{app}", self.public_url))
    }
}
