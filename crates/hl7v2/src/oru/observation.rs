//! One OBX (observation/result, HL7 v2.5 §7.4.2) as a FHIR R4
//! [Observation](https://hl7.org/fhir/R4/observation.html): code, status, value, time and
//! category.

use hl7kit::Segment;
use serde_json::{json, Value};

use super::coding::{loinc, observation_code, status};
use super::value::value;
use super::vitals::is_vital;
use super::{Context, OBS_CATEGORY};
use crate::message::{comp, Diagnostic, ErrorCode, Text};
use crate::to_fhir_datetime;

/// An OBX mapped to an Observation.
pub(super) struct Observed {
    pub(super) resource: Value,
    /// `effectiveDateTime`.
    pub(super) effective: String,
    /// Whether it is a vital sign (else a laboratory result).
    pub(super) vital: bool,
}

/// The Observation of OBX `n`, its time taken from OBX-14, else `obr_time` (OBR-7), else
/// MSH-7. `Ok(None)` when the result is skipped with a warning (a value type not mapped).
pub(super) fn observation(
    ctx: &Context<'_>,
    seg: &Segment<'_>,
    n: usize,
    obr_time: Option<&str>,
    warnings: &mut Vec<Diagnostic>,
) -> Result<Option<Observed>, Diagnostic> {
    let code = observation_code(seg, n, ctx.cfg, warnings)?;
    let loinc = loinc(&code);
    let raw = seg
        .field(5)
        .map(|f| f.text().trim().to_string())
        .unwrap_or_default();
    let mut obs = json!({
        "resourceType": "Observation",
        "id": format!("{}-o{n}", ctx.base),
        "meta": {"source": ctx.source},
        "identifier": [{"system": "https://tend.example.org/fhir/sid/hl7v2-result", "value": format!("{}#OBX{n}", ctx.key)}],
        "status": "final",
        "code": code,
        "subject": {"reference": ctx.patient_url},
    });
    obs["status"] = json!(result_status(seg, n, warnings)?);
    if raw.is_empty() {
        if !matches!(
            obs["status"].as_str(),
            Some("cancelled" | "entered-in-error" | "registered")
        ) {
            obs["dataAbsentReason"] = json!({"coding": [{"system": "http://terminology.hl7.org/CodeSystem/data-absent-reason", "code": "unknown"}]});
        }
    } else {
        let Some((element, v)) = value(seg, n, &raw, ctx.cfg, warnings)? else {
            return Ok(None);
        };
        obs[element] = v;
    }
    let fallback = obr_time.or(ctx.msh_time.as_deref());
    let effective = effective(seg, n, ctx, fallback)?;
    obs["effectiveDateTime"] = json!(effective);
    let vital = is_vital(loinc.as_deref());
    let category = if vital {
        ("vital-signs", "Vital Signs")
    } else {
        ("laboratory", "Laboratory")
    };
    obs["category"] =
        json!([{"coding": [{"system": OBS_CATEGORY, "code": category.0, "display": category.1}]}]);
    Ok(Some(Observed {
        resource: obs,
        effective,
        vital,
    }))
}

/// OBX-11 as the Observation's status; missing is read as final with a warning.
fn result_status(
    seg: &Segment<'_>,
    n: usize,
    warnings: &mut Vec<Diagnostic>,
) -> Result<&'static str, Diagnostic> {
    let st = comp(seg, 11, 1);
    match status(&st) {
        Some(s) => Ok(s),
        None if st.is_empty() => {
            warnings.push(
                Diagnostic::new(
                    "OBX",
                    n,
                    11,
                    0,
                    ErrorCode::RequiredFieldMissing,
                    "result status is missing; read as final",
                )
                .warning(),
            );
            Ok("final")
        }
        None => Err(Diagnostic::new(
            "OBX",
            n,
            11,
            0,
            ErrorCode::TableValueNotFound,
            "result status is not in HL7 table 0085",
        )),
    }
}

/// OBX-14 (date/time of the observation), else `fallback`; an error when OBX-14 is not an
/// HL7 timestamp or there is no time at all.
fn effective(
    seg: &Segment<'_>,
    n: usize,
    ctx: &Context<'_>,
    fallback: Option<&str>,
) -> Result<String, Diagnostic> {
    let t14 = comp(seg, 14, 1);
    if t14.is_empty() {
        return fallback.map(str::to_string).ok_or_else(|| {
            Diagnostic::new(
                "OBX",
                n,
                14,
                1,
                ErrorCode::RequiredFieldMissing,
                "no observation time in OBX-14, OBR-7 or MSH-7",
            )
        });
    }
    to_fhir_datetime(&t14, &ctx.cfg.default_offset).ok_or_else(|| {
        Diagnostic::new(
            "OBX",
            n,
            14,
            1,
            ErrorCode::DataTypeError,
            "observation date/time is not an HL7 timestamp",
        )
    })
}
