//! SAML core and Web SSO profile checks on values read from verified bytes.

use std::collections::BTreeMap;

use chrono::{DateTime, Duration, Utc};

use super::error::SamlError;
use super::explain::Trace;
use super::structure::{NS_SAML, NS_SAMLP, STATUS_SUCCESS};
use super::xml::{Document, NodeId};

const BEARER: &str = "urn:oasis:names:tc:SAML:2.0:cm:bearer";
const NS_XSI: &str = "http://www.w3.org/2001/XMLSchema-instance";

/// Inputs of the protocol checks.
pub struct Expectations<'a> {
    pub idp_entity_id: &'a str,
    pub sp_entity_id: &'a str,
    pub acs_url: &'a str,
    pub now: DateTime<Utc>,
    pub skew: Duration,
    pub request_ids: &'a [String],
    pub allow_unsolicited: bool,
}

/// Values the checks extracted, for the verified assertion.
pub struct Checked {
    pub assertion_id: String,
    pub name_id: String,
    pub name_id_format: Option<String>,
    pub session_index: Option<String>,
    pub authn_instant: Option<DateTime<Utc>>,
    pub authn_context_class: Option<String>,
    pub session_not_on_or_after: Option<DateTime<Utc>>,
    pub not_on_or_after: Option<DateTime<Utc>>,
    pub in_response_to: Option<String>,
    pub attributes: BTreeMap<String, Vec<String>>,
    /// How long the assertion ID must be remembered against replay.
    pub replay_until: DateTime<Utc>,
}

pub fn parse_time(s: &str) -> Result<DateTime<Utc>, SamlError> {
    DateTime::parse_from_rfc3339(s.trim())
        .map(|t| t.with_timezone(&Utc))
        .map_err(|_| SamlError::TimestampInvalid(format!("'{s}'")))
}

fn time_attr(doc: &Document, id: NodeId, name: &str) -> Result<Option<DateTime<Utc>>, SamlError> {
    doc.element(id)
        .and_then(|e| e.attr(name))
        .map(parse_time)
        .transpose()
}

fn fmt(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(chrono::SecondsFormat::AutoSi, true)
}

/// Response-level checks: Issuer (when present), Destination (when present), Status.
/// Returns the Response's `InResponseTo`.
pub fn check_response(
    doc: &Document,
    response: NodeId,
    x: &Expectations<'_>,
    trace: &mut Trace,
) -> Result<Option<String>, SamlError> {
    let el = doc.element(response).ok_or(SamlError::AssertionMissing)?;
    match doc.child_named(response, NS_SAML, "Issuer") {
        Some((i, _)) => {
            let found = doc.text_content(i).trim().to_string();
            if found != x.idp_entity_id {
                let e = SamlError::IssuerMismatch {
                    what: "Response",
                    expected: x.idp_entity_id.to_string(),
                    found,
                };
                trace.fail("response_issuer", e.to_string());
                return Err(e);
            }
            trace.pass("response_issuer", || {
                format!("'{found}' is the trusted IdP")
            });
        }
        None => trace.pass("response_issuer", "absent (optional on the Response)"),
    }
    match el.attr("Destination") {
        Some(d) if d != x.acs_url => {
            let e = SamlError::DestinationMismatch {
                expected: x.acs_url.to_string(),
                found: d.to_string(),
            };
            trace.fail("destination", e.to_string());
            return Err(e);
        }
        Some(d) => trace.pass("destination", || format!("'{d}' is this ACS URL")),
        None => trace.pass("destination", "absent (optional)"),
    }
    let status = doc
        .child_named(response, NS_SAMLP, "Status")
        .and_then(|(s, _)| doc.child_named(s, NS_SAMLP, "StatusCode"))
        .and_then(|(_, c)| c.attr("Value"));
    if status != Some(STATUS_SUCCESS) {
        let e = super::structure::failure_status(doc, response).unwrap_or(
            SamlError::StatusNotSuccess {
                code: status.unwrap_or("(missing)").to_string(),
                message: None,
            },
        );
        trace.fail("status", e.to_string());
        return Err(e);
    }
    trace.pass("status", "Success");
    Ok(el.attr("InResponseTo").map(str::to_string))
}

