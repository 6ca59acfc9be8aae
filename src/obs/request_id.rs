//! The request-id middleware: every request gets an id (a sane incoming `X-Request-Id`,
//! else a fresh one), returned in the `X-Request-Id` response header. The request runs in a
//! `request` span carrying `request_id` (and `incident` once a failure names one), so every
//! log line of the request has them; one access-log line closes it, and the latency goes to
//! the `sso_gateway_http_request_duration_seconds` histogram by matched route pattern.
//!
//! Wrap it outermost: `.wrap(actix_web::middleware::from_fn(obs::request_id::middleware))`.

use std::time::Instant;

use actix_web::body::MessageBody;
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::http::header::{HeaderName, HeaderValue};
use actix_web::middleware::Next;
use actix_web::{Error, HttpMessage as _};
use tracing::Instrument as _;

pub const HEADER: HeaderName = HeaderName::from_static("x-request-id");

/// The longest incoming id kept.
const MAX_LEN: usize = 128;

/// The request's id, in the request extensions for handlers that want it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RequestId(pub String);

/// An incoming id is kept when it is 1 to 128 characters of `A-Z a-z 0-9 - _ . : @`
/// (no spaces, quotes or control characters that could forge log lines).
pub fn sane(id: &str) -> bool {
    !id.is_empty()
        && id.len() <= MAX_LEN
        && id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b':' | b'@'))
}

/// A fresh id: 16 random bytes, hex.
pub fn generate() -> String {
    let mut b = [0u8; 16];
    if openssl::rand::rand_bytes(&mut b).is_err() {
        // Not secret, only unique enough to find a request's lines: a process counter.
        static SEQ: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
        let n = SEQ.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        return format!("{:08x}{n:024x}", std::process::id());
    }
    b.iter().map(|x| format!("{x:02x}")).collect()
}

/// Routes that are polled (health checks, scrapes): their access lines are `debug`.
fn quiet(route: &str) -> bool {
    matches!(route, "/healthz" | "/readyz" | "/metrics")
}

pub async fn middleware<B: MessageBody + 'static>(
    req: ServiceRequest,
    next: Next<B>,
) -> Result<ServiceResponse<B>, Error> {
    let id = req
        .headers()
        .get(&HEADER)
        .and_then(|v| v.to_str().ok())
        .map(str::trim)
        .filter(|v| sane(v))
        .map(str::to_string)
        .unwrap_or_else(generate);
    req.extensions_mut().insert(RequestId(id.clone()));
    let method = crate::obs::metrics::method_label(req.method());
    let path: String = req.path().chars().take(200).collect();
    let span = tracing::info_span!(
        "request",
        request_id = %id,
        method,
        incident = tracing::field::Empty
    );
    let start = Instant::now();
    let result = next.call(req).instrument(span.clone()).await;
    let elapsed = start.elapsed();
    let mut res = match result {
        Ok(r) => r,
        Err(e) => {
            // Handlers answer with responses; an error here comes from a lower layer and is
            // rendered by actix itself (no request-id header, but still one log line).
            let status = e.as_response_error().status_code();
            span.in_scope(|| {
                tracing::warn!(request_id = %id, method, path = %path, status = status.as_u16(), error = %e, "request failed");
            });
            crate::obs::metrics::http_request(method, "unmatched".into(), status, elapsed);
            return Err(e);
        }
    };
    let status = res.status();
    let route = res
        .request()
        .match_pattern()
        .unwrap_or_else(|| "unmatched".to_string());
    if let Ok(v) = HeaderValue::from_str(&id) {
        res.headers_mut().insert(HEADER, v);
    }
    let duration_ms = elapsed.as_secs_f64() * 1000.0;
    span.in_scope(|| {
        let code = status.as_u16();
        if quiet(&route) {
            tracing::debug!(request_id = %id, method, route = %route, path = %path, status = code, duration_ms, "request");
        } else if status.is_server_error() {
            tracing::warn!(request_id = %id, method, route = %route, path = %path, status = code, duration_ms, "request");
        } else {
            tracing::info!(request_id = %id, method, route = %route, path = %path, status = code, duration_ms, "request");
        }
    });
    crate::obs::metrics::http_request(method, route, status, elapsed);
    Ok(res)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sane_ids() {
        assert!(sane("abc-123_x.y:z@w"));
        assert!(sane(&"a".repeat(128)));
        assert!(!sane(""));
        assert!(!sane(&"a".repeat(129)));
        assert!(!sane("a b"));
        assert!(!sane("a\"b"));
        assert!(!sane("a\nb"));
        assert_eq!(generate().len(), 32);
        assert!(sane(&generate()));
        assert_ne!(generate(), generate());
    }
}
