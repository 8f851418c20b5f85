//! Every measure by race, ethnicity, preferred language, interpreter need, sex and age band
//! (crate `strata`, the patient's at the start of each month counted): each group's
//! numerator, denominator and rate, small cells suppressed, and its ratio to a reference
//! group with a 95 % confidence interval (crate `quality`: a rate ratio for rates per
//! 1,000 days, a risk ratio for percentages). The "Not recorded" group is always listed.

use std::collections::{HashMap, HashSet};

use serde_json::{json, Value};

use crate::report::Count;
use crate::{Measure, MeasureRow, Settings};

/// The stratifiers, in the order they are shown: (code, words).
pub const STRATIFIERS: &[(&str, &str)] = &[
    ("race", "Race"),
    ("ethnicity", "Ethnicity"),
    ("language", "Preferred language"),
    ("interpreter", "Needs an interpreter"),
    ("sex", "Sex"),
    ("age-band", "Age band"),
];
/// The group for a value no one recorded (or a patient not found).
pub const NOT_RECORDED: &str = "Not recorded";
/// A stratum's ratio to the reference group (extension with `ratio`, `low`, `high`,
/// `reference`).
pub const RATIO_EXT: &str = "https://tend.example.org/fhir/StructureDefinition/ratio-to-reference";
/// Marks the reference group.
pub const REFERENCE_EXT: &str = "https://tend.example.org/fhir/StructureDefinition/reference-group";

/// One group of a stratifier.
#[derive(Debug, Clone, PartialEq)]
pub struct Stratum {
    pub value: String,
    pub count: Count,
    /// Distinct patients counted.
    pub patients: usize,
    /// 1 to `suppress_below − 1` patients or events: counts, rate and ratio not shown.
    pub suppressed: bool,
    /// The rate in the measure's unit, when shown.
    pub rate: Option<f64>,
    pub reference: bool,
    /// Against the reference group, when both are shown and the ratio is defined.
    pub ratio: Option<quality::Ratio>,
}

/// A stratifier's groups, largest first, "Not recorded" last.
#[derive(Debug, Clone, PartialEq)]
pub struct Stratifier {
    pub code: &'static str,
    pub words: &'static str,
    pub strata: Vec<Stratum>,
}

/// `rows` of measure `m` in the months `from..=to` (`YYYY-MM`) by every stratifier;
/// `patients` are the Patient resources by id.
pub fn stratify(
    m: &Measure,
    rows: &[MeasureRow],
    from: &str,
    to: &str,
    patients: &HashMap<String, Value>,
    settings: &Settings,
) -> Vec<Stratifier> {
    // First each patient's month (their rows on every unit), then each patient-month once
    // into its groups: strata are looked up once per patient and month, and nothing is
    // allocated per row.
    let mut per: HashMap<(&str, &str), Count> = HashMap::new();
    for r in rows
        .iter()
        .filter(|r| r.measure == m.id && r.month.as_str() >= from && r.month.as_str() <= to)
    {
        let c = per
            .entry((r.patient.as_deref().unwrap_or(""), r.month.as_str()))
            .or_default();
        c.numerator += r.numerator;
        c.denominator += r.denominator;
    }
    type Acc<'a> = (Count, HashSet<&'a str>);
    let mut acc: HashMap<&str, HashMap<String, Acc<'_>>> = HashMap::new();
    for ((pid, month), count) in &per {
        for (code, value) in groups_of(patients.get(*pid), month) {
            let Some((c, _)) = STRATIFIERS.iter().find(|(c, _)| code == *c) else {
                continue;
            };
            let by_value = acc.entry(c).or_default();
            let a = match by_value.get_mut(value.as_str()) {
                Some(a) => a,
                None => by_value.entry(value).or_default(),
            };
            a.0.numerator += count.numerator;
            a.0.denominator += count.denominator;
            if !pid.is_empty() {
                a.1.insert(pid);
            }
        }
    }
    let below = settings.suppress_below as i64;
    let small = |n: i64| n > 0 && n < below;
    STRATIFIERS
        .iter()
        .map(|(code, words)| {
            let mut groups = acc.remove(code).unwrap_or_default();
            groups.entry(NOT_RECORDED.to_string()).or_default();
            let mut strata: Vec<Stratum> = groups
                .into_iter()
                .map(|(value, (count, people))| {
                    let suppressed = small(people.len() as i64) || small(count.numerator);
                    Stratum {
                        rate: if suppressed { None } else { count.rate(m) },
                        value,
                        count,
                        patients: people.len(),
                        suppressed,
                        reference: false,
                        ratio: None,
                    }
                })
                .collect();
            strata.sort_by(|a, b| {
                (a.value == NOT_RECORDED)
                    .cmp(&(b.value == NOT_RECORDED))
                    .then(b.count.denominator.cmp(&a.count.denominator))
                    .then(a.value.cmp(&b.value))
            });
            let shown = |s: &Stratum| !s.suppressed && s.count.denominator > 0;
            let reference = settings
                .reference
                .get(*code)
                .and_then(|v| strata.iter().position(|s| &s.value == v && shown(s)))
                .or_else(|| {
                    strata
                        .iter()
                        .position(|s| shown(s) && s.value != NOT_RECORDED)
                });
            if let Some(ri) = reference {
                strata[ri].reference = true;
                let r = strata[ri].count;
                for (i, s) in strata.iter_mut().enumerate() {
                    if i == ri || !shown(s) {
                        continue;
                    }
                    let c = s.count;
                    s.ratio = if m.unit == "%" {
                        quality::risk_ratio(
                            c.numerator as u64,
                            c.denominator as u64,
                            r.numerator as u64,
                            r.denominator as u64,
                        )
                    } else {
                        quality::rate_ratio(
                            c.numerator as u64,
                            c.denominator as f64,
                            r.numerator as u64,
                            r.denominator as f64,
                        )
                    };
                }
            }
            Stratifier {
                code,
                words,
                strata,
            }
        })
        .collect()
}

