//! SAML HTTP-Redirect binding (SAML bindings §3.4): DEFLATE + base64 + URL encoding,
//! with a size limit against decompression bombs, and the query-string signature
//! (`SigAlg`/`Signature` over the raw `SAMLRequest=..&RelayState=..&SigAlg=..` octets).

use std::io::{Read, Write};

use base64::Engine as _;
use flate2::Compression;
use flate2::read::DeflateDecoder;
use flate2::write::DeflateEncoder;
use openssl::pkey::{PKey, Private};
use openssl::sign::Signer;

use super::algorithms::{Digest, SignatureAlgorithm};
use super::dsig::AlgorithmPolicy;
use super::error::SamlError;
use super::sign::SigningKey;
use super::trust::TrustedCertificate;

/// RSA-SHA256, the default for signed redirect messages.
pub const SIG_RSA_SHA256: &str = "http://www.w3.org/2001/04/xmldsig-more#rsa-sha256";

/// DEFLATE then base64 (not yet URL-encoded).
pub fn deflate_base64(xml: &str) -> Result<String, SamlError> {
    let mut enc = DeflateEncoder::new(Vec::new(), Compression::default());
    enc.write_all(xml.as_bytes())
        .map_err(|e| SamlError::XmlMalformed(format!("deflate: {e}")))?;
    let bytes = enc
        .finish()
        .map_err(|e| SamlError::XmlMalformed(format!("deflate: {e}")))?;
    Ok(base64::engine::general_purpose::STANDARD.encode(bytes))
}

/// base64 then INFLATE, refusing output over `limit` bytes (decompression bombs).
pub fn inflate_base64(b64: &str, limit: usize) -> Result<Vec<u8>, SamlError> {
    let clean: String = b64
        .chars()
        .filter(|c| !c.is_ascii_whitespace())
        .map(|c| if c == ' ' { '+' } else { c })
        .collect();
    let raw = base64::engine::general_purpose::STANDARD
        .decode(clean.as_bytes())
        .map_err(|e| SamlError::Base64Invalid(e.to_string()))?;
    let mut out = Vec::new();
    DeflateDecoder::new(raw.as_slice())
        .take(limit as u64 + 1)
        .read_to_end(&mut out)
        .map_err(|e| SamlError::XmlMalformed(format!("not DEFLATE data: {e}")))?;
    if out.len() > limit {
        return Err(SamlError::InputTooLarge {
            size: out.len(),
            limit,
        });
    }
    Ok(out)
}

/// The query string of a Redirect-binding message, up to and including `SigAlg` when
/// `sig_alg` is given: `param=..&RelayState=..&SigAlg=..` in that order, each value
/// DEFLATE+base64 (the message) or as is, then URL-encoded. With a `SigAlg` these are
/// exactly the octets the signature covers (SAML bindings §3.4.4.1).
pub fn redirect_query(
    param: &str,
    xml: &str,
    relay_state: Option<&str>,
    sig_alg: Option<&str>,
) -> Result<String, SamlError> {
    let mut query = format!("{param}={}", urlencode(&deflate_base64(xml)?));
    if let Some(rs) = relay_state {
        query.push_str("&RelayState=");
        query.push_str(&urlencode(rs));
    }
    if let Some(alg) = sig_alg {
        query.push_str("&SigAlg=");
        query.push_str(&urlencode(alg));
    }
    Ok(query)
}

/// Build a signed Redirect-binding URL (SAML bindings §3.4.4.1) for `param`
/// ("SAMLRequest" or "SAMLResponse"): the signature with `alg` covers exactly
/// `param=..&RelayState=..&SigAlg=..` as URL-encoded in the URL, and is appended as
/// `&Signature=` (base64, URL-encoded). RSA-SHA256/384/512 are PKCS#1 v1.5; ECDSA
/// signatures are the XML-DSig raw `r || s`. SHA-1 is refused. The XML must carry no
/// enveloped signature (the binding forbids it).
pub fn signed_redirect_url(
    destination: &str,
    param: &str,
    xml: &str,
    relay_state: Option<&str>,
    key: &SigningKey,
    alg: SignatureAlgorithm,
) -> Result<String, SamlError> {
    if alg.digest == Digest::Sha1 {
        return Err(SamlError::SigningFailed(
            "SHA-1 signatures are not produced".into(),
        ));
    }
    let mut query = redirect_query(param, xml, relay_state, Some(alg.uri()))?;
    let sig = key.sign(alg, query.as_bytes())?;
    query.push_str("&Signature=");
    query.push_str(&urlencode(
        &base64::engine::general_purpose::STANDARD.encode(sig),
    ));
    let sep = if destination.contains('?') { '&' } else { '?' };
    Ok(format!("{destination}{sep}{query}"))
}

