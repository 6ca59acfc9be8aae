//! IdP metadata: read the entity ID, endpoints and signing certificates.
//!
//! The bytes first pass through the hardened parser (no DTD, limits, UTF-8 only);
//! only then does samael's typed metadata model deserialise them. Metadata without a
//! signing key is refused: no metadata content can turn signature checks off.

use chrono::{DateTime, Duration, Utc};
use samael::metadata::{EntityDescriptor, EntityDescriptorType};

use super::error::SamlError;
use super::trust::{IdpTrust, TrustedCertificate};
use super::xml::{self, Limits};

const BINDING_REDIRECT: &str = "urn:oasis:names:tc:SAML:2.0:bindings:HTTP-Redirect";
const BINDING_POST: &str = "urn:oasis:names:tc:SAML:2.0:bindings:HTTP-POST";

/// What the gateway needs from an IdP's metadata.
#[derive(Debug, Clone)]
pub struct IdpMetadata {
    pub entity_id: String,
    /// SingleSignOnService for HTTP-Redirect (preferred) or HTTP-POST.
    pub sso_url: Option<String>,
    pub slo_url: Option<String>,
    pub want_authn_requests_signed: bool,
    pub name_id_formats: Vec<String>,
    pub signing_certificates: Vec<TrustedCertificate>,
    /// `validUntil` of the entity (or of the enclosing EntitiesDescriptor, the earlier).
    pub valid_until: Option<DateTime<Utc>>,
    /// `cacheDuration` (the shortest one given): how long a copy may be used unrefreshed.
    pub cache_duration: Option<Duration>,
}

