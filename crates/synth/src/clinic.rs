//! Clinic (outpatient) patients with ten-plus years of primary care: check-ups with blood
//! pressure, BMI, smoking status and HbA1c; chronic problems; and screening histories coded as in
//! `clinical/screening.md` (USPSTF A/B: colorectal, breast, cervical, lung, AAA, osteoporosis,
//! hypertension, diabetes, HIV, hepatitis C), with realistic uptake so some patients are up to
//! date, some overdue, some never screened, and a few excluded (total hysterectomy, bilateral
//! mastectomy, known HIV, hepatitis C or aneurysm, pregnancy). Screening follows anatomy (sex
//! assigned at birth), so the transgender and nonbinary patients exercise it; a few results are
//! patient-reported from outside facilities, some of them with no date.

use chrono::{DateTime, Datelike, Days, Months, NaiveDate, TimeDelta, Utc};
use rand::Rng;
use serde_json::{json, Value};

use crate::demographics::{self, Gender, Person};
use crate::facility::{Staff, ORGANIZATION, OUTPATIENT_CENTRE};
use crate::fhir::{
    self, concept, instant, one_decimal, quantity, reference, Code, CPT, ICD10CM, LOINC,
    OBS_CATEGORY, SNOMED, V2_0074,
};
use crate::hospital::{Config, Out};
use crate::problems::{self, condition, Category, Facts, Status};
use crate::random::{chance, int, normal, normal_in, pick, rng, uniform, weighted};

const NEGATIVE: Code = (SNOMED, "260385009", "Negative");
const POSITIVE: Code = (SNOMED, "10828004", "Positive");
const CHECK_UP: Code = (SNOMED, "185349003", "Encounter for check up");
const FOLLOW_UP: Code = (SNOMED, "390906007", "Follow-up encounter");
const DIAGNOSTIC_PROCEDURE: Code = (SNOMED, "103693007", "Diagnostic procedure");
const COLONOSCOPY: Code = (SNOMED, "73761001", "Colonoscopy");
const MAMMOGRAPHY_CPT: &str = "Screening mammography, bilateral (2-view study of each breast), including computer-aided detection (CAD) when performed";
/// USPSTF 2021 lowered the colorectal screening start age to 45 and widened lung screening.
const USPSTF_2021: (i32, u32, u32) = (2021, 5, 18);
const LUNG_2021: (i32, u32, u32) = (2021, 3, 9);

/// Emits `cfg.clinic_patients` outpatients numbered from `first_number`.
pub(crate) fn generate(cfg: &Config, staff: &Staff, first_number: u32, out: &mut Out) {
    let today = cfg.now.date_naive();
    let genders = genders(cfg, first_number);
    for (k, &gender) in genders.iter().enumerate() {
        let number = first_number + k as u32;
        let mut r = rng(cfg.seed, "clinic", u64::from(number));
        let (age, female) = age_and_sex(&mut r);
        let person = demographics::person_of_gender(&mut r, today, age, female, gender);
        outpatient(cfg, staff, number, &person, out);
    }
}

/// Age (US adult age structure, 18–85) and sex assigned at birth: the first draws of a clinic
/// patient's stream.
fn age_and_sex(r: &mut impl Rng) -> (u32, bool) {
    let band = *weighted(
        r,
        &[
            ((18, 29), 20.0),
            ((30, 39), 17.0),
            ((40, 49), 16.0),
            ((50, 59), 17.0),
            ((60, 69), 16.0),
            ((70, 79), 10.0),
            ((80, 85), 4.0),
        ],
    );
    let age = int(r, band.0, band.1) as u32;
    (age, chance(r, 0.51))
}

/// About 0.6 % of US adults are transgender or nonbinary (Williams Institute, 2016).
const GENDER_DIVERSE: f64 = 0.006;

/// Transgender and nonbinary people the demo always has, so that screening by anatomy shows up in
/// every rule: (assigned female at birth, ages today, gender).
const DESIGNATED: [(bool, (u32, u32), Gender); 6] = [
    // Trans men due breast and cervical screening.
    (true, (40, 65), Gender::Male),
    // A young trans man due cervical cytology.
    (true, (21, 29), Gender::Male),
    (true, (30, 65), Gender::Other),
    // Trans women due colorectal screening, never breast or cervical.
    (false, (45, 64), Gender::Female),
    // ... and old enough for the (sex-at-birth male) AAA screen.
    (false, (65, 75), Gender::Female),
    (false, (50, 80), Gender::Other),
];

