//! Outbound protocol messages (AuthnRequest, LogoutRequest, LogoutResponse, SP
//! metadata) and the inbound LogoutRequest. Pure: ids and times are inputs.

use chrono::{DateTime, Utc};
use samael::schema::{AuthnRequest, Issuer, NameIdPolicy};
use samael::traits::ToXml;

use super::algorithms::{NS_DSIG, SignatureAlgorithm};
use super::dsig::{self, AlgorithmPolicy};
use super::error::SamlError;
use super::explain::Trace;
use super::sign::{SigningKey, sign_element};
use super::structure::{NS_SAML, NS_SAMLP};
use super::trust::{IdpTrust, TrustedCertificate};
use super::xml::{self, Limits};
use super::xmlenc::{self, BlockCipher};

pub const BINDING_POST: &str = "urn:oasis:names:tc:SAML:2.0:bindings:HTTP-POST";
pub const BINDING_REDIRECT: &str = "urn:oasis:names:tc:SAML:2.0:bindings:HTTP-Redirect";
pub const NAMEID_UNSPECIFIED: &str = "urn:oasis:names:tc:SAML:1.1:nameid-format:unspecified";
pub const NAMEID_EMAIL: &str = "urn:oasis:names:tc:SAML:1.1:nameid-format:emailAddress";
const STATUS_SUCCESS: &str = "urn:oasis:names:tc:SAML:2.0:status:Success";

/// XML-escape text for element content and attribute values.
pub fn escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&apos;"),
            _ => out.push(c),
        }
    }
    out
}

fn instant(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
}

/// An SP-initiated AuthnRequest (HTTP-POST response binding), serialised by samael.
pub fn authn_request(
    id: &str,
    now: DateTime<Utc>,
    idp_sso_url: &str,
    sp_entity_id: &str,
    acs_url: &str,
) -> Result<String, SamlError> {
    let req = AuthnRequest {
        id: id.to_string(),
        version: "2.0".into(),
        issue_instant: now,
        destination: Some(idp_sso_url.to_string()),
        consent: None,
        issuer: Some(Issuer {
            value: Some(sp_entity_id.to_string()),
            ..Issuer::default()
        }),
        signature: None,
        subject: None,
        name_id_policy: Some(NameIdPolicy {
            format: Some(NAMEID_UNSPECIFIED.into()),
            allow_create: Some(true),
            ..NameIdPolicy::default()
        }),
        conditions: None,
        requested_authn_context: None,
        force_authn: None,
        is_passive: None,
        assertion_consumer_service_index: None,
        assertion_consumer_service_url: Some(acs_url.to_string()),
        protocol_binding: Some(BINDING_POST.into()),
        attribute_consuming_service_index: None,
        provider_name: None,
    };
    req.to_string()
        .map_err(|e| SamlError::SchemaInvalid(format!("AuthnRequest serialisation: {e:?}")))
}

/// An SP-initiated AuthnRequest for the HTTP-POST binding, with an enveloped signature
/// (placed after `saml:Issuer`, exc-c14n, one Reference to the request's ID). The caller
/// base64-encodes it into the `SAMLRequest` form field. For the Redirect binding use the
/// unsigned [`authn_request`] with [`super::binding::signed_redirect_url`] instead (the
/// binding forbids an enveloped signature there).
pub fn signed_authn_request(
    id: &str,
    now: DateTime<Utc>,
    idp_sso_url: &str,
    sp_entity_id: &str,
    acs_url: &str,
    key: &SigningKey,
    alg: SignatureAlgorithm,
) -> Result<String, SamlError> {
    let xml = authn_request(id, now, idp_sso_url, sp_entity_id, acs_url)?;
    sign_element(&xml, id, key, alg)
}

/// Enveloped-sign a protocol message we produced (LogoutRequest, LogoutResponse,
/// AuthnRequest) by the `ID` of its document element, for the HTTP-POST binding.
pub fn sign_message(
    xml: &str,
    key: &SigningKey,
    alg: SignatureAlgorithm,
) -> Result<String, SamlError> {
    let doc = xml::parse(xml.as_bytes(), &Limits::default())?;
    let id = doc
        .element(doc.root())
        .and_then(|e| e.attr("ID"))
        .filter(|s| !s.is_empty())
        .ok_or_else(|| SamlError::SigningFailed("the message has no ID".into()))?
        .to_string();
    sign_element(xml, &id, key, alg)
}

