//! A directory's taxonomy terms as social needs: `data/taxonomy.json` (sources cited there:
//! the Open Eligibility taxonomy, the 211 Human Services Indexing System / AIRS 211 LA County
//! taxonomy, and plain term names).
//!
//! A term is read by code when its taxonomy is one the file names (Open Eligibility codes
//! exactly, 211 codes by their longest listed prefix, so BH-1800.1500-100 "Domestic Violence
//! Shelters" is read by the BH-1800.1500 rule, not BH-1800), otherwise by name. The same file
//! says which attribute names tell a service's capacity (HSDS has no field for a waiting
//! list).

use serde::Deserialize;

use super::CapacityStatus;

#[derive(Debug, Clone, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
enum Matching {
    Exact,
    Prefix,
}

/// A taxonomy Tend reads by code.
#[derive(Debug, Clone, Deserialize)]
pub struct Taxonomy {
    /// Tend's key for it (`open-eligibility`, `211`).
    pub key: String,
    /// The URI written as Coding.system.
    pub system: String,
    #[serde(rename = "match")]
    matching: Matching,
    /// What directories call it (lower case).
    names: Vec<String>,
}

#[derive(Debug, Clone, Deserialize)]
struct CodeRule {
    taxonomy: String,
    code: String,
    needs: Vec<String>,
}

#[derive(Debug, Clone, Deserialize)]
struct NameRule {
    name: String,
    needs: Vec<String>,
}

#[derive(Debug, Clone, Deserialize)]
struct CapacityRule {
    name: String,
    status: String,
}

/// The shipped mapping.
#[derive(Debug, Clone, Deserialize)]
pub struct Taxonomies {
    pub taxonomies: Vec<Taxonomy>,
    codes: Vec<CodeRule>,
    names: Vec<NameRule>,
    capacity: Vec<CapacityRule>,
}

fn fold(s: &str) -> String {
    s.trim().to_lowercase()
}

impl Taxonomies {
    /// `data/taxonomy.json`.
    pub fn shipped() -> &'static Taxonomies {
        static T: std::sync::OnceLock<Taxonomies> = std::sync::OnceLock::new();
        T.get_or_init(|| {
            serde_json::from_str(include_str!("../../data/taxonomy.json"))
                .expect("data/taxonomy.json holds the taxonomy mapping")
        })
    }

    /// The key of the taxonomy a directory names ("Open Eligibility" → `open-eligibility`).
    pub fn taxonomy_key(&self, named: &str) -> Option<&str> {
        let named = fold(named);
        self.taxonomies
            .iter()
            .find(|t| t.key == named || t.names.contains(&named))
            .map(|t| t.key.as_str())
    }

    /// The taxonomy with key `key`.
    pub fn taxonomy(&self, key: &str) -> Option<&Taxonomy> {
        self.taxonomies.iter().find(|t| t.key == key)
    }

    /// The taxonomy whose Coding.system is `system`.
    pub fn by_system(&self, system: &str) -> Option<&Taxonomy> {
        self.taxonomies.iter().find(|t| t.system == system)
    }

    /// The needs a term names: by code within its taxonomy when a code rule covers it, else by
    /// name; empty when it names none.
    pub fn needs(&self, taxonomy: Option<&str>, code: Option<&str>, name: &str) -> &[String] {
        if let (Some(key), Some(code)) = (taxonomy, code) {
            if let Some(rule) = self.code_rule(key, code.trim()) {
                return &rule.needs;
            }
        }
        let name = fold(name);
        self.names
            .iter()
            .find(|r| fold(&r.name) == name)
            .map(|r| r.needs.as_slice())
            .unwrap_or_default()
    }

    fn code_rule(&self, key: &str, code: &str) -> Option<&CodeRule> {
        let taxonomy = self.taxonomy(key)?;
        let rules = self.codes.iter().filter(|r| r.taxonomy == key);
        match taxonomy.matching {
            Matching::Exact => rules.into_iter().find(|r| r.code == code),
            Matching::Prefix => rules
                .filter(|r| is_prefix(&r.code, code))
                .max_by_key(|r| r.code.len()),
        }
    }

    /// The capacity an attribute's term name tells, if it is one of the capacity names.
    pub fn capacity(&self, name: &str) -> Option<CapacityStatus> {
        let name = fold(name);
        let rule = self.capacity.iter().find(|r| fold(&r.name) == name)?;
        Some(match rule.status.as_str() {
            "open" => CapacityStatus::Open,
            "waitlist" => CapacityStatus::Waitlist,
            _ => CapacityStatus::Full,
        })
    }
}

/// Whether the hierarchical code `prefix` is `code` or one of its ancestors: the prefix ends
/// where a level of the code ends (`BD` covers `BD-1800` but not `BDX`).
fn is_prefix(prefix: &str, code: &str) -> bool {
    let code = code.to_ascii_uppercase();
    code.strip_prefix(prefix)
        .is_some_and(|rest| rest.is_empty() || rest.starts_with(['-', '.']))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_file_names_only_needs_the_screening_has() {
        let t = Taxonomies::shipped();
        let needs = t
            .codes
            .iter()
            .flat_map(|r| &r.needs)
            .chain(t.names.iter().flat_map(|r| &r.needs));
        for n in needs {
            assert!(crate::need::is_need(n), "{n} is not a screening domain");
        }
        for r in &t.codes {
            assert!(t.taxonomy(&r.taxonomy).is_some(), "{}: no taxonomy", r.code);
        }
        for r in &t.capacity {
            assert!(
                ["open", "waitlist", "full"].contains(&r.status.as_str()),
                "{}",
                r.name
            );
        }
    }

    #[test]
    fn hierarchical_codes_take_the_longest_listed_prefix() {
        let t = Taxonomies::shipped();
        assert_eq!(
            t.needs(Some("211"), Some("BH-1800.1500-100"), "x"),
            ["intimate-partner-violence", "housing-instability"]
        );
        assert_eq!(
            t.needs(Some("211"), Some("BH-1800.8500"), "x"),
            ["housing-instability"]
        );
        assert_eq!(
            t.needs(Some("211"), Some("bd-1800.2000-180"), "x"),
            ["food-insecurity"]
        );
        assert!(t.needs(Some("211"), Some("BDX-1"), "x").is_empty());
        assert!(t.needs(Some("211"), Some("LN"), "x").is_empty());
        // Open Eligibility codes are exact: 11301 is not a child of 1130.
        assert!(t
            .needs(Some("open-eligibility"), Some("11301"), "x")
            .is_empty());
        // No code rule: the name decides.
        assert_eq!(
            t.needs(Some("open-eligibility"), Some("9999"), " food pantry "),
            ["food-insecurity"]
        );
        assert_eq!(t.taxonomy_key("AIRS/211 LA County Taxonomy"), Some("211"));
        assert_eq!(t.taxonomy_key("Local list"), None);
    }
}
