//! The SP's own keys: signing (AuthnRequests, logout messages, metadata) and encryption
//! (assertions encrypted to us), per tenant or for the whole deployment. Private keys are
//! kept sealed in the database under the master key; a key is unsealed once per process
//! and cached by its row id. A missing current key is generated on first use (with a
//! unique index, so two instances racing end up with one key). Rollover: a next key is
//! published in metadata (and tried for decryption) before it is activated.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use chrono::{DateTime, Duration, Utc};

use crate::directory::Tenant;
use crate::saml::keys::{MASTER_KEY_LEN, SpKeyPair};
use crate::saml::{DecryptionKey, SigningKey, SpSettings, TrustedCertificate};
use crate::store::{Actor, Db, KeyPurpose, SpKeyRow, StoreError};

/// Keys per tenant (default) or one set for every tenant.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeyScope {
    PerTenant,
    Deployment,
}

impl KeyScope {
    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "tenant" | "per-tenant" => Some(KeyScope::PerTenant),
            "deployment" => Some(KeyScope::Deployment),
            _ => None,
        }
    }
}

/// The master key: redacted in `Debug`, never logged.
#[derive(Clone)]
pub struct MasterKey([u8; MASTER_KEY_LEN]);

impl MasterKey {
    pub fn new(bytes: [u8; MASTER_KEY_LEN]) -> Self {
        MasterKey(bytes)
    }

    /// A random key (tests, in-memory databases).
    pub fn random() -> Result<Self, String> {
        let mut b = [0u8; MASTER_KEY_LEN];
        openssl::rand::rand_bytes(&mut b).map_err(|e| e.to_string())?;
        Ok(MasterKey(b))
    }

    pub fn expose(&self) -> &[u8; MASTER_KEY_LEN] {
        &self.0
    }
}

impl std::fmt::Debug for MasterKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("MasterKey(***)")
    }
}

/// An unsealed key, ready to sign or decrypt (built once per process).
#[derive(Debug)]
pub struct LiveKey {
    pub pair: SpKeyPair,
    pub certificate: TrustedCertificate,
    pub signing: SigningKey,
    pub decryption: DecryptionKey,
}

/// The live keys of one scope: current first, then next.
#[derive(Debug, Clone, Default)]
pub struct SpKeys {
    pub signing: Vec<Arc<LiveKey>>,
    pub encryption: Vec<Arc<LiveKey>>,
}

impl SpKeys {
    /// The key that signs now.
    pub fn signing_now(&self) -> Option<&SigningKey> {
        self.signing.first().map(|k| &k.signing)
    }

    pub fn certificates(list: &[Arc<LiveKey>]) -> Vec<TrustedCertificate> {
        list.iter().map(|k| k.certificate.clone()).collect()
    }
}

/// Why keys are not available.
#[derive(Debug, thiserror::Error)]
pub enum KeyError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("SP key: {0}")]
    Key(String),
}

#[derive(Debug)]
pub struct Keyring {
    master: MasterKey,
    scope: KeyScope,
    /// RSA size of generated keys (3072; tests use 2048).
    bits: u32,
    cache: Mutex<HashMap<i64, Arc<LiveKey>>>,
    /// Held while a missing key is generated: the first requests to a new tenant arrive
    /// together, and each would otherwise generate (seconds of CPU per RSA key) a key
    /// that all but one then throw away.
    generating: tokio::sync::Mutex<()>,
}

/// How long a generated SP certificate is valid.
pub const KEY_VALIDITY_DAYS: i64 = 5 * 365;

impl Keyring {
    pub fn new(master: MasterKey, scope: KeyScope, bits: u32) -> Self {
        Keyring {
            master,
            scope,
            bits,
            cache: Mutex::new(HashMap::new()),
            generating: tokio::sync::Mutex::new(()),
        }
    }

    pub fn scope_of(&self, tenant_id: i64) -> Option<i64> {
        match self.scope {
            KeyScope::PerTenant => Some(tenant_id),
            KeyScope::Deployment => None,
        }
    }

    fn context(scope: Option<i64>, purpose: KeyPurpose) -> String {
        match scope {
            Some(t) => format!("tenant:{t}:{}", purpose.as_str()),
            None => format!("deployment:{}", purpose.as_str()),
        }
    }

    fn unseal(&self, r: &SpKeyRow) -> Result<Arc<LiveKey>, KeyError> {
        if let Ok(cache) = self.cache.lock()
            && let Some(k) = cache.get(&r.id)
        {
            return Ok(k.clone());
        }
        let k = SpKeyPair::unseal(
            &r.sealed_key,
            r.certificate_pem.as_bytes(),
            self.master.expose(),
            &Self::context(r.tenant_id, r.purpose),
        )
        .map_err(|e| KeyError::Key(format!("key {}: {e} ({})", r.id, e.code())))?;
        let bad = |e: crate::saml::SamlError| KeyError::Key(format!("key {}: {e}", r.id));
        let k = Arc::new(LiveKey {
            certificate: k.trusted_certificate().map_err(bad)?,
            signing: k.signing_key().map_err(bad)?,
            decryption: k.decryption_key().map_err(bad)?,
            pair: k,
        });
        if let Ok(mut cache) = self.cache.lock() {
            cache.insert(r.id, k.clone());
        }
        Ok(k)
    }

