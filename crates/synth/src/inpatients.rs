//! Inpatients: who is in which bed and why. Each ward has its own case mix (pneumonia and sepsis
//! on acute medicine, COPD on respiratory, hip fractures and delirium in older people's care,
//! myocardial infarction on the coronary care unit...), its own age profile and length of stay.
//! Emits the beds, Patients, in-progress inpatient Encounters (class IMP), admitting diagnoses and
//! chronic problems, and for patients with hypercapnic respiratory failure a Goal prescribing the
//! 88–92 % saturation target (NEWS2 SpO2 scale 2). Returns the physiological course of each
//! patient for the vital signs. <https://hl7.org/fhir/R4/encounter.html>

use chrono::{DateTime, Datelike, NaiveDate, TimeDelta, Timelike, Utc};
use rand::seq::SliceRandom;
use serde_json::json;

use crate::bedside_record::{self, Inpatient, LabPicture};
use crate::demographics::{self, Person};
use crate::facility::{self, Staff, Ward, WardKind, ORGANIZATION};
use crate::fhir::{self, concept, instant, quantity, reference, ICD10CM, LOINC, SNOMED};
use crate::hospital::{Config, Out};
use crate::problems::{self, condition, Category, Facts, Problem, Status};
use crate::random::{chance, exponential, normal_in, pick, rng, uniform, weighted};
use crate::vitals::{Course, Episode, Physio, Sim};

/// What kind of illness brought the patient in; sets the shape of their vital signs.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Kind {
    Sepsis,
    Pneumonia,
    CopdExacerbation,
    Asthma,
    HeartFailure,
    CoronarySyndrome,
    RapidAf,
    HeartBlock,
    PulmonaryEmbolism,
    PleuralEffusion,
    Uti,
    Cellulitis,
    Aki,
    GiBleed,
    Stroke,
    Delirium,
    Fall,
    HipFracture,
    AcuteAbdomen,
    Pancreatitis,
    ElectiveSurgery,
}

struct Dx {
    codes: Problem,
    kind: Kind,
    weight: f64,
    min_age: u32,
}

const fn dx(
    snomed: (&'static str, &'static str),
    icd: (&'static str, &'static str),
    kind: Kind,
    weight: f64,
    min_age: u32,
) -> Dx {
    Dx {
        codes: [(SNOMED, snomed.0, snomed.1), (ICD10CM, icd.0, icd.1)],
        kind,
        weight,
        min_age,
    }
}

const PNEUMONIA: ((&str, &str), (&str, &str)) = (
    ("233604007", "Pneumonia"),
    ("J18.9", "Pneumonia, unspecified organism"),
);
const SEPSIS: ((&str, &str), (&str, &str)) = (
    ("91302008", "Sepsis"),
    ("A41.9", "Sepsis, unspecified organism"),
);
const UTI: ((&str, &str), (&str, &str)) = (
    ("68566005", "Urinary tract infectious disease"),
    ("N39.0", "Urinary tract infection, site not specified"),
);
const HEART_FAILURE: ((&str, &str), (&str, &str)) = (
    ("42343007", "Congestive heart failure"),
    ("I50.9", "Heart failure, unspecified"),
);
const COPD_EXACERBATION: ((&str, &str), (&str, &str)) = (
    (
        "195951007",
        "Acute exacerbation of chronic obstructive airways disease",
    ),
    (
        "J44.1",
        "Chronic obstructive pulmonary disease with (acute) exacerbation",
    ),
);
const PE: ((&str, &str), (&str, &str)) = (
    ("59282003", "Pulmonary embolism"),
    (
        "I26.99",
        "Other pulmonary embolism without acute cor pulmonale",
    ),
);
const AKI: ((&str, &str), (&str, &str)) = (
    ("14669001", "Acute renal failure syndrome"),
    ("N17.9", "Acute kidney failure, unspecified"),
);
const STROKE: ((&str, &str), (&str, &str)) = (
    ("230690007", "Cerebrovascular accident"),
    ("I63.9", "Cerebral infarction, unspecified"),
);
const HIP_FRACTURE: ((&str, &str), (&str, &str)) = (
    ("5913000", "Fracture of neck of femur"),
    ("S72.001A", "Fracture of unspecified part of neck of right femur, initial encounter for closed fracture"),
);

