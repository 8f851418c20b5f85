//! The privacy officer's page (`/privacy`): the audit trail searched by user, patient, date
//! and break-the-glass, newest first; break-the-glass accesses are listed by default.

use askama::Template;
use axum::extract::{Query, State};
use axum::response::Response;
use serde::Deserialize;
use serde_json::Value;

use crate::view::{self, Nav, PageError};
use crate::{blocking, Web};

/// Most events shown at once.
const LIMIT: usize = 200;

#[derive(Debug, Default, Deserialize)]
pub(crate) struct Filters {
    #[serde(default)]
    user: String,
    #[serde(default)]
    patient: String,
    #[serde(default)]
    from: String,
    #[serde(default)]
    to: String,
    /// `yes`: break-the-glass accesses only.
    #[serde(default)]
    glass: String,
    /// Page of results, newest first (0: the newest).
    #[serde(default)]
    page: usize,
}

pub(crate) struct Line {
    when: String,
    who: String,
    role: String,
    address: String,
    what: String,
    /// The patients shown (the one searched for first), and how many more the record names
    /// (a bulk export file names thousands).
    patients: Vec<String>,
    /// "1,006", or empty.
    more_patients: String,
    outcome: String,
    reason: String,
}

#[derive(Template)]
#[template(path = "privacy.html")]
struct PrivacyPage {
    nav: Nav,
    lines: Vec<Line>,
    user: String,
    patient: String,
    from: String,
    to: String,
    glass: bool,
    error: Option<String>,
    /// Links to the newer and older pages, with the same filters.
    newer: Option<String>,
    older: Option<String>,
}

const BTG: &str = "BTG";

/// The break-the-glass reason of an event, if it was one.
fn glass_reason(e: &Value) -> Option<String> {
    let of = |v: &Value| {
        v.as_array().into_iter().flatten().find_map(|c| {
            c["coding"]
                .as_array()
                .into_iter()
                .flatten()
                .any(|x| x["code"] == BTG)
                .then(|| c["text"].as_str().unwrap_or("(no reason)").to_string())
        })
    };
    of(&e["purposeOfEvent"]).or_else(|| {
        e["agent"]
            .as_array()
            .into_iter()
            .flatten()
            .find_map(|a| of(&a["purposeOfUse"]))
    })
}

/// Patients listed on one line before "and N more".
const PATIENTS_SHOWN: usize = 8;

/// What a request was, in words where Tend has them: a bulk export's file download says so.
fn what_of(description: &str) -> String {
    if let Some((_, rest)) = description.split_once("/$export-file/") {
        let file = rest.rsplit('/').next().unwrap_or(rest);
        return format!("Downloaded a bulk export file ({file})");
    }
    if description.contains("/$export") && !description.contains("/$export-status/") {
        return format!("Started a bulk export ({description})");
    }
    description.to_string()
}

fn line(e: &Value, zone: crate::Zone, searched: &str) -> Line {
    let agent = &e["agent"][0];
    let who = agent["who"]["display"]
        .as_str()
        .or_else(|| agent["who"]["identifier"]["value"].as_str())
        .unwrap_or("unknown")
        .to_string();
    let user = agent["who"]["identifier"]["value"].as_str().unwrap_or("");
    let entities = e["entity"].as_array().cloned().unwrap_or_default();
    let mut patients: Vec<String> = entities
        .iter()
        .filter_map(|x| x["what"]["reference"].as_str())
        .filter(|r| r.starts_with("Patient/"))
        .map(|r| r.trim_start_matches("Patient/").to_string())
        .collect();
    if let Some(i) = patients.iter().position(|p| p == searched) {
        let p = patients.remove(i);
        patients.insert(0, p);
    }
    let more_patients = match patients.len().saturating_sub(PATIENTS_SHOWN) {
        0 => String::new(),
        n => crate::view::count(n as u64),
    };
    patients.truncate(PATIENTS_SHOWN);
    let shown = patients;
    let what = entities
        .iter()
        .find_map(|x| x["description"].as_str().map(what_of))
        .or_else(|| e["outcomeDesc"].as_str().map(str::to_string))
        .unwrap_or_else(|| e["type"]["display"].as_str().unwrap_or("").to_string());
    Line {
        when: zone.full(e["recorded"].as_str().unwrap_or("")),
        who: if user.is_empty() || who == user {
            who
        } else {
            format!("{who} ({user})")
        },
        role: agent["role"][0]["coding"][0]["display"]
            .as_str()
            .unwrap_or("")
            .to_string(),
        address: agent["network"]["address"]
            .as_str()
            .unwrap_or("")
            .to_string(),
        what,
        patients: shown,
        more_patients,
        outcome: match e["outcome"].as_str() {
            Some("0") => "success".into(),
            Some("4") => format!("refused ({})", e["outcomeDesc"].as_str().unwrap_or("")),
            Some(o) => format!("failed ({o})"),
            None => String::new(),
        },
        reason: glass_reason(e).unwrap_or_default(),
    }
}

