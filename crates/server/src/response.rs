//! Shaping responses: resource bodies with `ETag`, `Last-Modified` and `Location`, the
//! `Prefer` header (<https://hl7.org/fhir/R4/http.html#ops>), Bundles, and request
//! parsing helpers shared by the interactions.

use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use fhir::outcome::{operation_outcome, IssueSeverity, OutcomeIssue};
use serde_json::Value;
use store::Version;

use crate::{ApiError, AppState, FHIR_JSON};

/// What the client asked to get back after a write (`Prefer: return=...`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Return {
    Minimal,
    Representation,
    OperationOutcome,
}

pub(crate) fn prefer_return(headers: &HeaderMap) -> Return {
    let prefer = headers
        .get("prefer")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    for part in prefer.split([',', ';']) {
        match part.trim() {
            "return=minimal" => return Return::Minimal,
            "return=OperationOutcome" => return Return::OperationOutcome,
            "return=representation" => return Return::Representation,
            _ => {}
        }
    }
    Return::Representation
}

/// `W/"3"` → `3`.
pub(crate) fn parse_etag(v: &str) -> String {
    v.trim()
        .trim_start_matches("W/")
        .trim_matches('"')
        .to_string()
}

pub(crate) fn if_match(headers: &HeaderMap) -> Option<String> {
    headers
        .get("if-match")
        .and_then(|v| v.to_str().ok())
        .map(parse_etag)
}

pub(crate) fn http_date(ms: i64) -> String {
    chrono::DateTime::from_timestamp_millis(ms)
        .map(|d| d.format("%a, %d %b %Y %H:%M:%S GMT").to_string())
        .unwrap_or_default()
}

/// The base URL for links: configured, or from the Host header.
pub(crate) fn base_url(state: &AppState, headers: &HeaderMap) -> String {
    if let Some(b) = &state.base_url {
        return b.clone();
    }
    let host = headers
        .get(header::HOST)
        .and_then(|h| h.to_str().ok())
        .unwrap_or("localhost");
    format!("http://{host}/fhir")
}

/// A JSON body with the FHIR media type.
pub(crate) fn json_response(status: StatusCode, body: String) -> Response {
    let mut r = (status, body).into_response();
    r.headers_mut()
        .insert(header::CONTENT_TYPE, HeaderValue::from_static(FHIR_JSON));
    r
}

/// Headers describing a stored version.
pub(crate) fn version_headers(resp: &mut Response, v: &Version, base: &str, location: bool) {
    let h = resp.headers_mut();
    if let Ok(val) = HeaderValue::from_str(&format!("W/\"{}\"", v.version)) {
        h.insert(header::ETAG, val);
    }
    if let Ok(val) = HeaderValue::from_str(&http_date(v.last_updated)) {
        h.insert(header::LAST_MODIFIED, val);
    }
    if location {
        if let Ok(val) = HeaderValue::from_str(&format!(
            "{base}/{}/{}/_history/{}",
            v.rtype, v.id, v.version
        )) {
            h.insert(header::LOCATION, val.clone());
            h.insert(header::CONTENT_LOCATION, val);
        }
    }
}

/// The response to a write: status, version headers, and the body `Prefer` asks for.
pub(crate) fn write_response(
    status: StatusCode,
    v: &Version,
    base: &str,
    ret: Return,
    message: &str,
) -> Response {
    let body = match ret {
        Return::Minimal => String::new(),
        Return::Representation => v.body.clone().unwrap_or_default(),
        Return::OperationOutcome => operation_outcome(&[OutcomeIssue {
            severity: IssueSeverity::Information,
            code: "informational",
            diagnostics: message.to_string(),
            expression: None,
        }])
        .to_string(),
    };
    let mut resp = if body.is_empty() {
        status.into_response()
    } else {
        json_response(status, body)
    };
    version_headers(&mut resp, v, base, true);
    resp
}

/// Parse a request body as a JSON object, naming where it breaks.
pub(crate) fn parse_json(body: &[u8]) -> Result<Value, ApiError> {
    if body.iter().all(|b| b.is_ascii_whitespace()) {
        return Err(ApiError::Parse {
            message: "the request has no body".into(),
            expression: None,
        });
    }
    let v: Value = serde_json::from_slice(body).map_err(|e| ApiError::Parse {
        message: format!(
            "the body is not valid JSON: {e} (line {}, column {})",
            e.line(),
            e.column()
        ),
        expression: None,
    })?;
    if !v.is_object() {
        return Err(ApiError::Parse {
            message: "a resource must be a JSON object".into(),
            expression: None,
        });
    }
    Ok(v)
}

/// Check that the media type, if given, is JSON.
pub(crate) fn check_content_type(headers: &HeaderMap) -> Result<(), ApiError> {
    let Some(ct) = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
    else {
        return Ok(());
    };
    let ct = ct.split(';').next().unwrap_or("").trim();
    if ct.is_empty() || ct.ends_with("json") || ct == "application/x-www-form-urlencoded" {
        Ok(())
    } else {
        Err(ApiError::UnsupportedMediaType(format!(
            "'{ct}' is not supported: send application/fhir+json"
        )))
    }
}