/// What our SP metadata publishes for one tenant.
#[derive(Debug, Clone)]
pub struct SpMetadataOptions {
    pub entity_id: String,
    pub acs_url: String,
    pub slo_url: String,
    /// Certificates we sign AuthnRequests, LogoutRequests/Responses and metadata with:
    /// current first, then the next one (published before it is used).
    pub signing_certificates: Vec<TrustedCertificate>,
    /// Certificates the IdP may encrypt assertions to: current, then next (we decrypt
    /// with either).
    pub encryption_certificates: Vec<TrustedCertificate>,
    /// Block ciphers listed as `md:EncryptionMethod` on each encryption key, preferred
    /// first. The key transports we accept are always listed after them.
    pub encryption_methods: Vec<BlockCipher>,
    /// `AuthnRequestsSigned`: true only if every AuthnRequest we send is signed.
    pub authn_requests_signed: bool,
    /// `WantAssertionsSigned`: true only if the verifier is set to require it
    /// (`SpSettings::require_signed_assertions`).
    pub want_assertions_signed: bool,
    /// The `ID` of the EntityDescriptor (required by [`signed_sp_metadata`]).
    pub id: Option<String>,
    /// `validUntil`, recommended for signed metadata.
    pub valid_until: Option<DateTime<Utc>>,
}

impl SpMetadataOptions {
    /// No keys, nothing claimed: unsigned requests, assertions not required to be signed
    /// (a signed Response suffices), the preferred cipher list.
    pub fn new(
        entity_id: impl Into<String>,
        acs_url: impl Into<String>,
        slo_url: impl Into<String>,
    ) -> Self {
        SpMetadataOptions {
            entity_id: entity_id.into(),
            acs_url: acs_url.into(),
            slo_url: slo_url.into(),
            signing_certificates: Vec::new(),
            encryption_certificates: Vec::new(),
            encryption_methods: vec![
                BlockCipher::Aes256Gcm,
                BlockCipher::Aes128Gcm,
                BlockCipher::Aes256Cbc,
                BlockCipher::Aes128Cbc,
            ],
            authn_requests_signed: false,
            want_assertions_signed: false,
            id: None,
            valid_until: None,
        }
    }

    /// The metadata document.
    pub fn to_xml(&self) -> String {
        let key_descriptor = |usage: &str, cert: &TrustedCertificate, methods: &str| {
            format!(
                "\n    <md:KeyDescriptor use=\"{usage}\"><ds:KeyInfo xmlns:ds=\"{NS_DSIG}\"><ds:X509Data><ds:X509Certificate>{}</ds:X509Certificate></ds:X509Data></ds:KeyInfo>{methods}</md:KeyDescriptor>",
                cert.der_base64()
            )
        };
        let mut methods = String::new();
        for c in &self.encryption_methods {
            methods.push_str(&format!("<md:EncryptionMethod Algorithm=\"{}\"/>", c.uri()));
        }
        for t in [xmlenc::RSA_OAEP_MGF1P, xmlenc::RSA_OAEP] {
            methods.push_str(&format!("<md:EncryptionMethod Algorithm=\"{t}\"/>"));
        }
        let mut keys = String::new();
        for c in &self.signing_certificates {
            keys.push_str(&key_descriptor("signing", c, ""));
        }
        for c in &self.encryption_certificates {
            keys.push_str(&key_descriptor("encryption", c, &methods));
        }
        let id = self
            .id
            .as_deref()
            .map(|i| format!(" ID=\"{}\"", escape(i)))
            .unwrap_or_default();
        let valid_until = self
            .valid_until
            .map(|t| format!(" validUntil=\"{}\"", instant(t)))
            .unwrap_or_default();
        format!(
            r#"<?xml version="1.0" encoding="UTF-8"?>
<md:EntityDescriptor xmlns:md="urn:oasis:names:tc:SAML:2.0:metadata" entityID="{eid}"{id}{valid_until}>
  <md:SPSSODescriptor AuthnRequestsSigned="{ars}" WantAssertionsSigned="{was}" protocolSupportEnumeration="urn:oasis:names:tc:SAML:2.0:protocol">{keys}
    <md:SingleLogoutService Binding="{redirect}" Location="{slo}"/>
    <md:SingleLogoutService Binding="{post}" Location="{slo}"/>
    <md:NameIDFormat>{email}</md:NameIDFormat>
    <md:NameIDFormat>{unspec}</md:NameIDFormat>
    <md:AssertionConsumerService Binding="{post}" Location="{acs}" index="0" isDefault="true"/>
  </md:SPSSODescriptor>
</md:EntityDescriptor>
"#,
            eid = escape(&self.entity_id),
            acs = escape(&self.acs_url),
            slo = escape(&self.slo_url),
            ars = self.authn_requests_signed,
            was = self.want_assertions_signed,
            post = BINDING_POST,
            redirect = BINDING_REDIRECT,
            email = NAMEID_EMAIL,
            unspec = NAMEID_UNSPECIFIED,
        )
    }
}

