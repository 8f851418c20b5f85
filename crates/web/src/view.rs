//! What the pages share: reading the store, names, ages, times, bands, the page frame.

use askama::Template;
use axum::http::StatusCode;
use axum::response::{Html, IntoResponse, Response};
use serde_json::Value;
use store::Store;

use crate::User;

/// The frame of every page: who is signed in, which page is current.
#[derive(Debug, Clone)]
pub(crate) struct Nav {
    pub(crate) user: Option<User>,
    pub(crate) current: &'static str,
    /// The hospital's time zone, named in the footer: every time on the page is in it.
    pub(crate) zone: Option<crate::Zone>,
}

impl Nav {
    pub(crate) fn new(user: &User, current: &'static str, zone: crate::Zone) -> Nav {
        Nav {
            user: Some(user.clone()),
            current,
            zone: Some(zone),
        }
    }

    /// "Times are Eastern (America/New_York, EST)" for the footer.
    pub(crate) fn zone_note(&self) -> String {
        let Some(z) = self.zone else {
            return String::new();
        };
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_millis() as i64)
            .unwrap_or_default();
        format!(
            "Times are hospital time: {} ({})",
            z.name().replace('_', " "),
            z.abbreviation(now)
        )
    }

    /// `aria-current` for the nav link of `page`.
    pub(crate) fn is(&self, page: &str) -> bool {
        self.current == page
    }

    pub(crate) fn csrf(&self) -> &str {
        self.user.as_ref().map(|u| u.csrf.as_str()).unwrap_or("")
    }
}

#[derive(Template)]
#[template(path = "error.html")]
struct ErrorPage<'a> {
    nav: Nav,
    signed_in: bool,
    title: &'a str,
    message: &'a str,
}

/// Why a page could not be shown: the web app's one error type. It renders as a page
/// explaining what went wrong, with its status, or as a redirect to sign in.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum PageError {
    Status(StatusCode, String),
    /// A whole page with its status (e.g. the break-the-glass page).
    Page(StatusCode, String),
    SignIn,
}

/// A failure's message, carried on the response to the layer that frames it with the
/// signed-in user's navigation ([`crate::frame_errors`]).
#[derive(Debug, Clone)]
pub(crate) struct Failure(pub(crate) String);

impl IntoResponse for PageError {
    fn into_response(self) -> Response {
        match self {
            PageError::SignIn => axum::response::Redirect::to("/sign-in").into_response(),
            PageError::Page(s, html) => (s, Html(html)).into_response(),
            PageError::Status(s, m) => {
                let mut r = s.into_response();
                r.extensions_mut().insert(Failure(m));
                r
            }
        }
    }
}

/// The page for a failure, in the app's frame: what happened in plain words and the way
/// back to the user's start page (or to sign in).
pub(crate) fn failure_page(
    status: StatusCode,
    message: &str,
    user: Option<User>,
    zone: crate::Zone,
) -> Response {
    let title = match status {
        StatusCode::FORBIDDEN => "Not available to you",
        StatusCode::NOT_FOUND => "Not found",
        StatusCode::BAD_REQUEST | StatusCode::UNPROCESSABLE_ENTITY => "Cannot use this address",
        StatusCode::METHOD_NOT_ALLOWED => "Not something this page does",
        StatusCode::SERVICE_UNAVAILABLE => "Not available right now",
        s if s.is_server_error() => "Something went wrong",
        _ => "Cannot show this page",
    };
    let page = ErrorPage {
        signed_in: user.is_some(),
        nav: Nav {
            user,
            current: "",
            zone: Some(zone),
        },
        title,
        message,
    };
    match page.render() {
        Ok(html) => (status, Html(html)).into_response(),
        Err(_) => (status, message.to_string()).into_response(),
    }
}

/// A page explaining what went wrong, with the status.
pub(crate) fn error_page(status: StatusCode, message: &str) -> PageError {
    PageError::Status(status, message.to_string())
}

/// A page with the patients it shows, for its audit record.
pub(crate) fn with_seen(mut resp: Response, seen: server::Seen) -> Response {
    resp.extensions_mut().insert(seen);
    resp
}

/// Render a template as a page.
pub(crate) fn render(t: &impl Template) -> Response {
    match t.render() {
        Ok(html) => Html(html).into_response(),
        Err(e) => {
            tracing::error!(error = %e, "a page template failed");
            error_page(
                StatusCode::INTERNAL_SERVER_ERROR,
                "The page could not be made.",
            )
            .into_response()
        }
    }
}

pub(crate) fn store_error(e: impl std::fmt::Display) -> PageError {
    tracing::error!(error = %e, "a page could not read the record");
    error_page(
        StatusCode::INTERNAL_SERVER_ERROR,
        "The record could not be read. Try again in a moment.",
    )
}

