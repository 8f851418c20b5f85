//! The FHIR resources care gaps are kept as.
//!
//! - **`DetectedIssue`** per open gap (patient × rule), id `gap-{rule}-{patient}`: `code` is the
//!   rule in [`GAP_SYSTEM`], `identifiedDateTime` the day the gap opened, `evidence` the last
//!   (expired) qualifying record, `reference` the USPSTF statement. A gap that closes is
//!   deleted; its version history keeps when it was open.
//! - **`MeasureReport`** per rule (`care-gaps-{rule}`, type `summary`), rewritten by each
//!   population run: initial population (applicable), denominator, denominator exclusions and
//!   numerator (satisfied), the score, and strata by language, race, ethnicity, sex and age band.
//! - **`Task`** per outreach attempt: `focus` the gap, `for` the patient, `businessStatus` the
//!   outcome ([`OUTCOMES`]), `owner` who did it, `note` what was said.

use chrono::{DateTime, NaiveDate, Utc};
use prevention::Rule;
use serde_json::{json, Value};

/// Care-gap rules as codes (`code` of the DetectedIssue).
pub const GAP_SYSTEM: &str = "https://tend.example.org/fhir/CodeSystem/care-gap";
/// Outreach outcomes (`businessStatus` of the outreach Task).
pub const OUTREACH_SYSTEM: &str = "https://tend.example.org/fhir/CodeSystem/care-gap-outreach";
/// Canonical URL of the measure for a rule: this base plus the rule id.
pub const MEASURE_BASE: &str = "https://tend.example.org/fhir/Measure/care-gap-";
const TAG: &str = "https://tend.example.org/fhir/CodeSystem/tend-tags";
const POPULATION: &str = "http://terminology.hl7.org/CodeSystem/measure-population";

/// Outreach outcomes: code and display.
pub const OUTCOMES: &[(&str, &str)] = &[
    ("scheduled", "Reached: screening scheduled"),
    ("reached-declined", "Reached: declined for now"),
    ("left-message", "Left a message"),
    ("no-answer", "No answer"),
    ("letter-sent", "Letter or portal message sent"),
    ("wrong-contact", "Contact details wrong"),
];

/// The id of the gap for `rule` and `patient` (FHIR ids: 64 characters at most).
pub fn gap_id(rule: &str, patient: &str) -> String {
    let id = format!("gap-{rule}-{patient}");
    if id.len() <= 64 {
        return id;
    }
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in id.bytes() {
        h ^= u64::from(b);
        h = h.wrapping_mul(0x0100_0000_01b3);
    }
    format!("gap-{h:016x}")
}

/// What defines an open gap; a stored gap is rewritten only when this changes.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct OpenGap {
    pub rule: String,
    pub patient: String,
    pub since: Option<NaiveDate>,
    /// The last qualifying record, now expired (`Type/id`).
    pub last_evidence: Option<String>,
}

impl OpenGap {
    pub fn id(&self) -> String {
        gap_id(&self.rule, &self.patient)
    }

    /// Reads a stored gap back (None if it is not one of ours).
    pub fn read(v: &Value) -> Option<OpenGap> {
        let coding = v["code"]["coding"]
            .as_array()?
            .iter()
            .find(|c| c["system"] == GAP_SYSTEM)?;
        Some(OpenGap {
            rule: coding["code"].as_str()?.to_string(),
            patient: prevention::patient_id(v["patient"]["reference"].as_str()?)?.to_string(),
            since: v["identifiedDateTime"]
                .as_str()
                .and_then(prevention::parse_date),
            last_evidence: v["evidence"][0]["detail"][0]["reference"]
                .as_str()
                .map(str::to_string),
        })
    }

    /// The DetectedIssue for this gap.
    pub fn resource(&self, rule: &Rule) -> Value {
        let since = self
            .since
            .map(|d| format!(" since {d}"))
            .unwrap_or_default();
        let mut v = json!({
            "resourceType": "DetectedIssue",
            "id": self.id(),
            "meta": {"tag": [{"system": TAG, "code": "care-gap", "display": "Care gap"}]},
            "status": "final",
            "code": {
                "coding": [{"system": GAP_SYSTEM, "code": rule.id, "display": rule.title}],
                "text": rule.title,
            },
            "severity": "moderate",
            "patient": {"reference": format!("Patient/{}", self.patient)},
            "detail": format!("{} is due{since}. {} {}", rule.title, rule.summary, rule.action),
            "reference": rule.source.url,
        });
        if let Some(d) = self.since {
            v["identifiedDateTime"] = json!(d.to_string());
        }
        if let Some(e) = &self.last_evidence {
            v["evidence"] = json!([{"detail": [{"reference": e}]}]);
        }
        v
    }
}