impl IdpMetadata {
    /// Parse metadata (an `EntityDescriptor`, or an `EntitiesDescriptor` holding one IdP).
    pub fn parse(bytes: &[u8]) -> Result<Self, SamlError> {
        let limits = Limits {
            max_bytes: 1024 * 1024,
            ..Limits::default()
        };
        xml::parse(bytes, &limits)?;
        let text = std::str::from_utf8(bytes)
            .map_err(|_| SamlError::EncodingUnsupported("metadata is not UTF-8".into()))?;
        let parsed: EntityDescriptorType = text
            .parse()
            .map_err(|e| SamlError::MetadataInvalid(format!("not SAML metadata: {e}")))?;
        let (outer_until, outer_cache) = match &parsed {
            EntityDescriptorType::EntitiesDescriptor(d) => {
                (d.valid_until, d.cache_duration.clone())
            }
            EntityDescriptorType::EntityDescriptor(_) => (None, None),
        };
        let idps: Vec<&EntityDescriptor> = parsed
            .iter()
            .filter(|e| {
                e.idp_sso_descriptors
                    .as_ref()
                    .is_some_and(|d| !d.is_empty())
            })
            .collect();
        let entity = match idps.as_slice() {
            [one] => *one,
            [] => return Err(SamlError::MetadataInvalid("no IDPSSODescriptor".into())),
            _ => {
                return Err(SamlError::MetadataInvalid(
                    "more than one IdP entity; upload one IdP's metadata".into(),
                ));
            }
        };
        let entity_id = entity
            .entity_id
            .clone()
            .filter(|s| !s.trim().is_empty())
            .ok_or_else(|| {
                SamlError::MetadataInvalid("EntityDescriptor without entityID".into())
            })?;
        let descriptors = entity.idp_sso_descriptors.as_deref().unwrap_or(&[]);

        let mut signing_certificates = Vec::new();
        let mut sso = (None, None);
        let mut slo = None;
        let mut want_signed = false;
        let mut name_id_formats = Vec::new();
        for d in descriptors {
            want_signed |= d.want_authn_requests_signed.unwrap_or(false);
            name_id_formats.extend(d.name_id_formats.iter().map(|f| f.trim().to_string()));
            for k in &d.key_descriptors {
                let usable = matches!(k.key_use.as_deref(), None | Some("signing"));
                if !usable {
                    continue;
                }
                for c in k
                    .key_info
                    .x509_data
                    .iter()
                    .flat_map(|x| x.certificates.iter())
                {
                    signing_certificates.push(TrustedCertificate::from_base64_der(c)?);
                }
            }
            for s in &d.single_sign_on_services {
                if s.binding == BINDING_REDIRECT && sso.0.is_none() {
                    sso.0 = Some(s.location.clone());
                } else if s.binding == BINDING_POST && sso.1.is_none() {
                    sso.1 = Some(s.location.clone());
                }
            }
            for s in &d.single_logout_services {
                if slo.is_none() && (s.binding == BINDING_REDIRECT || s.binding == BINDING_POST) {
                    slo = Some(s.location.clone());
                }
            }
        }
        if signing_certificates.is_empty() {
            return Err(SamlError::NoTrustedCertificate);
        }
        let valid_until = match (entity.valid_until, outer_until) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        };
        let mut cache_duration = None;
        for d in [entity.cache_duration.as_deref(), outer_cache.as_deref()]
            .into_iter()
            .flatten()
        {
            let v = parse_duration(d).ok_or_else(|| {
                SamlError::MetadataInvalid(format!("cacheDuration '{d}' is not an xs:duration"))
            })?;
            cache_duration = Some(cache_duration.map_or(v, |c: Duration| c.min(v)));
        }
        Ok(IdpMetadata {
            entity_id,
            sso_url: sso.0.or(sso.1),
            slo_url: slo,
            want_authn_requests_signed: want_signed,
            name_id_formats,
            signing_certificates,
            valid_until,
            cache_duration,
        })
    }

    /// Metadata past its `validUntil` must not be used.
    pub fn expired(&self, now: DateTime<Utc>) -> bool {
        self.valid_until.is_some_and(|v| v <= now)
    }

    /// When to fetch again: after `cacheDuration` (else `default`), within `[min, max]`,
    /// and no later than halfway to `validUntil`.
    pub fn refresh_after(
        &self,
        now: DateTime<Utc>,
        default: Duration,
        min: Duration,
        max: Duration,
    ) -> Duration {
        let mut d = self.cache_duration.unwrap_or(default);
        if let Some(v) = self.valid_until {
            d = d.min((v - now) / 2);
        }
        d.max(min).min(max)
    }

    /// The trust this metadata establishes.
    pub fn trust(&self) -> Result<IdpTrust, SamlError> {
        IdpTrust::new(self.entity_id.clone(), self.signing_certificates.clone())
    }
}

/// One certificate in a metadata validation report.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct CertificateReport {
    pub subject: String,
    pub sha256: String,
    pub key: String,
    pub signature_algorithm: String,
    pub not_after: String,
    pub days_left: i64,
}

/// What an admin sees after uploading IdP metadata.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct MetadataReport {
    pub entity_id: String,
    pub sso_url: Option<String>,
    pub slo_url: Option<String>,
    pub certificates: Vec<CertificateReport>,
    pub warnings: Vec<String>,
}