fn issuer(
    doc: &Document,
    assertion: NodeId,
    x: &Expectations<'_>,
    trace: &mut Trace,
) -> Result<(), SamlError> {
    let r = match doc.child_named(assertion, NS_SAML, "Issuer") {
        None => Err(SamlError::IssuerMissing("Assertion")),
        Some((i, _)) => {
            let found = doc.text_content(i).trim().to_string();
            if found == x.idp_entity_id {
                Ok(found)
            } else {
                Err(SamlError::IssuerMismatch {
                    what: "Assertion",
                    expected: x.idp_entity_id.to_string(),
                    found,
                })
            }
        }
    };
    trace
        .record(
            "assertion_issuer",
            |f| format!("'{f}' is the trusted IdP"),
            r,
        )
        .map(|_| ())
}

fn subject(
    doc: &Document,
    assertion: NodeId,
    trace: &mut Trace,
) -> Result<(NodeId, String, Option<String>), SamlError> {
    let r = (|| {
        let (subject, _) = doc
            .child_named(assertion, NS_SAML, "Subject")
            .ok_or(SamlError::SubjectMissing)?;
        if doc.child_named(subject, NS_SAML, "EncryptedID").is_some() {
            return Err(SamlError::NameIdMissing(
                "encrypted NameIDs are not supported yet".into(),
            ));
        }
        let (n, el) = doc
            .child_named(subject, NS_SAML, "NameID")
            .ok_or_else(|| SamlError::NameIdMissing("no NameID in the Subject".into()))?;
        let value = doc.text_content(n).trim().to_string();
        if value.is_empty() {
            return Err(SamlError::NameIdMissing("the NameID is empty".into()));
        }
        Ok((subject, value, el.attr("Format").map(str::to_string)))
    })();
    trace.record(
        "subject",
        |(_, v, f)| {
            format!(
                "NameID '{v}' format {}",
                f.as_deref().unwrap_or("(unspecified)")
            )
        },
        r,
    )
}

fn conditions(
    doc: &Document,
    assertion: NodeId,
    x: &Expectations<'_>,
    trace: &mut Trace,
) -> Result<Option<DateTime<Utc>>, SamlError> {
    let cond = doc
        .child_named(assertion, NS_SAML, "Conditions")
        .map(|(c, _)| c);
    let (nb, noa) = match cond {
        Some(c) => (
            time_attr(doc, c, "NotBefore")?,
            time_attr(doc, c, "NotOnOrAfter")?,
        ),
        None => (None, None),
    };
    let skew_s = x.skew.num_seconds();
    if let Some(nb) = nb
        && x.now + x.skew < nb
    {
        let e = SamlError::NotYetValid {
            not_before: fmt(nb),
            now: fmt(x.now),
            skew_seconds: skew_s,
        };
        trace.fail("not_before", e.to_string());
        return Err(e);
    }
    trace.pass("not_before", || {
        format!(
            "{} <= now {} + {skew_s} s",
            nb.map(fmt).unwrap_or("(none)".into()),
            fmt(x.now)
        )
    });
    if let Some(noa) = noa
        && x.now - x.skew >= noa
    {
        let e = SamlError::Expired {
            not_on_or_after: fmt(noa),
            now: fmt(x.now),
            skew_seconds: skew_s,
        };
        trace.fail("not_on_or_after", e.to_string());
        return Err(e);
    }
    trace.pass("not_on_or_after", || {
        format!(
            "now {} - {skew_s} s < {}",
            fmt(x.now),
            noa.map(fmt).unwrap_or("(none)".into())
        )
    });

    let restrictions: Vec<NodeId> = cond
        .map(|c| {
            doc.children_named(c, NS_SAML, "AudienceRestriction")
                .map(|(r, _)| r)
                .collect()
        })
        .unwrap_or_default();
    if restrictions.is_empty() {
        trace.fail("audience", "no AudienceRestriction");
        return Err(SamlError::AudienceMissing);
    }
    for r in restrictions {
        let found: Vec<String> = doc
            .children_named(r, NS_SAML, "Audience")
            .map(|(a, _)| doc.text_content(a).trim().to_string())
            .collect();
        if !found.iter().any(|a| a == x.sp_entity_id) {
            let e = SamlError::AudienceMismatch {
                expected: x.sp_entity_id.to_string(),
                found,
            };
            trace.fail("audience", e.to_string());
            return Err(e);
        }
    }
    trace.pass("audience", || {
        format!("'{}' is in every AudienceRestriction", x.sp_entity_id)
    });
    Ok(noa)
}

