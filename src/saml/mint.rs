//! Minting Okta-shaped SAML Responses, signed with [`super::sign`]: test and load
//! tooling (the `mint-response` command), never used on the login path.
//!
//! The shape follows what Okta sends (and `tests/fixtures/responses/okta-*.xml`):
//! `saml2p`/`saml2` prefixes, `xmlns:xs` on the Response and the Assertion, an entity
//! `Issuer`, status Success, a bearer `Subject`, `Conditions` with an
//! `AudienceRestriction`, an `AuthnStatement` (PasswordProtectedTransport) and an
//! `AttributeStatement` whose values are `xsi:type="xs:string"`.
//!
//! Pure: the time and every ID come from the caller ([`okta_id`] and
//! [`okta_session_index`] turn caller-supplied random bytes into Okta-style values).

use chrono::{DateTime, Duration, SecondsFormat, Utc};

use super::algorithms::SignatureAlgorithm;
use super::error::SamlError;
use super::sign::{
    SigningKey, element_markup, escape_attr, escape_text, replace_element, sign_element,
};
use super::structure::{NS_SAML, NS_SAMLP, STATUS_SUCCESS};
#[cfg(test)]
use super::xml;
use super::xmlenc::{EncryptOptions, encrypt_assertion};

const NS_XS: &str = "http://www.w3.org/2001/XMLSchema";
const NS_XSI: &str = "http://www.w3.org/2001/XMLSchema-instance";
const ENTITY_FORMAT: &str = "urn:oasis:names:tc:SAML:2.0:nameid-format:entity";
const BEARER: &str = "urn:oasis:names:tc:SAML:2.0:cm:bearer";
const PPT: &str = "urn:oasis:names:tc:SAML:2.0:ac:classes:PasswordProtectedTransport";
const ATTRNAME_UNSPECIFIED: &str = "urn:oasis:names:tc:SAML:2.0:attrname-format:unspecified";

/// NameID format `unspecified` (Okta's default for new apps).
pub const NAMEID_UNSPECIFIED: &str = "urn:oasis:names:tc:SAML:1.1:nameid-format:unspecified";
/// NameID format `emailAddress`.
pub const NAMEID_EMAIL: &str = "urn:oasis:names:tc:SAML:1.1:nameid-format:emailAddress";

/// How long before `IssueInstant` the Conditions start (Okta: 5 minutes).
pub const NOT_BEFORE_LEEWAY_SECONDS: i64 = 300;
/// Default lifetime of an assertion (Okta: 5 minutes).
pub const DEFAULT_VALIDITY_SECONDS: i64 = 300;

/// Which elements carry a signature.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SigningLayout {
    /// Only the Response (Okta's "Response signed").
    Response,
    /// Only the Assertion (Okta's default).
    Assertion,
    /// The Assertion, then the Response over it.
    Both,
}

/// Everything that goes into one minted Response.
#[derive(Debug, Clone)]
pub struct MintOptions {
    /// The IdP entity ID (Response and Assertion `Issuer`).
    pub issuer: String,
    /// The SP entity ID (`Audience`).
    pub audience: String,
    /// The SP's ACS URL (`Destination` and `Recipient`).
    pub acs_url: String,
    pub name_id: String,
    pub name_id_format: String,
    /// Attributes in order, each with its values (rendered as Okta does: NameFormat
    /// unspecified, `xsi:type="xs:string"`). An empty list omits the AttributeStatement.
    pub attributes: Vec<(String, Vec<String>)>,
    /// The AuthnRequest ID answered (`None`: IdP-initiated, no InResponseTo anywhere).
    pub in_response_to: Option<String>,
    pub issue_instant: DateTime<Utc>,
    /// When the user authenticated (`None`: the issue instant).
    pub authn_instant: Option<DateTime<Utc>>,
    /// Conditions `NotOnOrAfter` (and SubjectConfirmationData's) = issue instant + this.
    /// `NotBefore` is always the issue instant minus 5 minutes, as Okta does.
    pub validity: Duration,
    /// `SessionNotOnOrAfter` of the AuthnStatement (`None`: omitted).
    pub session_not_on_or_after: Option<DateTime<Utc>>,
    pub session_index: String,
    pub response_id: String,
    pub assertion_id: String,
    pub layout: SigningLayout,
}

