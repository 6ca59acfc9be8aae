//! Admin passwords: argon2id PHC strings with the crate's default parameters (ADR 0010).

use argon2::Argon2;
use argon2::password_hash::phc::PasswordHash;
use argon2::password_hash::{PasswordHasher, PasswordVerifier};

/// Shorter passwords are refused when an account is created.
pub const MIN_PASSWORD_CHARS: usize = 12;
/// Longer inputs are refused before hashing (bounded work per attempt).
pub const MAX_PASSWORD_BYTES: usize = 1024;

/// Check the password rules; the reason is shown to whoever sets the password.
pub fn check_new_password(password: &str) -> Result<(), String> {
    if password.chars().count() < MIN_PASSWORD_CHARS {
        return Err(format!(
            "the password must have at least {MIN_PASSWORD_CHARS} characters"
        ));
    }
    if password.len() > MAX_PASSWORD_BYTES {
        return Err(format!(
            "the password must have at most {MAX_PASSWORD_BYTES} bytes"
        ));
    }
    Ok(())
}

/// Hash a password (argon2id, default parameters, random salt) into a PHC string.
pub fn hash_password(password: &str) -> Result<String, String> {
    let h: PasswordHash = Argon2::default()
        .hash_password(password.as_bytes())
        .map_err(|e| format!("password hashing failed: {e}"))?;
    Ok(h.to_string())
}

/// Verify a password against a PHC string. The comparison inside argon2 is constant-time;
/// an unparsable hash or an oversized password is simply "no".
pub fn verify_password(password: &str, phc: &str) -> bool {
    if password.len() > MAX_PASSWORD_BYTES {
        return false;
    }
    match PasswordHash::new(phc) {
        Ok(h) => Argon2::default()
            .verify_password(password.as_bytes(), &h)
            .is_ok(),
        Err(_) => false,
    }
}

/// An argon2id hash (default parameters) of a random password nobody knows: what unknown
/// emails are verified against.
const DUMMY_PHC: &str = "$argon2id$v=19$m=19456,t=2,p=1$UTRTIbgaC3N3/Il6+R+TpQ$9WG3fBZGYLE2KFBGKdd0DPRGj2E2wmy4MeKgqEQsIUs";

/// The same work as a real verification, for unknown emails, so that timing does not tell
/// which accounts exist. Always false.
pub fn dummy_verify(password: &str) {
    let _ = verify_password(password, DUMMY_PHC);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hashes_are_argon2id_with_default_parameters() {
        let h = hash_password("correct horse battery staple").unwrap();
        assert!(h.starts_with("$argon2id$v=19$m=19456,t=2,p=1$"), "{h}");
        assert!(verify_password("correct horse battery staple", &h));
        assert!(!verify_password("correct horse battery stapl", &h));
        assert!(!verify_password("x", "not a phc string"));
        // The dummy has the same parameters, so it costs the same as a real account.
        assert!(DUMMY_PHC.starts_with("$argon2id$v=19$m=19456,t=2,p=1$"));
        assert!(PasswordHash::new(DUMMY_PHC).is_ok());
    }

    #[test]
    fn password_rules() {
        assert!(check_new_password("elevenchars").is_err());
        assert!(check_new_password("twelve chars").is_ok());
        assert!(check_new_password("ééééééééééé").is_err());
        assert!(check_new_password(&"x".repeat(1025)).is_err());
    }
}
