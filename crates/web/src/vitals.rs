//! Recording a set of vital signs at the bedside: one form, checked with plain messages,
//! written as one vital-signs panel with its readings in one transaction; the page then
//! waits for early warning and shows the NEWS2 score, band, required response and when the
//! next set is due.
//!
//! The entry limits below catch typing errors (a temperature of 53 °C); they are not
//! clinical thresholds, which live in `rules` (RCP NEWS2 Chart 1).

use crate::view::PageError;
use std::time::Duration;

use askama::Template;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::Response;
use axum::Form;
use early_warning::codes::ScoreKind;
use rules::Acvpu;
use serde::Deserialize;
use serde_json::{json, Value};
use store::{Entry, Mode, WriteOp};

use crate::view::{self, band_label, Nav};
use crate::{blocking, Web};

/// What the nurse typed.
#[derive(Debug, Clone, Default, Deserialize)]
pub(crate) struct VitalsForm {
    #[serde(default)]
    pub(crate) csrf: String,
    #[serde(default)]
    pub(crate) rr: String,
    #[serde(default)]
    pub(crate) spo2: String,
    #[serde(default)]
    pub(crate) oxygen: String,
    #[serde(default)]
    pub(crate) flow: String,
    #[serde(default)]
    pub(crate) sbp: String,
    #[serde(default)]
    pub(crate) dbp: String,
    #[serde(default)]
    pub(crate) pulse: String,
    #[serde(default)]
    pub(crate) acvpu: String,
    #[serde(default)]
    pub(crate) temp: String,
}

/// A checked set: each reading, when given.
#[derive(Debug, Clone, PartialEq, Default)]
pub(crate) struct Checked {
    pub(crate) rr: Option<f64>,
    pub(crate) spo2: Option<f64>,
    /// Oxygen flow in L/min; 0 is air. None: not recorded.
    pub(crate) flow: Option<f64>,
    pub(crate) sbp: Option<f64>,
    pub(crate) dbp: Option<f64>,
    pub(crate) pulse: Option<f64>,
    pub(crate) acvpu: Option<Acvpu>,
    pub(crate) temp: Option<f64>,
}

/// A problem with one field, for the form.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct FieldError {
    pub(crate) field: &'static str,
    pub(crate) message: String,
}

/// Entry limits: (field, name, unit, low, high, whole numbers only).
const LIMITS: &[(&str, &str, &str, f64, f64, bool)] = &[
    ("rr", "Respiration rate", "/min", 4.0, 60.0, true),
    ("spo2", "SpO2", "%", 50.0, 100.0, true),
    ("flow", "Oxygen flow", "L/min", 0.5, 60.0, false),
    ("sbp", "Systolic blood pressure", "mmHg", 40.0, 300.0, true),
    ("dbp", "Diastolic blood pressure", "mmHg", 20.0, 200.0, true),
    ("pulse", "Pulse", "/min", 20.0, 250.0, true),
    ("temp", "Temperature", "°C", 25.0, 45.0, false),
];

fn number(field: &'static str, raw: &str, errors: &mut Vec<FieldError>) -> Option<f64> {
    let raw = raw.trim();
    if raw.is_empty() {
        return None;
    }
    let &(_, name, unit, low, high, whole) = LIMITS.iter().find(|l| l.0 == field)?;
    let fmt = |v: f64| {
        if v.fract() == 0.0 {
            format!("{v:.0}")
        } else {
            format!("{v}")
        }
    };
    let value = match raw.replace(',', ".").parse::<f64>() {
        Ok(v) if v.is_finite() => v,
        _ => {
            errors.push(FieldError {
                field,
                message: format!("{name} '{raw}' is not a number"),
            });
            return None;
        }
    };
    if whole && value.fract() != 0.0 {
        errors.push(FieldError {
            field,
            message: format!("{name} is counted in whole numbers ({unit})"),
        });
        return None;
    }
    if value < low || value > high {
        errors.push(FieldError {
            field,
            message: format!(
                "{name} {} {unit} is outside {}–{} {unit}",
                fmt(value),
                fmt(low),
                fmt(high)
            ),
        });
        return None;
    }
    Some(value)
}

