//! The recommendation a tumour board records, structured (intent, next steps, reasons) and
//! turned into what the pathways track: a CarePlan (category `recommendation`, tagged for the
//! pathway milestones that read a plan) with one ServiceRequest per step (tagged for the
//! milestones that read a request). Pure: the options are the data file
//! `data/recommendations.json`, ids come from the case, times from the caller.

use serde::Deserialize;
use serde_json::{json, Value};

use crate::codes;
use crate::Error;

/// An intent of treatment.
#[derive(Debug, Clone, Deserialize)]
pub struct Intent {
    pub code: String,
    pub words: String,
}

/// A step a board may recommend.
#[derive(Debug, Clone, Deserialize)]
pub struct Step {
    pub code: String,
    pub words: String,
    /// Investigations, Treatment or Support: how the form groups them.
    pub group: String,
    /// Pathway events its ServiceRequest carries.
    #[serde(default)]
    pub events: Vec<String>,
    /// Pathway events the recommendation's CarePlan carries when this step is in it.
    #[serde(default)]
    pub plan_events: Vec<String>,
}

/// What a board may recommend.
#[derive(Debug, Clone, Deserialize)]
pub struct Options {
    pub intents: Vec<Intent>,
    pub steps: Vec<Step>,
}

impl Options {
    /// The options Tend ships.
    pub fn shipped() -> &'static Options {
        static O: std::sync::OnceLock<Options> = std::sync::OnceLock::new();
        O.get_or_init(|| {
            serde_json::from_str(include_str!("../data/recommendations.json"))
                .expect("data/recommendations.json holds the recommendation options")
        })
    }

    pub fn step(&self, code: &str) -> Option<&Step> {
        self.steps.iter().find(|s| s.code == code)
    }

    pub fn intent(&self, code: &str) -> Option<&Intent> {
        self.intents.iter().find(|s| s.code == code)
    }
}

/// A recommendation as recorded.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Recommendation {
    pub intent: String,
    pub steps: Vec<String>,
    /// The board's reasons, in its words.
    pub rationale: String,
}

/// The longest rationale kept.
pub const MAX_RATIONALE: usize = 4000;

/// Where a recommendation is recorded.
#[derive(Debug, Clone)]
pub struct Context<'a> {
    /// The case Task's id (the resources' ids derive from it).
    pub case: &'a str,
    pub patient: &'a str,
    /// `Practitioner/ID` of the physician recording it.
    pub author: &'a str,
    pub board_name: &'a str,
    /// `Appointment/ID` of the meeting, when the case was discussed at one.
    pub meeting: Option<&'a str>,
    /// `Condition/ID`s of the cancers it addresses.
    pub conditions: &'a [String],
    /// The time it is recorded (FHIR instant).
    pub now: &'a str,
}

/// The id of the recommendation's CarePlan for a case.
pub fn plan_id(case: &str) -> String {
    format!("{case}-plan")
}

/// The id of a step's ServiceRequest.
pub fn step_id(case: &str, step: &str) -> String {
    format!("{case}-{step}")
}

fn tags(events: &[&String]) -> Value {
    let mut seen = std::collections::BTreeSet::new();
    let tags: Vec<Value> = events
        .iter()
        .filter(|e| seen.insert(e.as_str()))
        .map(|e| json!({"system": codes::PATHWAY_EVENT, "code": e}))
        .collect();
    json!({ "tag": tags })
}

/// Check a recommendation against the options: a known intent, at least one known step (no
/// repeats), reasons within [`MAX_RATIONALE`].
pub fn check(options: &Options, r: &Recommendation) -> Result<(), Error> {
    if options.intent(&r.intent).is_none() {
        return Err(Error::Invalid("Choose the intent of treatment.".into()));
    }
    if r.steps.is_empty() {
        return Err(Error::Invalid("Choose at least one next step.".into()));
    }
    let mut seen = std::collections::BTreeSet::new();
    for s in &r.steps {
        if options.step(s).is_none() {
            return Err(Error::Invalid(format!("'{s}' is not a step Tend knows.")));
        }
        if !seen.insert(s) {
            return Err(Error::Invalid("A step is chosen twice.".into()));
        }
    }
    if r.rationale.chars().count() > MAX_RATIONALE {
        return Err(Error::Invalid(format!(
            "The reasons are longer than {MAX_RATIONALE} characters."
        )));
    }
    Ok(())
}

