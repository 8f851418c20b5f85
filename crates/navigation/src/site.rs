//! Site policy (`data/site.json`, replaceable by a site's own file): which pathways a patient
//! is put on, how long each step usually takes (the basis of the predicted breach), the words
//! a navigator reads for each step, and the tumour site of a referral or cancer code. The
//! shipped numbers are defaults marked as site policy, not national targets.

use std::collections::HashMap;

use serde::Deserialize;

use crate::Error;

/// A code, or a prefix of codes when it ends in `*` (`C15*`).
#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct CodeMatch {
    pub system: String,
    pub code: String,
}

impl CodeMatch {
    pub fn matches(&self, system: &str, code: &str) -> bool {
        system == self.system
            && match self.code.strip_suffix('*') {
                Some(prefix) => code.starts_with(prefix),
                None => code == self.code,
            }
    }
}

/// When a pathway applies to a patient.
#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct Entry {
    /// The pathway file's id.
    pub pathway: String,
    /// Milestones of the pathway whose evidence puts a patient on it (a referral).
    #[serde(default)]
    pub entry_milestones: Vec<String>,
    /// Condition codes that put a patient on it (a confirmed or provisional diagnosis).
    #[serde(default)]
    pub entry_conditions: Vec<CodeMatch>,
    /// Only a referral or diagnosis this many days old or newer puts a patient on it (older
    /// ones are history, not a pathway to run: e.g. a quality measure counted from
    /// diagnosis); `None`: any age.
    #[serde(default)]
    pub within_days: Option<i64>,
}

/// A tumour site label and the referral or diagnosis codes that name it.
#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct TumourSite {
    pub label: String,
    pub codes: Vec<CodeMatch>,
}

/// The navigation service's site policy.
#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct Site {
    #[serde(default)]
    pub about: String,
    pub pathways: Vec<Entry>,
    /// Pathway id → milestone id → the days the step usually takes after the step before it.
    #[serde(default)]
    pub typical_days: HashMap<String, HashMap<String, i64>>,
    /// Milestone id → short words ("endoscopy").
    #[serde(default)]
    pub step_words: HashMap<String, String>,
    #[serde(default)]
    pub tumour_sites: Vec<TumourSite>,
    /// Pathway id → milestone id → how many of the site's own patients the typical days
    /// were learned from (`learn.rs`); absent: the policy's default.
    #[serde(skip)]
    pub learned: HashMap<String, HashMap<String, usize>>,
}

const BUILTIN: &str = include_str!("../data/site.json");

impl Site {
    /// The shipped defaults.
    pub fn builtin() -> Site {
        Site::from_json(BUILTIN).expect("the shipped site policy parses")
    }

    /// A site's own file.
    pub fn from_json(text: &str) -> Result<Site, Error> {
        serde_json::from_str(text).map_err(|e| Error::Invalid(format!("site policy: {e}")))
    }

    /// How many days `milestone` of `pathway` usually takes (0 when the site gave no figure).
    pub fn typical(&self, pathway: &str, milestone: &str) -> i64 {
        self.typical_days
            .get(pathway)
            .and_then(|m| m.get(milestone))
            .copied()
            .unwrap_or(0)
    }

    /// How many patients the typical days of a step were learned from (0: the default).
    pub fn learned_from(&self, pathway: &str, milestone: &str) -> usize {
        self.learned
            .get(pathway)
            .and_then(|m| m.get(milestone))
            .copied()
            .unwrap_or(0)
    }

    /// Short words for a step, or the milestone's name in lower case.
    pub fn words(&self, milestone: &str, name: &str) -> String {
        self.step_words
            .get(milestone)
            .cloned()
            .unwrap_or_else(|| name.to_lowercase())
    }

    /// The tumour site a code names.
    pub fn tumour_site(&self, system: &str, code: &str) -> Option<&str> {
        self.tumour_sites
            .iter()
            .find(|s| s.codes.iter().any(|c| c.matches(system, code)))
            .map(|s| s.label.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_shipped_policy_names_shipped_pathways_and_milestones() {
        let site = Site::builtin();
        let set = pathways::PathwaySet::builtin();
        for e in &site.pathways {
            let p = set.pathway(&e.pathway).expect("a shipped pathway");
            for m in &e.entry_milestones {
                assert!(p.milestone(m).is_some(), "{}: {m}", e.pathway);
            }
        }
        for (p, steps) in &site.typical_days {
            let p = set.pathway(p).expect("a shipped pathway");
            for m in steps.keys() {
                assert!(p.milestone(m).is_some(), "{}: {m}", p.id);
            }
        }
        assert_eq!(
            site.tumour_site("http://hl7.org/fhir/sid/icd-10-cm", "C15.5"),
            Some("Upper GI")
        );
        assert_eq!(site.typical("oesophago-gastric", "ogd"), 9);
        assert_eq!(site.typical("oesophago-gastric", "nothing"), 0);
    }
}