/// Check the form: values within the entry limits, oxygen flow when on oxygen, at least
/// one reading.
pub(crate) fn check(f: &VitalsForm) -> Result<Checked, Vec<FieldError>> {
    let mut errors = Vec::new();
    let mut c = Checked {
        rr: number("rr", &f.rr, &mut errors),
        spo2: number("spo2", &f.spo2, &mut errors),
        sbp: number("sbp", &f.sbp, &mut errors),
        dbp: number("dbp", &f.dbp, &mut errors),
        pulse: number("pulse", &f.pulse, &mut errors),
        temp: number("temp", &f.temp, &mut errors),
        ..Default::default()
    };
    c.flow = match f.oxygen.as_str() {
        "air" => Some(0.0),
        "oxygen" => {
            let flow = number("flow", &f.flow, &mut errors);
            if flow.is_none() && f.flow.trim().is_empty() {
                errors.push(FieldError {
                    field: "flow",
                    message: "Oxygen flow is needed when the patient is on oxygen".into(),
                });
            }
            flow
        }
        _ => None,
    };
    c.acvpu = match f.acvpu.as_str() {
        "" => None,
        s => match Acvpu::parse(s) {
            Some(a) => Some(a),
            None => {
                errors.push(FieldError {
                    field: "acvpu",
                    message: format!("Consciousness '{s}' is not one of A, C, V, P, U"),
                });
                None
            }
        },
    };
    if let (Some(s), Some(d)) = (c.sbp, c.dbp) {
        if d >= s {
            errors.push(FieldError {
                field: "dbp",
                message: format!("Diastolic {d:.0} mmHg must be below systolic {s:.0} mmHg"),
            });
        }
    }
    if errors.is_empty() && c == Checked::default() {
        errors.push(FieldError {
            field: "rr",
            message: "Enter at least one reading".into(),
        });
    }
    if errors.is_empty() {
        Ok(c)
    } else {
        Err(errors)
    }
}

/// The panel and its readings as FHIR Observations (panel last).
pub(crate) fn observations(
    c: &Checked,
    panel_id: &str,
    subject: &str,
    encounter: Option<&str>,
    performer: &str,
    at: &str,
) -> Vec<Value> {
    let cat = json!([{"coding": [{"system": "http://terminology.hl7.org/CodeSystem/observation-category", "code": "vital-signs", "display": "Vital Signs"}]}]);
    let base = |id: String, code: &str, display: &str| {
        let mut o = json!({"resourceType": "Observation", "id": id, "status": "final", "category": cat,
            "code": {"coding": [{"system": "http://loinc.org", "code": code, "display": display}], "text": display},
            "subject": {"reference": subject}, "effectiveDateTime": at,
            "performer": [{"reference": performer}]});
        if let Some(e) = encounter {
            o["encounter"] = json!({"reference": e});
        }
        o
    };
    let mut out = Vec::new();
    let quantities = [
        ("rr", c.rr, "9279-1", "Respiratory rate", "/min", "/min"),
        (
            "spo2",
            c.spo2,
            "59408-5",
            "Oxygen saturation in Arterial blood by Pulse oximetry",
            "%",
            "%",
        ),
        (
            "o2",
            c.flow,
            "3151-8",
            "Inhaled oxygen flow rate",
            "L/min",
            "L/min",
        ),
        (
            "sbp",
            c.sbp,
            "8480-6",
            "Systolic blood pressure",
            "mmHg",
            "mm[Hg]",
        ),
        (
            "dbp",
            c.dbp,
            "8462-4",
            "Diastolic blood pressure",
            "mmHg",
            "mm[Hg]",
        ),
        ("hr", c.pulse, "8867-4", "Heart rate", "/min", "/min"),
        ("temp", c.temp, "8310-5", "Body temperature", "°C", "Cel"),
    ];
    for (tag, value, code, display, unit, ucum) in quantities {
        if let Some(v) = value {
            let mut o = base(format!("{panel_id}-{tag}"), code, display);
            // Whole numbers are written as integers, as typed (16, not 16.0).
            let value = if v.fract() == 0.0 && v.abs() < 1e9 {
                json!(v as i64)
            } else {
                json!(v)
            };
            o["valueQuantity"] = json!({"value": value, "unit": unit, "system": "http://unitsofmeasure.org", "code": ucum});
            out.push(o);
        }
    }
    if let Some(a) = c.acvpu {
        let mut o = base(
            format!("{panel_id}-acvpu"),
            "67775-7",
            "Level of responsiveness",
        );
        o["valueCodeableConcept"] = json!({"coding": [{"system": "http://snomed.info/sct", "code": a.snomed()}], "text": a.letter()});
        out.push(o);
    }
    let mut panel = base(
        panel_id.to_string(),
        "85353-1",
        "Vital signs, weight, height, head circumference, oxygen saturation and BMI panel",
    );
    panel["hasMember"] = json!(out
        .iter()
        .map(|o| json!({"reference": format!("Observation/{}", o["id"].as_str().unwrap_or_default())}))
        .collect::<Vec<_>>());
    out.push(panel);
    out
}