impl MintOptions {
    /// Okta defaults: 5-minute validity, 8-hour session, both signed, NameID format
    /// unspecified, no attributes, unsolicited. The IDs and SessionIndex are derived
    /// from `issue_instant` only: set unique ones (see [`okta_id`]) for every response
    /// that must pass a replay cache.
    pub fn new(
        issuer: impl Into<String>,
        audience: impl Into<String>,
        acs_url: impl Into<String>,
        name_id: impl Into<String>,
        issue_instant: DateTime<Utc>,
    ) -> Self {
        let ms = issue_instant.timestamp_millis();
        MintOptions {
            issuer: issuer.into(),
            audience: audience.into(),
            acs_url: acs_url.into(),
            name_id: name_id.into(),
            name_id_format: NAMEID_UNSPECIFIED.to_string(),
            attributes: Vec::new(),
            in_response_to: None,
            issue_instant,
            authn_instant: None,
            validity: Duration::seconds(DEFAULT_VALIDITY_SECONDS),
            session_not_on_or_after: issue_instant.checked_add_signed(Duration::hours(8)),
            session_index: format!("id{ms}.0000000"),
            response_id: format!("id{ms}1"),
            assertion_id: format!("id{ms}2"),
            layout: SigningLayout::Both,
        }
    }
}

/// An Okta-style ID (`id` followed by decimal digits) from 16 caller-supplied random bytes.
pub fn okta_id(random: [u8; 16]) -> String {
    format!("id{}", u128::from_be_bytes(random))
}

/// An Okta-style SessionIndex (`id<epoch ms>.<7 digits>`) from the issue instant and
/// 4 caller-supplied random bytes.
pub fn okta_session_index(issue_instant: DateTime<Utc>, random: [u8; 4]) -> String {
    format!(
        "id{}.{:07}",
        issue_instant.timestamp_millis(),
        u32::from_be_bytes(random) % 10_000_000
    )
}

/// SAML timestamp: UTC, milliseconds, `Z` (as Okta writes them).
fn ts(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(SecondsFormat::Millis, true)
}

fn attr(out: &mut String, name: &str, value: &str) {
    out.push(' ');
    out.push_str(name);
    out.push_str("=\"");
    escape_attr(out, value);
    out.push('"');
}

fn text(out: &mut String, value: &str) {
    escape_text(out, value);
}

fn check(opts: &MintOptions) -> Result<(), SamlError> {
    let bad = |m: &str| Err(SamlError::SigningFailed(m.to_string()));
    if opts.response_id.is_empty() || opts.assertion_id.is_empty() {
        return bad("the Response and Assertion IDs must not be empty");
    }
    if opts.response_id == opts.assertion_id {
        return bad("the Response and Assertion IDs must differ");
    }
    if opts.validity <= Duration::zero() {
        return bad("the validity must be positive");
    }
    Ok(())
}

