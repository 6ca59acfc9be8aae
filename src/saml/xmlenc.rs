//! XML Encryption for `saml:EncryptedAssertion`: decryption on the login path, and
//! encryption for test and load tooling (the mirror image, as `sign.rs` is to `dsig.rs`).
//!
//! Supported, and nothing else:
//! - block ciphers AES-128/192/256-CBC (`xmlenc#aes*-cbc`: 16-byte IV prefix, XML
//!   Encryption padding where only the last byte counts) and AES-128/192/256-GCM
//!   (`xmlenc11#aes*-gcm`: 12-byte IV prefix, 16-byte tag suffix, no AAD);
//! - key transport `xmlenc#rsa-oaep-mgf1p` (MGF1-SHA1; OAEP digest from `ds:DigestMethod`,
//!   default SHA-1) and `xmlenc11#rsa-oaep` (digest from `ds:DigestMethod`, MGF from
//!   `xenc11:MGF`, both default SHA-1; SHA-1/224/256/384/512), optional `OAEPparams`;
//! - the `EncryptedKey` inside `EncryptedData/ds:KeyInfo`, or a sibling inside the
//!   `EncryptedAssertion` named by `ds:KeyInfo/ds:RetrievalMethod URI="#id"` (Okta), or
//!   the only sibling `EncryptedKey` when there is no RetrievalMethod.
//!
//! `xmlenc#rsa-1_5` is refused before any private-key operation (Bleichenbacher).
//!
//! **No oracle.** Every SP key is tried (current, then next) and every one of them always
//! performs its RSA operation. When none yields a content key of the right length, a
//! random key is used instead, so the block cipher step runs and fails exactly as it
//! does for a tampered ciphertext: the sender sees one error, `decryption_failed`, for a
//! wrong key, a bad OAEP block, a bad CBC padding or a bad GCM tag. The precise reason is
//! kept in the error for the log only ([`SamlError::log_detail`]). The caller
//! (`verify_response`) extends this to everything up to the inner signature check when
//! the plaintext is not authenticated (CBC inside an unsigned Response).

use base64::Engine as _;
use openssl::md::{Md, MdRef};
use openssl::pkey::{Id, PKey, Private, Public};
use openssl::pkey_ctx::PkeyCtx;
use openssl::rsa::Padding;
use openssl::symm::{Cipher, Crypter, Mode};
use openssl::x509::X509;

use super::algorithms::NS_DSIG;
use super::error::{DecryptionFailure, SamlError};
use super::structure::NS_SAML;
use super::xml::{self, Document, Limits, NodeId, NodeKind};

pub const NS_XENC: &str = "http://www.w3.org/2001/04/xmlenc#";
pub const NS_XENC11: &str = "http://www.w3.org/2009/xmlenc11#";
/// `EncryptedData Type`: a whole element was encrypted (the only type accepted).
pub const TYPE_ELEMENT: &str = "http://www.w3.org/2001/04/xmlenc#Element";
/// `RetrievalMethod Type` naming an `EncryptedKey`.
pub const TYPE_ENCRYPTED_KEY: &str = "http://www.w3.org/2001/04/xmlenc#EncryptedKey";
pub const RSA_OAEP_MGF1P: &str = "http://www.w3.org/2001/04/xmlenc#rsa-oaep-mgf1p";
pub const RSA_OAEP: &str = "http://www.w3.org/2009/xmlenc11#rsa-oaep";
pub const RSA_1_5: &str = "http://www.w3.org/2001/04/xmlenc#rsa-1_5";

/// Minimum RSA modulus size of an SP decryption key.
pub const MIN_RSA_BITS: u32 = 2048;

const CBC_IV: usize = 16;
const GCM_IV: usize = 12;
const GCM_TAG: usize = 16;
const BLOCK: usize = 16;

fn unsupported(msg: impl Into<String>) -> SamlError {
    SamlError::EncryptedAssertionUnsupported(msg.into())
}

fn enc_failed(msg: impl Into<String>) -> SamlError {
    SamlError::EncryptionFailed(msg.into())
}

/// A block encryption algorithm.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BlockCipher {
    Aes128Cbc,
    Aes192Cbc,
    Aes256Cbc,
    Aes128Gcm,
    Aes192Gcm,
    Aes256Gcm,
}

impl BlockCipher {
    pub const ALL: [BlockCipher; 6] = [
        BlockCipher::Aes128Cbc,
        BlockCipher::Aes192Cbc,
        BlockCipher::Aes256Cbc,
        BlockCipher::Aes128Gcm,
        BlockCipher::Aes192Gcm,
        BlockCipher::Aes256Gcm,
    ];

    pub fn from_uri(uri: &str) -> Result<Self, SamlError> {
        BlockCipher::ALL
            .into_iter()
            .find(|c| c.uri() == uri)
            .ok_or_else(|| SamlError::EncryptionAlgorithmUnsupported(uri.to_string()))
    }

    pub fn uri(self) -> &'static str {
        match self {
            BlockCipher::Aes128Cbc => "http://www.w3.org/2001/04/xmlenc#aes128-cbc",
            BlockCipher::Aes192Cbc => "http://www.w3.org/2001/04/xmlenc#aes192-cbc",
            BlockCipher::Aes256Cbc => "http://www.w3.org/2001/04/xmlenc#aes256-cbc",
            BlockCipher::Aes128Gcm => "http://www.w3.org/2009/xmlenc11#aes128-gcm",
            BlockCipher::Aes192Gcm => "http://www.w3.org/2009/xmlenc11#aes192-gcm",
            BlockCipher::Aes256Gcm => "http://www.w3.org/2009/xmlenc11#aes256-gcm",
        }
    }

    /// `aes256-cbc`, `aes128-gcm`, ... (the fragment of the URI).
    pub fn name(self) -> &'static str {
        self.uri().rsplit('#').next().unwrap_or("")
    }

    pub fn from_name(name: &str) -> Option<Self> {
        BlockCipher::ALL.into_iter().find(|c| c.name() == name)
    }

    /// The content-encryption key length in bytes.
    pub fn key_len(self) -> usize {
        match self {
            BlockCipher::Aes128Cbc | BlockCipher::Aes128Gcm => 16,
            BlockCipher::Aes192Cbc | BlockCipher::Aes192Gcm => 24,
            BlockCipher::Aes256Cbc | BlockCipher::Aes256Gcm => 32,
        }
    }

    /// Authenticated encryption (GCM): a successful decryption proves the ciphertext
    /// was produced with the content key.
    pub fn is_authenticated(self) -> bool {
        matches!(
            self,
            BlockCipher::Aes128Gcm | BlockCipher::Aes192Gcm | BlockCipher::Aes256Gcm
        )
    }

    fn cipher(self) -> Cipher {
        match self {
            BlockCipher::Aes128Cbc => Cipher::aes_128_cbc(),
            BlockCipher::Aes192Cbc => Cipher::aes_192_cbc(),
            BlockCipher::Aes256Cbc => Cipher::aes_256_cbc(),
            BlockCipher::Aes128Gcm => Cipher::aes_128_gcm(),
            BlockCipher::Aes192Gcm => Cipher::aes_192_gcm(),
            BlockCipher::Aes256Gcm => Cipher::aes_256_gcm(),
        }
    }
}

/// A hash used by RSA-OAEP, as the OAEP digest or inside MGF1.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OaepHash {
    Sha1,
    Sha224,
    Sha256,
    Sha384,
    Sha512,
}

