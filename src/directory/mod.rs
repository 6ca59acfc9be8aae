//! Tenants, users, licenses and the Federation ID rules. Plain data and pure rules;
//! storage lives in `crate::store`.

pub mod telephony;
pub mod trust_cache;

pub use trust_cache::TrustCache;

use crate::saml::{IdpTrust, SamlError, SpSettings, TrustedCertificate, VerifiedAssertion};

/// How a tenant's users may sign in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LoginMode {
    SsoOnly,
    SsoAndPassword,
    PasswordOnly,
}

impl LoginMode {
    pub fn as_str(self) -> &'static str {
        match self {
            LoginMode::SsoOnly => "sso_only",
            LoginMode::SsoAndPassword => "sso_and_password",
            LoginMode::PasswordOnly => "password_only",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "sso_only" => Some(LoginMode::SsoOnly),
            "sso_and_password" => Some(LoginMode::SsoAndPassword),
            "password_only" => Some(LoginMode::PasswordOnly),
            _ => None,
        }
    }

    pub fn allows_sso(self) -> bool {
        self != LoginMode::PasswordOnly
    }
}

/// Who may use single sign-on: everyone, or (staged rollout) a test list of user names.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SsoRollout {
    All,
    Staged(Vec<String>),
}

impl SsoRollout {
    /// From the stored mode and newline/space-separated list.
    pub fn from_db(mode: &str, users: &str) -> Self {
        if mode == "staged" {
            SsoRollout::Staged(users.split_whitespace().map(str::to_string).collect())
        } else {
            SsoRollout::All
        }
    }

    pub fn mode(&self) -> &'static str {
        match self {
            SsoRollout::All => "all",
            SsoRollout::Staged(_) => "staged",
        }
    }

    pub fn test_users(&self) -> &[String] {
        match self {
            SsoRollout::All => &[],
            SsoRollout::Staged(u) => u,
        }
    }

    /// Whether SSO is open to this user name (case-insensitive).
    pub fn includes(&self, user_name: &str) -> bool {
        match self {
            SsoRollout::All => true,
            SsoRollout::Staged(list) => list.iter().any(|u| u.eq_ignore_ascii_case(user_name)),
        }
    }
}

/// Where the Federation ID is read from in a verified assertion.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FederationSource {
    NameId,
    Attribute(String),
}

impl FederationSource {
    pub fn parse(s: &str) -> Self {
        match s.strip_prefix("attribute:") {
            Some(name) if !name.is_empty() => FederationSource::Attribute(name.to_string()),
            _ => FederationSource::NameId,
        }
    }

    pub fn as_db(&self) -> String {
        match self {
            FederationSource::NameId => "name_id".into(),
            FederationSource::Attribute(a) => format!("attribute:{a}"),
        }
    }

    /// The Federation ID carried by a verified assertion, whitespace-trimmed.
    pub fn federation_id<'a>(&self, a: &'a VerifiedAssertion) -> Option<&'a str> {
        let v = match self {
            FederationSource::NameId => Some(a.name_id()),
            FederationSource::Attribute(name) => a.attribute(name),
        };
        v.map(str::trim).filter(|s| !s.is_empty())
    }
}

/// A customer organization.
#[derive(Debug, Clone)]
pub struct Tenant {
    pub id: i64,
    pub slug: String,
    pub display_name: String,
    pub idp_entity_id: String,
    pub idp_sso_url: Option<String>,
    pub idp_slo_url: Option<String>,
    pub login_mode: LoginMode,
    pub allow_idp_initiated: bool,
    pub federation_source: FederationSource,
    /// The SCIM user attribute the Federation ID follows (default `userName`).
    pub federation_attribute: String,
    pub clock_skew_seconds: i64,
    pub email_domains: Vec<String>,
    pub allowed_return_urls: Vec<String>,
    /// IdP signing certificates (base64 DER), current first, then next.
    pub certificates: Vec<String>,
    /// Staged rollout of single sign-on.
    pub sso_rollout: SsoRollout,
    /// Tenant admins may sign in to the console through this tenant's SSO.
    pub admin_sso: bool,
    /// Sign our AuthnRequests (and say so in the SP metadata).
    pub sign_requests: bool,
    /// Send AuthnRequests with the HTTP-POST binding instead of HTTP-Redirect.
    pub post_binding: bool,
    /// Refuse a Response whose Assertion is not signed itself (`WantAssertionsSigned`).
    pub require_signed_assertions: bool,
    /// Sign the SP metadata.
    pub sign_metadata: bool,
}

impl Tenant {
    /// `{public_url}/saml/{slug}/metadata`
    pub fn sp_entity_id(&self, public_url: &str) -> String {
        format!(
            "{}/saml/{}/metadata",
            public_url.trim_end_matches('/'),
            self.slug
        )
    }

