//! Stratified measures from MeasureReports, one page per family: pathway standards
//! (`/navigation/reports`, written by the navigation service: compliance with each standard
//! per month against the standard's expectation) and social needs (`/social/reports`,
//! written by the referrals service: screening, positive, connection, loop-closure and
//! need-resolution rates). Each month shows its share as a bar and in words, the median time
//! where there is one, and a month by group (race, ethnicity, language, sex, age band, and
//! the family's own: tumour site or need). Counts from 1 to 10 are never shown (the reports
//! do not hold them). Read through the store with the signed-in person's access: navigators,
//! social workers and quality officers.

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

/// A family of measures and how its page speaks of them.
pub(crate) struct Kind {
    /// The MeasureReports' tag code.
    tag: &'static str,
    path: &'static str,
    pub(crate) title: &'static str,
    pub(crate) sub: &'static str,
    nav: &'static str,
    /// The worklist to go back to: (path, words).
    pub(crate) back: (&'static str, &'static str),
    /// What the numerator counts, after "x% of n".
    met: &'static str,
    pub(crate) empty: &'static str,
}

const PATHWAYS: Kind = Kind {
    tag: "navigation",
    path: "/navigation/reports",
    title: "Pathway standards",
    sub: "Clocks counted in the month they stopped; counts under 11 are not shown",
    nav: "navigation",
    back: ("/navigation", "Pathways"),
    met: " within target",
    empty: "No clock has stopped yet, so there is nothing to report.",
};

const SOCIAL: Kind = Kind {
    tag: "social-needs",
    path: "/social/reports",
    title: "Social needs: screening, referrals and needs met",
    sub: "Referrals counted in the month they were sent; counts under 11 are not shown",
    nav: "social",
    back: ("/social", "Social needs"),
    met: "",
    empty: "Nothing has been screened or referred yet, so there is nothing to report.",
};

#[derive(Template)]
#[template(path = "measure_reports.html")]
struct ReportsPage {
    nav: Nav,
    kind: &'static Kind,
    /// Whether the user has the worklist to go back to.
    worklist: bool,
    standards: Vec<Standard>,
    /// The month shown by group.
    detail: Option<Detail>,
    /// Pathway standards: the breaches and where their time went.
    breaches: Option<Breaches>,
}

/// One breached clock as the reports list it (navigators, the patients they reach).
pub(crate) struct BreachLine {
    patient: String,
    name: String,
    mrn: String,
    standard: String,
    days: String,
    stopped: String,
    why: String,
}

