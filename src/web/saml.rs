//! SAML endpoints per tenant: metadata, SP-initiated login, ACS, single logout.

use actix_web::http::{StatusCode, header};
use actix_web::{HttpRequest, HttpResponse, web};
use base64::Engine as _;
use chrono::{DateTime, Duration, Utc};
use serde::Deserialize;

use super::pages::{self, BINDING_COOKIE_PREFIX, PostForm, message, store_failure};
use crate::app::AppState;
use crate::directory::{self, Refusal, Tenant};
use crate::keyring::{KeyError, SpKeys};
use crate::saml::{
    self, ReplayCache, ReplayStoreError, SamlError, VerifiedAssertion, VerifyContext, binding,
    protocol,
};
use crate::session::{self, LoginPlan};
use crate::store::{
    LoginCommitted, LoginEnd, LoginRecord, RequestPurpose, SignInEvent, random_token, token_hash,
};

/// How long an outstanding AuthnRequest may take to come back.
pub const REQUEST_TTL_SECONDS: i64 = 10 * 60;

async fn tenant_or_404(state: &AppState, slug: &str) -> Result<Tenant, HttpResponse> {
    match state.db.tenant_by_slug(slug).await {
        Ok(Some(t)) => Ok(t),
        Ok(None) => Err(message(
            StatusCode::NOT_FOUND,
            "Unknown organization",
            "No organization is configured at this address.",
            None,
        )),
        Err(e) => Err(store_failure(&e)),
    }
}

pub async fn metadata(state: web::Data<AppState>, path: web::Path<String>) -> HttpResponse {
    let tenant = match tenant_or_404(&state, &path).await {
        Ok(t) => t,
        Err(r) => return r,
    };
    match sp_metadata_xml(&state, &tenant).await {
        Ok(xml) => HttpResponse::Ok()
            .insert_header((header::CONTENT_TYPE, "application/samlmetadata+xml"))
            .insert_header((header::CACHE_CONTROL, "public, max-age=300"))
            .body(xml),
        Err(r) => r,
    }
}

/// The SP keys are unusable (the master key does not open them, or the database failed).
pub fn key_failure(e: &KeyError) -> HttpResponse {
    let inc = pages::incident_id();
    crate::obs::note_incident(&inc);
    tracing::error!(incident = %inc, error = %e, "SP keys unavailable");
    message(
        StatusCode::SERVICE_UNAVAILABLE,
        "Temporarily unavailable",
        "The sign-in service cannot use its keys right now. Please try again in a moment.",
        Some(&inc),
    )
}

/// The tenant's SP metadata: signing and encryption certificates (current, then next),
/// `AuthnRequestsSigned`/`WantAssertionsSigned` as configured, signed when asked.
pub async fn sp_metadata_xml(state: &AppState, tenant: &Tenant) -> Result<String, HttpResponse> {
    let now = state.now();
    let keys = state
        .keys
        .keys(&state.db, tenant.id, now)
        .await
        .map_err(|e| key_failure(&e))?;
    let pu = &state.public_url;
    let mut o = protocol::SpMetadataOptions::new(
        tenant.sp_entity_id(pu),
        tenant.acs_url(pu),
        tenant.slo_url(pu),
    );
    o.signing_certificates = SpKeys::certificates(&keys.signing);
    o.encryption_certificates = SpKeys::certificates(&keys.encryption);
    o.authn_requests_signed = tenant.sign_requests;
    o.want_assertions_signed = tenant.require_signed_assertions;
    if !tenant.sign_metadata {
        return Ok(o.to_xml());
    }
    let Some(key) = keys.signing_now() else {
        return Err(key_failure(&KeyError::Key("no signing key".into())));
    };
    o.id = Some(format!("_md{}x{}", tenant.id, now.timestamp()));
    o.valid_until = Some(now + Duration::days(7));
    protocol::signed_sp_metadata(&o, key, key.default_algorithm()).map_err(|e| {
        message(
            StatusCode::INTERNAL_SERVER_ERROR,
            "Metadata unavailable",
            &e.to_string(),
            None,
        )
    })
}

