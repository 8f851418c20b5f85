//! ADT (patient administration, HL7 v2.5 §3) to FHIR R4: the patient and the visit.
//!
//! | HL7 v2 | FHIR |
//! |---|---|
//! | A01 admit, A04 register | `Encounter.status` `in-progress`, `period.start` = PV1-44 (else EVN-2, MSH-7) |
//! | A05 pre-admit | `planned` |
//! | A02 transfer | the previous location `completed` (with its end), the new one `active` |
//! | A03 discharge | `finished`, `period.end` = PV1-45 (else EVN-2, MSH-7); locations completed |
//! | A08 update | patient and visit details updated; status kept (`in-progress` when new) |
//! | A11 cancel admit | `cancelled` |
//! | A13 cancel discharge | `in-progress` again, `period.end` removed, last location active |
//! | A40 merge | PID is the surviving patient, MRG-1 the prior one: every resource of the prior patient moves to the survivor, which `replaces` it; the prior patient becomes inactive, `replaced-by` |
//! | PID | the Patient, as for ORU (see [`crate::oru`]); created or updated by identifier, so an A08 before its A01 works |
//! | PV1-2 | `class`: I → IMP, O → AMB, E → EMER, P → PRENC, R → AMB, B → IMP |
//! | PV1-3 | ward (point of care, `Location` of physical type `wa`) and bed (room and bed, `bd`, part of the ward), as `Encounter.location` history |
//! | PV1-7 | attending doctor, `participant` of type ATND (identifier and name) |
//! | PV1-19 | `Encounter.identifier` (the visit number); the Encounter's id derives from it |
//!
//! Pure: [`map_adt`] reads the message; [`apply`] computes the Encounter from its stored
//! version and the event, so the order messages arrive in does not lose history.

use fhir::stable_id;
use serde_json::{json, Value};

use crate::message::{comp, use_encoding, Diagnostic, ErrorCode, Inbound, Text};
use crate::oru::{identifier_system, patient};
use crate::{to_fhir_datetime, MappingConfig};

/// What an ADT message does to the visit.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Event {
    Admit,
    Register,
    PreAdmit,
    Transfer,
    Discharge,
    Update,
    CancelAdmit,
    CancelDischarge,
    Merge,
}

impl Event {
    pub fn of(trigger: &str) -> Option<Event> {
        Some(match trigger {
            "A01" => Event::Admit,
            "A04" => Event::Register,
            "A05" => Event::PreAdmit,
            "A02" => Event::Transfer,
            "A03" => Event::Discharge,
            "A08" => Event::Update,
            "A11" => Event::CancelAdmit,
            "A13" => Event::CancelDischarge,
            "A40" => Event::Merge,
            _ => return None,
        })
    }
}

/// A place from PV1-3: ward, and bed within it.
#[derive(Debug, Clone, PartialEq)]
pub struct Place {
    pub ward: Value,
    pub bed: Option<Value>,
}

/// An ADT message, read.
#[derive(Debug, Clone, PartialEq)]
pub struct Adt {
    pub event: Event,
    pub patient: Value,
    /// `identifier=system|value` of the patient.
    pub patient_condition: String,
    /// The Encounter's stable id, when the message carries a visit.
    pub encounter_id: Option<String>,
    pub visit_number: Option<Value>,
    pub class: Option<&'static str>,
    pub place: Option<Place>,
    pub attending: Option<Value>,
    pub admitted: Option<String>,
    pub discharged: Option<String>,
    /// When the event happened (EVN-2, else MSH-7).
    pub at: Option<String>,
    /// A40: `identifier=system|value` of the prior patient.
    pub merge_from: Option<String>,
    pub source: String,
}