#[derive(Template)]
#[template(path = "vitals.html")]
struct VitalsPage {
    nav: Nav,
    id: String,
    name: String,
    bed: String,
    scale: u32,
    form: VitalsForm,
    errors: Vec<FieldError>,
    result: Option<ScoreResult>,
}

impl VitalsPage {
    /// The message for a field, if it has one.
    fn error(&self, field: &str) -> String {
        self.errors
            .iter()
            .filter(|e| e.field == field)
            .map(|e| e.message.clone())
            .collect::<Vec<_>>()
            .join("; ")
    }

    fn checked(&self, field: &str, value: &str) -> bool {
        match field {
            "oxygen" => self.form.oxygen == value,
            "acvpu" => self.form.acvpu == value,
            _ => false,
        }
    }
}

/// What early warning made of the set.
#[derive(Debug, Clone)]
pub(crate) struct ScoreResult {
    pub(crate) total: String,
    pub(crate) band: String,
    pub(crate) band_label: &'static str,
    pub(crate) complete: bool,
    pub(crate) response: String,
    pub(crate) monitoring: String,
    pub(crate) next_due: String,
    pub(crate) alert: bool,
}

/// Name, bed and SpO2 scale of a patient (from the latest score).
fn context(
    ew: &early_warning::EarlyWarning,
    id: &str,
) -> Result<(String, String, u32, Option<String>), PageError> {
    let store = ew.store();
    let patient = view::patient(&**store, &store::Access::system(), id)?;
    let subject = format!("Patient/{id}");
    let enc = view::search(
        &**store,
        &store::Access::system(),
        "Encounter",
        &[
            ("subject", subject.clone()),
            ("status", "in-progress".into()),
            ("_count", "1".into()),
        ],
    )?;
    let encounter = enc
        .first()
        .and_then(|e| e["id"].as_str())
        .map(|i| format!("Encounter/{i}"));
    let bed = enc
        .first()
        .and_then(|e| early_warning::bed_of(e).1)
        .unwrap_or_default();
    let scale = view::news2_scores(&**store, &store::Access::system(), &subject, 1)?
        .first()
        .and_then(early_warning::news2_summary)
        .map_or(1, |s| s.scale);
    Ok((view::name(&patient), bed, scale, encounter))
}

pub(crate) async fn form(
    State(web): State<Web>,
    auth: crate::session::AuthExt,
    Path(id): Path<String>,
) -> Result<Response, PageError> {
    let user = crate::session::user(&auth, access::Permission::RecordWrite)?;
    crate::chart::reach(&web, &user, &id).await?;
    let ew = web.ew()?;
    let pid = id.clone();
    let (name, bed, scale, _) = blocking(move || context(&ew, &pid)).await?;
    Ok(view::render(&VitalsPage {
        nav: Nav::new(&user, "vitals"),
        id,
        name,
        bed,
        scale,
        form: VitalsForm::default(),
        errors: Vec::new(),
        result: None,
    }))
}

