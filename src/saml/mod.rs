//! The SAML core: pure functions from bytes, settings and `now` to a verdict.
//!
//! This module imports nothing else from the crate, performs no I/O and never reads
//! the clock (a test checks both). The one entry point for responses is
//! [`verify_response`]; on success it returns a [`VerifiedAssertion`], which nothing
//! outside this module can construct.
//!
//! Order of checks (the first failure is reported): decode, hardened parse, envelope
//! structure (one Assertion, signatures only on the Response and/or the Assertion),
//! each signature (algorithms, reference, transforms, digest, trusted key), then the
//! values re-parsed from the verified canonical bytes: Response issuer, destination and
//! status; Assertion issuer, subject, time window, audience, bearer confirmation
//! (recipient, expiry, InResponseTo), AuthnStatement, and finally the replay cache.
//!
//! An `EncryptedAssertion` (issue 7) is decrypted with the SP's keys ([`xmlenc`]): if the
//! Response is signed, its signature (over the encrypted form) is verified first and the
//! ciphertext is taken from the verified bytes; otherwise the decrypted Assertion must
//! carry its own valid signature. The plaintext goes through the same hardened parser.
//!
//! [`sign`] and [`mint`] are the other direction, for tests and load tooling only:
//! enveloped signing of one element and Okta-shaped Responses (time and IDs as inputs);
//! [`xmlenc::encrypt_assertion`] encrypts for the same tooling. [`keys`] holds SP key
//! pairs (generation, PEM, sealing at rest).

pub mod algorithms;
mod assertion;
pub mod binding;
pub mod c14n;
pub mod dsig;
mod error;
pub mod explain;
pub mod keys;
pub mod metadata;
pub mod mint;
pub mod protocol;
pub mod replay;
pub mod sign;
mod structure;
pub mod trust;
mod validate;
pub mod xml;
mod xml_text;
pub mod xmlenc;

use base64::Engine as _;
use chrono::{DateTime, Duration, Utc};

pub use assertion::{EncryptionInfo, SignedParts, VerifiedAssertion};
pub use dsig::AlgorithmPolicy;
pub use error::{DecryptionFailure, SamlError};
pub use explain::{Check, Trace};
pub use keys::SpKeyPair;
pub use metadata::IdpMetadata;
pub use mint::{MintOptions, SigningLayout, mint_encrypted_response, mint_response};
pub use replay::{InMemoryReplayCache, ReplayCache, ReplayStoreError};
pub use sign::{SigningKey, sign_element};
pub use trust::{IdpTrust, TrustedCertificate};
pub use xml::Limits;
pub use xmlenc::{
    BlockCipher, DecryptionKey, EncryptOptions, KeyPlacement, KeyTransport, OaepHash,
    encrypt_assertion,
};

/// Default tolerance between the IdP's clock and ours.
pub const DEFAULT_CLOCK_SKEW_SECONDS: i64 = 180;

/// The service provider's side of one tenant.
#[derive(Debug, Clone)]
pub struct SpSettings {
    /// Our entity ID (the Audience Okta puts in assertions).
    pub entity_id: String,
    /// Our Assertion Consumer Service URL (Destination and Recipient).
    pub acs_url: String,
    /// Allowed clock difference with the IdP.
    pub clock_skew: Duration,
    /// Accept IdP-initiated (unsolicited) responses. They must then carry no InResponseTo.
    pub allow_unsolicited: bool,
    /// Accept SHA-1 signatures and digests (legacy IdPs only; refused by default).
    pub allow_sha1: bool,
    /// Parser limits (they apply to decrypted assertions too).
    pub limits: Limits,
    /// The SP's private keys that decrypt `EncryptedAssertion`s, current first, then the
    /// next one during a rollover; each is tried. Empty (the default): a Response with an
    /// EncryptedAssertion is refused with `decryption_key_missing`.
    pub decryption_keys: Vec<DecryptionKey>,
    /// Refuse responses whose Assertion does not carry its own valid signature (a signed
    /// Response alone is then not enough). Publish `WantAssertionsSigned="true"` in the
    /// SP metadata exactly when this is set.
    pub require_signed_assertions: bool,
}

impl SpSettings {
    pub fn new(entity_id: impl Into<String>, acs_url: impl Into<String>) -> Self {
        SpSettings {
            entity_id: entity_id.into(),
            acs_url: acs_url.into(),
            clock_skew: Duration::seconds(DEFAULT_CLOCK_SKEW_SECONDS),
            allow_unsolicited: false,
            allow_sha1: false,
            limits: Limits::default(),
            decryption_keys: Vec::new(),
            require_signed_assertions: false,
        }
    }
}

