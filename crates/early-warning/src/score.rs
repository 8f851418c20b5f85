//! Scores as FHIR Observations (<https://hl7.org/fhir/R4/observation.html>).
//!
//! NEWS2: code SNOMED CT 1104051000000101, `valueInteger` total (complete sets only, status
//! `final`; an incomplete set is `preliminary` with no value), the band as `interpretation`
//! (system [`codes::BAND`]), one component per parameter (its points as `valueInteger`, the
//! reading and its normalised value in `code.text`; a missing parameter carries a
//! `dataAbsentReason`), and components `partial-total`, `max-possible-total`, `scale`,
//! `oxygen-basis`, `required-response`, `monitoring`, `next-observations-due`, `trend` and
//! `set-start` (system [`codes::EW`]). qSOFA and SIRS (codes `qsofa`, `sirs` in
//! [`codes::EW`]): `valueInteger` criteria met (complete only), `interpretation`
//! POS/NEG/IND, one component per criterion (met / not-met / unknown). PEWS (children; code
//! `pews` in [`codes::EW`], also UK SNOMED CT 1363261000000104): `valueInteger` total
//! (complete sets only), the escalation level as `interpretation` (system
//! [`codes::PEWS_LEVEL`]), one component per item (points; the text gives what was
//! recorded), and components `partial-total`, `max-possible-total`, `age-band`,
//! `escalation-criteria`, `oxygen-basis`, `avpu`, `required-response`, `medical-review`,
//! `monitoring`, `next-observations-due` and `set-start`. All of them:
//! `derivedFrom` the set's readings, same subject and encounter, `effectiveDateTime` = the
//! set's latest reading, identifier = the set key, id stable per set and kind.

use rules::news2::{Monitoring, Score};
use rules::pews;
use rules::sepsis;
use rules::OxygenBasis;
use serde_json::{json, Value};

use crate::codes::{self, ScoreKind, EW};

/// The set a score belongs to.
#[derive(Debug, Clone, PartialEq)]
pub struct SetRef {
    /// `panel:Observation/ID` or `loose:Patient/ID:START_MS`.
    pub key: String,
    pub subject: String,
    pub encounter: Option<String>,
    /// The set's first and latest reading (ms).
    pub start_ms: i64,
    pub effective_ms: i64,
    /// References of the readings (and panel) the set is made of.
    pub members: Vec<String>,
}

impl SetRef {
    /// The stable id of the set's score of a kind.
    pub fn score_id(&self, kind: ScoreKind) -> String {
        fhir::stable_id(kind.prefix(), &self.key)
    }
}

fn concept(system: &str, code: &str, display: &str) -> Value {
    json!({"coding": [{"system": system, "code": code, "display": display}]})
}

fn ew(code: &str, text: &str) -> Value {
    json!({"coding": [{"system": EW, "code": code}], "text": text})
}

fn base(kind: ScoreKind, set: &SetRef, code: Value, now_ms: i64) -> Value {
    let mut o = json!({
        "resourceType": "Observation",
        "id": set.score_id(kind),
        "meta": {"tag": [{"system": codes::TAG, "code": codes::TAG_CODE}]},
        "identifier": [{"system": codes::SET_ID, "value": set.key}],
        "status": "final",
        "category": [concept(codes::OBS_CATEGORY, "survey", "Survey")],
        "code": code,
        "subject": {"reference": set.subject},
        "effectiveDateTime": search::format_instant(set.effective_ms),
        "issued": search::format_instant(now_ms),
        "derivedFrom": set.members.iter().map(|m| json!({"reference": m})).collect::<Vec<_>>(),
    });
    if let Some(e) = &set.encounter {
        o["encounter"] = json!({"reference": e});
    }
    o
}

/// What else a NEWS2 score records besides the chart.
#[derive(Debug, Clone, PartialEq)]
pub struct News2Extras {
    pub oxygen_basis: OxygenBasis,
    pub next_due_ms: i64,
    /// Rising by the configured amount over the configured number of sets.
    pub rising: bool,
}

