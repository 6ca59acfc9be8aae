//! XML-DSig verification, restricted to the enveloped signatures SAML uses:
//! exactly one `Reference` whose URI is `#` + the ID of the signature's parent,
//! transforms enveloped-signature then exclusive C14N, RSA or ECDSA with SHA-2
//! (SHA-1 only when explicitly allowed), digest compared in constant time, and the
//! key taken only from the configured trust (`KeyInfo` in the message is ignored).
//!
//! On success the caller gets [`VerifiedBytes`]: the exact canonical bytes that were
//! digested. Nothing else about the signed element may be read afterwards.

use base64::Engine as _;
use openssl::bn::BigNum;
use openssl::ecdsa::EcdsaSig;
use openssl::pkey::Id;
use openssl::sign::Verifier;

use super::algorithms::{
    Canonicalization, Digest, ENVELOPED_SIGNATURE, KeyKind, NS_DSIG, NS_EXC_C14N,
    SignatureAlgorithm,
};
use super::c14n::{self, Options};
use super::error::SamlError;
use super::explain::Trace;
use super::trust::TrustedCertificate;
use super::xml::{Document, NodeId, NodeKind};

/// Algorithm policy of one verification.
#[derive(Debug, Clone, Copy, Default)]
pub struct AlgorithmPolicy {
    /// Accept SHA-1 digests and signatures (legacy IdPs only).
    pub allow_sha1: bool,
}

/// The canonical bytes of a signed element whose digest and signature verified.
/// Only [`verify_enveloped`] can construct it.
#[derive(Debug, Clone)]
pub struct VerifiedBytes {
    bytes: String,
    /// Index of the trusted certificate that verified the signature.
    pub key_index: usize,
    pub algorithm: SignatureAlgorithm,
}

impl VerifiedBytes {
    pub fn as_str(&self) -> &str {
        &self.bytes
    }
}

/// The parsed content of a `ds:Signature` element.
struct SignatureSpec {
    signed_info: NodeId,
    c14n: Canonicalization,
    c14n_prefixes: Vec<String>,
    algorithm: SignatureAlgorithm,
    reference_uri: String,
    transform_prefixes: Vec<String>,
    digest: Digest,
    digest_value: Vec<u8>,
    signature_value: Vec<u8>,
}

fn malformed(msg: impl Into<String>) -> SamlError {
    SamlError::SignatureMalformed(msg.into())
}

/// Element children of `id`, refusing non-whitespace text between them.
fn element_children(doc: &Document, id: NodeId, what: &str) -> Result<Vec<NodeId>, SamlError> {
    let e = doc
        .element(id)
        .ok_or_else(|| malformed(format!("{what} is not an element")))?;
    let mut out = Vec::new();
    for &c in e.children {
        match doc.kind(c) {
            Some(NodeKind::Element(_)) => out.push(c),
            Some(NodeKind::Text(t)) if !t.trim().is_empty() => {
                return Err(malformed(format!("unexpected text in {what}")));
            }
            _ => {}
        }
    }
    Ok(out)
}

fn expect_dsig(doc: &Document, id: Option<&NodeId>, local: &str) -> Result<NodeId, SamlError> {
    match id {
        Some(&n) if doc.element(n).is_some_and(|e| e.is(NS_DSIG, local)) => Ok(n),
        _ => Err(malformed(format!("expected ds:{local}"))),
    }
}

fn algorithm_attr(doc: &Document, id: NodeId) -> Result<String, SamlError> {
    doc.element(id)
        .and_then(|e| e.attr("Algorithm"))
        .map(str::to_string)
        .ok_or_else(|| malformed("missing Algorithm attribute"))
}

fn base64_text(doc: &Document, id: NodeId, what: &str) -> Result<Vec<u8>, SamlError> {
    // ASCII whitespace bytes never occur inside a multi-byte UTF-8 sequence, so
    // filtering bytes is filtering characters.
    let text: Vec<u8> = doc
        .text_content(id)
        .bytes()
        .filter(|b| !b.is_ascii_whitespace())
        .collect();
    base64::engine::general_purpose::STANDARD
        .decode(&text)
        .map_err(|e| malformed(format!("{what} is not base64: {e}")))
}

/// Read an optional `ec:InclusiveNamespaces PrefixList` child.
fn prefix_list(doc: &Document, method: NodeId) -> Result<Vec<String>, SamlError> {
    let children = element_children(doc, method, "canonicalization method")?;
    let mut out = Vec::new();
    for (i, c) in children.iter().enumerate() {
        let e = doc.element(*c).ok_or_else(|| malformed("bad node"))?;
        if i > 0 || !e.is(NS_EXC_C14N, "InclusiveNamespaces") {
            return Err(malformed(format!(
                "unexpected <{}> in a canonicalization method",
                e.qname()
            )));
        }
        out = e
            .attr("PrefixList")
            .unwrap_or("")
            .split_ascii_whitespace()
            .map(str::to_string)
            .collect();
    }
    Ok(out)
}