const ACUTE_MEDICINE: &[Dx] = &[
    dx(PNEUMONIA.0, PNEUMONIA.1, Kind::Pneumonia, 18.0, 18),
    dx(SEPSIS.0, SEPSIS.1, Kind::Sepsis, 10.0, 18),
    dx(UTI.0, UTI.1, Kind::Uti, 11.0, 18),
    dx(
        ("128045006", "Cellulitis"),
        ("L03.90", "Cellulitis, unspecified"),
        Kind::Cellulitis,
        8.0,
        18,
    ),
    dx(AKI.0, AKI.1, Kind::Aki, 7.0, 30),
    dx(
        ("74474003", "Gastrointestinal hemorrhage"),
        ("K92.2", "Gastrointestinal hemorrhage, unspecified"),
        Kind::GiBleed,
        6.0,
        25,
    ),
    dx(PE.0, PE.1, Kind::PulmonaryEmbolism, 5.0, 20),
    dx(STROKE.0, STROKE.1, Kind::Stroke, 6.0, 40),
    dx(
        HEART_FAILURE.0,
        HEART_FAILURE.1,
        Kind::HeartFailure,
        10.0,
        45,
    ),
    dx(
        COPD_EXACERBATION.0,
        COPD_EXACERBATION.1,
        Kind::CopdExacerbation,
        6.0,
        45,
    ),
];
const SURGERY: &[Dx] = &[
    dx(("74400008", "Appendicitis"), ("K35.80", "Unspecified acute appendicitis"), Kind::AcuteAbdomen, 10.0, 18),
    dx(("65275009", "Acute cholecystitis"), ("K81.0", "Acute cholecystitis"), Kind::AcuteAbdomen, 10.0, 25),
    dx(
        ("81060008", "Intestinal obstruction"),
        ("K56.609", "Unspecified intestinal obstruction, unspecified as to partial versus complete obstruction"),
        Kind::AcuteAbdomen,
        9.0,
        30,
    ),
    dx(
        ("307496006", "Diverticulitis"),
        ("K57.92", "Diverticulitis of intestine, part unspecified, without perforation or abscess without bleeding"),
        Kind::AcuteAbdomen,
        8.0,
        35,
    ),
    dx(
        ("197456007", "Acute pancreatitis"),
        ("K85.90", "Acute pancreatitis without necrosis or infection, unspecified"),
        Kind::Pancreatitis,
        7.0,
        25,
    ),
    dx(HIP_FRACTURE.0, HIP_FRACTURE.1, Kind::HipFracture, 10.0, 60),
    dx(
        ("239873007", "Osteoarthritis of knee"),
        ("M17.11", "Unilateral primary osteoarthritis, right knee"),
        Kind::ElectiveSurgery,
        6.0,
        50,
    ),
    dx(
        ("363406005", "Malignant neoplasm of colon"),
        ("C18.7", "Malignant neoplasm of sigmoid colon"),
        Kind::ElectiveSurgery,
        5.0,
        40,
    ),
];
const RESPIRATORY: &[Dx] = &[
    dx(
        COPD_EXACERBATION.0,
        COPD_EXACERBATION.1,
        Kind::CopdExacerbation,
        35.0,
        45,
    ),
    dx(PNEUMONIA.0, PNEUMONIA.1, Kind::Pneumonia, 25.0, 18),
    dx(
        ("195967001", "Asthma"),
        ("J45.901", "Unspecified asthma with (acute) exacerbation"),
        Kind::Asthma,
        10.0,
        18,
    ),
    dx(PE.0, PE.1, Kind::PulmonaryEmbolism, 10.0, 20),
    dx(
        ("60046008", "Pleural effusion"),
        ("J91.0", "Malignant pleural effusion"),
        Kind::PleuralEffusion,
        6.0,
        45,
    ),
    dx(
        ("12295008", "Bronchiectasis"),
        ("J47.1", "Bronchiectasis with (acute) exacerbation"),
        Kind::Pneumonia,
        6.0,
        30,
    ),
];
const OLDER_PEOPLE: &[Dx] = &[
    dx(
        ("2776000", "Delirium"),
        ("F05", "Delirium due to known physiological condition"),
        Kind::Delirium,
        14.0,
        65,
    ),
    dx(
        ("217082002", "Accidental fall"),
        ("W19.XXXA", "Unspecified fall, initial encounter"),
        Kind::Fall,
        12.0,
        65,
    ),
    dx(HIP_FRACTURE.0, HIP_FRACTURE.1, Kind::HipFracture, 14.0, 65),
    dx(UTI.0, UTI.1, Kind::Uti, 14.0, 18),
    dx(PNEUMONIA.0, PNEUMONIA.1, Kind::Pneumonia, 12.0, 18),
    dx(
        HEART_FAILURE.0,
        HEART_FAILURE.1,
        Kind::HeartFailure,
        8.0,
        45,
    ),
    dx(AKI.0, AKI.1, Kind::Aki, 6.0, 30),
    dx(STROKE.0, STROKE.1, Kind::Stroke, 5.0, 40),
];
const CORONARY: &[Dx] = &[
    dx(
        (
            "401314000",
            "Acute non-ST segment elevation myocardial infarction",
        ),
        ("I21.4", "Non-ST elevation (NSTEMI) myocardial infarction"),
        Kind::CoronarySyndrome,
        30.0,
        30,
    ),
    dx(
        (
            "401303003",
            "Acute ST segment elevation myocardial infarction",
        ),
        (
            "I21.3",
            "ST elevation (STEMI) myocardial infarction of unspecified site",
        ),
        Kind::CoronarySyndrome,
        12.0,
        30,
    ),
    dx(
        ("4557003", "Preinfarction syndrome"),
        ("I20.0", "Unstable angina"),
        Kind::CoronarySyndrome,
        12.0,
        30,
    ),
    dx(
        ("49436004", "Atrial fibrillation"),
        ("I48.91", "Unspecified atrial fibrillation"),
        Kind::RapidAf,
        14.0,
        30,
    ),
    dx(
        HEART_FAILURE.0,
        HEART_FAILURE.1,
        Kind::HeartFailure,
        16.0,
        40,
    ),
    dx(
        ("27885002", "Complete atrioventricular block"),
        ("I44.2", "Atrioventricular block, complete"),
        Kind::HeartBlock,
        6.0,
        40,
    ),
];

