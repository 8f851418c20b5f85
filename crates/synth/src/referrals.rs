//! Patients on the urgent suspected-cancer pathway (`clinical/pathways.md` §6): a ServiceRequest
//! for the referral (clock start), and the milestones reached by now: first specialist
//! appointment (Encounter based on the referral), diagnostic procedures and their reports,
//! diagnosis communicated or cancer ruled out (an Encounter; the 28-day Faster Diagnosis
//! Standard stop), the cancer Condition, the decision to treat (a CarePlan; the 31-day clock
//! start) and the first definitive treatment (Encounter and Procedure; the 31- and 62-day stop).
//! Most pathways run to time; a tail of delays makes some breach, as in real services.

use chrono::{DateTime, TimeDelta, Utc};
use rand::Rng;
use serde_json::{json, Value};

use crate::clinic;
use crate::demographics;
use crate::facility::{Staff, ORGANIZATION, OUTPATIENT_CENTRE};
use crate::fhir::{self, concept, instant, reference, Code, CPT, ICD10CM, LOINC, SNOMED, V2_0074};
use crate::hospital::{Config, Out};
use crate::problems::{condition, Category, Facts, Status};
use crate::random::{chance, int, normal_in, pick, rng, uniform, weighted};

/// Code system for the referral pathway codes of the demo hospital.
const PATHWAY: &str = "https://tend.example.org/fhir/CodeSystem/referral-pathway";
/// The pathway files' event codes (crate `pathways`): the demo hospital tags the resources
/// that complete a pathway step, as its order sets would.
pub(crate) const PATHWAY_EVENT: &str = "https://tend.example.org/fhir/CodeSystem/pathway-event";
const NAVIGATION: &str = "https://tend.example.org/fhir/CodeSystem/navigation";

/// `meta` with the demo's test-data tag and pathway-event tags.
pub(crate) fn tagged(events: &[&str]) -> Value {
    let mut m = fhir::meta();
    if let Some(tags) = m["tag"].as_array_mut() {
        for e in events {
            tags.push(json!({"system": PATHWAY_EVENT, "code": e}));
        }
    }
    m
}

/// The navigator a referral is assigned to (the demo's two cancer-pathway navigators).
pub(crate) fn navigator_of(number: u32) -> &'static str {
    if number.is_multiple_of(2) {
        "navigator-1"
    } else {
        "navigator-2"
    }
}
const CONSULTATION: Code = (SNOMED, "11429006", "Consultation");
const PATHOLOGY: Code = (LOINC, "11529-5", "Surgical pathology study");
const SURGICAL_PATHOLOGY: Code = (V2_0074, "SP", "Surgical Pathology");
const RADIOLOGY: Code = (V2_0074, "RAD", "Radiology");
const CHEMOTHERAPY: &[Code] = &[(CPT, "96413", "Chemotherapy administration, intravenous infusion technique; up to 1 hour, single or initial substance/drug")];