fn valid_date(d: &str) -> bool {
    chrono::NaiveDate::parse_from_str(d, "%Y-%m-%d").is_ok()
}

/// The audit trail as the privacy officer reaches it (the store decides: AuditEvents with the
/// audit permission, whoever they name).
fn search(web: &Web, user: &crate::User, f: &Filters) -> Result<(Vec<Line>, bool), PageError> {
    let glass = f.glass == "yes" || (f.user.is_empty() && f.patient.is_empty());
    let mut params: Vec<(&str, String)> = vec![
        ("_sort", "-date".into()),
        ("_count", (LIMIT + 1).to_string()),
        ("_offset", (f.page * LIMIT).to_string()),
    ];
    if glass {
        // Every event that relied on (or tried) break-the-glass carries this subtype.
        params.push((
            "subtype",
            "http://terminology.hl7.org/CodeSystem/v3-ActReason|BTG".into(),
        ));
    }
    if !f.user.trim().is_empty() {
        params.push(("altid", f.user.trim().to_string()));
    }
    if !f.patient.trim().is_empty() {
        let id = f.patient.trim().trim_start_matches("Patient/");
        params.push(("entity", format!("Patient/{id}")));
    }
    if !f.from.is_empty() {
        params.push(("date", format!("ge{}", f.from)));
    }
    if !f.to.is_empty() {
        params.push(("date", format!("le{}", f.to)));
    }
    let access = web.access(user)?;
    let events = view::search(&*web.app.store, &access, "AuditEvent", &params)?;
    let mut lines: Vec<Line> = events
        .iter()
        .filter(|e| !glass || glass_reason(e).is_some())
        .map(|e| {
            line(
                e,
                web.config.zone,
                f.patient.trim().trim_start_matches("Patient/"),
            )
        })
        .collect();
    let more = lines.len() > LIMIT;
    lines.truncate(LIMIT);
    Ok((lines, more))
}

pub(crate) async fn page(
    State(web): State<Web>,
    auth: crate::session::AuthExt,
    Query(f): Query<Filters>,
) -> Result<Response, PageError> {
    let user = crate::session::user(&auth, access::Permission::AuditRead)?;
    let bad_date = [&f.from, &f.to]
        .iter()
        .any(|d| !d.is_empty() && !valid_date(d));
    let glass = f.glass == "yes" || (f.user.is_empty() && f.patient.is_empty());
    let (lines, more, error) = if bad_date {
        (
            Vec::new(),
            false,
            Some("Dates are written 2026-11-25.".to_string()),
        )
    } else {
        let w = web.clone();
        let filters = Filters {
            user: f.user.clone(),
            patient: f.patient.clone(),
            from: f.from.clone(),
            to: f.to.clone(),
            glass: f.glass.clone(),
            page: f.page,
        };
        let reader = user.clone();
        let (lines, more) = blocking(move || search(&w, &reader, &filters)).await?;
        (lines, more, None)
    };
    let seen = server::Seen(
        lines
            .iter()
            .flat_map(|l| l.patients.iter().map(|p| format!("Patient/{p}")))
            .collect(),
    );
    let link = |page: usize| {
        let q: String = form_urlencoded::Serializer::new(String::new())
            .append_pair("user", &f.user)
            .append_pair("patient", &f.patient)
            .append_pair("from", &f.from)
            .append_pair("to", &f.to)
            .append_pair("glass", if glass { "yes" } else { "no" })
            .append_pair("page", &page.to_string())
            .finish();
        format!("/privacy?{q}")
    };
    let newer = (f.page > 0).then(|| link(f.page - 1));
    let older = more.then(|| link(f.page + 1));
    Ok(view::with_seen(
        view::render(&PrivacyPage {
            newer,
            older,
            nav: Nav::new(&user, "privacy", web.config.zone),
            lines,
            user: f.user,
            patient: f.patient,
            from: f.from,
            to: f.to,
            glass,
            error,
        }),
        seen,
    ))
}