fn check_sha1(digest: Digest, what: &str, policy: &AlgorithmPolicy) -> Result<(), SamlError> {
    if digest == Digest::Sha1 && !policy.allow_sha1 {
        return Err(SamlError::Sha1Forbidden(what.to_string()));
    }
    Ok(())
}

fn parse_signature(
    doc: &Document,
    sig: NodeId,
    policy: &AlgorithmPolicy,
) -> Result<SignatureSpec, SamlError> {
    let parts = element_children(doc, sig, "Signature")?;
    let signed_info = expect_dsig(doc, parts.first(), "SignedInfo")?;
    let sig_value = expect_dsig(doc, parts.get(1), "SignatureValue")?;
    for &extra in parts.iter().skip(2) {
        let e = doc.element(extra).ok_or_else(|| malformed("bad node"))?;
        if !e.is(NS_DSIG, "KeyInfo") || extra != parts.get(2).copied().unwrap_or(usize::MAX) {
            return Err(malformed(format!(
                "unexpected <{}> in Signature",
                e.qname()
            )));
        }
    }

    let si = element_children(doc, signed_info, "SignedInfo")?;
    let c14n_method = expect_dsig(doc, si.first(), "CanonicalizationMethod")?;
    let sig_method = expect_dsig(doc, si.get(1), "SignatureMethod")?;
    let references: Vec<NodeId> = si.iter().skip(2).copied().collect();
    for &r in &references {
        expect_dsig(doc, Some(&r), "Reference")?;
    }
    if references.len() != 1 {
        return Err(malformed(format!(
            "exactly one Reference expected, found {}",
            references.len()
        )));
    }
    let reference = references
        .first()
        .copied()
        .ok_or_else(|| malformed("no Reference"))?;

    let c14n_uri = algorithm_attr(doc, c14n_method)?;
    let c14n = Canonicalization::from_uri(&c14n_uri)
        .ok_or_else(|| SamlError::AlgorithmUnsupported(format!("canonicalization {c14n_uri}")))?;
    let c14n_prefixes = prefix_list(doc, c14n_method)?;
    let algorithm = SignatureAlgorithm::from_uri(&algorithm_attr(doc, sig_method)?)?;
    if !element_children(doc, sig_method, "SignatureMethod")?.is_empty() {
        return Err(malformed(
            "SignatureMethod parameters are not supported (HMAC output length)",
        ));
    }
    check_sha1(
        algorithm.digest,
        &format!("signature method {}", algorithm.name()),
        policy,
    )?;

    let ref_el = doc
        .element(reference)
        .ok_or_else(|| malformed("bad Reference"))?;
    let reference_uri = ref_el
        .attr("URI")
        .ok_or_else(|| malformed("Reference without URI"))?
        .to_string();
    let rparts = element_children(doc, reference, "Reference")?;
    let (transforms, rest) = match rparts.first() {
        Some(&t) if doc.element(t).is_some_and(|e| e.is(NS_DSIG, "Transforms")) => {
            (Some(t), rparts.get(1..).unwrap_or(&[]))
        }
        _ => (None, rparts.as_slice()),
    };
    let digest_method = expect_dsig(doc, rest.first(), "DigestMethod")?;
    let digest_value_el = expect_dsig(doc, rest.get(1), "DigestValue")?;
    if rest.len() != 2 {
        return Err(malformed("unexpected elements in Reference"));
    }
    let digest = Digest::from_uri(&algorithm_attr(doc, digest_method)?)?;
    check_sha1(digest, "digest method sha1", policy)?;
    let digest_value = base64_text(doc, digest_value_el, "DigestValue")?;
    let signature_value = base64_text(doc, sig_value, "SignatureValue")?;

    let transform_prefixes = parse_transforms(doc, transforms)?;
    Ok(SignatureSpec {
        signed_info,
        c14n,
        c14n_prefixes,
        algorithm,
        reference_uri,
        transform_prefixes,
        digest,
        digest_value,
        signature_value,
    })
}

/// The only chain accepted: enveloped-signature, then exclusive C14N.
fn parse_transforms(doc: &Document, transforms: Option<NodeId>) -> Result<Vec<String>, SamlError> {
    let Some(transforms) = transforms else {
        return Err(SamlError::TransformUnsupported(
            "no Transforms (enveloped-signature and exclusive C14N are required)".into(),
        ));
    };
    let list = element_children(doc, transforms, "Transforms")?;
    let mut uris = Vec::new();
    for &t in &list {
        expect_dsig(doc, Some(&t), "Transform")?;
        uris.push(algorithm_attr(doc, t)?);
    }
    let chain = uris.join(" -> ");
    match (list.as_slice(), uris.as_slice()) {
        ([_, second], [first_uri, second_uri]) if first_uri == ENVELOPED_SIGNATURE => {
            Canonicalization::from_uri(second_uri)
                .ok_or_else(|| SamlError::TransformUnsupported(chain.clone()))?;
            if !element_children(doc, list.first().copied().unwrap_or(*second), "Transform")?
                .is_empty()
            {
                return Err(SamlError::TransformUnsupported(
                    "enveloped-signature takes no parameters".into(),
                ));
            }
            prefix_list(doc, *second)
        }
        _ => Err(SamlError::TransformUnsupported(chain)),
    }
}