    /// `{public_url}/saml/{slug}/acs`
    pub fn acs_url(&self, public_url: &str) -> String {
        format!(
            "{}/saml/{}/acs",
            public_url.trim_end_matches('/'),
            self.slug
        )
    }

    pub fn slo_url(&self, public_url: &str) -> String {
        format!(
            "{}/saml/{}/slo",
            public_url.trim_end_matches('/'),
            self.slug
        )
    }

    /// The SAML core's view of this tenant.
    pub fn sp_settings(&self, public_url: &str) -> SpSettings {
        let mut sp = SpSettings::new(self.sp_entity_id(public_url), self.acs_url(public_url));
        sp.clock_skew = chrono::Duration::seconds(self.clock_skew_seconds);
        sp.allow_unsolicited = self.allow_idp_initiated;
        sp.require_signed_assertions = self.require_signed_assertions;
        sp
    }

    pub fn idp_trust(&self) -> Result<IdpTrust, SamlError> {
        let certs = self
            .certificates
            .iter()
            .map(|c| TrustedCertificate::from_base64_der(c))
            .collect::<Result<Vec<_>, _>>()?;
        IdpTrust::new(self.idp_entity_id.clone(), certs)
    }
}

/// A provisioned user with the apps their licenses grant.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct User {
    pub id: i64,
    pub tenant_id: i64,
    pub user_name: String,
    pub federation_id: String,
    pub display_name: String,
    pub email: String,
    pub active: bool,
    pub licenses: Vec<String>,
    pub apps: Vec<String>,
}

/// The apps (services) the gateway can launch.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct App {
    pub id: &'static str,
    pub name: &'static str,
}

pub const APPS: &[App] = &[
    App {
        id: "work",
        name: "8x8 Work",
    },
    App {
        id: "contact-center",
        name: "8x8 Contact Center",
    },
    App {
        id: "analytics",
        name: "8x8 Analytics",
    },
];

pub fn app(id: &str) -> Option<&'static App> {
    APPS.iter().find(|a| a.id == id)
}

/// Why a verified assertion does not lead to a session.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Refusal {
    /// The assertion carries no Federation ID where the tenant looks for it.
    NoFederationId,
    /// No user of this tenant has that Federation ID.
    UnknownUser(String),
    /// The user is deactivated.
    Deactivated(String),
    /// The user has no license granting any app.
    Unlicensed(String),
    /// The tenant signs in with passwords only.
    SsoDisabled,
    /// Staged rollout: single sign-on is not yet open to this user.
    NotInRollout(String),
}

impl Refusal {
    pub fn code(&self) -> &'static str {
        match self {
            Refusal::NoFederationId => "federation_id_missing",
            Refusal::UnknownUser(_) => "user_unknown",
            Refusal::Deactivated(_) => "user_deactivated",
            Refusal::Unlicensed(_) => "user_unlicensed",
            Refusal::SsoDisabled => "sso_disabled",
            Refusal::NotInRollout(_) => "sso_not_rolled_out",
        }
    }
}

/// A plausible email address (admin accounts): `local@domain.tld`, no spaces.
pub fn valid_email(e: &str) -> bool {
    e.len() <= 254
        && !e.chars().any(|c| c.is_whitespace() || c.is_control())
        && e.split_once('@')
            .is_some_and(|(l, d)| !l.is_empty() && d.contains('.') && !d.contains('@'))
}

/// Decide whether this user may have a session (pure).
pub fn admit(tenant: &Tenant, federation_id: &str, user: Option<&User>) -> Result<(), Refusal> {
    if !tenant.login_mode.allows_sso() {
        return Err(Refusal::SsoDisabled);
    }
    let user = user.ok_or_else(|| Refusal::UnknownUser(federation_id.to_string()))?;
    if !user.active {
        return Err(Refusal::Deactivated(user.user_name.clone()));
    }
    if !tenant.sso_rollout.includes(&user.user_name) {
        return Err(Refusal::NotInRollout(user.user_name.clone()));
    }
    if user.apps.is_empty() {
        return Err(Refusal::Unlicensed(user.user_name.clone()));
    }
    Ok(())
}

