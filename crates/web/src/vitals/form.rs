//! What the nurse typed, checked: each reading within its entry limits, the oxygen device
//! with what it needs (a flow, or an inspired-oxygen percentage), readings that could not be
//! taken or were refused, a pain score, and the time the set was taken (now by default, up
//! to 24 hours back, never in the future).
//!
//! The entry limits catch typing errors (a temperature of 53 °C); they are not clinical
//! thresholds, which live in `rules` (RCP NEWS2 Chart 1).

use rules::Acvpu;
use serde::Deserialize;

use crate::local::TypedTime;
use crate::Zone;

/// The form as posted.
#[derive(Debug, Clone, Default, Deserialize)]
pub(crate) struct VitalsForm {
    #[serde(default)]
    pub(crate) csrf: String,
    /// When the set was taken (`datetime-local`, hospital time); empty: now.
    #[serde(default)]
    pub(crate) taken: String,
    #[serde(default)]
    pub(crate) rr: String,
    #[serde(default)]
    pub(crate) rr_absent: String,
    #[serde(default)]
    pub(crate) spo2: String,
    #[serde(default)]
    pub(crate) spo2_absent: String,
    /// The oxygen device ([`Device`] code); empty: not recorded.
    #[serde(default)]
    pub(crate) device: String,
    #[serde(default)]
    pub(crate) flow: String,
    #[serde(default)]
    pub(crate) fio2: String,
    #[serde(default)]
    pub(crate) sbp: String,
    #[serde(default)]
    pub(crate) sbp_absent: String,
    #[serde(default)]
    pub(crate) dbp: String,
    #[serde(default)]
    pub(crate) pulse: String,
    #[serde(default)]
    pub(crate) pulse_absent: String,
    #[serde(default)]
    pub(crate) acvpu: String,
    #[serde(default)]
    pub(crate) temp: String,
    #[serde(default)]
    pub(crate) temp_absent: String,
    #[serde(default)]
    pub(crate) pain: String,
    /// A child's capillary refill time, seconds (PEWS).
    #[serde(default)]
    pub(crate) crt: String,
    /// A child's respiratory distress: none, mild, moderate, severe (PEWS).
    #[serde(default)]
    pub(crate) distress: String,
    /// A child's carer question answer (`same`, `worse-medium`, ...; PEWS escalation).
    #[serde(default)]
    pub(crate) carer: String,
    /// Clinical intuition: the level chosen despite the score (PEWS escalation).
    #[serde(default)]
    pub(crate) intuition: String,
    /// A new suspicion of `sepsis` or `septic-shock` (PEWS escalation).
    #[serde(default)]
    pub(crate) sepsis: String,
    /// Pupils: `normal` or `abnormal` (PEWS escalation).
    #[serde(default)]
    pub(crate) pupils: String,
}

/// The answers a child's escalation questions take (PEWS table P11), as the record codes
/// them (`rules::observation`): (field, record code, answers).
pub(crate) const PEWS_QUESTIONS: &[(&str, &str, &[&str])] = &[
    (
        "carer",
        rules::observation::CARER_QUESTION,
        &[
            "same",
            "better",
            "worse-none",
            "worse-low",
            "worse-medium",
            "worse-high",
            "worse-emergency",
            "asleep",
            "unavailable",
        ],
    ),
    (
        "intuition",
        rules::observation::CLINICAL_INTUITION,
        &["none", "low", "medium", "high", "emergency"],
    ),
    (
        "sepsis",
        rules::observation::SEPSIS_SUSPICION,
        &["sepsis", "septic-shock"],
    ),
];

/// How oxygen is given: the devices the record knows (`rules::observation`, where the
/// scores read them). Anything but air is supplemental oxygen for NEWS2 (RCP 2017, chart 1:
/// "oxygen" scores 2 whatever the device).
pub(crate) use rules::observation::OxygenDevice as Device;