/// The breaches of the month chosen (or the last three months and those still open): how
/// many each step explains, and the list for those who may see patients.
pub(crate) struct Breaches {
    scope: String,
    /// (step, count in words), most first.
    summary: Vec<(String, String)>,
    lines: Vec<BreachLine>,
    /// Whether the viewer sees the patients (navigators); otherwise counts only.
    listed: bool,
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

fn cell_words(v: &Value, met: &str) -> (Option<f64>, String) {
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
    (Some(p), format!("{p:.0}% of {d}{met}"))
}

/// Whether a report's period is a calendar year.
fn is_year(r: &Value) -> bool {
    r["period"]["start"]
        .as_str()
        .is_some_and(|s| s.ends_with("-01-01"))
        && r["period"]["end"]
            .as_str()
            .is_some_and(|s| s.ends_with("-12-31"))
}

fn month_label(month: &str) -> String {
    if month.len() == 4 {
        let now = chrono::Utc::now().format("%Y").to_string();
        return if now == month {
            format!("{month} so far")
        } else {
            month.to_string()
        };
    }
    chrono::NaiveDate::parse_from_str(&format!("{month}-01"), "%Y-%m-%d")
        .map(|d| d.format("%B %Y").to_string())
        .unwrap_or_else(|_| month.to_string())
}

fn reports_page(
    web: &Web,
    user: &crate::User,
    f: &Filters,
    kind: &'static Kind,
) -> Result<ReportsPage, PageError> {
    let access = web.access(user)?;
    let reports = view::search(
        &*web.app.store,
        &access,
        "MeasureReport",
        &[
            (
                "_tag",
                format!(
                    "https://tend.example.org/fhir/CodeSystem/tend-tags|{}",
                    kind.tag
                ),
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
        a["measure"]
            .as_str()
            .cmp(&b["measure"].as_str())
            .then(is_year(b).cmp(&is_year(a)))
            .then(
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
            .get(..if is_year(r) { 4 } else { 7 })
            .unwrap_or_default()
            .to_string();
        let (percent, mut words) = cell_words(group, kind.met);
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
            link: view::filtered_url(kind.path, &[("standard", &key), ("month", &month)], 0),
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
                            let (percent, words) = cell_words(st, kind.met);
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
    // Social measures: outcomes first, as the service orders them.
    if kind.tag == SOCIAL.tag {
        standards.sort_by_key(|s| social_order(&s.key));
    }
    let breaches = match (&web.config.navigation, kind.tag == PATHWAYS.tag) {
        (Some(nav), true) => Some(breaches(web, user, nav, f)?),
        _ => None,
    };
    Ok(ReportsPage {
        breaches,
        worklist: user.outreach(),
        kind,
        nav: Nav::new(user, kind.nav, web.config.zone),
        standards,
        detail,
    })
}

/// The breaches section: the month and standard chosen, or the last three months and those
/// still open; names only for those who reach the patients (navigators), counts from 1 to 10
/// not shown to the others.
fn breaches(
    web: &Web,
    user: &crate::User,
    nav: &navigation::Navigation,
    f: &Filters,
) -> Result<Breaches, PageError> {
    let listed = user.outreach();
    let reach = if listed {
        crate::navigator::reach_of(web, user)?
    } else {
        None
    };
    let zone = web.config.zone;
    let now = nav.now();
    let now_ms = now.timestamp_millis();
    let chosen = !f.month.is_empty() && f.month.len() == 7;
    let since = now - chrono::Duration::days(92);
    let all = nav.breaches(reach.as_deref());
    let shown: Vec<&navigation::Breach> = all
        .iter()
        .filter(|b| {
            if chosen {
                format!("pathway-{}-{}", b.pathway, b.clock) == f.standard
                    && b.stop
                        .is_some_and(|s| s.format("%Y-%m").to_string() == f.month)
            } else {
                b.stop.is_none_or(|s| s >= since)
            }
        })
        .collect();
    let mut counts: Vec<(String, usize)> = Vec::new();
    for b in &shown {
        let step = b
            .delay
            .as_ref()
            .map_or("no step recorded".to_string(), |d| d.words.clone());
        match counts.iter_mut().find(|(s, _)| *s == step) {
            Some((_, n)) => *n += 1,
            None => counts.push((step, 1)),
        }
    }
    counts.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(&b.0)));
    let summary = counts
        .into_iter()
        .map(|(step, n)| {
            let words = match n {
                1..=10 if !listed => "fewer than 11".to_string(),
                1 => "1 breach".to_string(),
                n => format!("{n} breaches"),
            };
            (step, words)
        })
        .collect();
    let lines = if listed {
        shown
            .iter()
            .map(|b| BreachLine {
                patient: b.patient.clone(),
                name: b.name.clone(),
                mrn: b.mrn.clone().unwrap_or_default(),
                standard: b.clock_name.clone(),
                days: format!("{} days (standard {})", b.elapsed, b.target),
                stopped: b.stop.map_or("Still open".to_string(), |s| {
                    zone.date(&s.to_rfc3339(), now_ms)
                }),
                why: b.delay.as_ref().map_or(
                    "No step recorded between the start and the stop".into(),
                    |d| capitalise(&d.words()),
                ),
            })
            .collect()
    } else {
        Vec::new()
    };
    let scope = if chosen {
        format!(
            "{}, stopped in {}",
            shown
                .first()
                .map_or("This standard", |b| b.clock_name.as_str()),
            month_label(&f.month)
        )
    } else {
        "Stopped in the last three months, and those still open".to_string()
    };
    Ok(Breaches {
        scope,
        summary,
        lines,
        listed,
    })
}

fn capitalise(s: &str) -> String {
    let mut c = s.chars();
    c.next()
        .map(|f| f.to_uppercase().collect::<String>() + c.as_str())
        .unwrap_or_default()
}

fn social_order(key: &str) -> usize {
    [
        "social-needs-need-resolution",
        "social-needs-loop-closure",
        "social-needs-connection",
        "social-needs-screening-rate",
        "social-needs-positive-any",
    ]
    .iter()
    .position(|k| *k == key)
    .unwrap_or(5)
}

async fn serve(
    web: Web,
    auth: crate::session::AuthExt,
    f: Filters,
    kind: &'static Kind,
) -> Result<Response, PageError> {
    let user = crate::session::anyone(&auth)?;
    if !user.may(access::Permission::Outreach) && !user.may(access::Permission::Measures) {
        return Err(view::error_page(
            axum::http::StatusCode::FORBIDDEN,
            "These reports are for navigators, social workers and the quality office.",
        ));
    }
    let w = web.clone();
    let page = blocking(move || reports_page(&w, &user, &f, kind)).await?;
    let seen: Vec<String> = page
        .breaches
        .iter()
        .flat_map(|b| b.lines.iter().map(|l| format!("Patient/{}", l.patient)))
        .collect::<std::collections::BTreeSet<_>>()
        .into_iter()
        .collect();
    Ok(view::with_seen(view::render(&page), server::Seen(seen)))
}

/// `GET /navigation/reports`.
pub(crate) async fn page(
    State(web): State<Web>,
    auth: crate::session::AuthExt,
    Query(f): Query<Filters>,
) -> Result<Response, PageError> {
    serve(web, auth, f, &PATHWAYS).await
}

/// `GET /social/reports`.
pub(crate) async fn social(
    State(web): State<Web>,
    auth: crate::session::AuthExt,
    Query(f): Query<Filters>,
) -> Result<Response, PageError> {
    serve(web, auth, f, &SOCIAL).await
}