#[derive(Deserialize)]
pub struct LoginQuery {
    return_to: Option<String>,
}

/// Start SP-initiated SSO: store the request server-side under an opaque RelayState,
/// bind it to this browser with a cookie, and redirect to the IdP.
pub async fn login(
    state: web::Data<AppState>,
    path: web::Path<String>,
    q: web::Query<LoginQuery>,
) -> HttpResponse {
    let tenant = match tenant_or_404(&state, &path).await {
        Ok(t) => t,
        Err(r) => return r,
    };
    if !tenant.login_mode.allows_sso() {
        return message(
            StatusCode::FORBIDDEN,
            "Single sign-on is off",
            "Your organization signs in with 8x8 passwords.",
            None,
        );
    }
    let Some(sso_url) = tenant.idp_sso_url.clone() else {
        return message(
            StatusCode::SERVICE_UNAVAILABLE,
            "Single sign-on is not set up",
            "Your organization's identity provider has no sign-in URL yet. Ask your administrator.",
            None,
        );
    };
    let return_to = match q.return_to.as_deref() {
        None | Some("") => "/".to_string(),
        Some(r) => match directory::safe_return_to(&tenant, &state.public_url, r) {
            Some(ok) => ok,
            None => {
                return message(
                    StatusCode::BAD_REQUEST,
                    "Unsafe destination",
                    "The page you asked to return to is not one of this organization's apps.",
                    None,
                );
            }
        },
    };
    start_sso(&state, &tenant, &sso_url, &return_to, RequestPurpose::App).await
}

pub async fn start_sso(
    state: &AppState,
    tenant: &Tenant,
    sso_url: &str,
    return_to: &str,
    purpose: RequestPurpose,
) -> HttpResponse {
    let now = state.now();
    let (relay, binding, rid) = match (random_token(32), random_token(32), random_token(16)) {
        (Ok(a), Ok(b), Ok(c)) => (a, b, format!("_{}", c.replace(['-', '_'], "x"))),
        (Err(e), _, _) | (_, Err(e), _) | (_, _, Err(e)) => return store_failure(&e),
    };
    let relay_hash = token_hash(&relay);
    if let Err(e) = state
        .db
        .save_authn_request(
            &relay_hash,
            tenant.id,
            &rid,
            return_to,
            &token_hash(&binding),
            now + Duration::seconds(REQUEST_TTL_SECONDS),
            purpose,
        )
        .await
    {
        return store_failure(&e);
    }
    let pu = &state.public_url;
    let keys = if tenant.sign_requests {
        match state.keys.keys(&state.db, tenant.id, now).await {
            Ok(k) => Some(k),
            Err(e) => return key_failure(&e),
        }
    } else {
        None
    };
    let signer = keys.as_ref().and_then(|k| k.signing_now());
    let (sp, acs) = (tenant.sp_entity_id(pu), tenant.acs_url(pu));
    let cookie = pages::binding_cookie(
        &binding_cookie_name(&relay_hash),
        &binding,
        REQUEST_TTL_SECONDS,
    );
    let failed = |e: SamlError| {
        message(
            StatusCode::INTERNAL_SERVER_ERROR,
            "Could not start sign-in",
            &e.to_string(),
            None,
        )
    };
    if tenant.post_binding {
        // HTTP-POST: an enveloped signature in the request, an auto-submitting form.
        let xml = match signer {
            Some(k) => protocol::signed_authn_request(
                &rid,
                now,
                sso_url,
                &sp,
                &acs,
                k,
                k.default_algorithm(),
            ),
            None => protocol::authn_request(&rid, now, sso_url, &sp, &acs),
        };
        return match xml {
            Ok(xml) => {
                let b64 = base64::engine::general_purpose::STANDARD.encode(xml);
                let mut r = post_form(sso_url, "SAMLRequest", &b64, Some(&relay));
                let _ = r.add_cookie(&cookie);
                r
            }
            Err(e) => failed(e),
        };
    }
    // HTTP-Redirect: the signature over the query string (SAML bindings §3.4.4.1).
    let url = protocol::authn_request(&rid, now, sso_url, &sp, &acs).and_then(|xml| match signer {
        Some(k) => binding::signed_redirect_url(
            sso_url,
            "SAMLRequest",
            &xml,
            Some(&relay),
            k,
            k.default_algorithm(),
        ),
        None => binding::redirect_url(sso_url, "SAMLRequest", &xml, Some(&relay), None),
    });
    match url {
        Ok(u) => HttpResponse::Found()
            .insert_header((header::LOCATION, u))
            .cookie(cookie)
            .finish(),
        Err(e) => failed(e),
    }
}

