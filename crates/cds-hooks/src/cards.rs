//! Cards (<https://cds-hooks.org/specification/current/#card-attributes>): one per open care
//! gap, and for inpatients one for the latest NEWS2 score and one per open alert.

use care_gaps::GapView;
use early_warning::news2_summary;
use serde_json::{json, Value};

use crate::data::Record;
use crate::{Cds, CdsError};

const SOURCE: &str = "Tend";

/// Cards read best under 140 characters (the specification's limit for `summary`).
fn summary(s: String) -> String {
    if s.chars().count() <= 140 {
        return s;
    }
    let mut t: String = s.chars().take(139).collect();
    t.push('…');
    t
}

fn gap_card(g: &GapView, chart: Option<&str>) -> Value {
    let mut detail = String::new();
    match g.since {
        Some(d) => detail.push_str(&format!("**Due since {d}.**")),
        None => detail.push_str("**Due.**"),
    }
    if let Some(e) = &g.evidence {
        let when = e.date.map(|d| format!(" on {d}")).unwrap_or_default();
        let reported = if e.patient_reported {
            " (patient-reported)"
        } else {
            ""
        };
        detail.push_str(&format!(" Last: {}{when}{reported}, now expired.", e.name));
    } else {
        detail.push_str(" No qualifying screening on record.");
    }
    detail.push_str(&format!(
        "\n\n{}\n\n*{}*: {} ({})",
        g.action, g.statement, g.summary, g.source
    ));
    let mut links = vec![
        json!({"label": format!("USPSTF: {}", g.statement), "url": g.url, "type": "absolute"}),
    ];
    if let Some(c) = chart {
        links.insert(0, json!({"label": "Open care gaps in Tend", "url": format!("{c}#care-gaps"), "type": "absolute"}));
    }
    json!({
        "uuid": uuid::Uuid::new_v4().to_string(),
        "summary": summary(format!("{} due", g.title)),
        "indicator": "info",
        "detail": detail,
        "source": {
            "label": format!("{SOURCE} care gaps ({})", g.source),
            "url": g.url,
            "topic": {"system": care_gaps::GAP_SYSTEM, "code": g.rule, "display": g.title},
        },
        "links": links,
    })
}

/// An in-progress inpatient Encounter (class IMP).
fn inpatient(encounters: &[Value]) -> Option<&Value> {
    encounters
        .iter()
        .find(|e| e["status"] == "in-progress" && e["class"]["code"] == "IMP")
}

pub(crate) fn cards(
    cds: &Cds,
    patient_id: &str,
    rec: &Record,
    base: Option<&str>,
) -> Result<Vec<Value>, CdsError> {
    let Some(patient) = &rec.patient else {
        return Ok(Vec::new());
    };
    let chart = base.map(|b| format!("{b}/patients/{patient_id}"));
    let mut cards = Vec::new();
    if inpatient(&rec.encounters).is_some() {
        let latest = rec
            .resources
            .iter()
            .filter_map(|o| news2_summary(o).map(|s| (s.effective.clone(), s)))
            .max_by(|a, b| a.0.cmp(&b.0))
            .map(|(_, s)| s);
        if let Some(s) = latest {
            let indicator = match s.band.as_str() {
                "high" => "critical",
                "medium" | "low-medium" => "warning",
                _ => "info",
            };
            let total = s.total.map_or_else(
                || format!("{} (incomplete set)", s.partial_total),
                |t| t.to_string(),
            );
            let mut detail = format!(
                "NEWS2 **{total}**, {} band, scale {}, recorded {}.",
                s.band, s.scale, s.effective
            );
            if let Some(r) = &s.response {
                detail.push_str(&format!("\n\nRequired response: {r}."));
            }
            if let Some(n) = &s.next_due {
                detail.push_str(&format!(" Next observations due {n}."));
            }
            if s.rising {
                detail.push_str("\n\nThe score is rising.");
            }
            let mut card = json!({
                "uuid": uuid::Uuid::new_v4().to_string(),
                "summary": summary(format!("NEWS2 {total}: {} risk{}", s.band.replace('-', " "), if s.rising { ", rising" } else { "" })),
                "indicator": indicator,
                "detail": detail,
                "source": {"label": format!("{SOURCE} early warning (NEWS2, Royal College of Physicians 2017)"), "url": "https://www.rcp.ac.uk/improving-care/resources/national-early-warning-score-news-2/"},
            });
            if let Some(c) = &chart {
                card["links"] = json!([{"label": "Open the NEWS2 chart in Tend", "url": c, "type": "absolute"}]);
            }
            cards.push(card);
        }
        for f in rec.alerts.iter().filter(|f| {
            f["status"] == "active"
                && f["code"]["coding"]
                    .as_array()
                    .is_some_and(|c| c.iter().any(|c| c["system"] == early_warning::codes::EW))
        }) {
            let text = f["code"]["text"].as_str().unwrap_or("Early-warning alert");
            let since = f["period"]["start"].as_str().unwrap_or_default();
            let mut card = json!({
                "uuid": uuid::Uuid::new_v4().to_string(),
                "summary": summary(format!("Open alert: {text}")),
                "indicator": if text.contains("high") { "critical" } else { "warning" },
                "detail": format!("Raised {since} and not yet resolved. See who has acknowledged and responded in Tend."),
                "source": {"label": format!("{SOURCE} early warning")},
            });
            if let Some(b) = base {
                card["links"] = json!([{"label": "Open the alert inbox in Tend", "url": format!("{b}/alerts"), "type": "absolute"}]);
            }
            cards.push(card);
        }
    }
    let gaps = cds
        .gaps
        .evaluate_resources(patient, &rec.resources)
        .map_err(|e| CdsError::Data(e.to_string()))?;
    cards.extend(gaps.due().map(|g| gap_card(g, chart.as_deref())));
    Ok(cards)
}
