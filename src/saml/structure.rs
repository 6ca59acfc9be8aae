//! Locating the parts of a Response before any signature is checked: the single
//! Assertion, and the signatures allowed on the Response and on the Assertion.
//! Nothing found here is *read* as a value: values come only from verified bytes.

use super::algorithms::NS_DSIG;
use super::error::SamlError;
use super::xml::{Document, NodeId};

pub const NS_SAMLP: &str = "urn:oasis:names:tc:SAML:2.0:protocol";
pub const NS_SAML: &str = "urn:oasis:names:tc:SAML:2.0:assertion";
pub const STATUS_SUCCESS: &str = "urn:oasis:names:tc:SAML:2.0:status:Success";

/// Where the parts of a Response sit in the parsed (unverified) document.
#[derive(Debug, Clone, Copy)]
pub struct Layout {
    pub response_signature: Option<NodeId>,
    pub assertion_signature: Option<NodeId>,
    /// The `saml:EncryptedAssertion`, when the Response carries one instead of an
    /// Assertion. Its signature (if any) is inside the ciphertext, so the "at least one
    /// signature" rule is applied after decryption.
    pub encrypted_assertion: Option<NodeId>,
}

/// The status code of a Response, when it is not Success (used to report an IdP
/// error when there is no assertion to verify).
pub fn failure_status(doc: &Document, response: NodeId) -> Option<SamlError> {
    let (status, _) = doc.child_named(response, NS_SAMLP, "Status")?;
    let (code_el, code) = doc.child_named(status, NS_SAMLP, "StatusCode")?;
    let top = code.attr("Value")?.to_string();
    if top == STATUS_SUCCESS {
        return None;
    }
    let sub = doc
        .child_named(code_el, NS_SAMLP, "StatusCode")
        .and_then(|(_, e)| e.attr("Value").map(str::to_string));
    let message = doc
        .child_named(status, NS_SAMLP, "StatusMessage")
        .map(|(m, _)| doc.text_content(m));
    Some(SamlError::StatusNotSuccess {
        code: match sub {
            Some(s) => format!("{top} / {s}"),
            None => top,
        },
        message,
    })
}

/// Check the envelope and find the single Assertion and the signatures.
pub fn locate(doc: &Document) -> Result<Layout, SamlError> {
    let response = doc.root();
    let root = doc.element(response).ok_or(SamlError::AssertionMissing)?;
    if !root.is(NS_SAMLP, "Response") {
        return Err(SamlError::NotAResponse(format!(
            "{{{}}}{}",
            root.ns.unwrap_or(""),
            root.local
        )));
    }
    match root.attr("Version") {
        Some("2.0") => {}
        Some(v) => return Err(SamlError::VersionUnsupported(v.to_string())),
        None => return Err(SamlError::SchemaInvalid("Response without Version".into())),
    }

    let all = doc.descendants(response);
    let named = |local: &str| -> Vec<NodeId> {
        all.iter()
            .copied()
            .filter(|&n| doc.element(n).is_some_and(|e| e.is(NS_SAML, local)))
            .collect()
    };
    let assertions = named("Assertion");
    let encrypted = named("EncryptedAssertion");
    // Exactly one Assertion OR one EncryptedAssertion in the whole document.
    let (assertion, encrypted_assertion) = match (assertions.as_slice(), encrypted.as_slice()) {
        ([], []) => {
            return Err(failure_status(doc, response).unwrap_or(SamlError::AssertionMissing));
        }
        ([one], []) => (Some(*one), None),
        ([], [one]) => (None, Some(*one)),
        (a, e) => return Err(SamlError::MultipleAssertions(a.len() + e.len())),
    };
    let body = assertion.or(encrypted_assertion).unwrap_or(response);
    if doc.parent(body) != Some(response) {
        return Err(SamlError::AssertionMisplaced);
    }

    let mut response_signature = None;
    let mut assertion_signature = None;
    for &n in &all {
        if !doc.element(n).is_some_and(|e| e.is(NS_DSIG, "Signature")) {
            continue;
        }
        let parent = doc.parent(n);
        let slot = if parent == Some(response) {
            (&mut response_signature, "Response")
        } else if assertion.is_some() && parent == assertion {
            (&mut assertion_signature, "Assertion")
        } else {
            let inside = parent
                .and_then(|p| doc.element(p))
                .map(|e| e.qname())
                .unwrap_or_default();
            return Err(SamlError::SignatureMisplaced(inside));
        };
        if slot.0.replace(n).is_some() {
            return Err(SamlError::MultipleSignatures(slot.1));
        }
    }
    if response_signature.is_none() && assertion_signature.is_none() && assertion.is_some() {
        return Err(SamlError::SignatureMissing);
    }
    Ok(Layout {
        response_signature,
        assertion_signature,
        encrypted_assertion,
    })
}

/// The single EncryptedAssertion child of a Response re-parsed from its verified bytes.
pub fn encrypted_assertion_of_verified_response(doc: &Document) -> Result<NodeId, SamlError> {
    let mut it = doc
        .children_named(doc.root(), NS_SAML, "EncryptedAssertion")
        .map(|(n, _)| n);
    match (it.next(), it.next()) {
        (Some(a), None) => Ok(a),
        (None, _) => Err(SamlError::AssertionMissing),
        (Some(_), Some(_)) => Err(SamlError::MultipleAssertions(2)),
    }
}

/// The structure rules inside a decrypted Assertion: no other Assertion or
/// EncryptedAssertion anywhere in it, and at most one `ds:Signature`, a direct child of
/// the Assertion. Returns that signature.
pub fn locate_in_decrypted(doc: &Document, assertion: NodeId) -> Result<Option<NodeId>, SamlError> {
    let mut signature = None;
    for n in doc.descendants(assertion) {
        let Some(e) = doc.element(n) else { continue };
        if n != assertion && (e.is(NS_SAML, "Assertion") || e.is(NS_SAML, "EncryptedAssertion")) {
            return Err(SamlError::MultipleAssertions(2));
        }
        if e.is(NS_DSIG, "Signature") {
            if doc.parent(n) != Some(assertion) {
                let inside = doc
                    .parent(n)
                    .and_then(|p| doc.element(p))
                    .map(|e| e.qname())
                    .unwrap_or_default();
                return Err(SamlError::SignatureMisplaced(inside));
            }
            if signature.replace(n).is_some() {
                return Err(SamlError::MultipleSignatures("Assertion"));
            }
        }
    }
    Ok(signature)
}

/// The single Assertion child of a Response re-parsed from its verified bytes.
pub fn assertion_of_verified_response(doc: &Document) -> Result<NodeId, SamlError> {
    let mut it = doc
        .children_named(doc.root(), NS_SAML, "Assertion")
        .map(|(n, _)| n);
    match (it.next(), it.next()) {
        (Some(a), None) => Ok(a),
        (None, _) => Err(SamlError::AssertionMissing),
        (Some(_), Some(_)) => Err(SamlError::MultipleAssertions(2)),
    }
}