/// The per-request inputs: the time, the outstanding AuthnRequest IDs that a response
/// may answer, and the replay cache.
pub struct VerifyContext<'a> {
    pub now: DateTime<Utc>,
    pub request_ids: &'a [String],
    pub replay_cache: &'a mut dyn ReplayCache,
}

/// Whether a response could need the SP's decryption keys: false only when its decoded
/// bytes (as [`decode_input`] gives them) never mention `EncryptedAssertion`. A caller
/// may then verify without loading keys; the verdict is the same, since an
/// `EncryptedAssertion` is the only thing they decrypt. Undecodable input answers true
/// (the verification reports the error).
pub fn may_need_decryption(input: &[u8], limit: usize) -> bool {
    match decode_input(input, limit) {
        Ok(xml) => memchr::memmem::find(&xml, b"EncryptedAssertion").is_some(),
        Err(_) => true,
    }
}

/// Turn the raw body into XML bytes: raw XML is used as is, anything else is taken as
/// the base64 `SAMLResponse` form value (whitespace ignored). The size limit applies
/// to the decoded bytes, and to the encoded form before decoding.
pub fn decode_input(input: &[u8], limit: usize) -> Result<Vec<u8>, SamlError> {
    let trimmed = input.trim_ascii_start();
    let looks_xml = trimmed.first() == Some(&b'<')
        || trimmed.starts_with(&[0xEF, 0xBB, 0xBF])
        || trimmed.starts_with(&[0xFE, 0xFF])
        || trimmed.starts_with(&[0xFF, 0xFE]);
    let bytes = if looks_xml {
        input.to_vec()
    } else {
        if input.len() > limit.saturating_mul(4) / 3 + 4096 {
            return Err(SamlError::InputTooLarge {
                size: input.len() / 4 * 3,
                limit,
            });
        }
        let clean: Vec<u8> = input
            .iter()
            .copied()
            .filter(|b| !b.is_ascii_whitespace())
            .collect();
        base64::engine::general_purpose::STANDARD
            .decode(&clean)
            .map_err(|e| SamlError::Base64Invalid(e.to_string()))?
    };
    if bytes.len() > limit {
        return Err(SamlError::InputTooLarge {
            size: bytes.len(),
            limit,
        });
    }
    Ok(bytes)
}

/// Verify a SAML Response (raw XML or base64 form value) for one tenant.
pub fn verify_response(
    input: &[u8],
    sp: &SpSettings,
    idp: &IdpTrust,
    ctx: &mut VerifyContext<'_>,
) -> Result<VerifiedAssertion, SamlError> {
    let mut trace = Trace::off();
    verify_response_traced(input, sp, idp, ctx, &mut trace)
}

