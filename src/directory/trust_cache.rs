//! The IdP trust of each tenant, built once and reused while the tenant's IdP entity ID
//! and certificates are unchanged.
//!
//! Building an [`IdpTrust`] parses every trusted certificate (X.509 DER, the public key)
//! and starts an empty pool of verification contexts: on the ACS this cost more than the
//! verification itself, and a trust rebuilt per request never reuses a pooled context.
//! The tenant row is still read on every request, and an entry is used only when the
//! entity ID and the certificate list read now are equal to the ones it was built from:
//! a rotation (on this instance or any other) takes effect at the next request, exactly
//! as without the cache.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use super::Tenant;
use crate::saml::{IdpTrust, SamlError};

/// At most this many tenants are kept; beyond it the cache starts over.
const MAX_TENANTS: usize = 4096;

struct Entry {
    entity_id: String,
    certificates: Vec<String>,
    trust: Arc<IdpTrust>,
}

#[derive(Default)]
pub struct TrustCache {
    entries: Mutex<HashMap<i64, Entry>>,
}

impl std::fmt::Debug for TrustCache {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let n = self.entries.lock().map(|m| m.len()).unwrap_or(0);
        f.debug_struct("TrustCache").field("tenants", &n).finish()
    }
}

impl TrustCache {
    /// The tenant's trust, equal to `tenant.idp_trust()`.
    pub fn trust(&self, tenant: &Tenant) -> Result<Arc<IdpTrust>, SamlError> {
        if let Ok(m) = self.entries.lock()
            && let Some(e) = m.get(&tenant.id)
            && e.entity_id == tenant.idp_entity_id
            && e.certificates == tenant.certificates
        {
            return Ok(e.trust.clone());
        }
        let trust = Arc::new(tenant.idp_trust()?);
        if let Ok(mut m) = self.entries.lock() {
            if m.len() >= MAX_TENANTS && !m.contains_key(&tenant.id) {
                m.clear();
            }
            m.insert(
                tenant.id,
                Entry {
                    entity_id: tenant.idp_entity_id.clone(),
                    certificates: tenant.certificates.clone(),
                    trust: trust.clone(),
                },
            );
        }
        Ok(trust)
    }
}
