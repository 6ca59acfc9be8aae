//! Telephony services: the license catalog rules, extension numbers and direct phone
//! numbers. Pure rules; the store enforces uniqueness and inventory in one transaction.

use serde::Serialize;

/// An X Series plan (one per user) or an add-on (needs a plan).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum LicenseKind {
    Plan,
    Addon,
}

impl LicenseKind {
    pub fn parse(s: &str) -> Self {
        if s == "addon" {
            LicenseKind::Addon
        } else {
            LicenseKind::Plan
        }
    }
}

/// One catalog entry.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct License {
    pub code: String,
    pub name: String,
    pub kind: LicenseKind,
    pub description: String,
    /// The app ids (services) this license grants.
    pub apps: Vec<String>,
}

/// Why an assignment or removal is refused (before inventory is even counted).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LicenseRule {
    /// The user already has this license.
    AlreadyAssigned(String),
    /// A plan is held; a user has one X Series plan at a time.
    OtherPlan { held: String, wanted: String },
    /// An add-on needs an X Series plan first.
    AddonNeedsPlan(String),
    /// The plan cannot go while add-ons depend on it.
    AddonsDependOnPlan { plan: String, addons: Vec<String> },
    /// The user does not have this license.
    NotAssigned(String),
}

impl LicenseRule {
    pub fn code(&self) -> &'static str {
        match self {
            LicenseRule::AlreadyAssigned(_) => "license_already_assigned",
            LicenseRule::OtherPlan { .. } => "license_other_plan",
            LicenseRule::AddonNeedsPlan(_) => "license_addon_needs_plan",
            LicenseRule::AddonsDependOnPlan { .. } => "license_plan_has_addons",
            LicenseRule::NotAssigned(_) => "license_not_assigned",
        }
    }
}

impl std::fmt::Display for LicenseRule {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            LicenseRule::AlreadyAssigned(c) => write!(f, "the user already has {c}"),
            LicenseRule::OtherPlan { held, wanted } => write!(
                f,
                "the user already has the X Series plan {held}; a user has one plan at a time, so unassign {held} before assigning {wanted}"
            ),
            LicenseRule::AddonNeedsPlan(c) => write!(
                f,
                "{c} is an add-on and needs an X Series plan (X2 to X8); assign a plan first"
            ),
            LicenseRule::AddonsDependOnPlan { plan, addons } => write!(
                f,
                "the add-ons {} need the plan {plan}; unassign them first",
                addons.join(", ")
            ),
            LicenseRule::NotAssigned(c) => write!(f, "the user does not have {c}"),
        }
    }
}

/// May `wanted` be added to a user holding `held`?
pub fn check_assign(held: &[License], wanted: &License) -> Result<(), LicenseRule> {
    if held.iter().any(|l| l.code == wanted.code) {
        return Err(LicenseRule::AlreadyAssigned(wanted.code.clone()));
    }
    let plan = held.iter().find(|l| l.kind == LicenseKind::Plan);
    match (wanted.kind, plan) {
        (LicenseKind::Plan, Some(p)) => Err(LicenseRule::OtherPlan {
            held: p.code.clone(),
            wanted: wanted.code.clone(),
        }),
        (LicenseKind::Addon, None) => Err(LicenseRule::AddonNeedsPlan(wanted.code.clone())),
        _ => Ok(()),
    }
}

/// May `code` be removed from a user holding `held`?
pub fn check_unassign(held: &[License], code: &str) -> Result<(), LicenseRule> {
    let Some(l) = held.iter().find(|l| l.code == code) else {
        return Err(LicenseRule::NotAssigned(code.to_string()));
    };
    if l.kind == LicenseKind::Plan {
        let addons: Vec<String> = held
            .iter()
            .filter(|h| h.kind == LicenseKind::Addon)
            .map(|h| h.code.clone())
            .collect();
        if !addons.is_empty() {
            return Err(LicenseRule::AddonsDependOnPlan {
                plan: l.code.clone(),
                addons,
            });
        }
    }
    Ok(())
}

/// An extension: 2 to 10 digits, unique within the tenant (checked by the store).
pub fn normalize_extension(input: &str) -> Result<String, String> {
    let s = input.trim();
    if s.len() < 2 || s.len() > 10 || !s.bytes().all(|b| b.is_ascii_digit()) {
        return Err(format!(
            "'{s}' is not an extension number: use 2 to 10 digits, e.g. 1042"
        ));
    }
    Ok(s.to_string())
}

/// A direct number in E.164: `+`, a country code not starting with 0, at most 15 digits.
/// Spaces, dashes, dots and parentheses are accepted on input and removed.
pub fn normalize_e164(input: &str) -> Result<String, String> {
    let raw = input.trim();
    let cleaned: String = raw
        .chars()
        .filter(|c| !matches!(c, ' ' | '-' | '.' | '(' | ')'))
        .collect();
    let digits = cleaned.strip_prefix('+').unwrap_or("");
    let ok = cleaned.starts_with('+')
        && (8..=15).contains(&digits.len())
        && digits.bytes().all(|b| b.is_ascii_digit())
        && !digits.starts_with('0');
    if ok {
        Ok(cleaned)
    } else {
        Err(format!(
            "'{raw}' is not a phone number in E.164 form: a + and the country code, then the number, 8 to 15 digits in all, e.g. +14155550123"
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lic(code: &str, kind: LicenseKind) -> License {
        License {
            code: code.into(),
            name: code.into(),
            kind,
            description: String::new(),
            apps: vec!["work".into()],
        }
    }

    #[test]
    fn one_plan_and_addons_need_a_plan() {
        let x2 = lic("X2", LicenseKind::Plan);
        let x6 = lic("X6", LicenseKind::Plan);
        let agent = lic("CC-AGENT", LicenseKind::Addon);
        assert_eq!(check_assign(&[], &x2), Ok(()));
        assert_eq!(
            check_assign(&[], &agent).unwrap_err().code(),
            "license_addon_needs_plan"
        );
        assert_eq!(
            check_assign(std::slice::from_ref(&x2), &x6)
                .unwrap_err()
                .code(),
            "license_other_plan"
        );
        assert_eq!(
            check_assign(std::slice::from_ref(&x2), &x2)
                .unwrap_err()
                .code(),
            "license_already_assigned"
        );
        assert_eq!(check_assign(std::slice::from_ref(&x2), &agent), Ok(()));
        let held = vec![x2.clone(), agent.clone()];
        assert_eq!(
            check_unassign(&held, "X2").unwrap_err().code(),
            "license_plan_has_addons"
        );
        assert_eq!(check_unassign(&held, "CC-AGENT"), Ok(()));
        assert_eq!(
            check_unassign(&held, "X8").unwrap_err().code(),
            "license_not_assigned"
        );
    }

    #[test]
    fn extensions_and_e164() {
        assert_eq!(normalize_extension(" 1042 ").unwrap(), "1042");
        for bad in ["1", "12345678901", "10a2", "", "+1042"] {
            assert!(normalize_extension(bad).is_err(), "{bad}");
        }
        assert_eq!(normalize_e164("+1 (415) 555-0123").unwrap(), "+14155550123");
        assert_eq!(normalize_e164("+442071838750").unwrap(), "+442071838750");
        for bad in [
            "4155550123",
            "+0123456789",
            "+1415555012345678",
            "+1234567",
            "+1415abc0123",
            "",
        ] {
            assert!(normalize_e164(bad).is_err(), "{bad}");
        }
    }
}
