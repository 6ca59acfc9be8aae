//! The edge of every request, before any handler runs: per-route body-size limits and
//! per-client rate limits (ADR 0014).
//!
//! - **Body limits.** Each route class has a ceiling. A declared `Content-Length` above it
//!   is answered 413 at once, without reading the body; a body sent without a length (chunked)
//!   is cut at the ceiling and its extractor answers 413. The extractor configs in
//!   `serve` are a second, looser fence.
//! - **Rate limits.** Sign-in starts, the ACS, SCIM and the admin password login are limited
//!   per client address (GCRA, `governor`), in memory, per instance. Over the limit: 429 with
//!   `Retry-After` in whole seconds and a sentence saying when to retry. SCIM is also limited
//!   per token (`web::scim`), which is what Okta's retries care about.
//! - **Client address.** The peer address, unless the peer is a configured trusted proxy:
//!   then the right-most `X-Forwarded-For` entry that is not itself a trusted proxy. An
//!   untrusted client cannot choose its own key by sending the header.

use std::net::IpAddr;
use std::num::NonZeroU32;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use actix_web::body::{BoxBody, MessageBody};
use actix_web::dev::{Payload, ServiceRequest, ServiceResponse};
use actix_web::http::{Method, StatusCode, header};
use actix_web::middleware::Next;
use actix_web::web::Bytes;
use actix_web::{Error, HttpResponse, error::PayloadError};
use futures_util::Stream;
use governor::{DefaultKeyedRateLimiter, Quota, RateLimiter};
use ipnet::IpNet;
use serde::{Deserialize, Serialize};

/// What a route is, for its limits.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RouteClass {
    /// `POST /saml/{t}/acs`: the IdP's POST (encrypted, or 200 attributes: tens of KB).
    Acs,
    /// `POST /saml/{t}/slo`: a LogoutRequest/LogoutResponse by POST.
    Slo,
    /// Starting a sign-in: `GET /saml/{t}/login` (stores an AuthnRequest), `POST /login`.
    Login,
    /// `POST /admin/login`, `/admin/sso`, `/admin/set-password`: password guessing.
    AdminLogin,
    /// `/scim/v2/...`: Okta's provisioning (group PUTs with many members).
    Scim,
    /// IdP metadata upload and the assertion lab (a pasted SAMLResponse).
    AdminUpload,
    /// Every other admin page and API call.
    Admin,
    /// The development IdP (`--demo` only).
    Demo,
    /// Everything else (GETs, small forms).
    Other,
}

impl RouteClass {
    pub fn of(method: &Method, path: &str) -> RouteClass {
        let seg: Vec<&str> = path.trim_start_matches('/').split('/').collect();
        let post = method == Method::POST;
        match seg.as_slice() {
            ["saml", _, "acs"] => RouteClass::Acs,
            ["saml", _, "slo"] if post => RouteClass::Slo,
            ["saml", _, "login"] | ["login"] => RouteClass::Login,
            ["admin", "login" | "sso" | "set-password"] if post => RouteClass::AdminLogin,
            ["scim", ..] => RouteClass::Scim,
            ["admin", "tenants", _, "idp" | "lab", ..]
            | ["admin", "api", "tenants", _, "idp" | "lab"] => RouteClass::AdminUpload,
            ["admin", ..] => RouteClass::Admin,
            ["demo", ..] => RouteClass::Demo,
            _ => RouteClass::Other,
        }
    }

    /// The largest body this route reads, in bytes.
    pub fn body_limit(self) -> usize {
        const KIB: usize = 1024;
        match self {
            RouteClass::Acs | RouteClass::Slo | RouteClass::Demo => 512 * KIB,
            RouteClass::Scim => 1024 * KIB,
            // Metadata up to 1 MiB, which URL-encoding in a pasted form can double.
            RouteClass::AdminUpload => 2048 * KIB,
            RouteClass::Admin => 64 * KIB,
            RouteClass::Login | RouteClass::AdminLogin | RouteClass::Other => 16 * KIB,
        }
    }

