//! The case summary a tumour board discusses, prepared from the patient's record: cancer
//! diagnoses with verification and stage, the pathology and imaging conclusions, biomarkers,
//! performance status, treatment so far and its response, and the board's earlier
//! recommendations. Pure: FHIR JSON in, words and dates out; what is read, by code, is the
//! data file `data/summary.json` (mCODE codes, cited there).

use serde::Deserialize;
use serde_json::Value;

use crate::codes;

/// A coding to look for.
#[derive(Debug, Clone, Deserialize)]
struct Code {
    system: String,
    code: String,
}

/// A named group of codings.
#[derive(Debug, Clone, Deserialize)]
struct Named {
    name: String,
    codes: Vec<Code>,
}

#[derive(Debug, Clone, Deserialize)]
struct CancerConditions {
    systems: Vec<String>,
    prefixes: Vec<String>,
}

/// What the summary reads, by code.
#[derive(Debug, Clone, Deserialize)]
struct Spec {
    cancer_conditions: CancerConditions,
    biomarkers: Vec<Named>,
    performance_status: Vec<Named>,
    stage: Vec<Named>,
    response: Vec<Named>,
    report_categories:
        std::collections::BTreeMap<String, std::collections::BTreeMap<String, String>>,
    systemic_therapy_atc_prefixes: Vec<String>,
    therapeutic_procedure: Code,
}

fn spec() -> &'static Spec {
    static S: std::sync::OnceLock<Spec> = std::sync::OnceLock::new();
    S.get_or_init(|| {
        serde_json::from_str(include_str!("../data/summary.json"))
            .expect("data/summary.json is the summary's specification")
    })
}

/// A cancer diagnosis.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Diagnosis {
    pub words: String,
    /// `confirmed`, `provisional`, ... (FHIR condition-ver-status), empty when not stated.
    pub verification: String,
    pub stage: Option<String>,
    /// When it was recorded (as written in the record).
    pub at: Option<String>,
}

/// One finding: what, the value in words, when.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Finding {
    pub name: String,
    pub value: String,
    pub at: Option<String>,
}

/// The case summary. Lists are newest first.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CaseSummary {
    pub diagnoses: Vec<Diagnosis>,
    /// Pathology and imaging conclusions (name: "Pathology: Surgical pathology study").
    pub reports: Vec<Finding>,
    pub biomarkers: Vec<Finding>,
    pub performance: Option<Finding>,
    pub stage: Vec<Finding>,
    /// Treatment so far: plans, therapeutic procedures, systemic drugs given (first to last).
    pub treatments: Vec<Finding>,
    pub response: Vec<Finding>,
    /// The board's earlier recommendations.
    pub recommendations: Vec<Finding>,
}

impl CaseSummary {
    /// What the record does not hold that a board expects, in words.
    pub fn missing(&self) -> Vec<&'static str> {
        let mut out = Vec::new();
        if self.diagnoses.is_empty() {
            out.push("No cancer diagnosis is recorded");
        }
        if self.diagnoses.iter().all(|d| d.stage.is_none()) && self.stage.is_empty() {
            out.push("No stage is recorded");
        }
        if self.performance.is_none() {
            out.push("No performance status is recorded");
        }
        out
    }
}

/// Milliseconds of a FHIR instant or date (`2026-08-20`, `2026-08`, `2026`; a date at its
/// start, UTC), for ordering; 0 when absent or unreadable.
pub(crate) fn ms(s: Option<&str>) -> i64 {
    let Some(s) = s.map(str::trim) else {
        return 0;
    };
    if let Ok(t) = chrono::DateTime::parse_from_rfc3339(s) {
        return t.timestamp_millis();
    }
    let padded = match s.len() {
        4 => format!("{s}-01-01"),
        7 => format!("{s}-01"),
        _ => s.get(..10).unwrap_or(s).to_string(),
    };
    chrono::NaiveDate::parse_from_str(&padded, "%Y-%m-%d")
        .ok()
        .and_then(|d| d.and_hms_opt(0, 0, 0))
        .map(|d| d.and_utc().timestamp_millis())
        .unwrap_or(0)
}

fn codings(v: &Value) -> impl Iterator<Item = (&str, &str)> {
    v["coding"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|c| Some((c["system"].as_str()?, c["code"].as_str()?)))
}

