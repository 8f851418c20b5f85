//! The access path under arbitrary requests, checked against a straightforward model.
//!
//! The world: patients A, B and C, each with two Observations, an Encounter, a CareTeam and
//! an AuditEvent (A's references relative, B's absolute URLs, C's versioned
//! `Patient/C/_history/1`), an Observation and a CareTeam about both A and B, and a Location
//! and a Practitioner about no patient. A [`Request`] is a caller (a role, a reach that is a
//! subset of {A, B, C}, perhaps a broken glass) and one store call: a read, vread, history,
//! search (parameters from a fixed list: references in every style, chains, `_has`,
//! `_include`, `_revinclude`, `_elements`, `_summary=count`, ...), a patient's compartment,
//! or a write of one to three entries (create, conditional create, update, conditional
//! update, patch, delete, conditional delete; atomic or each on its own; references
//! relative, absolute, versioned, conditional or to another entry's `fullUrl`).
//!
//! The model: a resource is about the patients its references name (anywhere in a
//! `reference`, in any of those styles) and, for a Patient, itself; a caller reaches its
//! chosen patients, or every patient when its role may break the glass and it did; the
//! privacy officer reaches AuditEvents by permission; registering a new Patient needs no
//! reach of that patient; which types a role may read or write is the role matrix
//! (`Role::fhir`).
//!
//! [`World::check`] holds the store to: nothing returned or counted (search totals,
//! history totals, conditional matches) is about a patient outside the reach; a successful
//! write is of a type the role may write and touches (before or after) no such patient; a
//! refused atomic write commits nothing; and the store never panics.
//!
//! Shared by the store's stable test (`tests/access_fuzz_seeds.rs`, fixed and
//! pseudo-random requests) and the fuzz target (`fuzz/fuzz_targets/access_path.rs`).

use std::collections::{BTreeMap, BTreeSet};
use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::Arc;

use access::{Permission, Principal, Role, Via};
use arbitrary::Arbitrary;
use search::{Indexer, Registry, SearchQuery};
use serde_json::{json, Value};
use store::{
    Access, Entry, HistoryQuery, HistoryScope, Mode, Outcome, Reach, Store, StoreError, Version,
    WriteOp,
};

/// The types of the world.
const TYPES: [Type; 6] = [
    Type::Patient,
    Type::Observation,
    Type::Encounter,
    Type::CareTeam,
    Type::AuditEvent,
    Type::Location,
];

/// One of the three patients.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Arbitrary)]
pub(crate) enum Pat {
    A,
    B,
    C,
}

impl Pat {
    fn id(self) -> &'static str {
        match self {
            Pat::A => "A",
            Pat::B => "B",
            Pat::C => "C",
        }
    }

    fn family(self) -> &'static str {
        match self {
            Pat::A => "Alpha",
            Pat::B => "Bravo",
            Pat::C => "Charlie",
        }
    }
}

/// How a reference to a patient is written.
#[derive(Debug, Clone, Copy, Arbitrary)]
pub(crate) enum Style {
    Relative,
    /// `https://tend.example.org/fhir/Patient/X`.
    Absolute,
    /// `Patient/X/_history/1`.
    Versioned,
    /// `Patient?identifier=urn:tend:mrn|X`, resolved by the writer.
    Conditional,
    /// The `fullUrl` of entry `n` of the same write (a write of one entry: the patient).
    Entry(u8),
}

/// A resource type of the world.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Arbitrary)]
pub(crate) enum Type {
    Patient,
    Observation,
    Encounter,
    CareTeam,
    AuditEvent,
    Location,
}

impl Type {
    fn name(self) -> &'static str {
        match self {
            Type::Patient => "Patient",
            Type::Observation => "Observation",
            Type::Encounter => "Encounter",
            Type::CareTeam => "CareTeam",
            Type::AuditEvent => "AuditEvent",
            Type::Location => "Location",
        }
    }
}

/// Which resource of a type.
#[derive(Debug, Clone, Copy, Arbitrary)]
pub(crate) enum Key {
    /// A patient's own (the patient itself, its Observation 0 or 1, ...).
    Of(Pat, bool),
    /// The Observation or CareTeam about both A and B.
    Both,
    /// The Location (other types: an id nobody wrote).
    Unowned,
    /// A new id, one of four.
    New(u8),
}

impl Key {
    fn id(self, t: Type) -> String {
        match (self, t) {
            (Key::Of(p, _), Type::Patient) => p.id().into(),
            (Key::Of(p, second), Type::Observation) => {
                format!("obs-{}-{}", p.id(), u8::from(second))
            }
            (Key::Of(p, _), Type::Encounter) => format!("enc-{}", p.id()),
            (Key::Of(p, _), Type::CareTeam) => format!("ct-{}", p.id()),
            (Key::Of(p, _), Type::AuditEvent) => format!("ae-{}", p.id()),
            (Key::Both, Type::Observation) => "obs-AB".into(),
            (Key::Both, Type::CareTeam) => "ct-AB".into(),
            (Key::Of(..) | Key::Both | Key::Unowned, Type::Location) => "loc-1".into(),
            (Key::Both | Key::Unowned, _) => "nobody".into(),
            (Key::New(n), _) => format!("new-{}", n % 4),
        }
    }
}

