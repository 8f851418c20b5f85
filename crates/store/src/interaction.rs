//! The write interactions, run inside the writer's open transaction: create, conditional
//! create, update (and create-on-update), conditional update, patch, delete, and the
//! transaction Bundle's id resolution and reference rewriting
//! (<https://hl7.org/fhir/R4/http.html>, <https://hl7.org/fhir/R4/http.html#trules>).

use std::collections::HashMap;

use search::Indexer;
use search::Registry;
use search::SearchQuery;
use search::{format_instant, IndexEntry};
use serde_json::Value;

use access::Access;

use crate::engine::{NewVersion, WriterTx};
use crate::error::StoreError;
use crate::model::{Entry, Op, Outcome, Version, WriteOp};

/// What every interaction needs besides the transaction.
pub(crate) struct Ctx<'a> {
    /// The commit time, ms since the epoch.
    pub(crate) now: i64,
    pub(crate) indexer: &'a Indexer,
    pub(crate) registry: &'static Registry,
    /// Whose write this is. Every entry is decided here, with the type that is executed,
    /// the stored version's patients and the new version's.
    pub(crate) access: &'a Access,
}

/// May `ctx.access` change (or delete) the stored version `prev`?
fn may_change(ctx: &Ctx<'_>, rtype: &str, prev: Option<&Version>) -> Result<(), StoreError> {
    if prev.is_some_and(|p| p.op != Op::Delete) {
        ctx.access
            .may_revise(rtype)
            .map_err(|d| StoreError::denied(ctx.access, d))?;
    }
    let (patients, restricted, shared) = prev.map_or((&[][..], false, None), |p| {
        (&p.patients[..], p.restricted, p.shared.as_deref())
    });
    ctx.access
        .check(rtype, true, patients, restricted, shared)
        .map_err(|d| StoreError::denied(ctx.access, d))
}

/// Run entries as one all-or-nothing unit, in the order the spec prescribes (deletes,
/// creates, updates and patches), after resolving the ids of conditional entries and
/// rewriting `urn:uuid:`, conditional and relative references. Outcomes are in entry order.
///
/// A relative reference (`Patient/123`) in an entry whose `fullUrl` is an absolute RESTful
/// URL resolves against that URL's base (FHIR R4 Bundle, "Resolving references in Bundles"):
/// when another entry's `fullUrl` is that base plus `Patient/123`, the reference is
/// rewritten to where that entry is written (e.g. the id a create was given).
pub(crate) fn transaction(
    tx: &mut WriterTx<'_>,
    ctx: &Ctx<'_>,
    mut entries: Vec<Entry>,
    mut index: Vec<Option<Vec<IndexEntry>>>,
) -> Result<Vec<Outcome>, StoreError> {
    // 1. Resolve the target of every create / update, so references can be rewritten.
    let mut targets: Vec<Target> = Vec::with_capacity(entries.len());
    let mut map: HashMap<String, String> = HashMap::new();
    // Per fullUrl base: relative `Type/id` → where it is written.
    let mut relative: HashMap<String, HashMap<String, String>> = HashMap::new();
    for e in &entries {
        let t = resolve_target(tx, &e.op)?;
        if let (Some(full), Some((rtype, id))) = (&e.full_url, t.key()) {
            map.insert(full.clone(), format!("{rtype}/{id}"));
            if let Some((base, rel)) = restful_url(full) {
                relative
                    .entry(base.to_string())
                    .or_default()
                    .insert(rel.to_string(), format!("{rtype}/{id}"));
            }
        }
        targets.push(t);
    }
    // 2. Rewrite references in the resources being written.
    if entries.len() > 1 || entries.iter().any(|e| has_conditional_refs(&e.op)) {
        for e in &mut entries {
            let base = e
                .full_url
                .as_deref()
                .and_then(restful_url)
                .map(|(b, _)| b.to_string());
            let rel = base.as_ref().and_then(|b| relative.get(b));
            if let Some(resource) = resource_mut(&mut e.op) {
                rewrite_references(tx, ctx, resource, &map, rel)?;
            }
        }
    }
    // 3. Execute: deletes, then creates, then updates and patches.
    let mut outcomes: Vec<Option<Outcome>> = vec![None; entries.len()];
    let order = |op: &WriteOp| match op {
        WriteOp::Delete { .. } | WriteOp::ConditionalDelete { .. } => 0,
        WriteOp::Create { .. } => 1,
        _ => 2,
    };
    let mut idx: Vec<usize> = (0..entries.len()).collect();
    idx.sort_by_key(|&i| order(&entries[i].op));
    let mut slots: Vec<Option<Entry>> = entries.into_iter().map(Some).collect();
    for i in idx {
        let entry = slots[i]
            .take()
            .ok_or_else(|| StoreError::Database("entry taken twice".into()))?;
        let target = std::mem::replace(&mut targets[i], Target::None);
        let prepared = index.get_mut(i).and_then(Option::take);
        outcomes[i] = Some(execute(tx, ctx, entry.op, target, prepared)?);
    }
    Ok(outcomes.into_iter().flatten().collect())
}

