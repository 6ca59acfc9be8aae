//! One error enum for the SAML core: a variant per failed check, each with a
//! stable machine-readable code (`SamlError::code`) and a human sentence (`Display`).
//!
//! The codes are part of the public interface (the `verify-response` CLI prints them
//! and test suites match on them): never rename one, only add.

use thiserror::Error;

/// Why a SAML message was refused. Every variant names exactly one failed check.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[non_exhaustive]
pub enum SamlError {
    // ---- decoding and hardened parsing -------------------------------------------------
    #[error("input is {size} bytes, over the {limit}-byte limit")]
    InputTooLarge { size: usize, limit: usize },
    #[error("the SAMLResponse value is not valid base64: {0}")]
    Base64Invalid(String),
    #[error("only UTF-8 documents are accepted: {0}")]
    EncodingUnsupported(String),
    #[error("XML is not well-formed: {0}")]
    XmlMalformed(String),
    #[error("document type declarations (DOCTYPE/DTD) are forbidden")]
    DtdForbidden,
    #[error(
        "entity reference '&{0};' is not allowed (only the five predefined entities and character references)"
    )]
    EntityForbidden(String),
    #[error("element nesting deeper than {0} levels")]
    DepthExceeded(usize),
    #[error("an element has more than {0} attributes")]
    TooManyAttributes(usize),
    #[error("the document has more than {0} nodes")]
    TooManyNodes(usize),
    #[error("namespace error: {0}")]
    NamespaceInvalid(String),
    #[error("the ID value '{0}' appears on more than one element")]
    DuplicateId(String),

    // ---- message structure --------------------------------------------------------------
    #[error("the document element is {0}, not a SAML 2.0 protocol Response")]
    NotAResponse(String),
    #[error("unsupported SAML version '{0}' (only 2.0)")]
    VersionUnsupported(String),
    #[error("the message does not conform to the SAML schema: {0}")]
    SchemaInvalid(String),
    #[error("the Response carries no Assertion")]
    AssertionMissing,
    #[error("the message contains {0} Assertion elements; exactly one is accepted")]
    MultipleAssertions(usize),
    #[error("the only Assertion is not a direct child of the Response")]
    AssertionMisplaced,
    #[error("unsupported encrypted assertion: {0}")]
    EncryptedAssertionUnsupported(String),

    // ---- XML encryption (encrypted assertions, issue 7) ---------------------------------
    #[error("the Response carries an EncryptedAssertion but no SP decryption key is configured")]
    DecryptionKeyMissing,
    #[error("unsupported block encryption algorithm {0}")]
    EncryptionAlgorithmUnsupported(String),
    #[error("unsupported key transport {0}")]
    KeyTransportUnsupported(String),
    #[error(
        "RSA PKCS#1 v1.5 key transport (xmlenc#rsa-1_5) is refused: it is open to Bleichenbacher's padding-oracle attack; the IdP must use RSA-OAEP"
    )]
    Rsa15KeyTransportRefused,
    /// Every way decryption can fail looks the same to the sender (no padding or OAEP
    /// oracle); the precise reason is only in [`SamlError::log_detail`].
    #[error("the encrypted assertion could not be decrypted with the SP's keys")]
    DecryptionFailed(DecryptionFailure),
    #[error(
        "the decrypted Assertion is not signed and neither is the Response: one of them must be"
    )]
    DecryptedAssertionUnsigned,
    #[error("this SP requires the Assertion itself to be signed (WantAssertionsSigned)")]
    AssertionSignatureRequired,

    // ---- XML signature ------------------------------------------------------------------
    #[error("neither the Response nor the Assertion is signed")]
    SignatureMissing,
    #[error("malformed signature: {0}")]
    SignatureMalformed(String),
    #[error("more than one Signature on the {0}")]
    MultipleSignatures(&'static str),
    #[error(
        "a Signature element sits inside {0}; only the Response and the Assertion may be signed"
    )]
    SignatureMisplaced(String),
    #[error(
        "the signature's Reference URI '{found}' does not point to its parent element (expected '{expected}')"
    )]
    ReferenceMismatch { expected: String, found: String },
    #[error("unsupported transform chain: {0}")]
    TransformUnsupported(String),
    #[error("unsupported algorithm {0}")]
    AlgorithmUnsupported(String),
    #[error(
        "SHA-1 ({0}) is refused; the IdP should sign with SHA-256 (allow it explicitly only for legacy IdPs)"
    )]
    Sha1Forbidden(String),
    #[error("the signed {0} contains a comment that its signature does not cover")]
    UnsignedComment(&'static str),
    #[error("the digest of the signed {0} does not match its DigestValue")]
    DigestMismatch(&'static str),
    #[error("the {0} signature does not verify with any trusted IdP certificate")]
    SignatureInvalid(&'static str),
    #[error("the IdP trust has no usable signing certificate")]
    NoTrustedCertificate,
    #[error("certificate refused: {0}")]
    CertificateInvalid(String),
    #[error("IdP metadata refused: {0}")]
    MetadataInvalid(String),

    // ---- protocol checks on the verified values -----------------------------------------
    #[error("Destination '{found}' is not this ACS URL '{expected}'")]
    DestinationMismatch { expected: String, found: String },
    #[error("the IdP answered with status {code}{}", message.as_deref().map(|m| format!(" ({m})")).unwrap_or_default())]
    StatusNotSuccess {
        code: String,
        message: Option<String>,
    },
    #[error("the {0} has no Issuer")]
    IssuerMissing(&'static str),
    #[error("the {what} Issuer '{found}' is not the trusted IdP '{expected}'")]
    IssuerMismatch {
        what: &'static str,
        expected: String,
        found: String,
    },
    #[error("the Assertion has no Subject")]
    SubjectMissing,
    #[error("the Subject has no usable NameID: {0}")]
    NameIdMissing(String),
    #[error("the Subject has no bearer SubjectConfirmation")]
    BearerConfirmationMissing,
    #[error("SubjectConfirmationData Recipient '{found}' is not this ACS URL '{expected}'")]
    RecipientMismatch { expected: String, found: String },
    #[error("the bearer SubjectConfirmation expired at {0}")]
    SubjectConfirmationExpired(String),
    #[error("InResponseTo '{0}' does not match an outstanding request")]
    InResponseToMismatch(String),
    #[error("unsolicited (IdP-initiated) responses are not allowed for this tenant")]
    UnsolicitedResponseForbidden,
    #[error("the Assertion is not valid before {not_before} (now {now}, skew {skew_seconds} s)")]
    NotYetValid {
        not_before: String,
        now: String,
        skew_seconds: i64,
    },
    #[error("the Assertion expired at {not_on_or_after} (now {now}, skew {skew_seconds} s)")]
    Expired {
        not_on_or_after: String,
        now: String,
        skew_seconds: i64,
    },
    #[error("the Assertion has no AudienceRestriction")]
    AudienceMissing,
    #[error("the AudienceRestriction {found:?} does not include this SP '{expected}'")]
    AudienceMismatch {
        expected: String,
        found: Vec<String>,
    },
    #[error("the Assertion has no AuthnStatement")]
    AuthnStatementMissing,
    #[error("the IdP session ended at {0} (SessionNotOnOrAfter)")]
    SessionExpired(String),
    #[error("assertion '{0}' was already used (replay)")]
    Replayed(String),
    #[error("invalid timestamp {0}")]
    TimestampInvalid(String),

    // ---- producing messages (sign.rs, mint.rs; test and load tooling) -------------------
    #[error("cannot sign: {0}")]
    SigningFailed(String),
    #[error("cannot encrypt: {0}")]
    EncryptionFailed(String),

    // ---- SP keys (keys.rs) ----------------------------------------------------------------
    #[error("SP key refused: {0}")]
    SpKeyInvalid(String),
    #[error("the sealed private key is malformed: {0}")]
    SealedKeyMalformed(String),
    #[error(
        "the master key does not open this sealed private key (wrong master key, wrong context, or the sealed value was altered)"
    )]
    SealedKeyWrongMasterKey,
}

/// The precise reason a decryption failed, for the log only. Its `Debug` and the
/// error's `Display` do not show it; read it with [`SamlError::log_detail`].
#[derive(Clone, PartialEq, Eq)]
pub struct DecryptionFailure {
    reason: String,
}

impl DecryptionFailure {
    pub(super) fn new(reason: impl Into<String>) -> Self {
        DecryptionFailure {
            reason: reason.into(),
        }
    }

    /// The precise reason (for logs; never show it to the sender).
    pub fn reason(&self) -> &str {
        &self.reason
    }
}

impl std::fmt::Debug for DecryptionFailure {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("DecryptionFailure { .. }")
    }
}