/// The words of a CodeableConcept: its text, else the first display, else the first code.
pub fn words(v: &Value) -> String {
    if let Some(t) = v["text"].as_str() {
        return t.to_string();
    }
    let cs = v["coding"].as_array();
    cs.into_iter()
        .flatten()
        .find_map(|c| c["display"].as_str())
        .or_else(|| cs.into_iter().flatten().find_map(|c| c["code"].as_str()))
        .unwrap_or_default()
        .to_string()
}

fn matches(v: &Value, codes: &[Code]) -> bool {
    let tags = v["meta"]["tag"].as_array().into_iter().flatten();
    codings(&v["code"])
        .chain(tags.filter_map(|t| Some((t["system"].as_str()?, t["code"].as_str()?))))
        .any(|(s, c)| codes.iter().any(|x| x.system == s && x.code == c))
}

fn named<'a>(v: &Value, groups: &'a [Named]) -> Option<&'a Named> {
    groups.iter().find(|g| matches(v, &g.codes))
}

/// An Observation's value in words.
fn value_words(o: &Value) -> String {
    if let Some(s) = o["valueString"].as_str() {
        return s.to_string();
    }
    if let Some(q) = o.get("valueQuantity") {
        let n = q["value"].as_f64().map(|n| {
            if n.fract() == 0.0 {
                format!("{n:.0}")
            } else {
                n.to_string()
            }
        });
        let unit = q["unit"]
            .as_str()
            .filter(|u| !u.starts_with('{') && *u != "score");
        return match (n, unit) {
            (Some(n), Some(u)) => format!("{n} {u}"),
            (Some(n), None) => n,
            _ => String::new(),
        };
    }
    if let Some(i) = o["valueInteger"].as_i64() {
        return i.to_string();
    }
    if let Some(c) = o.get("valueCodeableConcept") {
        return words(c);
    }
    if let Some(b) = o["valueBoolean"].as_bool() {
        return if b { "Yes" } else { "No" }.into();
    }
    o["interpretation"]
        .as_array()
        .and_then(|a| a.first())
        .map(words)
        .unwrap_or_default()
}

/// When a result was reported (`issued`), else when it was observed.
fn observation_time(o: &Value) -> Option<String> {
    ["issued", "effectiveDateTime", "effectiveInstant"]
        .iter()
        .find_map(|k| o[*k].as_str())
        .or_else(|| o["effectivePeriod"]["start"].as_str())
        .map(String::from)
}

fn current(v: &Value) -> bool {
    !matches!(
        v["status"].as_str(),
        Some("entered-in-error" | "cancelled" | "revoked")
    )
}

fn is_cancer(c: &Value) -> bool {
    let s = &spec().cancer_conditions;
    codings(&c["code"]).any(|(sys, code)| {
        s.systems.iter().any(|x| x == sys)
            && s.prefixes.iter().any(|p| code.starts_with(p.as_str()))
    })
}

fn is_recommendation(p: &Value) -> bool {
    p["category"]
        .as_array()
        .into_iter()
        .flatten()
        .flat_map(codings)
        .any(|(s, c)| s == codes::SYSTEM && c == codes::RECOMMENDATION)
}

fn newest_first(v: &mut [Finding]) {
    v.sort_by_key(|f| std::cmp::Reverse(ms(f.at.as_deref())));
}