/// As [`verify_response`], also recording every check performed in `trace`.
pub fn verify_response_traced(
    input: &[u8],
    sp: &SpSettings,
    idp: &IdpTrust,
    ctx: &mut VerifyContext<'_>,
    trace: &mut Trace,
) -> Result<VerifiedAssertion, SamlError> {
    let bytes = trace.record(
        "decode",
        |b: &Vec<u8>| format!("{} bytes of XML (limit {})", b.len(), sp.limits.max_bytes),
        decode_input(input, sp.limits.max_bytes),
    )?;
    let doc = trace.record(
        "parse",
        |_| "well-formed UTF-8, no DTD, within depth/attribute/node limits, unique IDs".to_string(),
        xml::parse(&bytes, &sp.limits),
    )?;
    let layout = trace.record(
        "structure",
        |l: &structure::Layout| {
            format!(
                "one {}; signed: response={}, assertion={}",
                if l.encrypted_assertion.is_some() {
                    "EncryptedAssertion"
                } else {
                    "Assertion"
                },
                l.response_signature.is_some(),
                if l.encrypted_assertion.is_some() {
                    "(inside the encryption)".to_string()
                } else {
                    l.assertion_signature.is_some().to_string()
                }
            )
        },
        structure::locate(&doc),
    )?;

    let policy = AlgorithmPolicy {
        allow_sha1: sp.allow_sha1,
    };
    let keys = idp.certificates();
    let response_verified = layout
        .response_signature
        .map(|s| dsig::verify_enveloped(&doc, s, "Response", keys, &policy, trace))
        .transpose()?;

    // From here on, values come only from re-parsed verified bytes. The unsigned
    // envelope of an assertion-signed response is read only for Destination, Status
    // and InResponseTo, each of which is also bound by the signed assertion.
    let reparse = |v: &dsig::VerifiedBytes| xml::parse(v.as_str().as_bytes(), &sp.limits);
    let response_reparsed = response_verified.as_ref().map(reparse).transpose()?;
    let response_doc: &xml::Document = response_reparsed.as_ref().unwrap_or(&doc);

    let opened = match layout.encrypted_assertion {
        None => Opened {
            decrypted: None,
            assertion_verified: layout
                .assertion_signature
                .map(|s| dsig::verify_enveloped(&doc, s, "Assertion", keys, &policy, trace))
                .transpose()?,
            encryption: None,
        },
        Some(encrypted) => open_encrypted(
            &doc,
            encrypted,
            response_reparsed.as_ref(),
            sp,
            keys,
            &policy,
            trace,
        )?,
    };
    if sp.require_signed_assertions {
        if opened.assertion_verified.is_none() {
            let e = SamlError::AssertionSignatureRequired;
            trace.fail("signature_policy", e.to_string());
            return Err(e);
        }
        trace.pass(
            "signature_policy",
            "the Assertion carries its own verified signature (required)",
        );
    }

    let assertion_reparsed = opened
        .assertion_verified
        .as_ref()
        .map(reparse)
        .transpose()?;
    let (assertion_doc, assertion_node) = match (&assertion_reparsed, &opened.decrypted) {
        (Some(d), _) => (d, d.root()),
        // Belt and braces: an unsigned decrypted Assertion is only ever used under a
        // verified Response signature (open_encrypted refuses it otherwise).
        (None, Some(_)) if response_verified.is_none() => {
            return Err(SamlError::DecryptedAssertionUnsigned);
        }
        // Decrypted from the verified Response bytes (the Response signature covers the
        // ciphertext, the EncryptedKey and the algorithms), so these are verified bytes.
        (None, Some((d, n))) => (d, *n),
        (None, None) => (
            response_doc,
            structure::assertion_of_verified_response(response_doc)?,
        ),
    };
    let assertion_verified = opened.assertion_verified;

    let expect = validate::Expectations {
        idp_entity_id: idp.entity_id(),
        sp_entity_id: &sp.entity_id,
        acs_url: &sp.acs_url,
        now: ctx.now,
        skew: sp.clock_skew,
        request_ids: ctx.request_ids,
        allow_unsolicited: sp.allow_unsolicited,
    };
    let response_irt = validate::check_response(response_doc, response_doc.root(), &expect, trace)?;
    let checked = validate::check_assertion(
        assertion_doc,
        assertion_node,
        response_irt.as_deref(),
        &expect,
        trace,
    )?;

    let fresh = ctx
        .replay_cache
        .check_and_record(
            idp.entity_id(),
            &checked.assertion_id,
            checked.replay_until,
            ctx.now,
        )
        .map_err(|e| SamlError::Replayed(format!("{} (store error: {e})", checked.assertion_id)));
    match fresh {
        Ok(true) => trace.pass("replay", || {
            format!("assertion {} not seen before", checked.assertion_id)
        }),
        Ok(false) => {
            let e = SamlError::Replayed(checked.assertion_id.clone());
            trace.fail("replay", e.to_string());
            return Err(e);
        }
        Err(e) => {
            trace.fail("replay", e.to_string());
            return Err(e);
        }
    }

    let verifier = assertion_verified.as_ref().or(response_verified.as_ref());
    let (verified_by, signature_algorithm) = verifier
        .map(|v| {
            (
                keys.get(v.key_index)
                    .map(|k| k.fingerprint().to_string())
                    .unwrap_or_default(),
                v.algorithm.name(),
            )
        })
        .unwrap_or_default();
    Ok(VerifiedAssertion::from_parts(assertion::Parts {
        issuer: idp.entity_id().to_string(),
        assertion_id: checked.assertion_id,
        name_id: checked.name_id,
        name_id_format: checked.name_id_format,
        session_index: checked.session_index,
        authn_instant: checked.authn_instant,
        authn_context_class: checked.authn_context_class,
        session_not_on_or_after: checked.session_not_on_or_after,
        not_on_or_after: checked.not_on_or_after,
        in_response_to: checked.in_response_to,
        attributes: checked.attributes,
        signed: SignedParts {
            response: response_verified.is_some(),
            assertion: assertion_verified.is_some(),
        },
        verified_by,
        signature_algorithm,
        encryption: opened.encryption,
    }))
}

/// The Assertion part of a Response once opened: the decrypted document (encrypted
/// responses only) and the Assertion's own verified signature, if it has one.
struct Opened {
    decrypted: Option<(xml::Document, xml::NodeId)>,
    assertion_verified: Option<dsig::VerifiedBytes>,
    encryption: Option<EncryptionInfo>,
}