/// A search as `access` (the signed-in user's, or Tend's own for directory lookups).
pub(crate) fn search(
    store: &dyn Store,
    access: &store::Access,
    rtype: &str,
    params: &[(&str, String)],
) -> Result<Vec<Value>, PageError> {
    let params: Vec<(String, String)> = params
        .iter()
        .map(|(k, v)| (k.to_string(), v.clone()))
        .collect();
    let q =
        search::SearchQuery::parse(search::Registry::r4(), rtype, &params).map_err(store_error)?;
    Ok(store
        .search(access, &q)
        .map_err(store_error)?
        .matches
        .into_iter()
        .filter_map(|h| serde_json::from_str(&h.body).ok())
        .collect())
}

pub(crate) fn read(
    store: &dyn Store,
    access: &store::Access,
    rtype: &str,
    id: &str,
) -> Option<Value> {
    store
        .read(access, rtype, id)
        .ok()
        .flatten()
        .and_then(|v| v.body)
        .and_then(|b| serde_json::from_str(&b).ok())
}

/// A patient, or the page saying there is none.
pub(crate) fn patient(
    store: &dyn Store,
    access: &store::Access,
    id: &str,
) -> Result<Value, PageError> {
    read(store, access, "Patient", id)
        .ok_or_else(|| error_page(StatusCode::NOT_FOUND, "There is no patient with this id."))
}

/// A patient's stored early-warning scores, NEWS2 or (for a child) PEWS, newest first:
/// `count` of them, skipping the newest `skip`.
pub(crate) fn early_warning_scores(
    store: &dyn Store,
    access: &store::Access,
    subject: &str,
    count: usize,
    skip: usize,
) -> Result<Vec<Value>, PageError> {
    search(
        store,
        access,
        "Observation",
        &[
            ("subject", subject.to_string()),
            ("code", early_warning::codes::ScoreKind::set_score_tokens()),
            ("_sort", "-date".into()),
            ("_count", count.to_string()),
            ("_offset", skip.to_string()),
        ],
    )
}

/// The colour class and label of a stored score's band: a child's PEWS level takes the
/// colour of the NEWS2 band as urgent (none → zero, emergency → high) and its own name.
pub(crate) fn score_band(s: &early_warning::News2Summary) -> (String, &'static str) {
    if s.kind() != early_warning::codes::ScoreKind::Pews {
        return (s.band.clone(), band_label(&s.band));
    }
    let class = match s.band.as_str() {
        "none" => "zero",
        "emergency" => "high",
        other => other,
    };
    let label = rules::pews::Level::parse(&s.band).map_or("No score", |l| l.display());
    (class.to_string(), label)
}

/// The colour class of an alert's band (a PEWS emergency in the high colour).
pub(crate) fn alert_band_class(band: &str) -> String {
    match band {
        "emergency" => "high".into(),
        other => other.into(),
    }
}

/// The responses recorded on an alert: `Action: note`.
pub(crate) fn responses(alert: &early_warning::AlertView) -> Vec<String> {
    alert
        .responses
        .iter()
        .map(|r| match &r.note {
            Some(n) if !n.is_empty() => format!("{}: {n}", r.display),
            _ => r.display.clone(),
        })
        .collect()
}

/// A patient's medical record number: the identifier typed MR, else the first.
pub(crate) fn mrn(p: &Value) -> String {
    p["identifier"]
        .as_array()
        .into_iter()
        .flatten()
        .find(|i| i["type"]["coding"][0]["code"] == "MR")
        .or_else(|| p["identifier"].get(0))
        .and_then(|i| i["value"].as_str())
        .unwrap_or("")
        .to_string()
}

/// A person's name as people say it: the official (else first) name's text, else given
/// names and family name.
pub(crate) fn name(resource: &Value) -> String {
    let names = resource["name"].as_array().cloned().unwrap_or_default();
    let n = names
        .iter()
        .find(|n| n["use"] == "official")
        .or(names.first());
    let Some(n) = n else {
        return "Unnamed".into();
    };
    if let Some(t) = n["text"].as_str() {
        return t.to_string();
    }
    let mut parts: Vec<String> = n["given"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|g| g.as_str().map(str::to_string))
        .collect();
    if let Some(f) = n["family"].as_str() {
        parts.push(f.to_string());
    }
    if parts.is_empty() {
        "Unnamed".into()
    } else {
        parts.join(" ")
    }
}

/// Whole years from a FHIR date to `now_ms`.
pub(crate) fn age(birth_date: Option<&str>, now_ms: i64) -> Option<i64> {
    use chrono::Datelike;
    let b = chrono::NaiveDate::parse_from_str(birth_date?.get(..10)?, "%Y-%m-%d").ok()?;
    let now = chrono::DateTime::from_timestamp_millis(now_ms)?.date_naive();
    let mut years = i64::from(now.year() - b.year());
    if (now.month(), now.day()) < (b.month(), b.day()) {
        years -= 1;
    }
    Some(years)
}