/// What a device's oxygen is recorded as.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Dose {
    /// Nothing: room air.
    None,
    /// A flow in L/min.
    Flow,
    /// An inspired-oxygen percentage (a Venturi valve's, a ventilator's setting).
    Fio2,
}

/// What the form says of a device: its name, and what it is given by.
pub(crate) trait DeviceForm {
    fn display(self) -> &'static str;
    fn dose(self) -> Dose;
}

impl DeviceForm for Device {
    fn display(self) -> &'static str {
        match self {
            Device::Air => "Room air",
            Device::NasalCannula => "Nasal cannula",
            Device::SimpleMask => "Simple face mask",
            Device::Venturi => "Venturi mask",
            Device::NonRebreather => "Non-rebreather mask",
            Device::HighFlow => "High-flow nasal oxygen",
            Device::CpapNiv => "CPAP / NIV",
        }
    }

    fn dose(self) -> Dose {
        match self {
            Device::Air => Dose::None,
            Device::Venturi | Device::CpapNiv => Dose::Fio2,
            _ => Dose::Flow,
        }
    }
}

/// Why a reading is missing from a set (FHIR `data-absent-reason`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Absent {
    /// Tried and could not be measured (e.g. no pulse-oximeter trace on cold hands).
    Unable,
    /// The patient declined.
    Refused,
}

impl Absent {
    fn parse(s: &str) -> Option<Absent> {
        match s {
            "unable" => Some(Absent::Unable),
            "refused" => Some(Absent::Refused),
            _ => None,
        }
    }

    /// The `data-absent-reason` code and display.
    pub(crate) fn reason(self) -> (&'static str, &'static str) {
        match self {
            Absent::Unable => ("not-performed", "Not Performed"),
            Absent::Refused => ("asked-declined", "Asked But Declined"),
        }
    }

    pub(crate) fn words(self) -> &'static str {
        match self {
            Absent::Unable => "unable to obtain",
            Absent::Refused => "refused",
        }
    }
}

