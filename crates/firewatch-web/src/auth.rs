//! Credentials: Argon2id password hashes, bearer tokens (only their SHA-256 is stored), and
//! the request principal.

use argon2::password_hash::phc::PasswordHash;
use argon2::password_hash::{PasswordHasher, PasswordVerifier};
use argon2::{Algorithm, Argon2, Params, Version};
use firewatch_domain::Role;
use rand::RngCore;
use sha2::{Digest, Sha256};

/// The authenticated caller of a request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Principal {
    pub name: String,
    pub role: Role,
}

#[derive(Debug, thiserror::Error)]
pub enum PasswordError {
    #[error("the password must have at least {0} characters")]
    TooShort(usize),
    #[error("the password must not be longer than 1024 bytes")]
    TooLong,
    #[error("password hashing failed: {0}")]
    Hash(String),
    #[error("the password must not contain the user name")]
    ContainsUserName,
    #[error("the password is too common; choose another")]
    Common,
}

/// Passwords people pick most often (lower case), long enough to pass the length rule.
const COMMON_PASSWORDS: &[&str] = &[
    "123456789012",
    "1234567890123",
    "12345678901234",
    "123456789abc",
    "1q2w3e4r5t6y",
    "1qaz2wsx3edc",
    "abc123456789",
    "abcdefghijkl",
    "administrator",
    "changeme1234",
    "correcthorsebatterystaple",
    "firewatch123",
    "firewatch1234",
    "iloveyou1234",
    "letmein12345",
    "password1234",
    "password123!",
    "password12345",
    "passwordpassword",
    "qwerty123456",
    "qwertyuiop12",
    "qwertyuiopas",
    "welcome12345",
    "welcome123!",
    "zaq12wsxcde3",
    "aaaaaaaaaaaa",
    "000000000000",
    "111111111111",
    "trustno1trustno1",
    "monkey123456",
];

/// The rules for a new password (CLI `user add`, admin page): at least
/// [`MIN_PASSWORD_CHARS`] characters, at most 1024 bytes, not containing the user name, not
/// in a list of common passwords, not one character repeated.
pub fn check_password_rules(user: &str, password: &str) -> Result<(), PasswordError> {
    if password.chars().count() < MIN_PASSWORD_CHARS {
        return Err(PasswordError::TooShort(MIN_PASSWORD_CHARS));
    }
    if password.len() > 1024 {
        return Err(PasswordError::TooLong);
    }
    let lower = password.to_lowercase();
    let name = user.trim().to_lowercase();
    if name.chars().count() >= 3 && lower.contains(&name) {
        return Err(PasswordError::ContainsUserName);
    }
    let mut chars = lower.chars();
    let first = chars.next();
    if COMMON_PASSWORDS.contains(&lower.as_str()) || chars.all(|c| Some(c) == first) {
        return Err(PasswordError::Common);
    }
    Ok(())
}

pub const MIN_PASSWORD_CHARS: usize = 12;

fn argon2() -> Argon2<'static> {
    // OWASP's Argon2id floor (19 MiB, 2 passes); enough for staff logins.
    let params = Params::new(19 * 1024, 2, 1, None).expect("valid argon2 params");
    Argon2::new(Algorithm::Argon2id, Version::V0x13, params)
}

pub fn hash_password(password: &str) -> Result<String, PasswordError> {
    if password.chars().count() < MIN_PASSWORD_CHARS {
        return Err(PasswordError::TooShort(MIN_PASSWORD_CHARS));
    }
    if password.len() > 1024 {
        return Err(PasswordError::TooLong);
    }
    let mut salt = [0u8; 16];
    rand::rng().fill_bytes(&mut salt);
    argon2()
        .hash_password_with_salt(password.as_bytes(), &salt)
        .map(|h| h.to_string())
        .map_err(|e| PasswordError::Hash(e.to_string()))
}

pub fn verify_password(password: &str, phc: &str) -> bool {
    if password.len() > 1024 {
        return false;
    }
    PasswordHash::new(phc).is_ok_and(|h| argon2().verify_password(password.as_bytes(), &h).is_ok())
}

/// A new bearer token: 32 random bytes, shown once; returns (token, sha256 hex).
pub fn new_token() -> (String, String) {
    let mut bytes = [0u8; 32];
    rand::rng().fill_bytes(&mut bytes);
    let token = format!("fw_{}", hex::encode(bytes));
    let hash = token_hash(&token);
    (token, hash)
}

pub fn token_hash(token: &str) -> String {
    hex::encode(Sha256::digest(token.as_bytes()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_password_verifies_against_its_own_hash_only() {
        let phc = hash_password("correct horse battery").unwrap();
        assert!(phc.starts_with("$argon2id$"));
        assert!(verify_password("correct horse battery", &phc));
        assert!(!verify_password("correct horse batterz", &phc));
        assert!(!verify_password("x", "not a phc string"));
    }

    #[test]
    fn new_passwords_follow_the_rules() {
        assert!(check_password_rules("alice", "violet-kettle-42").is_ok());
        assert!(matches!(
            check_password_rules("alice", "short"),
            Err(PasswordError::TooShort(12))
        ));
        assert!(matches!(
            check_password_rules("alice", "my-Alice-password"),
            Err(PasswordError::ContainsUserName)
        ));
        assert!(matches!(
            check_password_rules("bob", "Password1234"),
            Err(PasswordError::Common)
        ));
        assert!(matches!(
            check_password_rules("bob", "zzzzzzzzzzzzzz"),
            Err(PasswordError::Common)
        ));
    }

    #[test]
    fn short_passwords_are_refused() {
        assert!(matches!(
            hash_password("short"),
            Err(PasswordError::TooShort(12))
        ));
    }

    #[test]
    fn tokens_are_unique_and_only_their_hash_is_kept() {
        let (a, ha) = new_token();
        let (b, _) = new_token();
        assert_ne!(a, b);
        assert_eq!(token_hash(&a), ha);
        assert_eq!(ha.len(), 64);
    }
}