/// A role of the callers.
#[derive(Debug, Clone, Copy, Arbitrary)]
pub(crate) enum Who {
    Nurse,
    Physician,
    Navigator,
    PrivacyOfficer,
    QualityOfficer,
    /// A community partner (of an organisation nothing in the world is shared with): the
    /// directory and, of the record, its reached patients' contact details only.
    CommunityPartner,
}

impl Who {
    fn role(self) -> Role {
        match self {
            Who::Nurse => Role::Nurse,
            Who::Physician => Role::Physician,
            Who::Navigator => Role::Navigator,
            Who::PrivacyOfficer => Role::PrivacyOfficer,
            Who::QualityOfficer => Role::QualityOfficer,
            Who::CommunityPartner => Role::CommunityPartner,
        }
    }
}

/// Who asks: a role, the patients it reaches (A, B, C), and whether it broke the glass.
#[derive(Debug, Clone, Arbitrary)]
pub(crate) struct Caller {
    pub(crate) who: Who,
    pub(crate) reach: [bool; 3],
    pub(crate) break_glass: bool,
}

/// A search parameter from the fixed list (some only make sense on some types: the
/// store refuses the others).
#[derive(Debug, Clone, Copy, Arbitrary)]
pub(crate) enum Param {
    Subject(Pat, Style),
    Patient(Pat, Style),
    Performer(Pat),
    Participant(Pat),
    Id(Key),
    Code,
    Name(Pat),
    Identifier(Pat),
    /// `subject:Patient.name=FAMILY`.
    ChainName(Pat),
    /// `patient:Patient.identifier=urn:tend:mrn|X`.
    ChainIdentifier(Pat),
    /// `_has:Observation:subject:code=8867-4`.
    HasObservation,
    /// `_has:Observation:performer:code=8867-4`.
    HasPerformer,
    /// `_has:CareTeam:participant:status=active` (B through the CareTeam about A and B).
    HasCareTeam,
    /// `_include=TYPE:subject`.
    IncludeSubject,
    /// `_include=TYPE:patient`.
    IncludePatient,
    /// `_include=CareTeam:participant`.
    IncludeParticipant,
    IncludeAll,
    /// `_include:iterate=*`.
    IncludeIterate,
    /// `_revinclude=Observation:subject`.
    RevincludeObservation,
    /// `_revinclude=CareTeam:participant`.
    RevincludeCareTeam,
    /// `_revinclude=AuditEvent:patient`.
    RevincludeAudit,
    RevincludeAll,
    /// `_elements=id`.
    Elements,
    SummaryCount,
    TotalAccurate,
    Count(u8),
    /// `_sort=-_lastUpdated`.
    Sort,
}

/// The scope of a history request.
#[derive(Debug, Clone, Copy, Arbitrary)]
pub(crate) enum Scope {
    System,
    Type(Type),
    Instance(Type, Key),
}

/// A write interaction.
#[derive(Debug, Clone, Copy, Arbitrary)]
pub(crate) enum Kind {
    Create,
    CreateIfNoneExist(Param),
    Update,
    ConditionalUpdate(Param),
    Patch,
    Delete,
    ConditionalDelete(Param),
}

/// One entry of a write: the interaction, on which resource, the patient its body is
/// about (and perhaps a second one), how the reference is written, and whether the entry
/// has a `fullUrl` others may refer to.
#[derive(Debug, Clone, Copy, Arbitrary)]
pub(crate) struct Write {
    pub(crate) kind: Kind,
    pub(crate) rtype: Type,
    pub(crate) key: Key,
    pub(crate) about: Pat,
    pub(crate) style: Style,
    pub(crate) also: Option<Pat>,
    pub(crate) full_url: bool,
}

/// One store call.
#[derive(Debug, Clone, Arbitrary)]
pub(crate) enum Action {
    Read(Type, Key),
    Vread(Type, Key, u8),
    History(Scope, u8),
    /// A search with up to four parameters.
    Search(Type, Vec<Param>),
    /// A patient's compartment (`$everything`).
    Everything(Pat),
    /// An entry and up to two more, atomic (`true`) or each on its own.
    Write(Write, Vec<Write>, bool),
}

/// A caller and what it asks of the store.
#[derive(Debug, Clone, Arbitrary)]
pub(crate) struct Request {
    pub(crate) caller: Caller,
    pub(crate) action: Action,
}