impl IdpMetadata {
    /// The validation report as of `now_unix` (expiring certificates, SHA-1, missing SSO URL).
    pub fn report(&self, now_unix: i64) -> MetadataReport {
        let mut warnings = Vec::new();
        if self.sso_url.is_none() {
            warnings.push("no SingleSignOnService (HTTP-Redirect or HTTP-POST): SP-initiated login cannot start".into());
        }
        let certificates = self
            .signing_certificates
            .iter()
            .map(|c| {
                let days_left = (c.not_after_unix() - now_unix).div_euclid(86_400);
                if days_left < 0 {
                    warnings.push(format!(
                        "certificate {} expired {} days ago",
                        short(c.fingerprint()),
                        -days_left
                    ));
                } else if days_left < 30 {
                    warnings.push(format!(
                        "certificate {} expires in {days_left} days: add the next one now",
                        short(c.fingerprint())
                    ));
                }
                if c.signature_algorithm()
                    .to_ascii_lowercase()
                    .contains("sha1")
                {
                    warnings.push(format!(
                        "certificate {} is signed with SHA-1",
                        short(c.fingerprint())
                    ));
                }
                CertificateReport {
                    subject: c.subject().to_string(),
                    sha256: c.fingerprint().to_string(),
                    key: c.key_description().to_string(),
                    signature_algorithm: c.signature_algorithm().to_string(),
                    not_after: c.not_after().to_string(),
                    days_left,
                }
            })
            .collect();
        if let Some(v) = self.valid_until {
            let days = (v.timestamp() - now_unix).div_euclid(86_400);
            if days < 0 {
                warnings.push(format!("this metadata expired (validUntil {v})"));
            } else if days < 7 {
                warnings.push(format!(
                    "this metadata expires in {days} days (validUntil {v}): refresh it"
                ));
            }
        }
        if self.signing_certificates.len() > 1 {
            warnings.push(format!(
                "{} signing certificates are trusted (a rollover): retire the old one once the IdP signs with the new one",
                self.signing_certificates.len()
            ));
        }
        MetadataReport {
            entity_id: self.entity_id.clone(),
            sso_url: self.sso_url.clone(),
            slo_url: self.slo_url.clone(),
            certificates,
            warnings,
        }
    }
}

/// An `xs:duration` such as `PT6H`, `P1D` or `P1DT2H30M10.5S` (no years or months:
/// their length varies, and metadata does not use them).
pub fn parse_duration(s: &str) -> Option<Duration> {
    let s = s.trim();
    let (neg, s) = match s.strip_prefix('-') {
        Some(rest) => (true, rest),
        None => (false, s),
    };
    let body = s.strip_prefix('P')?;
    let (date, time) = match body.split_once('T') {
        Some((d, t)) => (d, Some(t)),
        None => (body, None),
    };
    if time.is_some_and(str::is_empty) || (date.is_empty() && time.is_none()) {
        return None;
    }
    let mut secs = 0f64;
    let mut any = false;
    let mut take = |part: &str, units: &[(char, f64)]| -> Option<()> {
        let mut num = String::new();
        let mut idx = 0;
        for c in part.chars() {
            if c.is_ascii_digit() || c == '.' {
                num.push(c);
                continue;
            }
            let pos = units.iter().position(|(u, _)| *u == c)?;
            if pos < idx || num.is_empty() {
                return None;
            }
            idx = pos + 1;
            let v: f64 = num.parse().ok()?;
            secs += v * units.get(pos)?.1;
            num.clear();
            any = true;
        }
        num.is_empty().then_some(())
    };
    take(date, &[('D', 86_400.0)])?;
    if let Some(t) = time {
        take(t, &[('H', 3600.0), ('M', 60.0), ('S', 1.0)])?;
    }
    if !any || !secs.is_finite() || secs > 1e12 {
        return None;
    }
    let d = Duration::milliseconds((secs * 1000.0) as i64);
    Some(if neg { -d } else { d })
}

fn short(fingerprint: &str) -> &str {
    fingerprint.get(..11).unwrap_or(fingerprint)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn xs_durations() {
        assert_eq!(parse_duration("PT6H"), Some(Duration::hours(6)));
        assert_eq!(parse_duration("P1D"), Some(Duration::days(1)));
        assert_eq!(
            parse_duration("P1DT2H30M10.5S"),
            Some(Duration::milliseconds(95_410_500))
        );
        assert_eq!(parse_duration("PT90M"), Some(Duration::minutes(90)));
        for bad in [
            "", "P", "PT", "6H", "PTH", "PT6X", "P1Y", "PM6H", "PT6M6H", "PT1H2",
        ] {
            assert_eq!(parse_duration(bad), None, "{bad}");
        }
    }
}
