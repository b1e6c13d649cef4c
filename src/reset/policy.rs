//! The organisation's password rules (default from the seed: at least 4 characters, one letter,
//! one digit) plus a maximum length that bounds the hashing cost.

use serde::Deserialize;

use super::model::NewPassword;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PasswordPolicy {
    pub min_length: usize,
    pub max_length: usize,
    pub require_letter: bool,
    pub require_digit: bool,
}

impl Default for PasswordPolicy {
    fn default() -> Self {
        Self {
            min_length: 4,
            max_length: 128,
            require_letter: true,
            require_digit: true,
        }
    }
}

/// One rule not met; the surfaces translate the code.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PolicyViolation {
    TooShort { min: usize },
    TooLong { max: usize },
    NoLetter,
    NoDigit,
    Mismatch,
}

impl PolicyViolation {
    /// Locale key under `policy.`.
    pub fn code(self) -> &'static str {
        match self {
            PolicyViolation::TooShort { .. } => "too_short",
            PolicyViolation::TooLong { .. } => "too_long",
            PolicyViolation::NoLetter => "no_letter",
            PolicyViolation::NoDigit => "no_digit",
            PolicyViolation::Mismatch => "mismatch",
        }
    }
}

impl PasswordPolicy {
    pub fn validate(&self) -> Result<(), String> {
        if self.min_length == 0 || self.max_length < self.min_length || self.max_length > 1024 {
            return Err("need 1 ≤ min_length ≤ max_length ≤ 1024".into());
        }
        Ok(())
    }

    /// Every rule the password breaks, and whether the confirmation differs.
    pub fn check(
        &self,
        pw: &NewPassword,
        confirmation: &NewPassword,
    ) -> Result<(), Vec<PolicyViolation>> {
        let s = pw.expose();
        let len = s.chars().count();
        let mut v = Vec::new();
        if len < self.min_length {
            v.push(PolicyViolation::TooShort {
                min: self.min_length,
            });
        }
        if len > self.max_length {
            v.push(PolicyViolation::TooLong {
                max: self.max_length,
            });
        }
        if self.require_letter && !s.chars().any(char::is_alphabetic) {
            v.push(PolicyViolation::NoLetter);
        }
        if self.require_digit && !s.chars().any(|c| c.is_ascii_digit()) {
            v.push(PolicyViolation::NoDigit);
        }
        if s != confirmation.expose() {
            v.push(PolicyViolation::Mismatch);
        }
        if v.is_empty() { Ok(()) } else { Err(v) }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(pw: &str, confirm: &str) -> Result<(), Vec<PolicyViolation>> {
        PasswordPolicy::default().check(
            &NewPassword::new(pw.into()),
            &NewPassword::new(confirm.into()),
        )
    }

    #[test]
    fn the_seed_rules() {
        assert_eq!(check("abc1", "abc1"), Ok(()));
        assert_eq!(check("été9", "été9"), Ok(()));
        assert_eq!(
            check("ab1", "ab1"),
            Err(vec![PolicyViolation::TooShort { min: 4 }])
        );
        assert_eq!(check("abcd", "abcd"), Err(vec![PolicyViolation::NoDigit]));
        assert_eq!(check("1234", "1234"), Err(vec![PolicyViolation::NoLetter]));
        assert_eq!(check("abc1", "abc2"), Err(vec![PolicyViolation::Mismatch]));
        let long = format!("a1{}", "x".repeat(200));
        assert_eq!(
            check(&long, &long),
            Err(vec![PolicyViolation::TooLong { max: 128 }])
        );
        assert_eq!(
            check("", "x"),
            Err(vec![
                PolicyViolation::TooShort { min: 4 },
                PolicyViolation::NoLetter,
                PolicyViolation::NoDigit,
                PolicyViolation::Mismatch
            ])
        );
    }
}