/// A Redirect-binding URL for our logout messages, signed with the tenant's current key
/// (Okta requires signed SP-initiated LogoutRequests).
async fn signed_logout_url(
    state: &AppState,
    tenant: &Tenant,
    dest: &str,
    param: &str,
    xml: &str,
    relay_state: Option<&str>,
) -> Result<String, HttpResponse> {
    let keys = state
        .keys
        .keys(&state.db, tenant.id, state.now())
        .await
        .map_err(|e| key_failure(&e))?;
    let r = match keys.signing_now() {
        Some(k) => {
            binding::signed_redirect_url(dest, param, xml, relay_state, k, k.default_algorithm())
        }
        None => binding::redirect_url(dest, param, xml, relay_state, None),
    };
    r.map_err(|e| {
        message(
            StatusCode::INTERNAL_SERVER_ERROR,
            "Logout failed",
            &e.to_string(),
            None,
        )
    })
}

fn binding_cookie_name(relay_hash: &str) -> String {
    format!(
        "{BINDING_COOKIE_PREFIX}{}",
        relay_hash.get(..16).unwrap_or(relay_hash)
    )
}

/// Captures the replay-cache call of the pure core; the database consumes it after.
struct DeferredReplay(Option<(String, String, DateTime<Utc>)>);

impl ReplayCache for DeferredReplay {
    fn check_and_record(
        &mut self,
        issuer: &str,
        id: &str,
        expires_at: DateTime<Utc>,
        _now: DateTime<Utc>,
    ) -> Result<bool, ReplayStoreError> {
        self.0 = Some((issuer.to_string(), id.to_string(), expires_at));
        Ok(true)
    }
}

#[derive(Deserialize)]
pub struct AcsForm {
    #[serde(rename = "SAMLResponse")]
    saml_response: Option<String>,
    #[serde(rename = "RelayState")]
    relay_state: Option<String>,
}

/// Where an ACS request came from: an SP-initiated request we stored, or IdP-initiated.
struct Correlation {
    request_ids: Vec<String>,
    return_to: String,
    purpose: RequestPurpose,
}

async fn correlate(
    state: &AppState,
    req: &HttpRequest,
    tenant: &Tenant,
    relay: Option<&str>,
) -> Result<Correlation, (String, String)> {
    let now = state.now();
    let unsolicited = |target: Option<&str>| Correlation {
        purpose: RequestPurpose::App,
        request_ids: vec![],
        return_to: target
            .and_then(|t| directory::safe_return_to(tenant, &state.public_url, t))
            .unwrap_or_else(|| "/".into()),
    };
    let Some(relay) = relay.filter(|r| !r.is_empty()) else {
        return Ok(unsolicited(None));
    };
    let relay_hash = token_hash(relay);
    match state.db.take_authn_request(&relay_hash, now).await {
        Ok(Some(pending)) => {
            if pending.tenant_id != tenant.id {
                return Err((
                    "request_tenant_mismatch".into(),
                    "the sign-in was started for another organization".into(),
                ));
            }
            let cookie = req.cookie(&binding_cookie_name(&relay_hash));
            if cookie.map(|c| token_hash(c.value())) != Some(pending.binding_hash) {
                return Err((
                    "request_binding_mismatch".into(),
                    "the sign-in did not finish in the browser that started it".into(),
                ));
            }
            Ok(Correlation {
                request_ids: vec![pending.request_id],
                return_to: pending.return_to,
                purpose: pending.purpose,
            })
        }
        // Not one of our tokens: an IdP-supplied RelayState (Okta "Default RelayState").
        Ok(None) => Ok(unsolicited(Some(relay))),
        Err(e) => Err(("store_error".into(), e.to_string())),
    }
}

