//! A safety-event report as the pages show it: plain words, hospital time, the riskiest
//! facts first.

use safety_events::{Details, Formats, SafetyEvent};

use crate::local::Zone;

/// One report, in words.
#[derive(Debug, Clone)]
pub(crate) struct EventRow {
    pub(crate) id: String,
    pub(crate) reference: String,
    pub(crate) kind: String,
    pub(crate) category: String,
    pub(crate) when: String,
    pub(crate) reported: String,
    pub(crate) ward: String,
    pub(crate) harm: String,
    /// `high`, `medium`, `low-medium`, `low`: the band colour of the harm.
    pub(crate) harm_class: &'static str,
    pub(crate) status: &'static str,
    pub(crate) status_code: &'static str,
    pub(crate) priority: String,
    pub(crate) reviewer: String,
    pub(crate) open_actions: usize,
    /// Actions past their due date and not done.
    pub(crate) overdue_actions: usize,
    pub(crate) description: String,
    pub(crate) learning: String,
    /// Event-specific facts ("Injury: Minor …").
    pub(crate) details: Vec<(String, String)>,
    pub(crate) factors: Vec<String>,
    /// Who reported it (the safety team only), or "Anonymous".
    pub(crate) reporter: String,
    pub(crate) patient: Option<String>,
}

fn harm_class(code: Option<&str>) -> &'static str {
    match code {
        Some("death") | Some("severe") => "high",
        Some("moderate") => "medium",
        Some("mild") => "low-medium",
        Some("none") => "low",
        _ => "zero",
    }
}

fn yes_no(v: Option<bool>) -> String {
    match v {
        Some(true) => "Yes".into(),
        Some(false) => "No".into(),
        None => "Not known".into(),
    }
}

pub(crate) fn row(
    e: &SafetyEvent,
    wards: &[(String, String)],
    zone: Zone,
    now_ms: i64,
) -> EventRow {
    let f = Formats::shipped();
    let today = chrono::DateTime::from_timestamp_millis(now_ms)
        .map(|t| t.date_naive())
        .unwrap_or_default();
    let at = |t: Option<chrono::DateTime<chrono::Utc>>| {
        t.map(|t| zone.clock_ms(t.timestamp_millis(), now_ms))
            .unwrap_or_default()
    };
    let code_words = |list: &[safety_events::Code], c: &str| Formats::words(list, c).to_string();
    let details = match &e.details {
        Details::Fall(x) => vec![
            ("Injury".into(), code_words(f.fall_injuries(), &x.injury)),
            ("Assisted".into(), yes_no(x.assisted)),
            ("Fall risk assessed before".into(), yes_no(x.risk_assessed)),
            (
                "Fell".into(),
                if x.off_unit {
                    "Off the ward".into()
                } else {
                    "On the ward".into()
                },
            ),
        ],
        Details::PressureInjury(x) => vec![
            ("Stage".into(), code_words(f.pressure_stages(), &x.stage)),
            (
                "Present on admission".into(),
                yes_no(x.present_on_admission),
            ),
            (
                "Device-related".into(),
                if x.device_related { "Yes" } else { "No" }.into(),
            ),
            ("Site".into(), x.site.clone()),
        ],
        Details::Medication(x) => vec![
            ("Stage".into(), code_words(f.medication_stages(), &x.stage)),
            (
                "What went wrong".into(),
                code_words(f.medication_errors(), &x.error),
            ),
            ("Medicine".into(), x.medicine.clone()),
            (
                "High-alert medicine".into(),
                if x.high_alert { "Yes" } else { "No" }.into(),
            ),
        ],
        Details::None => vec![],
    };
    EventRow {
        id: e.id.clone(),
        reference: e.reference.clone(),
        kind: f.kind(&e.kind).map_or(e.kind.clone(), |k| k.words.clone()),
        category: f
            .category(&e.category)
            .map_or(e.category.clone(), |c| c.words.clone()),
        when: at(e.occurred),
        reported: at(e.recorded),
        ward: e
            .location
            .as_ref()
            .and_then(|l| wards.iter().find(|(id, _)| id == l))
            .map_or_else(|| "Elsewhere".to_string(), |(_, n)| n.clone()),
        harm: match (&e.harm, e.kind.as_str()) {
            (Some(h), _) => f.harm(h).map_or(h.clone(), |x| x.words.clone()),
            (None, "incident") => "Not given".into(),
            (None, _) => "Did not reach a patient".into(),
        },
        harm_class: harm_class(e.harm.as_deref()),
        status: e.review.status.words(),
        status_code: e.review.status.code(),
        priority: e
            .review
            .priority
            .as_deref()
            .map(|p| Formats::words(f.priorities(), p).to_string())
            .unwrap_or_default(),
        reviewer: e
            .review
            .reviewer
            .as_ref()
            .map(|r| r.1.clone())
            .unwrap_or_default(),
        open_actions: e.review.open_actions(),
        overdue_actions: e
            .review
            .actions
            .iter()
            .filter(|a| a.done.is_none() && a.due.is_some_and(|d| d < today))
            .count(),
        description: e.description.clone(),
        learning: e.review.learning.clone().unwrap_or_default(),
        details,
        factors: e
            .factors
            .iter()
            .map(|x| Formats::words(f.factors(), x).to_string())
            .collect(),
        reporter: match (&e.reporter_name, &e.reporter_role) {
            (Some(n), Some(r)) => format!("{n} ({r})"),
            (Some(n), None) => n.clone(),
            _ if e.reporter.is_some() => "Named".into(),
            _ => "Anonymous".into(),
        },
        patient: e.patient.clone(),
    }
}
