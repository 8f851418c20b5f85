//! ORU^R01 (unsolicited observation results, HL7 v2.5 §7.3.1) to FHIR R4.
//!
//! | HL7 v2 | FHIR |
//! |---|---|
//! | PID-3 (all repetitions; assigning authority 4.1 / OID 4.2, type 5) | `Patient.identifier`; the patient is created from PID when no Patient has the first identifier (conditional create) |
//! | PID-5, 7, 8, 11, 13 | `name`, `birthDate`, `gender`, `address`, `telecom` |
//! | PID-10, PID-22 | US Core race and ethnicity extensions (CDC race and ethnicity codes) |
//! | PID-15 | `communication.language`, preferred |
//! | OBX-3 | `Observation.code`: LOINC (`LN`) directly, SNOMED CT (`SCT`), or a local code through the configured mapping table |
//! | OBX-2 / OBX-5 | NM → `valueQuantity`; SN → `valueQuantity` with comparator, `valueRange` (`-`) or `valueRatio` (`:` `/`); CWE/CE/CNE → `valueCodeableConcept`; ST/TX/FT → `valueString`; TS/DTM → `valueDateTime`; other types are skipped with a warning |
//! | OBX-6 | `valueQuantity.unit`, with the UCUM code where known ([`crate::to_ucum`]) |
//! | OBX-11 | `status`: F final, C corrected, A amended, P/R/S preliminary, I registered, X cancelled, W/D entered-in-error |
//! | OBX-14 (else OBR-7, else MSH-7) | `effectiveDateTime` |
//! | vital-sign OBX of one message | category `vital-signs`, and one vital-signs panel (LOINC 85353-1) whose `hasMember` lists them: one observation set for early warning |
//! | other OBX | category `laboratory`, grouped under a `DiagnosticReport` per OBR (code OBR-4, status OBR-25, effective OBR-7) |
//! | PV1-19 | `encounter` of every Observation and DiagnosticReport: the Encounter the ADT feed keeps for that visit number (same id, whichever message comes first) |
//! | MSH-3, MSH-4 | `meta.source` `urn:tend:hl7v2:APPLICATION:FACILITY` of every resource |
//!
//! A message carries at most [`MAX_OBX`] OBX segments.
//!
//! Resource ids are derived from the message key (MSH-3, MSH-4, MSH-10) and the segment's
//! position, so delivering a message twice writes the same resources, never new ones.

mod coding;
mod config;
mod observation;
mod patient;
mod report;
mod value;
mod vitals;

use fhir::stable_id;
use hl7kit::Segment;
use serde_json::{json, Value};

pub use config::MappingConfig;
pub(crate) use patient::{identifier_system, patient};

use crate::message::{use_encoding, Diagnostic, ErrorCode, Inbound};
use crate::to_fhir_datetime;
use report::Report;
use vitals::Panel;

const OBS_CATEGORY: &str = "http://terminology.hl7.org/CodeSystem/observation-category";

/// The most OBX segments one ORU^R01 message may carry; a message with more is answered
/// `AE`, its `ERR` naming the first OBX past the limit, and nothing of it is written.
///
/// Every OBX becomes an Observation that is validated, indexed and written in the message's
/// one transaction, and in original mode the feed answers (and the sender sends its next
/// message) only once early warning has scored it: at about 2 ms an OBX, one message of
/// 20,000 OBX held up early warning for the whole hospital. A monitor's vital signs are a
/// dozen OBX and a large laboratory report (a full blood count with differential,
/// chemistry, a microbiology susceptibility panel) well under 200; 500 leaves room for the
/// largest real reports while keeping one message to about a second of work.
pub const MAX_OBX: usize = 500;

/// One write of a transaction: a PUT at `id`, or a conditional POST (`if_none_exist`).
#[derive(Debug, Clone, PartialEq)]
pub struct Write {
    pub resource: Value,
    /// The Bundle-local URL other resources refer to (`urn:uuid:...`).
    pub full_url: Option<String>,
    /// For a conditional create: the search (`identifier=system|value`).
    pub if_none_exist: Option<String>,
}