fn case_mix(kind: WardKind) -> &'static [Dx] {
    match kind {
        WardKind::AcuteMedicine => ACUTE_MEDICINE,
        WardKind::Surgery => SURGERY,
        WardKind::Respiratory => RESPIRATORY,
        WardKind::OlderPeople => OLDER_PEOPLE,
        WardKind::Coronary => CORONARY,
    }
}

/// Age (mean, sd, min, max), share of women, and mean length of stay so far in days.
fn ward_profile(kind: WardKind) -> (f64, f64, f64, f64, f64, f64) {
    match kind {
        WardKind::AcuteMedicine => (70.0, 16.0, 18.0, 99.0, 0.5, 3.5),
        WardKind::Surgery => (58.0, 18.0, 18.0, 96.0, 0.48, 3.0),
        WardKind::Respiratory => (70.0, 11.0, 25.0, 97.0, 0.5, 4.0),
        WardKind::OlderPeople => (84.0, 6.0, 75.0, 101.0, 0.6, 9.0),
        WardKind::Coronary => (67.0, 12.0, 30.0, 95.0, 0.38, 2.5),
    }
}

/// How an illness changes the vital signs at admission, how fast it settles, and how likely it is
/// to bring delirium.
struct Illness {
    acute: Physio,
    tau_h: f64,
    delirium: f64,
}