/// Where a create or update lands.
#[derive(Debug, Clone)]
enum Target {
    None,
    /// A new resource at this id.
    New(String, String),
    /// An existing (or deleted, or never seen) resource at this key.
    At(String, String),
    /// Conditional create matched this resource: nothing to write.
    Exists(String, String),
}

impl Target {
    fn key(&self) -> Option<(&str, &str)> {
        match self {
            Target::New(t, i) | Target::At(t, i) | Target::Exists(t, i) => Some((t, i)),
            Target::None => None,
        }
    }
}

fn resource_type_of(resource: &Value) -> Result<String, StoreError> {
    resource
        .get("resourceType")
        .and_then(Value::as_str)
        .map(String::from)
        .ok_or_else(|| StoreError::BadRequest("the resource has no resourceType".into()))
}

fn resolve_target(tx: &mut WriterTx<'_>, op: &WriteOp) -> Result<Target, StoreError> {
    Ok(match op {
        WriteOp::Create {
            resource,
            id,
            if_none_exist,
        } => {
            let rtype = resource_type_of(resource)?;
            match if_none_exist {
                Some(q) => {
                    let found = tx.search_keys(q, 2)?;
                    match found.len() {
                        0 => Target::New(rtype, id.clone()),
                        1 => Target::Exists(found[0].0.clone(), found[0].1.clone()),
                        n => {
                            return Err(StoreError::MultipleMatches {
                                operation: "create",
                                count: n,
                            })
                        }
                    }
                }
                None => Target::New(rtype, id.clone()),
            }
        }
        WriteOp::Update { rtype, id, .. } => Target::At(rtype.clone(), id.clone()),
        WriteOp::ConditionalUpdate {
            query,
            resource,
            new_id,
            ..
        } => {
            let found = tx.search_keys(query, 2)?;
            match found.len() {
                0 => {
                    let rtype = resource_type_of(resource)?;
                    let id = resource
                        .get("id")
                        .and_then(Value::as_str)
                        .map(String::from)
                        .unwrap_or_else(|| new_id.clone());
                    Target::At(rtype, id)
                }
                1 => {
                    if let Some(body_id) = resource.get("id").and_then(Value::as_str) {
                        if body_id != found[0].1 {
                            return Err(StoreError::IdMismatch {
                                url: found[0].1.clone(),
                                body: body_id.to_string(),
                            });
                        }
                    }
                    Target::At(found[0].0.clone(), found[0].1.clone())
                }
                n => {
                    return Err(StoreError::MultipleMatches {
                        operation: "update",
                        count: n,
                    })
                }
            }
        }
        WriteOp::Patch { rtype, id, .. } => Target::At(rtype.clone(), id.clone()),
        WriteOp::Delete { .. } | WriteOp::ConditionalDelete { .. } => Target::None,
    })
}

