//! Prometheus metrics, rendered by our own `GET /metrics` (no second listener).
//!
//! The recorder is process-global (`metrics` crate) and installed on first use, so
//! handlers count whether or not the app was built by `serve`. Gauges about the database
//! (replay cache, sessions, pool) are read at scrape time. Every label has a bounded set of
//! values: tenants are configured slugs (the ACS answers 404 before counting an unknown
//! one), outcomes are fixed codes, routes are matched patterns (`/saml/{tenant}/acs`),
//! never raw paths.

use std::sync::OnceLock;
use std::time::Duration;

use actix_web::http::{StatusCode, header};
use actix_web::{HttpRequest, HttpResponse, web};
use metrics::{Unit, counter, describe_counter, describe_gauge, describe_histogram, gauge};
use metrics_exporter_prometheus::{Matcher, PrometheusBuilder, PrometheusHandle};

use crate::app::AppState;

pub const SIGN_INS: &str = "sso_gateway_sign_ins_total";
pub const ADMIN_SIGN_INS: &str = "sso_gateway_admin_sign_ins_total";
pub const LOGOUTS: &str = "sso_gateway_logouts_total";
pub const SCIM_REQUESTS: &str = "sso_gateway_scim_requests_total";
pub const HTTP_DURATION: &str = "sso_gateway_http_request_duration_seconds";
pub const REPLAY_CACHE: &str = "sso_gateway_replay_cache_entries";
pub const SESSIONS: &str = "sso_gateway_sessions_active";
pub const ADMIN_SESSIONS: &str = "sso_gateway_admin_sessions_active";
pub const PENDING_REQUESTS: &str = "sso_gateway_authn_requests_pending";
pub const POOL_SIZE: &str = "sso_gateway_db_pool_connections";
pub const POOL_IDLE: &str = "sso_gateway_db_pool_idle_connections";
pub const POOL_MAX: &str = "sso_gateway_db_pool_max_connections";
pub const DB_UP: &str = "sso_gateway_database_up";
pub const BUILD_INFO: &str = "sso_gateway_build_info";

/// Latency buckets (seconds): sub-millisecond static files to multi-second outages.
const BUCKETS: [f64; 12] = [
    0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0,
];

/// How long a scrape waits for the database counts.
const SCRAPE_DB_TIMEOUT: Duration = Duration::from_secs(2);

static HANDLE: OnceLock<Option<PrometheusHandle>> = OnceLock::new();

/// The global recorder's handle, installing it on first use. `None` only when another
/// recorder was installed first (then nothing is exported).
pub fn handle() -> Option<&'static PrometheusHandle> {
    HANDLE.get_or_init(install).as_ref()
}

fn install() -> Option<PrometheusHandle> {
    let handle = PrometheusBuilder::new()
        .set_buckets_for_metric(Matcher::Full(HTTP_DURATION.to_string()), &BUCKETS)
        .ok()?
        .install_recorder()
        .ok()?;
    describe();
    gauge!(BUILD_INFO, "version" => env!("CARGO_PKG_VERSION")).set(1.0);
    // Histograms are drained into their buckets by upkeep; without a scrape for a while
    // they would otherwise grow. A plain thread: no runtime is needed for this.
    let upkeep = handle.clone();
    let _ = std::thread::Builder::new()
        .name("metrics-upkeep".into())
        .spawn(move || {
            loop {
                std::thread::sleep(Duration::from_secs(5));
                upkeep.run_upkeep();
            }
        });
    Some(handle)
}

