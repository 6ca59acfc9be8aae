//! SP key pairs (the pure part of issue 7's key management): an RSA private key with its
//! self-signed certificate, generated with `now` and the validity as inputs, PEM in and
//! out, and sealing of the private key PEM at rest under a 32-byte master key.
//!
//! One type serves both SP roles: a signing key pair (AuthnRequests, LogoutRequests,
//! metadata) and an encryption key pair (the IdP encrypts assertions to its
//! certificate). Whether a deployment uses one pair for both or one per tenant is the
//! caller's choice.
//!
//! Sealed format, version 1: `v1:` + base64(nonce[12] || ciphertext || tag[16]), AES-256-GCM
//! with a random nonce and the associated data `sso-gateway sealed key v1` + NUL +
//! `context`, so a sealed value moved to another row (another tenant or purpose) does not
//! open. The PEM itself is the plaintext.

use base64::Engine as _;
use chrono::{DateTime, Duration, Utc};
use openssl::asn1::{Asn1Integer, Asn1Time};
use openssl::bn::{BigNum, MsbOption};
use openssl::hash::MessageDigest;
use openssl::pkey::{Id, PKey, Private};
use openssl::rsa::Rsa;
use openssl::x509::extension::{BasicConstraints, KeyUsage, SubjectKeyIdentifier};
use openssl::x509::{X509, X509NameBuilder};

use super::error::SamlError;
use super::sign::SigningKey;
use super::trust::TrustedCertificate;
use super::xmlenc::{DecryptionKey, MIN_RSA_BITS};

/// Default RSA modulus size of generated SP keys.
pub const DEFAULT_RSA_BITS: u32 = 3072;
/// Largest RSA modulus accepted when generating.
pub const MAX_RSA_BITS: u32 = 8192;
/// The version prefix of sealed private keys.
pub const SEALED_V1: &str = "v1:";
/// The length of a master key.
pub const MASTER_KEY_LEN: usize = 32;

const SEAL_AAD: &[u8] = b"sso-gateway sealed key v1\0";
const NONCE: usize = 12;
const TAG: usize = 16;

fn invalid(msg: impl Into<String>) -> SamlError {
    SamlError::SpKeyInvalid(msg.into())
}

/// An SP key pair: RSA private key and self-signed certificate.
#[derive(Clone)]
pub struct SpKeyPair {
    key: PKey<Private>,
    cert: X509,
    fingerprint: String,
}

impl std::fmt::Debug for SpKeyPair {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SpKeyPair")
            .field("bits", &self.key.bits())
            .field("certificate_sha256", &self.fingerprint)
            .field("not_after", &self.cert.not_after().to_string())
            .field("private_key", &"<redacted>")
            .finish()
    }
}

fn asn1_time(t: DateTime<Utc>) -> Result<Asn1Time, SamlError> {
    Asn1Time::from_unix(t.timestamp()).map_err(|e| invalid(format!("time {t}: {e}")))
}

fn unix_of(t: &openssl::asn1::Asn1TimeRef) -> i64 {
    Asn1Time::from_unix(0)
        .and_then(|epoch| epoch.diff(t))
        .map(|d| i64::from(d.days) * 86_400 + i64::from(d.secs))
        .unwrap_or(0)
}