/// Each clinic patient's gender. Drawn from a stream of its own, so everything else about the
/// patients stays as it was; then each [`DESIGNATED`] profile the draw missed is given to one
/// patient who fits it, spread through the list.
fn genders(cfg: &Config, first_number: u32) -> Vec<Gender> {
    let numbers = (0..cfg.clinic_patients).map(|k| u64::from(first_number + k as u32));
    let people: Vec<(u32, bool)> = numbers
        .clone()
        .map(|n| age_and_sex(&mut rng(cfg.seed, "clinic", n)))
        .collect();
    let mut genders: Vec<Gender> = numbers
        .zip(&people)
        .map(|(n, &(_, female))| {
            let mut g = rng(cfg.seed, "gender", n);
            if !chance(&mut g, GENDER_DIVERSE) {
                Gender::cisgender(female)
            } else if female {
                *weighted(&mut g, &[(Gender::Male, 1.0), (Gender::Other, 1.0)])
            } else {
                *weighted(&mut g, &[(Gender::Female, 1.2), (Gender::Other, 0.8)])
            }
        })
        .collect();
    let n = people.len();
    for (i, &(female, (lo, hi), gender)) in DESIGNATED.iter().enumerate() {
        let fits = |k: usize| people[k].1 == female && (lo..=hi).contains(&people[k].0);
        if (0..n).any(|k| fits(k) && genders[k] == gender) {
            continue;
        }
        let start = i * n / DESIGNATED.len();
        let cis = Gender::cisgender(female);
        if let Some(k) = (start..n)
            .chain(0..start)
            .find(|&k| fits(k) && genders[k] == cis)
        {
            genders[k] = gender;
        }
    }
    genders
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum SmokingStatus {
    Never,
    Former,
    Daily,
    SomeDays,
}

impl SmokingStatus {
    fn code(self) -> Code {
        match self {
            SmokingStatus::Never => (SNOMED, "266919005", "Never smoked tobacco"),
            SmokingStatus::Former => (SNOMED, "8517006", "Ex-smoker"),
            SmokingStatus::Daily => (SNOMED, "449868002", "Smokes tobacco daily"),
            SmokingStatus::SomeDays => (SNOMED, "428041000124106", "Occasional tobacco smoker"),
        }
    }
}

/// Tobacco history: who smokes, since when, how much, and when they quit.
struct Smoking {
    status: SmokingStatus,
    started: NaiveDate,
    quit: Option<NaiveDate>,
    packs_per_day: f64,
}

impl Smoking {
    fn draw(r: &mut impl Rng, p: &Person, today: NaiveDate) -> Smoking {
        let age = f64::from(p.age_on(today));
        let current = if age >= 65.0 {
            0.08
        } else if age < 25.0 {
            0.09
        } else {
            0.13
        };
        let former = (0.04 + 0.0065 * (age - 18.0)).min(0.42);
        let x: f64 = r.random();
        let start_age = uniform(r, 14.5, 22.0);
        let started = add_years(p.birth_date, start_age);
        if x < current {
            let daily = chance(r, 0.8);
            Smoking {
                status: if daily {
                    SmokingStatus::Daily
                } else {
                    SmokingStatus::SomeDays
                },
                started,
                quit: None,
                packs_per_day: if daily {
                    normal_in(r, 0.9, 0.4, 0.25, 2.5)
                } else {
                    uniform(r, 0.1, 0.35)
                },
            }
        } else if x < current + former && age - start_age > 4.0 {
            let quit_age = uniform(r, start_age + 3.0, age - 0.1);
            Smoking {
                status: SmokingStatus::Former,
                started,
                quit: Some(add_years(p.birth_date, quit_age)),
                packs_per_day: normal_in(r, 0.9, 0.45, 0.2, 2.5),
            }
        } else {
            Smoking {
                status: SmokingStatus::Never,
                started,
                quit: None,
                packs_per_day: 0.0,
            }
        }
    }

    fn status_on(&self, day: NaiveDate) -> SmokingStatus {
        match (self.status, self.quit) {
            (SmokingStatus::Never, _) => SmokingStatus::Never,
            _ if day < self.started => SmokingStatus::Never,
            (SmokingStatus::Former, Some(q)) if day < q => SmokingStatus::Daily,
            (s, _) => s,
        }
    }

    fn pack_years_on(&self, day: NaiveDate) -> f64 {
        if self.status == SmokingStatus::Never || day <= self.started {
            return 0.0;
        }
        let end = self.quit.map_or(day, |q| q.min(day));
        years_between(self.started, end).max(0.0) * self.packs_per_day
    }

    fn ever(&self) -> bool {
        self.status != SmokingStatus::Never
    }
}

fn add_years(d: NaiveDate, years: f64) -> NaiveDate {
    d.checked_add_days(Days::new((years * 365.25).max(0.0) as u64))
        .unwrap_or(d)
}

fn add_months(d: NaiveDate, months: i64) -> NaiveDate {
    if months >= 0 {
        d.checked_add_months(Months::new(months as u32))
            .unwrap_or(d)
    } else {
        d.checked_sub_months(Months::new((-months) as u32))
            .unwrap_or(d)
    }
}

fn years_between(a: NaiveDate, b: NaiveDate) -> f64 {
    (b - a).num_days() as f64 / 365.25
}

/// A day in `lo..hi`, or `None` if that is empty.
fn day_in(r: &mut impl Rng, lo: NaiveDate, hi: NaiveDate) -> Option<NaiveDate> {
    let days = (hi - lo).num_days();
    (days > 0).then(|| lo + TimeDelta::days(int(r, 0, days - 1)))
}

/// The patient's birthday in the year they turn `age`.
fn turning(p: &Person, age: i32) -> NaiveDate {
    add_months(p.birth_date, i64::from(age) * 12)
}

/// A time during clinic hours (08:00–16:00 local, UTC−5) on `d`.
fn clinic_time(r: &mut impl Rng, d: NaiveDate) -> DateTime<Utc> {
    let minutes = 13 * 60 + int(r, 0, 31) * 15;
    d.and_hms_opt(0, 0, 0).unwrap_or_default().and_utc() + TimeDelta::minutes(minutes)
}

/// A repeated test: first due at `start`, then every `interval` months until `end` (exclusive)
/// or today; each time done with probability `adherence`, a little late, or put off for a while.
fn series(
    r: &mut impl Rng,
    start: NaiveDate,
    end: NaiveDate,
    interval: i64,
    adherence: f64,
    today: NaiveDate,
) -> Vec<NaiveDate> {
    let mut done = Vec::new();
    let mut due = start;
    while due < end && due <= today {
        if chance(r, adherence) {
            let d = add_months(due, int(r, 0, 4)) + TimeDelta::days(int(r, 0, 27));
            if d > today || d >= end {
                break;
            }
            done.push(d);
            due = add_months(d, interval);
        } else {
            due = add_months(due, int(r, 6, 30));
        }
    }
    done
}

/// One outpatient's record.
struct Record<'a> {
    number: u32,
    patient: String,
    pcp: String,
    staff: &'a Staff,
    today: NaiveDate,
}