/// The visit of PV1-19 (visit number, with its assigning authority in PV1-19.4, else the
/// sending facility): the Encounter's id and its identifier. ADT and ORU derive the same
/// id, so results sent before the admission link to the Encounter it creates.
pub(crate) fn visit(pv1: &hl7kit::Segment<'_>, m: &Inbound) -> Option<(String, Value)> {
    let number = comp(pv1, 19, 1);
    if number.is_empty() {
        return None;
    }
    let authority = pv1
        .field(19)
        .and_then(|f| f.component(4))
        .and_then(|c| c.subcomponent(1))
        .map(|s| s.text().trim().to_string())
        .unwrap_or_default();
    let system = format!(
        "https://tend.example.org/fhir/sid/hl7v2-visit/{}",
        clean(if authority.is_empty() {
            &m.header.sending_facility
        } else {
            &authority
        })
    );
    Some((
        stable_id("enc", &format!("{system}|{number}")),
        json!({"system": system, "value": number}),
    ))
}

fn clean(s: &str) -> String {
    s.chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() {
                c.to_ascii_lowercase()
            } else {
                '-'
            }
        })
        .collect::<String>()
        .trim_matches('-')
        .to_string()
}

const PT: &str = "http://terminology.hl7.org/CodeSystem/location-physical-type";

