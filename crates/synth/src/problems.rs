//! Conditions (<https://hl7.org/fhir/R4/condition.html>): the codes the demo uses for chronic
//! problems, and one builder for problem-list items and encounter diagnoses.

use serde_json::{json, Value};

use crate::fhir::{self, concept, reference, Code, CONDITION_CATEGORY, ICD10CM, SNOMED};

/// A problem coded in SNOMED CT and ICD-10-CM.
pub(crate) type Problem = [Code; 2];

pub(crate) const HYPERTENSION: Problem = [
    (
        SNOMED,
        "38341003",
        "Hypertensive disorder, systemic arterial",
    ),
    (ICD10CM, "I10", "Essential (primary) hypertension"),
];
pub(crate) const TYPE2_DIABETES: Problem = [
    (SNOMED, "44054006", "Diabetes mellitus type 2"),
    (
        ICD10CM,
        "E11.9",
        "Type 2 diabetes mellitus without complications",
    ),
];
pub(crate) const PREDIABETES: Problem = [
    (SNOMED, "714628002", "Prediabetes"),
    (ICD10CM, "R73.03", "Prediabetes"),
];
pub(crate) const HYPERLIPIDEMIA: Problem = [
    (SNOMED, "55822004", "Hyperlipidemia"),
    (ICD10CM, "E78.5", "Hyperlipidemia, unspecified"),
];
pub(crate) const OBESITY: Problem = [
    (SNOMED, "414916001", "Obesity"),
    (ICD10CM, "E66.9", "Obesity, unspecified"),
];
pub(crate) const ATRIAL_FIBRILLATION: Problem = [
    (SNOMED, "49436004", "Atrial fibrillation"),
    (ICD10CM, "I48.91", "Unspecified atrial fibrillation"),
];
pub(crate) const CKD: Problem = [
    (SNOMED, "709044004", "Chronic kidney disease"),
    (ICD10CM, "N18.9", "Chronic kidney disease, unspecified"),
];
pub(crate) const COPD: Problem = [
    (SNOMED, "13645005", "Chronic obstructive lung disease"),
    (
        ICD10CM,
        "J44.9",
        "Chronic obstructive pulmonary disease, unspecified",
    ),
];
pub(crate) const ASTHMA: Problem = [
    (SNOMED, "195967001", "Asthma"),
    (ICD10CM, "J45.909", "Unspecified asthma, uncomplicated"),
];
pub(crate) const DEMENTIA: Problem = [
    (SNOMED, "52448006", "Dementia"),
    (
        ICD10CM,
        "F03.90",
        "Unspecified dementia without behavioral disturbance",
    ),
];
pub(crate) const HEART_FAILURE: Problem = [
    (SNOMED, "84114007", "Heart failure"),
    (ICD10CM, "I50.9", "Heart failure, unspecified"),
];
pub(crate) const OSTEOPOROSIS: Problem = [
    (SNOMED, "64859006", "Osteoporosis"),
    (
        ICD10CM,
        "M81.0",
        "Age-related osteoporosis without current pathological fracture",
    ),
];
/// Known conditions that make a USPSTF screen not applicable (`clinical/screening.md`, exclusions).
pub(crate) const HIV_INFECTION: Problem = [
    (SNOMED, "86406008", "Human immunodeficiency virus infection"),
    (ICD10CM, "B20", "Human immunodeficiency virus [HIV] disease"),
];
pub(crate) const CHRONIC_HEPATITIS_C: Problem = [
    (SNOMED, "128302006", "Chronic hepatitis C"),
    (ICD10CM, "B18.2", "Chronic viral hepatitis C"),
];
pub(crate) const ABDOMINAL_AORTIC_ANEURYSM: Problem = [
    (SNOMED, "233985008", "Abdominal aortic aneurysm"),
    (
        ICD10CM,
        "I71.40",
        "Abdominal aortic aneurysm, without rupture, unspecified",
    ),
];
pub(crate) const PREGNANCY: Problem = [
    (SNOMED, "77386006", "Pregnancy"),
    (ICD10CM, "Z33.1", "Pregnant state, incidental"),
];

#[derive(Clone, Copy)]
pub(crate) enum Category {
    ProblemList,
    EncounterDiagnosis,
}

#[derive(Clone, Copy)]
pub(crate) enum Status {
    Active,
    Remission,
}

/// Everything a Condition needs beyond its code.
pub(crate) struct Facts<'a> {
    pub(crate) patient: &'a str,
    pub(crate) category: Category,
    pub(crate) status: Status,
    /// A date or dateTime.
    pub(crate) onset: String,
    pub(crate) recorded: String,
    pub(crate) encounter: Option<&'a str>,
    pub(crate) asserter: Option<&'a str>,
}

pub(crate) fn condition(id: &str, codes: &[Code], facts: Facts<'_>) -> Value {
    let (category, category_display) = match facts.category {
        Category::ProblemList => ("problem-list-item", "Problem List Item"),
        Category::EncounterDiagnosis => ("encounter-diagnosis", "Encounter Diagnosis"),
    };
    let (status, status_display) = match facts.status {
        Status::Active => ("active", "Active"),
        Status::Remission => ("remission", "Remission"),
    };
    let mut c = json!({
        "resourceType": "Condition",
        "id": id,
        "meta": fhir::meta(),
        "clinicalStatus": {"coding": [{"system": "http://terminology.hl7.org/CodeSystem/condition-clinical", "code": status, "display": status_display}]},
        "verificationStatus": {"coding": [{"system": "http://terminology.hl7.org/CodeSystem/condition-ver-status", "code": "confirmed", "display": "Confirmed"}]},
        "category": fhir::category(CONDITION_CATEGORY, category, category_display),
        "code": concept(codes),
        "subject": reference("Patient", facts.patient),
    });
    if let Some(e) = facts.encounter {
        c["encounter"] = reference("Encounter", e);
    }
    c["onsetDateTime"] = json!(facts.onset);
    c["recordedDate"] = json!(facts.recorded);
    if let Some(a) = facts.asserter {
        c["asserter"] = reference("Practitioner", a);
    }
    c
}
