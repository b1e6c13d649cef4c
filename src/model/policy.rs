//! The organisation's password rules (default from the seed: at least 4 characters, one letter,
//! one digit) plus a maximum length that bounds the hashing cost. Each organisation may add a
//! minimum zxcvbn strength (its dictionaries hold the common passwords) and a blocklist of its
//! own words: its name, the username, and words it configures.

use serde::Deserialize;
use unicode_normalization::UnicodeNormalization;
use zxcvbn::feedback::{Suggestion, Warning};

use crate::model::NewPassword;

/// NIST SP 800-63B: at least 8 characters for a memorised secret chosen by the user.
pub const NIST_MIN_LENGTH: usize = 8;
/// zxcvbn's cost grows with length; beyond this many characters a password is not weaker.
const STRENGTH_PREFIX: usize = 64;
/// Shorter words of the organisation's name ("de", "du") are not worth refusing.
const MIN_BLOCKED_WORD: usize = 4;

#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PasswordPolicy {
    pub min_length: usize,
    pub max_length: usize,
    pub require_letter: bool,
    pub require_digit: bool,
    /// zxcvbn score required, 0 (off) to 4.
    #[serde(default)]
    pub min_strength: u8,
    /// Refuse passwords that contain the organisation's name words or the username.
    #[serde(default)]
    pub block_own_words: bool,
    /// Further words no password may contain (case and accents as typed are ignored).
    #[serde(default)]
    pub blocked_words: Vec<String>,
}

impl Default for PasswordPolicy {
    fn default() -> Self {
        Self {
            min_length: 4,
            max_length: 128,
            require_letter: true,
            require_digit: true,
            min_strength: 0,
            block_own_words: false,
            blocked_words: Vec::new(),
        }
    }
}

/// One rule not met; the surfaces translate the code.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum PolicyViolation {
    TooShort {
        min: usize,
    },
    TooLong {
        max: usize,
    },
    NoLetter,
    NoDigit,
    Mismatch,
    /// Below the organisation's zxcvbn score.
    TooGuessable,
    /// Contains the organisation's name, the username or a configured word.
    BlockedWord,
    /// zxcvbn's explanation of a weak password.
    Warning(Warning),
    /// zxcvbn's advice for a stronger one.
    Suggestion(Suggestion),
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
            PolicyViolation::TooGuessable => "too_guessable",
            PolicyViolation::BlockedWord => "blocked_word",
            PolicyViolation::Warning(w) => warning_code(w),
            PolicyViolation::Suggestion(s) => suggestion_code(s),
        }
    }
}

/// zxcvbn's warnings are English sentences; ours are locale keys.
fn warning_code(w: Warning) -> &'static str {
    match w {
        Warning::StraightRowsOfKeysAreEasyToGuess => "warn_straight_rows",
        Warning::ShortKeyboardPatternsAreEasyToGuess => "warn_keyboard_pattern",
        Warning::RepeatsLikeAaaAreEasyToGuess => "warn_repeats",
        Warning::RepeatsLikeAbcAbcAreOnlySlightlyHarderToGuess => "warn_repeated_groups",
        Warning::ThisIsATop10Password => "warn_top10",
        Warning::ThisIsATop100Password => "warn_top100",
        Warning::ThisIsACommonPassword => "warn_common",
        Warning::ThisIsSimilarToACommonlyUsedPassword => "warn_similar_common",
        Warning::SequencesLikeAbcAreEasyToGuess => "warn_sequences",
        Warning::RecentYearsAreEasyToGuess => "warn_recent_years",
        Warning::AWordByItselfIsEasyToGuess => "warn_single_word",
        Warning::DatesAreOftenEasyToGuess => "warn_dates",
        Warning::NamesAndSurnamesByThemselvesAreEasyToGuess => "warn_names",
        Warning::CommonNamesAndSurnamesAreEasyToGuess => "warn_common_names",
    }
}

