//! The data behind the cards: prefetch first, then the client's FHIR server, then Tend's store.

use search::{Registry, SearchQuery};
use serde_json::Value;

use crate::{Cds, CdsError, Request, PREFETCH};

/// Pages followed per query on a FHIR server (at the server's page size).
const MAX_PAGES: usize = 20;

/// The patient's record as the cards need it.
#[derive(Debug, Default)]
pub(crate) struct Record {
    pub(crate) patient: Option<Value>,
    /// Conditions, Observations, Procedures, DiagnosticReports.
    pub(crate) resources: Vec<Value>,
    pub(crate) encounters: Vec<Value>,
    pub(crate) alerts: Vec<Value>,
    /// Some data came from Tend's own store.
    pub(crate) from_store: bool,
}

/// The resources in a prefetch value: a resource, or a searchset Bundle's entries.
fn resources_of(v: &Value) -> Vec<Value> {
    match v["resourceType"].as_str() {
        Some("Bundle") => v["entry"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|e| e.get("resource").cloned())
            .filter(|r| r["resourceType"] != "OperationOutcome")
            .collect(),
        Some("OperationOutcome") | None => Vec::new(),
        Some(_) => vec![v.clone()],
    }
}

pub(crate) async fn gather(cds: &Cds, req: &Request) -> Result<Record, CdsError> {
    let mut rec = Record::default();
    for (key, template) in PREFETCH {
        let query = template.replace("{{context.patientId}}", &req.patient_id);
        let found = match req.prefetch.get(*key) {
            Some(v) if !v.is_null() => resources_of(v),
            _ => match &req.fhir_server {
                Some(server) => fetch(cds, server, req.access_token.as_deref(), &query).await?,
                None => {
                    rec.from_store = true;
                    from_store(cds, &query).await?
                }
            },
        };
        match *key {
            "patient" => rec.patient = found.into_iter().find(|p| p["resourceType"] == "Patient"),
            "encounters" => rec.encounters = found,
            "alerts" => rec.alerts = found,
            _ => rec.resources.extend(found),
        }
    }
    Ok(rec)
}

/// A query on the client's FHIR server, following `next` links.
async fn fetch(
    cds: &Cds,
    server: &str,
    token: Option<&str>,
    query: &str,
) -> Result<Vec<Value>, CdsError> {
    let mut url = format!("{server}/{query}");
    let mut out = Vec::new();
    for _ in 0..MAX_PAGES {
        let mut r = cds.http.get(&url).header("Accept", "application/fhir+json");
        if let Some(t) = token {
            r = r.bearer_auth(t);
        }
        let resp = r.send().await.map_err(|e| {
            CdsError::Data(format!(
                "fhirServer did not answer {query}: {}",
                e.without_url()
            ))
        })?;
        let status = resp.status();
        if status == reqwest::StatusCode::NOT_FOUND && query.starts_with("Patient/") {
            return Ok(out);
        }
        if !status.is_success() {
            return Err(CdsError::Data(format!(
                "fhirServer answered {status} to {query}"
            )));
        }
        let body: Value = resp.json().await.map_err(|e| {
            CdsError::Data(format!(
                "fhirServer's answer to {query} is not JSON: {}",
                e.without_url()
            ))
        })?;
        out.extend(resources_of(&body));
        let next = body["link"]
            .as_array()
            .into_iter()
            .flatten()
            .find(|l| l["relation"] == "next")
            .and_then(|l| l["url"].as_str());
        match next {
            Some(n) => url = n.to_string(),
            None => break,
        }
    }
    Ok(out)
}

/// A query on Tend's store (`Type/id` or `Type?params`), every page.
async fn from_store(cds: &Cds, query: &str) -> Result<Vec<Value>, CdsError> {
    let store = cds.store.clone();
    let query = query.to_string();
    tokio::task::spawn_blocking(move || -> Result<Vec<Value>, CdsError> {
        let data = |e: store::StoreError| CdsError::Data(e.to_string());
        if let Some((rtype, id)) = query.split_once('/') {
            let v = store
                .read(&store::Access::system(), rtype, id)
                .map_err(data)?;
            return Ok(v
                .and_then(|v| v.body)
                .and_then(|b| serde_json::from_str(&b).ok())
                .into_iter()
                .collect());
        }
        let (rtype, params) = query.split_once('?').unwrap_or((&query, ""));
        let q = SearchQuery::parse(Registry::r4(), rtype, &form_pairs(params))
            .map_err(|e| CdsError::Data(e.to_string()))?;
        store::search_all(&*store, &store::Access::system(), q)
            .map_err(data)?
            .into_iter()
            .map(|h| serde_json::from_str(&h.body).map_err(|e| CdsError::Data(e.to_string())))
            .collect()
    })
    .await
    .map_err(|e| CdsError::Data(e.to_string()))?
}

fn form_pairs(params: &str) -> Vec<(String, String)> {
    params
        .split('&')
        .filter(|p| !p.is_empty())
        .map(|p| {
            let (k, v) = p.split_once('=').unwrap_or((p, ""));
            let dec = |s: &str| {
                percent_encoding::percent_decode_str(s)
                    .decode_utf8_lossy()
                    .into_owned()
            };
            (dec(k), dec(v))
        })
        .collect()
}