impl Record<'_> {
    fn id(&self, kind: &str, tag: &str) -> String {
        format!("{kind}-{:06}-{tag}", self.number)
    }

    fn problem(&self, out: &mut Out, tag: &str, codes: &[Code], onset: NaiveDate, status: Status) {
        out.push(condition(
            &self.id("cond", tag),
            codes,
            Facts {
                patient: &self.patient,
                category: Category::ProblemList,
                status,
                onset: fhir::date(onset),
                recorded: fhir::date(onset.min(self.today)),
                encounter: None,
                asserter: Some(&self.pcp),
            },
        ));
    }

    fn observation(
        &self,
        id: String,
        category: (&'static str, &'static str),
        code: Code,
        at: DateTime<Utc>,
        encounter: Option<&str>,
    ) -> Value {
        let mut o = json!({
            "resourceType": "Observation",
            "id": id,
            "meta": fhir::meta(),
            "status": "final",
            "category": fhir::category(OBS_CATEGORY, category.0, category.1),
            "code": concept(&[code]),
            "subject": reference("Patient", &self.patient),
        });
        if let Some(e) = encounter {
            o["encounter"] = reference("Encounter", e);
        }
        o["effectiveDateTime"] = json!(instant(at));
        o
    }

    fn procedure(
        &self,
        id: String,
        codes: &[Code],
        at: DateTime<Utc>,
        performer: Option<&str>,
        reason: Option<Code>,
    ) -> Value {
        let mut p = json!({
            "resourceType": "Procedure",
            "id": id,
            "meta": fhir::meta(),
            "status": "completed",
            "category": concept(&[DIAGNOSTIC_PROCEDURE]),
            "code": concept(codes),
            "subject": reference("Patient", &self.patient),
            "performedDateTime": instant(at),
        });
        if let Some(actor) = performer {
            p["performer"] = json!([{"actor": reference("Practitioner", actor)}]);
        }
        p["location"] = reference("Location", OUTPATIENT_CENTRE);
        if let Some(reason) = reason {
            p["reasonCode"] = json!([concept(&[reason])]);
        }
        p
    }

    /// A procedure done elsewhere that the patient told their primary care practitioner about:
    /// `asserter` is the patient, `performed` the date or year-month they recall (`None`: they
    /// cannot say, so it is not evidence of anything that needs a date).
    fn reported(&self, id: String, codes: &[Code], performed: Option<String>) -> Value {
        let mut p = json!({
            "resourceType": "Procedure",
            "id": id,
            "meta": fhir::meta(),
            "status": "completed",
            "category": concept(&[DIAGNOSTIC_PROCEDURE]),
            "code": concept(codes),
            "subject": reference("Patient", &self.patient),
            "recorder": reference("Practitioner", &self.pcp),
            "asserter": reference("Patient", &self.patient),
        });
        let note = match &performed {
            Some(d) => {
                p["performedDateTime"] = json!(d);
                "Patient-reported: done at an outside facility"
            }
            None => "Patient-reported: done at an outside facility; date unknown",
        };
        p["note"] = json!([{ "text": note }]);
        p
    }

    /// A qualitative laboratory result, Positive or Negative, taken during clinic hours on `day`.
    fn lab(
        &self,
        r: &mut impl Rng,
        tag: &str,
        code: Code,
        day: NaiveDate,
        positive: bool,
    ) -> Value {
        let mut o = self.observation(
            self.id("obs", tag),
            ("laboratory", "Laboratory"),
            code,
            clinic_time(r, day),
            None,
        );
        o["valueCodeableConcept"] = concept(&[if positive { POSITIVE } else { NEGATIVE }]);
        o
    }

    fn report(
        &self,
        id: String,
        category: Code,
        code: &[Code],
        at: DateTime<Utc>,
        conclusion: &str,
    ) -> Value {
        json!({
            "resourceType": "DiagnosticReport",
            "id": id,
            "meta": fhir::meta(),
            "status": "final",
            "category": [concept(&[category])],
            "code": concept(code),
            "subject": reference("Patient", &self.patient),
            "effectiveDateTime": instant(at),
            "issued": instant(at + TimeDelta::days(3)),
            "performer": [reference("Organization", ORGANIZATION)],
            "conclusion": conclusion,
        })
    }
}

/// Onset of a chronic problem that started between ages `from` and today with probability `p`.
fn onset(
    r: &mut impl Rng,
    p: &Person,
    today: NaiveDate,
    prob: f64,
    from: f64,
) -> Option<NaiveDate> {
    let age = f64::from(p.age_on(today));
    if age <= from || !chance(r, prob.clamp(0.0, 0.95)) {
        return None;
    }
    let at = uniform(r, from.max(age - 25.0), age);
    Some(add_years(p.birth_date, at).min(today))
}