/// A patient's groups at the start of `month`; every group "Not recorded" when the patient
/// is not known.
fn groups_of(p: Option<&Value>, month: &str) -> Vec<(String, String)> {
    let on = chrono::NaiveDate::parse_from_str(&format!("{month}-01"), "%Y-%m-%d").ok();
    match (p, on) {
        (Some(p), Some(on)) => strata::of_patient(p, on),
        _ => STRATIFIERS
            .iter()
            .map(|(c, _)| (c.to_string(), NOT_RECORDED.to_string()))
            .collect(),
    }
}

/// The measure's equity MeasureReport over a period: the whole, and each stratifier's groups
/// (suppressed groups without counts, marked; the reference group marked; ratios with their
/// intervals).
#[allow(clippy::too_many_arguments)]
pub fn equity_report(
    m: &Measure,
    strata: &[Stratifier],
    total: Count,
    id: &str,
    start: &str,
    end: &str,
    generated: &str,
) -> Value {
    let pops = |c: &Count, suppressed: bool| {
        let pop = |code: &str, n: i64| {
            let mut p = json!({"code": {"coding": [{"system": "http://terminology.hl7.org/CodeSystem/measure-population", "code": code}]}});
            if suppressed {
                p["extension"] = json!([{"url": strata::SUPPRESSED_EXT, "valueBoolean": true}]);
            } else {
                p["count"] = json!(n);
            }
            p
        };
        json!([
            pop("numerator", c.numerator),
            pop("denominator", c.denominator)
        ])
    };
    let round = |v: f64| (v * 100.0).round() / 100.0;
    let stratifier: Vec<Value> = strata
        .iter()
        .map(|s| {
            json!({
                "code": [{"coding": [{"system": "https://tend.example.org/fhir/CodeSystem/stratifier", "code": s.code}], "text": s.words}],
                "stratum": s.strata.iter().map(|g| {
                    let mut v = json!({"value": {"text": g.value}, "population": pops(&g.count, g.suppressed)});
                    if let Some(r) = g.rate {
                        v["measureScore"] = json!({"value": round(r), "unit": m.unit});
                    }
                    let mut ext = Vec::new();
                    if g.suppressed {
                        ext.push(json!({"url": strata::SUPPRESSED_EXT, "valueBoolean": true}));
                    }
                    if g.reference {
                        ext.push(json!({"url": REFERENCE_EXT, "valueBoolean": true}));
                    }
                    if let Some(r) = g.ratio {
                        ext.push(json!({"url": RATIO_EXT, "extension": [
                            {"url": "ratio", "valueDecimal": (r.ratio * 1000.0).round() / 1000.0},
                            {"url": "low", "valueDecimal": (r.low * 1000.0).round() / 1000.0},
                            {"url": "high", "valueDecimal": (r.high * 1000.0).round() / 1000.0}
                        ]}));
                    }
                    if !ext.is_empty() {
                        v["extension"] = Value::Array(ext);
                    }
                    v
                }).collect::<Vec<_>>()
            })
        })
        .collect();
    let mut group = json!({"population": pops(&total, false), "stratifier": stratifier});
    if let Some(r) = total.rate(m) {
        group["measureScore"] = json!({"value": round(r), "unit": m.unit});
    }
    json!({
        "resourceType": "MeasureReport",
        "id": id,
        "status": "complete",
        "type": "summary",
        "measure": format!("https://tend.example.org/fhir/Measure/{}", m.id),
        "date": generated,
        "period": {"start": start, "end": end},
        "group": [group]
    })
}
