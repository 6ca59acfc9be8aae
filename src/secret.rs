//! `Secret<T>`: a value that must never reach a log line. Its `Debug` prints `[redacted]`,
//! it has no `Display` and no `Serialize`, and reading it takes an explicit `expose()`, so
//! a `{:?}` of any struct holding one (an admin account, a session, the configuration) is
//! safe to log.

use std::fmt;

#[derive(Clone, Default, PartialEq, Eq)]
pub struct Secret<T>(T);

impl<T> Secret<T> {
    pub fn new(value: T) -> Self {
        Secret(value)
    }

    /// The value itself: every read is a visible, greppable decision.
    pub fn expose(&self) -> &T {
        &self.0
    }

    pub fn into_inner(self) -> T {
        self.0
    }
}

impl<T> From<T> for Secret<T> {
    fn from(value: T) -> Self {
        Secret(value)
    }
}

impl<T> fmt::Debug for Secret<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("[redacted]")
    }
}

impl<'de, T: serde::Deserialize<'de>> serde::Deserialize<'de> for Secret<T> {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        T::deserialize(d).map(Secret)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_never_shows_the_value() {
        let s = Secret::new("hunter2".to_string());
        assert_eq!(format!("{s:?}"), "[redacted]");
        assert_eq!(format!("{s:#?}"), "[redacted]");
        assert_eq!(s.expose(), "hunter2");
    }
}

#[cfg(test)]
mod holders {
    use crate::store::{AdminAccount, AdminRole, AdminSession};

    #[test]
    fn admin_accounts_and_sessions_log_no_secret() {
        let a = AdminAccount {
            id: 1,
            email: "op@example.com".into(),
            password_hash: "$argon2id$v=19$m=19456,t=2,p=1$c2FsdA$aGFzaA"
                .to_string()
                .into(),
            role: AdminRole::Operator,
            tenant_id: None,
            failed_attempts: 0,
            locked_until: None,
        };
        let s = AdminSession {
            admin: a,
            csrf_token: "csrf-0123456789abcdef".to_string().into(),
        };
        let text = format!("{s:?} {s:#?}");
        assert!(text.contains("op@example.com"));
        assert!(
            !text.contains("argon2id") && !text.contains("csrf-0123"),
            "{text}"
        );
    }
}