impl OaepHash {
    pub const ALL: [OaepHash; 5] = [
        OaepHash::Sha1,
        OaepHash::Sha224,
        OaepHash::Sha256,
        OaepHash::Sha384,
        OaepHash::Sha512,
    ];

    /// The `ds:DigestMethod` URI.
    pub fn digest_uri(self) -> &'static str {
        match self {
            OaepHash::Sha1 => "http://www.w3.org/2000/09/xmldsig#sha1",
            OaepHash::Sha224 => "http://www.w3.org/2001/04/xmldsig-more#sha224",
            OaepHash::Sha256 => "http://www.w3.org/2001/04/xmlenc#sha256",
            OaepHash::Sha384 => "http://www.w3.org/2001/04/xmldsig-more#sha384",
            OaepHash::Sha512 => "http://www.w3.org/2001/04/xmlenc#sha512",
        }
    }

    /// The `xenc11:MGF` URI (MGF1 with this hash).
    pub fn mgf_uri(self) -> &'static str {
        match self {
            OaepHash::Sha1 => "http://www.w3.org/2009/xmlenc11#mgf1sha1",
            OaepHash::Sha224 => "http://www.w3.org/2009/xmlenc11#mgf1sha224",
            OaepHash::Sha256 => "http://www.w3.org/2009/xmlenc11#mgf1sha256",
            OaepHash::Sha384 => "http://www.w3.org/2009/xmlenc11#mgf1sha384",
            OaepHash::Sha512 => "http://www.w3.org/2009/xmlenc11#mgf1sha512",
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            OaepHash::Sha1 => "sha1",
            OaepHash::Sha224 => "sha224",
            OaepHash::Sha256 => "sha256",
            OaepHash::Sha384 => "sha384",
            OaepHash::Sha512 => "sha512",
        }
    }

    pub fn from_name(name: &str) -> Option<Self> {
        OaepHash::ALL.into_iter().find(|h| h.name() == name)
    }

    fn from_digest_uri(uri: &str) -> Option<Self> {
        OaepHash::ALL.into_iter().find(|h| h.digest_uri() == uri)
    }

    fn from_mgf_uri(uri: &str) -> Option<Self> {
        OaepHash::ALL.into_iter().find(|h| h.mgf_uri() == uri)
    }

    fn md(self) -> &'static MdRef {
        match self {
            OaepHash::Sha1 => Md::sha1(),
            OaepHash::Sha224 => Md::sha224(),
            OaepHash::Sha256 => Md::sha256(),
            OaepHash::Sha384 => Md::sha384(),
            OaepHash::Sha512 => Md::sha512(),
        }
    }
}

/// A key transport algorithm with its parameters.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeyTransport {
    /// `xmlenc#rsa-oaep-mgf1p`: MGF1 with SHA-1; the OAEP digest is selectable
    /// (`ds:DigestMethod`, default SHA-1; Okta sends SHA-1).
    RsaOaepMgf1p { digest: OaepHash },
    /// `xmlenc11#rsa-oaep`: OAEP digest and MGF1 hash both selectable (default SHA-1).
    RsaOaep { digest: OaepHash, mgf: OaepHash },
}

impl KeyTransport {
    /// What Okta uses: `rsa-oaep-mgf1p` with SHA-1.
    pub const OKTA: KeyTransport = KeyTransport::RsaOaepMgf1p {
        digest: OaepHash::Sha1,
    };

    pub fn uri(self) -> &'static str {
        match self {
            KeyTransport::RsaOaepMgf1p { .. } => RSA_OAEP_MGF1P,
            KeyTransport::RsaOaep { .. } => RSA_OAEP,
        }
    }

    pub fn digest(self) -> OaepHash {
        match self {
            KeyTransport::RsaOaepMgf1p { digest } | KeyTransport::RsaOaep { digest, .. } => digest,
        }
    }

    pub fn mgf(self) -> OaepHash {
        match self {
            KeyTransport::RsaOaepMgf1p { .. } => OaepHash::Sha1,
            KeyTransport::RsaOaep { mgf, .. } => mgf,
        }
    }

    /// `rsa-oaep-mgf1p(sha1)` or `rsa-oaep(sha256, mgf1sha256)`.
    pub fn name(self) -> String {
        match self {
            KeyTransport::RsaOaepMgf1p { digest } => format!("rsa-oaep-mgf1p({})", digest.name()),
            KeyTransport::RsaOaep { digest, mgf } => {
                format!("rsa-oaep({}, mgf1{})", digest.name(), mgf.name())
            }
        }
    }

    /// Parse `rsa-oaep-mgf1p`, `rsa-oaep-mgf1p:sha256`, `rsa-oaep`, `rsa-oaep:sha256`,
    /// `rsa-oaep:sha256:sha512` (digest, then MGF1 hash; defaults SHA-1).
    pub fn from_spec(spec: &str) -> Option<Self> {
        let mut parts = spec.split(':');
        let alg = parts.next()?;
        let digest = parts
            .next()
            .map_or(Some(OaepHash::Sha1), OaepHash::from_name)?;
        let mgf = parts
            .next()
            .map_or(Some(OaepHash::Sha1), OaepHash::from_name)?;
        let more = parts.next().is_some();
        match (alg, more) {
            ("rsa-oaep-mgf1p", false) if mgf == OaepHash::Sha1 => {
                Some(KeyTransport::RsaOaepMgf1p { digest })
            }
            ("rsa-oaep", false) => Some(KeyTransport::RsaOaep { digest, mgf }),
            _ => None,
        }
    }
}

/// An SP private key used to decrypt assertions (RSA, at least 2048 bits).
#[derive(Clone)]
pub struct DecryptionKey {
    key: PKey<Private>,
    fingerprint: String,
}

impl std::fmt::Debug for DecryptionKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DecryptionKey")
            .field("bits", &self.key.bits())
            .field("public_key_sha256", &self.fingerprint)
            .finish_non_exhaustive()
    }
}

impl DecryptionKey {
    /// From a PEM private key (PKCS#8 or traditional RSA).
    pub fn from_pem(pem: &[u8]) -> Result<Self, SamlError> {
        let key = PKey::private_key_from_pem(pem)
            .map_err(|e| SamlError::SpKeyInvalid(format!("not a PEM private key: {e}")))?;
        Self::from_private_key(key)
    }

    /// From an openssl private key: RSA of at least 2048 bits.
    pub fn from_private_key(key: PKey<Private>) -> Result<Self, SamlError> {
        if key.id() != Id::RSA {
            return Err(SamlError::SpKeyInvalid(format!(
                "decryption keys must be RSA, not {:?}",
                key.id()
            )));
        }
        if key.bits() < MIN_RSA_BITS {
            return Err(SamlError::SpKeyInvalid(format!(
                "RSA key of {} bits; at least {MIN_RSA_BITS} required",
                key.bits()
            )));
        }
        let fingerprint = public_key_fingerprint(&key)?;
        Ok(DecryptionKey { key, fingerprint })
    }

    /// SHA-256 of the public key (SubjectPublicKeyInfo DER), colon-separated hex: names
    /// the key in traces and logs without revealing anything.
    pub fn fingerprint(&self) -> &str {
        &self.fingerprint
    }

    pub fn bits(&self) -> u32 {
        self.key.bits()
    }
}

