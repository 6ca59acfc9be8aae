//! XML-DSig *signing* of one element: the mirror image of [`super::dsig`].
//!
//! The signature has exactly the shape the verifier (and Okta) uses: an enveloped
//! `ds:Signature` placed right after the element's `saml:Issuer` (or as its first child),
//! exclusive C14N for `SignedInfo`, one `Reference URI="#ID"` with the transforms
//! enveloped-signature then exclusive C14N with `PrefixList="xs"`, and the certificate in
//! `KeyInfo/X509Data`. Digest and `SignedInfo` are canonicalized with our own
//! [`super::c14n`]; `xmlsec1 --verify` accepting the output is checked by the tests.
//!
//! The output is the input document re-serialized from the hardened DOM (namespace
//! declarations, attributes and prefixes kept as written, empty elements self-closed,
//! whitespace outside the document element dropped) with the signature inserted.
//! Before returning, the output is parsed again and the canonical form of the signed
//! element (signature excluded) is compared with the bytes that were digested.
//!
//! This is test and load tooling (minting responses as an IdP would); the gateway itself
//! never signs assertions.

use base64::Engine as _;
use openssl::ecdsa::EcdsaSig;
use openssl::pkey::{Id, PKey, Private};
use openssl::sign::Signer;
use openssl::x509::X509;

use super::algorithms::{
    Digest, ENVELOPED_SIGNATURE, EXC_C14N, KeyKind, NS_DSIG, SignatureAlgorithm,
};
use super::c14n::{self, Options};
use super::error::SamlError;
use super::structure::NS_SAML;
use super::trust::TrustedCertificate;
use super::xml::{self, Document, Limits, NodeId, NodeKind};

fn failed(msg: impl Into<String>) -> SamlError {
    SamlError::SigningFailed(msg.into())
}

/// A private signing key and its certificate.
#[derive(Clone)]
pub struct SigningKey {
    key: PKey<Private>,
    cert: X509,
    cert_der: Vec<u8>,
    kind: KeyKind,
}

impl std::fmt::Debug for SigningKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SigningKey")
            .field("kind", &self.kind)
            .field("bits", &self.key.bits())
            .finish_non_exhaustive()
    }
}

impl SigningKey {
    /// From a PEM private key (PKCS#8 or traditional) and the PEM certificate of its
    /// public key. Refuses a certificate that does not match the key, and key types
    /// other than RSA and EC.
    pub fn from_pem(key_pem: &[u8], cert_pem: &[u8]) -> Result<Self, SamlError> {
        let key = PKey::private_key_from_pem(key_pem)
            .map_err(|e| failed(format!("not a PEM private key: {e}")))?;
        let cert = X509::from_pem(cert_pem)
            .map_err(|e| SamlError::CertificateInvalid(format!("not a PEM certificate: {e}")))?;
        let kind = match key.id() {
            Id::RSA => KeyKind::Rsa,
            Id::EC => KeyKind::Ecdsa,
            other => return Err(failed(format!("unsupported key type {other:?}"))),
        };
        let public = cert
            .public_key()
            .map_err(|e| SamlError::CertificateInvalid(format!("no public key: {e}")))?;
        if !public.public_eq(&key) {
            return Err(failed("the certificate is not for this private key"));
        }
        let cert_der = cert
            .to_der()
            .map_err(|e| SamlError::CertificateInvalid(e.to_string()))?;
        Ok(SigningKey {
            key,
            cert,
            cert_der,
            kind,
        })
    }

    /// RSA or ECDSA.
    pub fn kind(&self) -> KeyKind {
        self.kind
    }

    /// The usual algorithm for this key: RSA-SHA256 or ECDSA-SHA256.
    pub fn default_algorithm(&self) -> SignatureAlgorithm {
        SignatureAlgorithm {
            key: self.kind,
            digest: Digest::Sha256,
        }
    }

    /// The certificate, DER.
    pub fn certificate_der(&self) -> &[u8] {
        &self.cert_der
    }