impl SpKeyPair {
    /// Generate an RSA key of `bits` (2048..=8192) and a self-signed X.509 v3 certificate
    /// `CN=common_name`, valid from `now` for `validity`, random 128-bit serial,
    /// SHA-256 signature, key usage digitalSignature + keyEncipherment (Okta requires
    /// Key Encipherment on an encryption certificate), not a CA.
    pub fn generate(
        common_name: &str,
        now: DateTime<Utc>,
        validity: Duration,
        bits: u32,
    ) -> Result<Self, SamlError> {
        if !(MIN_RSA_BITS..=MAX_RSA_BITS).contains(&bits) {
            return Err(invalid(format!(
                "RSA size {bits}; {MIN_RSA_BITS}..={MAX_RSA_BITS} bits"
            )));
        }
        if validity <= Duration::zero() {
            return Err(invalid("the validity must be positive"));
        }
        if common_name.trim().is_empty() {
            return Err(invalid("the common name must not be empty"));
        }
        let not_after = now
            .checked_add_signed(validity)
            .ok_or_else(|| invalid("validity out of range"))?;
        let fail = |e: openssl::error::ErrorStack| invalid(format!("generate: {e}"));
        let rsa = Rsa::generate(bits).map_err(fail)?;
        let key = PKey::from_rsa(rsa).map_err(fail)?;

        let mut name = X509NameBuilder::new().map_err(fail)?;
        name.append_entry_by_text("CN", common_name).map_err(fail)?;
        let name = name.build();
        let mut serial = BigNum::new().map_err(fail)?;
        serial
            .rand(128, MsbOption::MAYBE_ZERO, false)
            .map_err(fail)?;
        let serial = Asn1Integer::from_bn(&serial).map_err(fail)?;

        let mut b = X509::builder().map_err(fail)?;
        b.set_version(2).map_err(fail)?;
        b.set_serial_number(&serial).map_err(fail)?;
        b.set_subject_name(&name).map_err(fail)?;
        b.set_issuer_name(&name).map_err(fail)?;
        b.set_pubkey(&key).map_err(fail)?;
        let (start, end) = (asn1_time(now)?, asn1_time(not_after)?);
        b.set_not_before(&start).map_err(fail)?;
        b.set_not_after(&end).map_err(fail)?;
        b.append_extension(BasicConstraints::new().critical().build().map_err(fail)?)
            .map_err(fail)?;
        b.append_extension(
            KeyUsage::new()
                .critical()
                .digital_signature()
                .key_encipherment()
                .build()
                .map_err(fail)?,
        )
        .map_err(fail)?;
        let ski = SubjectKeyIdentifier::new()
            .build(&b.x509v3_context(None, None))
            .map_err(fail)?;
        b.append_extension(ski).map_err(fail)?;
        b.sign(&key, MessageDigest::sha256()).map_err(fail)?;
        Self::from_parts(key, b.build())
    }

    /// From a PEM private key (PKCS#8 or traditional RSA) and the PEM certificate of its
    /// public key. Refuses a mismatched pair and anything but RSA of 2048 bits or more.
    pub fn from_pem(key_pem: &[u8], cert_pem: &[u8]) -> Result<Self, SamlError> {
        let key = PKey::private_key_from_pem(key_pem)
            .map_err(|e| invalid(format!("not a PEM private key: {e}")))?;
        let cert =
            X509::from_pem(cert_pem).map_err(|e| invalid(format!("not a PEM certificate: {e}")))?;
        Self::from_parts(key, cert)
    }

    fn from_parts(key: PKey<Private>, cert: X509) -> Result<Self, SamlError> {
        if key.id() != Id::RSA {
            return Err(invalid(format!("SP keys are RSA, not {:?}", key.id())));
        }
        if key.bits() < MIN_RSA_BITS {
            return Err(invalid(format!(
                "RSA key of {} bits; at least {MIN_RSA_BITS} required",
                key.bits()
            )));
        }
        let public = cert
            .public_key()
            .map_err(|e| invalid(format!("certificate without public key: {e}")))?;
        if !public.public_eq(&key) {
            return Err(invalid("the certificate is not for this private key"));
        }
        let digest = cert
            .digest(MessageDigest::sha256())
            .map_err(|e| invalid(format!("certificate digest: {e}")))?;
        let fingerprint = digest
            .iter()
            .map(|b| format!("{b:02X}"))
            .collect::<Vec<_>>()
            .join(":");
        Ok(SpKeyPair {
            key,
            cert,
            fingerprint,
        })
    }