fn describe() {
    describe_counter!(
        SIGN_INS,
        Unit::Count,
        "Responses at the ACS by tenant and outcome (success, or the refusal/error code)"
    );
    describe_counter!(
        ADMIN_SIGN_INS,
        Unit::Count,
        "Console (Configuration Manager) sign-ins through SSO by tenant and outcome"
    );
    describe_counter!(
        LOGOUTS,
        Unit::Count,
        "IdP logout requests by tenant and outcome (logout, or the error code)"
    );
    describe_counter!(
        SCIM_REQUESTS,
        Unit::Count,
        "SCIM resource requests by resource, operation and HTTP status"
    );
    describe_histogram!(
        HTTP_DURATION,
        Unit::Seconds,
        "HTTP request latency by matched route pattern, method and status"
    );
    describe_gauge!(REPLAY_CACHE, "Unexpired assertion ids in the replay cache");
    describe_gauge!(
        SESSIONS,
        "App sessions neither revoked nor past their absolute expiry"
    );
    describe_gauge!(ADMIN_SESSIONS, "Unexpired Configuration Manager sessions");
    describe_gauge!(
        PENDING_REQUESTS,
        "Outstanding (unexpired) AuthnRequests awaiting the ACS"
    );
    describe_gauge!(POOL_SIZE, "Open database connections in the pool");
    describe_gauge!(POOL_IDLE, "Idle database connections in the pool");
    describe_gauge!(POOL_MAX, "The pool's maximum number of connections");
    describe_gauge!(
        DB_UP,
        "1 when the scrape's database counts succeeded, else 0"
    );
    describe_gauge!(BUILD_INFO, "Always 1; the version label names the build");
}

/// One response at the ACS.
pub fn sign_in(tenant: &str, outcome: &str) {
    if handle().is_some() {
        counter!(SIGN_INS, "tenant" => tenant.to_string(), "outcome" => outcome.to_string())
            .increment(1);
    }
}

/// One console sign-in through SSO decided (after the ACS verified the assertion).
pub fn admin_sign_in(tenant: &str, outcome: &str) {
    if handle().is_some() {
        counter!(ADMIN_SIGN_INS, "tenant" => tenant.to_string(), "outcome" => outcome.to_string())
            .increment(1);
    }
}

/// One IdP LogoutRequest handled.
pub fn logout(tenant: &str, outcome: &str) {
    if handle().is_some() {
        counter!(LOGOUTS, "tenant" => tenant.to_string(), "outcome" => outcome.to_string())
            .increment(1);
    }
}

/// A SCIM resource operation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ScimOp {
    Create,
    Replace,
    Patch,
    Delete,
    Get,
    List,
}

impl ScimOp {
    pub fn as_str(self) -> &'static str {
        match self {
            ScimOp::Create => "create",
            ScimOp::Replace => "replace",
            ScimOp::Patch => "patch",
            ScimOp::Delete => "delete",
            ScimOp::Get => "get",
            ScimOp::List => "list",
        }
    }
}

/// One SCIM request answered. `resource` is `users` or `groups`.
pub fn scim(resource: &'static str, op: ScimOp, status: StatusCode) {
    if handle().is_some() {
        counter!(
            SCIM_REQUESTS,
            "resource" => resource,
            "operation" => op.as_str(),
            "status" => status.as_u16().to_string()
        )
        .increment(1);
    }
}

/// A method label: the standard methods, anything else `other`.
pub fn method_label(m: &actix_web::http::Method) -> &'static str {
    use actix_web::http::Method;
    match *m {
        Method::GET => "GET",
        Method::POST => "POST",
        Method::PUT => "PUT",
        Method::PATCH => "PATCH",
        Method::DELETE => "DELETE",
        Method::HEAD => "HEAD",
        Method::OPTIONS => "OPTIONS",
        _ => "other",
    }
}

/// One HTTP request's latency (the request-id middleware calls this).
pub fn http_request(method: &'static str, route: String, status: StatusCode, elapsed: Duration) {
    if handle().is_some() {
        metrics::histogram!(
            HTTP_DURATION,
            "method" => method,
            "route" => route,
            "status" => status.as_u16().to_string()
        )
        .record(elapsed.as_secs_f64());
    }
}

/// Who may read `/metrics` (app data of `serve`; an app without it serves them openly,
/// as tests build theirs).
#[derive(Clone)]
pub enum MetricsAccess {
    /// Anyone who reaches the listener directly (the default on a loopback listen
    /// address); a request carrying `X-Forwarded-For`/`Forwarded` came through a proxy and
    /// is refused.
    Open,
    /// `Authorization: Bearer TOKEN` required (`--metrics-token`).
    Token(String),
    /// Refused: a non-loopback listener without a token.
    Closed,
}

impl std::fmt::Debug for MetricsAccess {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            MetricsAccess::Open => "Open",
            MetricsAccess::Token(_) => "Token(***)",
            MetricsAccess::Closed => "Closed",
        })
    }
}