/// A reference to `p` written in `style`; `entries` are the write's `fullUrl`s.
fn reference(p: Pat, style: Style, entries: &[Option<String>]) -> String {
    let id = p.id();
    match style {
        Style::Relative => format!("Patient/{id}"),
        Style::Absolute => format!("https://tend.example.org/fhir/Patient/{id}"),
        Style::Versioned => format!("Patient/{id}/_history/1"),
        Style::Conditional => format!("Patient?identifier=urn:tend:mrn|{id}"),
        Style::Entry(n) => match entries.get(usize::from(n) % entries.len().max(1)) {
            Some(Some(url)) => url.clone(),
            _ => format!("Patient/{id}"),
        },
    }
}

/// The `fullUrl` of entry `n`.
fn full_url(n: usize) -> String {
    format!("urn:uuid:00000000-0000-4000-8000-{n:012}")
}

/// A body of type `t` about the patient referred to as `about` (and `also`: an
/// Observation's performer, a CareTeam's participant, a Patient's link).
fn body(t: Type, about: &str, also: Option<&str>) -> Value {
    let mut b = match t {
        Type::Patient => json!({"resourceType": "Patient", "active": true,
            "identifier": [{"system": "urn:tend:mrn", "value": "new"}], "name": [{"family": "New"}]}),
        Type::Observation => json!({"resourceType": "Observation", "status": "final",
            "code": {"coding": [{"system": "http://loinc.org", "code": "8867-4"}]},
            "subject": {"reference": about}, "effectiveDateTime": "2026-01-01T08:00:00Z",
            "valueQuantity": {"value": 80, "unit": "/min", "system": "http://unitsofmeasure.org", "code": "/min"}}),
        Type::Encounter => json!({"resourceType": "Encounter", "status": "in-progress",
            "class": {"system": "http://terminology.hl7.org/CodeSystem/v3-ActCode", "code": "IMP"},
            "subject": {"reference": about}, "location": [{"location": {"reference": "Location/loc-1"}}]}),
        Type::CareTeam => json!({"resourceType": "CareTeam", "status": "active",
            "subject": {"reference": about},
            "participant": [{"member": {"reference": "Practitioner/pr-1"}}]}),
        Type::AuditEvent => json!({"resourceType": "AuditEvent",
            "type": {"system": "http://dicom.nema.org/resources/ontology/DCM", "code": "110110"},
            "recorded": "2026-01-01T08:00:00Z",
            "agent": [{"who": {"reference": "Practitioner/pr-1"}, "requestor": true}],
            "source": {"observer": {"display": "Tend"}},
            "entity": [{"what": {"reference": about}}]}),
        Type::Location => json!({"resourceType": "Location", "name": "Ward", "status": "active"}),
    };
    if let Some(other) = also {
        match t {
            Type::Patient => {
                b["link"] = json!([{"other": {"reference": other}, "type": "seealso"}])
            }
            Type::Observation => b["performer"] = json!([{"reference": other}]),
            Type::CareTeam => b["participant"] = json!([{"member": {"reference": other}}]),
            _ => {}
        }
    }
    b
}

/// The world's resources.
fn seed() -> Vec<Value> {
    let mut out = vec![
        json!({"resourceType": "Location", "id": "loc-1", "name": "Ward 1", "status": "active"}),
        json!({"resourceType": "Practitioner", "id": "pr-1", "name": [{"family": "Nurse"}]}),
    ];
    for (p, style) in [
        (Pat::A, Style::Relative),
        (Pat::B, Style::Absolute),
        (Pat::C, Style::Versioned),
    ] {
        let r = reference(p, style, &[]);
        out.push(json!({"resourceType": "Patient", "id": p.id(),
            "identifier": [{"system": "urn:tend:mrn", "value": p.id()}],
            "name": [{"family": p.family()}]}));
        for t in [
            Type::Observation,
            Type::Encounter,
            Type::CareTeam,
            Type::AuditEvent,
        ] {
            let mut b = body(t, &r, None);
            b["id"] = json!(Key::Of(p, false).id(t));
            out.push(b);
        }
        let mut second = body(Type::Observation, &r, None);
        second["id"] = json!(Key::Of(p, true).id(Type::Observation));
        second["code"]["coding"][0]["code"] = json!("9279-1");
        out.push(second);
    }
    for t in [Type::Observation, Type::CareTeam] {
        let mut b = body(t, "Patient/A", Some("Patient/B"));
        b["id"] = json!(Key::Both.id(t));
        out.push(b);
    }
    out
}