    /// The private key as PKCS#8 PEM. Handle with care: seal it before storing.
    pub fn private_key_pem(&self) -> Result<String, SamlError> {
        let pem = self
            .key
            .private_key_to_pem_pkcs8()
            .map_err(|e| invalid(format!("PEM: {e}")))?;
        String::from_utf8(pem).map_err(|_| invalid("PEM is not UTF-8"))
    }

    /// The certificate as PEM.
    pub fn certificate_pem(&self) -> Result<String, SamlError> {
        let pem = self
            .cert
            .to_pem()
            .map_err(|e| invalid(format!("PEM: {e}")))?;
        String::from_utf8(pem).map_err(|_| invalid("PEM is not UTF-8"))
    }

    /// The certificate as base64 DER on one line (metadata `X509Certificate`).
    pub fn certificate_base64(&self) -> Result<String, SamlError> {
        let der = self
            .cert
            .to_der()
            .map_err(|e| invalid(format!("DER: {e}")))?;
        Ok(base64::engine::general_purpose::STANDARD.encode(der))
    }

    pub fn certificate(&self) -> &X509 {
        &self.cert
    }

    /// SHA-256 fingerprint of the certificate (DER), colon-separated hex.
    pub fn fingerprint(&self) -> &str {
        &self.fingerprint
    }

    pub fn bits(&self) -> u32 {
        self.key.bits()
    }

    /// notBefore as a Unix time.
    pub fn not_before_unix(&self) -> i64 {
        unix_of(self.cert.not_before())
    }

    /// notAfter as a Unix time.
    pub fn not_after_unix(&self) -> i64 {
        unix_of(self.cert.not_after())
    }

    /// The certificate as a [`TrustedCertificate`] (for metadata KeyDescriptors, and for
    /// checking our own signatures in tests).
    pub fn trusted_certificate(&self) -> Result<TrustedCertificate, SamlError> {
        TrustedCertificate::from_x509(&self.cert)
    }

    /// The private key as a decryption key (for `SpSettings::decryption_keys`).
    pub fn decryption_key(&self) -> Result<DecryptionKey, SamlError> {
        DecryptionKey::from_private_key(self.key.clone())
    }

    /// The pair as a signing key (AuthnRequests, LogoutRequests, metadata).
    pub fn signing_key(&self) -> Result<SigningKey, SamlError> {
        let key = self
            .key
            .private_key_to_pem_pkcs8()
            .map_err(|e| invalid(format!("PEM: {e}")))?;
        let cert = self
            .cert
            .to_pem()
            .map_err(|e| invalid(format!("PEM: {e}")))?;
        SigningKey::from_pem(&key, &cert)
    }

    /// Seal the private key under `master_key` (see [`seal_private_key`]).
    pub fn seal(
        &self,
        master_key: &[u8; MASTER_KEY_LEN],
        context: &str,
    ) -> Result<String, SamlError> {
        seal_private_key(&self.private_key_pem()?, master_key, context)
    }

    /// Rebuild a pair from its sealed private key and its certificate PEM.
    pub fn unseal(
        sealed: &str,
        cert_pem: &[u8],
        master_key: &[u8; MASTER_KEY_LEN],
        context: &str,
    ) -> Result<Self, SamlError> {
        let pem = unseal_private_key(sealed, master_key, context)?;
        Self::from_pem(pem.as_bytes(), cert_pem)
    }
}

fn aad(context: &str) -> Vec<u8> {
    let mut a = SEAL_AAD.to_vec();
    a.extend_from_slice(context.as_bytes());
    a
}