/// One bearer SubjectConfirmation's data, checked. Returns (InResponseTo, NotOnOrAfter).
fn bearer_data(
    doc: &Document,
    sc: NodeId,
    x: &Expectations<'_>,
) -> Result<(Option<String>, DateTime<Utc>), SamlError> {
    let (data, el) = doc
        .child_named(sc, NS_SAML, "SubjectConfirmationData")
        .ok_or_else(|| SamlError::RecipientMismatch {
            expected: x.acs_url.to_string(),
            found: "(no SubjectConfirmationData)".into(),
        })?;
    let recipient = el.attr("Recipient").unwrap_or("(missing)");
    if recipient != x.acs_url {
        return Err(SamlError::RecipientMismatch {
            expected: x.acs_url.to_string(),
            found: recipient.to_string(),
        });
    }
    let noa = time_attr(doc, data, "NotOnOrAfter")?.ok_or_else(|| {
        SamlError::SubjectConfirmationExpired("(no NotOnOrAfter: required for bearer)".into())
    })?;
    if x.now - x.skew >= noa {
        return Err(SamlError::SubjectConfirmationExpired(fmt(noa)));
    }
    Ok((el.attr("InResponseTo").map(str::to_string), noa))
}

fn confirmation(
    doc: &Document,
    subject: NodeId,
    response_irt: Option<&str>,
    x: &Expectations<'_>,
    trace: &mut Trace,
) -> Result<(Option<String>, DateTime<Utc>), SamlError> {
    let bearers: Vec<NodeId> = doc
        .children_named(subject, NS_SAML, "SubjectConfirmation")
        .filter(|(_, e)| e.attr("Method") == Some(BEARER))
        .map(|(n, _)| n)
        .collect();
    if bearers.is_empty() {
        trace.fail("bearer_confirmation", "no bearer SubjectConfirmation");
        return Err(SamlError::BearerConfirmationMissing);
    }
    let mut first_err = None;
    for sc in bearers {
        match bearer_data(doc, sc, x) {
            Ok(ok) => {
                trace.pass("bearer_confirmation", || {
                    format!(
                        "Recipient is this ACS URL; NotOnOrAfter {} is after now - skew",
                        fmt(ok.1)
                    )
                });
                return correlate(ok, response_irt, x, trace);
            }
            Err(e) => {
                first_err.get_or_insert(e);
            }
        }
    }
    let e = first_err.unwrap_or(SamlError::BearerConfirmationMissing);
    trace.fail("bearer_confirmation", e.to_string());
    Err(e)
}

fn correlate(
    (scd_irt, noa): (Option<String>, DateTime<Utc>),
    response_irt: Option<&str>,
    x: &Expectations<'_>,
    trace: &mut Trace,
) -> Result<(Option<String>, DateTime<Utc>), SamlError> {
    let r = (|| {
        if let (Some(a), Some(b)) = (scd_irt.as_deref(), response_irt)
            && a != b
        {
            return Err(SamlError::InResponseToMismatch(format!(
                "{a} (assertion) vs {b} (response)"
            )));
        }
        match scd_irt.as_deref().or(response_irt) {
            Some(id) if x.request_ids.iter().any(|r| r == id) => {
                Ok(format!("answers outstanding request {id}"))
            }
            Some(id) => Err(SamlError::InResponseToMismatch(id.to_string())),
            None if x.allow_unsolicited => {
                Ok("unsolicited (IdP-initiated), allowed for this tenant".to_string())
            }
            None => Err(SamlError::UnsolicitedResponseForbidden),
        }
    })();
    trace.record("in_response_to", |d| d.clone(), r)?;
    Ok((scd_irt.or(response_irt.map(str::to_string)), noa))
}