fn resource_mut(op: &mut WriteOp) -> Option<&mut Value> {
    match op {
        WriteOp::Create { resource, .. }
        | WriteOp::Update { resource, .. }
        | WriteOp::ConditionalUpdate { resource, .. } => Some(resource),
        _ => None,
    }
}

pub(crate) fn has_conditional_refs(op: &WriteOp) -> bool {
    fn walk(v: &Value) -> bool {
        match v {
            Value::Object(m) => m.iter().any(|(k, v)| {
                (k == "reference" && v.as_str().is_some_and(|s| s.contains('?'))) || walk(v)
            }),
            Value::Array(a) => a.iter().any(walk),
            _ => false,
        }
    }
    match op {
        WriteOp::Create { resource, .. }
        | WriteOp::Update { resource, .. }
        | WriteOp::ConditionalUpdate { resource, .. } => walk(resource),
        _ => false,
    }
}

/// Rewrite `Reference.reference` values: Bundle-local full URLs to the ids they became,
/// and conditional references (`Patient?identifier=...`) to the one resource they match.
fn rewrite_references(
    tx: &mut WriterTx<'_>,
    ctx: &Ctx<'_>,
    v: &mut Value,
    map: &HashMap<String, String>,
    relative: Option<&HashMap<String, String>>,
) -> Result<(), StoreError> {
    match v {
        Value::Object(m) => {
            for (k, child) in m.iter_mut() {
                if k == "reference" {
                    if let Value::String(s) = child {
                        if let Some(new) = map
                            .get(s.as_str())
                            .or_else(|| relative.and_then(|r| r.get(s.as_str())))
                        {
                            *s = new.clone();
                        } else if let Some((rtype, query)) = s.split_once('?') {
                            if !rtype.contains('/') && !rtype.contains(':') {
                                let params: Vec<(String, String)> =
                                    form_urlencoded::parse(query.as_bytes())
                                        .into_owned()
                                        .collect();
                                let q = SearchQuery::parse(ctx.registry, rtype, &params)?;
                                let found = tx.search_keys(&q, 2)?;
                                if found.len() != 1 {
                                    return Err(StoreError::ConditionalReference {
                                        reference: s.clone(),
                                        count: found.len(),
                                    });
                                }
                                *s = format!("{}/{}", found[0].0, found[0].1);
                            }
                        } else if s.starts_with("urn:uuid:") || s.starts_with("urn:oid:") {
                            return Err(StoreError::BadRequest(format!(
                                "the reference '{s}' does not match the fullUrl of any entry in the Bundle"
                            )));
                        }
                        continue;
                    }
                }
                rewrite_references(tx, ctx, child, map, relative)?;
            }
        }
        Value::Array(a) => {
            for child in a {
                rewrite_references(tx, ctx, child, map, relative)?;
            }
        }
        _ => {}
    }
    Ok(())
}

/// The patients a Binary's `securityContext` is about: the Patient it names, or the
/// patients of the resource it names as that resource is stored now.
fn security_context_patients(
    tx: &mut WriterTx<'_>,
    resource: &Value,
) -> Result<Vec<String>, StoreError> {
    let Some(r) = resource["securityContext"]["reference"].as_str() else {
        return Ok(Vec::new());
    };
    if let Some(p) = crate::compartment::patient_in_url(r) {
        return Ok(vec![p]);
    }
    let path = r.split(['?', '#']).next().unwrap_or(r);
    let mut segs = path.rsplit('/');
    let (Some(id), Some(rtype)) = (segs.next(), segs.next()) else {
        return Ok(Vec::new());
    };
    Ok(tx
        .current(rtype, id)?
        .filter(|v| v.op != Op::Delete)
        .map(|v| v.patients)
        .unwrap_or_default())
}