/// The unsigned Response document.
pub fn unsigned_response(opts: &MintOptions) -> Result<String, SamlError> {
    check(opts)?;
    let out_of_range = || SamlError::SigningFailed("timestamp out of range".to_string());
    let issue = ts(opts.issue_instant);
    let not_before = ts(opts
        .issue_instant
        .checked_sub_signed(Duration::seconds(NOT_BEFORE_LEEWAY_SECONDS))
        .ok_or_else(out_of_range)?);
    let not_on_or_after = ts(opts
        .issue_instant
        .checked_add_signed(opts.validity)
        .ok_or_else(out_of_range)?);
    let authn_instant = ts(opts.authn_instant.unwrap_or(opts.issue_instant));

    let mut o = String::with_capacity(4096);
    o.push_str("<?xml version=\"1.0\" encoding=\"UTF-8\"?>");
    o.push_str("<saml2p:Response");
    attr(&mut o, "xmlns:saml2p", NS_SAMLP);
    attr(&mut o, "Destination", &opts.acs_url);
    attr(&mut o, "ID", &opts.response_id);
    if let Some(irt) = &opts.in_response_to {
        attr(&mut o, "InResponseTo", irt);
    }
    attr(&mut o, "IssueInstant", &issue);
    attr(&mut o, "Version", "2.0");
    attr(&mut o, "xmlns:xs", NS_XS);
    o.push_str("><saml2:Issuer");
    attr(&mut o, "xmlns:saml2", NS_SAML);
    attr(&mut o, "Format", ENTITY_FORMAT);
    o.push('>');
    text(&mut o, &opts.issuer);
    o.push_str("</saml2:Issuer><saml2p:Status><saml2p:StatusCode");
    attr(&mut o, "Value", STATUS_SUCCESS);
    o.push_str("/></saml2p:Status>");

    o.push_str("<saml2:Assertion");
    attr(&mut o, "xmlns:saml2", NS_SAML);
    attr(&mut o, "ID", &opts.assertion_id);
    attr(&mut o, "IssueInstant", &issue);
    attr(&mut o, "Version", "2.0");
    attr(&mut o, "xmlns:xs", NS_XS);
    o.push_str("><saml2:Issuer");
    attr(&mut o, "Format", ENTITY_FORMAT);
    o.push('>');
    text(&mut o, &opts.issuer);
    o.push_str("</saml2:Issuer>");

    o.push_str("<saml2:Subject><saml2:NameID");
    attr(&mut o, "Format", &opts.name_id_format);
    o.push('>');
    text(&mut o, &opts.name_id);
    o.push_str("</saml2:NameID><saml2:SubjectConfirmation");
    attr(&mut o, "Method", BEARER);
    o.push_str("><saml2:SubjectConfirmationData");
    if let Some(irt) = &opts.in_response_to {
        attr(&mut o, "InResponseTo", irt);
    }
    attr(&mut o, "NotOnOrAfter", &not_on_or_after);
    attr(&mut o, "Recipient", &opts.acs_url);
    o.push_str("/></saml2:SubjectConfirmation></saml2:Subject>");

    o.push_str("<saml2:Conditions");
    attr(&mut o, "NotBefore", &not_before);
    attr(&mut o, "NotOnOrAfter", &not_on_or_after);
    o.push_str("><saml2:AudienceRestriction><saml2:Audience>");
    text(&mut o, &opts.audience);
    o.push_str("</saml2:Audience></saml2:AudienceRestriction></saml2:Conditions>");

    o.push_str("<saml2:AuthnStatement");
    attr(&mut o, "AuthnInstant", &authn_instant);
    attr(&mut o, "SessionIndex", &opts.session_index);
    if let Some(s) = opts.session_not_on_or_after {
        attr(&mut o, "SessionNotOnOrAfter", &ts(s));
    }
    o.push_str("><saml2:AuthnContext><saml2:AuthnContextClassRef>");
    o.push_str(PPT);
    o.push_str("</saml2:AuthnContextClassRef></saml2:AuthnContext></saml2:AuthnStatement>");

    if !opts.attributes.is_empty() {
        o.push_str("<saml2:AttributeStatement>");
        for (name, values) in &opts.attributes {
            o.push_str("<saml2:Attribute");
            attr(&mut o, "Name", name);
            attr(&mut o, "NameFormat", ATTRNAME_UNSPECIFIED);
            o.push('>');
            for v in values {
                o.push_str("<saml2:AttributeValue");
                attr(&mut o, "xmlns:xsi", NS_XSI);
                attr(&mut o, "xsi:type", "xs:string");
                o.push('>');
                text(&mut o, v);
                o.push_str("</saml2:AttributeValue>");
            }
            o.push_str("</saml2:Attribute>");
        }
        o.push_str("</saml2:AttributeStatement>");
    }
    o.push_str("</saml2:Assertion></saml2p:Response>");
    Ok(o)
}