fn suggestion_code(s: Suggestion) -> &'static str {
    match s {
        Suggestion::UseAFewWordsAvoidCommonPhrases => "hint_few_words",
        Suggestion::NoNeedForSymbolsDigitsOrUppercaseLetters => "hint_no_symbols_needed",
        Suggestion::AddAnotherWordOrTwo => "hint_add_words",
        Suggestion::CapitalizationDoesntHelpVeryMuch => "hint_capitals",
        Suggestion::AllUppercaseIsAlmostAsEasyToGuessAsAllLowercase => "hint_all_caps",
        Suggestion::ReversedWordsArentMuchHarderToGuess => "hint_reversed",
        Suggestion::PredictableSubstitutionsDontHelpVeryMuch => "hint_substitutions",
        Suggestion::UseALongerKeyboardPatternWithMoreTurns => "hint_keyboard",
        Suggestion::AvoidRepeatedWordsAndCharacters => "hint_repeats",
        Suggestion::AvoidSequences => "hint_sequences",
        Suggestion::AvoidRecentYears => "hint_recent_years",
        Suggestion::AvoidYearsThatAreAssociatedWithYou => "hint_your_years",
        Suggestion::AvoidDatesAndYearsThatAreAssociatedWithYou => "hint_your_dates",
    }
}

/// Every feedback code the policy can produce (for the locale completeness test).
pub const FEEDBACK_CODES: &[&str] = &[
    "too_guessable",
    "blocked_word",
    "warn_straight_rows",
    "warn_keyboard_pattern",
    "warn_repeats",
    "warn_repeated_groups",
    "warn_top10",
    "warn_top100",
    "warn_common",
    "warn_similar_common",
    "warn_sequences",
    "warn_recent_years",
    "warn_single_word",
    "warn_dates",
    "warn_names",
    "warn_common_names",
    "hint_few_words",
    "hint_no_symbols_needed",
    "hint_add_words",
    "hint_capitals",
    "hint_all_caps",
    "hint_reversed",
    "hint_substitutions",
    "hint_keyboard",
    "hint_repeats",
    "hint_sequences",
    "hint_recent_years",
    "hint_your_years",
    "hint_your_dates",
];

/// The words that a password is compared with: lower-cased, compatibility-normalised.
fn fold(s: &str) -> String {
    s.nfkc().collect::<String>().to_lowercase()
}

impl PasswordPolicy {
    pub fn validate(&self) -> Result<(), String> {
        if self.min_length == 0 || self.max_length < self.min_length || self.max_length > 1024 {
            return Err("need 1 ≤ min_length ≤ max_length ≤ 1024".into());
        }
        if self.min_strength > 4 {
            return Err("min_strength is a zxcvbn score, 0 (off) to 4".into());
        }
        Ok(())
    }

    /// Where this policy is weaker than NIST SP 800-63B, for `check-config`.
    pub fn weaknesses(&self) -> Vec<String> {
        let mut out = Vec::new();
        if self.min_length < NIST_MIN_LENGTH {
            out.push(format!(
                "min_length {} is below NIST SP 800-63B's {NIST_MIN_LENGTH} characters",
                self.min_length
            ));
        }
        if self.max_length < 64 {
            out.push(format!(
                "max_length {} is below NIST SP 800-63B's 64 characters",
                self.max_length
            ));
        }
        out
    }