/// Verify the enveloped signature `sig`, whose parent is the signed element.
/// `what` names the element for messages ("Response" or "Assertion").
pub fn verify_enveloped(
    doc: &Document,
    sig: NodeId,
    what: &'static str,
    keys: &[TrustedCertificate],
    policy: &AlgorithmPolicy,
    trace: &mut Trace,
) -> Result<VerifiedBytes, SamlError> {
    let check: &'static str = if what == "Response" {
        "response_signature"
    } else {
        "assertion_signature"
    };
    let r = verify_inner(doc, sig, what, keys, policy);
    match &r {
        Ok(v) => trace.pass(
            check,
            || format!(
                "{} verified by trusted certificate #{} ({}), reference, digest and transforms checked",
                v.algorithm.name(),
                v.key_index,
                keys.get(v.key_index).map(|k| k.fingerprint()).unwrap_or("?")
            ),
        ),
        Err(e) => trace.fail(check, e.to_string()),
    }
    r
}

fn verify_inner(
    doc: &Document,
    sig: NodeId,
    what: &'static str,
    keys: &[TrustedCertificate],
    policy: &AlgorithmPolicy,
) -> Result<VerifiedBytes, SamlError> {
    let parent = doc
        .parent(sig)
        .ok_or_else(|| malformed("signature has no parent"))?;
    let spec = parse_signature(doc, sig, policy)?;

    let id = doc
        .element(parent)
        .and_then(|e| e.attr("ID"))
        .filter(|s| !s.is_empty())
        .ok_or_else(|| SamlError::SchemaInvalid(format!("the signed {what} has no ID")))?;
    let expected = format!("#{id}");
    if spec.reference_uri != expected {
        return Err(SamlError::ReferenceMismatch {
            expected,
            found: spec.reference_uri,
        });
    }

    // XML-DSig 1.0 §4.4.3.3: a bare-name reference ("#id") selects the element
    // *without comments*, even when the transform is "#WithComments" (xmlsec1 agrees).
    // A comment inside the signed element is therefore never covered by the digest:
    // refuse it rather than let it split a signed value (comment injection).
    if doc.has_comment_in(parent, Some(sig)) {
        return Err(SamlError::UnsignedComment(what));
    }

    let signed = c14n::canonicalize(
        doc,
        parent,
        &Options {
            with_comments: false,
            inclusive_prefixes: &spec.transform_prefixes,
            exclude: Some(sig),
        },
    );
    let computed = spec.digest.hash(signed.as_bytes());
    if computed.len() != spec.digest_value.len()
        || !openssl::memcmp::eq(&computed, &spec.digest_value)
    {
        return Err(SamlError::DigestMismatch(what));
    }

    let signed_info = c14n::canonicalize(
        doc,
        spec.signed_info,
        &Options {
            with_comments: spec.c14n.with_comments(),
            inclusive_prefixes: &spec.c14n_prefixes,
            exclude: None,
        },
    );
    let key_index = keys
        .iter()
        .position(|k| {
            verify_with_key(
                k,
                spec.algorithm,
                signed_info.as_bytes(),
                &spec.signature_value,
            )
        })
        .ok_or(SamlError::SignatureInvalid(what))?;

    Ok(VerifiedBytes {
        bytes: signed,
        key_index,
        algorithm: spec.algorithm,
    })
}

/// True when `signature` over `data` verifies with this key under `alg`.
pub(super) fn verify_with_key(
    cert: &TrustedCertificate,
    alg: SignatureAlgorithm,
    data: &[u8],
    signature: &[u8],
) -> bool {
    let key = cert.public_key();
    let md = alg.digest.message_digest();
    match (alg.key, key.id()) {
        (KeyKind::Rsa, Id::RSA) => {
            cert.verify_rsa_prehashed(alg.digest, &alg.digest.hash(data), signature)
        }
        (KeyKind::Ecdsa, Id::EC) => {
            // XML-DSig carries ECDSA signatures as r || s, each half the length.
            if signature.is_empty() || !signature.len().is_multiple_of(2) {
                return false;
            }
            let (r, s) = signature.split_at(signature.len() / 2);
            let der = BigNum::from_slice(r)
                .and_then(|r| BigNum::from_slice(s).map(|s| (r, s)))
                .and_then(|(r, s)| EcdsaSig::from_private_components(r, s))
                .and_then(|sig| sig.to_der());
            match der {
                Ok(der) => Verifier::new(md, key)
                    .and_then(|mut v| v.verify_oneshot(&der, data))
                    .unwrap_or(false),
                Err(_) => false,
            }
        }
        _ => false,
    }
}