/// Which flow an event belongs to (the metric it counts in).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Flow {
    SignIn,
    Logout,
}

impl Flow {
    /// The event's `kind` (and its log field).
    fn kind(self) -> &'static str {
        match self {
            Flow::SignIn => "sign_in",
            Flow::Logout => "logout",
        }
    }
}

/// Count and log a sign-in or logout outcome (the event row is written by the caller).
fn announce(tenant: &Tenant, flow: Flow, e: &SignInEvent<'_>) {
    let outcome = e.outcome;
    let detail = e.detail;
    match flow {
        Flow::SignIn => crate::obs::metrics::sign_in(&tenant.slug, outcome),
        Flow::Logout => crate::obs::metrics::logout(&tenant.slug, outcome),
    }
    let event = flow.kind();
    let who = e.subject.unwrap_or("-");
    match e.incident_id {
        Some(inc) => {
            crate::obs::note_incident(inc);
            tracing::warn!(event, tenant = %tenant.slug, outcome, incident = %inc, subject = who, detail, "{event} refused");
        }
        None => {
            tracing::info!(event, tenant = %tenant.slug, outcome, subject = who, detail, "{event}")
        }
    }
}

/// Count, log and record (its own statement) a sign-in or logout outcome.
async fn record(
    state: &AppState,
    tenant: &Tenant,
    flow: Flow,
    incident: Option<&str>,
    outcome: &str,
    subject: Option<&str>,
    detail: &str,
) {
    let e = SignInEvent {
        incident_id: incident,
        outcome,
        subject,
        detail,
    };
    announce(tenant, flow, &e);
    if let Err(err) = state
        .db
        .record_event(
            Some(tenant.id),
            incident,
            flow.kind(),
            outcome,
            subject,
            detail,
            state.now(),
        )
        .await
    {
        tracing::error!(error = %err, "event not recorded");
    }
}

fn refusal_page(tenant: &Tenant, r: &Refusal, incident: &str) -> HttpResponse {
    let org = &tenant.display_name;
    let (title, text) = match r {
        Refusal::UnknownUser(_) | Refusal::NoFederationId => (
            "Your account is not set up".to_string(),
            format!(
                "Your account is not set up for 8x8 at {org}. Ask your administrator to assign you the 8x8 app in Okta."
            ),
        ),
        Refusal::Deactivated(_) => (
            "Your account is deactivated".to_string(),
            format!(
                "Your 8x8 account at {org} is deactivated. Contact your administrator if you need access."
            ),
        ),
        Refusal::Unlicensed(_) => (
            "No 8x8 license".to_string(),
            format!(
                "Your account is not set up for any 8x8 service at {org}: no license is assigned to you yet. Ask your administrator to assign one."
            ),
        ),
        Refusal::SsoDisabled => (
            "Single sign-on is off".to_string(),
            format!("{org} signs in with 8x8 passwords."),
        ),
        Refusal::NotInRollout(_) => (
            "Single sign-on is not on for you yet".to_string(),
            format!(
                "{org} is moving to single sign-on step by step and your account is not part of it yet. Sign in with your 8x8 password."
            ),
        ),
    };
    message(StatusCode::FORBIDDEN, &title, &text, Some(incident))
}