/// Mint a signed Response (see [`SigningLayout`]; for `Both` the Assertion is signed
/// first, then the Response over the signed Assertion).
pub fn mint_response(
    opts: &MintOptions,
    key: &SigningKey,
    alg: SignatureAlgorithm,
) -> Result<String, SamlError> {
    let unsigned = unsigned_response(opts)?;
    match opts.layout {
        SigningLayout::Response => sign_element(&unsigned, &opts.response_id, key, alg),
        SigningLayout::Assertion => sign_element(&unsigned, &opts.assertion_id, key, alg),
        SigningLayout::Both => {
            let a = sign_element(&unsigned, &opts.assertion_id, key, alg)?;
            sign_element(&a, &opts.response_id, key, alg)
        }
    }
}

/// Mint a Response whose Assertion is encrypted to `recipient` (an SP encryption
/// certificate) as `enc` says, signed as Okta does it:
/// - `Assertion`: the Assertion is signed, then encrypted; the Response is unsigned;
/// - `Response`: the Assertion is encrypted unsigned; the Response is signed over the
///   `EncryptedAssertion` (its digest covers the encrypted form);
/// - `Both`: the Assertion is signed and encrypted, then the Response is signed.
///
/// The content key, IVs and OAEP seeds are random (openssl), so every call differs.
pub fn mint_encrypted_response(
    opts: &MintOptions,
    key: &SigningKey,
    alg: SignatureAlgorithm,
    recipient: &openssl::x509::X509,
    enc: &EncryptOptions,
) -> Result<String, SamlError> {
    let unsigned = unsigned_response(opts)?;
    let with_assertion = match opts.layout {
        SigningLayout::Assertion | SigningLayout::Both => {
            sign_element(&unsigned, &opts.assertion_id, key, alg)?
        }
        SigningLayout::Response => unsigned,
    };
    let assertion = element_markup(&with_assertion, &opts.assertion_id)?;
    let encrypted = encrypt_assertion(&assertion, recipient, enc)?;
    let replaced = replace_element(&with_assertion, &opts.assertion_id, &encrypted)?;
    match opts.layout {
        SigningLayout::Assertion => Ok(replaced),
        SigningLayout::Response | SigningLayout::Both => {
            sign_element(&replaced, &opts.response_id, key, alg)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn okta_style_ids() {
        assert_eq!(okta_id([0; 16]), "id0");
        assert!(okta_id([0xff; 16]).starts_with("id340282366920938463463374607431768211455"));
        let t = DateTime::parse_from_rfc3339("2026-06-01T12:00:00Z")
            .unwrap()
            .with_timezone(&Utc);
        assert_eq!(
            okta_session_index(t, [0, 0, 0, 42]),
            "id1780315200000.0000042"
        );
    }

    #[test]
    fn unsigned_shape_and_escaping() {
        let t = DateTime::parse_from_rfc3339("2026-06-01T12:00:00Z")
            .unwrap()
            .with_timezone(&Utc);
        let mut o = MintOptions::new("http://idp", "https://sp", "https://sp/acs", "a<b&\"c", t);
        o.attributes = vec![("k\"".into(), vec!["v<&>".into()])];
        o.in_response_to = Some("_r1".into());
        let x = unsigned_response(&o).unwrap();
        assert!(x.contains("NotBefore=\"2026-06-01T11:55:00.000Z\""), "{x}");
        assert!(
            x.contains("NotOnOrAfter=\"2026-06-01T12:05:00.000Z\""),
            "{x}"
        );
        assert!(x.contains(">a&lt;b&amp;\"c</saml2:NameID>"), "{x}");
        assert!(x.contains("Name=\"k&quot;\""), "{x}");
        assert!(x.contains(">v&lt;&amp;&gt;</saml2:AttributeValue>"), "{x}");
        assert!(xml::parse(x.as_bytes(), &Default::default()).is_ok());
        o.assertion_id = o.response_id.clone();
        assert_eq!(unsigned_response(&o).unwrap_err().code(), "signing_failed");
    }
}
