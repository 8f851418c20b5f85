//! The HL7 v2 interface: what an interface engine does with an inbound message.
//!
//! 1. Parse (`hl7v2`); a message that cannot be processed is answered `AR`.
//! 2. Idempotency on MSH-3 + MSH-4 + MSH-10: the message record is a `MessageHeader` with a
//!    stable id from that key, holding the fingerprint of the content and the
//!    acknowledgement sent. A resend gets the same acknowledgement and writes nothing; the
//!    same key with different content is answered `AE` and changes nothing.
//! 3. Map (ORU^R01 → Patient from PID when unknown, Observations, a vital-signs panel,
//!    DiagnosticReports), validate against R4, and write everything with the message
//!    record in one atomic transaction. A message with more than [`hl7v2::MAX_OBX`] OBX
//!    is answered `AE` (ERR naming the first OBX past it) and only its record is written.
//! 4. Original mode: wait until the early-warning service has scored what was written,
//!    then `AA`. Enhanced mode (MSH-15 valued): `CA` once the commit is durable.
//!
//! ADT (A01, A02, A03, A04, A05, A08, A11, A13, A40) updates the Patient and its Encounter
//! (status, period, ward and bed history); an A40 moves every resource of the prior patient
//! to the surviving one. Other message types are answered `AR` ("unsupported message
//! type") and recorded.

mod records;

use std::sync::Arc;
use std::time::Duration;

use hl7v2::ack::{self, AckMode, Outcome};
use hl7v2::message::Header;
use hl7v2::{Diagnostic, ErrorCode, Inbound, MappingConfig};
use serde_json::{json, Value};
use store::{Clock, Entry, Mode, Store, WriteOp};

pub use records::{view, LogError, MessagePage, MessageQuery, MessageView, OUTCOME_SYSTEM};

const EXT: &str = "https://tend.example.org/fhir/StructureDefinition/hl7v2-";

/// The interface's settings.
#[derive(Debug, Clone, Default)]
pub struct Config {
    pub mapping: MappingConfig,
}

/// The inbound HL7 v2 feed over one store.
pub struct Feed {
    store: Arc<dyn Store>,
    early_warning: Option<Arc<early_warning::EarlyWarning>>,
    clock: Arc<dyn Clock>,
    config: Config,
    /// Keys of messages being handled: a copy of a message resent on another connection
    /// while the first is in flight waits for it, then is answered from its record.
    in_flight: std::sync::Mutex<std::collections::HashSet<String>>,
    done: std::sync::Condvar,
}

/// Holds a message key while its message is handled.
struct Claim<'a> {
    feed: &'a Feed,
    key: String,
}

impl Drop for Claim<'_> {
    fn drop(&mut self) {
        if let Ok(mut keys) = self.feed.in_flight.lock() {
            keys.remove(&self.key);
        }
        self.feed.done.notify_all();
    }
}

/// Why a stored message could not be replayed.
#[derive(Debug, thiserror::Error, PartialEq)]
pub enum ReplayError {
    #[error("no HL7 v2 message record with this id")]
    NotFound,
    #[error("the record holds no message to replay")]
    NoMessage,
}

/// The result of one message.
#[derive(Debug, Clone, PartialEq)]
pub struct Handled {
    pub ack: String,
    pub code: &'static str,
    /// Whether it was a resend answered from the record.
    pub duplicate: bool,
    /// Patients the message wrote (`Patient/ID`), for its audit record.
    pub patients: Vec<String>,
}

fn hl7_now(ms: i64) -> String {
    chrono::DateTime::from_timestamp_millis(ms)
        .map(|d| d.format("%Y%m%d%H%M%S+0000").to_string())
        .unwrap_or_default()
}

fn put(resource: Value) -> Option<Entry> {
    Entry::put(resource)
}

impl Feed {
    pub fn new(
        store: Arc<dyn Store>,
        early_warning: Option<Arc<early_warning::EarlyWarning>>,
        clock: Arc<dyn Clock>,
        config: Config,
    ) -> Feed {
        Feed {
            store,
            early_warning,
            clock,
            config,
            in_flight: Default::default(),
            done: Default::default(),
        }
    }