/// The stored NEWS2 score of a set.
pub fn news2(set: &SetRef, s: &Score, extras: &News2Extras, now_ms: i64) -> Value {
    let mut o = base(
        ScoreKind::News2,
        set,
        json!({"coding": [{"system": codes::SNOMED, "code": codes::NEWS2_TOTAL,
            "display": "Royal College of Physicians National Early Warning Score 2 total score"}],
            "text": "NEWS2"}),
        now_ms,
    );
    match s.total {
        Some(t) => o["valueInteger"] = json!(t),
        None => o["status"] = json!("preliminary"),
    }
    o["interpretation"] = json!([concept(codes::BAND, s.band.code(), s.band.display())]);
    let mut comps = Vec::new();
    for p in rules::Param::ALL {
        let mut coding = vec![json!({"system": EW, "code": p.code(), "display": p.display()})];
        if let Some((code, display)) = codes::param_snomed(p) {
            if !(p == rules::Param::SpO2 && s.scale == rules::Scale::Two) {
                coding.push(json!({"system": codes::SNOMED, "code": code, "display": display}));
            }
        }
        if let Some(item) = s.items.iter().find(|i| i.param == p) {
            let text = if item.raw == item.normalised {
                format!("{}: {} scores {}", p.display(), item.raw, item.points)
            } else {
                format!(
                    "{}: {} (normalised {}) scores {}",
                    p.display(),
                    item.raw,
                    item.normalised,
                    item.points
                )
            };
            comps.push(
                json!({"code": {"coding": coding, "text": text}, "valueInteger": item.points}),
            );
        } else {
            let reason = s
                .missing
                .iter()
                .find(|m| m.param == p)
                .map(|m| m.reason)
                .unwrap_or("not recorded");
            comps.push(json!({
                "code": {"coding": coding, "text": format!("{}: {reason}", p.display())},
                "dataAbsentReason": concept(codes::DATA_ABSENT, "not-performed", "Not Performed"),
            }));
        }
    }
    comps.push(json!({"code": ew("partial-total", "Total of the parameters scored"), "valueInteger": s.partial_total}));
    comps.push(json!({"code": ew("max-possible-total", "Highest total once complete"), "valueInteger": s.max_possible}));
    comps.push(json!({"code": ew("scale", "SpO2 scale used"), "valueInteger": s.scale.number()}));
    comps.push(json!({"code": ew("oxygen-basis", "Air or oxygen from"),
        "valueCodeableConcept": {"coding": [{"system": EW, "code": extras.oxygen_basis.code()}]}}));
    comps.push(json!({"code": ew("required-response", "Required clinical response"),
        "valueCodeableConcept": {"coding": [{"system": EW, "code": s.band.response_code()}], "text": s.band.response()}}));
    let (mcode, mtext) = match s.band.monitoring() {
        Monitoring::Every(m) if m % 60 == 0 => (
            format!("every-{}h", m / 60),
            format!("Minimum {}-hourly", m / 60),
        ),
        Monitoring::Every(m) => (
            format!("every-{m}min"),
            format!("Minimum every {m} minutes"),
        ),
        Monitoring::Continuous => (
            "continuous".to_string(),
            "Continuous monitoring of vital signs".to_string(),
        ),
    };
    comps.push(
        json!({"code": ew("monitoring", "Minimum monitoring frequency"),
        "valueCodeableConcept": {"coding": [{"system": EW, "code": mcode}], "text": mtext}}),
    );
    comps.push(
        json!({"code": ew("next-observations-due", "Next observations due"),
        "valueDateTime": search::format_instant(extras.next_due_ms)}),
    );
    let trend = if extras.rising { "rising" } else { "steady" };
    comps.push(json!({"code": ew("trend", "Score trend"),
        "valueCodeableConcept": {"coding": [{"system": EW, "code": trend}]}}));
    comps.push(json!({"code": ew("set-start", "First reading of the set"),
        "valueDateTime": search::format_instant(set.start_ms)}));
    o["component"] = json!(comps);
    o
}

/// What else a PEWS score records besides the chart.
#[derive(Debug, Clone, PartialEq)]
pub struct PewsExtras {
    pub oxygen_basis: OxygenBasis,
    /// None where the chart gives no interval (a PEWS of 0 with no trigger).
    pub next_due_ms: Option<i64>,
    /// The AVPU of the set, if recorded (the next set's "change to" triggers read it back).
    pub avpu: Option<pews::Avpu>,
}