/// The search parameter `p` on type `t` as `name=value`.
fn param(p: Param, t: Type) -> (String, String) {
    let r = |p: Pat, s: Style| reference(p, s, &[]);
    let (n, v) = match p {
        Param::Subject(p, s) => ("subject".to_string(), r(p, s)),
        Param::Patient(p, s) => ("patient".into(), r(p, s)),
        Param::Performer(p) => ("performer".into(), r(p, Style::Relative)),
        Param::Participant(p) => ("participant".into(), r(p, Style::Relative)),
        Param::Id(k) => ("_id".into(), k.id(t)),
        Param::Code => ("code".into(), "http://loinc.org|8867-4".into()),
        Param::Name(p) => ("name".into(), p.family().into()),
        Param::Identifier(p) => ("identifier".into(), format!("urn:tend:mrn|{}", p.id())),
        Param::ChainName(p) => ("subject:Patient.name".into(), p.family().into()),
        Param::ChainIdentifier(p) => (
            "patient:Patient.identifier".into(),
            format!("urn:tend:mrn|{}", p.id()),
        ),
        Param::HasObservation => ("_has:Observation:subject:code".into(), "8867-4".into()),
        Param::HasPerformer => ("_has:Observation:performer:code".into(), "8867-4".into()),
        Param::HasCareTeam => ("_has:CareTeam:participant:status".into(), "active".into()),
        Param::IncludeSubject => ("_include".into(), format!("{}:subject", t.name())),
        Param::IncludePatient => ("_include".into(), format!("{}:patient", t.name())),
        Param::IncludeParticipant => ("_include".into(), "CareTeam:participant".into()),
        Param::IncludeAll => ("_include".into(), "*".into()),
        Param::IncludeIterate => ("_include:iterate".into(), "*".into()),
        Param::RevincludeObservation => ("_revinclude".into(), "Observation:subject".into()),
        Param::RevincludeCareTeam => ("_revinclude".into(), "CareTeam:participant".into()),
        Param::RevincludeAudit => ("_revinclude".into(), "AuditEvent:patient".into()),
        Param::RevincludeAll => ("_revinclude".into(), "*".into()),
        Param::Elements => ("_elements".into(), "id".into()),
        Param::SummaryCount => ("_summary".into(), "count".into()),
        Param::TotalAccurate => ("_total".into(), "accurate".into()),
        Param::Count(n) => ("_count".into(), (n % 4).to_string()),
        Param::Sort => ("_sort".into(), "-_lastUpdated".into()),
    };
    (n, v)
}

/// Whether a parameter selects resources (rather than shaping the result).
fn selects(name: &str) -> bool {
    !matches!(
        name,
        "_include"
            | "_include:iterate"
            | "_revinclude"
            | "_elements"
            | "_summary"
            | "_total"
            | "_count"
            | "_sort"
    )
}

fn query(t: Type, params: &[(String, String)]) -> Option<SearchQuery> {
    SearchQuery::parse(Registry::r4(), t.name(), params).ok()
}

/// The patients a resource is about, by the model: every `Patient/X` its references name
/// (relative, absolute, versioned), and itself when it is a Patient.
fn patients_of(resource: &Value) -> BTreeSet<String> {
    fn walk(v: &Value, out: &mut BTreeSet<String>) {
        match v {
            Value::Object(m) => {
                if let Some(r) = m.get("reference").and_then(Value::as_str) {
                    out.extend(patient_in(r));
                }
                m.values().for_each(|x| walk(x, out));
            }
            Value::Array(a) => a.iter().for_each(|x| walk(x, out)),
            _ => {}
        }
    }
    let mut out = BTreeSet::new();
    if resource["resourceType"] == "Patient" {
        if let Some(id) = resource["id"].as_str() {
            out.insert(id.to_string());
        }
    }
    walk(resource, &mut out);
    out
}

/// `X` of `…Patient/X` or `…Patient/X/_history/N`.
fn patient_in(reference: &str) -> Option<String> {
    let path = reference.split(['?', '#']).next()?;
    let path = path.split("/_history/").next()?;
    let (rest, id) = path.rsplit_once('/')?;
    (rest == "Patient" || rest.ends_with("/Patient"))
        .then(|| id.to_string())
        .filter(|id| !id.is_empty())
}

/// What the model lets one caller see.
struct Model {
    role: Role,
    /// `None`: every patient.
    reach: Option<BTreeSet<String>>,
}

impl Model {
    fn new(c: &Caller) -> Model {
        let role = c.who.role();
        let glass = c.break_glass && role.grants(Permission::BreakGlass);
        let reach = (!glass).then(|| {
            [Pat::A, Pat::B, Pat::C]
                .into_iter()
                .zip(c.reach)
                .filter(|(_, r)| *r)
                .map(|(p, _)| p.id().to_string())
                .collect()
        });
        Model { role, reach }
    }