/// An absolute RESTful URL split into its base and `Type/id` (`http://x/fhir/Patient/1` →
/// (`http://x/fhir/`, `Patient/1`)); `None` for `urn:` and other URLs.
fn restful_url(url: &str) -> Option<(&str, &str)> {
    if !(url.starts_with("http://") || url.starts_with("https://")) {
        return None;
    }
    let path = url.split(['?', '#']).next()?;
    let (head, id) = path.rsplit_once('/')?;
    let (_, rtype) = head.rsplit_once('/')?;
    let starts_upper = rtype.chars().next().is_some_and(|c| c.is_ascii_uppercase());
    if !starts_upper || id.is_empty() || !rtype.chars().all(|c| c.is_ascii_alphabetic()) {
        return None;
    }
    let base_len = path.len() - rtype.len() - id.len() - 1;
    Some((&path[..base_len], &path[base_len..]))
}

fn check_if_match(
    if_match: &Option<String>,
    current: Option<&Version>,
    rtype: &str,
    id: &str,
) -> Result<(), StoreError> {
    let Some(expected) = if_match else {
        return Ok(());
    };
    let current_v = current
        .filter(|v| v.op != Op::Delete)
        .map(|v| v.version.to_string());
    if current_v.as_deref() != Some(expected.as_str()) {
        return Err(StoreError::VersionConflict {
            rtype: rtype.into(),
            id: id.into(),
            expected: expected.clone(),
            current: current_v.unwrap_or_else(|| "none".into()),
        });
    }
    Ok(())
}

fn execute(
    tx: &mut WriterTx<'_>,
    ctx: &Ctx<'_>,
    op: WriteOp,
    target: Target,
    prepared: Option<Vec<IndexEntry>>,
) -> Result<Outcome, StoreError> {
    match op {
        WriteOp::Create { resource, .. } => match target {
            Target::Exists(t, i) => {
                let v = tx
                    .current(&t, &i)?
                    .ok_or(StoreError::NotFound { rtype: t, id: i })?;
                ctx.access
                    .check(
                        &v.rtype,
                        false,
                        &v.patients,
                        v.restricted,
                        v.shared.as_deref(),
                    )
                    .map_err(|d| StoreError::denied(ctx.access, d))?;
                Ok(Outcome::Exists(v))
            }
            Target::New(t, i) => {
                let prev = tx.current(&t, &i)?;
                if prev.as_ref().is_some_and(|p| p.op != Op::Delete) {
                    return Err(StoreError::BadRequest(format!("{t}/{i} already exists")));
                }
                put(tx, ctx, &t, &i, resource, prev.as_ref(), prepared)
            }
            _ => Err(StoreError::Database("create without a target".into())),
        },
        WriteOp::Update {
            resource, if_match, ..
        }
        | WriteOp::ConditionalUpdate {
            resource, if_match, ..
        } => {
            let Target::At(rtype, id) = target else {
                return Err(StoreError::Database("update without a target".into()));
            };
            let prev = tx.current(&rtype, &id)?;
            // Decided before anything about the stored version is revealed (If-Match).
            may_change(ctx, &rtype, prev.as_ref())?;
            check_if_match(&if_match, prev.as_ref(), &rtype, &id)?;
            put(tx, ctx, &rtype, &id, resource, prev.as_ref(), prepared)
        }
        WriteOp::Patch {
            rtype,
            id,
            patch,
            if_match,
        } => {
            let prev = tx.current(&rtype, &id)?;
            match &prev {
                None => return Err(StoreError::NotFound { rtype, id }),
                Some(p) if p.op == Op::Delete => return Err(StoreError::Gone { rtype, id }),
                _ => {}
            }
            // Decided before the patch is tried on the stored version (a failing `test`
            // operation would otherwise reveal its content).
            may_change(ctx, &rtype, prev.as_ref())?;
            check_if_match(&if_match, prev.as_ref(), &rtype, &id)?;
            let body = prev
                .as_ref()
                .and_then(|p| p.body.as_deref())
                .unwrap_or("{}");
            let mut doc: Value =
                serde_json::from_str(body).map_err(|e| StoreError::Database(e.to_string()))?;
            let patch: json_patch::Patch = serde_json::from_value(patch)
                .map_err(|e| StoreError::Patch(format!("not a JSON Patch document: {e}")))?;
            json_patch::patch(&mut doc, &patch).map_err(|e| StoreError::Patch(e.to_string()))?;
            if doc.get("resourceType").and_then(Value::as_str) != Some(rtype.as_str())
                || doc.get("id").and_then(Value::as_str) != Some(id.as_str())
            {
                return Err(StoreError::Patch(
                    "a patch may not change resourceType or id".into(),
                ));
            }
            if let Some(issue) = fhir::validation::validate(&doc)
                .into_iter()
                .find(|i| i.severity == fhir::validation::Severity::Error)
            {
                return Err(StoreError::PatchedInvalid {
                    expression: issue.expression,
                    message: issue.message,
                });
            }
            put(tx, ctx, &rtype, &id, doc, prev.as_ref(), None)
        }
        WriteOp::Delete { rtype, id } => delete(tx, ctx, &rtype, &id),
        WriteOp::ConditionalDelete { query } => {
            let found = tx.search_keys(&query, 2)?;
            match found.len() {
                0 => Ok(Outcome::Deleted(None)),
                1 => delete(tx, ctx, &found[0].0, &found[0].1),
                n => Err(StoreError::MultipleMatches {
                    operation: "delete",
                    count: n,
                }),
            }
        }
    }
}