struct Test {
    codes: &'static [Code],
    /// The report that follows: its category, code, and conclusion when malignant.
    report: Option<(Code, Code, &'static str)>,
    /// Only done when the earlier tests raised suspicion (e.g. biopsy after an abnormal scan).
    only_if_suspicious: bool,
    /// Performed by this role rather than the pathway's specialist.
    by: Option<&'static str>,
}

struct Site {
    /// Pathway code, e.g. `usc-breast`.
    code: &'static str,
    display: &'static str,
    label: &'static str,
    weight: f64,
    female: f64,
    age: (f64, f64),
    symptoms: &'static [Code],
    specialist: &'static str,
    specialty: Code,
    tests: &'static [Test],
    benign: &'static str,
    cancers: &'static [Code],
    treatment: &'static [Code],
    /// Days in hospital for the treatment; `None` for a day case.
    stay: Option<(i64, i64)>,
    treated_by: &'static str,
    cancer_rate: f64,
}

const fn biopsy(codes: &'static [Code], malignant: &'static str) -> Test {
    Test {
        codes,
        report: Some((SURGICAL_PATHOLOGY, PATHOLOGY, malignant)),
        only_if_suspicious: false,
        by: None,
    }
}

const SITES: &[Site] = &[
    Site {
        code: "usc-breast",
        display: "Urgent suspected cancer referral – breast",
        label: "breast",
        weight: 24.0,
        female: 1.0,
        age: (57.0, 13.0),
        symptoms: &[(ICD10CM, "N63.0", "Unspecified lump in unspecified breast"), (ICD10CM, "N64.52", "Nipple discharge")],
        specialist: "breast-surgeon",
        specialty: (SNOMED, "408469009", "Surgery-Breast surgery"),
        tests: &[biopsy(
            &[
                (SNOMED, "122548005", "Biopsy of breast"),
                (CPT, "19083", "Biopsy, breast, with placement of breast localization device(s), and imaging of the biopsy specimen, percutaneous; first lesion, including ultrasound guidance"),
            ],
            "Invasive ductal carcinoma, grade 2.",
        )],
        benign: "Fibroadenoma. No evidence of malignancy.",
        cancers: &[
            (ICD10CM, "C50.911", "Malignant neoplasm of unspecified site of right female breast"),
            (ICD10CM, "C50.912", "Malignant neoplasm of unspecified site of left female breast"),
        ],
        treatment: &[(CPT, "19301", "Mastectomy, partial (eg, lumpectomy, tylectomy, quadrantectomy, segmentectomy)")],
        stay: None,
        treated_by: "breast-surgeon",
        cancer_rate: 0.25,
    },
    Site {
        code: "usc-lower-gi",
        display: "Urgent suspected cancer referral – lower gastrointestinal",
        label: "lower gastrointestinal",
        weight: 20.0,
        female: 0.5,
        age: (66.0, 11.0),
        symptoms: &[
            (ICD10CM, "K62.5", "Hemorrhage of anus and rectum"),
            (ICD10CM, "R19.4", "Change in bowel habit"),
            (ICD10CM, "D50.9", "Iron deficiency anemia, unspecified"),
        ],
        specialist: "colorectal-surgeon",
        specialty: (SNOMED, "408464004", "Surgery-Colorectal surgery"),
        tests: &[Test {
            codes: &[(SNOMED, "73761001", "Colonoscopy"), (CPT, "45380", "Colonoscopy, flexible; with biopsy, single or multiple")],
            report: Some((SURGICAL_PATHOLOGY, PATHOLOGY, "Adenocarcinoma, moderately differentiated.")),
            only_if_suspicious: false,
            by: Some("gastroenterologist"),
        }],
        benign: "Hyperplastic polyp. No evidence of malignancy.",
        cancers: &[(ICD10CM, "C18.7", "Malignant neoplasm of sigmoid colon"), (ICD10CM, "C20", "Malignant neoplasm of rectum")],
        treatment: &[(CPT, "44140", "Colectomy, partial; with anastomosis")],
        stay: Some((4, 7)),
        treated_by: "colorectal-surgeon",
        cancer_rate: 0.2,
    },
    Site {
        code: "usc-skin",
        display: "Urgent suspected cancer referral – skin",
        label: "skin",
        weight: 18.0,
        female: 0.55,
        age: (62.0, 15.0),
        symptoms: &[(ICD10CM, "D48.5", "Neoplasm of uncertain behavior of skin")],
        specialist: "dermatologist",
        specialty: (SNOMED, "394582007", "Dermatology"),
        tests: &[biopsy(
            &[(CPT, "11102", "Tangential biopsy of skin (eg, shave, scoop, saucerize, curette); single lesion")],
            "Malignant melanoma, superficial spreading type, Breslow thickness 1.1 mm.",
        )],
        benign: "Seborrheic keratosis. No evidence of malignancy.",
        cancers: &[(ICD10CM, "C43.59", "Malignant melanoma of other part of trunk")],
        treatment: &[(CPT, "11603", "Excision, malignant lesion including margins, trunk, arms, or legs; excised diameter 2.1 to 3.0 cm")],
        stay: None,
        treated_by: "dermatologist",
        cancer_rate: 0.3,
    },
    Site {
        code: "usc-urology",
        display: "Urgent suspected cancer referral – urological",
        label: "urological (prostate)",
        weight: 12.0,
        female: 0.0,
        age: (68.0, 8.0),
        symptoms: &[(ICD10CM, "R97.20", "Elevated prostate specific antigen [PSA]")],
        specialist: "urologist",
        specialty: (SNOMED, "394612005", "Urology"),
        tests: &[
            Test {
                codes: &[(CPT, "72197", "Magnetic resonance (eg, proton) imaging, pelvis; without contrast material(s), followed by contrast material(s) and further sequences")],
                report: None,
                only_if_suspicious: false,
                by: None,
            },
            Test {
                codes: &[(SNOMED, "65575008", "Biopsy of prostate"), (CPT, "55700", "Biopsy, prostate; needle or punch, single or multiple, any approach")],
                report: Some((SURGICAL_PATHOLOGY, PATHOLOGY, "Acinar adenocarcinoma, Gleason score 3+4=7 (Grade Group 2).")),
                only_if_suspicious: true,
                by: None,
            },
        ],
        benign: "MRI PI-RADS 2: clinically significant cancer unlikely. No biopsy needed.",
        cancers: &[(ICD10CM, "C61", "Malignant neoplasm of prostate")],
        treatment: &[
            (SNOMED, "26294005", "Radical prostatectomy"),
            (CPT, "55866", "Laparoscopy, surgical prostatectomy, retropubic radical, including nerve sparing, includes robotic assistance, when performed"),
        ],
        stay: Some((1, 2)),
        treated_by: "urologist",
        cancer_rate: 0.35,
    },
    Site {
        code: "usc-lung",
        display: "Urgent suspected cancer referral – lung",
        label: "lung",
        weight: 8.0,
        female: 0.48,
        age: (70.0, 9.0),
        symptoms: &[(ICD10CM, "R04.2", "Hemoptysis"), (ICD10CM, "R91.1", "Solitary pulmonary nodule")],
        specialist: "attending-7north",
        specialty: (SNOMED, "418112009", "Pulmonary medicine"),
        tests: &[
            Test {
                codes: &[
                    (SNOMED, "169069000", "Computed tomography of chest"),
                    (CPT, "71260", "Computed tomography, thorax, diagnostic; with contrast material(s)"),
                ],
                report: Some((RADIOLOGY, (LOINC, "24627-2", "CT Chest"), "Spiculated right upper lobe mass, 28 mm, with ipsilateral hilar node: suspicious for primary lung cancer.")),
                only_if_suspicious: false,
                by: None,
            },
            Test {
                codes: &[(CPT, "31628", "Bronchoscopy, rigid or flexible, including fluoroscopic guidance, when performed; with transbronchial lung biopsy(s), single lobe")],
                report: Some((SURGICAL_PATHOLOGY, PATHOLOGY, "Non-small cell carcinoma, favour adenocarcinoma (TTF-1 positive).")),
                only_if_suspicious: true,
                by: None,
            },
        ],
        benign: "Calcified granuloma, benign appearance. No suspicious mass.",
        cancers: &[
            (ICD10CM, "C34.11", "Malignant neoplasm of upper lobe, right bronchus or lung"),
            (ICD10CM, "C34.12", "Malignant neoplasm of upper lobe, left bronchus or lung"),
        ],
        treatment: CHEMOTHERAPY,
        stay: None,
        treated_by: "oncologist",
        cancer_rate: 0.35,
    },
    Site {
        code: "usc-upper-gi",
        display: "Urgent suspected cancer referral – upper gastrointestinal",
        label: "upper gastrointestinal",
        weight: 6.0,
        female: 0.4,
        age: (67.0, 11.0),
        symptoms: &[(ICD10CM, "R13.10", "Dysphagia, unspecified"), (ICD10CM, "R63.4", "Abnormal weight loss")],
        specialist: "gastroenterologist",
        specialty: (SNOMED, "394584008", "Gastroenterology"),
        tests: &[biopsy(
            &[(CPT, "43239", "Esophagogastroduodenoscopy, flexible, transoral; with biopsy, single or multiple")],
            "Adenocarcinoma, poorly differentiated.",
        )],
        benign: "Reflux oesophagitis, Los Angeles grade B. No evidence of malignancy.",
        cancers: &[(ICD10CM, "C15.5", "Malignant neoplasm of lower third of esophagus"), (ICD10CM, "C16.0", "Malignant neoplasm of cardia")],
        treatment: CHEMOTHERAPY,
        stay: None,
        treated_by: "oncologist",
        cancer_rate: 0.2,
    },
    Site {
        code: "usc-gynae",
        display: "Urgent suspected cancer referral – gynecological",
        label: "gynecological",
        weight: 5.0,
        female: 1.0,
        age: (60.0, 10.0),
        symptoms: &[(ICD10CM, "N95.0", "Postmenopausal bleeding")],
        specialist: "gynecologist",
        specialty: (SNOMED, "394586005", "Gynecology"),
        tests: &[
            Test { codes: &[(CPT, "76830", "Ultrasound, transvaginal")], report: None, only_if_suspicious: false, by: None },
            biopsy(
                &[(CPT, "58100", "Endometrial sampling (biopsy) with or without endocervical sampling (biopsy), without cervical dilation, any method (separate procedure)")],
                "Endometrioid adenocarcinoma, FIGO grade 1.",
            ),
        ],
        benign: "Atrophic endometrium. No evidence of hyperplasia or malignancy.",
        cancers: &[(ICD10CM, "C54.1", "Malignant neoplasm of endometrium")],
        treatment: &[
            (SNOMED, "116140006", "Total hysterectomy"),
            (CPT, "58150", "Total abdominal hysterectomy (corpus and cervix), with or without removal of tube(s), with or without removal of ovary(s)"),
        ],
        stay: Some((1, 3)),
        treated_by: "gynecologist",
        cancer_rate: 0.15,
    },
    Site {
        code: "usc-head-neck",
        display: "Urgent suspected cancer referral – head and neck",
        label: "head and neck",
        weight: 4.0,
        female: 0.3,
        age: (62.0, 12.0),
        symptoms: &[(ICD10CM, "R49.0", "Dysphonia"), (ICD10CM, "R22.1", "Localized swelling, mass and lump, neck")],
        specialist: "ent-surgeon",
        specialty: (SNOMED, "418960008", "Otolaryngology"),
        tests: &[biopsy(&[(CPT, "31535", "Laryngoscopy, direct, operative, with biopsy")], "Squamous cell carcinoma, moderately differentiated.")],
        benign: "Vocal cord polyp. No evidence of dysplasia or malignancy.",
        cancers: &[(ICD10CM, "C32.0", "Malignant neoplasm of glottis")],
        treatment: &[(CPT, "77385", "Intensity modulated radiation treatment delivery (IMRT), includes guidance and tracking, when performed; simple")],
        stay: None,
        treated_by: "oncologist",
        cancer_rate: 0.15,
    },
];

/// Emits `cfg.cancer_referrals` referred patients numbered from `first_number`.
pub(crate) fn generate(cfg: &Config, staff: &Staff, first_number: u32, out: &mut Out) {
    let today = cfg.now.date_naive();
    let sites: Vec<(&Site, f64)> = SITES.iter().map(|s| (s, s.weight)).collect();
    for k in 0..cfg.cancer_referrals {
        let number = first_number + k as u32;
        if k + 1 == cfg.cancer_referrals {
            crate::oesophageal::generate(cfg, staff, number, out);
            continue;
        }
        let mut r = rng(cfg.seed, "referral", u64::from(number));
        let site = *weighted(&mut r, &sites);
        let age = normal_in(&mut r, site.age.0, site.age.1, 30.0, 92.0).round() as u32;
        let female = chance(&mut r, site.female);
        let person = demographics::person(&mut r, today, age, female);
        let pcp = clinic::outpatient(cfg, staff, number, &person, out);
        Pathway {
            cfg,
            staff,
            number,
            site,
            pcp,
            patient: format!("pat-{number:06}"),
        }
        .emit(&mut r, out);
    }
}

/// An encounter on the pathway.
struct Visit<'a> {
    tag: &'a str,
    start: DateTime<Utc>,
    end: DateTime<Utc>,
    /// v3 ActCode class and its display, e.g. `("AMB", "ambulatory")`.
    class: (&'a str, &'a str),
    who: &'a str,
    reason: Code,
    /// The referral it is based on; `None` for the GP visit that made it.
    referral: Option<&'a str>,
}