impl MetricsAccess {
    /// The policy for a listen address and an optional token: the token when given, else
    /// open on a loopback address (`127.0.0.0/8`, `[::1]`, `localhost`), else closed.
    pub fn for_listen(listen: &str, token: Option<&str>) -> Self {
        if let Some(t) = token.map(str::trim).filter(|t| !t.is_empty()) {
            return MetricsAccess::Token(t.to_string());
        }
        let loopback = match listen.parse::<std::net::SocketAddr>() {
            Ok(a) => a.ip().is_loopback(),
            Err(_) => listen
                .rsplit_once(':')
                .is_some_and(|(host, _)| host.eq_ignore_ascii_case("localhost")),
        };
        if loopback {
            MetricsAccess::Open
        } else {
            MetricsAccess::Closed
        }
    }

    /// The refusal for this request, if it may not read the metrics.
    fn refusal(&self, req: &HttpRequest) -> Option<HttpResponse> {
        match self {
            // Open on loopback, but not to a request relayed by a (local) proxy.
            MetricsAccess::Open
                if req.headers().contains_key("x-forwarded-for")
                    || req.headers().contains_key(header::FORWARDED) =>
            {
                Some(
                    HttpResponse::Forbidden()
                        .content_type("text/plain; charset=utf-8")
                        .body(
                            "metrics are not served through a proxy without a token; \
                             start serve with --metrics-token (SSO_GATEWAY_METRICS_TOKEN)\n",
                        ),
                )
            }
            MetricsAccess::Open => None,
            MetricsAccess::Closed => Some(
                HttpResponse::Forbidden()
                    .content_type("text/plain; charset=utf-8")
                    .body(
                        "metrics are served without a token on a loopback listener only; \
                     start serve with --metrics-token (SSO_GATEWAY_METRICS_TOKEN)\n",
                    ),
            ),
            MetricsAccess::Token(want) => {
                let given = crate::web::pages::bearer_token(req).unwrap_or_default();
                // Compare digests: equal length, constant time.
                let ok = openssl::memcmp::eq(
                    &openssl::sha::sha256(given.as_bytes()),
                    &openssl::sha::sha256(want.as_bytes()),
                );
                if ok {
                    None
                } else {
                    Some(
                        HttpResponse::Unauthorized()
                            .insert_header((header::WWW_AUTHENTICATE, "Bearer realm=\"metrics\""))
                            .content_type("text/plain; charset=utf-8")
                            .body("a valid metrics bearer token is required\n"),
                    )
                }
            }
        }
    }
}

/// Refresh the scrape-time gauges from the database and the pool.
async fn refresh_gauges(state: &AppState) {
    let (size, idle, max) = state.db.pool_stats();
    gauge!(POOL_SIZE).set(f64::from(size));
    gauge!(POOL_IDLE).set(idle as f64);
    gauge!(POOL_MAX).set(f64::from(max));
    let now = state.now();
    match tokio::time::timeout(SCRAPE_DB_TIMEOUT, state.db.live_counts(now)).await {
        Ok(Ok(c)) => {
            gauge!(REPLAY_CACHE).set(c.replay_cache_entries as f64);
            gauge!(SESSIONS).set(c.sessions as f64);
            gauge!(ADMIN_SESSIONS).set(c.admin_sessions as f64);
            gauge!(PENDING_REQUESTS).set(c.pending_requests as f64);
            gauge!(DB_UP).set(1.0);
        }
        Ok(Err(e)) => {
            tracing::warn!(error = %e, "metrics: database counts failed");
            gauge!(DB_UP).set(0.0);
        }
        Err(_) => {
            tracing::warn!("metrics: database counts timed out");
            gauge!(DB_UP).set(0.0);
        }
    }
}

/// `GET /metrics`: the Prometheus text format (0.0.4).
pub async fn endpoint(
    state: web::Data<AppState>,
    access: Option<web::Data<MetricsAccess>>,
    req: HttpRequest,
) -> HttpResponse {
    if let Some(r) = access.as_ref().and_then(|a| a.refusal(&req)) {
        return r;
    }
    let Some(h) = handle() else {
        return HttpResponse::ServiceUnavailable()
            .content_type("text/plain; charset=utf-8")
            .body("metrics recorder unavailable\n");
    };
    refresh_gauges(&state).await;
    HttpResponse::Ok()
        .content_type("text/plain; version=0.0.4; charset=utf-8")
        .body(h.render())
}
