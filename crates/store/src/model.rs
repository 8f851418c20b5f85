//! What the store keeps and returns: resource versions, change-log entries, write
//! operations and their outcomes (<https://hl7.org/fhir/R4/http.html>).

use search::SearchQuery;
use serde_json::Value;

/// One stored version of a resource. `body` is the resource JSON text with `id` and `meta`
/// (`versionId`, `lastUpdated`) set, or `None` for a deletion.
#[derive(Debug, Clone, PartialEq)]
pub struct Version {
    pub rtype: String,
    pub id: String,
    pub version: i64,
    /// ms since the epoch, UTC.
    pub last_updated: i64,
    pub op: Op,
    pub body: Option<String>,
    /// Position in the change log.
    pub seq: i64,
    /// The patients whose compartments hold this version (ids); a deletion keeps those of
    /// the version it deleted.
    pub patients: Vec<String>,
    /// Whether the version is restricted (sensitive, [`access::sensitive`]).
    pub restricted: bool,
    /// The community organisation (`Organization` id) the version is shared with
    /// ([`access::shared_with`]).
    pub shared: Option<String>,
}

/// What a version did to its resource.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Op {
    Create,
    Update,
    Delete,
}

impl Op {
    pub fn as_str(self) -> &'static str {
        match self {
            Op::Create => "create",
            Op::Update => "update",
            Op::Delete => "delete",
        }
    }

    pub fn parse(s: &str) -> Op {
        match s {
            "create" => Op::Create,
            "delete" => Op::Delete,
            _ => Op::Update,
        }
    }
}

/// One entry of the ordered change log: a committed version, by position.
#[derive(Debug, Clone, PartialEq)]
pub struct Change {
    pub seq: i64,
    pub rtype: String,
    pub id: String,
    pub version: i64,
    pub op: Op,
    pub last_updated: i64,
}

/// The scope of a history request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum HistoryScope {
    System,
    Type(String),
    Instance(String, String),
}

/// A history request (<https://hl7.org/fhir/R4/http.html#history>).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HistoryQuery {
    pub scope: HistoryScope,
    /// Only versions with `lastUpdated` ≥ this (ms).
    pub since: Option<i64>,
    pub count: usize,
    pub offset: usize,
}

/// One write, as the REST interactions and Bundle entries express it.
#[derive(Debug, Clone)]
pub enum WriteOp {
    /// create, with the server-assigned id given by the caller; `if_none_exist` makes it
    /// a conditional create.
    Create {
        resource: Value,
        id: String,
        if_none_exist: Option<SearchQuery>,
    },
    /// update (or create-on-update) at a known id.
    Update {
        rtype: String,
        id: String,
        resource: Value,
        if_match: Option<String>,
    },
    /// conditional update: the resource matching `query` (none: create with `new_id`).
    ConditionalUpdate {
        query: SearchQuery,
        resource: Value,
        new_id: String,
        if_match: Option<String>,
    },
    /// JSON Patch (RFC 6902) of the current version.
    Patch {
        rtype: String,
        id: String,
        patch: Value,
        if_match: Option<String>,
    },
    Delete {
        rtype: String,
        id: String,
    },
    ConditionalDelete {
        query: SearchQuery,
    },
}

/// The result of one successful write.
#[derive(Debug, Clone, PartialEq)]
pub enum Outcome {
    /// A new resource; `version` holds its first version.
    Created(Version),
    /// A new version of an existing resource.
    Updated(Version),
    /// Conditional create matched an existing resource: nothing written.
    Exists(Version),
    /// Deleted (None: there was nothing to delete).
    Deleted(Option<Version>),
}

impl Outcome {
    pub fn version(&self) -> Option<&Version> {
        match self {
            Outcome::Created(v) | Outcome::Updated(v) | Outcome::Exists(v) => Some(v),
            Outcome::Deleted(v) => v.as_ref(),
        }
    }
}

/// One entry of a transaction or batch Bundle, prepared by the caller: the write plus the
/// entry's `fullUrl` (for `urn:uuid:` reference rewriting).
#[derive(Debug, Clone)]
pub struct Entry {
    pub full_url: Option<String>,
    pub op: WriteOp,
}

impl Entry {
    /// An update at the resource's own type and id (created or replaced, no version
    /// check); `None` when the resource carries no type or id.
    pub fn put(resource: Value) -> Option<Entry> {
        Some(Entry {
            full_url: None,
            op: WriteOp::Update {
                rtype: resource.get("resourceType")?.as_str()?.to_string(),
                id: resource.get("id")?.as_str()?.to_string(),
                resource,
                if_match: None,
            },
        })
    }
}

/// A page of search results.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct SearchPage {
    /// Matches, in order: (type, id, body).
    pub matches: Vec<Hit>,
    /// Resources added by `_include` / `_revinclude`.
    pub included: Vec<Hit>,
    /// Total number of matches, when known.
    pub total: Option<usize>,
    /// Whether another page follows.
    pub has_more: bool,
}

/// One resource in a search result.
#[derive(Debug, Clone, PartialEq)]
pub struct Hit {
    pub rtype: String,
    pub id: String,
    pub body: String,
    /// The patients whose compartments hold it (ids).
    pub patients: Vec<String>,
}

/// One page of a Bulk Data export (<https://hl7.org/fhir/uv/bulkdata/export.html>): current
/// resources of one type, in storage order after a cursor, as far as the caller reaches.
#[derive(Debug, Clone)]
pub struct ExportQuery {
    pub rtype: String,
    /// Continue after this cursor (0 to start; each page returns the next).
    pub after: i64,
    pub limit: usize,
    /// Only resources last changed after this instant (ms): `_since` ("later than the
    /// supplied time", Bulk Data v2).
    pub since: Option<i64>,
    /// Only resources whose current version is at or before this change-log position: the
    /// export's snapshot ([`crate::Store::export_snapshot`]), so a resource changed while the
    /// export runs waits for the next `_since` export instead of being half-seen.
    pub upto: i64,
    pub scope: ExportScope,
}

/// Which resources an export takes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ExportScope {
    /// Every resource of the type (system-level export).
    Everything,
    /// Resources in any patient's compartment (`Patient/$export`).
    AnyPatient,
    /// Resources in these patients' compartments (`Group/[id]/$export`; ids, at most
    /// [`EXPORT_PATIENTS`] per query).
    Patients(Vec<String>),
}

/// The most patients one [`ExportScope::Patients`] query names.
pub const EXPORT_PATIENTS: usize = 500;