pub(crate) async fn submit(
    State(web): State<Web>,
    auth: crate::session::AuthExt,
    Path(id): Path<String>,
    Form(form): Form<VitalsForm>,
) -> Result<Response, PageError> {
    let user = crate::session::poster(&auth, &form.csrf, access::Permission::RecordWrite)?;
    crate::chart::reach(&web, &user, &id).await?;
    let ew = web.ew()?;
    let (pid, f, by) = (id.clone(), form.clone(), user.practitioner.clone());
    let (web2, writer) = (web.clone(), user.clone());
    let done = blocking(move || {
        // Written as the nurse: the store decides, as for any other writer.
        let access = web2.access(&writer)?;
        let (name, bed, scale, encounter) = context(&ew, &pid)?;
        let checked = match check(&f) {
            Ok(c) => c,
            Err(errors) => return Ok((name, bed, scale, Err(errors))),
        };
        let panel = format!("vs-{}", uuid::Uuid::new_v4().simple());
        let at = search::format_instant(ew.now_ms());
        let obs = observations(
            &checked,
            &panel,
            &format!("Patient/{pid}"),
            encounter.as_deref(),
            &by,
            &at,
        );
        let entries: Vec<Entry> = obs
            .into_iter()
            .map(|o| Entry {
                full_url: None,
                op: WriteOp::Update {
                    rtype: "Observation".into(),
                    id: o["id"].as_str().unwrap_or_default().to_string(),
                    resource: o,
                    if_match: None,
                },
            })
            .collect();
        let outcomes = ew
            .store()
            .write(&access, entries, Mode::Atomic)
            .map_err(view::store_error)?;
        let seq = outcomes
            .iter()
            .flatten()
            .filter_map(|o| o.version().map(|v| v.seq))
            .max()
            .unwrap_or(0);
        tracing::info!("vital signs recorded from the bedside form");
        if !ew.wait_processed(seq, Duration::from_secs(10)) {
            tracing::warn!("early warning did not score the bedside set within 10 s");
        }
        let score_id = fhir::stable_id(
            ScoreKind::News2.prefix(),
            &format!("panel:Observation/{panel}"),
        );
        let score = view::read(
            &**ew.store(),
            &store::Access::system(),
            "Observation",
            &score_id,
        );
        let now = ew.now_ms();
        let result = score
            .as_ref()
            .and_then(early_warning::news2_summary)
            .map(|s| {
                let monitoring = score
                    .as_ref()
                    .and_then(|o| early_warning::score::component(o, "monitoring"))
                    .and_then(|c| c["valueCodeableConcept"]["text"].as_str())
                    .unwrap_or_default()
                    .to_string();
                ScoreResult {
                    total: s.total.map(|t| t.to_string()).unwrap_or_else(|| {
                        format!("at least {} (incomplete set)", s.partial_total)
                    }),
                    band_label: band_label(&s.band),
                    alert: matches!(s.band.as_str(), "low-medium" | "medium" | "high"),
                    band: s.band,
                    complete: s.complete,
                    response: s.response.unwrap_or_default(),
                    monitoring,
                    next_due: s
                        .next_due
                        .as_deref()
                        .map(|t| view::clock(t, now))
                        .unwrap_or_default(),
                }
            });
        Ok((name, bed, scale, Ok(result)))
    })
    .await;
    let (name, bed, scale, outcome) = done?;
    let (errors, result, status) = match outcome {
        Err(errors) => (errors, None, StatusCode::UNPROCESSABLE_ENTITY),
        Ok(result) => (Vec::new(), result, StatusCode::OK),
    };
    let mut resp = view::render(&VitalsPage {
        nav: Nav::new(&user, "vitals"),
        id,
        name,
        bed,
        scale,
        form: if errors.is_empty() {
            VitalsForm::default()
        } else {
            form
        },
        errors,
        result,
    });
    *resp.status_mut() = status;
    Ok(resp)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn form(pairs: &[(&str, &str)]) -> VitalsForm {
        let mut f = VitalsForm::default();
        for (k, v) in pairs {
            let v = v.to_string();
            match *k {
                "rr" => f.rr = v,
                "spo2" => f.spo2 = v,
                "oxygen" => f.oxygen = v,
                "flow" => f.flow = v,
                "sbp" => f.sbp = v,
                "dbp" => f.dbp = v,
                "pulse" => f.pulse = v,
                "acvpu" => f.acvpu = v,
                "temp" => f.temp = v,
                _ => unreachable!(),
            }
        }
        f
    }

    fn messages(f: &VitalsForm) -> Vec<String> {
        check(f)
            .unwrap_err()
            .into_iter()
            .map(|e| e.message)
            .collect()
    }

    #[test]
    fn limits_are_inclusive_and_messages_plain() {
        assert!(check(&form(&[("temp", "25")])).is_ok());
        assert!(check(&form(&[("temp", "45")])).is_ok());
        assert_eq!(
            messages(&form(&[("temp", "53")])),
            vec!["Temperature 53 °C is outside 25–45 °C"]
        );
        assert_eq!(
            messages(&form(&[("temp", "24.9")])),
            vec!["Temperature 24.9 °C is outside 25–45 °C"]
        );
        assert!(check(&form(&[("rr", "4")])).is_ok());
        assert!(check(&form(&[("rr", "60")])).is_ok());
        assert_eq!(
            messages(&form(&[("rr", "61")])),
            vec!["Respiration rate 61 /min is outside 4–60 /min"]
        );
        assert_eq!(
            messages(&form(&[("rr", "18.5")])),
            vec!["Respiration rate is counted in whole numbers (/min)"]
        );
        assert_eq!(
            messages(&form(&[("spo2", "101")])),
            vec!["SpO2 101 % is outside 50–100 %"]
        );
        assert_eq!(
            messages(&form(&[("pulse", "fast")])),
            vec!["Pulse 'fast' is not a number"]
        );
        assert_eq!(messages(&form(&[])), vec!["Enter at least one reading"]);
    }

    #[test]
    fn oxygen_needs_a_flow_and_blood_pressure_its_order() {
        assert_eq!(
            messages(&form(&[("oxygen", "oxygen")])),
            vec!["Oxygen flow is needed when the patient is on oxygen"]
        );
        assert_eq!(
            check(&form(&[("oxygen", "oxygen"), ("flow", "2")]))
                .unwrap()
                .flow,
            Some(2.0)
        );
        assert_eq!(check(&form(&[("oxygen", "air")])).unwrap().flow, Some(0.0));
        assert_eq!(
            messages(&form(&[("sbp", "90"), ("dbp", "95")])),
            vec!["Diastolic 95 mmHg must be below systolic 90 mmHg"]
        );
        assert_eq!(
            messages(&form(&[("acvpu", "X")])),
            vec!["Consciousness 'X' is not one of A, C, V, P, U"]
        );
    }

    #[test]
    fn a_full_set_is_one_panel_with_its_readings() {
        let c = check(&form(&[
            ("rr", "24"),
            ("spo2", "91"),
            ("oxygen", "oxygen"),
            ("flow", "2"),
            ("sbp", "98"),
            ("pulse", "118"),
            ("acvpu", "C"),
            ("temp", "38.6"),
        ]))
        .unwrap();
        let obs = observations(
            &c,
            "vs-1",
            "Patient/p1",
            Some("Encounter/e1"),
            "Practitioner/n1",
            "2026-11-24T10:00:00Z",
        );
        assert_eq!(obs.len(), 8);
        let panel = obs.last().unwrap();
        assert_eq!(panel["code"]["coding"][0]["code"], "85353-1");
        assert_eq!(panel["hasMember"].as_array().unwrap().len(), 7);
        // Every reading is read by the rules as the parameter it is.
        for o in &obs[..7] {
            let parsed = rules::observation::read(o);
            assert_eq!(parsed.readings.len(), 1, "{o}: {:?}", parsed.problems);
            assert!(parsed.counts);
        }
        for o in &obs {
            assert!(fhir::validation::validate(o)
                .iter()
                .all(|i| i.severity != fhir::validation::Severity::Error));
        }
    }
}