fn illness(kind: Kind) -> Illness {
    let p = |rr, spo2, sbp, dbp, hr, temp| Physio {
        rr,
        spo2,
        sbp,
        dbp,
        hr,
        temp,
    };
    let (acute, tau_h, delirium) = match kind {
        Kind::Sepsis => (p(8.0, -4.0, -28.0, -15.0, 32.0, 1.8), 30.0, 0.3),
        Kind::Pneumonia => (p(5.0, -5.0, -6.0, -4.0, 15.0, 1.2), 40.0, 0.15),
        Kind::CopdExacerbation => (p(6.0, -4.0, 5.0, 3.0, 15.0, 0.3), 48.0, 0.05),
        Kind::Asthma => (p(8.0, -3.0, 5.0, 3.0, 22.0, 0.1), 24.0, 0.0),
        Kind::HeartFailure => (p(5.0, -5.0, 12.0, 6.0, 14.0, 0.0), 48.0, 0.1),
        Kind::CoronarySyndrome => (p(2.0, -1.0, 10.0, 5.0, 10.0, 0.0), 24.0, 0.0),
        Kind::RapidAf => (p(3.0, -1.0, -6.0, -3.0, 45.0, 0.0), 16.0, 0.0),
        Kind::HeartBlock => (p(0.0, 0.0, -10.0, -5.0, -35.0, 0.0), 36.0, 0.0),
        Kind::PulmonaryEmbolism => (p(7.0, -5.0, -8.0, -4.0, 24.0, 0.4), 48.0, 0.0),
        Kind::PleuralEffusion => (p(5.0, -4.0, 0.0, 0.0, 10.0, 0.0), 60.0, 0.0),
        Kind::Uti => (p(3.0, 0.0, -8.0, -5.0, 14.0, 1.2), 30.0, 0.35),
        Kind::Cellulitis => (p(1.0, 0.0, -3.0, -2.0, 10.0, 1.0), 48.0, 0.0),
        Kind::Aki => (p(2.0, 0.0, -12.0, -6.0, 8.0, 0.0), 48.0, 0.1),
        Kind::GiBleed => (p(3.0, 0.0, -22.0, -12.0, 24.0, 0.0), 20.0, 0.05),
        Kind::Stroke => (p(1.0, -1.0, 25.0, 10.0, 0.0, 0.2), 72.0, 0.2),
        Kind::Delirium => (p(2.0, 0.0, 5.0, 2.0, 10.0, 0.3), 72.0, 1.0),
        Kind::Fall => (p(0.0, 0.0, 0.0, 0.0, 6.0, 0.0), 24.0, 0.15),
        Kind::HipFracture => (p(2.0, -1.0, -6.0, -4.0, 12.0, 0.4), 36.0, 0.25),
        Kind::AcuteAbdomen => (p(3.0, 0.0, -5.0, -3.0, 18.0, 1.0), 30.0, 0.0),
        Kind::Pancreatitis => (p(5.0, -2.0, -8.0, -4.0, 22.0, 0.8), 48.0, 0.0),
        Kind::ElectiveSurgery => (p(1.0, -1.0, -5.0, -3.0, 8.0, 0.5), 24.0, 0.05),
    };
    Illness {
        acute,
        tau_h,
        delirium,
    }
}

/// Patients per ward (in proportion to the standard bed numbers) and beds per ward (grown when
/// needed so that occupancy stays realistic, about 92 % at most).
pub(crate) fn census(inpatients: usize) -> (Vec<usize>, Vec<usize>) {
    let standard: Vec<usize> = facility::WARDS.iter().map(|w| w.beds).collect();
    let total: usize = standard.iter().sum();
    let exact: Vec<f64> = standard
        .iter()
        .map(|&b| inpatients as f64 * b as f64 / total as f64)
        .collect();
    let mut patients: Vec<usize> = exact.iter().map(|x| x.floor() as usize).collect();
    let mut order: Vec<usize> = (0..exact.len()).collect();
    order.sort_by(|&a, &b| {
        (exact[b] - exact[b].floor())
            .total_cmp(&(exact[a] - exact[a].floor()))
            .then(a.cmp(&b))
    });
    let missing = inpatients - patients.iter().sum::<usize>();
    for &i in order.iter().take(missing) {
        patients[i] += 1;
    }
    let beds = standard
        .iter()
        .zip(&patients)
        .map(|(&b, &p)| b.max((p as f64 / 0.92).ceil() as usize))
        .collect();
    (patients, beds)
}