/// The preferred language (display) and whether an interpreter is needed.
pub(crate) fn language(patient: &Value) -> (Option<String>, bool) {
    let comms = patient["communication"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    let c = comms
        .iter()
        .find(|c| c["preferred"] == true)
        .or(comms.first());
    let lang = c.and_then(|c| {
        c["language"]["text"]
            .as_str()
            .or_else(|| c["language"]["coding"][0]["display"].as_str())
            .or_else(|| c["language"]["coding"][0]["code"].as_str())
            .map(str::to_string)
    });
    let interpreter = patient["extension"]
        .as_array()
        .into_iter()
        .flatten()
        .any(|e| {
            e["url"] == "http://hl7.org/fhir/StructureDefinition/patient-interpreterRequired"
                && e["valueBoolean"] == true
        });
    (lang, interpreter)
}

/// The `text` of a US Core race or ethnicity extension.
pub(crate) fn us_core_text(patient: &Value, which: &str) -> Option<String> {
    let url = format!("http://hl7.org/fhir/us/core/StructureDefinition/us-core-{which}");
    patient["extension"]
        .as_array()?
        .iter()
        .find(|e| e["url"] == url.as_str())?["extension"]
        .as_array()?
        .iter()
        .find(|e| e["url"] == "text")?["valueString"]
        .as_str()
        .map(str::to_string)
}

pub(crate) fn ms(instant: &str) -> Option<i64> {
    chrono::DateTime::parse_from_rfc3339(instant)
        .ok()
        .map(|d| d.timestamp_millis())
}

/// When the next set is due, from the minutes left (negative: overdue): "in 40 min",
/// "due now", "overdue 1 h 5 min"; "now" when no set has been scored.
pub(crate) fn next_due(minutes_to_due: Option<i64>) -> String {
    match minutes_to_due {
        Some(m) if m < 0 => format!("overdue {}", duration(-m * 60_000)),
        Some(0) => "due now".into(),
        Some(m) => format!("in {}", duration(m * 60_000)),
        None => "now".into(),
    }
}

/// Sex as a board shows it: `F`, `M`, or nothing.
pub(crate) fn sex_letter(patient: &Value) -> &'static str {
    match patient["gender"].as_str() {
        Some("female") => "F",
        Some("male") => "M",
        _ => "",
    }
}

/// "12 min", "3 h 5 min", "2 d".
pub(crate) fn duration(ms: i64) -> String {
    let m = ms.abs() / 60_000;
    if m < 60 {
        format!("{m} min")
    } else if m < 48 * 60 {
        if m % 60 == 0 {
            format!("{} h", m / 60)
        } else {
            format!("{} h {} min", m / 60, m % 60)
        }
    } else {
        format!("{} d", m / (24 * 60))
    }
}

/// The band's name as the chart prints it.
pub(crate) fn band_label(code: &str) -> &'static str {
    match code {
        "emergency" => "Emergency",
        "high" => "High",
        "medium" => "Medium",
        "low-medium" => "Low-medium",
        "low" => "Low",
        "zero" => "Zero",
        _ => "No score",
    }
}

/// A worklist page's address with its filters (empty ones left out) and page number.
pub(crate) fn filtered_url(path: &str, filters: &[(&str, &str)], page: usize) -> String {
    let mut q = form_urlencoded::Serializer::new(String::new());
    for (k, v) in filters {
        if !v.is_empty() {
            q.append_pair(k, v);
        }
    }
    if page > 0 {
        q.append_pair("page", &page.to_string());
    }
    let q = q.finish();
    if q.is_empty() {
        path.to_string()
    } else {
        format!("{path}?{q}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn ages_count_whole_years_at_the_birthday() {
        let now = ms("2026-11-24T10:00:00Z").unwrap();
        assert_eq!(age(Some("1948-11-24"), now), Some(78));
        assert_eq!(age(Some("1948-11-25"), now), Some(77));
        assert_eq!(age(Some("1948"), now), None);
        assert_eq!(age(None, now), None);
    }

    #[test]
    fn names_languages_and_durations_read_as_people_say_them() {
        let p = json!({"name": [{"use": "usual", "given": ["Gracie"]}, {"use": "official", "family": "Okafor", "given": ["Grace", "A"]}],
            "communication": [{"language": {"coding": [{"code": "pl", "display": "Polish"}]}, "preferred": true}],
            "extension": [{"url": "http://hl7.org/fhir/StructureDefinition/patient-interpreterRequired", "valueBoolean": true}]});
        assert_eq!(name(&p), "Grace A Okafor");
        assert_eq!(language(&p), (Some("Polish".into()), true));
        assert_eq!(name(&json!({})), "Unnamed");
        assert_eq!(duration(59 * 60_000), "59 min");
        assert_eq!(duration(-125 * 60_000), "2 h 5 min");
        assert_eq!(duration(3 * 24 * 3_600_000), "3 d");
    }
}

/// A count as people read it: `10,185`.
pub(crate) fn count(n: u64) -> String {
    let digits = n.to_string();
    let mut out = String::with_capacity(digits.len() + digits.len() / 3);
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

#[cfg(test)]
mod count_tests {
    #[test]
    fn counts_are_grouped_by_thousands() {
        for (n, want) in [
            (0, "0"),
            (999, "999"),
            (1000, "1,000"),
            (10185, "10,185"),
            (1234567, "1,234,567"),
        ] {
            assert_eq!(super::count(n), want);
        }
    }
}
