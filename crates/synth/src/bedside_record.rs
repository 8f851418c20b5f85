//! What a doctor or a rapid-response nurse reads beside the observation chart, for each
//! inpatient: laboratory results since admission (full blood count, urea and electrolytes with
//! creatinine, CRP, and lactate where infection is suspected), shaped by the admitting illness
//! and improving with treatment; allergies (or "no known allergy"); active medicines for the
//! admission and the patient's chronic problems; and, for some, a resuscitation decision with
//! a ceiling of treatment.
//!
//! Reference intervals are common adult intervals in US units, carried on each result with
//! the laboratory's high/low flag, as a laboratory system reports them. Medicines are coded
//! with RxNorm ingredient codes; allergies, reactions and resuscitation status with SNOMED CT
//! (resuscitation status 304251008, as C-CDA advance-directive observations carry it).

use chrono::{DateTime, TimeDelta, Timelike, Utc};
use rand::Rng;
use serde_json::{json, Value};

use crate::fhir::{self, concept, instant, quantity, reference, Code, LOINC, OBS_CATEGORY, SNOMED};
use crate::hospital::Out;
use crate::random::{chance, pick, rng, uniform};

const RXNORM: &str = "http://www.nlm.nih.gov/research/umls/rxnorm";
const INTERPRETATION: &str = "http://terminology.hl7.org/CodeSystem/v3-ObservationInterpretation";
const CLINICAL: &str = "http://terminology.hl7.org/CodeSystem/allergyintolerance-clinical";
const VERIFICATION: &str = "http://terminology.hl7.org/CodeSystem/allergyintolerance-verification";

/// What the admitting illness does to the laboratory results.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum LabPicture {
    /// Sepsis: high white cells and CRP, raised lactate.
    Sepsis,
    /// A local infection (pneumonia, urinary, skin): raised white cells and CRP.
    Infection,
    /// Acute kidney injury: raised creatinine, urea and potassium.
    KidneyInjury,
    /// Bleeding from the gut: low haemoglobin, raised urea.
    Bleeding,
    /// Heart failure: low sodium.
    HeartFailure,
    Other,
}

/// One inpatient's facts that shape their bedside record.
pub(crate) struct Inpatient<'a> {
    pub(crate) number: u32,
    pub(crate) patient: &'a str,
    pub(crate) encounter: &'a str,
    pub(crate) attending: &'a str,
    pub(crate) age: u32,
    pub(crate) female: bool,
    pub(crate) admitted: DateTime<Utc>,
    pub(crate) picture: LabPicture,
    /// Chronic problems (the codes' first display names), for chronic medicines.
    pub(crate) chronic: Vec<&'static str>,
    pub(crate) dementia: bool,
}

/// One laboratory test: LOINC code, name, UCUM unit, reference interval, decimals.
struct Test {
    loinc: &'static str,
    name: &'static str,
    unit: &'static str,
    low: f64,
    high: f64,
    decimals: i32,
}

const fn test(
    loinc: &'static str,
    name: &'static str,
    unit: &'static str,
    low: f64,
    high: f64,
    decimals: i32,
) -> Test {
    Test {
        loinc,
        name,
        unit,
        low,
        high,
        decimals,
    }
}

const HB_M: Test = test("718-7", "Hemoglobin", "g/dL", 13.5, 17.5, 1);
const HB_F: Test = test("718-7", "Hemoglobin", "g/dL", 12.0, 15.5, 1);
const WBC: Test = test("6690-2", "White blood cells", "10*3/uL", 4.5, 11.0, 1);
const PLATELETS: Test = test("777-3", "Platelets", "10*3/uL", 150.0, 400.0, 0);

/// How a unit is shown (UCUM codes are for machines).
fn shown(unit: &str) -> &str {
    match unit {
        "10*3/uL" => "×10³/µL",
        other => other,
    }
}