/// SHA-256 of a key's SubjectPublicKeyInfo DER, colon-separated hex.
pub(super) fn public_key_fingerprint<T: openssl::pkey::HasPublic>(
    key: &PKey<T>,
) -> Result<String, SamlError> {
    let der = key
        .public_key_to_der()
        .map_err(|e| SamlError::SpKeyInvalid(format!("public key: {e}")))?;
    let digest = openssl::hash::hash(openssl::hash::MessageDigest::sha256(), &der)
        .map_err(|e| SamlError::SpKeyInvalid(format!("digest: {e}")))?;
    Ok(digest
        .iter()
        .map(|b| format!("{b:02X}"))
        .collect::<Vec<_>>()
        .join(":"))
}

/// Where the `EncryptedKey` was found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum KeyLocation {
    /// Inside `EncryptedData/ds:KeyInfo`.
    KeyInfo,
    /// A sibling named by `ds:RetrievalMethod URI="#id"` (Okta's layout).
    RetrievalMethod(String),
    /// The only sibling `EncryptedKey` (no RetrievalMethod).
    SoleSibling,
}

impl std::fmt::Display for KeyLocation {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            KeyLocation::KeyInfo => f.write_str("EncryptedKey inside EncryptedData/KeyInfo"),
            KeyLocation::RetrievalMethod(id) => {
                write!(f, "sibling EncryptedKey '{id}' named by RetrievalMethod")
            }
            KeyLocation::SoleSibling => f.write_str("the only sibling EncryptedKey"),
        }
    }
}

/// An `EncryptedAssertion` read from the document, not yet decrypted.
#[derive(Clone)]
pub struct EncryptedParts {
    pub cipher: BlockCipher,
    pub transport: KeyTransport,
    pub key_location: KeyLocation,
    oaep_label: Vec<u8>,
    encrypted_key: Vec<u8>,
    ciphertext: Vec<u8>,
}

impl std::fmt::Debug for EncryptedParts {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("EncryptedParts")
            .field("cipher", &self.cipher)
            .field("transport", &self.transport)
            .field("key_location", &self.key_location)
            .field("ciphertext_len", &self.ciphertext.len())
            .finish_non_exhaustive()
    }
}

impl EncryptedParts {
    /// One line for traces: algorithms and where the key was found.
    pub fn describe(&self) -> String {
        format!(
            "{} with the content key transported by {} ({}); {} bytes of ciphertext",
            self.cipher.name(),
            self.transport.name(),
            self.key_location,
            self.ciphertext.len()
        )
    }
}

/// Element children of `id`, refusing non-whitespace text, comments and PIs.
fn element_children(doc: &Document, id: NodeId, what: &str) -> Result<Vec<NodeId>, SamlError> {
    let e = doc
        .element(id)
        .ok_or_else(|| unsupported(format!("{what} is not an element")))?;
    let mut out = Vec::new();
    for &c in e.children {
        match doc.kind(c) {
            Some(NodeKind::Element(_)) => out.push(c),
            Some(NodeKind::Text(t)) if t.trim().is_empty() => {}
            _ => return Err(unsupported(format!("unexpected content in {what}"))),
        }
    }
    Ok(out)
}

fn qname(doc: &Document, id: NodeId) -> String {
    doc.element(id).map(|e| e.qname()).unwrap_or_default()
}

fn is(doc: &Document, id: NodeId, ns: &str, local: &str) -> bool {
    doc.element(id).is_some_and(|e| e.is(ns, local))
}

fn algorithm(doc: &Document, id: NodeId, what: &str) -> Result<String, SamlError> {
    doc.element(id)
        .and_then(|e| e.attr("Algorithm"))
        .map(str::to_string)
        .ok_or_else(|| unsupported(format!("{what} without Algorithm")))
}

fn base64_content(doc: &Document, id: NodeId, what: &str) -> Result<Vec<u8>, SamlError> {
    let only_text = doc.element(id).is_some_and(|e| {
        e.children
            .iter()
            .all(|&c| matches!(doc.kind(c), Some(NodeKind::Text(_))))
    });
    if !only_text {
        return Err(unsupported(format!("{what} must hold only base64 text")));
    }
    let text: String = doc
        .text_content(id)
        .chars()
        .filter(|c| !c.is_ascii_whitespace())
        .collect();
    base64::engine::general_purpose::STANDARD
        .decode(text.as_bytes())
        .map_err(|e| unsupported(format!("{what} is not base64: {e}")))
}

/// `CipherData` with exactly one `CipherValue` (a `CipherReference` would mean fetching).
fn cipher_value(doc: &Document, cipher_data: NodeId, what: &str) -> Result<Vec<u8>, SamlError> {
    match element_children(doc, cipher_data, what)?.as_slice() {
        [v] if is(doc, *v, NS_XENC, "CipherValue") => base64_content(doc, *v, "CipherValue"),
        [r] if is(doc, *r, NS_XENC, "CipherReference") => Err(unsupported(format!(
            "{what} uses a CipherReference; only an inline CipherValue is accepted"
        ))),
        _ => Err(unsupported(format!(
            "{what} must hold exactly one CipherValue"
        ))),
    }
}

/// Read the `EncryptedAssertion` at `node` of `doc`: its `EncryptedData`, the
/// `EncryptedKey` it uses, and their algorithms. No key is used yet.
pub fn parse_encrypted_assertion(
    doc: &Document,
    node: NodeId,
) -> Result<EncryptedParts, SamlError> {
    if !is(doc, node, NS_SAML, "EncryptedAssertion") {
        return Err(unsupported("not a saml:EncryptedAssertion"));
    }
    let children = element_children(doc, node, "EncryptedAssertion")?;
    let (data, siblings) = match children.split_first() {
        Some((d, rest)) if is(doc, *d, NS_XENC, "EncryptedData") => (*d, rest),
        _ => {
            return Err(unsupported(
                "the EncryptedAssertion must start with one xenc:EncryptedData",
            ));
        }
    };
    for &s in siblings {
        if !is(doc, s, NS_XENC, "EncryptedKey") {
            return Err(unsupported(format!(
                "unexpected <{}> in EncryptedAssertion",
                qname(doc, s)
            )));
        }
    }

    let data_el = doc
        .element(data)
        .ok_or_else(|| unsupported("EncryptedData"))?;
    match data_el.attr("Type") {
        None | Some(TYPE_ELEMENT) => {}
        Some(t) => {
            return Err(unsupported(format!(
                "EncryptedData Type '{t}'; only a whole encrypted element ({TYPE_ELEMENT}) is accepted"
            )));
        }
    }
    let parts = element_children(doc, data, "EncryptedData")?;
    // Schema order: EncryptionMethod?, ds:KeyInfo?, CipherData, EncryptionProperties?
    let mut method = None;
    let mut key_info = None;
    let mut cipher_data = None;
    let mut next_stage = 0;
    for &p in &parts {
        let stage = match doc.element(p) {
            Some(e) if e.is(NS_XENC, "EncryptionMethod") => 0,
            Some(e) if e.is(NS_DSIG, "KeyInfo") => 1,
            Some(e) if e.is(NS_XENC, "CipherData") => 2,
            Some(e) if e.is(NS_XENC, "EncryptionProperties") => 3,
            _ => {
                return Err(unsupported(format!(
                    "unexpected <{}> in EncryptedData",
                    qname(doc, p)
                )));
            }
        };
        if stage < next_stage {
            return Err(unsupported(format!(
                "<{}> repeated or out of order in EncryptedData",
                qname(doc, p)
            )));
        }
        next_stage = stage + 1;
        match stage {
            0 => method = Some(p),
            1 => key_info = Some(p),
            2 => cipher_data = Some(p),
            _ => {}
        }
    }
    let method = method.ok_or_else(|| {
        unsupported("EncryptedData without EncryptionMethod (the algorithm must be named)")
    })?;
    let cipher = BlockCipher::from_uri(&algorithm(doc, method, "EncryptionMethod")?)?;
    if let Some(extra) = element_children(doc, method, "EncryptionMethod")?.first() {
        return Err(unsupported(format!(
            "unexpected <{}> in the block cipher's EncryptionMethod",
            qname(doc, *extra)
        )));
    }
    let cipher_data = cipher_data.ok_or_else(|| unsupported("EncryptedData without CipherData"))?;
    let ciphertext = cipher_value(doc, cipher_data, "EncryptedData CipherData")?;

    let (encrypted_key, key_location) = find_encrypted_key(doc, key_info, siblings)?;
    let (transport, oaep_label, wrapped) = parse_encrypted_key(doc, encrypted_key)?;
    Ok(EncryptedParts {
        cipher,
        transport,
        key_location,
        oaep_label,
        encrypted_key: wrapped,
        ciphertext,
    })
}