/// Emits the Patient and their outpatient history; returns their primary care practitioner.
pub(crate) fn outpatient(
    cfg: &Config,
    staff: &Staff,
    number: u32,
    p: &Person,
    out: &mut Out,
) -> String {
    let mut r = rng(cfg.seed, "history", u64::from(number));
    let today = cfg.now.date_naive();
    let pcp = pick(&mut r, &staff.primary_care).clone();
    let patient = format!("pat-{number:06}");
    out.push(demographics::patient(
        &patient,
        number,
        p,
        Some(&pcp),
        ORGANIZATION,
    ));
    let rec = Record {
        number,
        patient,
        pcp,
        staff,
        today,
    };
    let age = p.age_on(today);
    let a = f64::from(age);

    // Risk factors and chronic problems.
    let smoking = Smoking::draw(&mut r, p, today);
    let bmi_now = normal_in(&mut r, 28.7, 5.8, 17.5, 52.0);
    let risk = if p.higher_cardiometabolic_risk() {
        1.0
    } else {
        0.0
    };
    let htn = onset(
        &mut r,
        p,
        today,
        0.02 + 0.011 * (a - 25.0)
            + 0.012 * (bmi_now - 26.0)
            + 0.1 * f64::from(u8::from(p.is_black())),
        25.0,
    );
    let diabetes = onset(
        &mut r,
        p,
        today,
        0.005 + 0.0045 * (a - 25.0) + 0.012 * (bmi_now - 27.0) + 0.05 * risk,
        30.0,
    );
    let prediabetes = if diabetes.is_none() && a >= 35.0 && bmi_now >= 25.0 {
        onset(&mut r, p, today, 0.18, 30.0)
    } else {
        None
    };
    let lipids = onset(&mut r, p, today, 0.02 + 0.008 * (a - 30.0), 30.0);
    let copd = if smoking.pack_years_on(today) >= 15.0 && a >= 45.0 {
        onset(&mut r, p, today, 0.3, 45.0)
    } else {
        None
    };
    let asthma = onset(&mut r, p, today, 0.08, 18.0);
    let osteoporosis = if p.female {
        onset(&mut r, p, today, 0.2 * f64::from(u8::from(a >= 62.0)), 58.0)
    } else {
        None
    };
    for (tag, problem, start) in [
        ("htn", problems::HYPERTENSION, htn),
        ("t2dm", problems::TYPE2_DIABETES, diabetes),
        ("prediabetes", problems::PREDIABETES, prediabetes),
        ("lipids", problems::HYPERLIPIDEMIA, lipids),
        ("copd", problems::COPD, copd),
        ("asthma", problems::ASTHMA, asthma),
        ("osteoporosis", problems::OSTEOPOROSIS, osteoporosis),
    ] {
        if let Some(d) = start {
            rec.problem(out, tag, &problem, d, Status::Active);
        }
    }
    if bmi_now >= 30.0 && chance(&mut r, 0.6) {
        rec.problem(
            out,
            "obesity",
            &problems::OBESITY,
            add_months(today, -int(&mut r, 6, 60)),
            Status::Active,
        );
    }

    // How engaged with primary care, and how likely to take up screening.
    let (last_within, gap, adherence) = match *weighted(&mut r, &[(0, 55.0), (1, 30.0), (2, 15.0)])
    {
        0 => (14, (18, 32), uniform(&mut r, 0.7, 0.95)),
        1 => (36, (30, 50), uniform(&mut r, 0.4, 0.75)),
        _ => (72, (200, 200), uniform(&mut r, 0.1, 0.4)),
    };

    // Visits, newest first, back to eleven years ago (or the 18th birthday).
    let earliest = add_months(today, -132).max(turning(p, 18));
    let mut visit_days = Vec::new();
    let mut d =
        add_months(today, -int(&mut r, 0, last_within)) - TimeDelta::days(int(&mut r, 0, 27));
    while d >= earliest {
        visit_days.push(d);
        d = add_months(d, -int(&mut r, gap.0, gap.1));
    }
    if visit_days.is_empty() {
        visit_days.push(today - TimeDelta::days(int(&mut r, 20, 200)));
    }
    visit_days.reverse();
    let visits: Vec<DateTime<Utc>> = visit_days.iter().map(|&d| clinic_time(&mut r, d)).collect();
    let chronic = |d: NaiveDate| htn.is_some_and(|o| o <= d) || diabetes.is_some_and(|o| o <= d);
    let mut last_a1c: Option<NaiveDate> = None;
    for (k, &at) in visits.iter().enumerate() {
        let day = at.date_naive();
        let age_then = f64::from(p.age_on(day));
        let encounter = rec.id("enc", &format!("v{:02}", k + 1));
        let follow_up = chronic(day);
        let mut enc = json!({
            "resourceType": "Encounter",
            "id": encounter,
            "meta": fhir::meta(),
            "status": "finished",
            "class": {"system": "http://terminology.hl7.org/CodeSystem/v3-ActCode", "code": "AMB", "display": "ambulatory"},
            "type": [concept(&[if follow_up { FOLLOW_UP } else { CHECK_UP }])],
            "subject": reference("Patient", &rec.patient),
            "participant": [{
                "type": [concept(&[("http://terminology.hl7.org/CodeSystem/v3-ParticipationType", "PPRF", "primary performer")])],
                "individual": reference("Practitioner", &rec.pcp),
            }],
            "period": {"start": instant(at), "end": instant(at + TimeDelta::minutes(int(&mut r, 15, 40)))},
        });
        if follow_up {
            let reason = if htn.is_some_and(|o| o <= day) {
                problems::HYPERTENSION
            } else {
                problems::TYPE2_DIABETES
            };
            enc["reasonCode"] = json!([concept(&reason)]);
        }
        enc["location"] = json!([{"location": reference("Location", OUTPATIENT_CENTRE)}]);
        enc["serviceProvider"] = reference("Organization", ORGANIZATION);
        out.push(enc);

        // Blood pressure at every visit; hypertension raises it, treatment brings it part way down.
        let bmi = bmi_now - 0.15 * years_between(day, today) + normal(&mut r, 0.0, 0.5);
        let mut sbp = 110.0
            + 0.45 * (age_then - 25.0).max(0.0)
            + 0.6 * (bmi - 26.0)
            + normal(&mut r, 0.0, 9.0);
        match htn {
            Some(o) if o <= day => sbp += normal(&mut r, 14.0, 8.0),
            Some(o) if years_between(day, o) < 2.0 => sbp += 12.0,
            _ => {}
        }
        let sbp = sbp.clamp(92.0, 195.0).round();
        let dbp = (72.0 + 0.3 * (sbp - 120.0) + normal(&mut r, 0.0, 6.0))
            .clamp(50.0, 112.0)
            .round()
            .min(sbp - 25.0);
        let mut bp = rec.observation(
            format!("obs-{:06}-v{:02}-bp", number, k + 1),
            ("vital-signs", "Vital Signs"),
            (
                LOINC,
                "85354-9",
                "Blood pressure panel with all children optional",
            ),
            at,
            Some(&encounter),
        );
        bp["component"] = json!([
            {"code": concept(&[(LOINC, "8480-6", "Systolic blood pressure")]), "valueQuantity": quantity(json!(sbp as i64), "mmHg", "mm[Hg]")},
            {"code": concept(&[(LOINC, "8462-4", "Diastolic blood pressure")]), "valueQuantity": quantity(json!(dbp as i64), "mmHg", "mm[Hg]")},
        ]);
        out.push(bp);
        if chance(&mut r, 0.6) || k + 1 == visits.len() {
            let mut o = rec.observation(
                format!("obs-{:06}-v{:02}-bmi", number, k + 1),
                ("vital-signs", "Vital Signs"),
                (LOINC, "39156-5", "Body mass index (BMI) [Ratio]"),
                at,
                Some(&encounter),
            );
            o["valueQuantity"] = quantity(one_decimal(bmi.clamp(16.0, 60.0)), "kg/m2", "kg/m2");
            out.push(o);
        }
        // HbA1c: every visit or so for diabetes; screening every few years for adults 35–70
        // with overweight (USPSTF 2021).
        let diabetic = diabetes.is_some_and(|o| o <= day);
        let screen = !diabetic
            && (35.0..=70.0).contains(&age_then)
            && bmi >= 25.0
            && last_a1c.is_none_or(|l| years_between(l, day) >= 3.0)
            && chance(&mut r, 0.2 + 0.5 * adherence);
        if (diabetic && chance(&mut r, 0.85)) || screen {
            let value = if diabetic {
                normal_in(&mut r, 7.4, 0.9, 6.2, 11.5)
            } else if prediabetes.is_some_and(|o| o <= day)
                || diabetes.is_some_and(|o| years_between(day, o) < 1.5)
            {
                uniform(&mut r, 5.7, 6.4)
            } else {
                normal_in(&mut r, 5.3, 0.2, 4.6, 5.6)
            };
            let mut o = rec.observation(
                format!("obs-{:06}-v{:02}-a1c", number, k + 1),
                ("laboratory", "Laboratory"),
                (LOINC, "4548-4", "Hemoglobin A1c/Hemoglobin.total in Blood"),
                at,
                Some(&encounter),
            );
            o["valueQuantity"] = quantity(one_decimal(value), "%", "%");
            out.push(o);
            last_a1c = Some(day);
        }
        // Smoking status at the first and last visits, and whenever it changed.
        let status = smoking.status_on(day);
        let previous = k
            .checked_sub(1)
            .map(|j| smoking.status_on(visits[j].date_naive()));
        if k == 0 || k + 1 == visits.len() || previous != Some(status) {
            let mut o = rec.observation(
                format!("obs-{:06}-v{:02}-smoking", number, k + 1),
                ("social-history", "Social History"),
                (LOINC, "72166-2", "Tobacco smoking status"),
                at,
                Some(&encounter),
            );
            o["valueCodeableConcept"] = concept(&[status.code()]);
            out.push(o);
        }
    }
    let last = *visits.last().unwrap_or(&cfg.now);
    let last_day = last.date_naive();
    if smoking.ever() && smoking.started < last_day {
        let mut o = rec.observation(
            rec.id("obs", "pack-years"),
            ("social-history", "Social History"),
            (SNOMED, "401201003", "Cigarette pack-years"),
            last,
            None,
        );
        o["valueQuantity"] = quantity(
            one_decimal(smoking.pack_years_on(last_day)),
            "pack-years",
            "{pack-years}",
        );
        out.push(o);
        if let Some(q) = smoking.quit.filter(|q| *q <= last_day) {
            let mut o = rec.observation(
                rec.id("obs", "quit-date"),
                ("social-history", "Social History"),
                (SNOMED, "160625004", "Date ceased smoking"),
                last,
                None,
            );
            o["valueDateTime"] = json!(fhir::date(q));
            out.push(o);
        }
    }

    // What was added to the histories later draws from a stream of its own, so that the rest of
    // each patient's record stays as it was.
    let mut x = rng(cfg.seed, "screening-extra", u64::from(number));
    screening(&mut r, &mut x, &rec, p, &smoking, adherence, out);
    rec.pcp
}

