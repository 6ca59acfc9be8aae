//! `VerifiedAssertion`: the only output of a successful verification. Its fields are
//! private and it has no public constructor, so holding one proves every check passed.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use serde::Serialize;

/// Which parts of the message carried a verified signature.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct SignedParts {
    pub response: bool,
    pub assertion: bool,
}

/// How an encrypted assertion was decrypted (absent for plain assertions).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct EncryptionInfo {
    /// `aes256-cbc`, `aes128-gcm`, ...
    pub block_cipher: String,
    /// `rsa-oaep-mgf1p(sha1)`, `rsa-oaep(sha256, mgf1sha256)`, ...
    pub key_transport: String,
    /// SHA-256 fingerprint of the SP public key whose private key decrypted it.
    pub decrypted_with: String,
}

/// An assertion whose signature, issuer, audience, recipient, time window, request
/// correlation and freshness were all verified. Every value was read from the
/// verified canonical bytes.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct VerifiedAssertion {
    issuer: String,
    assertion_id: String,
    name_id: String,
    name_id_format: Option<String>,
    session_index: Option<String>,
    authn_instant: Option<DateTime<Utc>>,
    authn_context_class: Option<String>,
    session_not_on_or_after: Option<DateTime<Utc>>,
    not_on_or_after: Option<DateTime<Utc>>,
    in_response_to: Option<String>,
    attributes: BTreeMap<String, Vec<String>>,
    signed: SignedParts,
    verified_by: String,
    signature_algorithm: String,
    encryption: Option<EncryptionInfo>,
}

/// The parts of a [`VerifiedAssertion`], gathered by the verifier. Crate-private to
/// the SAML module: nothing outside it can build a `VerifiedAssertion`.
pub(super) struct Parts {
    pub issuer: String,
    pub assertion_id: String,
    pub name_id: String,
    pub name_id_format: Option<String>,
    pub session_index: Option<String>,
    pub authn_instant: Option<DateTime<Utc>>,
    pub authn_context_class: Option<String>,
    pub session_not_on_or_after: Option<DateTime<Utc>>,
    pub not_on_or_after: Option<DateTime<Utc>>,
    pub in_response_to: Option<String>,
    pub attributes: BTreeMap<String, Vec<String>>,
    pub signed: SignedParts,
    pub verified_by: String,
    pub signature_algorithm: String,
    pub encryption: Option<EncryptionInfo>,
}

impl VerifiedAssertion {
    pub(super) fn from_parts(p: Parts) -> Self {
        VerifiedAssertion {
            issuer: p.issuer,
            assertion_id: p.assertion_id,
            name_id: p.name_id,
            name_id_format: p.name_id_format,
            session_index: p.session_index,
            authn_instant: p.authn_instant,
            authn_context_class: p.authn_context_class,
            session_not_on_or_after: p.session_not_on_or_after,
            not_on_or_after: p.not_on_or_after,
            in_response_to: p.in_response_to,
            attributes: p.attributes,
            signed: p.signed,
            verified_by: p.verified_by,
            signature_algorithm: p.signature_algorithm,
            encryption: p.encryption,
        }
    }

    /// The IdP entity ID (Assertion `Issuer`).
    pub fn issuer(&self) -> &str {
        &self.issuer
    }
    /// The Assertion `ID` (consumed in the replay cache).
    pub fn assertion_id(&self) -> &str {
        &self.assertion_id
    }
    /// The Subject's NameID value, surrounding whitespace removed.
    pub fn name_id(&self) -> &str {
        &self.name_id
    }
    pub fn name_id_format(&self) -> Option<&str> {
        self.name_id_format.as_deref()
    }
    pub fn session_index(&self) -> Option<&str> {
        self.session_index.as_deref()
    }
    pub fn authn_instant(&self) -> Option<DateTime<Utc>> {
        self.authn_instant
    }
    pub fn authn_context_class(&self) -> Option<&str> {
        self.authn_context_class.as_deref()
    }
    /// When the IdP wants the SP session to end at the latest.
    pub fn session_not_on_or_after(&self) -> Option<DateTime<Utc>> {
        self.session_not_on_or_after
    }
    /// The Conditions `NotOnOrAfter`.
    pub fn not_on_or_after(&self) -> Option<DateTime<Utc>> {
        self.not_on_or_after
    }
    /// The request this answers (`None` for IdP-initiated logins).
    pub fn in_response_to(&self) -> Option<&str> {
        self.in_response_to.as_deref()
    }
    /// Attribute name to values (statements merged, in document order per name).
    pub fn attributes(&self) -> &BTreeMap<String, Vec<String>> {
        &self.attributes
    }
    /// The first value of an attribute.
    pub fn attribute(&self, name: &str) -> Option<&str> {
        self.attributes
            .get(name)
            .and_then(|v| v.first())
            .map(String::as_str)
    }
    pub fn signed(&self) -> SignedParts {
        self.signed
    }
    /// SHA-256 fingerprint of the trusted certificate that verified the signature.
    pub fn verified_by(&self) -> &str {
        &self.verified_by
    }
    pub fn signature_algorithm(&self) -> &str {
        &self.signature_algorithm
    }
    /// How the assertion was decrypted, when it arrived as an EncryptedAssertion.
    pub fn encryption(&self) -> Option<&EncryptionInfo> {
        self.encryption.as_ref()
    }
}