    /// Generate a key pair and store it as `state` ("current" or "next").
    pub async fn generate(
        &self,
        db: &Db,
        scope: Option<i64>,
        purpose: KeyPurpose,
        state: &str,
        actor: &Actor,
        now: DateTime<Utc>,
    ) -> Result<i64, KeyError> {
        let cn = match scope {
            Some(t) => format!("sso-gateway tenant {t} {}", purpose.as_str()),
            None => format!("sso-gateway {}", purpose.as_str()),
        };
        let bits = self.bits;
        let kp = tokio::task::spawn_blocking(move || {
            SpKeyPair::generate(&cn, now, Duration::days(KEY_VALIDITY_DAYS), bits)
        })
        .await
        .map_err(|e| KeyError::Key(e.to_string()))?
        .map_err(|e| KeyError::Key(e.to_string()))?;
        let sealed = kp
            .seal(self.master.expose(), &Self::context(scope, purpose))
            .map_err(|e| KeyError::Key(e.to_string()))?;
        let cert = kp
            .certificate_pem()
            .map_err(|e| KeyError::Key(e.to_string()))?;
        Ok(db
            .add_sp_key(
                scope,
                purpose,
                state,
                &cert,
                &sealed,
                kp.fingerprint(),
                actor,
                now,
            )
            .await?)
    }

    /// The live keys for a tenant, generating a missing current key of either purpose.
    pub async fn keys(
        &self,
        db: &Db,
        tenant_id: i64,
        now: DateTime<Utc>,
    ) -> Result<SpKeys, KeyError> {
        let scope = self.scope_of(tenant_id);
        let mut rows = db.sp_keys(scope).await?;
        let missing = |rows: &[SpKeyRow]| {
            [KeyPurpose::Signing, KeyPurpose::Encryption]
                .iter()
                .any(|p| !rows.iter().any(|r| r.purpose == *p && r.state == "current"))
        };
        // One generator at a time; whoever waited reads what the first one stored.
        let _generating = if missing(&rows) {
            let guard = self.generating.lock().await;
            rows = db.sp_keys(scope).await?;
            Some(guard)
        } else {
            None
        };
        let mut generated = false;
        for purpose in [KeyPurpose::Signing, KeyPurpose::Encryption] {
            if !rows
                .iter()
                .any(|r| r.purpose == purpose && r.state == "current")
            {
                match self
                    .generate(db, scope, purpose, "current", &Actor::system(), now)
                    .await
                {
                    // Another instance (or request) created it meanwhile: use theirs.
                    Ok(_) | Err(KeyError::Store(StoreError::Conflict(_))) => generated = true,
                    Err(e) => return Err(e),
                }
            }
        }
        if generated {
            rows = db.sp_keys(scope).await?;
        }
        let mut keys = SpKeys::default();
        for state in ["current", "next"] {
            for r in rows.iter().filter(|r| r.state == state) {
                let k = self.unseal(r)?;
                match r.purpose {
                    KeyPurpose::Signing => keys.signing.push(k),
                    KeyPurpose::Encryption => keys.encryption.push(k),
                }
            }
        }
        Ok(keys)
    }

    /// Readiness: the master key opens the newest stored current key (cached after the
    /// first time), or, with no key stored yet, seals and opens a probe.
    pub async fn check(&self, db: &Db) -> Result<&'static str, KeyError> {
        match db.any_current_sp_key().await? {
            Some(r) => {
                self.unseal(&r)?;
                Ok("the master key opens the stored SP keys")
            }
            None => {
                let probe = "readiness probe";
                let sealed =
                    crate::saml::keys::seal_private_key(probe, self.master.expose(), "readyz")
                        .map_err(|e| KeyError::Key(e.to_string()))?;
                let opened =
                    crate::saml::keys::unseal_private_key(&sealed, self.master.expose(), "readyz")
                        .map_err(|e| KeyError::Key(e.to_string()))?;
                if opened == probe {
                    Ok("no SP key stored yet (generated on first use); the master key works")
                } else {
                    Err(KeyError::Key("the master key does not round-trip".into()))
                }
            }
        }
    }

    /// The verifier's settings for a tenant, with the decryption keys (current, then next).
    pub async fn sp_settings(
        &self,
        db: &Db,
        tenant: &Tenant,
        public_url: &str,
        now: DateTime<Utc>,
    ) -> Result<SpSettings, KeyError> {
        let sp = tenant.sp_settings(public_url);
        self.with_decryption_keys(db, tenant.id, sp, now).await
    }

    /// The verifier's settings for this response: without decryption keys (no key read)
    /// when the response cannot hold an encrypted assertion
    /// ([`crate::saml::may_need_decryption`]).
    pub async fn sp_settings_for(
        &self,
        db: &Db,
        tenant: &Tenant,
        public_url: &str,
        response: &[u8],
        now: DateTime<Utc>,
    ) -> Result<SpSettings, KeyError> {
        let sp = tenant.sp_settings(public_url);
        if crate::saml::may_need_decryption(response, sp.limits.max_bytes) {
            self.with_decryption_keys(db, tenant.id, sp, now).await
        } else {
            Ok(sp)
        }
    }

    async fn with_decryption_keys(
        &self,
        db: &Db,
        tenant_id: i64,
        mut sp: SpSettings,
        now: DateTime<Utc>,
    ) -> Result<SpSettings, KeyError> {
        let keys = self.keys(db, tenant_id, now).await?;
        for k in &keys.encryption {
            sp.decryption_keys.push(k.decryption.clone());
        }
        Ok(sp)
    }
}
