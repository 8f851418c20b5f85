//! The FHIR shape of tumour boards, read and written. Pure.
//!
//! | What | Resource |
//! |---|---|
//! | A board (e.g. the upper GI MDT) and its standing members | `CareTeam`, category `board`, no subject; `participant.member` the members (Practitioner), `participant.role` their part |
//! | A meeting | `Appointment`, serviceType `meeting`; `start`, `end`, `description` (where), `supportingInformation` the board, `participant` who arranged it |
//! | A patient to discuss | `Task`, code `case`; `for` the patient, `owner` the board, `requester` who referred, `description` the question, `basedOn` the meeting once scheduled, `businessStatus` referred → scheduled → recommended → communicated, `output` the recommendation |
//! | The board's relationship to a patient it discusses | `CareTeam/board-case-{board}-{patient}`, category `board-case-team`, subject the patient, the board's members; active while a case is open (written by the service from the record) |
//! | The recommendation | `CarePlan` and `ServiceRequest`s (`recommendation.rs`) |
//! | The outcome told to the patient | `Communication` tagged `treatment-plan-communicated`, `about` the recommendation |

use serde_json::{json, Value};

use crate::codes;
use crate::summary::words;

/// A board.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Board {
    pub id: String,
    pub name: String,
    /// (`Practitioner/ID`, part) of each member.
    pub members: Vec<(String, String)>,
}

/// A meeting.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Meeting {
    pub id: String,
    /// `CareTeam/ID` of the board.
    pub board: String,
    pub start: String,
    pub end: String,
    pub place: String,
    /// booked, fulfilled, cancelled.
    pub status: String,
}

/// A patient to discuss.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Case {
    pub id: String,
    pub version: i64,
    pub patient: String,
    /// `CareTeam/ID` of the board.
    pub board: String,
    /// `Appointment/ID` once scheduled.
    pub meeting: Option<String>,
    pub question: String,
    /// `Practitioner/ID` of who referred.
    pub requester: String,
    pub referred: String,
    /// referred, scheduled, recommended, communicated, withdrawn.
    pub stage: String,
    /// `CarePlan/ID` of the recommendation.
    pub recommendation: Option<String>,
}

impl Case {
    /// Whether the board still has something to do for the patient (its relationship holds).
    pub fn open(&self) -> bool {
        matches!(
            self.stage.as_str(),
            codes::REFERRED | codes::SCHEDULED | codes::RECOMMENDED
        )
    }
}

fn has_code(v: &Value, system: &str, code: &str) -> bool {
    let list: Vec<&Value> = match v {
        Value::Array(a) => a.iter().collect(),
        other => vec![other],
    };
    list.into_iter().any(|cc| {
        cc["coding"]
            .as_array()
            .into_iter()
            .flatten()
            .any(|c| c["system"] == system && c["code"] == code)
    })
}

fn reference(v: &Value) -> Option<String> {
    v["reference"].as_str().map(String::from)
}

/// A board, from its CareTeam.
pub fn board(team: &Value) -> Option<Board> {
    if !has_code(&team["category"], codes::SYSTEM, codes::BOARD) || team.get("subject").is_some() {
        return None;
    }
    Some(Board {
        id: team["id"].as_str()?.to_string(),
        name: team["name"].as_str().unwrap_or("Tumour board").to_string(),
        members: team["participant"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|p| {
                let who = reference(&p["member"]).filter(|r| r.starts_with("Practitioner/"))?;
                let part = p["role"]
                    .as_array()
                    .and_then(|r| r.first())
                    .map(words)
                    .unwrap_or_default();
                Some((who, part))
            })
            .collect(),
    })
}

