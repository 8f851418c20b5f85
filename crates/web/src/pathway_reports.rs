//! Pathway standards (`/navigation/reports`): compliance with each standard per month from
//! the MeasureReports the navigation service writes, with the share met against the
//! standard's expectation as a bar and in words, the median time, and one month stratified by
//! tumour site, race, ethnicity, language, interpreter need, sex and age band. Counts from 1
//! to 10 are never shown (the reports do not hold them). Read through the store with the
//! signed-in person's access: navigators and quality officers.

use askama::Template;
use axum::extract::{Query, State};
use axum::response::Response;
use serde::Deserialize;
use serde_json::Value;

use crate::view::{self, Nav, PageError};
use crate::{blocking, Web};

const SUPPRESSED: &str = "https://tend.example.org/fhir/StructureDefinition/suppressed";
const MEDIAN: &str = "https://tend.example.org/fhir/StructureDefinition/median-elapsed";

#[derive(Debug, Default, Deserialize)]
pub(crate) struct Filters {
    #[serde(default)]
    standard: String,
    #[serde(default)]
    month: String,
}

/// One month of one standard.
pub(crate) struct Month {
    label: String,
    /// 0–100 for the bar; `None` when suppressed.
    percent: Option<f64>,
    words: String,
    below: bool,
    link: String,
}

pub(crate) struct Standard {
    key: String,
    name: String,
    expected: String,
    months: Vec<Month>,
}

pub(crate) struct Stratum {
    value: String,
    words: String,
    percent: Option<f64>,
}

#[derive(Template)]
#[template(path = "pathway_reports.html")]
struct ReportsPage {
    nav: Nav,
    /// Whether the user has the worklist to go back to.
    worklist: bool,
    standards: Vec<Standard>,
    /// The month shown by group.
    detail: Option<Detail>,
}

/// One standard's month by group: (standard name, month, [(stratifier, strata)]).
type Detail = (String, String, Vec<(String, Vec<Stratum>)>);

fn count(group: &Value, code: &str) -> Option<u64> {
    group["population"]
        .as_array()?
        .iter()
        .find(|p| p["code"]["coding"][0]["code"] == code)?["count"]
        .as_u64()
}

fn suppressed(v: &Value) -> bool {
    v["extension"]
        .as_array()
        .into_iter()
        .flatten()
        .any(|e| e["url"] == SUPPRESSED && e["valueBoolean"] == true)
}

fn cell_words(v: &Value) -> (Option<f64>, String) {
    if suppressed(v) {
        return (None, "fewer than 11 counted".into());
    }
    let (d, n) = (
        count(v, "denominator").unwrap_or(0),
        count(v, "numerator").unwrap_or(0),
    );
    if d == 0 {
        return (None, "none counted".into());
    }
    let p = 100.0 * n as f64 / d as f64;
    (Some(p), format!("{p:.0}% of {d} within target"))
}

fn month_label(month: &str) -> String {
    chrono::NaiveDate::parse_from_str(&format!("{month}-01"), "%Y-%m-%d")
        .map(|d| d.format("%B %Y").to_string())
        .unwrap_or_else(|_| month.to_string())
}

fn reports_page(web: &Web, user: &crate::User, f: &Filters) -> Result<ReportsPage, PageError> {
    let access = web.access(user)?;
    let reports = view::search(
        &*web.app.store,
        &access,
        "MeasureReport",
        &[
            (
                "_tag",
                "https://tend.example.org/fhir/CodeSystem/tend-tags|navigation".into(),
            ),
            ("_count", "1000".into()),
        ],
    )?;
    // The standard's expected share, from the pathway files in force.
    let builtin;
    let set = match &web.config.navigation {
        Some(n) => n.pathways(),
        None => {
            builtin = pathways::PathwaySet::builtin();
            &builtin
        }
    };
    let targets: std::collections::HashMap<String, f64> = set
        .pathways()
        .iter()
        .flat_map(|p| {
            p.clocks.iter().filter_map(move |c| {
                c.standard_percent
                    .map(|t| (format!("pathway-{}-{}", p.id, c.id), t))
            })
        })
        .collect();
    let expected = |key: &str| targets.get(key).copied();
    let mut standards: Vec<Standard> = Vec::new();
    let mut detail = None;
    let mut sorted = reports;
    sorted.sort_by(|a, b| {
        a["measure"].as_str().cmp(&b["measure"].as_str()).then(
            b["period"]["start"]
                .as_str()
                .cmp(&a["period"]["start"].as_str()),
        )
    });
    for r in &sorted {
        let key = r["measure"]
            .as_str()
            .unwrap_or_default()
            .rsplit('/')
            .next()
            .unwrap_or_default()
            .to_string();
        let group = &r["group"][0];
        let name = group["code"]["text"]
            .as_str()
            .unwrap_or("Standard")
            .to_string();
        let month = r["period"]["start"]
            .as_str()
            .unwrap_or_default()
            .get(..7)
            .unwrap_or_default()
            .to_string();
        let (percent, mut words) = cell_words(group);
        let target = expected(&key);
        if let Some(m) = group["extension"]
            .as_array()
            .into_iter()
            .flatten()
            .find(|e| e["url"] == MEDIAN)
        {
            words.push_str(&format!(
                "; median {} {}",
                m["valueQuantity"]["value"],
                m["valueQuantity"]["unit"].as_str().unwrap_or("days")
            ));
        }
        let line = Month {
            label: month_label(&month),
            link: view::filtered_url(
                "/navigation/reports",
                &[("standard", &key), ("month", &month)],
                0,
            ),
            below: matches!((percent, target), (Some(p), Some(t)) if p < t),
            percent,
            words,
        };
        if f.standard == key && f.month == month {
            let strata = group["stratifier"]
                .as_array()
                .into_iter()
                .flatten()
                .map(|s| {
                    let title = s["code"][0]["text"]
                        .as_str()
                        .unwrap_or_default()
                        .to_string();
                    let rows = s["stratum"]
                        .as_array()
                        .into_iter()
                        .flatten()
                        .map(|st| {
                            let (percent, words) = cell_words(st);
                            Stratum {
                                value: st["value"]["text"].as_str().unwrap_or_default().to_string(),
                                words,
                                percent,
                            }
                        })
                        .collect();
                    (title, rows)
                })
                .collect();
            detail = Some((name.clone(), line.label.clone(), strata));
        }
        match standards.iter_mut().find(|s| s.key == key) {
            Some(s) if s.months.len() < 12 => s.months.push(line),
            Some(_) => {}
            None => standards.push(Standard {
                expected: target
                    .map(|t| format!("The standard expects {t:.0}% within target."))
                    .unwrap_or_default(),
                key,
                name,
                months: vec![line],
            }),
        }
    }
    Ok(ReportsPage {
        worklist: user.outreach(),
        nav: Nav::new(user, "navigation", web.config.zone),
        standards,
        detail,
    })
}

pub(crate) async fn page(
    State(web): State<Web>,
    auth: crate::session::AuthExt,
    Query(f): Query<Filters>,
) -> Result<Response, PageError> {
    let user = crate::session::anyone(&auth)?;
    if !user.may(access::Permission::Outreach) && !user.may(access::Permission::Measures) {
        return Err(view::error_page(
            axum::http::StatusCode::FORBIDDEN,
            "Pathway reports are for navigators and the quality office.",
        ));
    }
    let w = web.clone();
    let page = blocking(move || reports_page(&w, &user, &f)).await?;
    Ok(view::render(&page))
}
