//! The tenant's trust in its IdP: an entity ID and the signing certificates configured
//! for it. Signatures are checked only against these keys, never against a key or
//! certificate carried inside the message.

use std::sync::{Arc, Mutex};

use base64::Engine as _;
use openssl::hash::MessageDigest;
use openssl::pkey::{Id, PKey, Public};
use openssl::pkey_ctx::PkeyCtx;
use openssl::rsa::Padding;
use openssl::x509::X509;

use super::algorithms::Digest;
use super::error::SamlError;

/// Most verification contexts kept per certificate (about one per worker thread).
const POOLED_CONTEXTS: usize = 16;

/// Ready RSA verification contexts of one key (padding and digest set), so that a
/// verification is one `EVP_PKEY_verify` and not a provider lookup and context set-up
/// each time (issue 9: that set-up cost about a quarter of an RSA-2048 verify).
#[derive(Default)]
struct VerifierPool {
    contexts: Mutex<Vec<(Digest, PkeyCtx<Public>)>>,
}

impl VerifierPool {
    fn take(&self, digest: Digest) -> Option<PkeyCtx<Public>> {
        let mut pool = self.contexts.lock().ok()?;
        let at = pool.iter().position(|(d, _)| *d == digest)?;
        Some(pool.swap_remove(at).1)
    }

    fn give_back(&self, digest: Digest, ctx: PkeyCtx<Public>) {
        if let Ok(mut pool) = self.contexts.lock()
            && pool.len() < POOLED_CONTEXTS
        {
            pool.push((digest, ctx));
        }
    }
}

/// Minimum RSA modulus size accepted for an IdP signing key.
pub const MIN_RSA_BITS: u32 = 2048;

/// One trusted IdP signing certificate and its public key.
#[derive(Clone)]
pub struct TrustedCertificate {
    key: PKey<Public>,
    verifiers: Arc<VerifierPool>,
    der_base64: String,
    fingerprint: String,
    subject: String,
    not_after: String,
    not_after_unix: i64,
    key_description: String,
    signature_algorithm: String,
}

impl std::fmt::Debug for TrustedCertificate {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TrustedCertificate")
            .field("subject", &self.subject)
            .field("sha256", &self.fingerprint)
            .finish()
    }
}

impl TrustedCertificate {
    /// From a parsed X.509 certificate. Refuses RSA keys under 2048 bits and key types
    /// other than RSA and EC. Validity dates are not enforced (IdP metadata keys are
    /// trusted as keys, as Shibboleth and Okta do); they are reported.
    pub fn from_x509(cert: &X509) -> Result<Self, SamlError> {
        let key = cert
            .public_key()
            .map_err(|e| SamlError::CertificateInvalid(format!("no public key: {e}")))?;
        match key.id() {
            Id::RSA => {
                if key.bits() < MIN_RSA_BITS {
                    return Err(SamlError::CertificateInvalid(format!(
                        "RSA key of {} bits; at least {MIN_RSA_BITS} required",
                        key.bits()
                    )));
                }
            }
            Id::EC => {}
            other => {
                return Err(SamlError::CertificateInvalid(format!(
                    "unsupported key type {other:?}"
                )));
            }
        }
        let digest = cert
            .digest(MessageDigest::sha256())
            .map_err(|e| SamlError::CertificateInvalid(e.to_string()))?;
        let fingerprint = digest
            .iter()
            .map(|b| format!("{b:02X}"))
            .collect::<Vec<_>>()
            .join(":");
        let subject = cert
            .subject_name()
            .entries()
            .filter_map(|e| {
                let k = e.object().nid().short_name().ok()?;
                let v = e.data().to_string().ok()?;
                Some(format!("{k}={v}"))
            })
            .collect::<Vec<_>>()
            .join(", ");
        let der = cert
            .to_der()
            .map_err(|e| SamlError::CertificateInvalid(e.to_string()))?;
        // Expiry as a Unix time, computed against the epoch (no clock is read here).
        let not_after_unix = openssl::asn1::Asn1Time::from_unix(0)
            .and_then(|epoch| epoch.diff(cert.not_after()))
            .map(|d| i64::from(d.days) * 86_400 + i64::from(d.secs))
            .unwrap_or(0);
        let key_description = match key.id() {
            Id::EC => {
                let curve = key
                    .ec_key()
                    .ok()
                    .and_then(|k| k.group().curve_name())
                    .and_then(|n| n.short_name().ok().map(str::to_string))
                    .unwrap_or_else(|| "unknown curve".into());
                format!("EC {curve}")
            }
            _ => format!("RSA {}", key.bits()),
        };
        let signature_algorithm = cert
            .signature_algorithm()
            .object()
            .nid()
            .long_name()
            .unwrap_or("unknown")
            .to_string();
        Ok(TrustedCertificate {
            key,
            verifiers: Arc::default(),
            not_after_unix,
            key_description,
            signature_algorithm,
            der_base64: base64::engine::general_purpose::STANDARD.encode(der),
            fingerprint,
            subject,
            not_after: cert.not_after().to_string(),
        })
    }