    /// Every rule the password breaks, and whether the confirmation differs. `own_words` are the
    /// organisation's name and the username (used when `block_own_words` is on, and always as
    /// context for the strength estimate).
    pub fn check(
        &self,
        pw: &NewPassword,
        confirmation: &NewPassword,
        own_words: &[&str],
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
        let words = self.blocked(own_words);
        let folded = fold(s);
        if words.iter().any(|w| folded.contains(w.as_str())) {
            v.push(PolicyViolation::BlockedWord);
        }
        if self.min_strength > 0 && len <= self.max_length {
            let prefix: String = s.chars().take(STRENGTH_PREFIX).collect();
            let inputs: Vec<&str> = words.iter().map(String::as_str).collect();
            let estimate = zxcvbn::zxcvbn(&prefix, &inputs);
            if u8::from(estimate.score()) < self.min_strength {
                v.push(PolicyViolation::TooGuessable);
                if let Some(f) = estimate.feedback() {
                    v.extend(f.warning().map(PolicyViolation::Warning));
                    v.extend(
                        f.suggestions()
                            .iter()
                            .map(|s| PolicyViolation::Suggestion(*s)),
                    );
                }
            }
        }
        if s != confirmation.expose() {
            v.push(PolicyViolation::Mismatch);
        }
        if v.is_empty() { Ok(()) } else { Err(v) }
    }

    /// The configured words, plus the organisation's own when asked, folded.
    fn blocked(&self, own_words: &[&str]) -> Vec<String> {
        let own = own_words
            .iter()
            .filter(|_| self.block_own_words)
            .flat_map(|w| {
                // "Cégep de Sept-Îles" → cégep, sept, îles; a username stays whole too.
                let whole = fold(w);
                let mut parts: Vec<String> = whole
                    .split(|c: char| !c.is_alphanumeric())
                    .map(str::to_string)
                    .collect();
                parts.push(whole);
                parts
            });
        self.blocked_words
            .iter()
            .map(|w| fold(w.trim()))
            .chain(own)
            .filter(|w| w.chars().count() >= MIN_BLOCKED_WORD)
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(pw: &str, confirm: &str) -> Result<(), Vec<PolicyViolation>> {
        PasswordPolicy::default().check(
            &NewPassword::new(pw.into()),
            &NewPassword::new(confirm.into()),
            &["Cégep de Sept-Îles", "trej"],
        )
    }

    #[test]
    fn the_seed_rules() {
        assert_eq!(check("abc1", "abc1"), Ok(()));
        assert_eq!(check("été9", "été9"), Ok(()));
        // The seed policy blocks nothing and estimates nothing.
        assert_eq!(check("trej1", "trej1"), Ok(()));
        assert_eq!(check("password1", "password1"), Ok(()));
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

    fn strict() -> PasswordPolicy {
        PasswordPolicy {
            min_length: 8,
            min_strength: 3,
            block_own_words: true,
            blocked_words: vec!["Octopus".into()],
            ..PasswordPolicy::default()
        }
    }

    fn strict_check(pw: &str) -> Result<(), Vec<PolicyViolation>> {
        let p = NewPassword::new(pw.into());
        strict().check(&p, &p, &["Cégep de Sept-Îles", "trej"])
    }

    #[test]
    fn strength_and_own_words() {
        let weak = strict_check("password1").expect_err("common");
        assert!(weak.contains(&PolicyViolation::TooGuessable), "{weak:?}");
        assert!(
            weak.iter()
                .any(|v| matches!(v, PolicyViolation::Warning(_))),
            "{weak:?}"
        );
        for own in [
            "SEPT-iles-2024x",
            "xTREJ-horse-battery9",
            "my ＯＣＴＯＰＵＳ 9 blue moon",
        ] {
            let refused = strict_check(own).expect_err(own);
            assert!(
                refused.contains(&PolicyViolation::BlockedWord),
                "{own}: {refused:?}"
            );
        }
        assert_eq!(strict_check("correct horse battery 9 staple"), Ok(()));
        for v in strict_check("password1").expect_err("weak") {
            assert!(
                v.code() == "mismatch"
                    || FEEDBACK_CODES.contains(&v.code())
                    || v.code().starts_with("no_")
                    || v.code().starts_with("too_"),
                "{v:?}"
            );
        }
    }

    #[test]
    fn check_config_names_what_is_weaker_than_nist() {
        assert_eq!(PasswordPolicy::default().weaknesses().len(), 1);
        assert!(strict().weaknesses().is_empty());
    }
}