fn find_encrypted_key(
    doc: &Document,
    key_info: Option<NodeId>,
    siblings: &[NodeId],
) -> Result<(NodeId, KeyLocation), SamlError> {
    let mut inline = Vec::new();
    let mut retrieval = Vec::new();
    if let Some(ki) = key_info {
        for c in element_children(doc, ki, "EncryptedData KeyInfo")? {
            match doc.element(c) {
                Some(e) if e.is(NS_XENC, "EncryptedKey") => inline.push(c),
                Some(e) if e.is(NS_DSIG, "RetrievalMethod") => retrieval.push(c),
                Some(e) if e.is(NS_DSIG, "KeyName") => {}
                _ => {
                    return Err(unsupported(format!(
                        "<{}> in EncryptedData KeyInfo (only EncryptedKey, RetrievalMethod, KeyName)",
                        qname(doc, c)
                    )));
                }
            }
        }
    }
    match (inline.as_slice(), retrieval.as_slice()) {
        ([k], []) => Ok((*k, KeyLocation::KeyInfo)),
        ([], [r]) => {
            let el = doc
                .element(*r)
                .ok_or_else(|| unsupported("RetrievalMethod"))?;
            if let Some(t) = el.attr("Type")
                && t != TYPE_ENCRYPTED_KEY
            {
                return Err(unsupported(format!(
                    "RetrievalMethod Type '{t}' (only {TYPE_ENCRYPTED_KEY})"
                )));
            }
            if !element_children(doc, *r, "RetrievalMethod")?.is_empty() {
                return Err(unsupported("RetrievalMethod with Transforms"));
            }
            let id = el
                .attr("URI")
                .and_then(|u| u.strip_prefix('#'))
                .filter(|id| !id.is_empty())
                .ok_or_else(|| {
                    unsupported(
                        "RetrievalMethod URI must be '#' + the Id of a sibling EncryptedKey",
                    )
                })?;
            siblings
                .iter()
                .copied()
                .find(|&s| doc.element(s).and_then(|e| e.attr("Id")) == Some(id))
                .map(|s| (s, KeyLocation::RetrievalMethod(id.to_string())))
                .ok_or_else(|| {
                    unsupported(format!(
                        "RetrievalMethod URI '#{id}' names no EncryptedKey inside this EncryptedAssertion"
                    ))
                })
        }
        ([], []) => match siblings {
            [one] => Ok((*one, KeyLocation::SoleSibling)),
            [] => Err(unsupported("no EncryptedKey carries the content key")),
            _ => Err(unsupported(
                "several EncryptedKeys and no RetrievalMethod says which one to use",
            )),
        },
        _ => Err(unsupported(
            "EncryptedData KeyInfo names more than one EncryptedKey",
        )),
    }
}

/// The key transport, OAEP label and wrapped key of an `EncryptedKey`.
fn parse_encrypted_key(
    doc: &Document,
    key: NodeId,
) -> Result<(KeyTransport, Vec<u8>, Vec<u8>), SamlError> {
    let parts = element_children(doc, key, "EncryptedKey")?;
    let mut method = None;
    let mut cipher_data = None;
    for &p in &parts {
        let slot = match doc.element(p) {
            Some(e) if e.is(NS_XENC, "EncryptionMethod") => &mut method,
            Some(e) if e.is(NS_XENC, "CipherData") => &mut cipher_data,
            Some(e)
                if e.is(NS_DSIG, "KeyInfo")
                    || e.is(NS_XENC, "ReferenceList")
                    || e.is(NS_XENC, "CarriedKeyName")
                    || e.is(NS_XENC, "EncryptionProperties") =>
            {
                continue;
            }
            _ => {
                return Err(unsupported(format!(
                    "unexpected <{}> in EncryptedKey",
                    qname(doc, p)
                )));
            }
        };
        if slot.replace(p).is_some() {
            return Err(unsupported(format!(
                "<{}> repeated in EncryptedKey",
                qname(doc, p)
            )));
        }
    }
    let method = method.ok_or_else(|| unsupported("EncryptedKey without EncryptionMethod"))?;
    let uri = algorithm(doc, method, "EncryptedKey EncryptionMethod")?;
    let mgf1p = match uri.as_str() {
        RSA_1_5 => return Err(SamlError::Rsa15KeyTransportRefused),
        RSA_OAEP_MGF1P => true,
        RSA_OAEP => false,
        other => return Err(SamlError::KeyTransportUnsupported(other.to_string())),
    };
    let mut digest = None;
    let mut mgf = None;
    let mut label = None;
    for c in element_children(doc, method, "EncryptedKey EncryptionMethod")? {
        let e = doc
            .element(c)
            .ok_or_else(|| unsupported("EncryptionMethod"))?;
        if e.is(NS_DSIG, "DigestMethod") {
            let u = algorithm(doc, c, "DigestMethod")?;
            let h = OaepHash::from_digest_uri(&u)
                .ok_or_else(|| SamlError::KeyTransportUnsupported(format!("OAEP digest {u}")))?;
            if digest.replace(h).is_some() {
                return Err(unsupported("DigestMethod repeated"));
            }
        } else if e.is(NS_XENC11, "MGF") {
            let u = algorithm(doc, c, "MGF")?;
            let h = OaepHash::from_mgf_uri(&u)
                .ok_or_else(|| SamlError::KeyTransportUnsupported(format!("MGF {u}")))?;
            if mgf1p && h != OaepHash::Sha1 {
                return Err(SamlError::KeyTransportUnsupported(format!(
                    "MGF {u} with rsa-oaep-mgf1p (its MGF is MGF1-SHA1 by definition)"
                )));
            }
            if mgf.replace(h).is_some() {
                return Err(unsupported("MGF repeated"));
            }
        } else if e.is(NS_XENC, "OAEPparams") {
            if label
                .replace(base64_content(doc, c, "OAEPparams")?)
                .is_some()
            {
                return Err(unsupported("OAEPparams repeated"));
            }
        } else if e.is(NS_XENC, "KeySize") {
            // Informational for key transport; the content key length is checked.
        } else {
            return Err(unsupported(format!(
                "unexpected <{}> in the key transport's EncryptionMethod",
                e.qname()
            )));
        }
    }
    let digest = digest.unwrap_or(OaepHash::Sha1);
    let transport = if mgf1p {
        KeyTransport::RsaOaepMgf1p { digest }
    } else {
        KeyTransport::RsaOaep {
            digest,
            mgf: mgf.unwrap_or(OaepHash::Sha1),
        }
    };
    let cipher_data = cipher_data.ok_or_else(|| unsupported("EncryptedKey without CipherData"))?;
    let wrapped = cipher_value(doc, cipher_data, "EncryptedKey CipherData")?;
    Ok((transport, label.unwrap_or_default(), wrapped))
}