/// The Assertion Consumer Service.
pub async fn acs(
    state: web::Data<AppState>,
    req: HttpRequest,
    path: web::Path<String>,
    form: web::Form<AcsForm>,
) -> HttpResponse {
    let tenant = match tenant_or_404(&state, &path).await {
        Ok(t) => t,
        Err(r) => return r,
    };
    let failed = |code: &str| {
        let inc = pages::incident_id();
        (inc, code.to_string())
    };
    let Some(body) = form.saml_response.as_deref() else {
        crate::obs::metrics::sign_in(&tenant.slug, "saml_response_missing");
        return message(
            StatusCode::BAD_REQUEST,
            "Sign-in failed",
            "The request carried no SAML response.",
            None,
        );
    };
    let corr = match correlate(&state, &req, &tenant, form.relay_state.as_deref()).await {
        Ok(c) => c,
        Err((code, detail)) => {
            let (inc, _) = failed(&code);
            record(
                &state,
                &tenant,
                Flow::SignIn,
                Some(&inc),
                &code,
                None,
                &detail,
            )
            .await;
            return message(
                StatusCode::BAD_REQUEST,
                "Sign-in failed",
                "We could not match this sign-in to one you started. Please start again.",
                Some(&inc),
            );
        }
    };
    let trust = match state.trust.trust(&tenant) {
        Ok(t) => t,
        Err(e) => {
            let inc = pages::incident_id();
            record(
                &state,
                &tenant,
                Flow::SignIn,
                Some(&inc),
                e.code(),
                None,
                &format!("tenant IdP trust unusable: {e}"),
            )
            .await;
            return message(
                StatusCode::SERVICE_UNAVAILABLE,
                "Sign-in failed",
                "Your organization's identity provider is not set up correctly.",
                Some(&inc),
            );
        }
    };
    let now = state.now();
    let sp = match state
        .keys
        .sp_settings_for(&state.db, &tenant, &state.public_url, body.as_bytes(), now)
        .await
    {
        Ok(sp) => sp,
        Err(e) => {
            crate::obs::metrics::sign_in(&tenant.slug, "sp_keys_unavailable");
            return key_failure(&e);
        }
    };
    let mut replay = DeferredReplay(None);
    let mut ctx = VerifyContext {
        now,
        request_ids: &corr.request_ids,
        replay_cache: &mut replay,
    };
    let verified = saml::verify_response(body.as_bytes(), &sp, &trust, &mut ctx).and_then(|a| {
        let (issuer, id, exp) = replay
            .0
            .clone()
            .ok_or_else(|| SamlError::Replayed("(not recorded)".into()))?;
        Ok((a, issuer, id, exp))
    });
    let (assertion, issuer, id, exp) = match verified {
        Ok(v) => v,
        Err(e) => {
            let inc = pages::incident_id();
            record(
                &state,
                &tenant,
                Flow::SignIn,
                Some(&inc),
                e.code(),
                None,
                &e.log_message(),
            )
            .await;
            return message(
                StatusCode::BAD_REQUEST,
                "Sign-in failed",
                "Your sign-in could not be verified. Please try again.",
                Some(&inc),
            );
        }
    };
    // Which trusted certificate verified this login (shown on the console's IdP page).
    let certificate_der = trust
        .certificates()
        .iter()
        .find(|c| c.fingerprint() == assertion.verified_by())
        .map(|c| c.der_base64());
    let login = LoginRecord {
        tenant_id: tenant.id,
        issuer: &issuer,
        assertion_id: &id,
        assertion_expires_at: exp,
        certificate_der,
        now,
    };
    if corr.purpose == RequestPurpose::Admin {
        return match consume_for_admin(&state, &tenant, &login, &assertion).await {
            Ok(()) => crate::web::admin::sso::finish_at_acs(&state, &tenant, &assertion).await,
            Err(resp) => resp,
        };
    }
    let plan = match session::plan_login(&state.db, &tenant, &assertion, now).await {
        Ok(p) => p,
        Err(e) => {
            crate::obs::metrics::sign_in(&tenant.slug, "store_error");
            return store_failure(&e);
        }
    };
    match plan {
        LoginPlan::Session(planned) => {
            let session::PlannedSession {
                session_id,
                id_hash,
                row,
                user,
                expires_at,
            } = *planned;
            let event = SignInEvent {
                incident_id: None,
                outcome: "success",
                subject: Some(&user.user_name),
                detail: "session created",
            };
            let end = LoginEnd::Session {
                id_hash: &id_hash,
                row: &row,
                event,
            };
            match state.db.complete_login(&login, &end).await {
                Ok(LoginCommitted::Session) => {
                    announce(&tenant, Flow::SignIn, &event);
                    HttpResponse::SeeOther()
                        .insert_header((header::LOCATION, corr.return_to))
                        .cookie(pages::session_cookie(
                            &session_id,
                            expires_at - now.timestamp(),
                        ))
                        .cookie(pages::tenant_hint_cookie(&tenant.slug))
                        .finish()
                }
                Ok(LoginCommitted::Replayed) => {
                    replayed(&state, &tenant, &id, assertion.name_id()).await
                }
                Ok(LoginCommitted::UserInactive | LoginCommitted::Refused) => {
                    // Deactivated between the read and the transaction.
                    let r = Refusal::Deactivated(user.federation_id.clone());
                    let inc = pages::incident_id();
                    record(
                        &state,
                        &tenant,
                        Flow::SignIn,
                        Some(&inc),
                        r.code(),
                        Some(assertion.name_id()),
                        &format!("{r:?} (while signing in)"),
                    )
                    .await;
                    refusal_page(&tenant, &r, &inc)
                }
                Err(e) => {
                    crate::obs::metrics::sign_in(&tenant.slug, "store_error");
                    store_failure(&e)
                }
            }
        }
        LoginPlan::Refused(r) => {
            let inc = pages::incident_id();
            let detail = format!("{r:?}");
            let event = SignInEvent {
                incident_id: Some(&inc),
                outcome: r.code(),
                subject: Some(assertion.name_id()),
                detail: &detail,
            };
            match state
                .db
                .complete_login(&login, &LoginEnd::Refused { event })
                .await
            {
                Ok(LoginCommitted::Replayed) => {
                    replayed(&state, &tenant, &id, assertion.name_id()).await
                }
                Ok(_) => {
                    announce(&tenant, Flow::SignIn, &event);
                    refusal_page(&tenant, &r, &inc)
                }
                Err(e) => {
                    crate::obs::metrics::sign_in(&tenant.slug, "store_error");
                    store_failure(&e)
                }
            }
        }
    }
}

