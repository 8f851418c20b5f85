//! The completion manifest
//! (<https://hl7.org/fhir/uv/bulkdata/export.html#response---complete-status>) and the
//! progress a client is told while it waits. Pure.

use chrono::{DateTime, SecondsFormat, Utc};
use serde_json::{json, Value};

use crate::job::{Job, State};

/// The manifest of a complete job. `files`: the base of the file URLs (`…/$export-file/JOB`);
/// `outcome`: the URL of the job's OperationOutcome file, when parameters were ignored.
pub fn manifest(job: &Job, files: &str) -> Value {
    let output: Vec<Value> = job
        .outputs
        .iter()
        .map(|o| json!({"type": o.rtype, "url": format!("{files}/{}", o.file), "count": o.count}))
        .collect();
    let error: Vec<Value> = if job.request.ignored.is_empty() {
        Vec::new()
    } else {
        vec![json!({"type": "OperationOutcome", "url": format!("{files}/{}", IGNORED_FILE)})]
    };
    json!({
        "transactionTime": instant(job.transaction_time),
        "request": job.request_url,
        "requiresAccessToken": true,
        "output": output,
        "error": error,
    })
}

/// The file naming the parameters a lenient kick-off ignored.
pub const IGNORED_FILE: &str = "ignored.ndjson";

/// The OperationOutcome (one NDJSON line) naming the ignored parameters.
pub fn ignored_outcome(job: &Job) -> Value {
    json!({
        "resourceType": "OperationOutcome",
        "issue": job.request.ignored.iter().map(|p| json!({
            "severity": "information",
            "code": "not-supported",
            "diagnostics": format!("'{p}' was ignored (Prefer: handling=lenient)"),
        })).collect::<Vec<_>>(),
    })
}

/// What the client is told while it waits (`X-Progress`): plain counts, never a total that
/// would say how much of the record lies beyond the caller's reach.
pub fn progress(job: &Job) -> String {
    let n = job.exported;
    match (&job.state, &job.current) {
        (State::Queued, _) => "queued: waiting for a free exporter".into(),
        (_, Some(t)) => format!("{n} resources exported; now {t}"),
        _ => format!("{n} resources exported"),
    }
}

/// An instant in FHIR's form.
pub fn instant(ms: i64) -> String {
    DateTime::<Utc>::from_timestamp_millis(ms)
        .unwrap_or_default()
        .to_rfc3339_opts(SecondsFormat::Millis, true)
}