/// Read an ADT message of a supported event.
pub fn map_adt(m: &Inbound, cfg: &MappingConfig) -> Result<Adt, Vec<Diagnostic>> {
    use_encoding(&m.message);
    let Some(event) = Event::of(&m.header.trigger) else {
        return Err(vec![Diagnostic::new(
            "MSH",
            1,
            9,
            2,
            ErrorCode::UnsupportedEventCode,
            "supported ADT events: A01 A02 A03 A04 A05 A08 A11 A13 A40",
        )]);
    };
    let source = crate::source_uri(&m.header.sending_application, &m.header.sending_facility);
    let Some(pid) = m.message.segment("PID") else {
        return Err(vec![Diagnostic::new(
            "PID",
            1,
            0,
            0,
            ErrorCode::SegmentSequence,
            "an ADT message needs a PID segment",
        )]);
    };
    let (patient, patient_condition) = patient(m, &pid, cfg, &source).map_err(|d| vec![d])?;
    let mut errors = Vec::new();
    let time = |seg: &str, f: usize, errors: &mut Vec<Diagnostic>| -> Option<String> {
        let s = m.message.segment(seg)?;
        let v = comp(&s, f, 1);
        if v.is_empty() {
            return None;
        }
        let t = to_fhir_datetime(&v, &cfg.default_offset);
        if t.is_none() {
            errors.push(Diagnostic::new(
                seg,
                1,
                f,
                1,
                ErrorCode::DataTypeError,
                "not an HL7 timestamp",
            ));
        }
        t
    };
    let at = time("EVN", 2, &mut errors)
        .or_else(|| to_fhir_datetime(&m.header.time, &cfg.default_offset));
    let mut adt = Adt {
        event,
        patient,
        patient_condition,
        encounter_id: None,
        visit_number: None,
        class: None,
        place: None,
        attending: None,
        admitted: time("PV1", 44, &mut errors),
        discharged: time("PV1", 45, &mut errors),
        at,
        merge_from: None,
        source,
    };
    if event == Event::Merge {
        let Some(mrg) = m.message.segment("MRG") else {
            return Err(vec![Diagnostic::new(
                "MRG",
                1,
                0,
                0,
                ErrorCode::SegmentSequence,
                "an A40 merge needs an MRG segment",
            )]);
        };
        let value = comp(&mrg, 1, 1);
        let authority = mrg
            .field(1)
            .and_then(|f| f.component(4))
            .and_then(|c| c.subcomponent(1))
            .map(|s| s.text().trim().to_string())
            .unwrap_or_default();
        let oid = mrg
            .field(1)
            .and_then(|f| f.component(4))
            .and_then(|c| c.subcomponent(2))
            .map(|s| s.text().trim().to_string())
            .unwrap_or_default();
        if value.is_empty() {
            return Err(vec![Diagnostic::new(
                "MRG",
                1,
                1,
                1,
                ErrorCode::RequiredFieldMissing,
                "the prior patient identifier is missing",
            )]);
        }
        let system = identifier_system(&authority, &oid, &m.header.sending_facility);
        adt.merge_from = Some(format!("identifier={system}|{value}"));
        return if errors.is_empty() {
            Ok(adt)
        } else {
            Err(errors)
        };
    }
    if let Some(pv1) = m.message.segment("PV1") {
        adt.class = Some(match comp(&pv1, 2, 1).to_ascii_uppercase().as_str() {
            "O" | "R" => "AMB",
            "E" => "EMER",
            "P" => "PRENC",
            _ => "IMP",
        });
        if let Some((id, identifier)) = visit(&pv1, m) {
            adt.encounter_id = Some(id);
            adt.visit_number = Some(identifier);
        } else if let Some(admitted) = &adt.admitted {
            adt.encounter_id = Some(stable_id(
                "enc",
                &format!("{}|{admitted}", adt.patient_condition),
            ));
        } else if matches!(event, Event::Admit | Event::Register | Event::PreAdmit) {
            adt.encounter_id = Some(stable_id("enc", &m.key()));
        }
        let point = pv1
            .field(3)
            .and_then(|f| f.component(1))
            .and_then(|c| c.subcomponent(1))
            .map(|s| s.text().trim().to_string())
            .unwrap_or_default();
        let (room, bed, facility) = (comp(&pv1, 3, 2), comp(&pv1, 3, 3), comp(&pv1, 3, 4));
        if !point.is_empty() {
            let ward_id = stable_id("loc", &format!("{facility}|{point}"));
            let ward = json!({"resourceType": "Location", "id": ward_id, "meta": {"source": adt.source},
                "status": "active", "name": point, "mode": "instance",
                "physicalType": {"coding": [{"system": PT, "code": "wa", "display": "Ward"}]}});
            let bed = (!bed.is_empty() || !room.is_empty()).then(|| {
                let name = [room.as_str(), bed.as_str()].iter().filter(|s| !s.is_empty()).copied().collect::<Vec<_>>().join(" ");
                json!({"resourceType": "Location", "id": stable_id("loc", &format!("{facility}|{point}|{room}|{bed}")),
                    "meta": {"source": adt.source}, "status": "active", "name": format!("{point} {name}"), "mode": "instance",
                    "physicalType": {"coding": [{"system": PT, "code": "bd", "display": "Bed"}]},
                    "partOf": {"reference": format!("Location/{ward_id}")}})
            });
            adt.place = Some(Place { ward, bed });
        }
        let doctor = comp(&pv1, 7, 1);
        if !doctor.is_empty() {
            let family = pv1
                .field(7)
                .and_then(|f| f.component(2))
                .and_then(|c| c.subcomponent(1))
                .map(|s| s.text().trim().to_string())
                .unwrap_or_default();
            let given = comp(&pv1, 7, 3);
            adt.attending = Some(json!({
                "type": [{"coding": [{"system": "http://terminology.hl7.org/CodeSystem/v3-ParticipationType", "code": "ATND", "display": "attender"}]}],
                "individual": {"identifier": {"value": doctor}, "display": format!("{given} {family}").trim().to_string()},
            }));
        }
    } else if matches!(
        event,
        Event::Admit
            | Event::Register
            | Event::PreAdmit
            | Event::Transfer
            | Event::Discharge
            | Event::CancelAdmit
            | Event::CancelDischarge
    ) {
        errors.push(Diagnostic::new(
            "PV1",
            1,
            0,
            0,
            ErrorCode::SegmentSequence,
            "this ADT event needs a PV1 segment",
        ));
    }
    if errors.is_empty() {
        Ok(adt)
    } else {
        Err(errors)
    }
}

fn location_entry(l: &Value, status: &str, start: Option<&str>) -> Value {
    let kind = l["physicalType"]["coding"][0]["code"]
        .as_str()
        .unwrap_or("wa");
    let mut e = json!({
        "location": {"reference": format!("Location/{}", l["id"].as_str().unwrap_or_default()), "display": l["name"]},
        "status": status,
        "physicalType": {"coding": [{"system": PT, "code": kind}]},
    });
    if let Some(s) = start {
        e["period"] = json!({"start": s});
    }
    e
}