    /// The certificate as base64 DER on one line (as in `X509Certificate`).
    pub fn certificate_base64(&self) -> String {
        base64::engine::general_purpose::STANDARD.encode(&self.cert_der)
    }

    /// The certificate as the verifier trusts it (to build an [`super::IdpTrust`]).
    pub fn trusted_certificate(&self) -> Result<TrustedCertificate, SamlError> {
        TrustedCertificate::from_x509(&self.cert)
    }

    /// Sign `data` with `alg`; ECDSA signatures are returned as raw `r || s`, each half
    /// left-padded to the curve's byte size (XML-DSig 1.1).
    pub(super) fn sign(&self, alg: SignatureAlgorithm, data: &[u8]) -> Result<Vec<u8>, SamlError> {
        if alg.key != self.kind {
            return Err(failed(format!(
                "algorithm {} does not fit this {} key",
                alg.name(),
                match self.kind {
                    KeyKind::Rsa => "RSA",
                    KeyKind::Ecdsa => "EC",
                }
            )));
        }
        let mut signer = Signer::new(alg.digest.message_digest(), &self.key)
            .map_err(|e| failed(format!("signer: {e}")))?;
        let sig = signer
            .sign_oneshot_to_vec(data)
            .map_err(|e| failed(format!("sign: {e}")))?;
        match self.kind {
            KeyKind::Rsa => Ok(sig),
            KeyKind::Ecdsa => {
                let ec = self
                    .key
                    .ec_key()
                    .map_err(|e| failed(format!("EC key: {e}")))?;
                let size = i32::try_from(ec.group().degree().div_ceil(8))
                    .map_err(|_| failed("curve too large"))?;
                let parsed = EcdsaSig::from_der(&sig)
                    .map_err(|e| failed(format!("ECDSA signature: {e}")))?;
                let mut out = parsed
                    .r()
                    .to_vec_padded(size)
                    .map_err(|e| failed(format!("ECDSA r: {e}")))?;
                out.extend(
                    parsed
                        .s()
                        .to_vec_padded(size)
                        .map_err(|e| failed(format!("ECDSA s: {e}")))?,
                );
                Ok(out)
            }
        }
    }
}

/// Parser limits for documents being signed: more generous than verification's (the
/// tooling may deliberately build oversized messages), still bounded.
fn signing_limits() -> Limits {
    Limits {
        max_bytes: 64 << 20,
        max_depth: 256,
        max_attributes: 1024,
        max_nodes: 5_000_000,
    }
}

/// The element whose unqualified `ID` attribute is `id`.
fn find_by_id(doc: &Document, id: &str) -> Option<NodeId> {
    doc.descendants(doc.root())
        .into_iter()
        .find(|&n| doc.element(n).and_then(|e| e.attr("ID")) == Some(id))
}

/// Where the signature goes among `target`'s children: after `saml:Issuer`, else first.
fn insert_position(doc: &Document, target: NodeId) -> Result<usize, SamlError> {
    let el = doc
        .element(target)
        .ok_or_else(|| failed("target is not an element"))?;
    let issuer = doc.child_named(target, NS_SAML, "Issuer").map(|(n, _)| n);
    Ok(match issuer {
        Some(i) => el
            .children
            .iter()
            .position(|&c| c == i)
            .map_or(0, |p| p + 1),
        None => 0,
    })
}