/// The FHIR resources of a message.
#[derive(Debug, Clone, PartialEq)]
pub struct Mapped {
    pub writes: Vec<Write>,
    pub warnings: Vec<Diagnostic>,
    /// Number of vital-sign and laboratory Observations.
    pub vitals: usize,
    pub labs: usize,
}

/// Map an ORU^R01 message. Errors (answered `AE`) name segment, field and component.
pub fn map_oru(m: &Inbound, cfg: &MappingConfig) -> Result<Mapped, Vec<Diagnostic>> {
    check_obx_count(m)?;
    use_encoding(&m.message);
    let key = m.key();
    let source = source_uri(&m.header.sending_application, &m.header.sending_facility);
    let Some(pid) = m.message.segment("PID") else {
        return Err(vec![Diagnostic::new(
            "PID",
            1,
            0,
            0,
            ErrorCode::SegmentSequence,
            "an ORU^R01 message needs a PID segment",
        )]);
    };
    let (patient, condition) = patient(m, &pid, cfg, &source).map_err(|d| vec![d])?;
    let ctx = Context {
        cfg,
        base: stable_id("hl7", &key),
        patient_url: uuid_from(&format!("{key}#patient")),
        msh_time: to_fhir_datetime(&m.header.time, &cfg.default_offset),
        key,
        source,
    };
    let patient = Write {
        resource: patient,
        full_url: Some(ctx.patient_url.clone()),
        if_none_exist: Some(condition),
    };
    let mut walk = Walk::new(ctx, patient);
    for seg in m.message.segments() {
        match seg.name() {
            "OBR" => walk.obr(&seg),
            "OBX" => walk.obx(&seg),
            _ => {}
        }
    }
    let mut mapped = walk.finish()?;
    link_encounter(m, &mut mapped.writes);
    Ok(mapped)
}

/// An error naming the first OBX past [`MAX_OBX`].
fn check_obx_count(m: &Inbound) -> Result<(), Vec<Diagnostic>> {
    let obx = m.message.segments().filter(|s| s.name() == "OBX").count();
    if obx <= MAX_OBX {
        return Ok(());
    }
    Err(vec![Diagnostic::new(
        "OBX",
        MAX_OBX + 1,
        0,
        0,
        ErrorCode::SegmentSequence,
        format!(
            "a message may carry at most {MAX_OBX} OBX segments and this one has {obx}: send the results in several messages"
        ),
    )])
}

/// Results of a visit (PV1-19) belong to its Encounter: every write but the Patient
/// refers to it.
fn link_encounter(m: &Inbound, writes: &mut [Write]) {
    if let Some((encounter, _)) = m
        .message
        .segment("PV1")
        .and_then(|pv1| crate::adt::visit(&pv1, m))
    {
        for w in writes.iter_mut().skip(1) {
            w.resource["encounter"] = json!({"reference": format!("Encounter/{encounter}")});
        }
    }
}

/// What every resource of one message shares.
struct Context<'a> {
    cfg: &'a MappingConfig,
    /// The message key (MSH-3, MSH-4, MSH-10).
    key: String,
    /// The start of every resource id.
    base: String,
    /// `meta.source` of every resource.
    source: String,
    /// The Bundle-local URL of the Patient.
    patient_url: String,
    /// MSH-7, the time of results with neither OBX-14 nor OBR-7.
    msh_time: Option<String>,
}

/// The walk over a message's OBR and OBX segments, in order: an OBX belongs to the OBR
/// before it.
struct Walk<'a> {
    ctx: Context<'a>,
    writes: Vec<Write>,
    errors: Vec<Diagnostic>,
    warnings: Vec<Diagnostic>,
    panel: Panel,
    labs: usize,
    /// OBR-7 of the current OBR.
    obr_time: Option<String>,
    report: Option<Report>,
    reports: Vec<Report>,
    obr_n: usize,
    obx_n: usize,
}