/// Decide whether `candidate` is a safe place to send the browser after login: a path on
/// the gateway itself (`/...`, never `//` or `/\`), or an absolute URL on the gateway's
/// origin or under one of the tenant's allowed app URLs. Anything else is refused:
/// never an open redirect.
pub fn safe_return_to(tenant: &Tenant, public_url: &str, candidate: &str) -> Option<String> {
    let c = candidate.trim();
    if c.is_empty() || c.chars().any(|ch| ch.is_control() || ch == '\\') {
        return None;
    }
    if c.starts_with('/') {
        return (!c.starts_with("//")).then(|| c.to_string());
    }
    let url = url::Url::parse(c).ok()?;
    if !matches!(url.scheme(), "https" | "http")
        || !url.username().is_empty()
        || url.password().is_some()
    {
        return None;
    }
    let under = |base: &str| -> bool {
        let Ok(b) = url::Url::parse(base) else {
            return false;
        };
        if b.origin() != url.origin() {
            return false;
        }
        let bp = b.path().trim_end_matches('/');
        let p = url.path();
        bp.is_empty() || p == bp || p.starts_with(&format!("{bp}/"))
    };
    let ok = under(public_url) || tenant.allowed_return_urls.iter().any(|a| under(a));
    ok.then(|| url.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tenant() -> Tenant {
        Tenant {
            id: 1,
            slug: "acme".into(),
            display_name: "Acme".into(),
            idp_entity_id: "http://idp".into(),
            idp_sso_url: None,
            idp_slo_url: None,
            login_mode: LoginMode::SsoOnly,
            allow_idp_initiated: false,
            federation_source: FederationSource::NameId,
            federation_attribute: "userName".into(),
            clock_skew_seconds: 180,
            email_domains: vec![],
            allowed_return_urls: vec!["https://work.8x8.example/app".into()],
            certificates: vec![],
            sso_rollout: SsoRollout::All,
            admin_sso: false,
            sign_requests: true,
            post_binding: false,
            require_signed_assertions: false,
            sign_metadata: false,
        }
    }

    #[test]
    fn return_to_is_never_an_open_redirect() {
        let t = tenant();
        let gw = "https://sso.example.test";
        assert_eq!(
            safe_return_to(&t, gw, "/apps/work").as_deref(),
            Some("/apps/work")
        );
        assert_eq!(
            safe_return_to(&t, gw, "https://work.8x8.example/app/x?y=1").as_deref(),
            Some("https://work.8x8.example/app/x?y=1")
        );
        assert!(safe_return_to(&t, gw, "https://sso.example.test/apps/work").is_some());
        for bad in [
            "//evil.example/x",
            "/\\evil.example",
            "https://evil.example/",
            "https://work.8x8.example.evil.example/app",
            "https://work.8x8.example/application",
            "javascript:alert(1)",
            "https://user@work.8x8.example/app",
            "http://work.8x8.example/app",
            "ftp://work.8x8.example/app",
            "/x\n/y",
            "",
        ] {
            assert_eq!(safe_return_to(&t, gw, bad), None, "{bad}");
        }
    }

    #[test]
    fn admission_rules() {
        let t = tenant();
        let mut u = User {
            id: 1,
            tenant_id: 1,
            user_name: "a".into(),
            federation_id: "a".into(),
            display_name: String::new(),
            email: String::new(),
            active: true,
            licenses: vec!["X2".into()],
            apps: vec!["work".into()],
        };
        assert_eq!(admit(&t, "a", Some(&u)), Ok(()));
        assert_eq!(admit(&t, "b", None), Err(Refusal::UnknownUser("b".into())));
        u.apps.clear();
        assert_eq!(
            admit(&t, "a", Some(&u)).unwrap_err().code(),
            "user_unlicensed"
        );
        u.active = false;
        assert_eq!(
            admit(&t, "a", Some(&u)).unwrap_err().code(),
            "user_deactivated"
        );
        let mut t2 = t.clone();
        t2.login_mode = LoginMode::PasswordOnly;
        assert_eq!(admit(&t2, "a", None), Err(Refusal::SsoDisabled));
    }

    #[test]
    fn staged_rollout_admits_only_the_test_list() {
        let mut t = tenant();
        t.sso_rollout = SsoRollout::from_db("staged", "Pilot@acme.example\nother@acme.example");
        let mut u = User {
            id: 1,
            tenant_id: 1,
            user_name: "pilot@acme.example".into(),
            federation_id: "pilot@acme.example".into(),
            display_name: String::new(),
            email: String::new(),
            active: true,
            licenses: vec!["X2".into()],
            apps: vec!["work".into()],
        };
        assert_eq!(admit(&t, "pilot@acme.example", Some(&u)), Ok(()));
        u.user_name = "late@acme.example".into();
        assert_eq!(
            admit(&t, "late@acme.example", Some(&u)).unwrap_err().code(),
            "sso_not_rolled_out"
        );
        t.sso_rollout = SsoRollout::from_db("all", "ignored");
        assert_eq!(admit(&t, "late@acme.example", Some(&u)), Ok(()));
    }
}