/// Build a Redirect-binding URL for `param` ("SAMLRequest" or "SAMLResponse"), signed
/// with RSA-SHA256 when a key is given (see [`signed_redirect_url`] for other
/// algorithms and ECDSA keys).
pub fn redirect_url(
    destination: &str,
    param: &str,
    xml: &str,
    relay_state: Option<&str>,
    key: Option<&PKey<Private>>,
) -> Result<String, SamlError> {
    let mut query = redirect_query(
        param,
        xml,
        relay_state,
        key.is_some().then_some(SIG_RSA_SHA256),
    )?;
    if let Some(key) = key {
        let mut signer = Signer::new(openssl::hash::MessageDigest::sha256(), key)
            .map_err(|e| SamlError::SignatureMalformed(e.to_string()))?;
        let sig = signer
            .sign_oneshot_to_vec(query.as_bytes())
            .map_err(|e| SamlError::SignatureMalformed(e.to_string()))?;
        query.push_str("&Signature=");
        query.push_str(&urlencode(
            &base64::engine::general_purpose::STANDARD.encode(sig),
        ));
    }
    let sep = if destination.contains('?') { '&' } else { '?' };
    Ok(format!("{destination}{sep}{query}"))
}

/// Percent-encode everything but unreserved characters (RFC 3986), as the query values
/// of [`redirect_url`] are encoded.
pub fn urlencode(s: &str) -> String {
    let mut out = String::with_capacity(s.len() * 3 / 2);
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'~') {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

fn urldecode(s: &str) -> Result<String, SamlError> {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while let Some(&b) = bytes.get(i) {
        match b {
            b'+' => out.push(b' '),
            b'%' => {
                let hex = bytes
                    .get(i + 1..i + 3)
                    .and_then(|h| std::str::from_utf8(h).ok())
                    .and_then(|h| u8::from_str_radix(h, 16).ok())
                    .ok_or_else(|| {
                        SamlError::XmlMalformed("bad percent-encoding in query".into())
                    })?;
                out.push(hex);
                i += 2;
            }
            _ => out.push(b),
        }
        i += 1;
    }
    String::from_utf8(out)
        .map_err(|_| SamlError::EncodingUnsupported("query value is not UTF-8".into()))
}

/// A message received through the Redirect binding.
#[derive(Debug, Clone)]
pub struct RedirectMessage {
    /// "SAMLRequest" or "SAMLResponse".
    pub param: String,
    pub xml: Vec<u8>,
    pub relay_state: Option<String>,
    /// (SigAlg URI, signature bytes, the exact signed octets), when signed.
    pub signature: Option<(String, Vec<u8>, String)>,
}

/// Decode a raw query string (as received, still URL-encoded).
pub fn decode_redirect(raw_query: &str, limit: usize) -> Result<RedirectMessage, SamlError> {
    let mut msg: Option<(&str, &str)> = None;
    let mut relay: Option<&str> = None;
    let mut sig_alg: Option<&str> = None;
    let mut signature: Option<&str> = None;
    for pair in raw_query.split('&') {
        let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
        let slot = match k {
            "SAMLRequest" | "SAMLResponse" => {
                if msg.replace((k, v)).is_some() {
                    return Err(SamlError::XmlMalformed(
                        "two SAML messages in one query".into(),
                    ));
                }
                continue;
            }
            "RelayState" => &mut relay,
            "SigAlg" => &mut sig_alg,
            "Signature" => &mut signature,
            _ => continue,
        };
        if slot.replace(v).is_some() {
            return Err(SamlError::XmlMalformed(format!("parameter {k} repeated")));
        }
    }
    let (param, raw_msg) =
        msg.ok_or_else(|| SamlError::XmlMalformed("no SAMLRequest or SAMLResponse".into()))?;
    let xml = inflate_base64(&urldecode(raw_msg)?, limit)?;
    let signature = match (sig_alg, signature) {
        (Some(alg), Some(sig)) => {
            // Bindings §3.4.4.1: the octets signed are the parameters as received.
            let mut signed = format!("{param}={raw_msg}");
            if let Some(rs) = relay {
                signed.push_str("&RelayState=");
                signed.push_str(rs);
            }
            signed.push_str("&SigAlg=");
            signed.push_str(alg);
            let sig_bytes = base64::engine::general_purpose::STANDARD
                .decode(urldecode(sig)?.replace(' ', "+").as_bytes())
                .map_err(|e| {
                    SamlError::SignatureMalformed(format!("Signature is not base64: {e}"))
                })?;
            Some((urldecode(alg)?, sig_bytes, signed))
        }
        (None, None) => None,
        _ => {
            return Err(SamlError::SignatureMalformed(
                "SigAlg and Signature must come together".into(),
            ));
        }
    };
    Ok(RedirectMessage {
        param: param.to_string(),
        xml,
        relay_state: relay.map(urldecode).transpose()?,
        signature,
    })
}

/// Verify a Redirect-binding signature against the trusted keys.
pub fn verify_redirect_signature(
    sig: &(String, Vec<u8>, String),
    keys: &[TrustedCertificate],
    policy: &AlgorithmPolicy,
) -> Result<usize, SamlError> {
    let (alg_uri, signature, signed) = sig;
    let alg = SignatureAlgorithm::from_uri(alg_uri)?;
    if alg.digest == super::algorithms::Digest::Sha1 && !policy.allow_sha1 {
        return Err(SamlError::Sha1Forbidden(format!(
            "redirect SigAlg {}",
            alg.name()
        )));
    }
    // RSA PKCS#1 v1.5, or ECDSA as XML-DSig raw r || s, each only with a key of its kind.
    keys.iter()
        .position(|k| super::dsig::verify_with_key(k, alg, signed.as_bytes(), signature))
        .ok_or(SamlError::SignatureInvalid("redirect-binding"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_and_bomb_limit() {
        let xml =
            "<samlp:LogoutRequest xmlns:samlp='urn:oasis:names:tc:SAML:2.0:protocol' ID='a'/>";
        let url = redirect_url("https://idp/slo", "SAMLRequest", xml, Some("r s&t"), None).unwrap();
        let query = url.split_once('?').unwrap().1;
        let m = decode_redirect(query, 1024).unwrap();
        assert_eq!(m.xml, xml.as_bytes());
        assert_eq!(m.relay_state.as_deref(), Some("r s&t"));
        assert!(m.signature.is_none());
        let bomb = "a".repeat(10_000_000);
        let b64 = deflate_base64(&bomb).unwrap();
        assert_eq!(
            inflate_base64(&b64, 256 * 1024).unwrap_err().code(),
            "input_too_large"
        );
    }

    #[test]
    fn signed_redirect_verifies_and_tampering_fails() {
        let rsa = openssl::rsa::Rsa::generate(2048).unwrap();
        let key = PKey::from_rsa(rsa).unwrap();
        let mut b = openssl::x509::X509::builder().unwrap();
        b.set_pubkey(&key).unwrap();
        b.sign(&key, openssl::hash::MessageDigest::sha256())
            .unwrap();
        let trusted = TrustedCertificate::from_x509(&b.build()).unwrap();
        let url = redirect_url(
            "https://sp/slo",
            "SAMLRequest",
            "<x/>",
            Some("rs"),
            Some(&key),
        )
        .unwrap();
        let query = url.split_once('?').unwrap().1;
        let m = decode_redirect(query, 1024).unwrap();
        let policy = AlgorithmPolicy::default();
        assert_eq!(
            verify_redirect_signature(
                m.signature.as_ref().unwrap(),
                std::slice::from_ref(&trusted),
                &policy
            )
            .unwrap(),
            0
        );
        let tampered = query.replace("RelayState=rs", "RelayState=rt");
        let m = decode_redirect(&tampered, 1024).unwrap();
        assert!(
            verify_redirect_signature(m.signature.as_ref().unwrap(), &[trusted], &policy).is_err()
        );
    }
}