    /// The first patient of `patients` outside the reach, for a resource of `rtype`.
    fn outside<'a>(
        &self,
        rtype: &str,
        patients: impl IntoIterator<Item = &'a String>,
    ) -> Option<String> {
        if rtype == "AuditEvent" && self.role.grants(Permission::AuditRead) {
            return None;
        }
        let reach = self.reach.as_ref()?;
        patients.into_iter().find(|p| !reach.contains(*p)).cloned()
    }
}

/// What a request came to, so that a test can tell its requests exercised the store.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) enum Effect {
    /// Nothing to run (a parameter the type does not have) or nothing found.
    Nothing,
    /// The store refused or failed.
    Refused,
    /// Resources or versions were returned, or a count.
    Returned,
    /// At least one entry was written.
    Wrote,
}

/// [`Effect::Returned`] when anything was, else [`Effect::Nothing`].
fn returned_if(any: bool) -> Effect {
    if any {
        Effect::Returned
    } else {
        Effect::Nothing
    }
}

/// A store with the world written, and a clock that moves one second per reading.
pub(crate) struct World {
    pub(crate) store: Arc<dyn Store>,
    _dir: tempfile::TempDir,
}

struct StepClock(AtomicI64);

impl store::Clock for StepClock {
    fn now_ms(&self) -> i64 {
        self.0.fetch_add(1000, Ordering::SeqCst)
    }
}

impl World {
    /// Open an SQLite store in a temporary directory and write the world.
    pub(crate) fn open() -> World {
        let dir = tempfile::tempdir().expect("a temporary directory");
        let options = store::Options {
            clock: Arc::new(StepClock(AtomicI64::new(1_767_225_600_000))),
            indexer: Arc::new(Indexer::new(Registry::r4()).expect("indexer")),
            readers: 2,
        };
        let url = format!("sqlite://{}", dir.path().join("tend.db").display());
        let store = store::open(&url, options).expect("store opens");
        let entries = seed()
            .into_iter()
            .map(|resource| Entry {
                full_url: None,
                op: WriteOp::Update {
                    rtype: resource["resourceType"].as_str().unwrap().to_string(),
                    id: resource["id"].as_str().unwrap().to_string(),
                    resource,
                    if_match: None,
                },
            })
            .collect();
        store
            .write(&Access::system(), entries, Mode::Atomic)
            .expect("the world is written");
        World { store, _dir: dir }
    }

    /// Run `r` and hold the store to the model: what it came to, or the first violation
    /// in words.
    pub(crate) fn check(&self, r: &Request) -> Result<Effect, String> {
        let model = Model::new(&r.caller);
        let access = caller(&r.caller);
        let s = &*self.store;
        let version = |found: Result<Option<Version>, StoreError>, what: &str| match found {
            Ok(Some(v)) => self.returned(&model, &v, what).map(|()| Effect::Returned),
            Ok(None) => Ok(Effect::Nothing),
            Err(_) => Ok(Effect::Refused),
        };
        match &r.action {
            Action::Read(t, k) => version(s.read(&access, t.name(), &k.id(*t)), "read"),
            Action::Vread(t, k, n) => {
                let found = s.vread(&access, t.name(), &k.id(*t), i64::from(n % 4));
                version(found, "vread")
            }
            Action::History(scope, count) => self.history(&model, &access, *scope, *count),
            Action::Search(t, params) => self.search(&model, &access, *t, params),
            Action::Everything(p) => match s.compartment(&access, p.id()) {
                Ok(hits) => {
                    for h in &hits {
                        self.current(&model, &h.rtype, &h.id, &h.patients, "$everything")?;
                    }
                    Ok(returned_if(!hits.is_empty()))
                }
                Err(_) => Ok(Effect::Refused),
            },
            Action::Write(first, more, atomic) => {
                let writes: Vec<Write> = std::iter::once(*first)
                    .chain(more.iter().take(2).copied())
                    .collect();
                self.write(&model, &access, &writes, *atomic)
            }
        }
    }

    /// A version the caller was given: its type readable, its patients (the store's and
    /// the model's, from its body) within the reach.
    fn returned(&self, model: &Model, v: &Version, what: &str) -> Result<(), String> {
        if !model.role.fhir(&v.rtype, false) {
            return Err(format!(
                "{what} returned {}/{}, a type the role may not read",
                v.rtype, v.id
            ));
        }
        let mut patients: BTreeSet<String> = v.patients.iter().cloned().collect();
        if let Some(b) = &v.body {
            patients.extend(patients_of(&serde_json::from_str(b).unwrap_or_default()));
        }
        match model.outside(&v.rtype, &patients) {
            Some(p) => Err(format!(
                "{what} returned {}/{} version {}, about Patient/{p}",
                v.rtype, v.id, v.version
            )),
            None => Ok(()),
        }
    }

