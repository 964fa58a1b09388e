//! Checks and normalization of user-supplied profile fields.
//!
//! Each function returns the stored form of a value or a message naming what
//! is wrong with it; handlers collect the messages per field.

use chrono::{Datelike, NaiveDate};
use unicode_normalization::UnicodeNormalization;

/// Maximum length of an email address, in bytes (RFC 5321 limits a path to 254 octets).
pub const MAX_EMAIL_BYTES: usize = 254;
/// Maximum number of characters in a first or last name.
pub const MAX_NAME_CHARS: usize = 150;
/// Maximum number of characters in a phone number as typed.
pub const MAX_PHONE_CHARS: usize = 32;

/// Reports whether `c` is an invisible formatting character: a zero-width
/// space or joiner, a soft hyphen, a byte order mark or a bidirectional
/// override. These make two different strings look the same on screen.
fn is_invisible(c: char) -> bool {
    matches!(
        c,
        '\u{00AD}'
            | '\u{061C}'
            | '\u{180E}'
            | '\u{200B}'..='\u{200F}'
            | '\u{202A}'..='\u{202E}'
            | '\u{2060}'..='\u{206F}'
            | '\u{FEFF}'
            | '\u{FFF9}'..='\u{FFFB}'
    )
}

/// Trims, NFKC-normalizes and lower-cases an email address and checks its
/// shape: one `@`, a non-empty local part, a domain with a dot, and no
/// spaces, control characters or invisible formatting characters.
///
/// NFKC folds look-alike forms such as full-width letters into plain ones.
/// Lower-casing the whole address makes emails unique case-insensitively.
/// Mail servers may treat the local part as case-sensitive, but no two real
/// users share an address that differs only in case.
pub fn normalize_email(raw: &str) -> Result<String, String> {
    let email = raw.trim().nfkc().collect::<String>().to_lowercase();

    if email.is_empty() {
        return Err("must not be empty".into());
    }
    if email.len() > MAX_EMAIL_BYTES {
        return Err(format!("must be at most {MAX_EMAIL_BYTES} bytes"));
    }
    if email
        .chars()
        .any(|c| c.is_whitespace() || c.is_control() || is_invisible(c))
    {
        return Err("must not contain spaces, control or invisible characters".into());
    }

    let Some((local, domain)) = email.split_once('@') else {
        return Err("must be an email address like name@example.com".into());
    };
    let domain_is_valid = domain.contains('.')
        && !domain.starts_with('.')
        && !domain.ends_with('.')
        && !domain.contains("..")
        && !domain.contains('@');
    if local.is_empty() || !domain_is_valid {
        return Err("must be an email address like name@example.com".into());
    }
    Ok(email)
}

/// Trims a first or last name and checks its length and characters.
pub fn normalize_name(raw: &str) -> Result<String, String> {
    let name = raw.trim();

    if name.chars().count() > MAX_NAME_CHARS {
        return Err(format!("must be at most {MAX_NAME_CHARS} characters"));
    }
    if name.chars().any(|c| c.is_control() || is_invisible(c)) {
        return Err("must not contain control or invisible characters".into());
    }
    Ok(name.to_owned())
}

/// Trims a phone number and checks that it contains 4 to 20 digits, with an
/// optional leading `+` and spaces, dots, dashes or parentheses between them.
pub fn normalize_phone(raw: &str) -> Result<String, String> {
    let phone = raw.trim();
    let allowed = |c: char| c.is_ascii_digit() || matches!(c, ' ' | '-' | '.' | '(' | ')');
    let body = phone.strip_prefix('+').unwrap_or(phone);
    let digits = body.chars().filter(char::is_ascii_digit).count();

    if phone.chars().count() > MAX_PHONE_CHARS
        || !body.chars().all(allowed)
        || !(4..=20).contains(&digits)
    {
        return Err("must be a phone number such as +1 555 0100 (4 to 20 digits)".into());
    }
    Ok(phone.to_owned())
}

/// Checks that a date of birth lies between 1900-01-01 and `today`.
pub fn check_date_of_birth(date: NaiveDate, today: NaiveDate) -> Result<NaiveDate, String> {
    if date.year() < 1900 {
        return Err("must be on or after 1900-01-01".into());
    }
    if date > today {
        return Err("must not be in the future".into());
    }
    Ok(date)
}