/// The result of a successful decryption.
#[derive(Clone)]
pub struct Decrypted {
    /// The plaintext octets (not parsed yet).
    pub plaintext: Vec<u8>,
    /// Which SP key (index into the list) unwrapped the content key.
    pub key_index: usize,
    /// True for GCM: the tag proved the ciphertext was made with the content key.
    pub authenticated: bool,
}

impl std::fmt::Debug for Decrypted {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Decrypted")
            .field("plaintext_len", &self.plaintext.len())
            .field("key_index", &self.key_index)
            .field("authenticated", &self.authenticated)
            .finish()
    }
}

fn rsa_oaep_decrypt(
    key: &DecryptionKey,
    transport: KeyTransport,
    label: &[u8],
    wrapped: &[u8],
) -> Result<Vec<u8>, openssl::error::ErrorStack> {
    let mut ctx = PkeyCtx::new(&key.key)?;
    ctx.decrypt_init()?;
    ctx.set_rsa_padding(Padding::PKCS1_OAEP)?;
    ctx.set_rsa_oaep_md(transport.digest().md())?;
    ctx.set_rsa_mgf1_md(transport.mgf().md())?;
    if !label.is_empty() {
        ctx.set_rsa_oaep_label(label)?;
    }
    let mut out = Vec::new();
    ctx.decrypt_to_vec(wrapped, &mut out)?;
    Ok(out)
}

/// Decrypt the content with `cek`. Errors are descriptions for the log.
fn block_decrypt(cipher: BlockCipher, cek: &[u8], data: &[u8]) -> Result<Vec<u8>, String> {
    if cipher.is_authenticated() {
        if data.len() < GCM_IV + GCM_TAG {
            return Err(format!("{} bytes is too short for GCM", data.len()));
        }
        let (iv, rest) = data
            .split_at_checked(GCM_IV)
            .ok_or_else(|| "too short".to_string())?;
        let (body, tag) = rest
            .split_at_checked(rest.len() - GCM_TAG)
            .ok_or_else(|| "too short".to_string())?;
        openssl::symm::decrypt_aead(cipher.cipher(), cek, Some(iv), &[], body, tag)
            .map_err(|_| "the GCM tag does not verify".to_string())
    } else {
        if data.len() < CBC_IV + BLOCK || !(data.len() - CBC_IV).is_multiple_of(BLOCK) {
            return Err(format!(
                "{} bytes is not an IV plus whole CBC blocks",
                data.len()
            ));
        }
        let (iv, body) = data
            .split_at_checked(CBC_IV)
            .ok_or_else(|| "too short".to_string())?;
        let fail = |e: openssl::error::ErrorStack| format!("CBC: {e}");
        let mut c = Crypter::new(cipher.cipher(), Mode::Decrypt, cek, Some(iv)).map_err(fail)?;
        c.pad(false);
        let mut out = vec![0u8; body.len() + BLOCK];
        let n = c.update(body, &mut out).map_err(fail)?;
        let m = c
            .finalize(out.get_mut(n..).unwrap_or_default())
            .map_err(fail)?;
        out.truncate(n + m);
        // XML Encryption padding: the last octet gives the padding length (1..=16); the
        // other padding octets are arbitrary (xmlsec1 writes random ones).
        let pad = usize::from(out.last().copied().unwrap_or(0));
        if pad == 0 || pad > BLOCK || pad > out.len() {
            return Err("invalid CBC padding".to_string());
        }
        out.truncate(out.len() - pad);
        Ok(out)
    }
}

/// Decrypt with the SP keys, in order. Every key performs its RSA-OAEP operation; if none
/// yields a content key of the cipher's length, a random key is used, so the block cipher
/// step runs and fails like any other failure. One public error for all of them.
pub fn decrypt(
    parts: &EncryptedParts,
    keys: &[DecryptionKey],
    max_bytes: usize,
) -> Result<Decrypted, SamlError> {
    if keys.is_empty() {
        return Err(SamlError::DecryptionKeyMissing);
    }
    if parts.ciphertext.len() > max_bytes.saturating_add(GCM_IV + GCM_TAG + BLOCK) {
        return Err(SamlError::InputTooLarge {
            size: parts.ciphertext.len(),
            limit: max_bytes,
        });
    }
    let key_len = parts.cipher.key_len();
    let mut chosen: Option<(usize, Vec<u8>)> = None;
    let mut reasons = Vec::new();
    for (i, k) in keys.iter().enumerate() {
        match rsa_oaep_decrypt(k, parts.transport, &parts.oaep_label, &parts.encrypted_key) {
            Ok(cek) if cek.len() == key_len => {
                if chosen.is_none() {
                    chosen = Some((i, cek));
                }
            }
            Ok(cek) => reasons.push(format!(
                "SP key #{i} ({}): the transported key is {} bytes, {} needs {key_len}",
                k.fingerprint(),
                cek.len(),
                parts.cipher.name()
            )),
            Err(e) => reasons.push(format!(
                "SP key #{i} ({}): {} failed ({e})",
                k.fingerprint(),
                parts.transport.name()
            )),
        }
    }
    let (index, cek) = match chosen {
        Some((i, cek)) => (Some(i), cek),
        None => {
            let mut random = vec![0u8; key_len];
            if openssl::rand::rand_bytes(&mut random).is_err() {
                return Err(SamlError::DecryptionFailed(DecryptionFailure::new(
                    "no SP key unwrapped the content key (and the RNG failed)",
                )));
            }
            (None, random)
        }
    };
    let result = block_decrypt(parts.cipher, &cek, &parts.ciphertext);
    match (index, result) {
        (Some(key_index), Ok(plaintext)) => Ok(Decrypted {
            plaintext,
            key_index,
            authenticated: parts.cipher.is_authenticated(),
        }),
        (Some(i), Err(why)) => Err(SamlError::DecryptionFailed(DecryptionFailure::new(
            format!(
                "SP key #{i} unwrapped the content key, but {} decryption failed: {why}",
                parts.cipher.name()
            ),
        ))),
        (None, _) => Err(SamlError::DecryptionFailed(DecryptionFailure::new(
            format!(
                "no SP key unwrapped the content key: {}",
                reasons.join("; ")
            ),
        ))),
    }
}

/// The element name of the synthetic parent the plaintext is parsed under.
const WRAPPER: &str = "DecryptedContent";

