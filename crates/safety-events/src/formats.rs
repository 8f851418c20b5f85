//! The vocabularies of a report and its review, as data: `data/common-formats.json` (event
//! types, categories, the AHRQ Harm Scale, contributing factors, the details of falls,
//! pressure injuries and medication events) and `data/review.json` (statuses, priorities,
//! the steps and the statuses each applies from).

use serde::Deserialize;

/// A code with its words (and, for some lists, an explanation).
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct Code {
    pub code: String,
    pub words: String,
    #[serde(default)]
    pub explain: String,
}

/// What is being reported: incident, near miss, unsafe condition.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct Kind {
    pub code: String,
    pub words: String,
    pub explain: String,
    /// AdverseEvent.actuality: `actual` (it happened to the patient) or `potential`.
    pub actuality: String,
}

/// An event category (a Common Formats module), with the kinds it accepts.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct Category {
    pub code: String,
    pub words: String,
    pub kinds: Vec<String>,
    /// The event-specific details it asks for (`fall`, `pressure-injury`, `medication`).
    #[serde(default)]
    pub details: Option<String>,
}

/// A level of the AHRQ Harm Scale v1.2.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct Harm {
    pub code: String,
    pub words: String,
    pub explain: String,
    /// Higher is worse: death 5 … no harm 1, unknown 0.
    pub rank: u8,
    /// AdverseEvent.severity (mild, moderate, severe), when the level maps to one.
    #[serde(default)]
    pub severity: Option<String>,
    /// AdverseEvent.seriousness `serious`.
    pub serious: bool,
}

#[derive(Debug, Clone, Deserialize)]
struct CommonFormats {
    kinds: Vec<Kind>,
    categories: Vec<Category>,
    harm: Vec<Harm>,
    factors: Vec<Code>,
    fall_injury: Vec<Code>,
    pressure_stage: Vec<Code>,
    medication_stage: Vec<Code>,
    medication_error: Vec<Code>,
}

/// A review step and the statuses it applies from (and leads to).
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct StepRule {
    pub code: String,
    pub from: Vec<String>,
    #[serde(default)]
    pub to: Option<String>,
}

#[derive(Debug, Clone, Deserialize)]
struct ReviewRules {
    statuses: Vec<Code>,
    priorities: Vec<Code>,
    steps: Vec<StepRule>,
}

/// Every vocabulary a report and its review use.
#[derive(Debug, Clone)]
pub struct Formats {
    cf: CommonFormats,
    review: ReviewRules,
}

const COMMON_FORMATS: &str = include_str!("../data/common-formats.json");
const REVIEW: &str = include_str!("../data/review.json");

impl Formats {
    /// The files shipped with Tend.
    pub fn shipped() -> &'static Formats {
        static F: std::sync::OnceLock<Formats> = std::sync::OnceLock::new();
        F.get_or_init(|| {
            Formats::from_json(COMMON_FORMATS, REVIEW).expect("the shipped formats are valid")
        })
    }

    /// Formats from a site's own files (the shape of the shipped ones).
    pub fn from_json(common_formats: &str, review: &str) -> Result<Formats, crate::Error> {
        let cf: CommonFormats = serde_json::from_str(common_formats)
            .map_err(|e| crate::Error::Invalid(format!("common formats: {e}")))?;
        let review: ReviewRules = serde_json::from_str(review)
            .map_err(|e| crate::Error::Invalid(format!("review rules: {e}")))?;
        for c in &cf.categories {
            if let Some(k) = c
                .kinds
                .iter()
                .find(|k| !cf.kinds.iter().any(|x| &x.code == *k))
            {
                return Err(crate::Error::Invalid(format!(
                    "category {} accepts an unknown kind {k}",
                    c.code
                )));
            }
        }
        Ok(Formats { cf, review })
    }

    pub fn kinds(&self) -> &[Kind] {
        &self.cf.kinds
    }
    pub fn kind(&self, code: &str) -> Option<&Kind> {
        self.cf.kinds.iter().find(|k| k.code == code)
    }
    pub fn categories(&self) -> &[Category] {
        &self.cf.categories
    }
    pub fn category(&self, code: &str) -> Option<&Category> {
        self.cf.categories.iter().find(|c| c.code == code)
    }
    pub fn harms(&self) -> &[Harm] {
        &self.cf.harm
    }
    pub fn harm(&self, code: &str) -> Option<&Harm> {
        self.cf.harm.iter().find(|h| h.code == code)
    }
    pub fn factors(&self) -> &[Code] {
        &self.cf.factors
    }
    pub fn fall_injuries(&self) -> &[Code] {
        &self.cf.fall_injury
    }
    pub fn pressure_stages(&self) -> &[Code] {
        &self.cf.pressure_stage
    }
    pub fn medication_stages(&self) -> &[Code] {
        &self.cf.medication_stage
    }
    pub fn medication_errors(&self) -> &[Code] {
        &self.cf.medication_error
    }
    pub fn statuses(&self) -> &[Code] {
        &self.review.statuses
    }
    pub fn priorities(&self) -> &[Code] {
        &self.review.priorities
    }
    pub fn step(&self, code: &str) -> Option<&StepRule> {
        self.review.steps.iter().find(|s| s.code == code)
    }

    /// The words of a code in one of the lists, or the code itself.
    pub fn words<'a>(list: &'a [Code], code: &'a str) -> &'a str {
        list.iter()
            .find(|c| c.code == code)
            .map_or(code, |c| c.words.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_shipped_files_load_and_hold_the_common_formats() {
        let f = Formats::shipped();
        assert_eq!(f.kinds().len(), 3);
        assert_eq!(f.harms().len(), 6);
        // Falls and pressure injuries are incidents only; medication takes all three kinds.
        assert_eq!(f.category("fall").unwrap().kinds, vec!["incident"]);
        assert_eq!(f.category("medication").unwrap().kinds.len(), 3);
        assert_eq!(f.step("close").unwrap().to.as_deref(), Some("closed"));
    }

    #[test]
    fn an_unknown_kind_in_a_category_is_refused() {
        let cf = COMMON_FORMATS.replace(
            "\"kinds\": [\"incident\"], \"details\": \"fall\"",
            "\"kinds\": [\"accident\"], \"details\": \"fall\"",
        );
        let e = Formats::from_json(&cf, REVIEW).unwrap_err();
        assert!(e.to_string().contains("accident"), "{e}");
    }
}