struct Pathway<'a> {
    cfg: &'a Config,
    staff: &'a Staff,
    number: u32,
    site: &'static Site,
    pcp: String,
    patient: String,
}

/// A time in clinic hours (08:00–16:00 local, UTC−5) `days` after `t`.
pub(crate) fn clinic_day(r: &mut impl Rng, t: DateTime<Utc>, days: i64) -> DateTime<Utc> {
    let day = (t + TimeDelta::days(days)).date_naive();
    day.and_hms_opt(13, 0, 0).unwrap_or_default().and_utc() + TimeDelta::minutes(int(r, 0, 31) * 15)
}

impl Pathway<'_> {
    fn id(&self, kind: &str, tag: &str) -> String {
        format!("{kind}-{:06}-{tag}", self.number)
    }

    fn encounter(&self, v: Visit<'_>) -> Value {
        let (tag, at, end, class, who, reason, based_on) =
            (v.tag, v.start, v.end, v.class, v.who, v.reason, v.referral);
        let mut e = json!({
            "resourceType": "Encounter",
            "id": self.id("enc", tag),
            "meta": if tag == "usc-first" { tagged(&["first-seen"]) } else { fhir::meta() },
            "status": "finished",
            "class": {"system": "http://terminology.hl7.org/CodeSystem/v3-ActCode", "code": class.0, "display": class.1},
            "type": [concept(&[if based_on.is_some() { CONSULTATION } else { (SNOMED, "185345009", "Encounter for symptom") }])],
            "subject": reference("Patient", &self.patient),
        });
        if let Some(sr) = based_on {
            e["basedOn"] = json!([reference("ServiceRequest", sr)]);
        }
        e["participant"] = json!([{
            "type": [concept(&[("http://terminology.hl7.org/CodeSystem/v3-ParticipationType", "PPRF", "primary performer")])],
            "individual": reference("Practitioner", who),
        }]);
        e["period"] = json!({"start": instant(at), "end": instant(end)});
        e["reasonCode"] = json!([concept(&[reason])]);
        e["location"] = json!([{"location": reference("Location", OUTPATIENT_CENTRE)}]);
        e["serviceProvider"] = reference("Organization", ORGANIZATION);
        e
    }

    fn emit(&self, r: &mut impl Rng, out: &mut Out) {
        let now = self.cfg.now;
        let site = self.site;
        let specialist = self.staff.role(site.specialist).to_string();
        let symptom = *pick(r, site.symptoms);
        let cancer = chance(r, site.cancer_rate);

        // The GP visit and the referral, up to ten weeks ago.
        let days_ago = uniform(r, 0.5, 70.0);
        let mut visit = clinic_day(r, now - TimeDelta::minutes((days_ago * 1440.0) as i64), 0);
        if visit + TimeDelta::hours(4) > now {
            visit -= TimeDelta::days(1);
        }
        out.push(self.encounter(Visit {
            tag: "gp",
            start: visit,
            end: visit + TimeDelta::minutes(20),
            class: ("AMB", "ambulatory"),
            who: &self.pcp,
            reason: symptom,
            referral: None,
        }));
        let authored = visit + TimeDelta::minutes(int(r, 60, 180));
        let sr = self.id("sr", "usc");
        let mut milestones: Vec<Value> = Vec::new();
        let mut completed = false;

        // First specialist appointment, mostly within two weeks.
        let wait = if chance(r, 0.12) {
            int(r, 15, 28)
        } else {
            int(r, 3, 14)
        };
        let first = clinic_day(r, authored, wait);
        let mut last_report: Option<DateTime<Utc>> = None;
        if first <= now {
            milestones.push(self.encounter(Visit {
                tag: "usc-first",
                start: first,
                end: first + TimeDelta::minutes(30),
                class: ("AMB", "ambulatory"),
                who: &specialist,
                reason: symptom,
                referral: Some(&sr),
            }));
            // Diagnostics: same day for one-stop clinics, otherwise days later, now and then weeks.
            let mut t = first;
            for (i, test) in site.tests.iter().enumerate() {
                if test.only_if_suspicious && !cancer {
                    continue;
                }
                let gap = if i == 0 && chance(r, 0.5) {
                    0
                } else if chance(r, 0.12) {
                    int(r, 12, 25)
                } else {
                    int(r, 2, 10)
                };
                let at = if gap == 0 {
                    t + TimeDelta::hours(1)
                } else {
                    clinic_day(r, t, gap)
                };
                if at > now {
                    break;
                }
                t = at;
                let by = test
                    .by
                    .map_or(specialist.clone(), |role| self.staff.role(role).to_string());
                let og = site.code == "usc-upper-gi";
                let mut proc = json!({
                    "resourceType": "Procedure",
                    "id": self.id("proc", &format!("usc-{}", i + 1)),
                    "meta": if og { tagged(&["ogd"]) } else { fhir::meta() },
                    "basedOn": [reference("ServiceRequest", &sr)],
                    "status": "completed",
                    "category": concept(&[(SNOMED, "103693007", "Diagnostic procedure")]),
                    "code": concept(test.codes),
                    "subject": reference("Patient", &self.patient),
                    "performedDateTime": instant(at),
                    "performer": [{"actor": reference("Practitioner", &by)}],
                    "location": reference("Location", OUTPATIENT_CENTRE),
                    "reasonCode": [concept(&[symptom])],
                });
                if gap == 0 {
                    proc["encounter"] = reference("Encounter", &self.id("enc", "usc-first"));
                }
                milestones.push(proc);
                let Some((category, code, malignant)) = test.report else {
                    continue;
                };
                let issued = at
                    + TimeDelta::days(if chance(r, 0.1) {
                        int(r, 9, 16)
                    } else {
                        int(r, 2, 7)
                    });
                if issued > now {
                    break;
                }
                let final_test = site.tests[i + 1..]
                    .iter()
                    .all(|t| t.only_if_suspicious && !cancer);
                let conclusion = if cancer { malignant } else { site.benign };
                let mut report = json!({
                    "resourceType": "DiagnosticReport",
                    "id": self.id("dr", &format!("usc-{}", i + 1)),
                    "meta": if og { tagged(&["og-biopsy-histology"]) } else { fhir::meta() },
                    "basedOn": [reference("ServiceRequest", &sr)],
                    "status": "final",
                    "category": [concept(&[category])],
                    "code": concept(&[code]),
                    "subject": reference("Patient", &self.patient),
                    "effectiveDateTime": instant(at),
                    "issued": instant(issued),
                    "performer": [reference("Organization", ORGANIZATION)],
                    "conclusion": conclusion,
                });
                if cancer && final_test {
                    report["conclusionCode"] = json!([concept(&site.cancers[..1])]);
                }
                milestones.push(report);
                last_report = final_test.then_some(issued);
            }
            // A benign result with no report of its own (e.g. a reassuring MRI).
            if !cancer
                && last_report.is_none()
                && site
                    .tests
                    .iter()
                    .all(|t| t.report.is_none() || t.only_if_suspicious)
                && t > first
            {
                last_report = Some(t + TimeDelta::days(int(r, 1, 3)));
            }
        }

        // Diagnosis communicated, or cancer ruled out: the Faster Diagnosis Standard stop.
        let told_gap = int(r, 1, 6);
        let told = last_report
            .map(|t| clinic_day(r, t, told_gap))
            .filter(|t| *t <= now);
        let mut plan: Option<(DateTime<Utc>, String, Code, &str)> = None;
        if let Some(told) = told {
            let diagnosis = *pick(r, site.cancers);
            let reason = if cancer { diagnosis } else { symptom };
            milestones.push(json!({
                "resourceType": "Communication",
                "id": self.id("comm", "usc-result"),
                "meta": tagged(&[if cancer { "diagnosis-communicated" } else { "cancer-ruled-out" }]),
                "status": "completed",
                "category": [{"text": if cancer { "Diagnosis communicated" } else { "Cancer ruled out" }}],
                "subject": reference("Patient", &self.patient),
                "encounter": reference("Encounter", &self.id("enc", "usc-result")),
                "sent": instant(told),
                "recipient": [reference("Patient", &self.patient)],
                "sender": reference("Practitioner", &specialist),
                "payload": [{"contentString": if cancer { "Diagnosis and next steps discussed in clinic." } else { "Told in clinic that the tests show no cancer; discharged back to the GP." }}],
            }));
            milestones.push(self.encounter(Visit {
                tag: "usc-result",
                start: told,
                end: told + TimeDelta::minutes(30),
                class: ("AMB", "ambulatory"),
                who: &specialist,
                reason,
                referral: Some(&sr),
            }));
            if cancer {
                let cond = self.id("cond", "cancer");
                let mut c = condition(
                    &cond,
                    &[diagnosis],
                    Facts {
                        patient: &self.patient,
                        category: Category::EncounterDiagnosis,
                        status: Status::Active,
                        onset: instant(last_report.unwrap_or(told)),
                        recorded: instant(told),
                        encounter: Some(&self.id("enc", "usc-result")),
                        asserter: Some(&specialist),
                    },
                );
                let stage = *weighted(
                    r,
                    &[
                        ("Stage I", 35.0),
                        ("Stage II", 30.0),
                        ("Stage III", 20.0),
                        ("Stage IV", 15.0),
                    ],
                );
                c["stage"] = json!([{"summary": {"text": stage}}]);
                milestones.push(c);
                // Breast and colon cancers: the clinical stage group as an Observation about
                // the cancer, which the CoC measures read (BCSdx: stage I-III; ACT: stage III).
                if site.code == "usc-breast" || diagnosis.1.starts_with("C18") {
                    let group = match stage {
                        "Stage I" => "stage-i",
                        "Stage II" => "stage-ii",
                        "Stage III" => "stage-iii",
                        _ => "stage-iv",
                    };
                    milestones.push(json!({
                        "resourceType": "Observation",
                        "id": self.id("obs", "stage"),
                        "meta": fhir::meta(),
                        "status": "final",
                        "category": [concept(&[("http://terminology.hl7.org/CodeSystem/observation-category", "exam", "Exam")])],
                        "code": concept(&[(LOINC, "21908-9", "Stage group.clinical Cancer")]),
                        "subject": reference("Patient", &self.patient),
                        "focus": [reference("Condition", &cond)],
                        "effectiveDateTime": instant(told),
                        "performer": [reference("Practitioner", &specialist)],
                        "valueCodeableConcept": {"coding": [{"system": PATHWAY_EVENT, "code": group, "display": stage}], "text": stage},
                    }));
                }
                plan = Some((told, cond, diagnosis, stage));
            } else {
                completed = true;
            }
        }

        // Decision to treat at the multidisciplinary meeting, then the first definitive treatment.
        if let Some((told, cond, diagnosis, stage)) = plan {
            let mdt_gap = int(r, 3, 12);
            let decided = clinic_day(r, told, mdt_gap);
            if decided <= now {
                let treater = self.staff.role(site.treated_by).to_string();
                milestones.push(json!({
                    "resourceType": "CarePlan",
                    "id": self.id("careplan", "treatment"),
                    "meta": tagged(&["decision-to-treat"]),
                    "status": "active",
                    "intent": "plan",
                    "category": [{"text": "Cancer treatment plan"}],
                    "title": format!("First-line treatment agreed at the {} multidisciplinary team meeting", site.label),
                    "subject": reference("Patient", &self.patient),
                    "period": {"start": instant(decided)},
                    "created": instant(decided),
                    "author": reference("Practitioner", &treater),
                    "addresses": [reference("Condition", &cond)],
                }));
                let wait = if chance(r, 0.15) {
                    int(r, 30, 45)
                } else {
                    int(r, 7, 28)
                };
                let start = clinic_day(r, decided, wait);
                let (class, end) = match site.stay {
                    Some((lo, hi)) => (
                        ("IMP", "inpatient encounter"),
                        start + TimeDelta::days(int(r, lo, hi)),
                    ),
                    None => (("AMB", "ambulatory"), start + TimeDelta::hours(3)),
                };
                // Recorded once the patient has gone home.
                if end <= now {
                    milestones.push(self.encounter(Visit {
                        tag: "usc-treatment",
                        start,
                        end,
                        class,
                        who: &treater,
                        reason: diagnosis,
                        referral: Some(&sr),
                    }));
                    // The CoC measures' surgeries: the first therapeutic breast surgery, the
                    // colon resection.
                    let colon = diagnosis.1.starts_with("C18");
                    let events: &[&str] = if site.code == "usc-breast" {
                        &[
                            "first-definitive-treatment",
                            "first-therapeutic-breast-surgery",
                        ]
                    } else if colon {
                        &["first-definitive-treatment", "colon-resection"]
                    } else {
                        &["first-definitive-treatment"]
                    };
                    milestones.push(json!({
                        "resourceType": "Procedure",
                        "id": self.id("proc", "usc-treatment"),
                        "meta": tagged(events),
                        "basedOn": [reference("ServiceRequest", &sr), reference("CarePlan", &self.id("careplan", "treatment"))],
                        "status": "completed",
                        "category": concept(&[if site.stay.is_some() { (SNOMED, "387713003", "Surgical procedure") } else { (SNOMED, "277132007", "Therapeutic procedure") }]),
                        "code": concept(site.treatment),
                        "subject": reference("Patient", &self.patient),
                        "encounter": reference("Encounter", &self.id("enc", "usc-treatment")),
                        "performedDateTime": instant(start + TimeDelta::hours(1)),
                        "performer": [{"actor": reference("Practitioner", &treater)}],
                        "reasonReference": [reference("Condition", &cond)],
                    }));
                    // Stage III colon cancer: adjuvant chemotherapy four to nine weeks after
                    // the resection (CoC ACT counts it within 120 days of diagnosis).
                    if colon && stage == "Stage III" {
                        let mut a = rng(self.cfg.seed, "adjuvant", u64::from(self.number));
                        let after = int(&mut a, 28, 63);
                        let given = clinic_day(&mut a, end, after);
                        if given <= now {
                            milestones.push(json!({
                                "resourceType": "MedicationAdministration",
                                "id": self.id("medadmin", "adjuvant"),
                                "meta": fhir::meta(),
                                "status": "completed",
                                "medicationCodeableConcept": {"coding": [{"system": "http://www.whocc.no/atc", "code": "L01BC06", "display": "capecitabine"}], "text": "Capecitabine"},
                                "subject": reference("Patient", &self.patient),
                                "effectiveDateTime": instant(given),
                                "performer": [{"actor": reference("Practitioner", self.staff.role("oncologist"))}],
                                "reasonReference": [reference("Condition", &cond)],
                            }));
                        }
                    }
                    completed = true;
                } else if site.treated_by != "oncologist" {
                    // A few patients ask to put off an offered admission (in-patient or day
                    // case; not chemotherapy or radiotherapy): a pause the 31- and 62-day
                    // standards allow, entered by the navigator.
                    let mut p = rng(self.cfg.seed, "pathway-pause", u64::from(self.number));
                    let gap = int(&mut p, 4, 8);
                    let from = clinic_day(&mut p, decided, gap);
                    if chance(&mut p, 0.7) && from < now {
                        let gap = int(&mut p, 10, 16);
                        let until = clinic_day(&mut p, from, gap);
                        let nav = self.staff.role(navigator_of(self.number)).to_string();
                        let mut t = json!({
                            "resourceType": "Task",
                            "id": self.id("task", "pause"),
                            "meta": fhir::meta(),
                            "status": "completed",
                            "intent": "order",
                            "code": {"coding": [{"system": NAVIGATION, "code": "clock-adjustment", "display": "Waiting-time adjustment"}]},
                            "for": reference("Patient", &self.patient),
                            "authoredOn": instant(from),
                            "requester": reference("Practitioner", &nav),
                            "reasonCode": {"text": "Patient declined the offered admission date (family commitment) and asked for a later one"},
                            "input": [
                                {"type": {"text": "pathway"}, "valueString": "nhs-suspected-cancer"},
                                {"type": {"text": "rule"}, "valueString": "declined-admitted-treatment"},
                            ],
                        });
                        t["executionPeriod"] = if until < now {
                            json!({"start": instant(from), "end": instant(until)})
                        } else {
                            json!({"start": instant(from)})
                        };
                        milestones.push(t);
                    }
                }
            }
        }

        out.push(json!({
            "resourceType": "ServiceRequest",
            "id": sr,
            "meta": if site.code == "usc-upper-gi" {
                tagged(&["urgent-suspected-cancer-referral", "urgent-suspected-og-cancer-referral"])
            } else {
                tagged(&["urgent-suspected-cancer-referral"])
            },
            "identifier": [{"system": format!("{}/sid/referral", fhir::TEND), "value": format!("USC{}{:06}", authored.format("%y%m%d"), self.number)}],
            "status": if completed { "completed" } else { "active" },
            "intent": "order",
            "category": [{"coding": [
                {"system": SNOMED, "code": "3457005", "display": "Patient referral"},
                {"system": PATHWAY, "code": "urgent-suspected-cancer", "display": "Urgent suspected cancer referral"},
            ]}],
            "priority": "urgent",
            "code": concept(&[(PATHWAY, site.code, site.display)]),
            "subject": reference("Patient", &self.patient),
            "authoredOn": instant(authored),
            "requester": reference("Practitioner", &self.pcp),
            "performerType": concept(&[site.specialty]),
            "performer": [reference("Practitioner", &specialist)],
            "reasonCode": [concept(&[symptom])],
            "note": [{"text": format!("Urgent referral for suspected {} cancer: {}.", site.label, symptom.2.to_lowercase())}],
        }));
        out.extend(milestones);
        // The patient's care team on the pathway: the GP, the specialist, the navigator who
        // guides them and the social worker (reached through `CareTeam.participant`).
        out.push(json!({
            "resourceType": "CareTeam",
            "id": self.id("careteam", "usc"),
            "meta": fhir::meta(),
            "status": if completed { "inactive" } else { "active" },
            "name": format!("Suspected {} cancer pathway", site.label),
            "subject": reference("Patient", &self.patient),
            "participant": [
                {"role": [{"text": "Primary care physician"}], "member": reference("Practitioner", &self.pcp)},
                {"role": [concept(&[site.specialty])], "member": reference("Practitioner", &specialist)},
                {"role": [{"text": "Patient navigator"}], "member": reference("Practitioner", self.staff.role(navigator_of(self.number)))},
                {"role": [concept(&[(SNOMED, "106328005", "Social worker")])], "member": reference("Practitioner", self.staff.role("social-worker-1"))},
            ],
            "managingOrganization": [reference("Organization", ORGANIZATION)],
        }));
        let assigned = (authored + TimeDelta::days(1)).min(now);
        out.push(assignment(
            self.staff,
            &self.patient,
            &self.id("task", "navigator"),
            navigator_of(self.number),
            assigned,
        ));
        // Some patients' social-needs screening (AHC HRSN) found a barrier to getting to
        // appointments or paying for the basics.
        let mut b = rng(self.cfg.seed, "pathway-barrier", u64::from(self.number));
        if chance(&mut b, 0.2) {
            let (code, question) = *pick(
                &mut b,
                &[
                    ("93030-5", "In the past 12 months, has lack of reliable transportation kept you from medical appointments, meetings, work or from getting things needed for daily living?"),
                    ("76513-1", "How hard is it for you to pay for the very basics like food, housing, medical care, and heating?"),
                ],
            );
            let answer = if code == "93030-5" {
                json!({"coding": [{"system": LOINC, "code": "LA33-6", "display": "Yes"}]})
            } else {
                json!({"coding": [{"system": LOINC, "code": "LA14745-4", "display": "Somewhat hard"}]})
            };
            out.push(json!({
                "resourceType": "Observation",
                "id": self.id("obs", "hrsn"),
                "meta": fhir::meta(),
                "status": "final",
                "category": [{"coding": [{"system": "http://terminology.hl7.org/CodeSystem/observation-category", "code": "social-history", "display": "Social History"}]}],
                "code": {"coding": [{"system": LOINC, "code": code, "display": question}], "text": question},
                "subject": reference("Patient", &self.patient),
                "effectiveDateTime": instant(authored),
                "valueCodeableConcept": answer,
            }));
        }
        // Most patients hear from their navigator within a couple of days.
        let mut c = rng(self.cfg.seed, "navigator-contact", u64::from(self.number));
        let days = int(&mut c, 1, 2);
        let at = clinic_day(&mut c, assigned, days);
        if chance(&mut c, 0.75) && at < now {
            let reached = chance(&mut c, 0.7);
            out.push(json!({
                "resourceType": "Communication",
                "id": self.id("comm", "navigator"),
                "meta": fhir::meta(),
                "extension": [{"url": "https://tend.example.org/fhir/StructureDefinition/contact-outcome",
                    "valueCodeableConcept": {"coding": [if reached {
                        json!({"system": "https://tend.example.org/fhir/CodeSystem/contact-outcome", "code": "reached", "display": "Spoke with the patient"})
                    } else {
                        json!({"system": "https://tend.example.org/fhir/CodeSystem/contact-outcome", "code": "left-message", "display": "Left a message"})
                    }]}}],
                "status": "completed",
                "category": [{"coding": [{"system": NAVIGATION, "code": "contact", "display": "Navigator contact"}]}],
                "medium": [{"coding": [{"system": "http://terminology.hl7.org/CodeSystem/v3-ParticipationMode", "code": "PHONE", "display": "Telephone"}]}],
                "subject": reference("Patient", &self.patient),
                "sent": instant(at),
                "recipient": [reference("Patient", &self.patient)],
                "sender": reference("Practitioner", self.staff.role(navigator_of(self.number))),
                "payload": [{"contentString": if reached {
                    "Introduced myself as their navigator; explained the tests ahead and how to reach me."
                } else {
                    "Introductory call; left my direct number."
                }}],
            }));
        }
    }
}

/// The navigator's assignment to a referred patient (the day after the referral arrived).
pub(crate) fn assignment(
    staff: &Staff,
    patient: &str,
    id: &str,
    navigator: &str,
    at: DateTime<Utc>,
) -> Value {
    let nav = staff.role(navigator);
    json!({
        "resourceType": "Task",
        "id": id,
        "meta": fhir::meta(),
        "status": "completed",
        "intent": "order",
        "code": {"coding": [{"system": NAVIGATION, "code": "assign-navigator", "display": "Assign a patient navigator"}]},
        "for": reference("Patient", patient),
        "authoredOn": instant(at),
        "requester": reference("Practitioner", nav),
        "owner": reference("Practitioner", nav),
        "note": [{"text": "Picked up from the referral list."}],
    })
}