/// Seal a private key PEM at rest: AES-256-GCM under `master_key` with a random nonce,
/// bound to `context` (e.g. `tenant:42:encryption`; use a stable identifier, or "").
/// Returns `v1:` + base64(nonce || ciphertext || tag).
pub fn seal_private_key(
    pem: &str,
    master_key: &[u8; MASTER_KEY_LEN],
    context: &str,
) -> Result<String, SamlError> {
    let mut nonce = [0u8; NONCE];
    openssl::rand::rand_bytes(&mut nonce).map_err(|e| invalid(format!("random: {e}")))?;
    let mut tag = [0u8; TAG];
    let ct = openssl::symm::encrypt_aead(
        openssl::symm::Cipher::aes_256_gcm(),
        master_key,
        Some(&nonce),
        &aad(context),
        pem.as_bytes(),
        &mut tag,
    )
    .map_err(|e| invalid(format!("seal: {e}")))?;
    let mut all = nonce.to_vec();
    all.extend_from_slice(&ct);
    all.extend_from_slice(&tag);
    Ok(format!(
        "{SEALED_V1}{}",
        base64::engine::general_purpose::STANDARD.encode(all)
    ))
}

/// Open a value made by [`seal_private_key`]. A wrong master key, a wrong context and an
/// altered value all give `sealed_key_wrong_master_key`; an unknown version or bad
/// encoding gives `sealed_key_malformed`.
pub fn unseal_private_key(
    sealed: &str,
    master_key: &[u8; MASTER_KEY_LEN],
    context: &str,
) -> Result<String, SamlError> {
    let body = match sealed.trim().split_once(':') {
        Some(("v1", body)) => body,
        Some((v, _)) => {
            return Err(SamlError::SealedKeyMalformed(format!(
                "unknown version '{v}' (this build reads v1)"
            )));
        }
        None => {
            return Err(SamlError::SealedKeyMalformed(
                "no version prefix (expected 'v1:')".into(),
            ));
        }
    };
    let raw = base64::engine::general_purpose::STANDARD
        .decode(body.as_bytes())
        .map_err(|e| SamlError::SealedKeyMalformed(format!("not base64: {e}")))?;
    if raw.len() < NONCE + TAG + 1 {
        return Err(SamlError::SealedKeyMalformed(format!(
            "{} bytes is too short",
            raw.len()
        )));
    }
    let (nonce, rest) = raw
        .split_at_checked(NONCE)
        .ok_or_else(|| SamlError::SealedKeyMalformed("too short".into()))?;
    let (ct, tag) = rest
        .split_at_checked(rest.len() - TAG)
        .ok_or_else(|| SamlError::SealedKeyMalformed("too short".into()))?;
    let pem = openssl::symm::decrypt_aead(
        openssl::symm::Cipher::aes_256_gcm(),
        master_key,
        Some(nonce),
        &aad(context),
        ct,
        tag,
    )
    .map_err(|_| SamlError::SealedKeyWrongMasterKey)?;
    String::from_utf8(pem).map_err(|_| SamlError::SealedKeyMalformed("not UTF-8".into()))
}

