//! The patient at the heart of the demo's story: a man referred with trouble swallowing,
//! diagnosed with oesophageal adenocarcinoma (cT3 N1 M0), treated with definitive
//! chemoradiotherapy that did not work (liver metastases at restaging), whose tumour was then
//! tested for HER2, PD-L1 (CPS), mismatch repair and CLDN18.2 so the team can choose
//! second-line treatment or a clinical trial, which is the step now due. Every resource a
//! pathway step reads carries the pathway files' event tags (`clinical/pathways.md` §6;
//! crate `pathways`, `oesophago-gastric.json`).

use chrono::{DateTime, TimeDelta, Utc};
use serde_json::{json, Value};

use crate::clinic;
use crate::demographics;
use crate::facility::{Staff, ORGANIZATION, OUTPATIENT_CENTRE};
use crate::fhir::{self, concept, instant, reference, Code, CPT, ICD10CM, LOINC, SNOMED, V2_0074};
use crate::hospital::{Config, Out};
use crate::random::rng;
use crate::referrals::{assignment, clinic_day, tagged};

const PATHWAY: &str = "https://tend.example.org/fhir/CodeSystem/referral-pathway";
const BIOMARKER: &str = "https://tend.example.org/fhir/CodeSystem/biomarker";
const ICD10: &str = "http://hl7.org/fhir/sid/icd-10";
const ATC: &str = "http://www.whocc.no/atc";
const DYSPHAGIA: Code = (ICD10CM, "R13.10", "Dysphagia, unspecified");
/// Days from the referral to today: long enough for chemoradiation and restaging.
const DAYS_AGO: i64 = 115;

