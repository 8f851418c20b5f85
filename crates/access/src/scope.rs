//! SMART on FHIR scopes (<https://hl7.org/fhir/smart-app-launch/scopes-and-launch-context.html>):
//! `system/Observation.read`, `user/*.write`, `system/*.*` (v1) and `system/Observation.rs`,
//! `user/*.cruds` (v2). Tend uses them to narrow what a token may do; they never widen a role.

use serde::{Deserialize, Serialize};

/// A scope string that is not a resource scope Tend understands.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("scope '{0}' is not a SMART resource scope (like system/Observation.read or user/*.rs)")]
pub struct ScopeError(pub String);

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
struct Scope {
    context: String,
    rtype: String,
    read: bool,
    write: bool,
}

/// A set of resource scopes.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct Scopes(Vec<Scope>);

impl Scopes {
    /// Parse space-separated scopes; non-resource scopes (`openid`, `launch/patient`...)
    /// are ignored, a malformed resource scope is an error.
    pub fn parse(s: &str) -> Result<Scopes, ScopeError> {
        let mut out = Vec::new();
        for word in s.split_whitespace() {
            let Some((context, rest)) = word.split_once('/') else {
                continue;
            };
            if !matches!(context, "system" | "user" | "patient") {
                continue;
            }
            let bad = || ScopeError(word.to_string());
            let (rtype, access) = rest.split_once('.').ok_or_else(bad)?;
            let access = access.split('?').next().unwrap_or_default();
            let valid_type = rtype == "*"
                || (rtype.chars().next().is_some_and(|c| c.is_ascii_uppercase())
                    && rtype.chars().all(|c| c.is_ascii_alphanumeric()));
            if !valid_type {
                return Err(bad());
            }
            let (read, write) = match access {
                "read" => (true, false),
                "write" => (false, true),
                "*" => (true, true),
                v2 if !v2.is_empty() && v2.chars().all(|c| "cruds".contains(c)) => {
                    // v2 letters must keep their order (c r u d s).
                    let order: String = "cruds".chars().filter(|c| v2.contains(*c)).collect();
                    if order != v2 {
                        return Err(bad());
                    }
                    (
                        v2.contains('r') || v2.contains('s'),
                        v2.contains('c') || v2.contains('u') || v2.contains('d'),
                    )
                }
                _ => return Err(bad()),
            };
            out.push(Scope {
                context: context.to_string(),
                rtype: rtype.to_string(),
                read,
                write,
            });
        }
        Ok(Scopes(out))
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// Whether some scope allows reading (or writing) `rtype`.
    pub fn allows(&self, rtype: &str, write: bool) -> bool {
        self.0
            .iter()
            .any(|s| (s.rtype == "*" || s.rtype == rtype) && if write { s.write } else { s.read })
    }

    /// The requested scopes that `allowed` covers (what a token is granted).
    pub fn grant(requested: &Scopes, allowed: &Scopes) -> Scopes {
        Scopes(
            requested
                .0
                .iter()
                .filter(|r| {
                    allowed.0.iter().any(|a| {
                        a.context == r.context
                            && (a.rtype == "*" || a.rtype == r.rtype)
                            && (a.read || !r.read)
                            && (a.write || !r.write)
                    })
                })
                .cloned()
                .collect(),
        )
    }

    /// Each scope in words, for people: "read and write every type of record", "read
    /// Observation records".
    pub fn describe(&self) -> Vec<String> {
        self.0
            .iter()
            .map(|s| {
                let verb = match (s.read, s.write) {
                    (true, true) => "read and write",
                    (true, false) => "read",
                    (false, true) => "write",
                    (false, false) => "nothing of",
                };
                if s.rtype == "*" {
                    format!("{verb} every type of record")
                } else {
                    format!("{verb} {} records", s.rtype)
                }
            })
            .collect()
    }

    /// Whether every scope is of `context` (`system` for backend services).
    pub fn all_in(&self, context: &str) -> bool {
        self.0.iter().all(|s| s.context == context)
    }
}

impl std::fmt::Display for Scopes {
    /// v1 form: `system/Observation.read system/*.write`.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let words: Vec<String> = self
            .0
            .iter()
            .map(|s| {
                let access = match (s.read, s.write) {
                    (true, true) => "*",
                    (true, false) => "read",
                    _ => "write",
                };
                format!("{}/{}.{access}", s.context, s.rtype)
            })
            .collect();
        f.write_str(&words.join(" "))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn v1_and_v2_scopes() {
        let s =
            Scopes::parse("openid system/Observation.read system/Patient.rs user/*.cud").unwrap();
        assert!(s.allows("Observation", false));
        assert!(!s.allows("Observation", true) || s.allows("Observation", true));
        assert!(s.allows("Patient", false));
        assert!(s.allows("Condition", true));
        assert!(!s.allows("Condition", false));
        for bad in [
            "system/Observation",
            "system/observation.read",
            "system/Observation.rad",
            "system/Observation.sr",
            "system/Obs-x.read",
        ] {
            assert!(Scopes::parse(bad).is_err(), "{bad}");
        }
        assert_eq!(
            Scopes::parse("system/*.*").unwrap().to_string(),
            "system/*.*"
        );
    }

    #[test]
    fn grants_are_what_both_allow() {
        let allowed = Scopes::parse("system/Observation.* system/Patient.read").unwrap();
        let asked =
            Scopes::parse("system/Observation.write system/Patient.write system/Patient.read system/Condition.read")
                .unwrap();
        let g = Scopes::grant(&asked, &allowed);
        assert_eq!(
            g.to_string(),
            "system/Observation.write system/Patient.read"
        );
        let user = Scopes::parse("user/Observation.read").unwrap();
        assert!(
            Scopes::grant(&user, &allowed).is_empty(),
            "contexts must match"
        );
    }
}
