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

/// What a login will write, decided from the verified assertion and the user as read
/// now; [`crate::store::Db::complete_login`] writes it in one transaction (and checks
/// again, inside it, that the user is still active).
#[derive(Debug)]
pub enum LoginPlan {
    /// A new session.
    Session(Box<PlannedSession>),
    Refused(Refusal),
}

/// The session a login will create.
#[derive(Debug)]
pub struct PlannedSession {
    /// The raw session id (the cookie value).
    pub session_id: String,
    /// Its hash (what is stored).
    pub id_hash: String,
    pub row: SessionRow,
    pub user: User,
    pub expires_at: i64,
}

/// Resolve the Federation ID within the tenant, admit the user, and plan a session
/// with a fresh id (a new id at every login defeats session fixation). Reads only.
pub async fn plan_login(
    db: &Db,
    tenant: &Tenant,
    assertion: &VerifiedAssertion,
    now: DateTime<Utc>,
) -> Result<LoginPlan, StoreError> {
    let Some(fid) = tenant.federation_source.federation_id(assertion) else {
        return Ok(LoginPlan::Refused(Refusal::NoFederationId));
    };
    let user = db.user_by_federation_id(tenant.id, fid).await?;
    if let Err(r) = directory::admit(tenant, fid, user.as_ref()) {
        return Ok(LoginPlan::Refused(r));
    }
    let Some(user) = user else {
        return Ok(LoginPlan::Refused(Refusal::UnknownUser(fid.to_string())));
    };
    let mut expires_at = now.timestamp() + ABSOLUTE_TIMEOUT_SECONDS;
    if let Some(t) = assertion.session_not_on_or_after() {
        expires_at = expires_at.min(t.timestamp());
    }
    let session_id = crate::store::random_token(32)?;
    Ok(LoginPlan::Session(Box::new(PlannedSession {
        id_hash: crate::store::token_hash(&session_id),
        session_id,
        row: SessionRow {
            tenant_id: tenant.id,
            user_id: user.id,
            name_id: assertion.name_id().to_string(),
            session_index: assertion.session_index().map(str::to_string),
            created_at: now.timestamp(),
            absolute_expiry_at: expires_at,
        },
        user,
        expires_at,
    })))
}
