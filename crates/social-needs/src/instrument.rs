//! The instrument as data, and as a FHIR Questionnaire; answers read from a
//! QuestionnaireResponse.

use std::collections::BTreeMap;

use serde::Deserialize;
use serde_json::{json, Value};

use crate::{Error, LOINC, QUESTIONNAIRE_URL};

/// A screening domain.
#[derive(Debug, Clone, Deserialize)]
pub struct Domain {
    pub code: String,
    pub words: String,
    /// The SDOH Clinical Care IG category an answer Observation carries.
    pub category: String,
    #[serde(default)]
    pub sensitive: bool,
}

/// One answer a question offers: a LOINC answer code with its words, or text alone.
#[derive(Debug, Clone, Deserialize)]
pub struct AnswerOption {
    #[serde(default)]
    pub code: Option<String>,
    #[serde(default)]
    pub words: Option<String>,
    #[serde(default)]
    pub text: Option<String>,
    /// Choosing it makes the domain positive.
    #[serde(default)]
    pub positive: bool,
    /// Its points (the safety frequency answers, 1 to 5).
    #[serde(default)]
    pub score: Option<u32>,
}

impl AnswerOption {
    /// What a person reads.
    pub fn label(&self) -> &str {
        self.words
            .as_deref()
            .or(self.text.as_deref())
            .unwrap_or_default()
    }

    /// How it is matched and stored: its LOINC code, else its text.
    pub fn key(&self) -> &str {
        self.code.as_deref().unwrap_or_else(|| self.label())
    }
}

#[derive(Debug, Clone, Deserialize)]
#[serde(untagged)]
enum Answers {
    /// Named list (`frequency`).
    Named(String),
    List(Vec<AnswerOption>),
}

#[derive(Debug, Clone, Deserialize)]
struct RawQuestion {
    link: String,
    domain: String,
    loinc: String,
    text: String,
    #[serde(default)]
    repeats: bool,
    #[serde(default)]
    follow_up_unless_never: bool,
    answers: Answers,
}

/// A question.
#[derive(Debug, Clone)]
pub struct Question {
    pub link: String,
    pub domain: String,
    pub loinc: String,
    pub text: String,
    /// Several answers may be chosen.
    pub repeats: bool,
    /// Any answer but "never" asks for a clinician's follow-up.
    pub follow_up_unless_never: bool,
    pub answers: Vec<AnswerOption>,
}

impl Question {
    pub fn answer(&self, key: &str) -> Option<&AnswerOption> {
        self.answers
            .iter()
            .find(|a| a.key() == key || a.label() == key)
    }
}

#[derive(Debug, Clone, Deserialize)]
struct Total {
    code: String,
    positive_above: u32,
}

#[derive(Debug, Clone, Deserialize)]
struct Raw {
    panel: Value,
    domains: Vec<Domain>,
    questions: Vec<RawQuestion>,
    frequency: Vec<AnswerOption>,
    safety_total: Total,
}

/// The screening instrument.
#[derive(Debug, Clone)]
pub struct Instrument {
    pub panel_code: String,
    pub panel_display: String,
    pub domains: Vec<Domain>,
    pub questions: Vec<Question>,
    /// The LOINC code of the interpersonal-safety total.
    pub safety_total_code: String,
    /// The safety domain is positive when the total is above this.
    pub safety_above: u32,
}

/// The answers of one screening: linkId → chosen answer keys.
pub type Answer = BTreeMap<String, Vec<String>>;

