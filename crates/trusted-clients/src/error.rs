//! The crate's one error type. Messages are written for the developer of the client whose
//! token was refused, and never contain the token: it is a credential.

use std::path::PathBuf;

/// Why a trust configuration could not be loaded, or why a token was refused.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum TrustError {
    /// The configuration file could not be read.
    #[error("cannot read {}: {source}", path.display())]
    Read {
        /// The file.
        path: PathBuf,
        /// The IO error.
        source: std::io::Error,
    },
    /// The configuration is not the expected JSON (the message has line and column).
    #[error("trust configuration: {0}")]
    Config(String),
    /// One issuer's entry in the configuration is unusable.
    #[error("trust configuration, issuer '{iss}': {problem}")]
    Issuer {
        /// The issuer's `iss`.
        iss: String,
        /// What is wrong, in words.
        problem: String,
    },

    /// The token is not a compact JWS with base64url JSON header and claims.
    #[error("malformed token: {0}")]
    Malformed(String),
    /// The header's `alg` is not RS384 or ES384 (`none` and HMAC included).
    #[error("token signed with {0}: only RS384 and ES384 are accepted")]
    Algorithm(String),
    /// A required claim is absent or empty.
    #[error("token has no '{0}' claim")]
    MissingClaim(&'static str),
    /// No configured issuer has this `iss`.
    #[error("issuer '{0}' is not trusted")]
    UntrustedIssuer(String),
    /// The header's `kid` names no key of the issuer.
    #[error("no key '{kid}' for issuer '{iss}'")]
    UnknownKey {
        /// The issuer.
        iss: String,
        /// The header's `kid`.
        kid: String,
    },
    /// The `kid` names a key that cannot verify the header's `alg`.
    #[error("key '{kid}' of issuer '{iss}' cannot verify {alg}: {why}")]
    WrongKey {
        /// The issuer.
        iss: String,
        /// The header's `kid`.
        kid: String,
        /// The header's `alg`.
        alg: &'static str,
        /// What the key is instead.
        why: String,
    },
    /// The header has no `kid` and the issuer does not have exactly one key for the `alg`.
    #[error("token has no 'kid' and issuer '{iss}' has {count} {alg} keys: name one with 'kid'")]
    NoKid {
        /// The issuer.
        iss: String,
        /// The header's `alg`.
        alg: &'static str,
        /// How many of the issuer's keys fit the `alg`.
        count: usize,
    },
    /// The signature does not verify with the selected key.
    #[error("signature does not verify with {alg} key {} of issuer '{iss}'", kid.as_deref().map_or("(without kid)".into(), |k| format!("'{k}'")))]
    Signature {
        /// The issuer.
        iss: String,
        /// The key's `kid`, if it has one.
        kid: Option<String>,
        /// The header's `alg`.
        alg: &'static str,
    },
    /// No `aud` value is the expected endpoint.
    #[error("audience {found} does not match '{expected}'")]
    Audience {
        /// The token's `aud` values, quoted.
        found: String,
        /// The endpoint that was called.
        expected: String,
    },
    /// `exp` plus the leeway is not after now.
    #[error("token expired at {} ({} s before now; leeway {leeway} s)", at(*.exp), .now.saturating_sub(*.exp))]
    Expired {
        /// The token's `exp`.
        exp: i64,
        /// The verification time.
        now: i64,
        /// The allowed clock skew in seconds.
        leeway: i64,
    },
    /// `iat` or `nbf` is later than now plus the leeway.
    #[error("token '{claim}' is {} ({} s after now; leeway {leeway} s): check the client's clock", at(*.time), .time.saturating_sub(*.now))]
    NotYetValid {
        /// `iat` or `nbf`.
        claim: &'static str,
        /// Its value.
        time: i64,
        /// The verification time.
        now: i64,
        /// The allowed clock skew in seconds.
        leeway: i64,
    },
    /// The token lives longer than allowed (`exp - iat`, or `exp` too far after now).
    #[error("token lives {lifetime} s ({from} to exp): at most {max} s are accepted")]
    Lifetime {
        /// `iat` or `now`: where the lifetime was counted from.
        from: &'static str,
        /// The lifetime in seconds.
        lifetime: i64,
        /// The maximum.
        max: i64,
    },
    /// The token's `tenant` is not the one configured for its issuer.
    #[error("tenant '{found}' is not accepted from issuer '{iss}' (expected '{expected}')")]
    Tenant {
        /// The issuer.
        iss: String,
        /// The token's `tenant`.
        found: String,
        /// The configured tenant.
        expected: String,
    },
    /// A token with this issuer and `jti` was already accepted and has not expired.
    #[error("token '{jti}' from issuer '{iss}' already used: each token needs a new 'jti'")]
    Replayed {
        /// The issuer.
        iss: String,
        /// The token's `jti`.
        jti: String,
    },
    /// The replay cache is full of unexpired tokens; refusing is safer than forgetting one.
    #[error("too many tokens in flight ({0} unexpired): try again shortly")]
    ReplayCacheFull(usize),
}

/// A NumericDate as RFC 3339 UTC, or the number itself when out of range.
fn at(secs: i64) -> String {
    chrono::DateTime::from_timestamp(secs, 0).map_or_else(
        || secs.to_string(),
        |t| t.format("%Y-%m-%dT%H:%M:%SZ").to_string(),
    )
}