    fn name(self) -> &'static str {
        match self {
            RouteClass::Acs => "acs",
            RouteClass::Slo => "slo",
            RouteClass::Login => "login",
            RouteClass::AdminLogin => "admin_login",
            RouteClass::Scim => "scim",
            RouteClass::AdminUpload => "admin_upload",
            RouteClass::Admin => "admin",
            RouteClass::Demo => "demo",
            RouteClass::Other => "other",
        }
    }
}

/// One limit: a steady rate and a burst, per client address.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Rate {
    /// Requests per minute allowed in the long run.
    pub per_minute: u32,
    /// Requests allowed at once after a quiet spell.
    pub burst: u32,
}

/// The rate limits per client address (the `[rate_limits]` table of the configuration).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct RateSettings {
    /// Sign-in starts: `GET /saml/{tenant}/login`, `POST /login`. A whole office behind
    /// one NAT address signs in at 9 o'clock, so this is generous.
    pub login: Rate,
    /// `POST /saml/{tenant}/acs`.
    pub acs: Rate,
    /// All SCIM requests from one address (each token also has `scim_rate`).
    pub scim: Rate,
    /// Admin password logins, SSO starts and set-password posts (accounts also lock
    /// after 5 failures).
    pub admin_login: Rate,
}

impl Default for RateSettings {
    fn default() -> Self {
        RateSettings {
            login: Rate {
                per_minute: 1200,
                burst: 200,
            },
            acs: Rate {
                per_minute: 1200,
                burst: 200,
            },
            scim: Rate {
                per_minute: 6000,
                burst: 400,
            },
            admin_login: Rate {
                per_minute: 10,
                burst: 10,
            },
        }
    }
}

type Limiter = DefaultKeyedRateLimiter<IpAddr>;

fn limiter(r: Rate) -> Arc<Limiter> {
    let burst = NonZeroU32::new(r.burst.max(1)).unwrap_or(NonZeroU32::MIN);
    let per_minute = NonZeroU32::new(r.per_minute.max(1)).unwrap_or(NonZeroU32::MIN);
    Arc::new(RateLimiter::keyed(
        Quota::per_minute(per_minute).allow_burst(burst),
    ))
}

/// The edge's state: one limiter per limited class, and the trusted proxies.
#[derive(Debug, Clone)]
pub struct Edge {
    login: Arc<Limiter>,
    acs: Arc<Limiter>,
    scim: Arc<Limiter>,
    admin_login: Arc<Limiter>,
    trusted_proxies: Arc<Vec<IpNet>>,
}

impl Edge {
    pub fn new(rates: &RateSettings, trusted_proxies: Vec<IpNet>) -> Edge {
        Edge {
            login: limiter(rates.login),
            acs: limiter(rates.acs),
            scim: limiter(rates.scim),
            admin_login: limiter(rates.admin_login),
            trusted_proxies: Arc::new(trusted_proxies),
        }
    }

    fn limiter_for(&self, class: RouteClass) -> Option<&Limiter> {
        match class {
            RouteClass::Login => Some(&self.login),
            RouteClass::Acs => Some(&self.acs),
            RouteClass::Scim => Some(&self.scim),
            RouteClass::AdminLogin => Some(&self.admin_login),
            _ => None,
        }
    }

    /// Forget clients that have been quiet for a full burst period (bounded memory).
    pub fn housekeeping(&self) {
        for l in [&self.login, &self.acs, &self.scim, &self.admin_login] {
            l.retain_recent();
            l.shrink_to_fit();
        }
    }

    /// The client's address: the peer, or through trusted proxies the first address from
    /// the right of `X-Forwarded-For` that is not a trusted proxy.
    pub fn client_ip(&self, peer: Option<IpAddr>, forwarded_for: Option<&str>) -> Option<IpAddr> {
        let peer = peer?;
        if !self.is_trusted(peer) {
            return Some(peer);
        }
        let Some(xff) = forwarded_for else {
            return Some(peer);
        };
        let mut last_trusted = peer;
        for part in xff.rsplit(',') {
            match part.trim().parse::<IpAddr>() {
                Ok(ip) if self.is_trusted(ip) => last_trusted = ip,
                Ok(ip) => return Some(ip),
                // A garbled entry: stop at the last address we can vouch for.
                Err(_) => return Some(last_trusted),
            }
        }
        Some(last_trusted)
    }