/// Decrypt the EncryptedAssertion and check the plaintext up to its signature.
///
/// The ciphertext comes from the verified Response bytes when the Response is signed
/// (its digest covers the encrypted form), else from the parsed document; the plaintext
/// is parsed in the namespace context of that same source. Without a Response
/// signature the decrypted Assertion must be signed (`decrypted_assertion_unsigned`).
///
/// No oracle: when the plaintext is not authenticated (CBC) and the Response is not
/// signed, an attacker can alter the ciphertext at will, and telling "bad padding" from
/// "not well-formed" or "unsigned" apart would let them decrypt it byte by byte (Jager
/// and Somorovsky, 2011). In that case every failure up to the Assertion's signature is
/// reported as `decryption_failed`, the precise reason kept for the log only, and the
/// trace records only that.
fn open_encrypted(
    doc: &xml::Document,
    encrypted: xml::NodeId,
    response_verified: Option<&xml::Document>,
    sp: &SpSettings,
    idp_keys: &[TrustedCertificate],
    policy: &AlgorithmPolicy,
    trace: &mut Trace,
) -> Result<Opened, SamlError> {
    if sp.decryption_keys.is_empty() {
        let e = SamlError::DecryptionKeyMissing;
        trace.fail("decrypt", e.to_string());
        return Err(e);
    }
    let response_signed = response_verified.is_some();
    let (source, node) = match response_verified {
        Some(d) => (d, structure::encrypted_assertion_of_verified_response(d)?),
        None => (doc, encrypted),
    };
    let parts = trace.record(
        "encrypted_assertion",
        xmlenc::EncryptedParts::describe,
        xmlenc::parse_encrypted_assertion(source, node),
    )?;
    let decrypted = match xmlenc::decrypt(&parts, &sp.decryption_keys, sp.limits.max_bytes) {
        Ok(d) => d,
        Err(e) => {
            trace.fail("decrypt", e.to_string());
            return Err(e);
        }
    };
    let fingerprint = sp
        .decryption_keys
        .get(decrypted.key_index)
        .map(|k| k.fingerprint().to_string())
        .unwrap_or_default();
    let decrypted_detail = format!(
        "{} bytes decrypted with SP key #{} ({}){}",
        decrypted.plaintext.len(),
        decrypted.key_index,
        fingerprint,
        if decrypted.authenticated {
            ", GCM tag verified"
        } else if response_signed {
            ", ciphertext covered by the Response signature"
        } else {
            ", CBC (unauthenticated): the Assertion signature must verify"
        }
    );
    let collapse = !response_signed && !decrypted.authenticated;

    let mut inner = if trace.is_enabled() {
        Trace::new()
    } else {
        Trace::off()
    };
    let opened = (|| {
        let (ddoc, assertion) = inner.record(
            "decrypted_parse",
            |_| "the plaintext is one saml:Assertion: well-formed UTF-8, no DTD, within the parser limits".to_string(),
            xmlenc::parse_decrypted(source, node, &decrypted.plaintext, &sp.limits),
        )?;
        let signature = inner.record(
            "decrypted_structure",
            |s: &Option<xml::NodeId>| {
                format!("no nested assertion; signed: assertion={}", s.is_some())
            },
            structure::locate_in_decrypted(&ddoc, assertion).and_then(|s| {
                if s.is_none() && !response_signed {
                    Err(SamlError::DecryptedAssertionUnsigned)
                } else {
                    Ok(s)
                }
            }),
        )?;
        let verified = signature
            .map(|s| dsig::verify_enveloped(&ddoc, s, "Assertion", idp_keys, policy, &mut inner))
            .transpose()?;
        Ok::<_, SamlError>((ddoc, assertion, verified))
    })();

    match opened {
        Ok((ddoc, assertion, assertion_verified)) => {
            trace.pass("decrypt", decrypted_detail);
            trace.extend(inner);
            Ok(Opened {
                decrypted: Some((ddoc, assertion)),
                assertion_verified,
                encryption: Some(EncryptionInfo {
                    block_cipher: parts.cipher.name().to_string(),
                    key_transport: parts.transport.name(),
                    decrypted_with: fingerprint,
                }),
            })
        }
        Err(e) if collapse => {
            let public = SamlError::DecryptionFailed(DecryptionFailure::new(format!(
                "{decrypted_detail}, but the plaintext was refused before its signature verified \
                 (reported as decryption_failed because CBC in an unsigned Response is not \
                 authenticated): {} ({})",
                e.log_message(),
                e.code()
            )));
            trace.fail("decrypt", public.to_string());
            Err(public)
        }
        Err(e) => {
            trace.pass("decrypt", decrypted_detail);
            trace.extend(inner);
            Err(e)
        }
    }
}