/// Parse a master key from configuration: 32 bytes as base64 (44 characters) or hex (64).
pub fn parse_master_key(text: &str) -> Result<[u8; MASTER_KEY_LEN], SamlError> {
    let t = text.trim();
    let bytes = if t.len() == 2 * MASTER_KEY_LEN && t.bytes().all(|b| b.is_ascii_hexdigit()) {
        (0..MASTER_KEY_LEN)
            .map(|i| {
                t.get(2 * i..2 * i + 2)
                    .and_then(|h| u8::from_str_radix(h, 16).ok())
                    .unwrap_or(0)
            })
            .collect::<Vec<u8>>()
    } else {
        base64::engine::general_purpose::STANDARD
            .decode(t.as_bytes())
            .map_err(|_| {
                SamlError::SealedKeyMalformed(
                    "the master key must be 32 bytes as base64 or 64 hex digits".into(),
                )
            })?
    };
    <[u8; MASTER_KEY_LEN]>::try_from(bytes.as_slice()).map_err(|_| {
        SamlError::SealedKeyMalformed(format!(
            "the master key is {} bytes, not {MASTER_KEY_LEN}",
            bytes.len()
        ))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t(s: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc)
    }

    #[test]
    fn generates_pem_round_trips_and_redacts() {
        let now = t("2026-06-01T12:00:00Z");
        let kp = SpKeyPair::generate("sso.example.test", now, Duration::days(730), 2048).unwrap();
        assert_eq!(kp.not_before_unix(), now.timestamp());
        assert_eq!(kp.not_after_unix(), (now + Duration::days(730)).timestamp());
        let key_pem = kp.private_key_pem().unwrap();
        let cert_pem = kp.certificate_pem().unwrap();
        let again = SpKeyPair::from_pem(key_pem.as_bytes(), cert_pem.as_bytes()).unwrap();
        assert_eq!(again.fingerprint(), kp.fingerprint());
        let dbg = format!("{kp:?}");
        assert!(
            dbg.contains("<redacted>") && !dbg.contains("PRIVATE"),
            "{dbg}"
        );
        assert!(kp.trusted_certificate().is_ok());
        assert!(kp.decryption_key().is_ok());
        assert!(kp.signing_key().is_ok());
        let other = SpKeyPair::generate("x", now, Duration::days(1), 2048).unwrap();
        assert_eq!(
            SpKeyPair::from_pem(
                key_pem.as_bytes(),
                other.certificate_pem().unwrap().as_bytes()
            )
            .unwrap_err()
            .code(),
            "sp_key_invalid"
        );
        assert!(SpKeyPair::generate("x", now, Duration::zero(), 2048).is_err());
        assert!(SpKeyPair::generate("x", now, Duration::days(1), 1024).is_err());
    }

    #[test]
    fn seals_and_unseals_with_clear_errors() {
        let master = [7u8; 32];
        let pem = "-----BEGIN PRIVATE KEY-----\nabc\n-----END PRIVATE KEY-----\n";
        let s1 = seal_private_key(pem, &master, "tenant:1:encryption").unwrap();
        let s2 = seal_private_key(pem, &master, "tenant:1:encryption").unwrap();
        assert!(s1.starts_with("v1:"));
        assert_ne!(s1, s2, "random nonce");
        assert_eq!(
            unseal_private_key(&s1, &master, "tenant:1:encryption").unwrap(),
            pem
        );
        let wrong = [8u8; 32];
        assert_eq!(
            unseal_private_key(&s1, &wrong, "tenant:1:encryption")
                .unwrap_err()
                .code(),
            "sealed_key_wrong_master_key"
        );
        assert_eq!(
            unseal_private_key(&s1, &master, "tenant:2:encryption")
                .unwrap_err()
                .code(),
            "sealed_key_wrong_master_key"
        );
        let mut altered = s1.clone().into_bytes();
        let i = altered.len() - 5;
        altered[i] = if altered[i] == b'A' { b'B' } else { b'A' };
        assert_eq!(
            unseal_private_key(
                std::str::from_utf8(&altered).unwrap(),
                &master,
                "tenant:1:encryption"
            )
            .unwrap_err()
            .code(),
            "sealed_key_wrong_master_key"
        );
        for bad in ["v2:AAAA", "AAAA", "v1:***", "v1:AAAA"] {
            assert_eq!(
                unseal_private_key(bad, &master, "").unwrap_err().code(),
                "sealed_key_malformed",
                "{bad}"
            );
        }
    }

    #[test]
    fn key_pair_seals_and_master_keys_parse() {
        let now = t("2026-06-01T12:00:00Z");
        let kp = SpKeyPair::generate("sp", now, Duration::days(1), 2048).unwrap();
        let master = parse_master_key(&"ab".repeat(32)).unwrap();
        assert_eq!(master, [0xab; 32]);
        let b64 = base64::engine::general_purpose::STANDARD.encode([1u8; 32]);
        assert_eq!(parse_master_key(&b64).unwrap(), [1u8; 32]);
        assert!(parse_master_key("short").is_err());
        let sealed = kp.seal(&master, "deployment").unwrap();
        let back = SpKeyPair::unseal(
            &sealed,
            kp.certificate_pem().unwrap().as_bytes(),
            &master,
            "deployment",
        )
        .unwrap();
        assert_eq!(back.fingerprint(), kp.fingerprint());
    }
}
