//! Stable resource ids ([`id`](https://hl7.org/fhir/R4/datatypes.html#id):
//! `[A-Za-z0-9\-\.]{1,64}`) derived from what a resource stands for, so that writing the
//! same thing twice lands on the same resource.

use sha2::{Digest, Sha256};

/// The first 128 bits of the SHA-256 of `key`.
///
/// Tend's one hash of keys made of patient data: [`stable_id`] is built on it, and so are
/// Bundle-local `urn:uuid:` URLs and message fingerprints. See [`stable_id`] for why SHA-256.
pub fn digest(key: &str) -> [u8; 16] {
    let full = Sha256::digest(key.as_bytes());
    let mut d = [0u8; 16];
    d.copy_from_slice(&full[..16]);
    d
}

/// [`digest`] as 32 lowercase hex digits.
pub fn digest_hex(key: &str) -> String {
    let mut hex = String::with_capacity(32);
    for b in digest(key) {
        hex.push_str(&format!("{b:02x}"));
    }
    hex
}

/// A stable id from a key: `prefix-` and the first 32 hex digits (128 bits) of the key's
/// SHA-256, e.g. `pat-` and 32 digits for a patient from `identifier=system|value`.
///
/// `prefix` is letters, digits, `-` or `.`; with at most 31 characters the id fits FHIR's
/// 64, and Tend's prefixes (`msg`, `pat`, `enc`, `loc`, `hl7`, `alert`, `news2`, ...) leave
/// room for the suffixes some callers add (`hl7-…-o500`, 41 characters).
///
/// Why SHA-256: keys are patient data (identifiers, visit numbers, message control ids).
/// - A 64-bit hash (FNV-1a was used) collides by the birthday bound: about one chance in
///   4,000 at 100 million keys and one in 40 at a billion, a few years of results and
///   messages for a large hospital; a collision silently makes two records one. With 128
///   bits the chance stays below one in a billion up to 10^14 keys.
/// - FNV-1a is not a cryptographic hash: anyone who can shape a key (a sender's control id)
///   can compute one that collides with another patient's id and overwrite that record.
///   SHA-256 has no known way to find a second key for a given id.
/// - An id shows nothing of its key but by guessing: there is no shortcut from an id back to
///   the identifier it came from. Ids are not secret, though: a key from a small space (a
///   medical record number) can still be found by hashing every candidate, so what a caller
///   may read is decided by the store's access rules, never by the id being hard to guess.
pub fn stable_id(prefix: &str, key: &str) -> String {
    let id = format!("{prefix}-{}", digest_hex(key));
    debug_assert!(is_id(&id), "'{prefix}' makes ids outside FHIR's id rule");
    id
}

/// Whether `s` is a FHIR id: `[A-Za-z0-9\-\.]{1,64}`.
pub fn is_id(s: &str) -> bool {
    (1..=64).contains(&s.len())
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'.')
}

#[cfg(test)]
mod tests {
    use super::*;

    /// (prefix, key, id): the digits are the start of the key's published SHA-256.
    const CASES: &[(&str, &str, &str)] = &[
        ("pat", "", "pat-e3b0c44298fc1c149afbf4c8996fb924"),
        ("msg", "abc", "msg-ba7816bf8f01cfea414140de5dae2223"),
        (
            "hl7",
            "abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq",
            "hl7-248d6a61d20638b8e5c026930c3e6039",
        ),
    ];

    #[test]
    fn ids_are_the_start_of_the_keys_sha256() {
        for (prefix, key, expected) in CASES {
            assert_eq!(stable_id(prefix, key), *expected, "{prefix} {key}");
        }
    }

    #[test]
    fn ids_are_deterministic_valid_and_differ_by_key() {
        let mut seen = std::collections::HashSet::new();
        for prefix in [
            "msg", "pat", "enc", "loc", "hl7", "alert", "news2", "qsofa", "sirs",
        ] {
            for n in 0..200 {
                let key = format!("urn:oid:1.2.3|{n}");
                let id = stable_id(prefix, &key);
                assert_eq!(id, stable_id(prefix, &key), "deterministic");
                assert!(is_id(&id), "{id} is a FHIR id");
                assert_eq!(id.len(), prefix.len() + 33);
                assert!(seen.insert(id), "a different key gives a different id");
            }
        }
        let longest = stable_id(&"p".repeat(31), "k");
        assert_eq!(longest.len(), 64);
        assert!(is_id(&longest));
    }

    #[test]
    fn the_id_rule() {
        for ok in ["a", "A-1.b", &"x".repeat(64)] {
            assert!(is_id(ok), "{ok}");
        }
        for bad in ["", "a/b", "a b", "é", "a_b", &"x".repeat(65)] {
            assert!(!is_id(bad), "{bad}");
        }
    }
}