impl SamlError {
    /// The stable, machine-readable code of this error (snake_case).
    pub fn code(&self) -> &'static str {
        use SamlError::*;
        match self {
            InputTooLarge { .. } => "input_too_large",
            Base64Invalid(_) => "base64_invalid",
            EncodingUnsupported(_) => "encoding_unsupported",
            XmlMalformed(_) => "xml_malformed",
            DtdForbidden => "dtd_forbidden",
            EntityForbidden(_) => "entity_forbidden",
            DepthExceeded(_) => "depth_exceeded",
            TooManyAttributes(_) => "too_many_attributes",
            TooManyNodes(_) => "too_many_nodes",
            NamespaceInvalid(_) => "namespace_invalid",
            DuplicateId(_) => "duplicate_id",
            NotAResponse(_) => "not_a_response",
            VersionUnsupported(_) => "version_unsupported",
            SchemaInvalid(_) => "schema_invalid",
            AssertionMissing => "assertion_missing",
            MultipleAssertions(_) => "multiple_assertions",
            AssertionMisplaced => "assertion_misplaced",
            EncryptedAssertionUnsupported(_) => "encrypted_assertion_unsupported",
            DecryptionKeyMissing => "decryption_key_missing",
            EncryptionAlgorithmUnsupported(_) => "encryption_algorithm_unsupported",
            KeyTransportUnsupported(_) => "key_transport_unsupported",
            Rsa15KeyTransportRefused => "rsa1_5_key_transport_refused",
            DecryptionFailed(_) => "decryption_failed",
            DecryptedAssertionUnsigned => "decrypted_assertion_unsigned",
            AssertionSignatureRequired => "assertion_signature_required",
            SignatureMissing => "signature_missing",
            SignatureMalformed(_) => "signature_malformed",
            MultipleSignatures(_) => "multiple_signatures",
            SignatureMisplaced(_) => "signature_misplaced",
            ReferenceMismatch { .. } => "reference_mismatch",
            TransformUnsupported(_) => "transform_unsupported",
            AlgorithmUnsupported(_) => "algorithm_unsupported",
            Sha1Forbidden(_) => "sha1_forbidden",
            UnsignedComment(_) => "unsigned_comment",
            DigestMismatch(_) => "digest_mismatch",
            SignatureInvalid(_) => "signature_invalid",
            NoTrustedCertificate => "no_trusted_certificate",
            CertificateInvalid(_) => "certificate_invalid",
            MetadataInvalid(_) => "metadata_invalid",
            DestinationMismatch { .. } => "destination_mismatch",
            StatusNotSuccess { .. } => "status_not_success",
            IssuerMissing(_) => "issuer_missing",
            IssuerMismatch { .. } => "issuer_mismatch",
            SubjectMissing => "subject_missing",
            NameIdMissing(_) => "name_id_missing",
            BearerConfirmationMissing => "bearer_confirmation_missing",
            RecipientMismatch { .. } => "recipient_mismatch",
            SubjectConfirmationExpired(_) => "subject_confirmation_expired",
            InResponseToMismatch(_) => "in_response_to_mismatch",
            UnsolicitedResponseForbidden => "unsolicited_response_forbidden",
            NotYetValid { .. } => "not_yet_valid",
            Expired { .. } => "expired",
            AudienceMissing => "audience_missing",
            AudienceMismatch { .. } => "audience_mismatch",
            AuthnStatementMissing => "authn_statement_missing",
            SessionExpired(_) => "session_expired",
            Replayed(_) => "replayed",
            TimestampInvalid(_) => "timestamp_invalid",
            SigningFailed(_) => "signing_failed",
            EncryptionFailed(_) => "encryption_failed",
            SpKeyInvalid(_) => "sp_key_invalid",
            SealedKeyMalformed(_) => "sealed_key_malformed",
            SealedKeyWrongMasterKey => "sealed_key_wrong_master_key",
        }
    }

    /// What the log should keep beyond the public sentence: the precise reason of a
    /// [`SamlError::DecryptionFailed`] (which key failed how). `None` for every other
    /// error, whose `Display` already says everything.
    pub fn log_detail(&self) -> Option<&str> {
        match self {
            SamlError::DecryptionFailed(f) => Some(f.reason()),
            _ => None,
        }
    }

    /// The sentence for logs: `Display`, plus the [`SamlError::log_detail`] when there
    /// is one. Never show this to the sender of the message.
    pub fn log_message(&self) -> String {
        match self.log_detail() {
            Some(d) => format!("{self} [detail: {d}]"),
            None => self.to_string(),
        }
    }

    /// Every code, for documentation and tests.
    pub const ALL_CODES: &'static [&'static str] = &[
        "input_too_large",
        "base64_invalid",
        "encoding_unsupported",
        "xml_malformed",
        "dtd_forbidden",
        "entity_forbidden",
        "depth_exceeded",
        "too_many_attributes",
        "too_many_nodes",
        "namespace_invalid",
        "duplicate_id",
        "not_a_response",
        "version_unsupported",
        "schema_invalid",
        "assertion_missing",
        "multiple_assertions",
        "assertion_misplaced",
        "encrypted_assertion_unsupported",
        "decryption_key_missing",
        "encryption_algorithm_unsupported",
        "key_transport_unsupported",
        "rsa1_5_key_transport_refused",
        "decryption_failed",
        "decrypted_assertion_unsigned",
        "assertion_signature_required",
        "signature_missing",
        "signature_malformed",
        "multiple_signatures",
        "signature_misplaced",
        "reference_mismatch",
        "transform_unsupported",
        "algorithm_unsupported",
        "sha1_forbidden",
        "unsigned_comment",
        "digest_mismatch",
        "signature_invalid",
        "no_trusted_certificate",
        "certificate_invalid",
        "metadata_invalid",
        "destination_mismatch",
        "status_not_success",
        "issuer_missing",
        "issuer_mismatch",
        "subject_missing",
        "name_id_missing",
        "bearer_confirmation_missing",
        "recipient_mismatch",
        "subject_confirmation_expired",
        "in_response_to_mismatch",
        "unsolicited_response_forbidden",
        "not_yet_valid",
        "expired",
        "audience_missing",
        "audience_mismatch",
        "authn_statement_missing",
        "session_expired",
        "replayed",
        "timestamp_invalid",
        "signing_failed",
        "encryption_failed",
        "sp_key_invalid",
        "sealed_key_malformed",
        "sealed_key_wrong_master_key",
    ];
}
