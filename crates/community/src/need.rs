//! Social needs: the domains of the AHC HRSN screening (crate `social-needs`), named by their
//! HL7 SDOH Clinical Care IG category codes (`SDOHCC-CodeSystemTemporaryCodes`), and what a
//! referral for each asks for (`data/referral-codes.json`, SNOMED CT, sources cited there).
//!
//! A service's needs, a query's need and a referral's need are these codes. The screening
//! files the utilities question's Observation under `sdoh-category-unspecified` (the STU 2
//! Observation category value set lacked utility-insecurity); a referral and a service are
//! filed under `utility-insecurity` itself, in `SDOHCCValueSetSDOHCategory` since STU 2.1.

use serde::Deserialize;
use social_needs::Instrument;

/// The need codes, in the screening's order.
pub fn codes() -> impl Iterator<Item = &'static str> {
    Instrument::ahc_hrsn()
        .domains
        .iter()
        .map(|d| d.code.as_str())
}

/// Whether `code` is a need Tend screens for.
pub fn is_need(code: &str) -> bool {
    codes().any(|c| c == code)
}

/// A need in words, lower case for a sentence ("food insecurity", "utilities"); the code
/// itself when it is not a need Tend knows.
pub fn words(code: &str) -> String {
    match Instrument::ahc_hrsn()
        .domains
        .iter()
        .find(|d| d.code == code)
    {
        Some(d) => {
            let w = d.words.as_str();
            let mut c = w.chars();
            match c.next() {
                Some(first) => first.to_lowercase().chain(c).collect(),
                None => String::new(),
            }
        }
        None => code.to_string(),
    }
}

/// A need as a heading or a list item ("Food insecurity"); the code itself when it is not
/// a need Tend knows.
pub fn title(code: &str) -> String {
    Instrument::ahc_hrsn()
        .domains
        .iter()
        .find(|d| d.code == code)
        .map_or_else(|| code.to_string(), |d| d.words.clone())
}

/// The place of a need in the screening's order (unknown codes last).
pub(crate) fn rank(code: &str) -> usize {
    codes().position(|c| c == code).unwrap_or(usize::MAX)
}

/// A SNOMED CT concept.
#[derive(Debug, Clone, Deserialize)]
pub(crate) struct Concept {
    pub(crate) code: String,
    pub(crate) display: String,
}

#[derive(Debug, Clone, Deserialize)]
struct ByNeed {
    need: String,
    #[serde(default)]
    code: Option<String>,
    #[serde(default)]
    display: Option<String>,
    text: String,
}

/// What a referral asks for: `data/referral-codes.json`.
#[derive(Debug, Clone, Deserialize)]
pub(crate) struct ReferralCodes {
    pub(crate) system: String,
    /// ServiceRequest.category beside the SDOHCC domain.
    pub(crate) category: Concept,
    fallback: Concept,
    by_need: Vec<ByNeed>,
}

impl ReferralCodes {
    pub(crate) fn shipped() -> &'static ReferralCodes {
        static C: std::sync::OnceLock<ReferralCodes> = std::sync::OnceLock::new();
        C.get_or_init(|| {
            serde_json::from_str(include_str!("../data/referral-codes.json"))
                .expect("data/referral-codes.json holds the referral codes")
        })
    }

    /// The ServiceRequest.code of a referral for `need`: (concept, text).
    pub(crate) fn for_need(&self, need: &str) -> Option<(Concept, &str)> {
        let n = self.by_need.iter().find(|n| n.need == need)?;
        let concept = match (&n.code, &n.display) {
            (Some(code), Some(display)) => Concept {
                code: code.clone(),
                display: display.clone(),
            },
            _ => self.fallback.clone(),
        };
        Some((concept, n.text.as_str()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_need_has_a_referral_code_and_every_code_is_a_need() {
        let c = ReferralCodes::shipped();
        for need in codes() {
            assert!(c.for_need(need).is_some(), "{need} has no referral code");
        }
        for n in &c.by_need {
            assert!(is_need(&n.need), "{} is not a screening domain", n.need);
            assert_eq!(
                n.code.is_some(),
                n.display.is_some(),
                "{}: a code needs its display",
                n.need
            );
        }
        assert!(c.for_need("financial-insecurity").is_none());
    }

    #[test]
    fn words_are_lower_case_for_sentences() {
        assert_eq!(words("food-insecurity"), "food insecurity");
        assert_eq!(words("utility-insecurity"), "utilities");
        assert_eq!(words("no-such-need"), "no-such-need");
        assert!(rank("food-insecurity") < rank("no-such-need"));
    }
}
