//! The CapabilityStatement at `/fhir/metadata`
//! (<https://hl7.org/fhir/R4/capabilitystatement.html>): built from the same registry and
//! rules the server runs on, so it lists exactly what works.

use std::sync::OnceLock;

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::Response;
use search::{ParamType, Registry};
use serde_json::{json, Value};

use crate::response::json_response;
use crate::{ApiError, AppState};

/// Whether Tend can search by this parameter (see `search::SearchQuery::parse`).
pub(crate) fn searchable(p: &search::SearchParam) -> bool {
    match p.kind {
        ParamType::Special => false,
        ParamType::Composite => p.components.len() == 2 && p.expression.is_some(),
        _ => p.expression.is_some() || p.code == "_id" || p.code == "_lastUpdated",
    }
}

fn type_name(k: ParamType) -> &'static str {
    match k {
        ParamType::Number => "number",
        ParamType::Date => "date",
        ParamType::String => "string",
        ParamType::Token => "token",
        ParamType::Reference => "reference",
        ParamType::Composite => "composite",
        ParamType::Quantity => "quantity",
        ParamType::Uri => "uri",
        ParamType::Special => "special",
    }
}

/// The CapabilityStatement (built once).
pub(crate) fn statement(registry: &Registry) -> &'static str {
    static CS: OnceLock<String> = OnceLock::new();
    CS.get_or_init(|| {
        let mut resources = Vec::new();
        for &rtype in fhir::validation::resource_types() {
            let params: Vec<&search::SearchParam> = registry.params_for(rtype).iter().filter(|p| searchable(p)).collect();
            let refs: Vec<&&search::SearchParam> = params.iter().filter(|p| p.kind == ParamType::Reference).collect();
            let search_params: Vec<Value> = params
                .iter()
                .map(|p| json!({"name": p.code, "definition": p.url, "type": type_name(p.kind)}))
                .collect();
            let interactions: Vec<Value> =
                ["read", "vread", "update", "patch", "delete", "history-instance", "history-type", "create", "search-type"]
                    .iter()
                    .map(|c| json!({"code": c}))
                    .collect();
            let mut r = json!({
                "type": rtype,
                "interaction": interactions,
                "versioning": "versioned",
                "readHistory": true,
                "updateCreate": true,
                "conditionalCreate": true,
                "conditionalRead": "not-match",
                "conditionalUpdate": true,
                "conditionalDelete": "single",
                "searchInclude": refs.iter().map(|p| format!("{rtype}:{}", p.code)).collect::<Vec<_>>(),
                "searchRevInclude": registry_revincludes(registry, rtype),
                "searchParam": search_params,
            });
            if rtype == "AuditEvent" {
                // The audit trail: an append-only log with its own, smaller search.
                r["interaction"] = json!(["read", "vread", "history-instance", "history-type", "create", "update", "search-type"]
                    .iter()
                    .map(|c| json!({"code": c}))
                    .collect::<Vec<_>>());
                r["versioning"] = json!("no-version");
                r["conditionalUpdate"] = json!(false);
                r["conditionalDelete"] = json!("not-supported");
                r["searchInclude"] = json!(["AuditEvent:agent", "AuditEvent:entity", "AuditEvent:patient"]);
                r["searchParam"] = json!(params
                    .iter()
                    .filter(|p| store::AUDIT_SEARCH_PARAMS.contains(&p.code.as_str()))
                    .map(|p| json!({"name": p.code, "definition": p.url, "type": type_name(p.kind)}))
                    .collect::<Vec<_>>());
            }
            if rtype == "Patient" {
                r["operation"] = json!([{
                    "name": "everything",
                    "definition": "http://hl7.org/fhir/OperationDefinition/Patient-everything"
                }, {
                    "name": "export",
                    "definition": "http://hl7.org/fhir/uv/bulkdata/OperationDefinition/patient-export"
                }]);
            }
            if rtype == "Group" {
                r["operation"] = json!([{
                    "name": "export",
                    "definition": "http://hl7.org/fhir/uv/bulkdata/OperationDefinition/group-export"
                }]);
            }
            resources.push(r);
        }
        let cs = json!({
            "resourceType": "CapabilityStatement",
            "status": "active",
            "date": "2026-11-24",
            "publisher": "Tend",
            "kind": "instance",
            "instantiates": ["http://hl7.org/fhir/uv/bulkdata/CapabilityStatement/bulk-data"],
            "software": { "name": "Tend", "version": env!("CARGO_PKG_VERSION") },
            "implementation": { "description": "Tend patient-care platform FHIR R4 API" },
            "fhirVersion": "4.0.1",
            "format": ["application/fhir+json", "json"],
            "patchFormat": ["application/json-patch+json"],
            "rest": [{
                "mode": "server",
                "documentation": "Search supports the prefixes eq ne gt lt ge le sa eb ap; the modifiers :exact :contains :missing :not :text :identifier :below :above and :[type]; chaining, _has, _include and _revinclude (with :iterate), _sort, _count with next/previous links, _summary, _elements, _total, _id and _lastUpdated. Compartment search in the Patient compartment: GET Patient/[id]/[type] with the type's parameters. Search across types: GET [base]?_type=... with parameters every listed type has (no _sort, _include or _revinclude), paging to 10,000 matches. Bulk Data export (v2): GET or POST (a Parameters body) [base]/$export, Patient/$export and Group/[id]/$export with Prefer: respond-async, for SMART backend services; _outputFormat (NDJSON), _since, _type, _typeFilter and (POST, Patient and Group level) patient; status polling with X-Progress and Retry-After, DELETE to cancel; files need the access token.",
                "compartment": ["http://hl7.org/fhir/CompartmentDefinition/patient"],
                "resource": resources,
                "interaction": [{"code": "transaction"}, {"code": "batch"}, {"code": "history-system"}, {"code": "search-system"}],
                "operation": [{"name": "export", "definition": "http://hl7.org/fhir/uv/bulkdata/OperationDefinition/export"}],
                "searchParam": [
                    {"name": "_id", "type": "token", "definition": "http://hl7.org/fhir/SearchParameter/Resource-id"},
                    {"name": "_lastUpdated", "type": "date", "definition": "http://hl7.org/fhir/SearchParameter/Resource-lastUpdated"}
                ]
            }]
        });
        cs.to_string()
    })
}

fn registry_revincludes(registry: &Registry, target: &str) -> Vec<String> {
    let mut out = Vec::new();
    for t in registry.resource_types() {
        for p in registry.params_for(t) {
            if p.kind == ParamType::Reference
                && p.expression.is_some()
                && (p.targets.iter().any(|x| x == target))
            {
                out.push(format!("{t}:{}", p.code));
            }
        }
    }
    out.sort();
    out
}

pub(crate) async fn metadata(State(state): State<AppState>) -> Result<Response, ApiError> {
    Ok(json_response(
        StatusCode::OK,
        statement(state.registry).to_string(),
    ))
}