/// Admits `census[w]` patients to each ward, numbering them from `first_number`; emits beds,
/// patients, encounters, conditions and goals, and returns each patient's observation schedule.
pub(crate) fn admit(
    cfg: &Config,
    staff: &Staff,
    census: &[usize],
    first_number: u32,
    out: &mut Out,
) -> Vec<Sim> {
    let today = cfg.now.date_naive();
    let history_start = cfg.now - TimeDelta::days(i64::from(cfg.vitals_days));
    let mut sims = Vec::new();
    let mut number = first_number;
    for (wi, ward) in staff.wards.iter().enumerate() {
        let mut r = rng(cfg.seed, "ward", wi as u64);
        let mut beds: Vec<usize> = (0..ward.beds).collect();
        beds.shuffle(&mut r);
        let mut taken: Vec<usize> = beds.into_iter().take(census[wi]).collect();
        taken.sort_unstable();
        let occupied: Vec<bool> = (0..ward.beds).map(|b| taken.contains(&b)).collect();
        facility::beds(cfg.seed, wi, ward, &occupied, out);
        for &bed in &taken {
            let admission = Admission::draw(cfg, staff, ward, bed + 1, number, today);
            sims.push(admission.emit(cfg, ward, history_start, out));
            number += 1;
        }
    }
    deteriorate(cfg, &mut sims);
    sims
}

/// About 5 % of inpatients deteriorate: two already at a high score when the demo starts, a few
/// on the way up, and a few more over the next hours of the live feed.
fn deteriorate(cfg: &Config, sims: &mut [Sim]) {
    let mut r = rng(cfg.seed, "deteriorate", 0);
    let settled = cfg.now - TimeDelta::hours(40);
    let mut candidates: Vec<usize> = (0..sims.len())
        .filter(|&i| sims[i].course.admitted <= settled && !sims[i].course.scale2)
        .collect();
    candidates.shuffle(&mut r);
    let n = ((sims.len() as f64 * 0.05).round() as usize)
        .max(1)
        .min(candidates.len());
    const OFFSETS_H: [f64; 8] = [-14.0, -9.0, -4.0, -2.0, 1.5, 3.0, 5.0, 8.0];
    for (k, &i) in candidates.iter().take(n).enumerate() {
        let offset = OFFSETS_H
            .get(k)
            .copied()
            .unwrap_or(8.0 + 2.0 * (k as f64 - 7.0));
        let onset = cfg.now + TimeDelta::minutes((offset * 60.0) as i64);
        let peak = if k < 2 {
            uniform(&mut r, 0.85, 1.0)
        } else {
            uniform(&mut r, 0.6, 0.95)
        };
        sims[i]
            .course
            .episodes
            .push(Episode::random(&mut r, onset, peak));
    }
}

struct Admission {
    number: u32,
    bed: usize,
    person: Person,
    age: u32,
    dx: &'static Dx,
    admitted: DateTime<Utc>,
    comorbidities: Vec<Problem>,
    scale2: bool,
    pcp: String,
    course: Course,
}