/// Parse decrypted octets with the hardened parser, in the namespace context of the
/// `EncryptedAssertion` they replace (XML Encryption §4.5: a decrypted element is parsed
/// where the `EncryptedData` stood). The declarations in scope at `context` in
/// `context_doc` are put on a synthetic parent element; the plaintext must be exactly
/// one `saml:Assertion` element (surrounding whitespace and an XML declaration allowed).
/// Every parser limit applies; the wrapper adds one level of depth.
///
/// Returns the document (root = the wrapper) and the Assertion's node.
pub fn parse_decrypted(
    context_doc: &Document,
    context: NodeId,
    plaintext: &[u8],
    limits: &Limits,
) -> Result<(Document, NodeId), SamlError> {
    if plaintext.len() > limits.max_bytes {
        return Err(SamlError::InputTooLarge {
            size: plaintext.len(),
            limit: limits.max_bytes,
        });
    }
    let mut body = plaintext
        .strip_prefix(&[0xEF, 0xBB, 0xBF])
        .unwrap_or(plaintext);
    if body.starts_with(b"<?xml") {
        let end = body
            .windows(2)
            .position(|w| w == b"?>")
            .ok_or_else(|| SamlError::XmlMalformed("unterminated XML declaration".into()))?;
        let (decl, rest) = body
            .split_at_checked(end + 2)
            .ok_or_else(|| SamlError::XmlMalformed("XML declaration".into()))?;
        // The declaration alone must be acceptable (version 1.0, UTF-8).
        let mut probe = decl.to_vec();
        probe.extend_from_slice(b"<x/>");
        xml::parse(&probe, limits)?;
        body = rest;
    }

    let mut decls: Vec<(String, String)> = Vec::new();
    for prefix in context_doc.in_scope_prefixes(context) {
        if let Some(uri) = context_doc.lookup_namespace(context, &prefix) {
            decls.push((prefix, uri.to_string()));
        }
    }
    let mut wrapped = Vec::with_capacity(body.len() + 256);
    wrapped.push(b'<');
    wrapped.extend_from_slice(WRAPPER.as_bytes());
    for (p, uri) in &decls {
        let mut a = String::new();
        if p.is_empty() {
            a.push_str(" xmlns=\"");
        } else {
            a.push_str(" xmlns:");
            a.push_str(p);
            a.push_str("=\"");
        }
        super::sign::escape_attr(&mut a, uri);
        a.push('"');
        wrapped.extend_from_slice(a.as_bytes());
    }
    wrapped.push(b'>');
    let overhead = wrapped.len() + WRAPPER.len() + 3;
    wrapped.extend_from_slice(body);
    wrapped.extend_from_slice(b"</");
    wrapped.extend_from_slice(WRAPPER.as_bytes());
    wrapped.push(b'>');

    let wrapper_limits = Limits {
        max_bytes: limits.max_bytes.saturating_add(overhead),
        max_depth: limits.max_depth.saturating_add(1),
        max_attributes: limits.max_attributes.max(decls.len()),
        max_nodes: limits.max_nodes.saturating_add(1),
    };
    let doc = xml::parse(&wrapped, &wrapper_limits)?;
    let root = doc.root();
    let root_el = doc
        .element(root)
        .ok_or_else(|| SamlError::XmlMalformed("decrypted content".into()))?;
    let mut elements = Vec::new();
    for &c in root_el.children {
        match doc.kind(c) {
            Some(NodeKind::Element(_)) => elements.push(c),
            Some(NodeKind::Text(t)) if t.trim().is_empty() => {}
            _ => {
                return Err(SamlError::SchemaInvalid(
                    "the decrypted content must be exactly one saml:Assertion element".into(),
                ));
            }
        }
    }
    match elements.as_slice() {
        [a] if is(&doc, *a, NS_SAML, "Assertion") => Ok((doc, *a)),
        [other] => Err(SamlError::SchemaInvalid(format!(
            "the EncryptedAssertion decrypts to <{}>, not a saml:Assertion",
            qname(&doc, *other)
        ))),
        [] => Err(SamlError::AssertionMissing),
        many => Err(SamlError::MultipleAssertions(many.len())),
    }
}

// ---- encryption (test and load tooling) ---------------------------------------------------

/// Where the encrypting side puts the `EncryptedKey`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeyPlacement {
    /// Inside `EncryptedData/ds:KeyInfo` (xmlsec1's default layout).
    KeyInfo,
    /// As a sibling of `EncryptedData` in the `EncryptedAssertion`, named by
    /// `ds:KeyInfo/ds:RetrievalMethod` (Okta's layout).
    RetrievalMethod,
}

/// How to encrypt one assertion.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EncryptOptions {
    pub cipher: BlockCipher,
    pub transport: KeyTransport,
    pub placement: KeyPlacement,
    /// `Id` of the `EncryptedData`.
    pub data_id: String,
    /// `Id` of the `EncryptedKey`.
    pub key_id: String,
    /// Put the recipient's certificate in the `EncryptedKey`'s `KeyInfo` (Okta does).
    pub include_certificate: bool,
}

impl Default for EncryptOptions {
    /// What Okta sends: AES-256-CBC, RSA-OAEP-MGF1P with SHA-1, the EncryptedKey as a
    /// sibling named by RetrievalMethod, the SP certificate in its KeyInfo.
    fn default() -> Self {
        EncryptOptions {
            cipher: BlockCipher::Aes256Cbc,
            transport: KeyTransport::OKTA,
            placement: KeyPlacement::RetrievalMethod,
            data_id: "_ed1".to_string(),
            key_id: "_ek1".to_string(),
            include_certificate: true,
        }
    }
}

fn random_bytes(n: usize) -> Result<Vec<u8>, SamlError> {
    let mut buf = vec![0u8; n];
    openssl::rand::rand_bytes(&mut buf).map_err(|e| enc_failed(format!("random: {e}")))?;
    Ok(buf)
}

fn block_encrypt(cipher: BlockCipher, cek: &[u8], plaintext: &[u8]) -> Result<Vec<u8>, SamlError> {
    let fail = |e: openssl::error::ErrorStack| enc_failed(format!("{}: {e}", cipher.name()));
    if cipher.is_authenticated() {
        let iv = random_bytes(GCM_IV)?;
        let mut tag = [0u8; GCM_TAG];
        let ct =
            openssl::symm::encrypt_aead(cipher.cipher(), cek, Some(&iv), &[], plaintext, &mut tag)
                .map_err(fail)?;
        let mut out = iv;
        out.extend_from_slice(&ct);
        out.extend_from_slice(&tag);
        Ok(out)
    } else {
        let iv = random_bytes(CBC_IV)?;
        // XML Encryption padding (PKCS#7 is a valid instance of it).
        let pad = BLOCK - plaintext.len() % BLOCK;
        let mut padded = plaintext.to_vec();
        padded.extend(std::iter::repeat_n(pad as u8, pad));
        let mut c = Crypter::new(cipher.cipher(), Mode::Encrypt, cek, Some(&iv)).map_err(fail)?;
        c.pad(false);
        let mut out = vec![0u8; padded.len() + BLOCK];
        let n = c.update(&padded, &mut out).map_err(fail)?;
        let m = c
            .finalize(out.get_mut(n..).unwrap_or_default())
            .map_err(fail)?;
        out.truncate(n + m);
        let mut all = iv;
        all.extend_from_slice(&out);
        Ok(all)
    }
}

fn rsa_oaep_encrypt(
    key: &PKey<Public>,
    transport: KeyTransport,
    cek: &[u8],
) -> Result<Vec<u8>, SamlError> {
    let fail = |e: openssl::error::ErrorStack| enc_failed(format!("RSA-OAEP: {e}"));
    let mut ctx = PkeyCtx::new(key).map_err(fail)?;
    ctx.encrypt_init().map_err(fail)?;
    ctx.set_rsa_padding(Padding::PKCS1_OAEP).map_err(fail)?;
    ctx.set_rsa_oaep_md(transport.digest().md()).map_err(fail)?;
    ctx.set_rsa_mgf1_md(transport.mgf().md()).map_err(fail)?;
    let mut out = Vec::new();
    ctx.encrypt_to_vec(cek, &mut out).map_err(fail)?;
    Ok(out)
}