/// Our SP metadata for one tenant, without keys: `AuthnRequestsSigned="false"`
/// (requests are not signed) and `WantAssertionsSigned="false"` (a signed Response is
/// enough for the verifier). See [`SpMetadataOptions`] for keys and the flags.
pub fn sp_metadata(entity_id: &str, acs_url: &str, slo_url: &str) -> String {
    SpMetadataOptions::new(entity_id, acs_url, slo_url).to_xml()
}

/// The SP metadata with an enveloped signature (the first child of the
/// EntityDescriptor, as the metadata schema wants). `opts.id` must be set.
pub fn signed_sp_metadata(
    opts: &SpMetadataOptions,
    key: &SigningKey,
    alg: SignatureAlgorithm,
) -> Result<String, SamlError> {
    let id = opts
        .id
        .as_deref()
        .filter(|i| !i.is_empty())
        .ok_or_else(|| SamlError::SigningFailed("signed metadata needs an ID".into()))?;
    sign_element(&opts.to_xml(), id, key, alg)
}

/// An SP-initiated LogoutRequest.
pub fn logout_request(
    id: &str,
    now: DateTime<Utc>,
    destination: &str,
    sp_entity_id: &str,
    name_id: &str,
    session_index: Option<&str>,
) -> String {
    let si = session_index
        .map(|s| format!("<samlp:SessionIndex>{}</samlp:SessionIndex>", escape(s)))
        .unwrap_or_default();
    format!(
        r#"<samlp:LogoutRequest xmlns:samlp="{NS_SAMLP}" xmlns:saml="{NS_SAML}" ID="{}" Version="2.0" IssueInstant="{}" Destination="{}"><saml:Issuer>{}</saml:Issuer><saml:NameID Format="{NAMEID_UNSPECIFIED}">{}</saml:NameID>{si}</samlp:LogoutRequest>"#,
        escape(id),
        instant(now),
        escape(destination),
        escape(sp_entity_id),
        escape(name_id),
    )
}

/// A LogoutResponse answering `in_response_to`.
pub fn logout_response(
    id: &str,
    now: DateTime<Utc>,
    destination: &str,
    sp_entity_id: &str,
    in_response_to: &str,
) -> String {
    format!(
        r#"<samlp:LogoutResponse xmlns:samlp="{NS_SAMLP}" xmlns:saml="{NS_SAML}" ID="{}" Version="2.0" IssueInstant="{}" Destination="{}" InResponseTo="{}"><saml:Issuer>{}</saml:Issuer><samlp:Status><samlp:StatusCode Value="{STATUS_SUCCESS}"/></samlp:Status></samlp:LogoutResponse>"#,
        escape(id),
        instant(now),
        escape(destination),
        escape(in_response_to),
        escape(sp_entity_id),
    )
}

/// A verified LogoutRequest from the IdP.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VerifiedLogoutRequest {
    pub id: String,
    pub name_id: String,
    pub session_indexes: Vec<String>,
}