/// A meeting, from its Appointment.
pub fn meeting(a: &Value) -> Option<Meeting> {
    if !has_code(&a["serviceType"], codes::SYSTEM, codes::MEETING) {
        return None;
    }
    Some(Meeting {
        id: a["id"].as_str()?.to_string(),
        board: a["supportingInformation"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(reference)
            .find(|r| r.starts_with("CareTeam/"))?,
        start: a["start"].as_str().unwrap_or_default().to_string(),
        end: a["end"].as_str().unwrap_or_default().to_string(),
        place: a["description"].as_str().unwrap_or_default().to_string(),
        status: a["status"].as_str().unwrap_or_default().to_string(),
    })
}

/// A case, from its Task (with the stored version).
pub fn case(t: &Value, version: i64) -> Option<Case> {
    if !has_code(&t["code"], codes::SYSTEM, codes::CASE) {
        return None;
    }
    let stage = if matches!(
        t["status"].as_str(),
        Some("cancelled" | "rejected" | "entered-in-error")
    ) {
        "withdrawn".to_string()
    } else {
        t["businessStatus"]["coding"]
            .as_array()
            .into_iter()
            .flatten()
            .find(|c| c["system"] == codes::SYSTEM)
            .and_then(|c| c["code"].as_str())
            .unwrap_or(codes::REFERRED)
            .to_string()
    };
    Some(Case {
        id: t["id"].as_str()?.to_string(),
        version,
        patient: reference(&t["for"])?
            .trim_start_matches("Patient/")
            .to_string(),
        board: reference(&t["owner"]).filter(|r| r.starts_with("CareTeam/"))?,
        meeting: t["basedOn"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(reference)
            .find(|r| r.starts_with("Appointment/")),
        question: t["description"].as_str().unwrap_or_default().to_string(),
        requester: reference(&t["requester"]).unwrap_or_default(),
        referred: t["authoredOn"].as_str().unwrap_or_default().to_string(),
        stage,
        recommendation: t["output"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|o| reference(&o["valueReference"]))
            .find(|r| r.starts_with("CarePlan/")),
    })
}

fn business(code: &str) -> Value {
    json!({"coding": [{"system": codes::SYSTEM, "code": code, "display": codes::status_words(code)}],
        "text": codes::status_words(code)})
}

/// A new meeting of `board` (`CareTeam/ID`), arranged by `by`.
pub fn new_meeting(
    id: &str,
    board: &Board,
    start: &str,
    end: &str,
    place: &str,
    by: &str,
) -> Value {
    json!({
        "resourceType": "Appointment",
        "id": id,
        "status": "booked",
        "serviceType": [{"coding": [{"system": codes::SYSTEM, "code": codes::MEETING, "display": "Tumour board meeting"}], "text": board.name}],
        "description": place,
        "start": start,
        "end": end,
        "supportingInformation": [{"reference": format!("CareTeam/{}", board.id), "display": board.name}],
        "participant": [{"actor": {"reference": by}, "required": "required", "status": "accepted"}],
    })
}

/// A new case: `patient` referred to `board` by `by` with `question`, at `now`.
pub fn new_case(
    id: &str,
    patient: &str,
    board: &Board,
    by: &str,
    question: &str,
    now: &str,
) -> Value {
    json!({
        "resourceType": "Task",
        "id": id,
        "status": "requested",
        "businessStatus": business(codes::REFERRED),
        "intent": "order",
        "code": {"coding": [{"system": codes::SYSTEM, "code": codes::CASE, "display": "Discussion at a tumour board"}], "text": "Discussion at a tumour board"},
        "description": question,
        "for": {"reference": format!("Patient/{patient}")},
        "authoredOn": now,
        "lastModified": now,
        "requester": {"reference": by},
        "owner": {"reference": format!("CareTeam/{}", board.id), "display": board.name},
    })
}

/// `task` (a case) scheduled for `meeting` (`Appointment/ID`).
pub fn scheduled(mut task: Value, meeting: &str, now: &str) -> Value {
    task["basedOn"] = json!([{"reference": meeting}]);
    task["status"] = json!("accepted");
    task["businessStatus"] = business(codes::SCHEDULED);
    task["lastModified"] = json!(now);
    task
}

/// `task` (a case) with its recommendation recorded.
pub fn recommended(mut task: Value, plan: &str, now: &str) -> Value {
    task["status"] = json!("in-progress");
    task["businessStatus"] = business(codes::RECOMMENDED);
    task["output"] =
        json!([{"type": {"text": "Recommendation"}, "valueReference": {"reference": plan}}]);
    task["lastModified"] = json!(now);
    task
}

/// `task` (a case) closed: the outcome was told to the patient.
pub fn communicated(mut task: Value, now: &str) -> Value {
    task["status"] = json!("completed");
    task["businessStatus"] = business(codes::COMMUNICATED);
    task["lastModified"] = json!(now);
    task
}

/// `task` (a case) withdrawn.
pub fn withdrawn(mut task: Value, now: &str) -> Value {
    task["status"] = json!("cancelled");
    task["lastModified"] = json!(now);
    task
}

/// The outcome told to the patient: a Communication the pathways read as
/// `treatment-plan-communicated`.
pub fn told(id: &str, case: &Case, plan: &str, by: &str, note: &str, now: &str) -> Value {
    let mut c = json!({
        "resourceType": "Communication",
        "id": id,
        "meta": {"tag": [{"system": codes::PATHWAY_EVENT, "code": "treatment-plan-communicated"}]},
        "status": "completed",
        "category": [{"text": "Tumour board recommendation told to the patient"}],
        "subject": {"reference": format!("Patient/{}", case.patient)},
        "about": [{"reference": plan}],
        "sent": now,
        "recipient": [{"reference": format!("Patient/{}", case.patient)}],
        "sender": {"reference": by},
    });
    if !note.trim().is_empty() {
        c["payload"] = json!([{"contentString": note.trim()}]);
    }
    c
}

/// The id of the board's care team for one patient.
pub fn case_team_id(board: &str, patient: &str) -> String {
    format!(
        "board-case-{}-{patient}",
        board.trim_start_matches("CareTeam/")
    )
}

/// The board's care relationship to `patient`: its members, active while `open`.
pub fn case_team(board: &Board, patient: &str, open: bool) -> Value {
    json!({
        "resourceType": "CareTeam",
        "id": case_team_id(&board.id, patient),
        "meta": {"tag": [{"system": codes::TAGS, "code": "tumour-board"}]},
        "status": if open { "active" } else { "inactive" },
        "category": [{"coding": [{"system": codes::SYSTEM, "code": codes::BOARD_CASE_TEAM, "display": "Tumour board discussing the patient"}]}],
        "name": board.name,
        "subject": {"reference": format!("Patient/{patient}")},
        "participant": board.members.iter().map(|(who, part)| {
            let mut p = json!({"member": {"reference": who}});
            if !part.is_empty() {
                p["role"] = json!([{"text": part}]);
            }
            p
        }).collect::<Vec<_>>(),
    })
}