/// Screening histories (codes from `clinical/screening.md`). `r` is the patient's history stream,
/// `x` the stream for HIV, hepatitis C, patient-reported results, pregnancy and the conditions
/// that exclude a screen.
fn screening(
    r: &mut impl Rng,
    x: &mut impl Rng,
    rec: &Record<'_>,
    p: &Person,
    smoking: &Smoking,
    adherence: f64,
    out: &mut Out,
) {
    let today = rec.today;
    let age = p.age_on(today);
    let window = add_months(today, -150);
    let uspstf_2021 =
        NaiveDate::from_ymd_opt(USPSTF_2021.0, USPSTF_2021.1, USPSTF_2021.2).unwrap_or(today);
    let gastro = rec.staff.role("gastroenterologist");

    // Exclusions first: they stop the corresponding screening from their date on. "Women" and
    // "men" below mean sex assigned at birth (`Person::female`), which anatomy follows.
    let hysterectomy = (p.female && age >= 40 && chance(r, 0.1))
        .then(|| turning(p, int(r, 35, i64::from(age).min(60)) as i32));
    if let Some(d) = hysterectomy {
        let at = clinic_time(r, d);
        let mut proc = rec.procedure(
            rec.id("proc", "hysterectomy"),
            &[
                (SNOMED, "116140006", "Total hysterectomy"),
                (CPT, "58150", "Total abdominal hysterectomy (corpus and cervix), with or without removal of tube(s), with or without removal of ovary(s)"),
            ],
            at,
            Some(rec.staff.role("gynecologist")),
            Some((ICD10CM, "D25.9", "Leiomyoma of uterus, unspecified")),
        );
        proc["category"] = concept(&[(SNOMED, "387713003", "Surgical procedure")]);
        out.push(proc);
        // Organ inventory on the problem list, as well as the procedure, for some.
        if chance(x, 0.4) {
            rec.problem(
                out,
                "absent-uterus",
                &[(
                    ICD10CM,
                    "Z90.710",
                    "Acquired absence of both cervix and uterus",
                )],
                d,
                Status::Active,
            );
        }
    }
    let breast_cancer = (p.female && age >= 40 && chance(r, 0.015))
        .then(|| turning(p, int(r, 38, i64::from(age).min(70)) as i32));
    let mastectomy = breast_cancer.filter(|_| chance(r, 0.45));
    if let Some(d) = breast_cancer {
        let code = *pick(
            r,
            &[
                (
                    ICD10CM,
                    "C50.911",
                    "Malignant neoplasm of unspecified site of right female breast",
                ),
                (
                    ICD10CM,
                    "C50.912",
                    "Malignant neoplasm of unspecified site of left female breast",
                ),
            ],
        );
        rec.problem(out, "breast-cancer", &[code], d, Status::Remission);
    }
    if let Some(d) = mastectomy {
        let delay = TimeDelta::days(int(r, 20, 50));
        let at = clinic_time(r, d + delay);
        let mut proc = rec.procedure(
            rec.id("proc", "mastectomy"),
            &[(SNOMED, "27865001", "Bilateral mastectomy")],
            at,
            Some(rec.staff.role("breast-surgeon")),
            None,
        );
        proc["category"] = concept(&[(SNOMED, "387713003", "Surgical procedure")]);
        out.push(proc);
    }
    // Chest masculinisation (a bilateral mastectomy) for some trans men: no breasts to screen.
    let top_surgery = (mastectomy.is_none()
        && p.female
        && p.gender == Gender::Male
        && age >= 25
        && chance(x, 0.3))
    .then(|| turning(p, int(x, 20, i64::from(age).min(45)) as i32));
    if let Some(d) = top_surgery {
        let mut proc = rec.procedure(
            rec.id("proc", "mastectomy"),
            &[(SNOMED, "27865001", "Bilateral mastectomy")],
            clinic_time(x, d),
            Some(rec.staff.role("breast-surgeon")),
            None,
        );
        proc["category"] = concept(&[(SNOMED, "387713003", "Surgical procedure")]);
        out.push(proc);
    }
    let mastectomy = mastectomy.or(top_surgery);
    let colorectal_cancer =
        (age >= 50 && chance(r, 0.005)).then(|| turning(p, int(r, 45, i64::from(age)) as i32));
    if let Some(d) = colorectal_cancer {
        rec.problem(
            out,
            "colorectal-cancer",
            &[(ICD10CM, "C18.7", "Malignant neoplasm of sigmoid colon")],
            d,
            Status::Remission,
        );
    }

    // Colorectal: 50–75 (45–75 since the 2021 update); colonoscopy, FIT or stool DNA-FIT.
    if colorectal_cancer.is_none() && age >= 45 {
        let from_45 = turning(p, 45).max(uspstf_2021);
        let start = turning(p, 50).min(from_45).max(window);
        let end = turning(p, 76);
        let modality = *weighted(r, &[(0, 60.0), (1, 30.0), (2, 10.0)]);
        let mut colonoscopies = Vec::new();
        match modality {
            0 => colonoscopies = series(r, start, end, 120, adherence, today),
            1 | 2 => {
                let (code, interval, tag) = if modality == 1 {
                    (
                        (
                            LOINC,
                            "29771-3",
                            "Hemoglobin.gastrointestinal.lower [Presence] in Stool by Immunoassay",
                        ),
                        12,
                        "fit",
                    )
                } else {
                    ((LOINC, "77353-1", "Noninvasive colorectal cancer DNA and occult blood screening [Interpretation] in Stool Narrative"), 36, "sdna")
                };
                for (k, d) in series(r, start, end, interval, adherence * 0.9, today)
                    .into_iter()
                    .enumerate()
                {
                    let positive = chance(r, if modality == 1 { 0.06 } else { 0.12 });
                    let mut o = rec.observation(
                        format!("obs-{:06}-{tag}-{}", rec.number, k + 1),
                        ("laboratory", "Laboratory"),
                        code,
                        clinic_time(r, d),
                        None,
                    );
                    o["valueCodeableConcept"] =
                        concept(&[if positive { POSITIVE } else { NEGATIVE }]);
                    out.push(o);
                    if positive {
                        // A positive stool test is followed by colonoscopy, then ten-yearly.
                        let c = d + TimeDelta::days(int(r, 25, 120));
                        if c <= today {
                            colonoscopies.push(c);
                        }
                        break;
                    }
                }
            }
            _ => {}
        }
        let first = colonoscopies.iter().min().copied();
        for (k, d) in colonoscopies.into_iter().enumerate() {
            let adenoma = chance(r, 0.25);
            let code = if adenoma {
                (CPT, "45385", "Colonoscopy, flexible; with removal of tumor(s), polyp(s), or other lesion(s) by snare technique")
            } else {
                (CPT, "45378", "Colonoscopy, flexible; diagnostic, including collection of specimen(s) by brushing or washing, when performed (separate procedure)")
            };
            let mut proc = rec.procedure(
                format!("proc-{:06}-colonoscopy-{}", rec.number, k + 1),
                &[COLONOSCOPY, code],
                clinic_time(r, d),
                Some(gastro),
                Some((
                    ICD10CM,
                    "Z12.11",
                    "Encounter for screening for malignant neoplasm of colon",
                )),
            );
            proc["outcome"] = json!({"text": if adenoma { "Two small tubular adenomas removed; surveillance advised" } else { "Normal colonoscopy to caecum; no polyps" }});
            out.push(proc);
        }
        // An earlier colonoscopy elsewhere, as the patient remembers it; a few cannot say when.
        let before = first.unwrap_or(today) - TimeDelta::days(60);
        if chance(x, 0.03) {
            if let Some(d) = day_in(x, turning(p, 45).max(add_months(today, -180)), before) {
                out.push(rec.reported(
                    rec.id("proc", "colonoscopy-reported"),
                    &[COLONOSCOPY],
                    Some(recalled(x, d)),
                ));
            }
        }
        if chance(x, 0.01) {
            out.push(rec.reported(rec.id("proc", "colonoscopy-undated"), &[COLONOSCOPY], None));
        }
    }

    // Breast: 40–74 with breasts, every one to two years.
    if p.female && age >= 40 {
        let start = turning(p, int(r, 40, 50) as i32).max(window);
        let end = turning(p, 75).min(mastectomy.unwrap_or(today + TimeDelta::days(1)));
        let interval = if chance(r, 0.3) { 12 } else { 24 };
        let done = series(r, start, end, interval, adherence, today);
        // An earlier mammogram elsewhere, as the patient remembers it.
        let before = done.first().copied().unwrap_or(today).min(end) - TimeDelta::days(60);
        if chance(x, 0.03) {
            if let Some(d) = day_in(x, turning(p, 40).max(add_months(today, -180)), before) {
                out.push(rec.reported(
                    rec.id("proc", "mammogram-reported"),
                    &[
                        (SNOMED, "24623002", "Screening mammography"),
                        (CPT, "77067", MAMMOGRAPHY_CPT),
                    ],
                    Some(recalled(x, d)),
                ));
            }
        }
        for (k, d) in done.into_iter().enumerate() {
            let tomosynthesis = d.year() >= 2020 && chance(r, 0.4);
            let code = if tomosynthesis {
                (LOINC, "103892-6", "DBT Breast Screening")
            } else {
                (LOINC, "24606-6", "MG Breast Screening")
            };
            let x: f64 = r.random();
            let conclusion = if x < 0.86 {
                "BI-RADS 1: Negative. Routine screening recommended."
            } else if x < 0.97 {
                "BI-RADS 2: Benign findings. Routine screening recommended."
            } else {
                "BI-RADS 0: Incomplete. Additional imaging evaluation needed."
            };
            out.push(rec.report(
                format!("dr-{:06}-mammogram-{}", rec.number, k + 1),
                (V2_0074, "RAD", "Radiology"),
                &[code, (CPT, "77067", MAMMOGRAPHY_CPT)],
                clinic_time(r, d),
                conclusion,
            ));
        }
    }

    // Cervical: 21–65 with a cervix; cytology every 3 years, or from 30 co-testing every 5.
    if p.female && age >= 21 {
        let end = turning(p, 66).min(hysterectomy.unwrap_or(today + TimeDelta::days(1)));
        let mut due = turning(p, 21).max(window);
        let cotest = chance(r, 0.7);
        let mut k = 0;
        while due < end && due <= today {
            if !chance(r, adherence) {
                due = add_months(due, int(r, 6, 30));
                continue;
            }
            let d = add_months(due, int(r, 0, 4));
            if d > today || d >= end {
                break;
            }
            k += 1;
            let at = clinic_time(r, d);
            let with_hpv = cotest && p.age_on(d) >= 30;
            let mut report = rec.report(
                format!("dr-{:06}-cytology-{k}", rec.number),
                (V2_0074, "CP", "Cytopathology"),
                &[(
                    LOINC,
                    "10524-7",
                    "Microscopic observation [Identifier] in Cervix by Cyto stain",
                )],
                at,
                if chance(r, 0.95) {
                    "Negative for intraepithelial lesion or malignancy (NILM)."
                } else {
                    "Atypical squamous cells of undetermined significance (ASC-US)."
                },
            );
            if with_hpv {
                let id = format!("obs-{:06}-hpv-{k}", rec.number);
                let mut o = rec.observation(
                    id.clone(),
                    ("laboratory", "Laboratory"),
                    (LOINC, "21440-3", "Human papilloma virus 16+18+31+33+35+45+51+52+56 DNA [Presence] in Cervix by Probe"),
                    at,
                    None,
                );
                o["valueCodeableConcept"] =
                    concept(&[if chance(r, 0.08) { POSITIVE } else { NEGATIVE }]);
                out.push(o);
                report["result"] = json!([reference("Observation", &id)]);
            }
            out.push(report);
            due = add_months(d, if with_hpv { 60 } else { 36 });
        }
    }

    // Lung: 50–80 with 20+ pack-years, smoking now or quit within 15 years; annual low-dose CT.
    let lung_2021 = NaiveDate::from_ymd_opt(LUNG_2021.0, LUNG_2021.1, LUNG_2021.2).unwrap_or(today);
    if smoking.ever() && age >= 50 {
        let eligible = |d: NaiveDate| {
            let a = p.age_on(d);
            (50..=80).contains(&a)
                && smoking.pack_years_on(d) >= 20.0
                && smoking.quit.is_none_or(|q| years_between(q, d) <= 15.0)
        };
        let mut d = turning(p, 50).max(lung_2021);
        while d <= today && !eligible(d) {
            d = add_months(d, 6);
        }
        if d <= today {
            let mut end = d;
            while end <= today && eligible(end) {
                end = add_months(end, 3);
            }
            for (k, day) in series(r, d, end, 12, adherence * 0.5, today)
                .into_iter()
                .enumerate()
            {
                out.push(rec.procedure(
                    format!("proc-{:06}-ldct-{}", rec.number, k + 1),
                    &[(CPT, "71271", "Computed tomography, thorax, low dose for lung cancer screening, without contrast material(s)")],
                    clinic_time(r, day),
                    None,
                    Some((ICD10CM, "Z87.891", "Personal history of nicotine dependence")),
                ));
            }
        }
    }

    // Abdominal aortic aneurysm: men 65–75 who ever smoked, once.
    let mut aaa_screen = None;
    if !p.female && smoking.ever() && age >= 65 && chance(r, 0.6 * adherence) {
        let d = turning(p, int(r, 65, i64::from(age).min(75)) as i32).min(today);
        out.push(rec.procedure(
            rec.id("proc", "aaa-ultrasound"),
            &[(CPT, "76706", "Ultrasound, abdominal aorta, real time with image documentation, screening study for abdominal aortic aneurysm (AAA)")],
            clinic_time(r, d),
            None,
            None,
        ));
        aaa_screen = Some(d);
    }
    // A few aneurysms, found by that screen or otherwise.
    let aneurysm = match aaa_screen {
        Some(d) => chance(x, 0.08).then_some(d),
        None if !p.female && age >= 65 => chance(x, if smoking.ever() { 0.04 } else { 0.01 })
            .then(|| turning(p, int(x, 60, i64::from(age)) as i32)),
        None => None,
    };
    if let Some(d) = aneurysm {
        rec.problem(
            out,
            "aaa",
            &problems::ABDOMINAL_AORTIC_ANEURYSM,
            d,
            Status::Active,
        );
    }

    // Osteoporosis: women from 65, bone density every two years or so.
    if p.female && age >= 65 {
        let start = turning(p, 65).max(window);
        for (k, d) in series(
            r,
            start,
            today + TimeDelta::days(1),
            24,
            adherence * 0.8,
            today,
        )
        .into_iter()
        .enumerate()
        {
            out.push(rec.procedure(
                format!("proc-{:06}-dxa-{}", rec.number, k + 1),
                &[(CPT, "77080", "Dual-energy X-ray absorptiometry (DXA), bone density study, 1 or more sites; axial skeleton (eg, hips, pelvis, spine)")],
                clinic_time(r, d),
                None,
                None,
            ));
        }
    }

    infections(x, rec, p, hysterectomy, adherence, out);
}