    fn is_trusted(&self, ip: IpAddr) -> bool {
        let ip = canonical(ip);
        self.trusted_proxies.iter().any(|n| n.contains(&ip))
    }
}

/// IPv4-mapped IPv6 addresses as IPv4, so `::ffff:10.0.0.1` matches `10.0.0.0/8`.
fn canonical(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V6(v6) => v6
            .to_ipv4_mapped()
            .map(IpAddr::V4)
            .unwrap_or(IpAddr::V6(v6)),
        v4 => v4,
    }
}

/// Parse trusted proxies: addresses or CIDR ranges.
pub fn parse_proxies(items: &[String]) -> Result<Vec<IpNet>, String> {
    items
        .iter()
        .map(|s| {
            let s = s.trim();
            s.parse::<IpNet>()
                .or_else(|_| s.parse::<IpAddr>().map(IpNet::from))
                .map_err(|_| format!("trusted proxy {s:?}: expected an address or a CIDR range"))
        })
        .collect()
}

/// The client address of a request as the edge sees it (for logs, audit and limits).
pub fn request_client_ip(req: &actix_web::HttpRequest) -> Option<IpAddr> {
    let peer = req.peer_addr().map(|a| canonical(a.ip()));
    let xff = req
        .headers()
        .get("x-forwarded-for")
        .and_then(|v| v.to_str().ok());
    match req.app_data::<actix_web::web::Data<Edge>>() {
        Some(edge) => edge.client_ip(peer, xff),
        None => peer,
    }
}

fn too_many(class: RouteClass, wait_secs: u64) -> HttpResponse {
    let wait = wait_secs.max(1);
    let body = format!(
        "Too many requests ({} limit for your address). Retry after {wait} s.\n",
        class.name()
    );
    let mut r = HttpResponse::build(StatusCode::TOO_MANY_REQUESTS);
    r.insert_header((header::RETRY_AFTER, wait.to_string()));
    if class == RouteClass::Scim {
        // RFC 7644 §3.12 error shape, as the SCIM handlers answer.
        r.content_type("application/scim+json").body(
            serde_json::json!({
                "schemas": ["urn:ietf:params:scim:api:messages:2.0:Error"],
                "status": "429",
                "detail": body.trim_end(),
            })
            .to_string(),
        )
    } else {
        r.content_type("text/plain; charset=utf-8").body(body)
    }
}

fn too_large(limit: usize) -> HttpResponse {
    HttpResponse::build(StatusCode::PAYLOAD_TOO_LARGE)
        .content_type("text/plain; charset=utf-8")
        .body(format!(
            "The request body is larger than this address accepts ({} KiB).\n",
            limit / 1024
        ))
}

/// A payload stream that fails with `Overflow` once more than `limit` bytes arrived.
struct Capped<S> {
    inner: S,
    seen: usize,
    limit: usize,
}

impl<S> Stream for Capped<S>
where
    S: Stream<Item = Result<Bytes, PayloadError>> + Unpin,
{
    type Item = Result<Bytes, PayloadError>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        match Pin::new(&mut self.inner).poll_next(cx) {
            Poll::Ready(Some(Ok(chunk))) => {
                self.seen = self.seen.saturating_add(chunk.len());
                if self.seen > self.limit {
                    Poll::Ready(Some(Err(PayloadError::Overflow)))
                } else {
                    Poll::Ready(Some(Ok(chunk)))
                }
            }
            other => other,
        }
    }
}