    /// A current resource the caller was given, judged by its whole stored body (what it
    /// was given may be cut down by `_elements`).
    fn current(
        &self,
        model: &Model,
        rtype: &str,
        id: &str,
        patients: &[String],
        what: &str,
    ) -> Result<(), String> {
        let stored = self.store.read(&Access::system(), rtype, id);
        let mut v = match stored {
            Ok(Some(v)) => v,
            _ => return Err(format!("{what} returned {rtype}/{id}, which is not stored")),
        };
        v.patients.extend(patients.iter().cloned());
        self.returned(model, &v, what)
    }

    fn history(
        &self,
        model: &Model,
        access: &Access,
        scope: Scope,
        count: u8,
    ) -> Result<Effect, String> {
        let scope = match scope {
            Scope::System => HistoryScope::System,
            Scope::Type(t) => HistoryScope::Type(t.name().into()),
            Scope::Instance(t, k) => HistoryScope::Instance(t.name().into(), k.id(t)),
        };
        let q = |count| HistoryQuery {
            scope: scope.clone(),
            since: None,
            count,
            offset: 0,
        };
        let Ok((versions, total)) = self.store.history(access, &q(usize::from(count % 8))) else {
            return Ok(Effect::Refused);
        };
        for v in &versions {
            self.returned(model, v, "history")?;
        }
        let (all, _) = self
            .store
            .history(&Access::system(), &q(100_000))
            .map_err(|e| format!("system history: {e}"))?;
        let visible = all
            .iter()
            .filter(|v| self.returned(model, v, "").is_ok())
            .count();
        if total > visible {
            return Err(format!(
                "history counted {total} versions where the caller may see {visible}"
            ));
        }
        Ok(returned_if(total > 0 || !versions.is_empty()))
    }

    fn search(
        &self,
        model: &Model,
        access: &Access,
        t: Type,
        params: &[Param],
    ) -> Result<Effect, String> {
        // Parameters the type does not have are left out, so the rest is still asked.
        let params: Vec<(String, String)> = params
            .iter()
            .take(4)
            .map(|p| param(*p, t))
            .filter(|p| query(t, std::slice::from_ref(p)).is_some())
            .collect();
        let Some(q) = query(t, &params) else {
            return Ok(Effect::Nothing);
        };
        let Ok(page) = self.store.search(access, &q) else {
            return Ok(Effect::Refused);
        };
        let what = format!("search {}?{}", t.name(), encode(&params));
        for h in page.matches.iter().chain(&page.included) {
            self.current(model, &h.rtype, &h.id, &h.patients, &what)?;
        }
        // The same selection as Tend itself, every match: what the caller may count.
        let mut plain: Vec<(String, String)> =
            params.iter().filter(|(n, _)| selects(n)).cloned().collect();
        plain.push(("_count".into(), "1000".into()));
        let all = query(t, &plain)
            .ok_or_else(|| format!("{what}: the selection alone does not parse"))?;
        let all = self
            .store
            .search(&Access::system(), &all)
            .map_err(|e| format!("{what}: as Tend: {e}"))?;
        let mut visible: BTreeSet<(&str, &str)> = all
            .matches
            .iter()
            .filter(|h| {
                self.current(model, &h.rtype, &h.id, &h.patients, "")
                    .is_ok()
            })
            .map(|h| (h.rtype.as_str(), h.id.as_str()))
            .collect();
        // `_has` may only be met by resources the caller may see.
        for (name, value) in params.iter().filter(|(n, _)| n.starts_with("_has:")) {
            let mut kept = BTreeSet::new();
            for key in visible {
                if self.has_visible(model, name, value, key.1)? {
                    kept.insert(key);
                }
            }
            visible = kept;
        }
        if let Some(h) = page
            .matches
            .iter()
            .find(|h| !visible.contains(&(h.rtype.as_str(), h.id.as_str())))
        {
            return Err(format!(
                "{what} matched {}/{}, outside what the caller may see",
                h.rtype, h.id
            ));
        }
        match page.total {
            Some(total) if total > visible.len() => Err(format!(
                "{what} counted {total} where the caller may see {}",
                visible.len()
            )),
            total => Ok(returned_if(
                total.unwrap_or(0) > 0 || !page.matches.is_empty() || !page.included.is_empty(),
            )),
        }
    }

    /// Whether `_has:TYPE:REF:PARAM=value` is met for patient `id` by a resource the
    /// caller may see.
    fn has_visible(
        &self,
        model: &Model,
        name: &str,
        value: &str,
        id: &str,
    ) -> Result<bool, String> {
        let parts: Vec<&str> = name.split(':').collect();
        let [_, rtype, reference, param] = parts[..] else {
            return Err(format!("{name} is not a _has parameter"));
        };
        let params = [
            (reference.to_string(), format!("Patient/{id}")),
            (param.to_string(), value.to_string()),
            ("_count".to_string(), "1000".to_string()),
        ];
        let q = SearchQuery::parse(Registry::r4(), rtype, &params).map_err(|e| e.to_string())?;
        let hits = self
            .store
            .search(&Access::system(), &q)
            .map_err(|e| e.to_string())?;
        Ok(hits.matches.iter().any(|h| {
            self.current(model, &h.rtype, &h.id, &h.patients, "")
                .is_ok()
        }))
    }