/// HIV (15–65, at least once) and hepatitis C (18–79, once) screening, the few who already have
/// either infection, and current pregnancies (which call for an HIV test).
fn infections(
    x: &mut impl Rng,
    rec: &Record<'_>,
    p: &Person,
    hysterectomy: Option<NaiveDate>,
    adherence: f64,
    out: &mut Out,
) {
    let today = rec.today;
    let age = p.age_on(today);
    let window = add_months(today, -150);
    let adult = turning(p, 18).max(window);
    let diagnosed = |x: &mut _, prob: f64| {
        chance(x, prob).then(|| turning(p, int(x, 18, i64::from(age)) as i32))
    };
    let mut hiv_tests = Vec::new();
    let hiv = diagnosed(x, 0.003);
    if let Some(d) = hiv {
        rec.problem(out, "hiv", &problems::HIV_INFECTION, d, Status::Active);
        if d >= window {
            hiv_tests.push((d, true));
        }
    } else if chance(x, 0.25 + 0.3 * adherence) {
        if let Some(d) = day_in(x, adult, turning(p, 66).min(today)) {
            hiv_tests.push((d, false));
            // A repeat test for some with ongoing risk.
            if chance(x, 0.12) {
                if let Some(d) = day_in(x, add_months(d, 12), turning(p, 66).min(today)) {
                    hiv_tests.push((d, false));
                }
            }
        }
    }
    if p.female && (18..=44).contains(&age) && hysterectomy.is_none() && chance(x, 0.03) {
        let onset = today - TimeDelta::days(int(x, 14, 240));
        rec.problem(
            out,
            "pregnancy",
            &problems::PREGNANCY,
            onset,
            Status::Active,
        );
        // Every pregnancy is screened for HIV, at the first prenatal visit.
        let booking = onset + TimeDelta::days(int(x, 42, 84));
        if hiv.is_none() && booking <= today && chance(x, 0.85) {
            hiv_tests.push((booking, false));
        }
    }
    hiv_tests.sort();
    for (k, (d, positive)) in hiv_tests.into_iter().enumerate() {
        let code = if d.year() < 2015 && chance(x, 0.6) {
            (LOINC, "7918-6", "HIV 1+2 Ab [Presence] in Serum")
        } else {
            (
                LOINC,
                "75622-1",
                "HIV 1+2 Ab+HIV1 p24 Ag [Presence] in Serum or Plasma by Immunoassay",
            )
        };
        out.push(rec.lab(x, &format!("hiv-{}", k + 1), code, d, positive));
    }

    // Hepatitis C: universal adult screening dates from the CDC (2020) and USPSTF (2020), after
    // birth-cohort screening from 2012–13.
    const HCV_AB: Code = (LOINC, "16128-1", "Hepatitis C virus Ab [Presence] in Serum");
    let since = NaiveDate::from_ymd_opt(2013, 1, 1).unwrap_or(today);
    if let Some(d) = diagnosed(x, 0.005) {
        rec.problem(
            out,
            "hcv",
            &problems::CHRONIC_HEPATITIS_C,
            d,
            Status::Active,
        );
        if d >= window {
            out.push(rec.lab(x, "hcv-1", HCV_AB, d, true));
        }
    } else if chance(x, 0.2 + 0.3 * adherence) {
        if let Some(d) = day_in(x, adult.max(since), turning(p, 80).min(today)) {
            out.push(rec.lab(x, "hcv-1", HCV_AB, d, false));
        }
    }
}