    /// Wait until no other copy of the message with this key is being handled, then hold it.
    fn claim(&self, key: String) -> Claim<'_> {
        let mut keys = self.in_flight.lock().unwrap_or_else(|p| p.into_inner());
        while keys.contains(&key) {
            keys = self.done.wait(keys).unwrap_or_else(|p| p.into_inner());
        }
        keys.insert(key.clone());
        Claim { feed: self, key }
    }

    fn record(
        &self,
        m: &Inbound,
        code: &str,
        ack: &str,
        focus: &[String],
        problems: &[Diagnostic],
    ) -> Value {
        let h = &m.header;
        let mut r = json!({
            "resourceType": "MessageHeader",
            "id": fhir::stable_id("msg", &m.key()),
            "meta": {"tag": [{"system": OUTCOME_SYSTEM, "code": code}],
                "source": hl7v2::source_uri(&h.sending_application, &h.sending_facility)},
            "eventCoding": {"system": "http://terminology.hl7.org/CodeSystem/v2-0003", "code": h.trigger, "display": format!("{}^{}", h.message_code, h.trigger)},
            "source": {"name": h.sending_application, "software": h.sending_facility,
                "endpoint": hl7v2::source_uri(&h.sending_application, &h.sending_facility)},
            "extension": [
                {"url": format!("{EXT}key"), "valueString": m.key()},
                {"url": format!("{EXT}fingerprint"), "valueString": m.fingerprint()},
                {"url": format!("{EXT}message"), "valueString": m.message.raw()},
                {"url": format!("{EXT}ack"), "valueString": ack},
            ],
        });
        if !focus.is_empty() {
            r["focus"] = json!(focus
                .iter()
                .map(|f| json!({"reference": f}))
                .collect::<Vec<_>>());
        }
        if let Some(a) = r["extension"].as_array_mut() {
            for p in problems {
                a.push(json!({"url": format!("{EXT}problem"), "valueString": p.to_string()}));
            }
        }
        r
    }

    fn ext<'a>(record: &'a Value, name: &str) -> Option<&'a str> {
        record["extension"]
            .as_array()?
            .iter()
            .find(|e| e["url"] == format!("{EXT}{name}"))?["valueString"]
            .as_str()
    }

    /// Handle one message (never panics; every outcome is an acknowledgement).
    pub fn handle(&self, bytes: &[u8]) -> Handled {
        self.counted(bytes, false)
    }

    /// Process a stored message again (`MessageHeader` id), e.g. after the local-code table
    /// was corrected. A message that was accepted is answered from its record and nothing
    /// is written twice; one that was refused is processed afresh and its record updated
    /// (the earlier outcome stays in the record's history).
    pub fn replay(&self, record_id: &str) -> Result<Handled, ReplayError> {
        let record = self
            .read_json("MessageHeader", record_id)
            .ok_or(ReplayError::NotFound)?;
        let raw = Self::ext(&record, "message").ok_or(ReplayError::NoMessage)?;
        let accepted = record["meta"]["tag"]
            .as_array()
            .is_some_and(|t| t.iter().any(|c| c["code"] == "accepted"));
        tracing::info!(accepted, "HL7 v2 message replayed");
        Ok(self.counted(raw.as_bytes(), !accepted))
    }

    /// `process`, counted by message type and outcome for `/metrics`.
    fn counted(&self, bytes: &[u8], fresh: bool) -> Handled {
        let started = std::time::Instant::now();
        let (handled, kind) = self.process(bytes, fresh);
        let kind = kind.unwrap_or_else(|| "unknown".into());
        metrics::counter!("tend_hl7_messages_total", "type" => kind.clone(), "outcome" => handled.code)
            .increment(1);
        if handled.duplicate {
            metrics::counter!("tend_hl7_duplicates_total", "type" => kind.clone()).increment(1);
        }
        metrics::histogram!("tend_hl7_ack_seconds", "type" => kind)
            .record(started.elapsed().as_secs_f64());
        handled
    }

    /// Handle one message; with `fresh`, a stored record of the same key is not consulted
    /// (replay of a refused message). Also returns the message type when it could be read.
    fn process(&self, bytes: &[u8], fresh: bool) -> (Handled, Option<String>) {
        let now = hl7_now(self.clock.now_ms());
        let m = match Inbound::parse(bytes) {
            Ok(m) => m,
            Err(r) => {
                let header = r.header.clone().map(|h| *h).unwrap_or_default();
                let ack = ack::build(&header, hl7v2::AckCode::Ar, &[r.diagnostic], &now);
                tracing::info!(outcome = "AR", "HL7 v2 message rejected");
                let kind = (!header.message_code.is_empty())
                    .then(|| format!("{}^{}", header.message_code, header.trigger));
                return (
                    Handled {
                        ack,
                        code: "AR",
                        duplicate: false,
                        patients: Vec::new(),
                    },
                    kind,
                );
            }
        };
        let kind = Some(format!("{}^{}", m.header.message_code, m.header.trigger));
        (self.dispatch(&m, fresh, &now), kind)
    }

    fn dispatch(&self, m: &Inbound, fresh: bool, now: &str) -> Handled {
        let mode = if m.enhanced() {
            AckMode::Enhanced
        } else {
            AckMode::Original
        };
        let record_id = fhir::stable_id("msg", &m.key());
        let _claim = self.claim(m.key());
        // Idempotency.
        if let Some(v) = (!fresh)
            .then(|| {
                self.store
                    .read(&store::Access::system(), "MessageHeader", &record_id)
                    .ok()
                    .flatten()
            })
            .flatten()
        {
            if let Some(old) = v
                .body
                .as_deref()
                .and_then(|b| serde_json::from_str::<Value>(b).ok())
            {
                if Self::ext(&old, "fingerprint") == Some(m.fingerprint().as_str()) {
                    let ack = Self::ext(&old, "ack").unwrap_or_default().to_string();
                    let code = ack_code(&ack);
                    tracing::info!(
                        outcome = code,
                        "HL7 v2 message resent: answered from the record"
                    );
                    return Handled {
                        ack,
                        code,
                        duplicate: true,
                        patients: Vec::new(),
                    };
                }
                let d = Diagnostic::new("MSH", 1, 10, 0, ErrorCode::DuplicateKey, "this sending application, facility and control id were already used for a different message");
                let code = mode.code(Outcome::Error);
                let ack = ack::build(&m.header, code, &[d], now);
                tracing::info!(
                    outcome = code.as_str(),
                    "HL7 v2 message key reused with different content"
                );
                return Handled {
                    ack,
                    code: code.as_str(),
                    duplicate: false,
                    patients: Vec::new(),
                };
            }
        }
        let outcome = match (m.header.message_code.as_str(), m.header.trigger.as_str()) {
            ("ORU", "R01") => self.oru(m, mode, now),
            ("ADT", t) if hl7v2::AdtEvent::of(t).is_some() => self.adt(m, mode, now),
            ("ADT", _) => {
                let d = Diagnostic::new(
                    "MSH",
                    1,
                    9,
                    2,
                    ErrorCode::UnsupportedEventCode,
                    "ADT events accepted: A01 A02 A03 A04 A05 A08 A11 A13 A40",
                );
                self.refused(m, mode, Outcome::Rejected, vec![d], now)
            }
            _ => {
                let d = Diagnostic::new(
                    "MSH",
                    1,
                    9,
                    1,
                    ErrorCode::UnsupportedMessageType,
                    "Tend accepts ORU^R01 and ADT A01 A02 A03 A04 A05 A08 A11 A13 A40",
                );
                self.refused(m, mode, Outcome::Rejected, vec![d], now)
            }
        };
        tracing::info!(outcome = outcome.code, message_type = %format!("{}^{}", m.header.message_code, m.header.trigger), "HL7 v2 message handled");
        outcome
    }

    /// Answer with an error or rejection, and record it.
    fn refused(
        &self,
        m: &Inbound,
        mode: AckMode,
        outcome: Outcome,
        problems: Vec<Diagnostic>,
        now: &str,
    ) -> Handled {
        let code = mode.code(outcome);
        let ack = ack::build(&m.header, code, &problems, now);
        let record = self.record(
            m,
            if outcome == Outcome::Rejected {
                "rejected"
            } else {
                "error"
            },
            &ack,
            &[],
            &problems,
        );
        if let Err(e) = self.store.write(
            &store::Access::system(),
            put(record).into_iter().collect(),
            Mode::Atomic,
        ) {
            tracing::warn!(error = %e, "recording a refused HL7 v2 message failed");
        }
        Handled {
            ack,
            code: code.as_str(),
            duplicate: false,
            patients: Vec::new(),
        }
    }

    /// The first R4 validation error among resources, as a problem to acknowledge.
    fn invalid<'a>(resources: impl Iterator<Item = &'a Value>) -> Option<Diagnostic> {
        resources.enumerate().find_map(|(i, r)| {
            fhir::validation::validate(r)
                .into_iter()
                .find(|issue| issue.severity == fhir::validation::Severity::Error)
                .map(|issue| {
                    Diagnostic::new(
                        "MSH",
                        1,
                        0,
                        0,
                        ErrorCode::ApplicationError,
                        format!(
                            "resource {} of the mapping is not valid FHIR: {}",
                            i + 1,
                            issue.message
                        ),
                    )
                })
        })
    }

    /// Every resource matching a search, page by page; a store failure is an error, never
    /// "nothing found" (an ADT merge must move every record or none).
    fn search(
        &self,
        rtype: &str,
        params: Vec<(String, String)>,
    ) -> Result<Vec<Value>, store::StoreError> {
        let q = search::SearchQuery::parse(search::Registry::r4(), rtype, &params)?;
        store::search_all(&*self.store, &store::Access::system(), q)?
            .into_iter()
            .map(|h| {
                serde_json::from_str(&h.body)
                    .map_err(|e| store::StoreError::Database(e.to_string()))
            })
            .collect()
    }

    fn by_condition(
        &self,
        rtype: &str,
        condition: &str,
    ) -> Result<Option<Value>, store::StoreError> {
        let params = condition
            .split('&')
            .filter_map(|kv| kv.split_once('='))
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        Ok(self.search(rtype, params)?.into_iter().next())
    }

    /// A resource as stored, if any; a store failure is an error.
    fn stored(&self, rtype: &str, id: &str) -> Result<Option<Value>, store::StoreError> {
        Ok(self
            .store
            .read(&store::Access::system(), rtype, id)?
            .and_then(|v| v.body)
            .and_then(|b| serde_json::from_str(&b).ok()))
    }

    /// A stored message record for the operator's views (a failure reads as not found).
    fn read_json(&self, rtype: &str, id: &str) -> Option<Value> {
        self.stored(rtype, id).ok().flatten()
    }

    /// What an ADT message changes: the patient first, then (for a merge) every record of
    /// the merged patient repointed, the places it names, its encounter.
    fn adt_changes(&self, adt: &hl7v2::Adt) -> Result<Vec<Value>, store::StoreError> {
        let mut resources: Vec<Value> = Vec::new();
        // The patient: found by identifier (created when unknown); demographics in the
        // message replace those stored, the rest is kept.
        let existing = self.by_condition("Patient", &adt.patient_condition)?;
        let patient_id = existing
            .as_ref()
            .and_then(|p| p["id"].as_str().map(str::to_string))
            .unwrap_or_else(|| fhir::stable_id("pat", &adt.patient_condition));
        let mut patient = existing.unwrap_or_else(|| json!({"resourceType": "Patient"}));
        if let (Some(p), Some(new)) = (patient.as_object_mut(), adt.patient.as_object()) {
            for (k, v) in new {
                p.insert(k.clone(), v.clone());
            }
            p.insert("id".into(), json!(patient_id));
            p.remove("meta");
            p.insert("meta".into(), json!({"source": adt.source}));
        }
        let patient_ref = format!("Patient/{patient_id}");
        if let Some(cond) = &adt.merge_from {
            if let Some(mut prior) = self.by_condition("Patient", cond)? {
                let prior_id = prior["id"].as_str().unwrap_or_default().to_string();
                if prior_id != patient_id {
                    let from = format!("Patient/{prior_id}");
                    for (rtype, param) in PATIENT_LINKS {
                        for mut r in self.search(rtype, vec![(param.to_string(), from.clone())])? {
                            if repoint(&mut r, &from, &patient_ref) {
                                if let Some(o) = r.as_object_mut() {
                                    o.remove("meta");
                                }
                                resources.push(r);
                            }
                        }
                    }
                    prior["active"] = json!(false);
                    prior["link"] =
                        json!([{"other": {"reference": patient_ref}, "type": "replaced-by"}]);
                    if let Some(o) = prior.as_object_mut() {
                        o.remove("meta");
                    }
                    resources.push(prior);
                    patient["link"] = json!([{"other": {"reference": from}, "type": "replaces"}]);
                }
            }
        }
        resources.insert(0, patient);
        if let Some(place) = &adt.place {
            for l in std::iter::once(&place.ward).chain(place.bed.iter()) {
                if self
                    .stored("Location", l["id"].as_str().unwrap_or_default())?
                    .is_none()
                {
                    resources.push(l.clone());
                }
            }
        }
        if let Some(id) = &adt.encounter_id {
            let stored = self.stored("Encounter", id)?;
            if let Some(e) = hl7v2::apply_adt(stored.as_ref(), adt, &patient_ref) {
                resources.push(e);
            }
        }
        Ok(resources)
    }

    fn adt(&self, m: &Inbound, mode: AckMode, now: &str) -> Handled {
        let adt = match hl7v2::map_adt(m, &self.config.mapping) {
            Ok(a) => a,
            Err(errors) => return self.refused(m, mode, Outcome::Error, errors, now),
        };
        let resources = match self.adt_changes(&adt) {
            Ok(r) => r,
            Err(e) => {
                let d = Diagnostic::new(
                    "MSH",
                    1,
                    0,
                    0,
                    ErrorCode::ApplicationError,
                    format!("the record could not be read: {e}"),
                );
                return self.refused(m, mode, Outcome::Error, vec![d], now);
            }
        };
        // Nothing invalid is stored.
        if let Some(d) = Self::invalid(resources.iter()) {
            return self.refused(m, mode, Outcome::Error, vec![d], now);
        }
        let code = mode.code(Outcome::Accepted);
        let ack = ack::build(&m.header, code, &[], now);
        let focus: Vec<String> = resources
            .iter()
            .map(|r| {
                format!(
                    "{}/{}",
                    r["resourceType"].as_str().unwrap_or_default(),
                    r["id"].as_str().unwrap_or_default()
                )
            })
            .collect();
        let patients: Vec<String> = focus
            .iter()
            .filter(|f| f.starts_with("Patient/"))
            .cloned()
            .collect();
        let mut entries: Vec<Entry> = resources.into_iter().filter_map(put).collect();
        entries.extend(put(self.record(m, "accepted", &ack, &focus, &[])));
        if let Err(e) = self
            .store
            .write(&store::Access::system(), entries, Mode::Atomic)
        {
            let d = Diagnostic::new(
                "MSH",
                1,
                0,
                0,
                ErrorCode::ApplicationError,
                format!("the resources could not be stored: {e}"),
            );
            return self.refused(m, mode, Outcome::Error, vec![d], now);
        }
        Handled {
            ack,
            code: code.as_str(),
            duplicate: false,
            patients,
        }
    }

    fn oru(&self, m: &Inbound, mode: AckMode, now: &str) -> Handled {
        let mapped = match hl7v2::map_oru(m, &self.config.mapping) {
            Ok(x) => x,
            Err(errors) => return self.refused(m, mode, Outcome::Error, errors, now),
        };
        // Nothing invalid is stored.
        if let Some(d) = Self::invalid(mapped.writes.iter().map(|w| &w.resource)) {
            return self.refused(m, mode, Outcome::Error, vec![d], now);
        }
        let code = mode.code(Outcome::Accepted);
        let ack = ack::build(&m.header, code, &mapped.warnings, now);
        let mut entries = Vec::new();
        let mut focus = Vec::new();
        for w in mapped.writes {
            let rtype = w.resource["resourceType"]
                .as_str()
                .unwrap_or_default()
                .to_string();
            if let Some(cond) = &w.if_none_exist {
                let params: Vec<(String, String)> = cond
                    .split('&')
                    .filter_map(|kv| kv.split_once('='))
                    .map(|(k, v)| (k.to_string(), v.to_string()))
                    .collect();
                let query =
                    match search::SearchQuery::parse(search::Registry::r4(), &rtype, &params) {
                        Ok(q) => q,
                        Err(e) => {
                            let d = Diagnostic::new(
                                "PID",
                                1,
                                3,
                                1,
                                ErrorCode::DataTypeError,
                                format!("the patient identifier cannot be searched: {e}"),
                            );
                            return self.refused(m, mode, Outcome::Error, vec![d], now);
                        }
                    };
                let id = fhir::stable_id("pat", cond);
                entries.push(Entry {
                    full_url: w.full_url.clone(),
                    op: WriteOp::Create {
                        resource: w.resource,
                        id,
                        if_none_exist: Some(query),
                    },
                });
            } else {
                focus.push(format!(
                    "{rtype}/{}",
                    w.resource["id"].as_str().unwrap_or_default()
                ));
                entries.push(Entry {
                    full_url: w.full_url.clone(),
                    op: WriteOp::Update {
                        rtype,
                        id: w.resource["id"].as_str().unwrap_or_default().to_string(),
                        resource: w.resource,
                        if_match: None,
                    },
                });
            }
        }
        let record = self.record(m, "accepted", &ack, &focus, &mapped.warnings);
        entries.extend(put(record));
        let outcomes = match self
            .store
            .write(&store::Access::system(), entries, Mode::Atomic)
        {
            Ok(o) => o,
            Err(e) => {
                let d = Diagnostic::new(
                    "MSH",
                    1,
                    0,
                    0,
                    ErrorCode::ApplicationError,
                    format!("the resources could not be stored: {e}"),
                );
                return self.refused(m, mode, Outcome::Error, vec![d], now);
            }
        };
        if mode == AckMode::Original {
            let newest = outcomes
                .iter()
                .flatten()
                .filter_map(|o| o.version().map(|v| v.seq))
                .max()
                .unwrap_or(0);
            if let Some(ew) = &self.early_warning {
                if !ew.wait_processed(newest, Duration::from_secs(30)) {
                    tracing::warn!("early warning did not finish scoring within 30 s; acknowledging the durable message");
                }
            }
        }
        let mut patients: Vec<String> = outcomes
            .iter()
            .flatten()
            .filter_map(|o| o.version())
            .filter(|v| v.rtype == "Patient")
            .map(|v| format!("Patient/{}", v.id))
            .collect();
        patients.dedup();
        Handled {
            ack,
            code: code.as_str(),
            duplicate: false,
            patients,
        }
    }
}