/// The resources a recommendation becomes: its CarePlan first, then a ServiceRequest per
/// step, in the order the steps were chosen.
pub fn resources(
    options: &Options,
    r: &Recommendation,
    ctx: &Context<'_>,
) -> Result<Vec<Value>, Error> {
    check(options, r)?;
    let intent = options.intent(&r.intent).expect("checked");
    let steps: Vec<&Step> = r
        .steps
        .iter()
        .map(|s| options.step(s).expect("checked"))
        .collect();
    let subject = json!({"reference": format!("Patient/{}", ctx.patient)});
    let author = json!({"reference": ctx.author});
    let plan = plan_id(ctx.case);
    let plan_events: Vec<&String> = steps.iter().flat_map(|s| &s.plan_events).collect();
    let mut care_plan = json!({
        "resourceType": "CarePlan",
        "id": plan,
        "meta": tags(&plan_events),
        "status": "active",
        "intent": "plan",
        "category": [{"coding": [
            {"system": codes::SYSTEM, "code": codes::RECOMMENDATION, "display": "Tumour board recommendation"},
            {"system": codes::SYSTEM, "code": intent.code, "display": intent.words},
        ], "text": "Tumour board recommendation"}],
        "title": format!("{}: {}", ctx.board_name, steps.iter().map(|s| s.words.as_str()).collect::<Vec<_>>().join("; ")),
        "subject": subject,
        "created": ctx.now,
        "author": author,
        // Each step in the plan; the tracked ServiceRequests are based on the plan (one
        // direction only, so a record can be loaded in order).
        "activity": steps.iter().map(|s| json!({"detail": {
            "kind": "ServiceRequest",
            "code": {"coding": [{"system": codes::STEP, "code": s.code, "display": s.words}], "text": s.words},
            "status": "not-started",
        }})).collect::<Vec<_>>(),
    });
    if plan_events.is_empty() {
        if let Some(m) = care_plan.as_object_mut() {
            m.remove("meta");
        }
    }
    let rationale = r.rationale.trim();
    if !rationale.is_empty() {
        care_plan["description"] = json!(rationale);
    }
    if !ctx.conditions.is_empty() {
        care_plan["addresses"] = json!(ctx
            .conditions
            .iter()
            .map(|c| json!({"reference": c}))
            .collect::<Vec<_>>());
    }
    // The case Task points at the plan (its output); the plan points at the meeting.
    if let Some(m) = ctx.meeting {
        care_plan["supportingInfo"] = json!([{"reference": m}]);
    }
    let mut out = vec![care_plan];
    for s in steps {
        let events: Vec<&String> = s.events.iter().collect();
        let mut sr = json!({
            "resourceType": "ServiceRequest",
            "id": step_id(ctx.case, &s.code),
            "meta": tags(&events),
            "basedOn": [{"reference": format!("CarePlan/{plan}")}],
            "status": "active",
            "intent": "plan",
            "category": [{"coding": [{"system": codes::SYSTEM, "code": codes::RECOMMENDATION, "display": "Tumour board recommendation"}]}],
            "code": {"coding": [{"system": codes::STEP, "code": s.code, "display": s.words}], "text": s.words},
            "subject": subject,
            "authoredOn": ctx.now,
            "requester": author,
        });
        if events.is_empty() {
            if let Some(m) = sr.as_object_mut() {
                m.remove("meta");
            }
        }
        out.push(sr);
    }
    Ok(out)
}