    /// From base64 DER (as in metadata `X509Certificate`), whitespace allowed.
    pub fn from_base64_der(b64: &str) -> Result<Self, SamlError> {
        let clean: String = b64.chars().filter(|c| !c.is_ascii_whitespace()).collect();
        let der = base64::engine::general_purpose::STANDARD
            .decode(clean.as_bytes())
            .map_err(|e| {
                SamlError::CertificateInvalid(format!("certificate is not base64: {e}"))
            })?;
        let cert = X509::from_der(&der)
            .map_err(|e| SamlError::CertificateInvalid(format!("not an X.509 certificate: {e}")))?;
        Self::from_x509(&cert)
    }

    /// From PEM text.
    pub fn from_pem(pem: &[u8]) -> Result<Self, SamlError> {
        let cert = X509::from_pem(pem)
            .map_err(|e| SamlError::CertificateInvalid(format!("not a PEM certificate: {e}")))?;
        Self::from_x509(&cert)
    }

    /// The certificate, base64 DER (as in metadata).
    pub fn der_base64(&self) -> &str {
        &self.der_base64
    }

    pub fn public_key(&self) -> &PKey<Public> {
        &self.key
    }

    /// True when `signature` is a valid RSA PKCS#1 v1.5 signature of the message whose
    /// `digest` hash is `hashed`, under this (RSA) key.
    pub(super) fn verify_rsa_prehashed(
        &self,
        digest: Digest,
        hashed: &[u8],
        signature: &[u8],
    ) -> bool {
        let ctx = match self.verifiers.take(digest) {
            Some(ctx) => Ok(ctx),
            None => PkeyCtx::new(&self.key).and_then(|mut ctx| {
                ctx.verify_init()?;
                ctx.set_rsa_padding(Padding::PKCS1)?;
                ctx.set_signature_md(digest.md())?;
                Ok(ctx)
            }),
        };
        let Ok(mut ctx) = ctx else {
            return false;
        };
        let valid = ctx.verify(hashed, signature).unwrap_or(false);
        // A context is reused only after a success (an error may leave it in a state
        // not worth reasoning about).
        if valid {
            self.verifiers.give_back(digest, ctx);
        }
        valid
    }

    /// SHA-256 fingerprint of the DER certificate, colon-separated hex.
    pub fn fingerprint(&self) -> &str {
        &self.fingerprint
    }

    pub fn subject(&self) -> &str {
        &self.subject
    }

    pub fn not_after(&self) -> &str {
        &self.not_after
    }

    /// Expiry as a Unix time.
    pub fn not_after_unix(&self) -> i64 {
        self.not_after_unix
    }

    /// "RSA 2048" or "EC prime256v1".
    pub fn key_description(&self) -> &str {
        &self.key_description
    }

    /// The algorithm the certificate itself is signed with (e.g. sha256WithRSAEncryption).
    pub fn signature_algorithm(&self) -> &str {
        &self.signature_algorithm
    }
}

/// What a tenant trusts about its IdP.
#[derive(Debug, Clone)]
pub struct IdpTrust {
    entity_id: String,
    certificates: Vec<TrustedCertificate>,
}

impl IdpTrust {
    /// Trust `entity_id` signing with any of `certificates` (current and next, during a
    /// rollover). An empty list is refused: there is no way to skip signature checks.
    pub fn new(
        entity_id: impl Into<String>,
        certificates: Vec<TrustedCertificate>,
    ) -> Result<Self, SamlError> {
        let entity_id = entity_id.into();
        if entity_id.trim().is_empty() {
            return Err(SamlError::MetadataInvalid("empty IdP entity ID".into()));
        }
        if certificates.is_empty() {
            return Err(SamlError::NoTrustedCertificate);
        }
        Ok(IdpTrust {
            entity_id,
            certificates,
        })
    }

    pub fn entity_id(&self) -> &str {
        &self.entity_id
    }

    pub fn certificates(&self) -> &[TrustedCertificate] {
        &self.certificates
    }
}