/// Replace every reference to `from` by `to`, anywhere in a resource.
fn repoint(v: &mut Value, from: &str, to: &str) -> bool {
    let mut changed = false;
    match v {
        Value::Object(o) => {
            for (k, x) in o.iter_mut() {
                if k == "reference" && x.as_str() == Some(from) {
                    *x = json!(to);
                    changed = true;
                } else {
                    changed |= repoint(x, from, to);
                }
            }
        }
        Value::Array(a) => {
            for x in a {
                changed |= repoint(x, from, to);
            }
        }
        _ => {}
    }
    changed
}

/// Types searched for a patient's resources when patients merge, with their parameter.
const PATIENT_LINKS: &[(&str, &str)] = &[
    ("Observation", "subject"),
    ("Encounter", "subject"),
    ("Condition", "subject"),
    ("Procedure", "subject"),
    ("DiagnosticReport", "subject"),
    ("Goal", "subject"),
    ("CarePlan", "subject"),
    ("ServiceRequest", "subject"),
    ("Flag", "subject"),
    ("Task", "patient"),
];

fn ack_code(ack: &str) -> &'static str {
    for code in ["AA", "AE", "AR", "CA", "CE", "CR"] {
        if ack.contains(&format!("\rMSA|{code}|")) {
            return code;
        }
    }
    "AE"
}