/// The middleware: `App::new().app_data(Data::new(edge)).wrap(from_fn(edge::guard))`.
pub async fn guard(
    mut req: ServiceRequest,
    next: Next<impl MessageBody + 'static>,
) -> Result<ServiceResponse<BoxBody>, Error> {
    let class = RouteClass::of(req.method(), req.path());
    let limit = class.body_limit();
    let declared = req
        .headers()
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().parse::<u64>().ok());
    if declared.is_some_and(|n| n > limit as u64) {
        return Ok(req.into_response(too_large(limit)));
    }
    if let Some(edge) = req.app_data::<actix_web::web::Data<Edge>>().cloned()
        && let Some(l) = edge.limiter_for(class)
        && let Some(ip) = request_client_ip(req.request())
        && let Err(not_until) = l.check_key(&ip)
    {
        let wait = not_until.wait_time_from(governor::clock::Clock::now(
            &governor::clock::DefaultClock::default(),
        ));
        let secs = wait.as_secs() + u64::from(wait.subsec_nanos() > 0);
        return Ok(req.into_response(too_many(class, secs)));
    }
    let (_, payload) = req.parts_mut();
    let inner = std::mem::replace(payload, Payload::None);
    req.set_payload(Payload::Stream {
        payload: Box::pin(Capped {
            inner,
            seen: 0,
            limit,
        }),
    });
    Ok(next.call(req).await?.map_into_boxed_body())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    #[test]
    fn classes() {
        let p = Method::POST;
        let g = Method::GET;
        assert_eq!(RouteClass::of(&p, "/saml/acme/acs"), RouteClass::Acs);
        assert_eq!(RouteClass::of(&g, "/saml/acme/login"), RouteClass::Login);
        assert_eq!(RouteClass::of(&p, "/login"), RouteClass::Login);
        assert_eq!(RouteClass::of(&p, "/admin/login"), RouteClass::AdminLogin);
        assert_eq!(RouteClass::of(&g, "/admin/login"), RouteClass::Admin);
        assert_eq!(RouteClass::of(&p, "/scim/v2/acme/Users"), RouteClass::Scim);
        assert_eq!(
            RouteClass::of(&p, "/admin/tenants/acme/idp/url"),
            RouteClass::AdminUpload
        );
        assert_eq!(
            RouteClass::of(&p, "/admin/api/tenants/acme/lab"),
            RouteClass::AdminUpload
        );
        assert_eq!(
            RouteClass::of(&p, "/admin/tenants/acme/users"),
            RouteClass::Admin
        );
        assert_eq!(RouteClass::of(&g, "/saml/acme/slo"), RouteClass::Other);
        assert_eq!(RouteClass::of(&p, "/saml/acme/slo"), RouteClass::Slo);
        assert_eq!(RouteClass::of(&g, "/"), RouteClass::Other);
    }

    #[test]
    fn forwarded_for_only_through_trusted_proxies() {
        let edge = Edge::new(
            &RateSettings::default(),
            parse_proxies(&["10.0.0.0/8".into(), "192.0.2.7".into()]).unwrap(),
        );
        // An untrusted peer cannot pick its key.
        assert_eq!(
            edge.client_ip(Some(ip("203.0.113.9")), Some("1.2.3.4")),
            Some(ip("203.0.113.9"))
        );
        // Through a trusted proxy: the right-most untrusted entry.
        assert_eq!(
            edge.client_ip(
                Some(ip("10.1.1.1")),
                Some("1.2.3.4, 198.51.100.5, 10.2.2.2")
            ),
            Some(ip("198.51.100.5"))
        );
        assert_eq!(
            edge.client_ip(Some(ip("192.0.2.7")), None),
            Some(ip("192.0.2.7"))
        );
        // Garbage stops at the last trusted hop.
        assert_eq!(
            edge.client_ip(Some(ip("10.1.1.1")), Some("nonsense, 10.3.3.3")),
            Some(ip("10.3.3.3"))
        );
        // IPv4-mapped peers match IPv4 ranges.
        assert_eq!(
            edge.client_ip(Some(ip("::ffff:10.0.0.1")), Some("198.51.100.1")),
            Some(ip("198.51.100.1"))
        );
        assert!(parse_proxies(&["10.0.0.0/33".into()]).is_err());
    }
}