/// A date as a patient recalls it: often just the month.
fn recalled(x: &mut impl Rng, d: NaiveDate) -> String {
    if chance(x, 0.6) {
        d.format("%Y-%m").to_string()
    } else {
        fhir::date(d)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn series_respects_the_window_and_interval() {
        let mut r = rng(1, "series", 0);
        let start = NaiveDate::from_ymd_opt(2015, 1, 1).unwrap();
        let end = NaiveDate::from_ymd_opt(2030, 1, 1).unwrap();
        let today = NaiveDate::from_ymd_opt(2026, 11, 24).unwrap();
        let done = series(&mut r, start, end, 24, 1.0, today);
        assert!(!done.is_empty());
        assert!(done.iter().all(|d| *d >= start && *d <= today));
        for w in done.windows(2) {
            assert!(years_between(w[0], w[1]) >= 1.9, "{w:?}");
        }
    }

    #[test]
    fn every_designated_gender_profile_is_present() {
        for clinic_patients in [150, 2000] {
            let cfg = Config {
                clinic_patients,
                ..Config::default()
            };
            let genders = genders(&cfg, 151);
            for &(female, (lo, hi), gender) in &DESIGNATED {
                let found = genders.iter().enumerate().any(|(k, &g)| {
                    let (age, f) = age_and_sex(&mut rng(cfg.seed, "clinic", 151 + k as u64));
                    g == gender && f == female && (lo..=hi).contains(&age)
                });
                assert!(found, "{gender:?} {female} {lo}–{hi} in {clinic_patients}");
            }
            let diverse = genders
                .iter()
                .enumerate()
                .filter(|(k, &g)| {
                    let (_, f) = age_and_sex(&mut rng(cfg.seed, "clinic", 151 + *k as u64));
                    g != Gender::cisgender(f)
                })
                .count();
            assert!(
                diverse <= DESIGNATED.len() + clinic_patients / 50,
                "{diverse}"
            );
        }
    }

    #[test]
    fn day_in_stays_in_range() {
        let mut r = rng(1, "day", 0);
        let lo = NaiveDate::from_ymd_opt(2020, 1, 1).unwrap();
        let hi = NaiveDate::from_ymd_opt(2020, 1, 4).unwrap();
        for _ in 0..100 {
            let d = day_in(&mut r, lo, hi).unwrap();
            assert!(d >= lo && d < hi);
        }
        assert_eq!(day_in(&mut r, hi, lo), None);
        assert_eq!(day_in(&mut r, lo, lo), None);
    }
}