    fn write(
        &self,
        model: &Model,
        access: &Access,
        writes: &[Write],
        atomic: bool,
    ) -> Result<Effect, String> {
        let urls: Vec<Option<String>> = writes
            .iter()
            .enumerate()
            .map(|(i, w)| w.full_url.then(|| full_url(i)))
            .collect();
        let mut entries = Vec::new();
        let mut conditions = Vec::new();
        for (w, url) in writes.iter().zip(&urls) {
            let Some((op, condition)) = write_op(w, &urls) else {
                return Ok(Effect::Nothing);
            };
            entries.push(Entry {
                full_url: url.clone(),
                op,
            });
            conditions.push(condition);
        }
        let what = format!("write {writes:?}");
        let before = self.snapshot();
        let seq = self.store.commits().latest();
        let mode = if atomic {
            Mode::Atomic
        } else {
            Mode::Independent
        };
        let results = match self.store.write(access, entries, mode) {
            Ok(results) => results,
            Err(e) => {
                let after = self.store.changes(seq, 10).map_err(|e| e.to_string())?;
                if atomic && !after.is_empty() {
                    return Err(format!("{what} was refused ({e}) but committed {after:?}"));
                }
                // Which entry failed is not said: its condition is known when only one
                // entry has one.
                let mut conditional = conditions.iter().flatten();
                let condition = conditional.next().filter(|_| conditional.next().is_none());
                self.refusal(model, &e, condition, &what)?;
                return Ok(Effect::Refused);
            }
        };
        let mut effect = Effect::Nothing;
        for (result, condition) in results.iter().zip(&conditions) {
            let this = match result {
                Ok(outcome) => self.outcome(model, outcome, &before, &what)?,
                Err(e) => {
                    self.refusal(model, e, condition.as_ref(), &what)?;
                    Effect::Refused
                }
            };
            effect = effect.max(this);
        }
        Ok(effect)
    }

    /// A successful write was of a type the role may write and touched only patients
    /// within the reach, before and after; a conditional create that found a resource
    /// returned it.
    fn outcome(
        &self,
        model: &Model,
        outcome: &Outcome,
        before: &BTreeMap<(String, String), BTreeSet<String>>,
        what: &str,
    ) -> Result<Effect, String> {
        let Some(v) = outcome.version() else {
            return Ok(Effect::Nothing);
        };
        if let Outcome::Exists(v) = outcome {
            return self.returned(model, v, what).map(|()| Effect::Returned);
        }
        if !model.role.fhir(&v.rtype, true) {
            return Err(format!(
                "{what} wrote {}/{}, a type the role may not write",
                v.rtype, v.id
            ));
        }
        let key = (v.rtype.clone(), v.id.clone());
        let mut touched: BTreeSet<String> = v.patients.iter().cloned().collect();
        touched.extend(before.get(&key).into_iter().flatten().cloned());
        if let Ok(Some(stored)) = self
            .store
            .vread(&Access::system(), &v.rtype, &v.id, v.version)
        {
            if let Some(b) = &stored.body {
                touched.extend(patients_of(&serde_json::from_str(b).unwrap_or_default()));
            }
        }
        // A new Patient is a registration: no one reaches it yet, and that is no reason
        // to refuse (its links to other patients still need them).
        if v.rtype == "Patient" && v.version == 1 {
            touched.remove(&v.id);
        }
        match model.outside(&v.rtype, &touched) {
            Some(p) => Err(format!(
                "{what} wrote {}/{} about Patient/{p}",
                v.rtype, v.id
            )),
            None => Ok(Effect::Wrote),
        }
    }

    /// A refusal counts no more matches than the caller may see: of a conditional write's
    /// search, or of a conditional reference (`Patient?identifier=...`).
    fn refusal(
        &self,
        model: &Model,
        e: &StoreError,
        condition: Option<&Condition>,
        what: &str,
    ) -> Result<(), String> {
        let (count, t, mut params) = match (e, condition) {
            (StoreError::MultipleMatches { count, .. }, Some((t, params))) => {
                (*count, *t, params.clone())
            }
            (StoreError::ConditionalReference { reference, count }, _) => {
                let Some(("Patient", query)) = reference.split_once('?') else {
                    return Ok(());
                };
                let params = form_urlencoded::parse(query.as_bytes())
                    .into_owned()
                    .collect();
                (*count, Type::Patient, params)
            }
            _ => return Ok(()),
        };
        params.retain(|(n, _)| selects(n));
        params.push(("_count".into(), "1000".into()));
        let Some(q) = query(t, &params) else {
            return Ok(());
        };
        let all = self
            .store
            .search(&Access::system(), &q)
            .map_err(|e| e.to_string())?;
        let visible = all
            .matches
            .iter()
            .filter(|h| {
                self.current(model, &h.rtype, &h.id, &h.patients, "")
                    .is_ok()
            })
            .count();
        if count > visible {
            return Err(format!("{what}: {e}, where the caller may see {visible}"));
        }
        Ok(())
    }