/// The AuditEvent of one message received over MLLP: the sending system (MSH-3, MSH-4) and
/// its address, the message type and control id, the patients it wrote, the outcome.
fn message_audit(message: &[u8], peer: std::net::SocketAddr, h: &Handled, now_ms: i64) -> Value {
    let header = Inbound::parse(message).ok().map(|m| m.header);
    let sender = header
        .as_ref()
        .map(|h| format!("{}^{}", h.sending_application, h.sending_facility))
        .unwrap_or_else(|| "unknown sender".into());
    let what = header
        .as_ref()
        .map(|h| format!("HL7 v2 {}^{} {}", h.message_code, h.trigger, h.control_id))
        .unwrap_or_else(|| "HL7 v2 message (unreadable header)".into());
    let mut entity: Vec<Value> = h
        .patients
        .iter()
        .map(|p| json!({"what": {"reference": p},
            "type": {"system": "http://terminology.hl7.org/CodeSystem/audit-entity-type", "code": "1", "display": "Person"},
            "role": {"system": "http://terminology.hl7.org/CodeSystem/object-role", "code": "1", "display": "Patient"}}))
        .collect();
    entity.push(json!({"type": {"system": "http://terminology.hl7.org/CodeSystem/audit-entity-type", "code": "2", "display": "System Object"},
        "description": what}));
    json!({
        "resourceType": "AuditEvent",
        "id": store::audit::event_id(),
        "type": {"system": "http://dicom.nema.org/resources/ontology/DCM", "code": "110107", "display": "Import"},
        "subtype": [{"system": "https://tend.example.org/fhir/CodeSystem/audit-subtype", "code": "hl7v2"}],
        "action": "C",
        "recorded": chrono::DateTime::from_timestamp_millis(now_ms).unwrap_or_default().to_rfc3339_opts(chrono::SecondsFormat::Millis, true),
        "outcome": if matches!(h.code, "AA" | "CA") { "0" } else { "4" },
        "outcomeDesc": if h.duplicate { format!("{} (resend answered from the record)", h.code) } else { h.code.to_string() },
        "agent": [{"requestor": true, "who": {"identifier": {"system": "https://tend.example.org/fhir/NamingSystem/hl7v2-sender", "value": sender}, "display": sender},
            "altId": sender, "network": {"address": peer.ip().to_string(), "type": "2"}}],
        "source": {"observer": {"display": "Tend"}, "type": [{"system": "http://terminology.hl7.org/CodeSystem/security-source-type", "code": "4", "display": "Application Server"}]},
        "entity": entity,
    })
}