struct Authn {
    session_index: Option<String>,
    instant: Option<DateTime<Utc>>,
    class: Option<String>,
    session_not_on_or_after: Option<DateTime<Utc>>,
}

fn authn(
    doc: &Document,
    assertion: NodeId,
    x: &Expectations<'_>,
    trace: &mut Trace,
) -> Result<Authn, SamlError> {
    let r = (|| {
        let (st, el) = doc
            .child_named(assertion, NS_SAML, "AuthnStatement")
            .ok_or(SamlError::AuthnStatementMissing)?;
        let snoa = time_attr(doc, st, "SessionNotOnOrAfter")?;
        if let Some(t) = snoa
            && x.now - x.skew >= t
        {
            return Err(SamlError::SessionExpired(fmt(t)));
        }
        let class = doc
            .child_named(st, NS_SAML, "AuthnContext")
            .and_then(|(c, _)| doc.child_named(c, NS_SAML, "AuthnContextClassRef"))
            .map(|(c, _)| doc.text_content(c).trim().to_string());
        Ok(Authn {
            session_index: el.attr("SessionIndex").map(str::to_string),
            instant: time_attr(doc, st, "AuthnInstant")?,
            class,
            session_not_on_or_after: snoa,
        })
    })();
    trace.record(
        "authn_statement",
        |a| match a.session_not_on_or_after {
            Some(t) => format!("present; IdP session valid until {}", fmt(t)),
            None => "present; no SessionNotOnOrAfter".into(),
        },
        r,
    )
}

fn attributes(doc: &Document, assertion: NodeId) -> BTreeMap<String, Vec<String>> {
    let mut out: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for (st, _) in doc.children_named(assertion, NS_SAML, "AttributeStatement") {
        for (a, el) in doc.children_named(st, NS_SAML, "Attribute") {
            let Some(name) = el.attr("Name") else {
                continue;
            };
            let values = out.entry(name.to_string()).or_default();
            for (v, vel) in doc.children_named(a, NS_SAML, "AttributeValue") {
                if vel
                    .attr_ns(NS_XSI, "nil")
                    .is_some_and(|n| n == "true" || n == "1")
                {
                    continue;
                }
                values.push(doc.text_content(v));
            }
        }
    }
    out
}

/// All assertion-level checks, in the documented order; replay is left to the caller.
pub fn check_assertion(
    doc: &Document,
    assertion: NodeId,
    response_irt: Option<&str>,
    x: &Expectations<'_>,
    trace: &mut Trace,
) -> Result<Checked, SamlError> {
    let el = doc.element(assertion).ok_or(SamlError::AssertionMissing)?;
    if el.attr("Version") != Some("2.0") {
        return Err(SamlError::VersionUnsupported(
            el.attr("Version").unwrap_or("(missing)").to_string(),
        ));
    }
    let assertion_id = el
        .attr("ID")
        .filter(|s| !s.is_empty())
        .ok_or_else(|| SamlError::SchemaInvalid("Assertion without ID".into()))?
        .to_string();
    issuer(doc, assertion, x, trace)?;
    let (subject_node, name_id, name_id_format) = subject(doc, assertion, trace)?;
    let not_on_or_after = conditions(doc, assertion, x, trace)?;
    let (in_response_to, scd_noa) = confirmation(doc, subject_node, response_irt, x, trace)?;
    let a = authn(doc, assertion, x, trace)?;
    let replay_until = not_on_or_after.map_or(scd_noa, |c| c.max(scd_noa)) + x.skew;
    Ok(Checked {
        assertion_id,
        name_id,
        name_id_format,
        session_index: a.session_index,
        authn_instant: a.instant,
        authn_context_class: a.class,
        session_not_on_or_after: a.session_not_on_or_after,
        not_on_or_after,
        in_response_to,
        attributes: attributes(doc, assertion),
        replay_until,
    })
}
