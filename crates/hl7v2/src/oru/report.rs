//! Laboratory results of one OBR (observation request, HL7 v2.5 §7.4.1) as a FHIR R4
//! [DiagnosticReport](https://hl7.org/fhir/R4/diagnosticreport.html) listing them.

use hl7kit::Segment;
use serde_json::{json, Value};

use super::coding::{concept, status};
use super::{Context, Write};
use crate::message::{comp, Diagnostic, ErrorCode};
use crate::to_fhir_datetime;

/// A DiagnosticReport being gathered: the report of an OBR and its laboratory results.
pub(super) struct Report {
    resource: Value,
    results: Vec<Value>,
}

impl Report {
    /// The report of OBR `n`, effective at `time` (OBR-7).
    pub(super) fn new(
        ctx: &Context<'_>,
        seg: &Segment<'_>,
        n: usize,
        time: Option<&str>,
    ) -> Report {
        let mut dr = json!({
            "resourceType": "DiagnosticReport",
            "id": format!("{}-dr{n}", ctx.base),
            "meta": {"source": ctx.source},
            "status": status(&comp(seg, 25, 1)).unwrap_or("final"),
            "category": [{"coding": [{"system": "http://terminology.hl7.org/CodeSystem/v2-0074", "code": "LAB"}]}],
            "code": concept(seg, 4).unwrap_or_else(|| json!({"text": "Laboratory report"})),
            "subject": {"reference": ctx.patient_url},
        });
        if let Some(t) = time {
            dr["effectiveDateTime"] = json!(t);
        }
        Report {
            resource: dr,
            results: Vec::new(),
        }
    }

    /// Add the laboratory result at `reference`.
    pub(super) fn add(&mut self, reference: &str) {
        self.results.push(json!({"reference": reference}));
    }

    /// The report, unless it has no results.
    pub(super) fn write(self) -> Option<Write> {
        if self.results.is_empty() {
            return None;
        }
        let mut dr = self.resource;
        dr["result"] = json!(self.results);
        Some(Write {
            resource: dr,
            full_url: None,
            if_none_exist: None,
        })
    }
}

/// OBR-7 (observation date/time) of OBR `n`; an error when it is valued but not an HL7
/// timestamp.
pub(super) fn time(
    seg: &Segment<'_>,
    n: usize,
    ctx: &Context<'_>,
) -> Result<Option<String>, Diagnostic> {
    let t = comp(seg, 7, 1);
    if t.is_empty() {
        return Ok(None);
    }
    to_fhir_datetime(&t, &ctx.cfg.default_offset)
        .map(Some)
        .ok_or_else(|| {
            Diagnostic::new(
                "OBR",
                n,
                7,
                1,
                ErrorCode::DataTypeError,
                "observation date/time is not an HL7 timestamp",
            )
        })
}