fn delete(
    tx: &mut WriterTx<'_>,
    ctx: &Ctx<'_>,
    rtype: &str,
    id: &str,
) -> Result<Outcome, StoreError> {
    if rtype == "AuditEvent" {
        return Err(StoreError::BadRequest(format!(
            "AuditEvent/{id} is an audit record: audit records are append-only and cannot be deleted"
        )));
    }
    let prev = tx.current(rtype, id)?;
    may_change(ctx, rtype, prev.as_ref())?;
    match prev {
        Some(p) if p.op != Op::Delete => {
            let version = p.version + 1;
            let seq = tx.write(NewVersion {
                rtype,
                id,
                version,
                last_updated: ctx.now,
                op: Op::Delete,
                body: None,
                index: &[],
                patients: &p.patients,
                restricted: p.restricted,
                shared: p.shared.as_deref(),
            })?;
            Ok(Outcome::Deleted(Some(Version {
                rtype: rtype.into(),
                id: id.into(),
                version,
                last_updated: ctx.now,
                op: Op::Delete,
                body: None,
                seq,
                patients: p.patients.clone(),
                restricted: p.restricted,
                shared: p.shared.clone(),
            })))
        }
        _ => Ok(Outcome::Deleted(None)),
    }
}

/// Write a new version of `rtype/id`: set `id` and `meta`, extract the index, append.
fn put(
    tx: &mut WriterTx<'_>,
    ctx: &Ctx<'_>,
    rtype: &str,
    id: &str,
    mut resource: Value,
    prev: Option<&Version>,
    prepared: Option<Vec<IndexEntry>>,
) -> Result<Outcome, StoreError> {
    if rtype == "AuditEvent" {
        if prev.is_some_and(|p| p.op != Op::Delete) {
            return Err(StoreError::BadRequest(format!(
                "AuditEvent/{id} is an audit record: audit records are append-only and cannot be changed"
            )));
        }
        if crate::audit::has_link(&resource) {
            return Err(StoreError::BadRequest(
                "the audit-chain extension is set by Tend when it records an event, not by clients"
                    .into(),
            ));
        }
        // Another system's event: appended to the audit log, decided like any write with
        // the patients it names.
        let patients = crate::audit_log::patients_of(&resource);
        may_change(ctx, rtype, prev)?;
        ctx.access
            .check(rtype, true, &patients, false, None)
            .map_err(|d| StoreError::denied(ctx.access, d))?;
        let (body, patients) = crate::audit_log::append_one(tx.conn, ctx.now, id, resource)?;
        return Ok(Outcome::Created(Version {
            rtype: rtype.into(),
            id: id.into(),
            version: 1,
            last_updated: ctx.now,
            op: Op::Create,
            body: Some(body),
            seq: 0,
            patients,
            restricted: false,
            shared: None,
        }));
    }
    let version = prev.map(|p| p.version + 1).unwrap_or(1);
    let obj = resource
        .as_object_mut()
        .ok_or_else(|| StoreError::BadRequest("a resource must be a JSON object".into()))?;
    obj.insert("id".into(), Value::String(id.into()));
    let meta = obj
        .entry("meta")
        .or_insert_with(|| Value::Object(Default::default()));
    if let Some(m) = meta.as_object_mut() {
        m.insert("versionId".into(), Value::String(version.to_string()));
        m.insert("lastUpdated".into(), Value::String(format_instant(ctx.now)));
    }
    // Keep resourceType and id first, as clients expect to see them.
    let index: Vec<IndexEntry> = match prepared {
        Some(p) => p,
        None => ctx.indexer.extract(&resource),
    };
    // Who the version is about, from its own references as search resolves them; the
    // caller must reach the patients of the stored version and of the new one. A new
    // Patient is a registration: no one reaches it yet, and that is no reason to refuse.
    let mut patients = crate::compartment::patients_of(rtype, id, &index);
    if rtype == "Binary" {
        // A Binary is about whom its security context is about (the R4 Patient compartment
        // lists no Binary; Tend decides its access as it does the context's).
        patients.extend(security_context_patients(tx, &resource)?);
        patients.sort();
        patients.dedup();
    }
    let restricted = access::sensitive(&resource);
    let shared = access::shared_with(&resource);
    may_change(ctx, rtype, prev)?;
    // A safety-event report keeps its reporter (or stays anonymous) whoever reviews it.
    if prev.is_some_and(|p| {
        p.op != Op::Delete && rtype == "AdverseEvent" && p.shared.as_deref() != shared.as_deref()
    }) {
        return Err(StoreError::BadRequest(
            "the reporter of a safety-event report cannot be changed".into(),
        ));
    }
    let registering = rtype == "Patient" && prev.is_none();
    let others: Vec<&String> = patients
        .iter()
        .filter(|p| !(registering && p.as_str() == id))
        .collect();
    ctx.access
        .check(rtype, true, &others, false, shared.as_deref())
        .map_err(|d| StoreError::denied(ctx.access, d))?;
    // A community partner answers a referral about its patient; it never moves a record to
    // another patient.
    if ctx.access.partner_of().is_some() {
        if let Some(p) = prev.filter(|p| p.patients != patients) {
            let moved_to = patients
                .iter()
                .find(|x| !p.patients.contains(x))
                .or(p.patients.first())
                .cloned()
                .unwrap_or_default();
            return Err(StoreError::denied(
                ctx.access,
                access::Denied::Patient(format!("Patient/{moved_to}")),
            ));
        }
    }
    let body = serde_json::to_string(&order_keys(resource))
        .map_err(|e| StoreError::Database(e.to_string()))?;
    let op = if prev.is_some_and(|p| p.op != Op::Delete) {
        Op::Update
    } else {
        Op::Create
    };
    let seq = tx.write(NewVersion {
        rtype,
        id,
        version,
        last_updated: ctx.now,
        op,
        body: Some(body.clone()),
        index: &index,
        patients: &patients,
        restricted,
        shared: shared.as_deref(),
    })?;
    let v = Version {
        rtype: rtype.into(),
        id: id.into(),
        version,
        last_updated: ctx.now,
        op,
        body: Some(body),
        seq,
        patients,
        restricted,
        shared,
    };
    Ok(if op == Op::Create {
        Outcome::Created(v)
    } else {
        Outcome::Updated(v)
    })
}

/// `resourceType`, `id`, `meta` first, then the rest in the client's order.
pub(crate) fn order_keys(v: Value) -> Value {
    let Value::Object(mut m) = v else { return v };
    let mut out = serde_json::Map::with_capacity(m.len());
    for k in ["resourceType", "id", "meta"] {
        if let Some(x) = m.shift_remove(k) {
            out.insert(k.to_string(), x);
        }
    }
    out.extend(m);
    Value::Object(out)
}