/// Maximum number of characters in a permission name.
pub const MAX_PERMISSION_CHARS: usize = 64;

/// Checks a permission name: lower-case ASCII letters, digits and `:._-`,
/// starting with a letter or digit. `admin` is reserved: it reaches the
/// `scope` claim through the staff and superuser flags only.
pub fn check_permission_name(name: &str) -> Result<(), String> {
    let valid_chars = name.chars().all(|c| {
        c.is_ascii_lowercase() || c.is_ascii_digit() || matches!(c, ':' | '.' | '_' | '-')
    });
    let starts_well = name
        .chars()
        .next()
        .is_some_and(|c| c.is_ascii_lowercase() || c.is_ascii_digit());

    if !valid_chars || !starts_well || name.len() > MAX_PERMISSION_CHARS {
        return Err(format!(
            "{:?} is not a permission name: use 1 to {MAX_PERMISSION_CHARS} lower-case letters, digits or :._- such as reports:read",
            name.chars()
                .take(MAX_PERMISSION_CHARS + 1)
                .collect::<String>()
        ));
    }
    if name == auth_shared::claims::ADMIN_SCOPE {
        return Err("\"admin\" is granted through is_staff, not as a permission".into());
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn email_is_trimmed_and_lowercased() {
        assert_eq!(
            normalize_email("  Alice@Example.COM "),
            Ok("alice@example.com".to_owned())
        );
    }

    #[test]
    fn email_unicode_forms_match() {
        let composed = normalize_email("jos\u{e9}@example.com");
        let decomposed = normalize_email("jose\u{301}@example.com");

        assert_eq!(composed, decomposed);
    }

    #[test]
    fn email_full_width_letters_fold() {
        assert_eq!(
            normalize_email("\u{FF41}da@example.com"),
            Ok("ada@example.com".to_owned())
        );
    }

    #[test]
    fn name_rejects_invisible_characters() {
        for name in ["Ada\u{200B}", "\u{202E}Ada", "A\u{2066}da"] {
            assert!(normalize_name(name).is_err(), "{name:?}");
        }
        assert_eq!(normalize_name(" Ada "), Ok("Ada".to_owned()));
    }

    #[test]
    fn malformed_emails_are_rejected() {
        let cases = [
            "",
            "alice",
            "@example.com",
            "alice@",
            "alice@example",
            "alice@.example.com",
            "alice@example.com.",
            "al ice@example.com",
            "alice@exa\u{0}mple.com",
            "a@b@c.com",
            "alice@example..com",
            "ada\u{200B}@example.com",
            "\u{FEFF}ada@example.com",
            "ada@exa\u{202E}mple.com",
        ];
        for email in cases {
            assert!(
                normalize_email(email).is_err(),
                "{email:?} should be rejected"
            );
        }
        assert!(normalize_email(&format!("{}@example.com", "a".repeat(250))).is_err());
    }

    #[test]
    fn phone_numbers_are_checked() {
        assert_eq!(
            normalize_phone(" +1 (555) 010-0199 "),
            Ok("+1 (555) 010-0199".to_owned())
        );
        for phone in ["12", "phone", "+1 555 0100; DROP", "+", &"1".repeat(21)] {
            assert!(
                normalize_phone(phone).is_err(),
                "{phone:?} should be rejected"
            );
        }
    }

    #[test]
    fn dates_of_birth_are_bounded() {
        let today = NaiveDate::from_ymd_opt(2026, 1, 1).unwrap_or_default();
        let valid = NaiveDate::from_ymd_opt(1990, 5, 17).unwrap_or_default();
        let future = NaiveDate::from_ymd_opt(2030, 1, 1).unwrap_or_default();
        let ancient = NaiveDate::from_ymd_opt(1850, 1, 1).unwrap_or_default();

        assert_eq!(check_date_of_birth(valid, today), Ok(valid));
        assert!(check_date_of_birth(future, today).is_err());
        assert!(check_date_of_birth(ancient, today).is_err());
    }
}