/// Encrypt one serialized `saml:Assertion` (UTF-8 markup, self-contained or relying
/// only on `saml`-namespace context the receiver has) to `recipient`'s RSA key and return
/// the `saml2:EncryptedAssertion` element markup. Fresh random content key and IV from
/// openssl; RSA-OAEP is randomised too, so the output differs on every call.
///
/// Tooling only (tests, load generation, the lead's web tests): the gateway never
/// encrypts assertions.
pub fn encrypt_assertion(
    assertion_xml: &str,
    recipient: &X509,
    opts: &EncryptOptions,
) -> Result<String, SamlError> {
    let public = recipient
        .public_key()
        .map_err(|e| enc_failed(format!("certificate without public key: {e}")))?;
    if public.id() != Id::RSA {
        return Err(enc_failed("the recipient certificate must hold an RSA key"));
    }
    let b64 = &base64::engine::general_purpose::STANDARD;
    let cek = random_bytes(opts.cipher.key_len())?;
    let ciphertext = block_encrypt(opts.cipher, &cek, assertion_xml.as_bytes())?;
    let wrapped = rsa_oaep_encrypt(&public, opts.transport, &cek)?;

    let mut method = String::new();
    method.push_str("<xenc:EncryptionMethod Algorithm=\"");
    method.push_str(opts.transport.uri());
    method.push_str("\"><ds:DigestMethod xmlns:ds=\"");
    method.push_str(NS_DSIG);
    method.push_str("\" Algorithm=\"");
    method.push_str(opts.transport.digest().digest_uri());
    method.push_str("\"/>");
    if let KeyTransport::RsaOaep { mgf, .. } = opts.transport
        && mgf != OaepHash::Sha1
    {
        method.push_str("<xenc11:MGF xmlns:xenc11=\"");
        method.push_str(NS_XENC11);
        method.push_str("\" Algorithm=\"");
        method.push_str(mgf.mgf_uri());
        method.push_str("\"/>");
    }
    method.push_str("</xenc:EncryptionMethod>");

    let cert_info = if opts.include_certificate {
        let der = recipient
            .to_der()
            .map_err(|e| enc_failed(format!("certificate: {e}")))?;
        format!(
            "<ds:KeyInfo xmlns:ds=\"{NS_DSIG}\"><ds:X509Data><ds:X509Certificate>{}</ds:X509Certificate></ds:X509Data></ds:KeyInfo>",
            b64.encode(der)
        )
    } else {
        String::new()
    };
    let mut data_id = String::new();
    super::sign::escape_attr(&mut data_id, &opts.data_id);
    let mut key_id = String::new();
    super::sign::escape_attr(&mut key_id, &opts.key_id);
    let encrypted_key = |with_id: bool, with_refs: bool| {
        let id = if with_id {
            format!(" Id=\"{key_id}\"")
        } else {
            String::new()
        };
        let refs = if with_refs {
            format!(
                "<xenc:ReferenceList><xenc:DataReference URI=\"#{data_id}\"/></xenc:ReferenceList>"
            )
        } else {
            String::new()
        };
        format!(
            "<xenc:EncryptedKey xmlns:xenc=\"{NS_XENC}\"{id}>{method}{cert_info}<xenc:CipherData><xenc:CipherValue>{}</xenc:CipherValue></xenc:CipherData>{refs}</xenc:EncryptedKey>",
            b64.encode(&wrapped)
        )
    };
    let (key_info, sibling) = match opts.placement {
        KeyPlacement::KeyInfo => (
            format!(
                "<ds:KeyInfo xmlns:ds=\"{NS_DSIG}\">{}</ds:KeyInfo>",
                encrypted_key(false, false)
            ),
            String::new(),
        ),
        KeyPlacement::RetrievalMethod => (
            format!(
                "<ds:KeyInfo xmlns:ds=\"{NS_DSIG}\"><ds:RetrievalMethod Type=\"{TYPE_ENCRYPTED_KEY}\" URI=\"#{key_id}\"/></ds:KeyInfo>"
            ),
            encrypted_key(true, true),
        ),
    };
    Ok(format!(
        "<saml2:EncryptedAssertion xmlns:saml2=\"{NS_SAML}\"><xenc:EncryptedData xmlns:xenc=\"{NS_XENC}\" Id=\"{data_id}\" Type=\"{TYPE_ELEMENT}\"><xenc:EncryptionMethod Algorithm=\"{}\"/>{key_info}<xenc:CipherData><xenc:CipherValue>{}</xenc:CipherValue></xenc:CipherData></xenc:EncryptedData>{sibling}</saml2:EncryptedAssertion>",
        opts.cipher.uri(),
        b64.encode(&ciphertext)
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    const ASSERTION: &str = "<saml2:Assertion xmlns:saml2=\"urn:oasis:names:tc:SAML:2.0:assertion\" ID=\"a1\" Version=\"2.0\"><saml2:Issuer>urn:idp</saml2:Issuer></saml2:Assertion>";

    fn key_and_cert() -> (DecryptionKey, X509) {
        let rsa = openssl::rsa::Rsa::generate(2048).unwrap();
        let key = PKey::from_rsa(rsa).unwrap();
        let mut b = X509::builder().unwrap();
        b.set_pubkey(&key).unwrap();
        b.sign(&key, openssl::hash::MessageDigest::sha256())
            .unwrap();
        (DecryptionKey::from_private_key(key).unwrap(), b.build())
    }

    fn parts_of(markup: &str) -> (Document, EncryptedParts) {
        let doc = xml::parse(markup.as_bytes(), &Limits::default()).unwrap();
        let parts = parse_encrypted_assertion(&doc, doc.root()).unwrap();
        (doc, parts)
    }

    fn transports() -> Vec<KeyTransport> {
        let mut v = vec![
            KeyTransport::OKTA,
            KeyTransport::RsaOaepMgf1p {
                digest: OaepHash::Sha256,
            },
        ];
        for digest in OaepHash::ALL {
            for mgf in [OaepHash::Sha1, OaepHash::Sha256, OaepHash::Sha512] {
                v.push(KeyTransport::RsaOaep { digest, mgf });
            }
        }
        v
    }

    #[test]
    fn round_trips_every_algorithm_and_placement() {
        let (key, cert) = key_and_cert();
        for cipher in BlockCipher::ALL {
            for transport in transports() {
                for placement in [KeyPlacement::KeyInfo, KeyPlacement::RetrievalMethod] {
                    let opts = EncryptOptions {
                        cipher,
                        transport,
                        placement,
                        ..EncryptOptions::default()
                    };
                    let m = encrypt_assertion(ASSERTION, &cert, &opts).unwrap();
                    let (doc, parts) = parts_of(&m);
                    assert_eq!(parts.cipher, cipher);
                    assert_eq!(parts.transport, transport);
                    let d = decrypt(&parts, std::slice::from_ref(&key), 1 << 20).unwrap();
                    assert_eq!(d.plaintext, ASSERTION.as_bytes());
                    assert_eq!(d.authenticated, cipher.is_authenticated());
                    let (dd, a) =
                        parse_decrypted(&doc, doc.root(), &d.plaintext, &Limits::default())
                            .unwrap();
                    assert_eq!(dd.element(a).unwrap().attr("ID"), Some("a1"));
                }
            }
        }
    }

    #[test]
    fn every_failure_is_the_same_public_error() {
        let (key, cert) = key_and_cert();
        let (other, _) = key_and_cert();
        for cipher in [BlockCipher::Aes256Cbc, BlockCipher::Aes256Gcm] {
            let opts = EncryptOptions {
                cipher,
                ..EncryptOptions::default()
            };
            let m = encrypt_assertion(ASSERTION, &cert, &opts).unwrap();
            let (_, parts) = parts_of(&m);
            let wrong = decrypt(&parts, std::slice::from_ref(&other), 1 << 20).unwrap_err();
            let mut bad_key = parts.clone();
            if let Some(b) = bad_key.encrypted_key.get_mut(10) {
                *b ^= 1;
            }
            let bad_key = decrypt(&bad_key, std::slice::from_ref(&key), 1 << 20).unwrap_err();
            let mut bad_ct = parts.clone();
            let n = bad_ct.ciphertext.len();
            if let Some(b) = bad_ct.ciphertext.get_mut(n - 1) {
                *b ^= 0x55;
            }
            let bad_ct = decrypt(&bad_ct, std::slice::from_ref(&key), 1 << 20);
            for e in [&wrong, &bad_key] {
                assert_eq!(e.code(), "decryption_failed");
                assert_eq!(
                    e.to_string(),
                    "the encrypted assertion could not be decrypted with the SP's keys"
                );
                assert!(!format!("{e:?}").contains("OAEP"), "{e:?}");
            }
            assert!(wrong.log_detail().unwrap().contains("no SP key unwrapped"));
            if cipher.is_authenticated() {
                let e = bad_ct.unwrap_err();
                assert_eq!(e.to_string(), wrong.to_string());
                assert!(e.log_detail().unwrap().contains("GCM tag"), "{e:?}");
            }
            // current then next: the second key decrypts.
            let d = decrypt(&parts, &[other.clone(), key.clone()], 1 << 20).unwrap();
            assert_eq!(d.key_index, 1);
        }
    }

    #[test]
    fn refuses_rsa_1_5_and_unknown_algorithms() {
        let (_, cert) = key_and_cert();
        let m = encrypt_assertion(ASSERTION, &cert, &EncryptOptions::default()).unwrap();
        let doc = |s: &str| xml::parse(s.as_bytes(), &Limits::default()).unwrap();
        let r15 = m.replace(RSA_OAEP_MGF1P, RSA_1_5);
        let d = doc(&r15);
        assert_eq!(
            parse_encrypted_assertion(&d, d.root()).unwrap_err().code(),
            "rsa1_5_key_transport_refused"
        );
        let tdes = m.replace(
            BlockCipher::Aes256Cbc.uri(),
            "http://www.w3.org/2001/04/xmlenc#tripledes-cbc",
        );
        let d = doc(&tdes);
        assert_eq!(
            parse_encrypted_assertion(&d, d.root()).unwrap_err().code(),
            "encryption_algorithm_unsupported"
        );
        let md5 = m.replace(
            OaepHash::Sha1.digest_uri(),
            "http://www.w3.org/2001/04/xmldsig-more#md5",
        );
        let d = doc(&md5);
        assert_eq!(
            parse_encrypted_assertion(&d, d.root()).unwrap_err().code(),
            "key_transport_unsupported"
        );
        let elsewhere = m.replace("URI=\"#_ek1\"", "URI=\"#_nowhere\"");
        let d = doc(&elsewhere);
        assert_eq!(
            parse_encrypted_assertion(&d, d.root()).unwrap_err().code(),
            "encrypted_assertion_unsupported"
        );
        let content = m.replace(TYPE_ELEMENT, "http://www.w3.org/2001/04/xmlenc#Content");
        let d = doc(&content);
        assert_eq!(
            parse_encrypted_assertion(&d, d.root()).unwrap_err().code(),
            "encrypted_assertion_unsupported"
        );
    }

    #[test]
    fn decrypted_content_uses_the_namespace_context_and_the_hardened_parser() {
        let ctx = xml::parse(
            b"<r xmlns:saml2=\"urn:oasis:names:tc:SAML:2.0:assertion\"><c/></r>",
            &Limits::default(),
        )
        .unwrap();
        let (c, _) = ctx.child_elements(ctx.root()).next().unwrap();
        let (d, a) = parse_decrypted(
            &ctx,
            c,
            b"<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<saml2:Assertion ID=\"x\"/>\n",
            &Limits::default(),
        )
        .unwrap();
        assert!(d.element(a).unwrap().is(NS_SAML, "Assertion"));
        let p = |s: &str| parse_decrypted(&ctx, c, s.as_bytes(), &Limits::default());
        assert_eq!(
            p("<!DOCTYPE a [<!ENTITY x 'y'>]><saml2:Assertion/>")
                .unwrap_err()
                .code(),
            "dtd_forbidden"
        );
        assert_eq!(
            p("<saml2:Assertion/><saml2:Assertion/>")
                .unwrap_err()
                .code(),
            "multiple_assertions"
        );
        assert_eq!(
            p("<saml2:Assertion/></DecryptedContent><x>")
                .unwrap_err()
                .code(),
            "xml_malformed"
        );
        assert_eq!(
            p("<evil:Assertion/>").unwrap_err().code(),
            "namespace_invalid"
        );
        assert_eq!(p("<saml2:Issuer/>").unwrap_err().code(), "schema_invalid");
        assert_eq!(
            p("<?xml version=\"1.0\" encoding=\"ISO-8859-1\"?><saml2:Assertion/>")
                .unwrap_err()
                .code(),
            "encoding_unsupported"
        );
        let deep = format!(
            "<saml2:Assertion>{}{}</saml2:Assertion>",
            "<a>".repeat(70),
            "</a>".repeat(70)
        );
        assert_eq!(p(&deep).unwrap_err().code(), "depth_exceeded");
    }

    #[test]
    fn key_transport_specs_parse() {
        assert_eq!(
            KeyTransport::from_spec("rsa-oaep-mgf1p"),
            Some(KeyTransport::OKTA)
        );
        assert_eq!(
            KeyTransport::from_spec("rsa-oaep:sha256:sha512"),
            Some(KeyTransport::RsaOaep {
                digest: OaepHash::Sha256,
                mgf: OaepHash::Sha512
            })
        );
        assert_eq!(KeyTransport::from_spec("rsa-oaep-mgf1p:sha1:sha256"), None);
        assert_eq!(KeyTransport::from_spec("rsa-1_5"), None);
        for c in BlockCipher::ALL {
            assert_eq!(BlockCipher::from_name(c.name()), Some(c));
            assert_eq!(BlockCipher::from_uri(c.uri()).unwrap(), c);
        }
    }

    #[test]
    fn decryption_keys_are_rsa_2048_and_redacted() {
        let ec = openssl::ec::EcKey::generate(
            &openssl::ec::EcGroup::from_curve_name(openssl::nid::Nid::X9_62_PRIME256V1).unwrap(),
        )
        .unwrap();
        assert_eq!(
            DecryptionKey::from_private_key(PKey::from_ec_key(ec).unwrap())
                .unwrap_err()
                .code(),
            "sp_key_invalid"
        );
        let small = PKey::from_rsa(openssl::rsa::Rsa::generate(1024).unwrap()).unwrap();
        assert!(DecryptionKey::from_private_key(small).is_err());
        let (k, _) = key_and_cert();
        let dbg = format!("{k:?}");
        assert!(dbg.contains("bits") && !dbg.contains("PRIVATE"), "{dbg}");
    }
}