    /// Every current resource of the world and the patients the model says it is about.
    fn snapshot(&self) -> BTreeMap<(String, String), BTreeSet<String>> {
        let mut out = BTreeMap::new();
        for t in TYPES {
            let (hits, _) = self.store.scan(t.name(), 0, 100_000).unwrap_or_default();
            for h in hits {
                let mut patients = patients_of(&serde_json::from_str(&h.body).unwrap_or_default());
                patients.extend(h.patients);
                out.insert((h.rtype, h.id), patients);
            }
        }
        out
    }
}

/// The store's access for a caller.
fn caller(c: &Caller) -> Access {
    let principal = Principal {
        id: "caller".into(),
        name: "Caller".into(),
        role: c.who.role(),
        practitioner: Some("Practitioner/pr-1".into()),
        wards: vec![],
        organization: (c.who.role() == Role::CommunityPartner).then(|| "cbo-partner".to_string()),
        scopes: None,
        via: Via::Session,
    };
    let reach = [Pat::A, Pat::B, Pat::C]
        .into_iter()
        .zip(c.reach)
        .filter(|(_, r)| *r)
        .map(|(p, _)| p.id().to_string())
        .collect();
    let glass = c
        .break_glass
        .then(|| "patient collapsed on the corridor".to_string());
    Access::caller(principal, Reach::Patients(reach), glass)
}

/// The search of a conditional write: its type and parameters.
type Condition = (Type, Vec<(String, String)>);

/// The store's write of `w` and, for a conditional one, its condition.
fn write_op(w: &Write, urls: &[Option<String>]) -> Option<(WriteOp, Option<Condition>)> {
    let t = w.rtype;
    let about = reference(w.about, w.style, urls);
    let also = w.also.map(|p| reference(p, Style::Relative, urls));
    let resource = body(t, &about, also.as_deref());
    let id = w.key.id(t);
    // A condition the type does not have becomes `_id=ID`.
    let condition = |p: Param| {
        let params = vec![param(p, t)];
        query(t, &params)
            .map(|q| (q, Some((t, params))))
            .or_else(|| {
                let params = vec![("_id".to_string(), id.clone())];
                query(t, &params).map(|q| (q, Some((t, params))))
            })
    };
    Some(match w.kind {
        Kind::Create => (
            WriteOp::Create {
                resource,
                id,
                if_none_exist: None,
            },
            None,
        ),
        Kind::CreateIfNoneExist(p) => {
            let (q, c) = condition(p)?;
            (
                WriteOp::Create {
                    resource,
                    id,
                    if_none_exist: Some(q),
                },
                c,
            )
        }
        Kind::Update => {
            let mut resource = resource;
            resource["id"] = json!(id);
            (
                WriteOp::Update {
                    rtype: t.name().into(),
                    id,
                    resource,
                    if_match: None,
                },
                None,
            )
        }
        Kind::ConditionalUpdate(p) => {
            let (query, c) = condition(p)?;
            (
                WriteOp::ConditionalUpdate {
                    query,
                    resource,
                    new_id: id,
                    if_match: None,
                },
                c,
            )
        }
        Kind::Patch => {
            let patch = match t {
                Type::Patient => json!([{"op": "replace", "path": "/active", "value": false}]),
                Type::Location => json!([{"op": "replace", "path": "/name", "value": "Ward 2"}]),
                Type::AuditEvent => json!([{"op": "add", "path": "/outcome", "value": "0"}]),
                _ => json!([{"op": "replace", "path": "/subject", "value": {"reference": about}}]),
            };
            (
                WriteOp::Patch {
                    rtype: t.name().into(),
                    id,
                    patch,
                    if_match: None,
                },
                None,
            )
        }
        Kind::Delete => (
            WriteOp::Delete {
                rtype: t.name().into(),
                id,
            },
            None,
        ),
        Kind::ConditionalDelete(p) => {
            let (query, c) = condition(p)?;
            (WriteOp::ConditionalDelete { query }, c)
        }
    })
}

fn encode(params: &[(String, String)]) -> String {
    params
        .iter()
        .map(|(n, v)| format!("{n}={v}"))
        .collect::<Vec<_>>()
        .join("&")
}