impl Instrument {
    /// The AHC HRSN core questions Tend ships.
    pub fn ahc_hrsn() -> &'static Instrument {
        static I: std::sync::OnceLock<Instrument> = std::sync::OnceLock::new();
        I.get_or_init(|| {
            let raw: Raw = serde_json::from_str(include_str!("../data/ahc-hrsn.json"))
                .expect("data/ahc-hrsn.json is the instrument");
            let questions = raw
                .questions
                .into_iter()
                .map(|q| Question {
                    answers: match q.answers {
                        Answers::Named(n) => {
                            assert_eq!(n, "frequency", "data/ahc-hrsn.json names answer lists");
                            raw.frequency.clone()
                        }
                        Answers::List(l) => l,
                    },
                    link: q.link,
                    domain: q.domain,
                    loinc: q.loinc,
                    text: q.text,
                    repeats: q.repeats,
                    follow_up_unless_never: q.follow_up_unless_never,
                })
                .collect();
            Instrument {
                panel_code: raw.panel["code"].as_str().unwrap_or_default().to_string(),
                panel_display: raw.panel["display"]
                    .as_str()
                    .unwrap_or_default()
                    .to_string(),
                domains: raw.domains,
                questions,
                safety_total_code: raw.safety_total.code,
                safety_above: raw.safety_total.positive_above,
            }
        })
    }

    pub fn question(&self, link: &str) -> Option<&Question> {
        self.questions
            .iter()
            .find(|q| q.link == link || q.loinc == link)
    }

    pub fn domain(&self, code: &str) -> Option<&Domain> {
        self.domains.iter().find(|d| d.code == code)
    }

    /// The instrument as a FHIR Questionnaire.
    pub fn questionnaire(&self) -> Value {
        let items: Vec<Value> = self
            .questions
            .iter()
            .map(|q| {
                let options: Vec<Value> = q
                    .answers
                    .iter()
                    .map(|a| match &a.code {
                        Some(code) => json!({"valueCoding": {"system": LOINC, "code": code, "display": a.label()}}),
                        None => json!({"valueString": a.label()}),
                    })
                    .collect();
                json!({
                    "linkId": q.link,
                    "code": [{"system": LOINC, "code": q.loinc}],
                    "text": q.text,
                    "type": if q.answers.iter().all(|a| a.code.is_none()) { "string" } else { "choice" },
                    "repeats": q.repeats,
                    "answerOption": options,
                })
            })
            .collect();
        // Questions whose options are text only (housing quality) are `string` items with
        // those options listed.
        json!({
            "resourceType": "Questionnaire",
            "id": "ahc-hrsn",
            "url": QUESTIONNAIRE_URL,
            "name": "AHCHRSNScreening",
            "title": "Health-related social needs screening (AHC HRSN core questions)",
            "status": "active",
            "subjectType": ["Patient"],
            "code": [{"system": LOINC, "code": self.panel_code, "display": self.panel_display}],
            "item": items,
        })
    }

    /// The answers of a QuestionnaireResponse (items by linkId or LOINC code; codings by
    /// code, strings by text), checked against the questions.
    pub fn answers(&self, response: &Value) -> Result<Answer, Error> {
        let mut out = Answer::new();
        let mut items: Vec<&Value> = response["item"].as_array().into_iter().flatten().collect();
        while let Some(item) = items.pop() {
            items.extend(item["item"].as_array().into_iter().flatten());
            let link = item["linkId"].as_str().unwrap_or_default();
            let given: Vec<String> = item["answer"]
                .as_array()
                .into_iter()
                .flatten()
                .filter_map(|a| {
                    a["valueCoding"]["code"]
                        .as_str()
                        .or(a["valueString"].as_str())
                        .map(String::from)
                })
                .collect();
            if given.is_empty() {
                continue;
            }
            let q = self
                .question(link)
                .ok_or_else(|| Error::UnknownQuestion(link.to_string()))?;
            let mut keys = Vec::new();
            for g in given {
                let a = q
                    .answer(&g)
                    .ok_or_else(|| Error::UnknownAnswer(q.link.clone(), g.clone()))?;
                keys.push(a.key().to_string());
            }
            if !q.repeats {
                keys.truncate(1);
            }
            out.insert(q.link.clone(), keys);
        }
        Ok(out)
    }
}
