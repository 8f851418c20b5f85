//! The whole demo hospital: configuration, generation in dependency order, and the summary.

use std::collections::BTreeMap;

use chrono::{DateTime, TimeZone, Utc};
use serde_json::Value;

use crate::vitals::{Sim, VitalsStream};
use crate::{
    clinic, community, facility, indicators, inpatient_screenings, inpatients, referrals,
    safety_reports, social_screenings, stays, tumour_boards,
};

/// What to generate. Time and seed are inputs: generation never reads the clock.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Config {
    /// Same seed and configuration, same hospital, byte for byte.
    pub seed: u64,
    /// The moment the demo starts: admissions, histories and vital signs all lie before it.
    pub now: DateTime<Utc>,
    pub inpatients: usize,
    pub clinic_patients: usize,
    pub cancer_referrals: usize,
    /// Days of vital-sign history before `now` for patients admitted longer ago.
    pub vitals_days: u32,
    /// Days of past inpatient stays on every ward (the nurse-sensitive indicators' patient
    /// days); 0 for none.
    pub history_days: u32,
}

impl Default for Config {
    fn default() -> Config {
        Config {
            seed: 42,
            now: Utc
                .with_ymd_and_hms(2026, 11, 24, 8, 0, 0)
                .single()
                .unwrap_or_default(),
            inpatients: 150,
            clinic_patients: 2000,
            cancer_referrals: 60,
            vitals_days: 3,
            history_days: 730,
        }
    }
}

/// A generated hospital.
#[derive(Clone, Debug)]
pub struct Hospital {
    /// FHIR R4 resources with client-assigned ids, in dependency order: every reference points at
    /// a resource earlier in the list (Organization, Location, HealthcareService, Practitioner,
    /// PractitionerRole, Patient, QuestionnaireResponse, ServiceRequest, Encounter, CareTeam,
    /// Condition, Goal, CarePlan, Observation, Procedure, DiagnosticReport,
    /// MedicationAdministration, Communication, Task, Group, AdverseEvent; last, the confirmed social needs and their
    /// referrals: Condition, Goal, Consent, ServiceRequest, Task), but for a referral's Consent,
    /// which names the ServiceRequest right after it that cites it.
    pub resources: Vec<Value>,
    sims: Vec<Sim>,
    now: DateTime<Utc>,
}

impl Hospital {
    /// The live feed of vital signs, starting where generation stopped (`Config::now`).
    pub fn vitals_stream(&self) -> VitalsStream {
        VitalsStream::new(self.sims.clone(), self.now)
    }
}

/// Resource types in load order; a resource only refers to types before it (or, for
/// Observation panels, to Observations pushed before them).
const ORDER: [&str; 26] = [
    "Organization",
    "Location",
    "HealthcareService",
    "Practitioner",
    "PractitionerRole",
    "Patient",
    "QuestionnaireResponse",
    "ServiceRequest",
    "Encounter",
    "CareTeam",
    "Appointment",
    "Condition",
    "Goal",
    "CarePlan",
    "AllergyIntolerance",
    "MedicationRequest",
    "Device",
    "DeviceUseStatement",
    "Observation",
    "Procedure",
    "DiagnosticReport",
    "MedicationAdministration",
    "Communication",
    "Task",
    "Group",
    "AdverseEvent",
];

/// Collects resources by type, to be laid out in [`ORDER`].
pub(crate) struct Out {
    buckets: Vec<Vec<Value>>,
}

impl Out {
    fn new() -> Out {
        Out {
            // One more, last: resources that refer to types written later in ORDER.
            buckets: vec![Vec::new(); ORDER.len() + 1],
        }
    }

    pub(crate) fn push(&mut self, resource: Value) {
        let kind = resource["resourceType"].as_str().unwrap_or_default();
        let i = ORDER
            .iter()
            .position(|t| *t == kind)
            .unwrap_or_else(|| panic!("unexpected resource type {kind}"));
        self.buckets[i].push(resource);
    }

    pub(crate) fn extend(&mut self, resources: impl IntoIterator<Item = Value>) {
        for r in resources {
            self.push(r);
        }
    }

    /// A resource written after every type of [`ORDER`] (it refers to a later type, e.g. a
    /// ServiceRequest based on a CarePlan).
    pub(crate) fn push_last(&mut self, resource: Value) {
        if let Some(last) = self.buckets.last_mut() {
            last.push(resource);
        }
    }

    /// The resources of one type written so far.
    pub(crate) fn of_type(&self, kind: &str) -> &[Value] {
        ORDER
            .iter()
            .position(|t| *t == kind)
            .map(|i| self.buckets[i].as_slice())
            .unwrap_or_default()
    }

    fn into_resources(self) -> Vec<Value> {
        self.buckets.into_iter().flatten().collect()
    }
}

/// Generates the hospital described by `cfg`.
pub fn generate(cfg: &Config) -> Hospital {
    let mut out = Out::new();
    let today = cfg.now.date_naive();
    let (census, beds) = inpatients::census(cfg.inpatients);
    let staff = facility::build(cfg.seed, today, &beds, &mut out);
    let mut sims = inpatients::admit(cfg, &staff, &census, 1, &mut out);
    for sim in &mut sims {
        while sim.due() <= cfg.now {
            out.extend(sim.take());
        }
    }
    crate::sepsis_episodes::generate(cfg.seed, &sims, cfg.now, &mut out);
    let first_clinic = cfg.inpatients as u32 + 1;
    clinic::generate(cfg, &staff, first_clinic, &mut out);
    let first_referral = first_clinic + cfg.clinic_patients as u32;
    referrals::generate(cfg, &staff, first_referral, &mut out);
    tumour_boards::generate(cfg, &staff, &mut out);
    social_screenings::generate(cfg, &staff, first_clinic..first_referral, &mut out);
    community::generate(cfg, &staff, &mut out);
    let past = stays::generate(cfg, &staff, first_clinic..first_referral, &mut out);
    safety_reports::generate(cfg, &staff, first_clinic..first_referral, &past, &mut out);
    indicators::generate(cfg, &staff, &past, &mut out);
    inpatient_screenings::generate(cfg, &staff, &past, &mut out);
    Hospital {
        resources: out.into_resources(),
        sims,
        now: cfg.now,
    }
}

/// The number of resources of each type.
pub fn summary(h: &Hospital) -> BTreeMap<String, usize> {
    let mut counts = BTreeMap::new();
    for r in &h.resources {
        let kind = r["resourceType"].as_str().unwrap_or("?").to_string();
        *counts.entry(kind).or_insert(0) += 1;
    }
    counts
}