/// The Encounter after the event, from its stored version (None: not seen before).
pub fn apply(existing: Option<&Value>, adt: &Adt, patient_ref: &str) -> Option<Value> {
    let id = adt.encounter_id.as_ref()?;
    let mut e = existing.cloned().unwrap_or_else(|| {
        json!({"resourceType": "Encounter", "id": id, "status": "in-progress",
            "class": {"system": "http://terminology.hl7.org/CodeSystem/v3-ActCode", "code": "IMP"}})
    });
    if let Some(o) = e.as_object_mut() {
        o.remove("meta");
    }
    e["meta"] = json!({"source": adt.source});
    e["subject"] = json!({"reference": patient_ref});
    if let Some(v) = &adt.visit_number {
        e["identifier"] = json!([v]);
    }
    if let Some(c) = adt.class {
        e["class"] =
            json!({"system": "http://terminology.hl7.org/CodeSystem/v3-ActCode", "code": c});
    }
    if let Some(a) = &adt.attending {
        e["participant"] = json!([a]);
    }
    let start = adt.admitted.clone().or_else(|| adt.at.clone());
    if e["period"]["start"].is_null() {
        if let Some(s) = &start {
            e["period"]["start"] = json!(s);
        }
    }
    let at = adt.at.clone();
    // Location history: the new place becomes active, the others completed.
    if let Some(place) = &adt.place {
        let mut history: Vec<Value> = e["location"].as_array().cloned().unwrap_or_default();
        let mut wanted = vec![&place.ward];
        if let Some(b) = &place.bed {
            wanted.push(b);
        }
        let refs: Vec<String> = wanted
            .iter()
            .map(|l| format!("Location/{}", l["id"].as_str().unwrap_or_default()))
            .collect();
        let already = refs.iter().all(|r| {
            history
                .iter()
                .any(|h| h["location"]["reference"] == r.as_str() && h["status"] == "active")
        });
        if !already {
            for h in history.iter_mut() {
                if h["status"] == "active" {
                    h["status"] = json!("completed");
                    if let Some(t) = &at {
                        h["period"]["end"] = json!(t);
                    }
                }
            }
            let begin = if adt.event == Event::Transfer {
                at.as_deref()
            } else {
                start.as_deref()
            };
            for l in wanted {
                history.push(location_entry(l, "active", begin));
            }
        }
        e["location"] = json!(history);
    }
    match adt.event {
        Event::Admit | Event::Register | Event::Transfer => e["status"] = json!("in-progress"),
        Event::PreAdmit => {
            if existing.is_none() || e["status"] == "planned" {
                e["status"] = json!("planned");
            }
        }
        Event::Update => {}
        Event::Discharge => {
            e["status"] = json!("finished");
            if let Some(t) = adt.discharged.clone().or(at) {
                e["period"]["end"] = json!(t);
            }
            if let Some(h) = e["location"].as_array_mut() {
                for l in h.iter_mut().filter(|l| l["status"] == "active") {
                    l["status"] = json!("completed");
                }
            }
        }
        Event::CancelAdmit => e["status"] = json!("cancelled"),
        Event::CancelDischarge => {
            e["status"] = json!("in-progress");
            if let Some(p) = e["period"].as_object_mut() {
                p.remove("end");
            }
            // The locations of the latest stay are active again.
            if let Some(h) = e["location"].as_array_mut() {
                let latest_start = h
                    .iter()
                    .filter_map(|l| l["period"]["start"].as_str().map(str::to_string))
                    .max();
                for l in h.iter_mut() {
                    if l["period"]["start"].as_str().map(str::to_string) == latest_start {
                        l["status"] = json!("active");
                    }
                }
            }
        }
        Event::Merge => {}
    }
    Some(e)
}