impl mllp::Handler for Feed {
    fn handle(&self, message: &[u8], peer: std::net::SocketAddr) -> Option<Vec<u8>> {
        // A defect anywhere below must not cost the sender its acknowledgement.
        match std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| Feed::handle(self, message)))
        {
            Ok(h) => {
                // The acknowledgement waits until the message's audit record is durable (it
                // rides the next group commit): no message is acknowledged whose record a
                // crash could lose. Without it the sender is refused and sends again; the
                // resend is answered from the message's record.
                let event = message_audit(message, peer, &h, self.clock.now_ms());
                if let Err(e) = self.store.audit_durable(vec![event]) {
                    tracing::error!(error = %e, "an HL7 v2 audit record could not be written");
                    return Some(mllp::Handler::refuse(
                        self,
                        "the message's audit record could not be written; send it again",
                    ));
                }
                Some(h.ack.into_bytes())
            }
            Err(_) => {
                tracing::error!("HL7 v2 message handling failed unexpectedly; answered AR");
                Some(mllp::Handler::refuse(
                    self,
                    "the message could not be processed",
                ))
            }
        }
    }

    fn refuse(&self, reason: &str) -> Vec<u8> {
        let d = Diagnostic::new(
            "MSH",
            1,
            0,
            0,
            ErrorCode::ApplicationError,
            reason.to_string(),
        );
        ack::build(
            &Header::default(),
            hl7v2::AckCode::Ar,
            &[d],
            &hl7_now(self.clock.now_ms()),
        )
        .into_bytes()
    }
}