/// Enveloped-sign the element of `doc_xml` whose `ID` attribute is `element_id`, and
/// return the whole document with the `ds:Signature` inserted.
///
/// SHA-1 is refused; the algorithm's key family must match the key. The element must
/// not already carry a `ds:Signature` child nor contain comments (a bare-name reference
/// never covers comments, so the verifier refuses them).
pub fn sign_element(
    doc_xml: &str,
    element_id: &str,
    key: &SigningKey,
    alg: SignatureAlgorithm,
) -> Result<String, SamlError> {
    if alg.digest == Digest::Sha1 {
        return Err(failed("SHA-1 signatures are not produced"));
    }
    let limits = signing_limits();
    let doc = xml::parse(doc_xml.as_bytes(), &limits)?;
    let target = find_by_id(&doc, element_id)
        .ok_or_else(|| failed(format!("no element with ID '{element_id}'")))?;
    if doc.child_named(target, NS_DSIG, "Signature").is_some() {
        return Err(failed(format!(
            "the element with ID '{element_id}' is already signed"
        )));
    }
    if doc.has_comment_in(target, None) {
        return Err(failed(format!(
            "the element with ID '{element_id}' contains a comment"
        )));
    }

    let prefixes = vec!["xs".to_string()];
    let digested = c14n::canonicalize(
        &doc,
        target,
        &Options {
            with_comments: false,
            inclusive_prefixes: &prefixes,
            exclude: None,
        },
    );
    let digest = openssl::hash::hash(alg.digest.message_digest(), digested.as_bytes())
        .map_err(|e| failed(format!("digest: {e}")))?;
    let b64 = &base64::engine::general_purpose::STANDARD;

    let mut signed_info = String::with_capacity(1024);
    signed_info.push_str("<ds:SignedInfo><ds:CanonicalizationMethod Algorithm=\"");
    signed_info.push_str(EXC_C14N);
    signed_info.push_str("\"/><ds:SignatureMethod Algorithm=\"");
    signed_info.push_str(alg.uri());
    signed_info.push_str("\"/><ds:Reference URI=\"#");
    escape_attr(&mut signed_info, element_id);
    signed_info.push_str("\"><ds:Transforms><ds:Transform Algorithm=\"");
    signed_info.push_str(ENVELOPED_SIGNATURE);
    signed_info.push_str("\"/><ds:Transform Algorithm=\"");
    signed_info.push_str(EXC_C14N);
    signed_info.push_str("\"><ec:InclusiveNamespaces xmlns:ec=\"");
    signed_info.push_str(EXC_C14N);
    signed_info.push_str(
        "\" PrefixList=\"xs\"/></ds:Transform></ds:Transforms><ds:DigestMethod Algorithm=\"",
    );
    signed_info.push_str(alg.digest.uri());
    signed_info.push_str("\"/><ds:DigestValue>");
    signed_info.push_str(&b64.encode(digest));
    signed_info.push_str("</ds:DigestValue></ds:Reference></ds:SignedInfo>");

    // Canonicalize SignedInfo in its context (the Signature element declaring `ds`);
    // under exclusive C14N nothing from further up can appear in it.
    let open = format!("<ds:Signature xmlns:ds=\"{NS_DSIG}\">");
    let wrapper = format!("{open}{signed_info}</ds:Signature>");
    let wdoc = xml::parse(wrapper.as_bytes(), &limits)?;
    let (si, _) = wdoc
        .child_named(wdoc.root(), NS_DSIG, "SignedInfo")
        .ok_or_else(|| failed("SignedInfo template"))?;
    let si_c14n = c14n::canonicalize(&wdoc, si, &Options::default());
    let signature_value = key.sign(alg, si_c14n.as_bytes())?;

    let signature = format!(
        "{open}{signed_info}<ds:SignatureValue>{}</ds:SignatureValue><ds:KeyInfo><ds:X509Data><ds:X509Certificate>{}</ds:X509Certificate></ds:X509Data></ds:KeyInfo></ds:Signature>",
        b64.encode(&signature_value),
        key.certificate_base64()
    );

    let position = insert_position(&doc, target)?;
    let out = serialize(&doc, Some((target, position, &signature)));

    // Self-check: the output parses, and what a verifier digests is what we digested.
    let check = xml::parse(out.as_bytes(), &limits)?;
    let ctarget = find_by_id(&check, element_id).ok_or_else(|| failed("signed element lost"))?;
    let csig = check
        .element(ctarget)
        .and_then(|e| e.children.get(position).copied())
        .filter(|&n| check.element(n).is_some_and(|e| e.is(NS_DSIG, "Signature")))
        .ok_or_else(|| failed("inserted signature not found"))?;
    let recomputed = c14n::canonicalize(
        &check,
        ctarget,
        &Options {
            with_comments: false,
            inclusive_prefixes: &prefixes,
            exclude: Some(csig),
        },
    );
    if recomputed != digested {
        return Err(failed(
            "re-serialization changed the signed element (internal error)",
        ));
    }
    Ok(out)
}

