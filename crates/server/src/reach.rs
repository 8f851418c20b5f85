//! Care relationships: which patients a person reaches now. Found from the record with
//! Tend's own access (the store's compartment facts of in-progress Encounters and active
//! CareTeams), from the outreach worklist, and from the person's web break-the-glass grants;
//! kept for a short while per person. The result is the [`Reach`] of the caller's
//! [`access::Access`], with which the store decides every read and write.

use std::collections::{BTreeSet, HashMap};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use access::{Permission, Principal, Reach, Relationship, Role};
use search::SearchQuery;
use store::{Access, Hit};

use crate::{ApiError, AppState};

/// How long a person's care relationships are reused.
const TTL: Duration = Duration::from_secs(30);
/// How long a web break-the-glass grant lasts.
pub(crate) const GLASS_TTL: Duration = Duration::from_secs(8 * 3600);
/// Page size of the internal searches (every page is read).
const PAGE: usize = 1000;

/// Who reaches which patients, as last found, and web break-the-glass grants.
#[derive(Default)]
pub(crate) struct Relationships {
    found: Mutex<HashMap<String, (Arc<Relations>, Instant)>>,
    /// (user, patient id) → (reason, when).
    glass: Mutex<HashMap<(String, String), (String, Instant)>>,
}

/// One person's care relationships: patient id → why.
#[derive(Debug, Default)]
pub(crate) struct Relations(HashMap<String, Relationship>);

impl Relationships {
    /// A web break-the-glass grant for `patient` (id).
    pub(crate) fn grant(&self, user: &str, patient: &str, reason: &str) {
        if let Ok(mut m) = self.glass.lock() {
            m.retain(|_, (_, at)| at.elapsed() < GLASS_TTL);
            m.insert(
                (user.to_string(), patient.to_string()),
                (reason.to_string(), Instant::now()),
            );
        }
    }

    fn glass_of(&self, user: &str) -> Vec<(String, String)> {
        self.glass
            .lock()
            .map(|m| {
                m.iter()
                    .filter(|((u, _), (_, at))| u == user && at.elapsed() < GLASS_TTL)
                    .map(|((_, p), (r, _))| (p.clone(), r.clone()))
                    .collect()
            })
            .unwrap_or_default()
    }

    /// The person's relations, found again when older than the TTL (shared, not copied:
    /// a navigator's outreach list holds thousands). Blocking.
    pub(crate) fn of(&self, state: &AppState, p: &Principal) -> Result<Arc<Relations>, ApiError> {
        if let Some((r, at)) = self.found.lock().ok().and_then(|m| m.get(&p.id).cloned()) {
            if at.elapsed() < TTL {
                return Ok(r);
            }
        }
        self.find_again(state, p)
    }

    /// The person's relations, found again now (a live stream met a patient it did not
    /// know: perhaps one just admitted to the person's ward). Blocking.
    pub(crate) fn find_again(
        &self,
        state: &AppState,
        p: &Principal,
    ) -> Result<Arc<Relations>, ApiError> {
        let r = Arc::new(find(state, p)?);
        if let Ok(mut m) = self.found.lock() {
            if m.len() > 10_000 {
                m.clear();
            }
            m.insert(p.id.clone(), (r.clone(), Instant::now()));
        }
        Ok(r)
    }

    /// Why `p` reaches `patient` (`Patient/ID` or an id), if they do. Blocking.
    pub(crate) fn relationship(
        &self,
        state: &AppState,
        p: &Principal,
        patient: &str,
    ) -> Result<Option<Relationship>, ApiError> {
        let id = patient.trim_start_matches("Patient/");
        if let Some((_, reason)) = self.glass_of(&p.id).into_iter().find(|(g, _)| g == id) {
            return Ok(Some(Relationship::BrokeGlass { reason }));
        }
        Ok(self.of(state, p)?.0.get(id).cloned())
    }

    /// The patients `p` reaches now through care relationships (roles that never read
    /// charts: none, without looking). Blocking.
    pub(crate) fn reach(&self, state: &AppState, p: &Principal) -> Result<Reach, ApiError> {
        self.reach_as(state, p, false)
    }

