//! Password rules, after NIST SP 800-63B §5.1.1.2: a minimum length, no composition rules,
//! refuse passwords that are common, repetitive or contain the user name.

/// Fewest characters a password may have.
pub const MIN_PASSWORD_LEN: usize = 12;
/// Most characters (hashing is bounded).
const MAX_PASSWORD_LEN: usize = 256;

/// Passwords that lead breach lists, and words every hospital's staff would try.
const COMMON: &[&str] = &[
    "password", "123456", "qwerty", "letmein", "welcome", "iloveyou", "admin", "hospital", "nurse",
    "doctor", "changeme", "abc123", "monkey", "dragon", "football", "baseball", "sunshine",
    "princess", "trustno1", "passw0rd", "summer", "winter", "spring", "autumn",
];

/// What is wrong with a password (empty: acceptable).
pub fn password_problems(password: &str, username: &str) -> Vec<String> {
    let mut out = Vec::new();
    let n = password.chars().count();
    if n < MIN_PASSWORD_LEN {
        out.push(format!(
            "use at least {MIN_PASSWORD_LEN} characters (a short sentence is easy to remember)"
        ));
    }
    if n > MAX_PASSWORD_LEN {
        out.push(format!("use at most {MAX_PASSWORD_LEN} characters"));
    }
    let lower = password.to_lowercase();
    let distinct = {
        let mut c: Vec<char> = lower.chars().collect();
        c.sort_unstable();
        c.dedup();
        c.len()
    };
    if n > 0 && distinct < 4 {
        out.push("use more than a few different characters".into());
    }
    let squeezed: String = lower.chars().filter(|c| c.is_alphanumeric()).collect();
    if COMMON
        .iter()
        .any(|w| squeezed == *w || squeezed.trim_end_matches(|c: char| c.is_ascii_digit()) == *w)
        || (squeezed.len() >= 6 && "01234567890123456789".contains(&squeezed))
        || (squeezed.len() >= 6 && "abcdefghijklmnopqrstuvwxyz".contains(&squeezed))
    {
        out.push("this password is too common".into());
    }
    let user = username.to_lowercase();
    if user.len() >= 3 && lower.contains(&user) {
        out.push("do not include your user name".into());
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn password_rules() {
        assert!(password_problems("correct horse battery", "nurse.jones").is_empty());
        assert_eq!(password_problems("x".repeat(11).as_str(), "a").len(), 2);
        assert!(!password_problems("abcdefghijkl", "a").is_empty());
        assert!(!password_problems("password1234", "a").is_empty());
        assert!(!password_problems("nurse.jones is here", "nurse.jones").is_empty());
        assert!(!password_problems("aaaaaaaaaaaaaaaa", "a").is_empty());
        assert!(password_problems(&"Tend ward 3 East! ".repeat(2), "sam").is_empty());
        assert!(!password_problems(&"ab1!".repeat(70), "sam").is_empty());
    }
}