/// A value with the test's decimals: a whole number when it has none.
fn number(v: f64, decimals: i32) -> Value {
    if decimals == 0 {
        json!(v.round() as i64)
    } else {
        json!(v)
    }
}
const SODIUM: Test = test("2951-2", "Sodium", "mmol/L", 135.0, 145.0, 0);
const POTASSIUM: Test = test("2823-3", "Potassium", "mmol/L", 3.5, 5.1, 1);
const UREA: Test = test("3094-0", "Urea nitrogen", "mg/dL", 7.0, 20.0, 0);
const CREAT_M: Test = test("2160-0", "Creatinine", "mg/dL", 0.7, 1.3, 2);
const CREAT_F: Test = test("2160-0", "Creatinine", "mg/dL", 0.6, 1.1, 2);
const CRP: Test = test("1988-5", "C reactive protein", "mg/L", 0.0, 10.0, 0);
const LACTATE: Test = test("2524-7", "Lactate", "mmol/L", 0.5, 2.0, 1);

/// Emits the bedside record of one inpatient, up to `now`.
pub(crate) fn emit(seed: u64, p: &Inpatient<'_>, now: DateTime<Utc>, out: &mut Out) {
    let mut r = rng(seed, "bedside-record", u64::from(p.number));
    labs(&mut r, p, now, out);
    allergies(&mut r, p, out);
    medicines(&mut r, p, out);
    resuscitation(&mut r, p, now, out);
}

/// Blood taken at admission, then each morning at 06:00 until now; lactate at admission and
/// six hours later where sepsis is suspected.
fn labs(r: &mut impl Rng, p: &Inpatient<'_>, now: DateTime<Utc>, out: &mut Out) {
    let (hb, creat) = if p.female {
        (HB_F, CREAT_F)
    } else {
        (HB_M, CREAT_M)
    };
    // The patient's own normal, and what the illness adds at admission (decaying by a
    // third a day with treatment).
    let mid = |t: &Test| (t.low + t.high) / 2.0;
    fn normal(r: &mut impl Rng, t: &Test) -> f64 {
        let span = t.high - t.low;
        uniform(r, t.low + span * 0.2, t.high - span * 0.2)
    }
    let mut base = [
        (&hb, normal(r, &hb)),
        (&WBC, normal(r, &WBC)),
        (&PLATELETS, normal(r, &PLATELETS)),
        (&SODIUM, normal(r, &SODIUM)),
        (&POTASSIUM, normal(r, &POTASSIUM)),
        (&UREA, normal(r, &UREA)),
        (&creat, normal(r, &creat)),
        (&CRP, uniform(r, 1.0, 6.0)),
    ];
    if p.chronic.iter().any(|c| c.contains("kidney")) {
        base[6].1 = uniform(r, 1.5, 2.2);
        base[5].1 = uniform(r, 22.0, 35.0);
    }
    let acute: Vec<f64> = match p.picture {
        LabPicture::Sepsis => vec![
            0.0,
            uniform(r, 8.0, 14.0),
            -uniform(r, 40.0, 90.0),
            0.0,
            0.0,
            uniform(r, 8.0, 20.0),
            uniform(r, 0.3, 0.8),
            uniform(r, 120.0, 250.0),
        ],
        LabPicture::Infection => vec![
            0.0,
            uniform(r, 4.0, 8.0),
            0.0,
            0.0,
            0.0,
            0.0,
            0.0,
            uniform(r, 40.0, 140.0),
        ],
        LabPicture::KidneyInjury => vec![
            0.0,
            0.0,
            0.0,
            0.0,
            uniform(r, 0.8, 1.3),
            uniform(r, 25.0, 50.0),
            uniform(r, 1.6, 2.8),
            0.0,
        ],
        LabPicture::Bleeding => vec![
            -uniform(r, 4.0, 6.0),
            0.0,
            0.0,
            0.0,
            0.0,
            uniform(r, 15.0, 30.0),
            0.0,
            0.0,
        ],
        LabPicture::HeartFailure => vec![
            0.0,
            0.0,
            0.0,
            -uniform(r, 5.0, 9.0),
            0.0,
            uniform(r, 5.0, 15.0),
            uniform(r, 0.2, 0.5),
            0.0,
        ],
        LabPicture::Other => vec![0.0; 8],
    };
    let mut draws = vec![p.admitted + TimeDelta::minutes(50)];
    let mut day = (p.admitted + TimeDelta::hours(12))
        .with_hour(6)
        .and_then(|t| t.with_minute(0))
        .unwrap_or(p.admitted);
    if day <= p.admitted + TimeDelta::hours(6) {
        day += TimeDelta::days(1);
    }
    // A result is on the record once the laboratory has reported it, within the hour.
    let reported = now - TimeDelta::hours(1);
    draws.retain(|t| *t <= reported);
    while day <= reported {
        draws.push(day);
        day += TimeDelta::days(1);
    }
    for (k, at) in draws.iter().enumerate() {
        let days = (*at - p.admitted).num_minutes() as f64 / 1440.0;
        // An acute kidney injury peaks on the first morning, then recovers.
        let decay = if p.picture == LabPicture::KidneyInjury && k == 1 {
            1.15
        } else {
            (2.0f64 / 3.0).powf(days)
        };
        let panel = format!("{}-{k}", p.number);
        for (i, (t, b)) in base.iter().enumerate() {
            let noise = uniform(r, -0.04, 0.04) * (t.high - t.low).max(mid(t) * 0.1);
            let v = (b + acute[i] * decay + noise).max(t.low * 0.3);
            out.push(result(p, t, v, *at, &format!("lab-{panel}-{}", t.loinc)));
        }
    }
    if p.picture == LabPicture::Sepsis {
        let first = uniform(r, 2.6, 4.5);
        for (k, (hours, value)) in [(1, first), (7, first * uniform(r, 0.55, 0.8))]
            .into_iter()
            .enumerate()
        {
            let at = p.admitted + TimeDelta::hours(hours);
            if at <= reported {
                let id = format!("lab-{}-lactate-{k}", p.number);
                out.push(result(p, &LACTATE, value, at, &id));
            }
        }
    }
}