pub(crate) fn generate(cfg: &Config, staff: &Staff, number: u32, out: &mut Out) {
    let mut r = rng(cfg.seed, "oesophageal", u64::from(number));
    let today = cfg.now.date_naive();
    let person = demographics::person(&mut r, today, 64, false);
    let pcp = clinic::outpatient(cfg, staff, number, &person, out);
    let patient = format!("pat-{number:06}");
    let id = |kind: &str, tag: &str| format!("{kind}-{number:06}-{tag}");
    let start = clinic_day(&mut r, cfg.now - TimeDelta::days(DAYS_AGO), 0);
    let day = |d: i64| start + TimeDelta::days(d);
    let gastro = staff.role("gastroenterologist").to_string();
    let oncologist = staff.role("oncologist").to_string();
    let subject = reference("Patient", &patient);
    let sr = id("sr", "usc");
    let report =
        |tag: &str, event: &str, category: Code, code: Code, at: DateTime<Utc>, text: &str| {
            json!({
                "resourceType": "DiagnosticReport", "id": id("dr", tag), "meta": tagged(&[event]),
                "basedOn": [reference("ServiceRequest", &sr)], "status": "final",
                "category": [concept(&[category])], "code": concept(&[code]), "subject": subject,
                "effectiveDateTime": instant(at - TimeDelta::days(1)), "issued": instant(at),
                "performer": [reference("Organization", ORGANIZATION)], "conclusion": text,
            })
        };
    let told = |tag: &str, event: &str, at: DateTime<Utc>, text: &str| {
        json!({
            "resourceType": "Communication", "id": id("comm", tag), "meta": tagged(&[event]),
            "status": "completed", "category": [{"text": text}], "subject": subject,
            "sent": instant(at), "recipient": [subject], "sender": reference("Practitioner", &oncologist),
            "payload": [{"contentString": text}],
        })
    };
    let result = |tag: &str, code: Code, at: DateTime<Utc>, value: Value| {
        let mut o = json!({
            "resourceType": "Observation", "id": id("obs", tag), "meta": fhir::meta(),
            "basedOn": [reference("ServiceRequest", &id("sr", "biomarkers"))], "status": "final",
            "category": [concept(&[("http://terminology.hl7.org/CodeSystem/observation-category", "laboratory", "Laboratory")])],
            "code": concept(&[code]), "subject": subject,
            "effectiveDateTime": instant(day(14)), "issued": instant(at),
            "specimen": {"display": "Oesophageal biopsy (diagnostic, day 6)"},
        });
        match value {
            Value::String(s) => o["valueCodeableConcept"] = json!({"text": s}),
            v => o["valueQuantity"] = v,
        }
        o
    };

    out.push(json!({
        "resourceType": "ServiceRequest", "id": sr,
        "meta": tagged(&["urgent-suspected-cancer-referral", "urgent-suspected-og-cancer-referral"]),
        "identifier": [{"system": format!("{}/sid/referral", fhir::TEND), "value": format!("USC{}{number:06}", start.format("%y%m%d"))}],
        "status": "completed", "intent": "order",
        "category": [{"coding": [{"system": SNOMED, "code": "3457005", "display": "Patient referral"},
            {"system": PATHWAY, "code": "urgent-suspected-cancer", "display": "Urgent suspected cancer referral"}]}],
        "priority": "urgent",
        "code": concept(&[(PATHWAY, "usc-upper-gi", "Urgent suspected cancer referral – upper gastrointestinal")]),
        "subject": subject, "authoredOn": instant(start), "requester": reference("Practitioner", &pcp),
        "performer": [reference("Practitioner", &gastro)], "reasonCode": [concept(&[DYSPHAGIA])],
        "note": [{"text": "Progressive difficulty swallowing solids for 8 weeks, 6 kg weight loss."}],
    }));
    out.push(json!({
        "resourceType": "ServiceRequest", "id": id("sr", "pet"), "meta": tagged(&["og-pet-ct"]),
        "status": "completed", "intent": "order", "code": concept(&[(SNOMED, "450436003", "PET-CT scan")]),
        "subject": subject, "authoredOn": instant(day(13)), "requester": reference("Practitioner", &oncologist),
    }));
    out.push(json!({
        "resourceType": "ServiceRequest", "id": id("sr", "biomarkers"), "meta": tagged(&["og-biomarker-panel"]),
        "status": "completed", "intent": "order",
        "code": {"text": "HER2, PD-L1 (CPS), mismatch repair and CLDN18.2 on the diagnostic biopsy"},
        "subject": subject, "authoredOn": instant(day(105)), "requester": reference("Practitioner", &oncologist),
        "reasonCode": [{"text": "Metastatic adenocarcinoma after first-line chemoradiotherapy: choosing second-line treatment"}],
    }));
    let visit = |tag: &str, at: DateTime<Utc>, who: &str, events: &[&str]| {
        json!({
            "resourceType": "Encounter", "id": id("enc", tag), "meta": tagged(events), "status": "finished",
            "class": {"system": "http://terminology.hl7.org/CodeSystem/v3-ActCode", "code": "AMB", "display": "ambulatory"},
            "type": [concept(&[(SNOMED, "11429006", "Consultation")])], "subject": subject,
            "basedOn": [reference("ServiceRequest", &sr)],
            "participant": [{"individual": reference("Practitioner", who)}],
            "period": {"start": instant(at), "end": instant(at + TimeDelta::minutes(30))},
            "location": [{"location": reference("Location", OUTPATIENT_CENTRE)}],
            "serviceProvider": reference("Organization", ORGANIZATION),
        })
    };
    out.push(visit("usc-first", day(6), &gastro, &["first-seen"]));
    out.push(visit("usc-result", day(20), &oncologist, &[]));
    out.push(visit("restaging", day(104), &oncologist, &[]));
    out.push(json!({
        "resourceType": "Condition", "id": id("cond", "cancer"), "meta": fhir::meta(),
        "clinicalStatus": concept(&[("http://terminology.hl7.org/CodeSystem/condition-clinical", "active", "Active")]),
        "verificationStatus": concept(&[("http://terminology.hl7.org/CodeSystem/condition-ver-status", "confirmed", "Confirmed")]),
        "category": [concept(&[("http://terminology.hl7.org/CodeSystem/condition-category", "encounter-diagnosis", "Encounter Diagnosis")])],
        "code": concept(&[(ICD10CM, "C15.5", "Malignant neoplasm of lower third of esophagus")]),
        "subject": subject, "onsetDateTime": instant(day(11)), "recordedDate": instant(day(20)),
        "asserter": reference("Practitioner", &oncologist),
        "stage": [{"summary": {"text": "cT3 N1 M0 (stage III) adenocarcinoma"}}],
    }));
    out.push(json!({
        "resourceType": "Condition", "id": id("cond", "metastases"), "meta": fhir::meta(),
        "clinicalStatus": concept(&[("http://terminology.hl7.org/CodeSystem/condition-clinical", "active", "Active")]),
        "verificationStatus": concept(&[("http://terminology.hl7.org/CodeSystem/condition-ver-status", "confirmed", "Confirmed")]),
        "category": [concept(&[("http://terminology.hl7.org/CodeSystem/condition-category", "encounter-diagnosis", "Encounter Diagnosis")])],
        "code": concept(&[(ICD10, "C78.7", "Secondary malignant neoplasm of liver and intrahepatic bile duct")]),
        "subject": subject, "onsetDateTime": instant(day(103)), "recordedDate": instant(day(104)),
        "asserter": reference("Practitioner", &oncologist),
    }));
    out.push(json!({
        "resourceType": "CarePlan", "id": id("careplan", "treatment"), "meta": tagged(&["decision-to-treat"]),
        "status": "completed", "intent": "plan", "category": [{"text": "Cancer treatment plan"}],
        "title": "Definitive chemoradiotherapy (carboplatin and paclitaxel weekly with 50.4 Gy in 28 fractions), agreed at the upper GI MDT",
        "subject": subject, "period": {"start": instant(day(24)), "end": instant(day(75))}, "created": instant(day(24)),
        "author": reference("Practitioner", &oncologist), "addresses": [reference("Condition", &id("cond", "cancer"))],
    }));
    out.push(json!({
        "resourceType": "Observation", "id": id("obs", "progression"), "meta": tagged(&["disease-progression"]),
        "status": "final",
        "code": {"coding": [{"system": "https://tend.example.org/fhir/CodeSystem/pathway-event", "code": "disease-progression", "display": "Disease progression"}], "text": "Response to first-line treatment"},
        "subject": subject, "effectiveDateTime": instant(day(104)), "issued": instant(day(104)),
        "valueCodeableConcept": {"text": "Progressive disease: new liver metastases after chemoradiotherapy"},
        "focus": [reference("Condition", &id("cond", "cancer"))],
    }));
    // Performance status at restaging (mCODE: LOINC 89247-1, the ECOG grade as an integer).
    out.push(json!({
        "resourceType": "Observation", "id": id("obs", "ecog"), "meta": fhir::meta(),
        "status": "final",
        "category": [concept(&[("http://terminology.hl7.org/CodeSystem/observation-category", "survey", "Survey")])],
        "code": concept(&[(LOINC, "89247-1", "ECOG Performance Status score")]), "subject": subject,
        "effectiveDateTime": instant(day(104)), "valueInteger": 1,
        "performer": [reference("Practitioner", &oncologist)],
    }));
    out.push(result(
        "her2",
        (LOINC, "48676-1", "HER2 [Interpretation] in Tissue"),
        day(109),
        json!("Negative (IHC 1+)"),
    ));
    out.push(result(
        "mmr",
        (
            LOINC,
            "81695-9",
            "Microsatellite instability [Interpretation] in Cancer specimen Qualitative",
        ),
        day(110),
        json!("Mismatch repair proficient (MSS)"),
    ));
    out.push(result("pdl1", (BIOMARKER, "pd-l1-cps", "PD-L1 combined positive score"), day(112), json!({"value": 7, "unit": "score", "system": "http://unitsofmeasure.org", "code": "{score}"})));
    out.push(result(
        "cldn18",
        (BIOMARKER, "cldn18-2", "Claudin 18.2"),
        day(114),
        json!("Positive: 80% of tumour cells with moderate to strong membranous staining"),
    ));
    out.push(json!({
        "resourceType": "Procedure", "id": id("proc", "ogd"), "meta": tagged(&["ogd"]),
        "basedOn": [reference("ServiceRequest", &sr)], "status": "completed",
        "category": concept(&[(SNOMED, "103693007", "Diagnostic procedure")]),
        "code": concept(&[(CPT, "43239", "Esophagogastroduodenoscopy, flexible, transoral; with biopsy, single or multiple")]),
        "subject": subject, "performedDateTime": instant(day(6) + TimeDelta::hours(1)),
        "performer": [{"actor": reference("Practitioner", &gastro)}], "location": reference("Location", OUTPATIENT_CENTRE),
    }));
    out.push(json!({
        "resourceType": "Procedure", "id": id("proc", "radiotherapy"), "meta": tagged(&["first-definitive-treatment"]),
        "basedOn": [reference("ServiceRequest", &sr), reference("CarePlan", &id("careplan", "treatment"))], "status": "completed",
        "category": concept(&[(SNOMED, "277132007", "Therapeutic procedure")]),
        "code": concept(&[(CPT, "77385", "Intensity modulated radiation treatment delivery (IMRT), includes guidance and tracking, when performed; simple")]),
        "subject": subject, "performedPeriod": {"start": instant(day(38)), "end": instant(day(75))},
        "performer": [{"actor": reference("Practitioner", &oncologist)}],
        "reasonReference": [reference("Condition", &id("cond", "cancer"))],
    }));
    out.push(report(
        "og-biopsy",
        "og-biopsy-histology",
        (V2_0074, "SP", "Surgical Pathology"),
        (LOINC, "11529-5", "Surgical pathology study"),
        day(11),
        "Adenocarcinoma, moderately differentiated, arising in Barrett's oesophagus.",
    ));
    out.push(report("og-staging-ct", "og-staging-ct", (V2_0074, "RAD", "Radiology"), (LOINC, "24627-2", "CT Chest"), day(13),
        "Distal oesophageal tumour with two enlarged paraoesophageal nodes; no distant metastases (cT3 N1 M0)."));
    out.push(report(
        "og-pet",
        "og-pet-ct",
        (V2_0074, "RAD", "Radiology"),
        (LOINC, "44139-4", "PET scan"),
        day(19),
        "FDG-avid distal oesophageal primary and two regional nodes; no distant disease.",
    ));
    out.push(report("restaging-ct", "og-restaging-ct", (V2_0074, "RAD", "Radiology"), (LOINC, "24627-2", "CT Chest"), day(103),
        "New liver metastases in segments 6 and 7 and an enlarging coeliac node: progression after chemoradiotherapy."));
    for (k, (drug, code)) in [("carboplatin", "L01XA02"), ("paclitaxel", "L01CD01")]
        .into_iter()
        .enumerate()
    {
        out.push(json!({
            "resourceType": "MedicationAdministration", "id": id("medadmin", drug), "meta": fhir::meta(),
            "status": "completed",
            "medicationCodeableConcept": {"coding": [{"system": ATC, "code": code, "display": drug}], "text": drug},
            "subject": subject, "effectiveDateTime": instant(day(38) + TimeDelta::hours(k as i64 + 1)),
            "performer": [{"actor": reference("Practitioner", &oncologist)}],
            "request": {"display": "Weekly chemotherapy with radiotherapy, cycle 1"},
        }));
    }
    out.push(told(
        "diagnosis",
        "diagnosis-communicated",
        day(20),
        "Diagnosis of oesophageal adenocarcinoma explained, with a specialist nurse present.",
    ));
    out.push(told("plan", "treatment-plan-communicated", day(24), "Multidisciplinary team's recommendation of definitive chemoradiotherapy discussed and agreed."));
    out.push(assignment(
        staff,
        &patient,
        &id("task", "navigator"),
        "navigator-1",
        day(1),
    ));
}