    /// [`Relationships::reach`], with the relations found again now when `fresh`.
    pub(crate) fn reach_as(
        &self,
        state: &AppState,
        p: &Principal,
        fresh: bool,
    ) -> Result<Reach, ApiError> {
        if !p.may(Permission::ChartRead) && !p.may(Permission::ReferralsReceived) {
            return Ok(Reach::none());
        }
        let relations = if fresh {
            self.find_again(state, p)?
        } else {
            self.of(state, p)?
        };
        let mut set: BTreeSet<String> = relations.0.keys().cloned().collect();
        set.extend(self.glass_of(&p.id).into_iter().map(|(id, _)| id));
        Ok(Reach::Patients(set))
    }
}

/// Every current resource matching a search, page after page, with Tend's own access.
fn all(state: &AppState, rtype: &str, params: &[(&str, String)]) -> Result<Vec<Hit>, ApiError> {
    let mut out = Vec::new();
    let mut offset = 0;
    loop {
        let mut ps: Vec<(String, String)> = params
            .iter()
            .map(|(k, v)| (k.to_string(), v.clone()))
            .collect();
        ps.push(("_count".into(), PAGE.to_string()));
        ps.push(("_offset".into(), offset.to_string()));
        let q = SearchQuery::parse(state.registry, rtype, &ps)?;
        let page = state.store.search(&Access::system(), &q)?;
        let n = page.matches.len();
        out.extend(page.matches);
        if !page.has_more || n == 0 {
            return Ok(out);
        }
        offset += n;
    }
}

fn find(state: &AppState, p: &Principal) -> Result<Relations, ApiError> {
    let mut r: HashMap<String, Relationship> = HashMap::new();
    // Inpatients on the person's wards (the rapid-response team: every inpatient).
    let rapid = p.role == Role::RapidResponse;
    if rapid || !p.wards.is_empty() {
        let mut params = vec![("status", "in-progress".to_string())];
        if rapid {
            params.push(("class", "IMP".into()));
        } else {
            params.push(("location", p.wards.join(",")));
        }
        for enc in all(state, "Encounter", &params)? {
            let body: serde_json::Value = serde_json::from_str(&enc.body).unwrap_or_default();
            let ward = body["location"]
                .as_array()
                .into_iter()
                .flatten()
                .filter(|l| l["status"].as_str().is_none_or(|s| s == "active"))
                .filter_map(|l| l["location"]["reference"].as_str())
                .find(|w| p.wards.iter().any(|x| x == w));
            let why = match ward {
                Some(w) => Relationship::Ward {
                    ward: w.to_string(),
                },
                None if rapid => Relationship::Hospital,
                None => continue,
            };
            for patient in enc.patients {
                r.entry(patient).or_insert_with(|| why.clone());
            }
        }
    }
    // Active care teams the person is a member of.
    if let Some(practitioner) = &p.practitioner {
        let params = [
            ("participant", practitioner.clone()),
            ("status", "active".to_string()),
        ];
        for team in all(state, "CareTeam", &params)? {
            for patient in team.patients {
                r.entry(patient).or_insert_with(|| Relationship::CareTeam {
                    team: format!("CareTeam/{}", team.id),
                });
            }
        }
    }
    // A community partner: the patients referred to its organisation (every referral it
    // was sent, so declined and finished ones stay on its list; of the patient, the store
    // gives it the contact details only).
    if p.may(Permission::ReferralsReceived) {
        if let Some(org) = p.organization.as_deref().filter(|o| !o.is_empty()) {
            let params = [
                ("owner", format!("Organization/{org}")),
                (
                    "code",
                    "http://hl7.org/fhir/CodeSystem/task-code|fulfill".to_string(),
                ),
            ];
            for task in all(state, "Task", &params)? {
                for patient in task.patients {
                    r.entry(patient).or_insert_with(|| Relationship::Referral {
                        organization: org.to_string(),
                    });
                }
            }
        }
        return Ok(Relations(r));
    }
    // The navigator's outreach list: patients with an open care gap.
    if p.may(Permission::Outreach) {
        if let Some(gaps) = &state.care_gaps {
            for patient in gaps.outreach_patients() {
                r.entry(patient).or_insert(Relationship::Outreach);
            }
        }
    }
    Ok(Relations(r))
}