/// A console sign-in: the replay record and certificate stamp, then the admin session
/// (`admin::sso`). Rare next to app logins, so written the plain way.
async fn consume_for_admin(
    state: &AppState,
    tenant: &Tenant,
    login: &LoginRecord<'_>,
    assertion: &VerifiedAssertion,
) -> Result<(), HttpResponse> {
    match state
        .db
        .consume_assertion_id(
            login.issuer,
            login.assertion_id,
            login.assertion_expires_at,
            login.now,
        )
        .await
    {
        Ok(true) => {}
        Ok(false) => {
            return Err(replayed(state, tenant, login.assertion_id, assertion.name_id()).await);
        }
        Err(e) => {
            crate::obs::metrics::sign_in(&tenant.slug, "store_error");
            return Err(store_failure(&e));
        }
    }
    if let Some(der) = login.certificate_der
        && let Err(e) = state
            .db
            .mark_certificate_used(tenant.id, der, login.now)
            .await
    {
        tracing::warn!(error = %e, "certificate use not recorded");
    }
    Ok(())
}

/// The answer to an assertion ID seen before (recorded as an incident).
async fn replayed(state: &AppState, tenant: &Tenant, id: &str, subject: &str) -> HttpResponse {
    let inc = pages::incident_id();
    record(
        state,
        tenant,
        Flow::SignIn,
        Some(&inc),
        "replayed",
        Some(subject),
        &SamlError::Replayed(id.to_string()).to_string(),
    )
    .await;
    message(
        StatusCode::BAD_REQUEST,
        "Sign-in failed",
        "This sign-in was already used. Please start again.",
        Some(&inc),
    )
}