/// Summarise a patient's record (the resources of their compartment, any order).
pub fn summarise(record: &[Value]) -> CaseSummary {
    let spec = spec();
    let mut s = CaseSummary::default();
    // Systemic drugs given: name → (first, last, doses).
    let mut drugs: std::collections::BTreeMap<String, (String, String, usize)> = Default::default();
    for r in record.iter().filter(|r| current(r)) {
        match r["resourceType"].as_str().unwrap_or_default() {
            "Condition" if is_cancer(r) => {
                let verification = codings(&r["verificationStatus"])
                    .map(|(_, c)| c.to_string())
                    .next()
                    .unwrap_or_default();
                if verification == "refuted" || verification == "entered-in-error" {
                    continue;
                }
                let stage = r["stage"]
                    .as_array()
                    .into_iter()
                    .flatten()
                    .find_map(|st| Some(words(st.get("summary")?)).filter(|w| !w.is_empty()));
                s.diagnoses.push(Diagnosis {
                    words: words(&r["code"]),
                    verification,
                    stage,
                    at: r["recordedDate"]
                        .as_str()
                        .or(r["onsetDateTime"].as_str())
                        .map(String::from),
                });
            }
            "Observation" => {
                let finding = |name: &str| Finding {
                    name: name.to_string(),
                    value: value_words(r),
                    at: observation_time(r),
                };
                if let Some(g) = named(r, &spec.biomarkers) {
                    s.biomarkers.push(finding(&g.name));
                } else if let Some(g) = named(r, &spec.performance_status) {
                    let f = finding(&g.name);
                    if s.performance
                        .as_ref()
                        .is_none_or(|p| ms(p.at.as_deref()) < ms(f.at.as_deref()))
                    {
                        s.performance = Some(f);
                    }
                } else if let Some(g) = named(r, &spec.stage) {
                    s.stage.push(finding(&g.name));
                } else if let Some(g) = named(r, &spec.response) {
                    s.response.push(finding(&g.name));
                }
            }
            "DiagnosticReport" => {
                let kind = r["category"]
                    .as_array()
                    .into_iter()
                    .flatten()
                    .flat_map(codings)
                    .find_map(|(sys, c)| spec.report_categories.get(sys)?.get(c));
                let (Some(kind), Some(conclusion)) = (kind, r["conclusion"].as_str()) else {
                    continue;
                };
                s.reports.push(Finding {
                    name: format!("{kind}: {}", words(&r["code"])),
                    value: conclusion.to_string(),
                    at: r["issued"]
                        .as_str()
                        .or(r["effectiveDateTime"].as_str())
                        .map(String::from),
                });
            }
            "CarePlan" => {
                let text = r["title"]
                    .as_str()
                    .or(r["description"].as_str())
                    .unwrap_or("Care plan")
                    .to_string();
                let at = r["created"]
                    .as_str()
                    .or(r["period"]["start"].as_str())
                    .map(String::from);
                let f = Finding {
                    name: if is_recommendation(r) {
                        "Tumour board".into()
                    } else {
                        "Treatment plan".into()
                    },
                    value: text,
                    at,
                };
                if is_recommendation(r) {
                    s.recommendations.push(f);
                } else {
                    s.treatments.push(f);
                }
            }
            "Procedure" => {
                let t = &spec.therapeutic_procedure;
                let therapeutic =
                    codings(&r["category"]).any(|(sys, c)| sys == t.system && c == t.code);
                if therapeutic && r["status"] != "not-done" {
                    s.treatments.push(Finding {
                        name: "Procedure".into(),
                        value: words(&r["code"]),
                        at: r["performedDateTime"]
                            .as_str()
                            .or(r["performedPeriod"]["start"].as_str())
                            .map(String::from),
                    });
                }
            }
            "MedicationAdministration" if r["status"] == "completed" => {
                let systemic = codings(&r["medicationCodeableConcept"]).any(|(sys, c)| {
                    sys == codes::ATC
                        && spec
                            .systemic_therapy_atc_prefixes
                            .iter()
                            .any(|p| c.starts_with(p.as_str()))
                });
                let at = r["effectiveDateTime"]
                    .as_str()
                    .or(r["effectivePeriod"]["start"].as_str());
                if let (true, Some(at)) = (systemic, at) {
                    let name = words(&r["medicationCodeableConcept"]);
                    let e = drugs
                        .entry(name)
                        .or_insert_with(|| (at.to_string(), at.to_string(), 0));
                    if ms(Some(at)) < ms(Some(&e.0)) {
                        e.0 = at.to_string();
                    }
                    if ms(Some(at)) > ms(Some(&e.1)) {
                        e.1 = at.to_string();
                    }
                    e.2 += 1;
                }
            }
            _ => {}
        }
    }
    for (drug, (first, _last, doses)) in drugs {
        s.treatments.push(Finding {
            name: "Systemic therapy".into(),
            value: format!(
                "{drug}, {doses} dose{} recorded",
                if doses == 1 { "" } else { "s" }
            ),
            at: Some(first),
        });
    }
    s.diagnoses
        .sort_by_key(|d| std::cmp::Reverse(ms(d.at.as_deref())));
    for list in [
        &mut s.reports,
        &mut s.biomarkers,
        &mut s.stage,
        &mut s.treatments,
        &mut s.response,
        &mut s.recommendations,
    ] {
        newest_first(list);
    }
    // The newest result of each biomarker.
    let mut seen = std::collections::BTreeSet::new();
    s.biomarkers.retain(|b| seen.insert(b.name.clone()));
    s.reports.truncate(6);
    s
}