/// The element of `doc_xml` whose `ID` attribute is `element_id`, serialized on its own
/// (as written), with the namespace declarations in scope at it that it does not carry
/// itself added to its start tag, so the markup parses standalone with the same meaning.
pub fn element_markup(doc_xml: &str, element_id: &str) -> Result<String, SamlError> {
    let doc = xml::parse(doc_xml.as_bytes(), &signing_limits())?;
    let target = find_by_id(&doc, element_id)
        .ok_or_else(|| failed(format!("no element with ID '{element_id}'")))?;
    let el = doc
        .element(target)
        .ok_or_else(|| failed("target is not an element"))?;
    let mut extra = String::new();
    if let Some(parent) = doc.parent(target) {
        for p in doc.in_scope_prefixes(parent) {
            if el.ns_decls().any(|(q, _)| *q == p) {
                continue;
            }
            if let Some(uri) = doc.lookup_namespace(parent, &p) {
                if p.is_empty() {
                    extra.push_str(" xmlns=\"");
                } else {
                    extra.push_str(" xmlns:");
                    extra.push_str(&p);
                    extra.push_str("=\"");
                }
                escape_attr(&mut extra, uri);
                extra.push('"');
            }
        }
    }
    let mut out = String::with_capacity(4096);
    element(&doc, target, None, None, &mut out);
    let at = 1 + el.qname().len();
    if out.is_char_boundary(at) {
        out.insert_str(at, &extra);
    }
    Ok(out)
}

/// `doc_xml` with the element whose `ID` attribute is `element_id` replaced by `markup`
/// (re-serialized from the hardened DOM; the result must parse).
pub fn replace_element(doc_xml: &str, element_id: &str, markup: &str) -> Result<String, SamlError> {
    let limits = signing_limits();
    let doc = xml::parse(doc_xml.as_bytes(), &limits)?;
    let target = find_by_id(&doc, element_id)
        .ok_or_else(|| failed(format!("no element with ID '{element_id}'")))?;
    if target == doc.root() {
        return Err(failed("cannot replace the document element"));
    }
    let out = serialize_edit(&doc, None, Some((target, markup)));
    xml::parse(out.as_bytes(), &limits)?;
    Ok(out)
}

/// Serialize `doc` faithfully (prefixes, namespace declarations and attribute order as
/// written), optionally inserting raw markup `(parent, child position, markup)`.
fn serialize(doc: &Document, insert: Option<(NodeId, usize, &str)>) -> String {
    serialize_edit(doc, insert, None)
}

/// [`serialize`], optionally also replacing one element by raw markup `(node, markup)`.
fn serialize_edit(
    doc: &Document,
    insert: Option<(NodeId, usize, &str)>,
    replace: Option<(NodeId, &str)>,
) -> String {
    let mut out = String::with_capacity(8192);
    out.push_str("<?xml version=\"1.0\" encoding=\"UTF-8\"?>");
    for &n in &doc.prolog {
        misc(doc, n, &mut out);
    }
    element(doc, doc.root(), insert, replace, &mut out);
    for &n in &doc.epilog {
        misc(doc, n, &mut out);
    }
    out
}

fn misc(doc: &Document, n: NodeId, out: &mut String) {
    match doc.kind(n) {
        Some(NodeKind::Comment(c)) => {
            out.push_str("<!--");
            out.push_str(c);
            out.push_str("-->");
        }
        Some(NodeKind::Pi { target, data }) => {
            out.push_str("<?");
            out.push_str(target);
            if !data.is_empty() {
                out.push(' ');
                out.push_str(data);
            }
            out.push_str("?>");
        }
        _ => {}
    }
}

