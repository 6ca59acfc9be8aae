//! Turning a verified assertion into an app session, and app tokens.

pub mod password;
pub mod token;

use chrono::{DateTime, Utc};

use crate::directory::{self, Refusal, Tenant, User};
use crate::saml::VerifiedAssertion;
use crate::store::{Db, SessionRow, StoreError};

/// Sessions end after this long without use.
pub const IDLE_TIMEOUT_SECONDS: i64 = 30 * 60;
/// Sessions never last longer than this (nor past the IdP's SessionNotOnOrAfter).
pub const ABSOLUTE_TIMEOUT_SECONDS: i64 = 8 * 60 * 60;
/// App tokens are valid this long, once.
pub const APP_TOKEN_SECONDS: i64 = 60;

/// The outcome of a login attempt with a verified assertion.
#[derive(Debug)]
pub enum LoginOutcome {
    /// A new session: the raw session id (for the cookie) and the user.
    Session {
        session_id: String,
        user: User,
        expires_at: i64,
    },
    Refused(Refusal),
}

/// Resolve the Federation ID within the tenant, admit the user, and mint a session
/// with a fresh id (a new id at every login defeats session fixation).
pub async fn login(
    db: &Db,
    tenant: &Tenant,
    assertion: &VerifiedAssertion,
    now: DateTime<Utc>,
) -> Result<LoginOutcome, StoreError> {
    let Some(fid) = tenant.federation_source.federation_id(assertion) else {
        return Ok(LoginOutcome::Refused(Refusal::NoFederationId));
    };
    let user = db.user_by_federation_id(tenant.id, fid).await?;
    if let Err(r) = directory::admit(tenant, fid, user.as_ref()) {
        return Ok(LoginOutcome::Refused(r));
    }
    let Some(user) = user else {
        return Ok(LoginOutcome::Refused(Refusal::UnknownUser(fid.to_string())));
    };
    let mut expires_at = now.timestamp() + ABSOLUTE_TIMEOUT_SECONDS;
    if let Some(t) = assertion.session_not_on_or_after() {
        expires_at = expires_at.min(t.timestamp());
    }
    let session_id = crate::store::random_token(32)?;
    db.create_session(
        &crate::store::token_hash(&session_id),
        &SessionRow {
            tenant_id: tenant.id,
            user_id: user.id,
            name_id: assertion.name_id().to_string(),
            session_index: assertion.session_index().map(str::to_string),
            created_at: now.timestamp(),
            absolute_expiry_at: expires_at,
        },
        now,
    )
    .await?;
    db.touch_last_login(user.id, now).await?;
    Ok(LoginOutcome::Session {
        session_id,
        user,
        expires_at,
    })
}