/// Check an IdP LogoutRequest. `redirect_signature_verified` is true when the
/// Redirect-binding query signature was verified with the IdP's keys; otherwise the
/// message itself must carry a valid enveloped signature (POST binding).
pub fn verify_logout_request(
    xml_bytes: &[u8],
    idp: &IdpTrust,
    slo_url: &str,
    now: DateTime<Utc>,
    skew: chrono::Duration,
    redirect_signature_verified: bool,
) -> Result<VerifiedLogoutRequest, SamlError> {
    let limits = Limits::default();
    let doc = xml::parse(xml_bytes, &limits)?;
    let root = doc.root();
    let el = doc
        .element(root)
        .ok_or(SamlError::SchemaInvalid("empty".into()))?;
    if !el.is(NS_SAMLP, "LogoutRequest") {
        return Err(SamlError::NotAResponse(format!(
            "{{{}}}{}",
            el.ns.unwrap_or(""),
            el.local
        )));
    }
    let verified_doc;
    let (doc, root) = if redirect_signature_verified {
        (&doc, root)
    } else {
        let sig = doc
            .child_named(root, super::algorithms::NS_DSIG, "Signature")
            .map(|(s, _)| s)
            .ok_or(SamlError::SignatureMissing)?;
        let v = dsig::verify_enveloped(
            &doc,
            sig,
            "LogoutRequest",
            idp.certificates(),
            &AlgorithmPolicy::default(),
            &mut Trace::new(),
        )?;
        verified_doc = xml::parse(v.as_str().as_bytes(), &limits)?;
        (&verified_doc, verified_doc.root())
    };
    let el = doc
        .element(root)
        .ok_or(SamlError::SchemaInvalid("empty".into()))?;
    let issuer = doc
        .child_named(root, NS_SAML, "Issuer")
        .map(|(i, _)| doc.text_content(i).trim().to_string())
        .ok_or(SamlError::IssuerMissing("LogoutRequest"))?;
    if issuer != idp.entity_id() {
        return Err(SamlError::IssuerMismatch {
            what: "LogoutRequest",
            expected: idp.entity_id().into(),
            found: issuer,
        });
    }
    if let Some(d) = el.attr("Destination")
        && d != slo_url
    {
        return Err(SamlError::DestinationMismatch {
            expected: slo_url.into(),
            found: d.into(),
        });
    }
    if let Some(noa) = el.attr("NotOnOrAfter") {
        let t = super::validate::parse_time(noa)?;
        if now - skew >= t {
            return Err(SamlError::Expired {
                not_on_or_after: noa.into(),
                now: now.to_rfc3339(),
                skew_seconds: skew.num_seconds(),
            });
        }
    }
    let name_id = doc
        .child_named(root, NS_SAML, "NameID")
        .map(|(n, _)| doc.text_content(n).trim().to_string())
        .filter(|s| !s.is_empty())
        .ok_or_else(|| SamlError::NameIdMissing("LogoutRequest without NameID".into()))?;
    let session_indexes = doc
        .children_named(root, NS_SAMLP, "SessionIndex")
        .map(|(s, _)| doc.text_content(s).trim().to_string())
        .collect();
    Ok(VerifiedLogoutRequest {
        id: el.attr("ID").unwrap_or_default().to_string(),
        name_id,
        session_indexes,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn authn_request_is_well_formed_and_carries_our_values() {
        let now = DateTime::parse_from_rfc3339("2026-06-01T12:00:00Z")
            .unwrap()
            .with_timezone(&Utc);
        let x = authn_request(
            "_abc",
            now,
            "https://idp/sso",
            "https://sp/md",
            "https://sp/acs",
        )
        .unwrap();
        let d = xml::parse(x.as_bytes(), &Limits::default()).unwrap();
        let r = d.element(d.root()).unwrap();
        assert!(r.is(NS_SAMLP, "AuthnRequest"));
        assert_eq!(r.attr("ID"), Some("_abc"));
        assert_eq!(
            r.attr("AssertionConsumerServiceURL"),
            Some("https://sp/acs")
        );
        assert_eq!(r.attr("Destination"), Some("https://idp/sso"));
        let (i, _) = d.child_named(d.root(), NS_SAML, "Issuer").unwrap();
        assert_eq!(d.text_content(i), "https://sp/md");
    }

    #[test]
    fn metadata_escapes_and_parses() {
        let m = sp_metadata(
            "https://h/saml/a&b/metadata",
            "https://h/acs",
            "https://h/slo",
        );
        let d = xml::parse(m.as_bytes(), &Limits::default()).unwrap();
        assert_eq!(
            d.element(d.root()).unwrap().attr("entityID"),
            Some("https://h/saml/a&b/metadata")
        );
    }
}