/// Sign out: end the session here and, when the IdP has an SLO endpoint, send it our
/// LogoutRequest.
pub async fn logout(state: web::Data<AppState>, req: HttpRequest) -> HttpResponse {
    let now = state.now();
    let mut to_idp = None;
    if let Some(c) = req.cookie(pages::SESSION_COOKIE) {
        match state.db.revoke_session(&token_hash(c.value()), now).await {
            Ok(Some(row)) => {
                if let Ok(Some(t)) = state.db.tenant_by_id(row.tenant_id).await
                    && let Some(slo) = t.idp_slo_url.clone()
                {
                    let id = format!(
                        "_{}",
                        random_token(16)
                            .unwrap_or_default()
                            .replace(['-', '_'], "x")
                    );
                    let xml = protocol::logout_request(
                        &id,
                        now,
                        &slo,
                        &t.sp_entity_id(&state.public_url),
                        &row.name_id,
                        row.session_index.as_deref(),
                    );
                    to_idp = signed_logout_url(&state, &t, &slo, "SAMLRequest", &xml, None)
                        .await
                        .ok();
                }
            }
            Ok(None) => {}
            Err(e) => return store_failure(&e),
        }
    }
    let mut resp = match to_idp {
        Some(url) => HttpResponse::Found()
            .insert_header((header::LOCATION, url))
            .finish(),
        None => message(
            StatusCode::OK,
            "Signed out",
            "You are signed out of the 8x8 apps.",
            None,
        ),
    };
    let _ = resp.add_cookie(&pages::clear_session_cookie());
    resp
}

/// Single logout, Redirect binding (Okta's LogoutRequest, or the LogoutResponse to ours).
pub async fn slo_redirect(
    state: web::Data<AppState>,
    req: HttpRequest,
    path: web::Path<String>,
) -> HttpResponse {
    let tenant = match tenant_or_404(&state, &path).await {
        Ok(t) => t,
        Err(r) => return r,
    };
    let msg = match binding::decode_redirect(req.query_string(), 256 * 1024) {
        Ok(m) => m,
        Err(e) => return slo_error(&state, &tenant, &e).await,
    };
    if msg.param == "SAMLResponse" {
        return message(
            StatusCode::OK,
            "Signed out",
            "You are signed out of the 8x8 apps and of your organization's sign-in.",
            None,
        );
    }
    let trust = match state.trust.trust(&tenant) {
        Ok(t) => t,
        Err(e) => return slo_error(&state, &tenant, &e).await,
    };
    let sig_ok = match &msg.signature {
        Some(sig) => match binding::verify_redirect_signature(
            sig,
            trust.certificates(),
            &saml::AlgorithmPolicy::default(),
        ) {
            Ok(_) => true,
            Err(e) => return slo_error(&state, &tenant, &e).await,
        },
        None => false,
    };
    handle_logout_request(
        &state,
        &tenant,
        &trust,
        &msg.xml,
        sig_ok,
        msg.relay_state.as_deref(),
    )
    .await
}

#[derive(Deserialize)]
pub struct SloForm {
    #[serde(rename = "SAMLRequest")]
    saml_request: Option<String>,
    #[serde(rename = "SAMLResponse")]
    saml_response: Option<String>,
    #[serde(rename = "RelayState")]
    relay_state: Option<String>,
}

/// Single logout, POST binding: the LogoutRequest must carry its own signature.
pub async fn slo_post(
    state: web::Data<AppState>,
    path: web::Path<String>,
    form: web::Form<SloForm>,
) -> HttpResponse {
    let tenant = match tenant_or_404(&state, &path).await {
        Ok(t) => t,
        Err(r) => return r,
    };
    if form.saml_response.is_some() {
        return message(StatusCode::OK, "Signed out", "You are signed out.", None);
    }
    let Some(b64) = form.saml_request.as_deref() else {
        return message(
            StatusCode::BAD_REQUEST,
            "Logout failed",
            "No SAML message.",
            None,
        );
    };
    let xml = match saml::decode_input(b64.as_bytes(), 256 * 1024) {
        Ok(x) => x,
        Err(e) => return slo_error(&state, &tenant, &e).await,
    };
    let trust = match state.trust.trust(&tenant) {
        Ok(t) => t,
        Err(e) => return slo_error(&state, &tenant, &e).await,
    };
    handle_logout_request(
        &state,
        &tenant,
        &trust,
        &xml,
        false,
        form.relay_state.as_deref(),
    )
    .await
}