fn result(p: &Inpatient<'_>, t: &Test, value: f64, at: DateTime<Utc>, id: &str) -> Value {
    let scale = 10f64.powi(t.decimals);
    let v = (value * scale).round() / scale;
    let flag = if v > t.high {
        Some(("H", "High"))
    } else if v < t.low && t.low > 0.0 {
        Some(("L", "Low"))
    } else {
        None
    };
    let mut o = json!({
        "resourceType": "Observation",
        "id": id,
        "meta": fhir::meta(),
        "status": "final",
        "category": fhir::category(OBS_CATEGORY, "laboratory", "Laboratory"),
        "code": concept(&[(LOINC, t.loinc, t.name)]),
        "subject": reference("Patient", p.patient),
        "encounter": reference("Encounter", p.encounter),
        "effectiveDateTime": instant(at),
        "issued": instant(at + TimeDelta::minutes(55)),
        "valueQuantity": quantity(number(v, t.decimals), shown(t.unit), t.unit),
        "referenceRange": [{
            "low": quantity(number(t.low, t.decimals), shown(t.unit), t.unit),
            "high": quantity(number(t.high, t.decimals), shown(t.unit), t.unit),
        }],
    });
    if t.low == 0.0 {
        o["referenceRange"][0]
            .as_object_mut()
            .map(|m| m.remove("low"));
    }
    if let Some((code, display)) = flag {
        o["interpretation"] = json!([concept(&[(INTERPRETATION, code, display)])]);
    }
    o
}