impl<'a> Walk<'a> {
    fn new(ctx: Context<'a>, patient: Write) -> Walk<'a> {
        Walk {
            ctx,
            writes: vec![patient],
            errors: Vec::new(),
            warnings: Vec::new(),
            panel: Panel::default(),
            labs: 0,
            obr_time: None,
            report: None,
            reports: Vec::new(),
            obr_n: 0,
            obx_n: 0,
        }
    }

    /// An OBR starts a new DiagnosticReport.
    fn obr(&mut self, seg: &Segment<'_>) {
        self.obr_n += 1;
        if let Some(r) = self.report.take() {
            self.reports.push(r);
        }
        self.obr_time = report::time(seg, self.obr_n, &self.ctx).unwrap_or_else(|d| {
            self.errors.push(d);
            None
        });
        let report = Report::new(&self.ctx, seg, self.obr_n, self.obr_time.as_deref());
        self.report = Some(report);
    }

    /// An OBX becomes an Observation: a vital sign in the panel, or a laboratory result
    /// of the current report.
    fn obx(&mut self, seg: &Segment<'_>) {
        self.obx_n += 1;
        let n = self.obx_n;
        let obs = observation::observation(
            &self.ctx,
            seg,
            n,
            self.obr_time.as_deref(),
            &mut self.warnings,
        );
        let obs = match obs {
            Ok(Some(obs)) => obs,
            Ok(None) => return,
            Err(d) => {
                self.errors.push(d);
                return;
            }
        };
        let reference = format!("Observation/{}-o{n}", self.ctx.base);
        if obs.vital {
            self.panel.add(reference, &obs.effective);
        } else {
            self.labs += 1;
            if let Some(report) = self.report.as_mut() {
                report.add(&reference);
            }
        }
        self.writes.push(Write {
            resource: obs.resource,
            full_url: None,
            if_none_exist: None,
        });
    }

    /// The writes in order (Patient, Observations, the vital-signs panel, the reports
    /// with results), or every error found.
    fn finish(mut self) -> Result<Mapped, Vec<Diagnostic>> {
        if let Some(r) = self.report.take() {
            self.reports.push(r);
        }
        if !self.errors.is_empty() {
            return Err(self.errors);
        }
        let vitals = self.panel.len();
        self.writes.extend(self.panel.write(&self.ctx));
        self.writes
            .extend(self.reports.into_iter().filter_map(Report::write));
        if self.obx_n == 0 {
            return Err(vec![Diagnostic::new(
                "OBX",
                1,
                0,
                0,
                ErrorCode::SegmentSequence,
                "an ORU^R01 message needs at least one OBX segment",
            )]);
        }
        Ok(Mapped {
            writes: self.writes,
            warnings: self.warnings,
            vitals,
            labs: self.labs,
        })
    }
}

/// A Bundle-local `urn:uuid:` URL derived from a key: the key's 128-bit digest
/// ([`fhir::id::digest`]) with the version and variant bits of a random UUID.
fn uuid_from(key: &str) -> String {
    let mut d = fhir::id::digest(key);
    d[6] = (d[6] & 0x0f) | 0x40;
    d[8] = (d[8] & 0x3f) | 0x80;
    let mut hex = String::with_capacity(32);
    for b in d {
        hex.push_str(&format!("{b:02x}"));
    }
    format!(
        "urn:uuid:{}-{}-{}-{}-{}",
        &hex[..8],
        &hex[8..12],
        &hex[12..16],
        &hex[16..20],
        &hex[20..]
    )
}

/// `urn:tend:hl7v2:APPLICATION:FACILITY` (characters other than letters, digits, `.`
/// and `-` become `-`): the `meta.source` of everything a feed writes.
pub fn source_uri(application: &str, facility: &str) -> String {
    let clean = |s: &str| -> String {
        s.chars()
            .map(|c| {
                if c.is_ascii_alphanumeric() || c == '.' || c == '-' {
                    c
                } else {
                    '-'
                }
            })
            .collect()
    };
    format!("urn:tend:hl7v2:{}:{}", clean(application), clean(facility))
}