/// The stored PEWS of a child's set.
pub fn pews(set: &SetRef, s: &pews::Score, extras: &PewsExtras, now_ms: i64) -> Value {
    let mut o = base(
        ScoreKind::Pews,
        set,
        json!({"coding": [
            {"system": EW, "code": "pews", "display": "National Paediatric Early Warning Score (England)"},
            {"system": codes::SNOMED, "code": codes::PEWS_TOTAL,
                "display": "NPEWS (National Paediatric Early Warning Score) - total score"}],
            "text": "PEWS"}),
        now_ms,
    );
    match s.total {
        Some(t) => o["valueInteger"] = json!(t),
        None => o["status"] = json!("preliminary"),
    }
    let level = s.level();
    o["interpretation"] = json!([concept(codes::PEWS_LEVEL, level.code(), level.display())]);
    let mut comps = Vec::new();
    for p in pews::Param::ALL {
        let coding = json!([{"system": EW, "code": p.code(), "display": p.display()}]);
        if let Some(item) = s.items.iter().find(|i| i.param == p) {
            let mut text = format!("{}: {} scores {}", p.display(), item.value, item.points);
            if let Some(note) = item.note {
                text.push_str(&format!(" ({note})"));
            }
            comps.push(
                json!({"code": {"coding": coding, "text": text}, "valueInteger": item.points}),
            );
        } else {
            let reason = s
                .missing
                .iter()
                .find(|m| m.param == p)
                .map(|m| m.reason)
                .unwrap_or("not recorded");
            comps.push(json!({
                "code": {"coding": coding, "text": format!("{}: {reason}", p.display())},
                "dataAbsentReason": concept(codes::DATA_ABSENT, "not-performed", "Not Performed"),
            }));
        }
    }
    comps.push(json!({"code": ew("partial-total", "Total of the items scored"), "valueInteger": s.partial_total}));
    comps.push(json!({"code": ew("max-possible-total", "Highest total once complete"), "valueInteger": s.max_possible}));
    comps.push(json!({"code": ew("age-band", "PEWS chart (age band)"),
        "valueCodeableConcept": {"coding": [{"system": EW, "code": s.age_band.code(), "display": s.age_band.display()}], "text": s.age_band.display()}}));
    let criteria: Vec<String> = s
        .escalation
        .criteria
        .iter()
        .map(|c| format!("{} {}: {}", c.reason.code(), c.level.code(), c.detail))
        .collect();
    comps.push(json!({"code": ew("escalation-criteria", "Escalation reasons"),
        "valueCodeableConcept": {
            "coding": s.escalation.reason_codes().iter().map(|r| json!({"system": EW, "code": format!("pews-reason-{r}")})).collect::<Vec<_>>(),
            "text": if criteria.is_empty() { "none".to_string() } else { criteria.join("; ") }}}));
    comps.push(json!({"code": ew("oxygen-basis", "Oxygen level from"),
        "valueCodeableConcept": {"coding": [{"system": EW, "code": extras.oxygen_basis.code()}]}}));
    if let Some(a) = extras.avpu {
        comps.push(json!({"code": ew("avpu", "AVPU"),
            "valueCodeableConcept": {"coding": [{"system": EW, "code": a.letter()}]}}));
    }
    if let Some(r) = level.response() {
        comps.push(json!({"code": ew("required-response", "Required clinical response"),
            "valueCodeableConcept": {"coding": [{"system": EW, "code": format!("pews-{}", level.code())}], "text": r}}));
    }
    if let Some(r) = level.medical_review() {
        comps.push(json!({"code": ew("medical-review", "Medical review"), "valueString": r}));
    }
    if let (Some(observe), Some(text)) = (level.observe(), level.observations()) {
        let code = match observe {
            pews::Observe::Within(m) => format!("within-{m}min"),
            pews::Observe::Every(m) => format!("every-{m}min"),
        };
        comps.push(json!({"code": ew("monitoring", "Minimal observations"),
            "valueCodeableConcept": {"coding": [{"system": EW, "code": code}], "text": text}}));
    }
    if let Some(due) = extras.next_due_ms {
        comps.push(
            json!({"code": ew("next-observations-due", "Next observations due"),
            "valueDateTime": search::format_instant(due)}),
        );
    }
    comps.push(json!({"code": ew("set-start", "First reading of the set"),
        "valueDateTime": search::format_instant(set.start_ms)}));
    o["component"] = json!(comps);
    o
}