/// Substance, allergy, reaction, criticality, share of inpatients.
type Allergy = (Code, Code, Code, &'static str, f64);

const ALLERGIES: &[Allergy] = &[
    (
        (SNOMED, "764146007", "Penicillin"),
        (SNOMED, "91936005", "Allergy to penicillin"),
        (SNOMED, "271807003", "Rash"),
        "low",
        0.08,
    ),
    (
        (SNOMED, "764146007", "Penicillin"),
        (SNOMED, "91936005", "Allergy to penicillin"),
        (SNOMED, "39579001", "Anaphylaxis"),
        "high",
        0.015,
    ),
    (
        (SNOMED, "387406002", "Sulfonamide"),
        (SNOMED, "91939003", "Allergy to sulfonamide"),
        (SNOMED, "271807003", "Rash"),
        "low",
        0.03,
    ),
    (
        (SNOMED, "111088007", "Latex"),
        (SNOMED, "300916003", "Latex allergy"),
        (SNOMED, "40275004", "Contact dermatitis"),
        "low",
        0.02,
    ),
];

fn allergies(r: &mut impl Rng, p: &Inpatient<'_>, out: &mut Out) {
    let recorded = instant(p.admitted + TimeDelta::minutes(30));
    let mut any = false;
    for (k, (substance, allergy, reaction, criticality, share)) in ALLERGIES.iter().enumerate() {
        if any || !chance(r, *share) {
            continue;
        }
        any = true;
        out.push(json!({
            "resourceType": "AllergyIntolerance",
            "id": format!("allergy-{:06}-{k}", p.number),
            "meta": fhir::meta(),
            "clinicalStatus": concept(&[(CLINICAL, "active", "Active")]),
            "verificationStatus": concept(&[(VERIFICATION, "confirmed", "Confirmed")]),
            "type": "allergy",
            "category": ["medication"],
            "criticality": criticality,
            "code": concept(&[*allergy]),
            "patient": reference("Patient", p.patient),
            "recordedDate": recorded,
            "reaction": [{
                "substance": concept(&[*substance]),
                "manifestation": [concept(&[*reaction])],
                "severity": if *criticality == "high" { "severe" } else { "mild" },
            }],
        }));
    }
    if !any {
        out.push(json!({
            "resourceType": "AllergyIntolerance",
            "id": format!("allergy-{:06}-none", p.number),
            "meta": fhir::meta(),
            "clinicalStatus": concept(&[(CLINICAL, "active", "Active")]),
            "verificationStatus": concept(&[(VERIFICATION, "confirmed", "Confirmed")]),
            "code": concept(&[(SNOMED, "716186003", "No known allergy")]),
            "patient": reference("Patient", p.patient),
            "recordedDate": recorded,
        }));
    }
}

/// RxNorm ingredient, name, dose and frequency as the prescriber writes it.
type Medicine = (&'static str, &'static str, &'static str);

fn medicines(r: &mut impl Rng, p: &Inpatient<'_>, out: &mut Out) {
    let mut list: Vec<Medicine> = Vec::new();
    match p.picture {
        LabPicture::Sepsis => list.push((
            "74169",
            "Piperacillin and tazobactam",
            "4.5 g IV every 8 hours",
        )),
        LabPicture::Infection => list.push(("2193", "Ceftriaxone", "2 g IV once daily")),
        LabPicture::KidneyInjury => {
            list.push(("9863", "Sodium chloride 0.9 %", "1 L IV over 8 hours"))
        }
        LabPicture::Bleeding => list.push(("40790", "Pantoprazole", "40 mg IV twice daily")),
        LabPicture::HeartFailure => list.push(("4603", "Furosemide", "40 mg IV twice daily")),
        LabPicture::Other => {}
    }
    for c in &p.chronic {
        let c = c.to_lowercase();
        if c.contains("hypertens") {
            list.push(("17767", "Amlodipine", "5 mg by mouth once daily"));
        }
        if c.contains("diabetes") {
            list.push(*pick(
                r,
                &[
                    ("6809", "Metformin", "500 mg by mouth twice daily"),
                    (
                        "274783",
                        "Insulin glargine",
                        "18 units subcutaneously at night",
                    ),
                ],
            ));
        }
        if c.contains("fibrillation") {
            list.push(("1364430", "Apixaban", "5 mg by mouth twice daily"));
        }
        if c.contains("obstructive") {
            list.push(("69120", "Tiotropium", "18 micrograms inhaled once daily"));
            list.push((
                "435",
                "Albuterol",
                "2.5 mg nebulised every 4 hours when needed",
            ));
        }
        if c.contains("heart failure") && p.picture != LabPicture::HeartFailure {
            list.push(("19484", "Bisoprolol", "2.5 mg by mouth once daily"));
        }
    }
    if p.dementia {
        list.push(("135447", "Donepezil", "10 mg by mouth at night"));
    }
    if !list.iter().any(|m| m.0 == "1364430") && p.picture != LabPicture::Bleeding {
        list.push((
            "67108",
            "Enoxaparin",
            "40 mg subcutaneously once daily (VTE prophylaxis)",
        ));
    }
    list.push((
        "161",
        "Acetaminophen",
        "1 g by mouth every 6 hours when needed",
    ));
    for (k, (rxnorm, name, dose)) in list.into_iter().enumerate() {
        out.push(json!({
            "resourceType": "MedicationRequest",
            "id": format!("med-{:06}-{k:02}", p.number),
            "meta": fhir::meta(),
            "status": "active",
            "intent": "order",
            "category": [concept(&[("http://terminology.hl7.org/CodeSystem/medicationrequest-category", "inpatient", "Inpatient")])],
            "medicationCodeableConcept": {"coding": [{"system": RXNORM, "code": rxnorm, "display": name}], "text": name},
            "subject": reference("Patient", p.patient),
            "encounter": reference("Encounter", p.encounter),
            "authoredOn": instant(p.admitted + TimeDelta::minutes(90)),
            "requester": reference("Practitioner", p.attending),
            "dosageInstruction": [{"text": dose}],
        }));
    }
}

/// Resuscitation decisions: more often for the oldest and for people with dementia.
fn resuscitation(r: &mut impl Rng, p: &Inpatient<'_>, now: DateTime<Utc>, out: &mut Out) {
    let a = f64::from(p.age);
    let not_for_cpr = ((a - 65.0).max(0.0) * 0.02 + if p.dementia { 0.25 } else { 0.0 }).min(0.7);
    let (value, ceiling) = if chance(r, not_for_cpr) {
        let ceiling = *pick(
            r,
            &[
                "Ward-based care: not for intensive care",
                "Ward-based care: not for intensive care",
                "Full treatment except cardiopulmonary resuscitation",
                "Comfort-focused care",
            ],
        );
        ((SNOMED, "304253006", "Not for resuscitation"), ceiling)
    } else if chance(r, 0.3) {
        (
            (SNOMED, "304252001", "For resuscitation"),
            "Full escalation",
        )
    } else {
        return;
    };
    // Decided on the post-take ward round, a few hours after admission.
    let decided = p.admitted + TimeDelta::hours(3);
    if decided > now {
        return;
    }
    out.push(json!({
        "resourceType": "Observation",
        "id": format!("resus-{:06}", p.number),
        "meta": fhir::meta(),
        "status": "final",
        "category": fhir::category(OBS_CATEGORY, "survey", "Survey"),
        "code": concept(&[(SNOMED, "304251008", "Resuscitation status")]),
        "subject": reference("Patient", p.patient),
        "encounter": reference("Encounter", p.encounter),
        "effectiveDateTime": instant(decided),
        "performer": [reference("Practitioner", p.attending)],
        "valueCodeableConcept": concept(&[value]),
        "component": [{
            "code": {"text": "Ceiling of treatment"},
            "valueString": ceiling,
        }],
        "note": [{"text": "Discussed with the patient and family; reviewed at each consultant round."}],
    }));
}