impl Admission {
    fn draw(
        cfg: &Config,
        staff: &Staff,
        ward: &Ward,
        bed: usize,
        number: u32,
        today: NaiveDate,
    ) -> Admission {
        let mut r = rng(cfg.seed, "inpatient", u64::from(number));
        let kind = ward.spec.kind;
        let (mean_age, sd_age, min_age, max_age, female_p, stay_days) = ward_profile(kind);
        let age = normal_in(&mut r, mean_age, sd_age, min_age, max_age).round() as u32;
        let female = chance(&mut r, female_p);
        let person = demographics::person(&mut r, today, age, female);
        let options: Vec<(&'static Dx, f64)> = case_mix(kind)
            .iter()
            .filter(|d| d.min_age <= age)
            .map(|d| (d, d.weight))
            .collect();
        let dx = *weighted(&mut r, &options);
        let max_stay = if kind == WardKind::OlderPeople {
            45.0
        } else {
            25.0
        };
        let stay_h = (exponential(&mut r, stay_days * 24.0) + 1.0).min(max_stay * 24.0);
        let admitted = cfg.now - TimeDelta::minutes((stay_h * 60.0) as i64);
        let admitted = admitted.with_second(0).unwrap_or(admitted);

        let a = f64::from(age);
        let copd = dx.kind == Kind::CopdExacerbation
            || chance(
                &mut r,
                if kind == WardKind::Respiratory {
                    0.2
                } else {
                    0.06
                },
            );
        let scale2 = dx.kind == Kind::CopdExacerbation && chance(&mut r, 0.45);
        let htn = chance(
            &mut r,
            (0.15 + 0.008 * (a - 40.0).max(0.0)).min(0.7)
                + if person.is_black() { 0.1 } else { 0.0 },
        );
        let diabetes = chance(
            &mut r,
            (0.08 + 0.004 * (a - 40.0).max(0.0)).min(0.35)
                + if person.higher_cardiometabolic_risk() {
                    0.08
                } else {
                    0.0
                },
        );
        let af = dx.kind != Kind::RapidAf
            && chance(
                &mut r,
                ((a - 55.0).max(0.0) * 0.006).min(0.3)
                    + if kind == WardKind::Coronary { 0.1 } else { 0.0 },
            );
        let ckd = chance(&mut r, ((a - 50.0).max(0.0) * 0.005).min(0.3));
        let dementia = chance(
            &mut r,
            if kind == WardKind::OlderPeople {
                0.35
            } else {
                ((a - 75.0).max(0.0) * 0.02).min(0.3)
            },
        );
        let heart_failure = dx.kind != Kind::HeartFailure
            && chance(&mut r, ((a - 65.0).max(0.0) * 0.008).min(0.25));
        let comorbidities: Vec<Problem> = [
            (htn, problems::HYPERTENSION),
            (diabetes, problems::TYPE2_DIABETES),
            (af, problems::ATRIAL_FIBRILLATION),
            (ckd, problems::CKD),
            (copd, problems::COPD),
            (dementia, problems::DEMENTIA),
            (heart_failure, problems::HEART_FAILURE),
        ]
        .into_iter()
        .filter_map(|(has, p)| has.then_some(p))
        .collect();

        let base = Physio {
            rr: if copd {
                normal_in(&mut r, 19.0, 1.2, 16.0, 22.0)
            } else {
                normal_in(&mut r, 16.0, 1.2, 13.0, 19.0)
            },
            spo2: if scale2 {
                normal_in(&mut r, 85.5, 1.0, 84.0, 87.0)
            } else if copd {
                normal_in(&mut r, 92.8, 1.0, 91.0, 95.0)
            } else {
                normal_in(&mut r, 97.0 - 0.05 * (a - 50.0).max(0.0), 0.8, 93.5, 99.5)
            },
            sbp: normal_in(
                &mut r,
                118.0 + 0.45 * (a - 40.0).max(0.0) + if htn { 10.0 } else { 0.0 },
                11.0,
                105.0,
                175.0,
            ),
            dbp: normal_in(&mut r, 76.0 - 0.12 * (a - 60.0).max(0.0), 6.0, 55.0, 95.0),
            hr: normal_in(&mut r, if af { 84.0 } else { 76.0 }, 7.0, 58.0, 98.0),
            temp: normal_in(&mut r, 36.8, 0.15, 36.3, 37.2),
        };
        let ill = illness(dx.kind);
        let delirium_p = ill.delirium * if age >= 75 { 1.3 } else { 0.6 };
        let delirium_until = chance(&mut r, delirium_p)
            .then(|| admitted + TimeDelta::minutes((uniform(&mut r, 24.0, 96.0) * 60.0) as i64));
        let coronary = kind == WardKind::Coronary;
        let course = Course {
            admitted,
            base,
            acute: Physio::default().plus(ill.acute, uniform(&mut r, 0.5, 1.15)),
            tau_h: ill.tau_h,
            delirium_until,
            episodes: Vec::new(),
            random_after: cfg.now + TimeDelta::hours(1),
            scale2,
            irregular_pulse: af || dx.kind == Kind::RapidAf,
            monitored: coronary,
            max_interval_h: if coronary { 4 } else { 12 },
        };
        let pcp = pick(&mut r, &staff.primary_care).clone();
        Admission {
            number,
            bed,
            person,
            age,
            dx,
            admitted,
            comorbidities,
            scale2,
            pcp,
            course,
        }
    }

    fn emit(self, cfg: &Config, ward: &Ward, history_start: DateTime<Utc>, out: &mut Out) -> Sim {
        let mut r = rng(cfg.seed, "inpatient-record", u64::from(self.number));
        let today = cfg.now.date_naive();
        let patient = format!("pat-{:06}", self.number);
        let encounter = format!("enc-{:06}", self.number);
        out.push(demographics::patient(
            &patient,
            self.number,
            &self.person,
            Some(&self.pcp),
            ORGANIZATION,
        ));

        let elective = self.dx.kind == Kind::ElectiveSurgery;
        let (priority, admit_source) = if elective {
            (("EL", "elective"), ("outp", "From outpatient department"))
        } else if ward.spec.kind == WardKind::OlderPeople && chance(&mut r, 0.15) {
            (("EM", "emergency"), ("nursing", "From nursing home"))
        } else if chance(&mut r, 0.06) {
            (
                ("UR", "urgent"),
                ("hosp-trans", "Transferred from other hospital"),
            )
        } else {
            (
                ("EM", "emergency"),
                ("emd", "From accident/emergency department"),
            )
        };
        let bed = ward.bed_id(self.bed);
        out.push(json!({
            "resourceType": "Encounter",
            "id": encounter,
            "meta": fhir::meta(),
            "identifier": [{"system": format!("{}/sid/visit", fhir::TEND), "value": format!("V{}{:06}", self.admitted.format("%y%m%d"), self.number)}],
            "status": "in-progress",
            "class": {"system": "http://terminology.hl7.org/CodeSystem/v3-ActCode", "code": "IMP", "display": "inpatient encounter"},
            "type": [concept(&[(SNOMED, "32485007", "Hospital admission")])],
            "priority": concept(&[("http://terminology.hl7.org/CodeSystem/v3-ActPriority", priority.0, priority.1)]),
            "subject": reference("Patient", &patient),
            "participant": [{
                "type": [concept(&[("http://terminology.hl7.org/CodeSystem/v3-ParticipationType", "ATND", "attender")])],
                "individual": reference("Practitioner", &ward.attending),
            }],
            "period": {"start": instant(self.admitted)},
            "reasonCode": [concept(&self.dx.codes)],
            "hospitalization": {
                "admitSource": concept(&[("http://terminology.hl7.org/CodeSystem/admit-source", admit_source.0, admit_source.1)]),
            },
            "location": [
                {"location": {"reference": format!("Location/{bed}"), "display": format!("{} Bed {:02}", ward.spec.alias, self.bed)}, "status": "active", "physicalType": concept(&[(PHYSICAL_TYPE, "bd", "Bed")]), "period": {"start": instant(self.admitted)}},
                {"location": {"reference": format!("Location/{}", ward.id()), "display": ward.spec.name}, "status": "active", "physicalType": concept(&[(PHYSICAL_TYPE, "wa", "Ward")]), "period": {"start": instant(self.admitted)}},
            ],
            "serviceProvider": reference("Organization", ORGANIZATION),
        }));

        let admitted = instant(self.admitted);
        out.push(condition(
            &format!("cond-{:06}-adm", self.number),
            &self.dx.codes,
            Facts {
                patient: &patient,
                category: Category::EncounterDiagnosis,
                status: Status::Active,
                onset: admitted.clone(),
                recorded: admitted.clone(),
                encounter: Some(&encounter),
                asserter: Some(&ward.attending),
            },
        ));
        for (k, problem) in self.comorbidities.iter().enumerate() {
            let years = uniform(&mut r, 1.0, (f64::from(self.age) - 30.0).clamp(2.0, 25.0));
            let onset = today - TimeDelta::days((years * 365.25) as i64);
            out.push(condition(
                &format!("cond-{:06}-{:02}", self.number, k + 1),
                problem,
                Facts {
                    patient: &patient,
                    category: Category::ProblemList,
                    status: Status::Active,
                    onset: fhir::date(onset),
                    recorded: fhir::date(onset.with_day(1).unwrap_or(onset)),
                    encounter: None,
                    asserter: None,
                },
            ));
        }
        if self.scale2 {
            let failure = format!("cond-{:06}-hcrf", self.number);
            out.push(condition(
                &failure,
                &[(
                    ICD10CM,
                    "J96.12",
                    "Chronic respiratory failure with hypercapnia",
                )],
                Facts {
                    patient: &patient,
                    category: Category::ProblemList,
                    status: Status::Active,
                    onset: fhir::date(
                        today - TimeDelta::days((uniform(&mut r, 1.0, 6.0) * 365.25) as i64),
                    ),
                    recorded: admitted.clone(),
                    encounter: None,
                    asserter: Some(&ward.attending),
                },
            ));
            let percent = |v: i64| quantity(json!(v), "%", "%");
            out.push(json!({
                "resourceType": "Goal",
                "id": format!("goal-{:06}-spo2", self.number),
                "meta": fhir::meta(),
                "lifecycleStatus": "active",
                "description": {"text": "Target oxygen saturation 88–92 % (hypercapnic respiratory failure): score SpO2 on NEWS2 scale 2"},
                "subject": reference("Patient", &patient),
                "startDate": fhir::date(self.admitted.date_naive()),
                "target": [{
                    "measure": concept(&[(LOINC, "59408-5", "Oxygen saturation in Arterial blood by Pulse oximetry")]),
                    "detailRange": {"low": percent(88), "high": percent(92)},
                }],
                "expressedBy": reference("Practitioner", &ward.attending),
                "addresses": [reference("Condition", &failure)],
                "note": [{"text": "Documented hypercapnic (type 2) respiratory failure: prescribed saturation target 88–92 %; use SpO2 scale 2 of NEWS2 (RCP 2017)."}],
            }));
        }
        let picture = match self.dx.kind {
            Kind::Sepsis => LabPicture::Sepsis,
            Kind::Pneumonia | Kind::Uti | Kind::Cellulitis => LabPicture::Infection,
            Kind::Aki => LabPicture::KidneyInjury,
            Kind::GiBleed => LabPicture::Bleeding,
            Kind::HeartFailure => LabPicture::HeartFailure,
            _ => LabPicture::Other,
        };
        bedside_record::emit(
            cfg.seed,
            &Inpatient {
                number: self.number,
                patient: &patient,
                encounter: &encounter,
                attending: &ward.attending,
                age: self.age,
                female: self.person.female,
                admitted: self.admitted,
                picture,
                chronic: self.comorbidities.iter().map(|p| p[0].2).collect(),
                dementia: self.comorbidities.contains(&problems::DEMENTIA),
            },
            cfg.now,
            out,
        );
        let mut sim = Sim::new(
            cfg.seed,
            self.number,
            patient,
            encounter,
            ward.nurses.clone(),
            self.course,
            history_start,
        );
        sim.infection = match self.dx.kind {
            Kind::Sepsis => Some(sepsis::Source::Unknown),
            Kind::Pneumonia => Some(sepsis::Source::Chest),
            Kind::Uti => Some(sepsis::Source::Urine),
            Kind::Cellulitis => Some(sepsis::Source::SkinOrSoftTissue),
            _ => None,
        };
        sim.doctor = ward.attending.clone();
        sim
    }
}

const PHYSICAL_TYPE: &str = "http://terminology.hl7.org/CodeSystem/location-physical-type";

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn census_fills_wards_in_proportion() {
        let (patients, beds) = census(150);
        assert_eq!(patients.iter().sum::<usize>(), 150);
        for (p, b) in patients.iter().zip(&beds) {
            assert!(p <= b);
        }
        let (patients, beds) = census(600);
        assert_eq!(patients.iter().sum::<usize>(), 600);
        for (p, b) in patients.iter().zip(&beds) {
            assert!((*p as f64) <= *b as f64 * 0.93);
        }
    }

    #[test]
    fn every_ward_admits_adults_of_any_age() {
        for ward in facility::WARDS {
            let (_, _, min_age, ..) = ward_profile(ward.kind);
            assert!(
                case_mix(ward.kind)
                    .iter()
                    .any(|d| f64::from(d.min_age) <= min_age),
                "{}",
                ward.key
            );
        }
    }
}