/// The AVPU recorded on a stored PEWS.
pub fn pews_avpu(obs: &Value) -> Option<pews::Avpu> {
    component(obs, "avpu")
        .and_then(|c| c["valueCodeableConcept"]["coding"][0]["code"].as_str())
        .and_then(pews::Avpu::parse)
}

/// The stored qSOFA or SIRS screen of a set.
pub fn screen(kind: ScoreKind, set: &SetRef, r: &sepsis::Result, now_ms: i64) -> Value {
    let (code, text) = match kind {
        ScoreKind::Sirs => ("sirs", "SIRS criteria"),
        _ => ("qsofa", "qSOFA"),
    };
    let mut o = base(kind, set, ew(code, text), now_ms);
    if r.complete() {
        o["valueInteger"] = json!(r.met);
    } else {
        o["status"] = json!("preliminary");
    }
    let (icode, idisplay) = r.screen.interpretation();
    o["interpretation"] = json!([concept(codes::INTERPRETATION, icode, idisplay)]);
    let mut comps: Vec<Value> = r
        .findings
        .iter()
        .map(|f| {
            let text = if f.basis.is_empty() {
                f.display.to_string()
            } else {
                format!("{} ({})", f.display, f.basis)
            };
            json!({"code": {"coding": [{"system": EW, "code": f.code}], "text": text},
                "valueCodeableConcept": {"coding": [{"system": EW, "code": f.state.code()}]}})
        })
        .collect();
    comps.push(json!({"code": ew("criteria-met", "Criteria met"), "valueInteger": r.met}));
    comps.push(json!({"code": ew("criteria-unknown", "Criteria that could not be evaluated"), "valueInteger": r.unknown}));
    o["component"] = json!(comps);
    o
}

/// A component's value by Tend code.
pub fn component<'a>(obs: &'a Value, code: &str) -> Option<&'a Value> {
    obs["component"].as_array()?.iter().find(|c| {
        c["code"]["coding"]
            .as_array()
            .is_some_and(|cs| cs.iter().any(|x| x["system"] == EW && x["code"] == code))
    })
}

/// One parameter of a stored NEWS2 score: what was recorded and what it scored (None when
/// not recorded), for the observation chart.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct ChartCell {
    pub param: rules::Param,
    pub value: Option<String>,
    pub points: Option<u32>,
}

/// The parameters of a stored NEWS2 Observation, in chart order (read back from the
/// components [`news2`] writes: text `DISPLAY: VALUE scores N` and the points).
pub fn news2_cells(obs: &Value) -> Vec<ChartCell> {
    rules::Param::ALL
        .into_iter()
        .map(|p| {
            let (value, points) = item(obs, p.code(), p.display());
            ChartCell {
                param: p,
                value,
                points,
            }
        })
        .collect()
}

/// One scored item of a stored score (NEWS2 or PEWS) by Tend code: what was recorded and
/// what it scored (None when not recorded), read back from the component [`news2`] and
/// [`pews`] write (text `DISPLAY: VALUE scores N`, the points as its value).
pub fn item(obs: &Value, code: &str, display: &str) -> (Option<String>, Option<u32>) {
    let comp = component(obs, code);
    let points = comp
        .and_then(|c| c["valueInteger"].as_u64())
        .map(|v| v as u32);
    let value = comp
        .filter(|_| points.is_some())
        .and_then(|c| c["code"]["text"].as_str())
        .and_then(|t| t.strip_prefix(display))
        .and_then(|t| t.strip_prefix(": "))
        .and_then(|t| t.rsplit_once(" scores ").map(|(v, _)| v))
        .map(|v| v.split(" (normalised").next().unwrap_or(v).to_string());
    (value, points)
}

/// A summary of a stored NEWS2 score, for views and events.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct News2Summary {
    pub id: String,
    pub total: Option<u32>,
    pub partial_total: u32,
    pub band: String,
    pub complete: bool,
    pub scale: u32,
    pub effective: String,
    pub next_due: Option<String>,
    pub rising: bool,
    pub response: Option<String>,
}

