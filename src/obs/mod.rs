//! Observability: Prometheus metrics (`/metrics`), structured logs (`tracing`, JSON lines
//! or text), a request id on every log line of a request, and the readiness check
//! (`/readyz`). See docs/operations.md, "Metrics and logs".
//!
//! Handlers record their counters through [`metrics`] whether or not the request-id
//! middleware wraps the app (tests build apps without it); the middleware adds the
//! latency histogram, the access-log line and the `X-Request-Id` header.

pub mod health;
pub mod logging;
pub mod metrics;
pub mod request_id;

/// The command-line options of `serve` that belong here.
#[derive(Debug, Clone, clap::Args)]
pub struct ObsArgs {
    /// Log format: `json` (one JSON object a line), `text` (readable), or `auto`: text on
    /// a terminal, JSON otherwise [default: auto; key log.format, SSO_GATEWAY_LOG_FORMAT].
    /// The level filter is log.level (SSO_GATEWAY_LOG), default `info`.
    #[arg(long, value_enum)]
    pub log_format: Option<logging::LogFormat>,
    /// Bearer token `/metrics` requires. Without it `/metrics` is open when the gateway
    /// listens on a loopback address only (and not through a proxy), refused (403) otherwise.
    #[arg(
        long,
        value_name = "TOKEN",
        env = "SSO_GATEWAY_METRICS_TOKEN",
        hide_env_values = true
    )]
    pub metrics_token: Option<String>,
    /// As --metrics-token, read from the first line of FILE (key metrics.token_file,
    /// SSO_GATEWAY_METRICS_TOKEN_FILE).
    #[arg(long, value_name = "FILE", conflicts_with = "metrics_token")]
    pub metrics_token_file: Option<std::path::PathBuf>,
}

impl ObsArgs {
    /// The metrics token, from the flag or its file.
    /// `configured`: `metrics.token_file` of the configuration (the flag wins).
    pub fn metrics_token(
        &self,
        configured: Option<&std::path::Path>,
    ) -> Result<Option<String>, String> {
        let file = self.metrics_token_file.as_deref().or(configured);
        match (&self.metrics_token, file) {
            (Some(t), _) => Ok(Some(t.clone())),
            (None, Some(f)) => {
                let text = std::fs::read_to_string(f)
                    .map_err(|e| format!("--metrics-token-file {}: {e}", f.display()))?;
                let token = text.lines().next().unwrap_or_default().trim().to_string();
                if token.is_empty() {
                    return Err(format!("--metrics-token-file {}: empty", f.display()));
                }
                Ok(Some(token))
            }
            (None, None) => Ok(None),
        }
    }
}

/// The `SSO_GATEWAY_*` variables read here (clap reads them), known to `crate::config`;
/// the others of this module are configuration keys (`[log]`, `[metrics]`).
pub const ENV_VARS: &[&str] = &["SSO_GATEWAY_METRICS_TOKEN"];

/// Attach an incident id to the current request's span, so the request's access-log line
/// names the incident too (the event that created it carries it as a field already).
pub fn note_incident(incident: &str) {
    tracing::Span::current().record("incident", incident);
}