/// Validate a resource against the base R4 definitions and the request's expectations.
pub(crate) fn validate_resource(
    resource: &Value,
    expected_type: Option<&str>,
) -> Result<String, ApiError> {
    let rtype = resource
        .get("resourceType")
        .and_then(Value::as_str)
        .map(String::from);
    let Some(rtype) = rtype else {
        return Err(ApiError::Parse {
            message: "the resource has no resourceType".into(),
            expression: Some("resourceType".into()),
        });
    };
    if let Some(expected) = expected_type {
        if rtype != expected {
            return Err(ApiError::BadRequest(format!(
                "the resource is a {rtype} but the URL names {expected}"
            )));
        }
    }
    let issues = fhir::validation::validate(resource);
    if issues
        .iter()
        .any(|i| i.severity == fhir::validation::Severity::Error)
    {
        return Err(ApiError::Invalid(fhir::outcome::from_validation(&issues)));
    }
    Ok(rtype)
}

/// A resource type of R4 that Tend stores.
pub(crate) fn check_type(rtype: &str) -> Result<(), ApiError> {
    if fhir::validation::is_resource_type(rtype) {
        Ok(())
    } else {
        Err(ApiError::NotFound(format!(
            "'{rtype}' is not an R4 resource type"
        )))
    }
}

/// Query-string pairs, percent-decoded.
pub(crate) fn query_pairs(raw: Option<&str>) -> Vec<(String, String)> {
    raw.map(|q| form_urlencoded::parse(q.as_bytes()).into_owned().collect())
        .unwrap_or_default()
}

/// Run store work on a blocking thread.
pub(crate) async fn blocking<T: Send + 'static>(
    f: impl FnOnce() -> Result<T, ApiError> + Send + 'static,
) -> Result<T, ApiError> {
    tokio::task::spawn_blocking(f)
        .await
        .map_err(|e| ApiError::Internal(e.to_string()))?
}

/// Keep only the listed top-level elements (plus the mandatory ones) and mark the
/// resource as SUBSETTED (<https://hl7.org/fhir/R4/search.html#elements>).
/// A choice element is asked for by its base name (`effective` keeps `effectiveDateTime`),
/// and a primitive's extension (`_birthDate`) goes with its value.
pub(crate) fn subset(mut resource: Value, keep: &[String]) -> Value {
    if let Value::Object(m) = &mut resource {
        let rtype = m
            .get("resourceType")
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_string();
        m.retain(|k, _| {
            let name = k.strip_prefix('_').unwrap_or(k);
            matches!(name, "resourceType" | "id" | "meta")
                || fhir::validation::is_mandatory(&rtype, name)
                || keep.iter().any(|e| {
                    name == e
                        || name
                            .strip_prefix(e.as_str())
                            .is_some_and(|rest| rest.starts_with(|c: char| c.is_ascii_uppercase()))
                })
        });
        mark_subsetted(m);
    }
    resource
}

fn mark_subsetted(m: &mut serde_json::Map<String, Value>) {
    let meta = m
        .entry("meta")
        .or_insert_with(|| Value::Object(Default::default()));
    if let Value::Object(meta) = meta {
        let tags = meta
            .entry("tag")
            .or_insert_with(|| Value::Array(Vec::new()));
        if let Value::Array(tags) = tags {
            tags.push(serde_json::json!({
                "system": "http://terminology.hl7.org/CodeSystem/v3-ObservationValue",
                "code": "SUBSETTED",
                "display": "Resource encoded in summary mode"
            }));
        }
    }
}

/// `_summary=text` keeps text, id, meta and mandatory elements; `_summary=data` drops text;
/// `_summary=true` keeps the elements the definitions mark as summary.
pub(crate) fn summarize(mut resource: Value, summary: search::Summary) -> Value {
    use search::Summary;
    let Value::Object(m) = &mut resource else {
        return resource;
    };
    let rtype = m
        .get("resourceType")
        .and_then(Value::as_str)
        .unwrap_or_default()
        .to_string();
    match summary {
        Summary::Data => {
            m.shift_remove("text");
            mark_subsetted(m);
        }
        Summary::Text => {
            m.retain(|k, _| {
                matches!(k.as_str(), "resourceType" | "id" | "meta" | "text")
                    || fhir::validation::is_mandatory(&rtype, k)
            });
            mark_subsetted(m);
        }
        Summary::True => {
            m.retain(|k, _| {
                matches!(k.as_str(), "resourceType" | "id" | "meta")
                    || fhir::validation::is_summary(&rtype, k)
            });
            mark_subsetted(m);
        }
        Summary::False | Summary::Count => {}
    }
    resource
}