impl News2Summary {
    /// The score this summary is of: NEWS2, or PEWS for a child ([`summary`]).
    pub fn kind(&self) -> ScoreKind {
        ScoreKind::of_id(&self.id).unwrap_or(ScoreKind::News2)
    }

    /// `NEWS2` or `PEWS`.
    pub fn score_name(&self) -> &'static str {
        self.kind().name()
    }
}

/// A summary of a stored PEWS.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct PewsSummary {
    pub id: String,
    pub total: Option<u32>,
    pub partial_total: u32,
    /// The escalation level's code (`none`, `low`, `medium`, `high`, `emergency`).
    pub level: String,
    pub complete: bool,
    /// The chart's age band code (`0-11m`, `1-4y`, `5-12y`, `13y+`).
    pub age_band: String,
    pub effective: String,
    pub next_due: Option<String>,
    pub response: Option<String>,
}

/// Read back a stored PEWS Observation.
pub fn pews_summary(obs: &Value) -> Option<PewsSummary> {
    if ScoreKind::of(obs) != Some(ScoreKind::Pews) {
        return None;
    }
    let coded = |code: &str| {
        component(obs, code)
            .and_then(|c| c["valueCodeableConcept"]["coding"][0]["code"].as_str())
            .map(str::to_string)
    };
    Some(PewsSummary {
        id: obs["id"].as_str()?.to_string(),
        total: obs["valueInteger"].as_u64().map(|v| v as u32),
        partial_total: component(obs, "partial-total")
            .and_then(|c| c["valueInteger"].as_u64())
            .unwrap_or(0) as u32,
        level: obs["interpretation"][0]["coding"][0]["code"]
            .as_str()?
            .to_string(),
        complete: obs["status"] == "final",
        age_band: coded("age-band").unwrap_or_default(),
        effective: obs["effectiveDateTime"]
            .as_str()
            .unwrap_or_default()
            .to_string(),
        next_due: component(obs, "next-observations-due")
            .and_then(|c| c["valueDateTime"].as_str())
            .map(str::to_string),
        response: component(obs, "required-response")
            .and_then(|c| c["valueCodeableConcept"]["text"].as_str())
            .map(str::to_string),
    })
}

/// The summary views show for a patient's early-warning score, NEWS2 or PEWS: for a PEWS,
/// `band` holds the escalation level's code and `scale` is 0 (PEWS has no SpO2 scale);
/// [`News2Summary::score_name`] tells them apart.
pub fn summary(obs: &Value) -> Option<News2Summary> {
    if let Some(p) = pews_summary(obs) {
        return Some(News2Summary {
            id: p.id,
            total: p.total,
            partial_total: p.partial_total,
            band: p.level,
            complete: p.complete,
            scale: 0,
            effective: p.effective,
            next_due: p.next_due,
            rising: false,
            response: p.response,
        });
    }
    news2_summary(obs)
}

/// Read back a stored NEWS2 Observation.
pub fn news2_summary(obs: &Value) -> Option<News2Summary> {
    if ScoreKind::of(obs) != Some(ScoreKind::News2) {
        return None;
    }
    let band = obs["interpretation"][0]["coding"][0]["code"]
        .as_str()?
        .to_string();
    Some(News2Summary {
        id: obs["id"].as_str()?.to_string(),
        total: obs["valueInteger"].as_u64().map(|v| v as u32),
        partial_total: component(obs, "partial-total")
            .and_then(|c| c["valueInteger"].as_u64())
            .unwrap_or(0) as u32,
        complete: obs["status"] == "final",
        band,
        scale: component(obs, "scale")
            .and_then(|c| c["valueInteger"].as_u64())
            .unwrap_or(1) as u32,
        effective: obs["effectiveDateTime"]
            .as_str()
            .unwrap_or_default()
            .to_string(),
        next_due: component(obs, "next-observations-due")
            .and_then(|c| c["valueDateTime"].as_str())
            .map(str::to_string),
        rising: component(obs, "trend")
            .is_some_and(|c| c["valueCodeableConcept"]["coding"][0]["code"] == "rising"),
        response: component(obs, "required-response")
            .and_then(|c| c["valueCodeableConcept"]["text"].as_str())
            .map(str::to_string),
    })
}