/// A checked set: each reading, when given.
#[derive(Debug, Clone, PartialEq, Default)]
pub(crate) struct Checked {
    /// When the set was taken (ms since the epoch).
    pub(crate) taken_ms: i64,
    pub(crate) rr: Option<f64>,
    pub(crate) spo2: Option<f64>,
    pub(crate) device: Option<Device>,
    /// Oxygen flow in L/min (devices given by flow).
    pub(crate) flow: Option<f64>,
    /// Inspired oxygen, % (Venturi, CPAP/NIV).
    pub(crate) fio2: Option<f64>,
    pub(crate) sbp: Option<f64>,
    pub(crate) dbp: Option<f64>,
    pub(crate) pulse: Option<f64>,
    pub(crate) acvpu: Option<Acvpu>,
    pub(crate) temp: Option<f64>,
    /// Pain, 0–10 (verbal numeric rating).
    pub(crate) pain: Option<f64>,
    /// Capillary refill time, seconds (a child's PEWS item).
    pub(crate) crt: Option<f64>,
    /// Respiratory distress (a child's PEWS item).
    pub(crate) distress: Option<rules::pews::Distress>,
    /// A child's escalation answers: (record code, answer).
    pub(crate) escalation: Vec<(&'static str, String)>,
    /// Pupils abnormal (true) or normal (false), when assessed.
    pub(crate) abnormal_pupils: Option<bool>,
    /// Readings not taken, and why: (field, reason).
    pub(crate) absent: Vec<(&'static str, Absent)>,
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
    ("fio2", "Inspired oxygen", "%", 22.0, 100.0, true),
    ("sbp", "Systolic blood pressure", "mmHg", 40.0, 300.0, true),
    ("dbp", "Diastolic blood pressure", "mmHg", 20.0, 200.0, true),
    ("pulse", "Pulse", "/min", 20.0, 250.0, true),
    ("temp", "Temperature", "°C", 25.0, 45.0, false),
    ("pain", "Pain score", "out of 10", 0.0, 10.0, true),
    ("crt", "Capillary refill time", "seconds", 0.0, 15.0, false),
];

/// The longest a set may be back-dated: a set entered later than this belongs in a note.
pub(crate) use crate::local::BACKDATE_MS;

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

/// A reading that may instead be marked not obtained: the value, or the reason it is absent.
fn reading(
    field: &'static str,
    raw: &str,
    absent: &str,
    c: &mut Checked,
    errors: &mut Vec<FieldError>,
) -> Option<f64> {
    match Absent::parse(absent) {
        Some(why) if raw.trim().is_empty() => {
            c.absent.push((field, why));
            None
        }
        Some(why) => {
            let name = LIMITS.iter().find(|l| l.0 == field).map_or(field, |l| l.1);
            errors.push(FieldError {
                field,
                message: format!(
                    "{name} has a value and is marked {}: clear one of them",
                    why.words()
                ),
            });
            None
        }
        None => number(field, raw, errors),
    }
}

/// When the set was taken: the typed hospital time, or now.
fn taken(f: &VitalsForm, now_ms: i64, zone: Zone, errors: &mut Vec<FieldError>) -> i64 {
    let raw = f.taken.trim();
    let message = match zone.typed_time(raw, now_ms) {
        Ok(at) => return at,
        Err(TypedTime::NotATime) => {
            format!("Time taken '{raw}' is not a time on the hospital's clock")
        }
        Err(TypedTime::Future) => "Time taken cannot be in the future".into(),
        Err(TypedTime::TooOld) => {
            "Time taken is more than 24 hours ago: record older sets in a note".into()
        }
    };
    errors.push(FieldError {
        field: "taken",
        message,
    });
    now_ms
}

/// Check the form at `now_ms` (the hospital's `zone` reads the typed time).
pub(crate) fn check(f: &VitalsForm, now_ms: i64, zone: Zone) -> Result<Checked, Vec<FieldError>> {
    let mut errors = Vec::new();
    let mut c = Checked {
        taken_ms: taken(f, now_ms, zone, &mut errors),
        ..Default::default()
    };
    c.rr = reading("rr", &f.rr, &f.rr_absent, &mut c, &mut errors);
    c.spo2 = reading("spo2", &f.spo2, &f.spo2_absent, &mut c, &mut errors);
    c.sbp = reading("sbp", &f.sbp, &f.sbp_absent, &mut c, &mut errors);
    c.dbp = number("dbp", &f.dbp, &mut errors);
    c.pulse = reading("pulse", &f.pulse, &f.pulse_absent, &mut c, &mut errors);
    c.temp = reading("temp", &f.temp, &f.temp_absent, &mut c, &mut errors);
    c.pain = number("pain", &f.pain, &mut errors);
    c.crt = number("crt", &f.crt, &mut errors);
    for (field, code, answers) in PEWS_QUESTIONS {
        let given = match *field {
            "carer" => &f.carer,
            "intuition" => &f.intuition,
            _ => &f.sepsis,
        };
        match given.as_str() {
            "" => {}
            a if answers.contains(&a) => c.escalation.push((code, a.to_string())),
            _ => errors.push(FieldError {
                field,
                message: "Choose one of the answers offered".into(),
            }),
        }
    }
    c.abnormal_pupils = match f.pupils.as_str() {
        "" => None,
        "normal" => Some(false),
        "abnormal" => Some(true),
        _ => {
            errors.push(FieldError {
                field: "pupils",
                message: "Choose normal or abnormal".into(),
            });
            None
        }
    };
    c.distress = match f.distress.as_str() {
        "" => None,
        s => match rules::pews::Distress::parse(s) {
            Some(d) => Some(d),
            None => {
                errors.push(FieldError {
                    field: "distress",
                    message: "Choose how much respiratory distress: none, mild, moderate or severe"
                        .into(),
                });
                None
            }
        },
    };
    oxygen(f, &mut c, &mut errors);
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
    let nothing = Checked {
        taken_ms: c.taken_ms,
        ..Default::default()
    };
    if errors.is_empty() && c == nothing {
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

/// The device and what it needs: a flow for cannulae and masks, a percentage for Venturi
/// masks and CPAP/NIV; nothing for room air.
fn oxygen(f: &VitalsForm, c: &mut Checked, errors: &mut Vec<FieldError>) {
    if f.device.is_empty() {
        if !f.flow.trim().is_empty() || !f.fio2.trim().is_empty() {
            errors.push(FieldError {
                field: "device",
                message: "Choose the oxygen device for the flow or percentage given".into(),
            });
        }
        return;
    }
    let Some(device) = Device::parse(&f.device) else {
        errors.push(FieldError {
            field: "device",
            message: format!("Oxygen device '{}' is not one Tend knows", f.device),
        });
        return;
    };
    c.device = Some(device);
    match device.dose() {
        Dose::None => {}
        Dose::Flow => {
            c.flow = number("flow", &f.flow, errors);
            if f.flow.trim().is_empty() {
                errors.push(FieldError {
                    field: "flow",
                    message: format!(
                        "Oxygen flow is needed with a {}",
                        device.display().to_lowercase()
                    ),
                });
            }
        }
        Dose::Fio2 => {
            c.fio2 = number("fio2", &f.fio2, errors);
            if f.fio2.trim().is_empty() {
                errors.push(FieldError {
                    field: "fio2",
                    message: format!(
                        "The inspired oxygen percentage is needed with {}",
                        match device {
                            Device::Venturi => "a Venturi mask",
                            _ => "CPAP or NIV",
                        }
                    ),
                });
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const NOW: i64 = 1_796_569_200_000; // 2026-12-06T15:00:00Z

    fn form(pairs: &[(&str, &str)]) -> VitalsForm {
        let mut f = VitalsForm::default();
        for (k, v) in pairs {
            let v = v.to_string();
            match *k {
                "taken" => f.taken = v,
                "rr" => f.rr = v,
                "rr_absent" => f.rr_absent = v,
                "spo2" => f.spo2 = v,
                "device" => f.device = v,
                "flow" => f.flow = v,
                "fio2" => f.fio2 = v,
                "sbp" => f.sbp = v,
                "dbp" => f.dbp = v,
                "pulse" => f.pulse = v,
                "acvpu" => f.acvpu = v,
                "temp" => f.temp = v,
                "temp_absent" => f.temp_absent = v,
                "pain" => f.pain = v,
                "crt" => f.crt = v,
                "distress" => f.distress = v,
                "carer" => f.carer = v,
                "intuition" => f.intuition = v,
                "sepsis" => f.sepsis = v,
                "pupils" => f.pupils = v,
                _ => unreachable!(),
            }
        }
        f
    }

    fn utc() -> Zone {
        Zone::parse("UTC").unwrap()
    }

    fn ok(pairs: &[(&str, &str)]) -> Checked {
        check(&form(pairs), NOW, utc()).unwrap()
    }

    fn messages(pairs: &[(&str, &str)]) -> Vec<String> {
        check(&form(pairs), NOW, utc())
            .unwrap_err()
            .into_iter()
            .map(|e| e.message)
            .collect()
    }

    #[test]
    fn limits_are_inclusive_and_messages_plain() {
        ok(&[("temp", "25")]);
        ok(&[("temp", "45")]);
        assert_eq!(
            messages(&[("temp", "53")]),
            ["Temperature 53 °C is outside 25–45 °C"]
        );
        assert_eq!(
            messages(&[("temp", "24.9")]),
            ["Temperature 24.9 °C is outside 25–45 °C"]
        );
        ok(&[("rr", "4")]);
        ok(&[("rr", "60")]);
        assert_eq!(
            messages(&[("rr", "61")]),
            ["Respiration rate 61 /min is outside 4–60 /min"]
        );
        assert_eq!(
            messages(&[("rr", "18.5")]),
            ["Respiration rate is counted in whole numbers (/min)"]
        );
        assert_eq!(
            messages(&[("spo2", "101")]),
            ["SpO2 101 % is outside 50–100 %"]
        );
        assert_eq!(
            messages(&[("pulse", "fast")]),
            ["Pulse 'fast' is not a number"]
        );
        assert_eq!(messages(&[]), ["Enter at least one reading"]);
        assert_eq!(ok(&[("pain", "0")]).pain, Some(0.0));
        assert_eq!(ok(&[("pain", "10")]).pain, Some(10.0));
        assert_eq!(
            messages(&[("pain", "11")]),
            ["Pain score 11 out of 10 is outside 0–10 out of 10"]
        );
    }

    #[test]
    fn each_device_needs_what_it_is_given_by() {
        assert_eq!(ok(&[("device", "air")]).device, Some(Device::Air));
        assert_eq!(
            messages(&[("device", "nasal-cannula")]),
            ["Oxygen flow is needed with a nasal cannula"]
        );
        let c = ok(&[("device", "non-rebreather"), ("flow", "15")]);
        assert_eq!(
            (c.device, c.flow),
            (Some(Device::NonRebreather), Some(15.0))
        );
        assert_eq!(
            messages(&[("device", "venturi")]),
            ["The inspired oxygen percentage is needed with a Venturi mask"]
        );
        assert_eq!(
            ok(&[("device", "venturi"), ("fio2", "28")]).fio2,
            Some(28.0)
        );
        assert_eq!(
            messages(&[("device", "cpap-niv"), ("fio2", "21")]),
            ["Inspired oxygen 21 % is outside 22–100 %"]
        );
        assert_eq!(
            messages(&[("flow", "2")]),
            ["Choose the oxygen device for the flow or percentage given"]
        );
        assert_eq!(
            messages(&[("sbp", "90"), ("dbp", "95")]),
            ["Diastolic 95 mmHg must be below systolic 90 mmHg"]
        );
        assert_eq!(
            messages(&[("acvpu", "X")]),
            ["Consciousness 'X' is not one of A, C, V, P, U"]
        );
    }

    #[test]
    fn a_reading_not_obtained_is_recorded_with_its_reason() {
        let c = ok(&[("rr", "18"), ("temp_absent", "refused")]);
        assert_eq!(c.temp, None);
        assert_eq!(c.absent, [("temp", Absent::Refused)]);
        let c = ok(&[("rr_absent", "unable")]);
        assert_eq!(
            c.absent,
            [("rr", Absent::Unable)],
            "a set of only gaps is a record too"
        );
        assert_eq!(
            messages(&[("temp", "37"), ("temp_absent", "refused")]),
            ["Temperature has a value and is marked refused: clear one of them"]
        );
    }

    #[test]
    fn the_time_taken_is_now_or_up_to_a_day_back_never_ahead() {
        assert_eq!(ok(&[("rr", "18")]).taken_ms, NOW);
        assert_eq!(
            ok(&[("rr", "18"), ("taken", "2026-12-06T14:30")]).taken_ms,
            NOW - 30 * 60_000
        );
        ok(&[("rr", "18"), ("taken", "2026-12-05T15:00")]);
        assert_eq!(
            messages(&[("rr", "18"), ("taken", "2026-12-05T14:59")]),
            ["Time taken is more than 24 hours ago: record older sets in a note"]
        );
        assert_eq!(
            messages(&[("rr", "18"), ("taken", "2026-12-06T15:05")]),
            ["Time taken cannot be in the future"]
        );
        // Typed in the hospital's zone: 10:00 in New York is 15:00 UTC.
        let ny = Zone::parse("America/New_York").unwrap();
        let c = check(
            &form(&[("rr", "18"), ("taken", "2026-12-06T09:45")]),
            NOW,
            ny,
        )
        .unwrap();
        assert_eq!(c.taken_ms, NOW - 15 * 60_000);
    }
}