/// Counts of one population group: initial population, denominator, exclusions, numerator.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Counts {
    pub initial: u32,
    pub denominator: u32,
    pub excluded: u32,
    pub numerator: u32,
}

impl Counts {
    fn populations(&self) -> Value {
        let p = |code: &str, display: &str, n: u32| json!({"code": {"coding": [{"system": POPULATION, "code": code, "display": display}]}, "count": n});
        json!([
            p("initial-population", "Initial Population", self.initial),
            p("denominator", "Denominator", self.denominator),
            p(
                "denominator-exclusion",
                "Denominator Exclusion",
                self.excluded
            ),
            p("numerator", "Numerator", self.numerator),
        ])
    }

    /// Share of the denominator screened, when there is a denominator.
    pub fn score(&self) -> Option<f64> {
        (self.denominator > 0).then(|| f64::from(self.numerator) / f64::from(self.denominator))
    }
}

/// One stratifier's strata.
pub(crate) struct Stratifier<'a> {
    pub(crate) name: &'a str,
    pub(crate) strata: Vec<(&'a str, Counts)>,
}

/// The MeasureReport of a population run for one rule.
pub(crate) fn measure_report(
    rule: &Rule,
    day: NaiveDate,
    at: DateTime<Utc>,
    total: Counts,
    strata: &[Stratifier<'_>],
) -> Value {
    let with_score = |mut v: Value, c: &Counts| {
        if let Some(s) = c.score() {
            v["measureScore"] = json!({"value": (s * 10_000.0).round() / 10_000.0});
        }
        v
    };
    let stratifier: Vec<Value> = strata
        .iter()
        .map(|s| {
            json!({
                "code": [{"text": s.name}],
                "stratum": s.strata.iter().map(|(value, c)| with_score(json!({"value": {"text": value}, "population": c.populations()}), c)).collect::<Vec<_>>(),
            })
        })
        .collect();
    let group = with_score(
        json!({"code": {"coding": [{"system": GAP_SYSTEM, "code": rule.id, "display": rule.title}]}, "population": total.populations(), "stratifier": stratifier}),
        &total,
    );
    json!({
        "resourceType": "MeasureReport",
        "id": format!("care-gaps-{}", rule.id),
        "meta": {"tag": [{"system": TAG, "code": "care-gap", "display": "Care gap"}]},
        "status": "complete",
        "type": "summary",
        "measure": format!("{MEASURE_BASE}{}", rule.id),
        "date": at.to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
        "period": {"start": day.to_string(), "end": day.to_string()},
        "improvementNotation": {"coding": [{"system": "http://terminology.hl7.org/CodeSystem/measure-improvement-notation", "code": "increase"}]},
        "group": [group],
    })
}

/// An outreach attempt on a gap.
pub(crate) fn outreach_task(
    id: &str,
    gap: &OpenGap,
    rule: &Rule,
    outcome: &str,
    note: Option<&str>,
    by: &str,
    at: DateTime<Utc>,
) -> Option<Value> {
    let (code, display) = OUTCOMES.iter().find(|(c, _)| *c == outcome)?;
    let at = at.to_rfc3339_opts(chrono::SecondsFormat::Secs, true);
    let mut v = json!({
        "resourceType": "Task",
        "id": id,
        "meta": {"tag": [{"system": TAG, "code": "care-gap-outreach", "display": "Care gap outreach"}]},
        "status": "completed",
        "intent": "order",
        "code": {"coding": [{"system": OUTREACH_SYSTEM, "code": "outreach", "display": "Care gap outreach"}], "text": format!("Outreach: {}", rule.title)},
        "businessStatus": {"coding": [{"system": OUTREACH_SYSTEM, "code": code, "display": display}], "text": display},
        "focus": {"reference": format!("DetectedIssue/{}", gap.id())},
        "for": {"reference": format!("Patient/{}", gap.patient)},
        "authoredOn": at,
        "lastModified": at,
        "executionPeriod": {"end": at},
        "owner": {"display": by},
    });
    if let Some(n) = note.map(str::trim).filter(|n| !n.is_empty()) {
        v["note"] = json!([{"text": n, "time": at}]);
    }
    Some(v)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_gap_reads_back_as_written() {
        let rules = prevention::RuleSet::builtin();
        let rule = rules.rule("colorectal-cancer").unwrap();
        let gap = OpenGap {
            rule: rule.id.clone(),
            patient: "pat-000001".into(),
            since: NaiveDate::from_ymd_opt(2025, 2, 10),
            last_evidence: Some("Observation/fit-1".into()),
        };
        let v = gap.resource(rule);
        assert_eq!(v["id"], "gap-colorectal-cancer-pat-000001");
        assert_eq!(OpenGap::read(&v), Some(gap));
        assert!(gap_id("abdominal-aortic-aneurysm", &"x".repeat(60)).len() <= 64);
    }
}