fn element(
    doc: &Document,
    id: NodeId,
    insert: Option<(NodeId, usize, &str)>,
    replace: Option<(NodeId, &str)>,
    out: &mut String,
) {
    if let Some((node, markup)) = replace
        && node == id
    {
        out.push_str(markup);
        return;
    }
    let Some(e) = doc.element(id) else {
        return;
    };
    let qname = e.qname();
    out.push('<');
    out.push_str(&qname);
    for (p, uri) in e.ns_decls() {
        if p.is_empty() {
            out.push_str(" xmlns=\"");
        } else {
            out.push_str(" xmlns:");
            out.push_str(p);
            out.push_str("=\"");
        }
        escape_attr(out, uri);
        out.push('"');
    }
    for a in e.attrs() {
        out.push(' ');
        if let Some(p) = &a.prefix {
            out.push_str(p);
            out.push(':');
        }
        out.push_str(a.local);
        out.push_str("=\"");
        escape_attr(out, a.value);
        out.push('"');
    }
    let here = insert.filter(|(parent, _, _)| *parent == id);
    if e.children.is_empty() && here.is_none() {
        out.push_str("/>");
        return;
    }
    out.push('>');
    for (i, &c) in e.children.iter().enumerate() {
        if let Some((_, pos, markup)) = here
            && pos == i
        {
            out.push_str(markup);
        }
        match doc.kind(c) {
            Some(NodeKind::Element(_)) => element(doc, c, insert, replace, out),
            Some(NodeKind::Text(t)) => escape_text(out, t),
            Some(_) => misc(doc, c, out),
            None => {}
        }
    }
    if let Some((_, pos, markup)) = here
        && pos >= e.children.len()
    {
        out.push_str(markup);
    }
    out.push_str("</");
    out.push_str(&qname);
    out.push('>');
}

/// Escape character data (`>` too, so `]]>` can never appear).
pub(super) fn escape_text(out: &mut String, s: &str) {
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '\r' => out.push_str("&#xD;"),
            _ => out.push(c),
        }
    }
}

/// Escape an attribute value (double-quoted); whitespace controls as character
/// references so attribute-value normalisation gives back the same value.
pub(super) fn escape_attr(out: &mut String, s: &str) {
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\t' => out.push_str("&#x9;"),
            '\n' => out.push_str("&#xA;"),
            '\r' => out.push_str("&#xD;"),
            _ => out.push(c),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn serializer_round_trips() {
        let src = "<?xml version=\"1.0\"?><!--pre--><a:r xmlns:a=\"urn:a\" xmlns=\"urn:d\" x=\"1&amp;&lt;&quot;&#9;&#xA;&#xD;>\"><c/>t&lt;x&gt;&amp;&#xD;<?p d?><!--c--><e xmlns=\"\" xml:lang=\"en\">y</e></a:r><!--post-->";
        let d = xml::parse(src.as_bytes(), &Limits::default()).unwrap();
        let out = serialize(&d, None);
        let d2 = xml::parse(out.as_bytes(), &Limits::default()).unwrap();
        let opts = Options {
            with_comments: true,
            ..Default::default()
        };
        assert_eq!(
            c14n::canonicalize_document(&d, &opts),
            c14n::canonicalize_document(&d2, &opts)
        );
        assert!(out.contains("<c/>"), "{out}");
    }

    #[test]
    fn inserts_at_position() {
        let d = xml::parse(b"<r><a/><b/></r>", &Limits::default()).unwrap();
        assert_eq!(
            serialize(&d, Some((d.root(), 1, "<x/>"))),
            "<?xml version=\"1.0\" encoding=\"UTF-8\"?><r><a/><x/><b/></r>"
        );
        assert_eq!(
            serialize(&d, Some((d.root(), 2, "<x/>"))),
            "<?xml version=\"1.0\" encoding=\"UTF-8\"?><r><a/><b/><x/></r>"
        );
        let e = xml::parse(b"<r/>", &Limits::default()).unwrap();
        assert_eq!(
            serialize(&e, Some((e.root(), 0, "<x/>"))),
            "<?xml version=\"1.0\" encoding=\"UTF-8\"?><r><x/></r>"
        );
    }
}