async fn handle_logout_request(
    state: &AppState,
    tenant: &Tenant,
    trust: &saml::IdpTrust,
    xml: &[u8],
    signature_verified: bool,
    relay_state: Option<&str>,
) -> HttpResponse {
    let now = state.now();
    let slo_url = tenant.slo_url(&state.public_url);
    let skew = Duration::seconds(tenant.clock_skew_seconds);
    let lr = match protocol::verify_logout_request(
        xml,
        trust,
        &slo_url,
        now,
        skew,
        signature_verified,
    ) {
        Ok(lr) => lr,
        Err(e) => return slo_error(state, tenant, &e).await,
    };
    let ended = match state
        .db
        .revoke_sessions_by_name_id(tenant.id, &lr.name_id, &lr.session_indexes, now)
        .await
    {
        Ok(n) => n,
        Err(e) => return store_failure(&e),
    };
    record(
        state,
        tenant,
        Flow::Logout,
        None,
        "logout",
        Some(&lr.name_id),
        &format!("IdP LogoutRequest ended {ended} session(s)"),
    )
    .await;
    let mut resp = match &tenant.idp_slo_url {
        Some(idp_slo) => {
            let id = format!(
                "_{}",
                random_token(16)
                    .unwrap_or_default()
                    .replace(['-', '_'], "x")
            );
            let xml = protocol::logout_response(
                &id,
                now,
                idp_slo,
                &tenant.sp_entity_id(&state.public_url),
                &lr.id,
            );
            match signed_logout_url(state, tenant, idp_slo, "SAMLResponse", &xml, relay_state).await
            {
                Ok(u) => HttpResponse::Found()
                    .insert_header((header::LOCATION, u))
                    .finish(),
                Err(r) => return r,
            }
        }
        None => message(
            StatusCode::OK,
            "Signed out",
            "You are signed out of the 8x8 apps.",
            None,
        ),
    };
    frame_for_idp(&mut resp, tenant);
    resp
}

/// Okta sends front-channel LogoutRequests in a hidden iframe on its own origin: allow
/// exactly the tenant's IdP origins (from its SSO and SLO URLs) to frame this answer, and
/// nobody else. `X-Frame-Options` cannot name an origin; browsers that know CSP's
/// `frame-ancestors` ignore it when that is present (CSP 3), and older ones get `SAMEORIGIN`.
pub fn frame_for_idp(resp: &mut HttpResponse, tenant: &Tenant) {
    let mut origins: Vec<String> = [&tenant.idp_sso_url, &tenant.idp_slo_url]
        .into_iter()
        .flatten()
        .filter_map(|u| url::Url::parse(u).ok())
        .filter(|u| u.scheme() == "https" || u.host_str() == Some("127.0.0.1"))
        .map(|u| u.origin().ascii_serialization())
        .filter(|o| o != "null")
        .collect();
    origins.sort();
    origins.dedup();
    let csp = format!(
        "default-src 'self'; object-src 'none'; base-uri 'none'; frame-ancestors 'self' {}",
        origins.join(" ")
    );
    if let Ok(v) = header::HeaderValue::from_str(csp.trim_end()) {
        resp.headers_mut()
            .insert(header::CONTENT_SECURITY_POLICY, v);
        resp.headers_mut().insert(
            header::X_FRAME_OPTIONS,
            header::HeaderValue::from_static("SAMEORIGIN"),
        );
    }
}

async fn slo_error(state: &AppState, tenant: &Tenant, e: &SamlError) -> HttpResponse {
    let inc = pages::incident_id();
    record(
        state,
        tenant,
        Flow::Logout,
        Some(&inc),
        e.code(),
        None,
        &format!("logout refused: {e}"),
    )
    .await;
    message(
        StatusCode::BAD_REQUEST,
        "Logout failed",
        "The logout request could not be verified.",
        Some(&inc),
    )
}

/// Used by the demo IdP to render the auto-submitting POST form.
pub fn post_form(
    action: &str,
    field: &str,
    value: &str,
    relay_state: Option<&str>,
) -> HttpResponse {
    pages::html(
        StatusCode::OK,
        &PostForm {
            action,
            field,
            value,
            relay_state,
        },
    )
}
