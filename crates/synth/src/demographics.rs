//! Who the patients are: sex assigned at birth and gender, age, race and ethnicity (US Core
//! extensions, OMB categories), preferred language and interpreter need, name, address and phone,
//! in roughly the proportions of a US population (2020 census; about one in ten preferring a
//! language other than English). Builds the R4 Patient (<https://hl7.org/fhir/R4/patient.html>)
//! with the US Core birth sex extension
//! (<https://hl7.org/fhir/us/core/StructureDefinition-us-core-birthsex.html>).

use chrono::{Datelike, Days, NaiveDate};
use rand::Rng;
use serde_json::{json, Value};

use crate::fhir::{self, reference};
use crate::names::{person_name, Culture, PersonName};
use crate::random::{chance, int, pick, weighted};

const RACE_URL: &str = "http://hl7.org/fhir/us/core/StructureDefinition/us-core-race";
const ETHNICITY_URL: &str = "http://hl7.org/fhir/us/core/StructureDefinition/us-core-ethnicity";
const BIRTH_SEX_URL: &str = "http://hl7.org/fhir/us/core/StructureDefinition/us-core-birthsex";
const INTERPRETER_URL: &str = "http://hl7.org/fhir/StructureDefinition/patient-interpreterRequired";
const OMB: &str = "urn:oid:2.16.840.1.113883.6.238";
const NULL_FLAVOR: &str = "http://terminology.hl7.org/CodeSystem/v3-NullFlavor";
/// Medical record numbers issued by the demo hospital.
pub(crate) const MRN_SYSTEM: &str = "https://tend.example.org/fhir/sid/mrn";

/// Recorded race: OMB categories (US Core `ombCategory`), "other" (no OMB category) or declined.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Race {
    White,
    Black,
    Asian,
    AmericanIndian,
    PacificIslander,
    WhiteBlack,
    WhiteAsian,
    WhiteAmericanIndian,
    Other,
    Declined,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Ethnicity {
    Hispanic,
    NotHispanic,
    Declined,
}

/// A BCP-47 language.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Language {
    pub(crate) code: &'static str,
    pub(crate) display: &'static str,
}

const fn lang(code: &'static str, display: &'static str) -> Language {
    Language { code, display }
}

pub(crate) const ENGLISH: Language = lang("en", "English");

#[derive(Debug)]
pub(crate) struct Address {
    pub(crate) line: String,
    pub(crate) city: &'static str,
    pub(crate) postal_code: &'static str,
}

/// Administrative gender (`Patient.gender`, <https://hl7.org/fhir/R4/valueset-administrative-gender.html>):
/// the gender the patient lives and is addressed in, which can differ from sex assigned at birth.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Gender {
    Female,
    Male,
    /// Nonbinary.
    Other,
}

impl Gender {
    /// The gender of someone whose gender matches their sex assigned at birth.
    pub(crate) fn cisgender(female: bool) -> Gender {
        if female {
            Gender::Female
        } else {
            Gender::Male
        }
    }

    fn code(self) -> &'static str {
        match self {
            Gender::Female => "female",
            Gender::Male => "male",
            Gender::Other => "other",
        }
    }
}

pub(crate) struct Person {
    /// Sex assigned at birth, which is what anatomy-based care (cervical and breast screening,
    /// AAA, osteoporosis, pregnancy) follows. Never read it as gender: that is [`Person::gender`].
    pub(crate) female: bool,
    pub(crate) gender: Gender,
    pub(crate) birth_date: NaiveDate,
    pub(crate) name: PersonName,
    pub(crate) race: Race,
    pub(crate) ethnicity: Ethnicity,
    /// `None`: no preferred language recorded.
    pub(crate) language: Option<Language>,
    pub(crate) interpreter: bool,
    pub(crate) address: Address,
    pub(crate) phone: String,
    pub(crate) email: Option<String>,
}

impl Person {
    pub(crate) fn age_on(&self, day: NaiveDate) -> i32 {
        age_on(self.birth_date, day)
    }

    pub(crate) fn is_black(&self) -> bool {
        matches!(self.race, Race::Black | Race::WhiteBlack)
    }

    /// Groups with a higher prevalence of type 2 diabetes and hypertension.
    pub(crate) fn higher_cardiometabolic_risk(&self) -> bool {
        self.is_black()
            || self.ethnicity == Ethnicity::Hispanic
            || matches!(
                self.race,
                Race::Asian | Race::AmericanIndian | Race::PacificIslander
            )
    }

    #[cfg(test)]
    pub(crate) fn speaks_english(&self) -> bool {
        self.language.is_none_or(|l| l == ENGLISH)
    }
}

/// A birth date `days` (1..=364) before the `age`th birthday falling on or before `today`.
fn birth_date_for_age(today: NaiveDate, age: u32, days: u64) -> NaiveDate {
    let year = today.year() - age as i32;
    let anniversary = today
        .with_year(year)
        .or_else(|| NaiveDate::from_ymd_opt(year, 2, 28))
        .unwrap_or(today);
    anniversary
        .checked_sub_days(Days::new(days))
        .unwrap_or(anniversary)
}

pub(crate) fn age_on(birth: NaiveDate, day: NaiveDate) -> i32 {
    let mut age = day.year() - birth.year();
    if (day.month(), day.day()) < (birth.month(), birth.day()) {
        age -= 1;
    }
    age
}

/// A person who is `age` years old on `today`, whose gender matches their sex at birth.
pub(crate) fn person(r: &mut impl Rng, today: NaiveDate, age: u32, female: bool) -> Person {
    person_of_gender(r, today, age, female, Gender::cisgender(female))
}

/// A person of sex at birth `female` and `gender`; their given names follow their gender (for
/// nonbinary people, their sex at birth).
pub(crate) fn person_of_gender(
    r: &mut impl Rng,
    today: NaiveDate,
    age: u32,
    female: bool,
    gender: Gender,
) -> Person {
    let named_female = match gender {
        Gender::Female => true,
        Gender::Male => false,
        Gender::Other => female,
    };
    let birth_date = birth_date_for_age(today, age, int(r, 1, 364) as u64);
    let (race, ethnicity, culture) = origin(r);
    let older = age >= 60;
    let language = language(r, culture, older);
    let english_given = match culture {
        Culture::Chinese
        | Culture::Korean
        | Culture::Vietnamese
        | Culture::Japanese
        | Culture::SouthAsian => {
            language == Some(ENGLISH) && chance(r, if older { 0.25 } else { 0.6 })
        }
        Culture::Hispanic | Culture::Arab | Culture::Haitian | Culture::Portuguese => {
            language == Some(ENGLISH) && chance(r, if older { 0.1 } else { 0.35 })
        }
        _ => false,
    };
    let name = person_name(r, culture, named_female, birth_date.year(), english_given);
    let interpreter = match language {
        Some(l) if l != ENGLISH => chance(r, 0.88),
        _ => false,
    };
    let email = chance(r, if age < 65 { 0.55 } else { 0.25 }).then(|| {
        let given = ascii_lower(&name.given[0]);
        let family = ascii_lower(&name.family);
        format!("{given}.{family}{}@example.com", int(r, 1, 99))
    });
    Person {
        female,
        gender,
        birth_date,
        name,
        race,
        ethnicity,
        language,
        interpreter,
        address: address(r),
        phone: phone(r),
        email,
    }
}

fn ascii_lower(s: &str) -> String {
    s.chars()
        .filter(|c| c.is_ascii_alphanumeric())
        .map(|c| c.to_ascii_lowercase())
        .collect()
}

/// Race, ethnicity and naming culture, drawn jointly (2020 census proportions, rounded).
fn origin(r: &mut impl Rng) -> (Race, Ethnicity, Culture) {
    use Culture as C;
    #[derive(Clone, Copy)]
    enum Group {
        White,
        Black,
        Asian,
        AmericanIndian,
        PacificIslander,
        Multiple,
        Hispanic,
        Declined,
    }
    let group = *weighted(
        r,
        &[
            (Group::White, 58.0),
            (Group::Black, 12.5),
            (Group::Asian, 6.0),
            (Group::AmericanIndian, 0.8),
            (Group::PacificIslander, 0.3),
            (Group::Multiple, 2.5),
            (Group::Hispanic, 17.5),
            (Group::Declined, 2.4),
        ],
    );
    let nh = Ethnicity::NotHispanic;
    match group {
        Group::White => {
            let c = *weighted(
                r,
                &[
                    (C::General, 88.0),
                    (C::Russian, 2.5),
                    (C::Polish, 2.0),
                    (C::Arab, 2.5),
                    (C::Portuguese, 2.5),
                    (C::FrenchCanadian, 2.5),
                ],
            );
            (Race::White, nh, c)
        }
        Group::Black => {
            let c = *weighted(
                r,
                &[
                    (C::AfricanAmerican, 86.0),
                    (C::Haitian, 6.5),
                    (C::WestAfrican, 3.5),
                    (C::Somali, 4.0),
                ],
            );
            (Race::Black, nh, c)
        }
        Group::Asian => {
            let c = *weighted(
                r,
                &[
                    (C::Chinese, 26.0),
                    (C::SouthAsian, 22.0),
                    (C::Filipino, 18.0),
                    (C::Vietnamese, 11.0),
                    (C::Korean, 9.0),
                    (C::Japanese, 7.0),
                ],
            );
            (Race::Asian, nh, c)
        }
        Group::AmericanIndian => (Race::AmericanIndian, nh, C::NativeAmerican),
        Group::PacificIslander => (Race::PacificIslander, nh, C::PacificIslander),
        Group::Multiple => {
            let race = *weighted(
                r,
                &[
                    (Race::WhiteBlack, 45.0),
                    (Race::WhiteAsian, 30.0),
                    (Race::WhiteAmericanIndian, 25.0),
                ],
            );
            (race, nh, C::General)
        }
        Group::Hispanic => {
            let race = *weighted(
                r,
                &[
                    (Race::White, 55.0),
                    (Race::Other, 33.0),
                    (Race::Black, 4.0),
                    (Race::AmericanIndian, 4.0),
                    (Race::WhiteBlack, 4.0),
                ],
            );
            (race, Ethnicity::Hispanic, C::Hispanic)
        }
        Group::Declined => {
            let c = *weighted(
                r,
                &[
                    (C::General, 72.0),
                    (C::AfricanAmerican, 10.0),
                    (C::Hispanic, 12.0),
                    (C::Chinese, 6.0),
                ],
            );
            (Race::Declined, Ethnicity::Declined, c)
        }
    }
}

/// Preferred language: English for most; a community language for some, more often in older age.
fn language(r: &mut impl Rng, culture: Culture, older: bool) -> Option<Language> {
    use Culture as C;
    if chance(r, 0.02) {
        return None; // not recorded
    }
    let (own, p): (Language, f64) = match culture {
        C::Hispanic => (lang("es", "Spanish"), 0.33),
        C::Chinese => (lang("zh", "Chinese"), 0.45),
        C::Vietnamese => (lang("vi", "Vietnamese"), 0.5),
        C::Korean => (lang("ko", "Korean"), 0.4),
        C::Filipino => (lang("tl", "Tagalog"), 0.1),
        C::Japanese => (lang("ja", "Japanese"), 0.12),
        C::SouthAsian => (lang("hi", "Hindi"), 0.08),
        C::Arab => (lang("ar", "Arabic"), 0.4),
        C::Russian => (lang("ru", "Russian"), 0.4),
        C::Polish => (lang("pl", "Polish"), 0.3),
        C::Portuguese => (lang("pt", "Portuguese"), 0.45),
        C::FrenchCanadian => (lang("fr", "French"), 0.12),
        C::Haitian => (lang("ht", "Haitian Creole"), 0.55),
        C::WestAfrican => (lang("fr", "French"), 0.4),
        C::Somali => (lang("so", "Somali"), 0.55),
        _ => (ENGLISH, 0.0),
    };
    let p = if older { (p * 1.4).min(0.9) } else { p * 0.8 };
    Some(if chance(r, p) { own } else { ENGLISH })
}

const STREETS: &[&str] = &[
    "Maple Street",
    "Oak Avenue",
    "Elm Street",
    "Washington Street",
    "Pleasant Street",
    "Highland Avenue",
    "Church Street",
    "School Street",
    "River Road",
    "Summer Street",
    "Chestnut Street",
    "Park Avenue",
    "Union Street",
    "Prospect Street",
    "Franklin Street",
    "Lincoln Avenue",
    "Mill Street",
    "Cedar Lane",
    "Harbor View Drive",
    "Lafayette Street",
    "Broadway",
    "Central Avenue",
    "Walnut Street",
    "Spring Street",
    "Hillside Avenue",
];
/// Fictional towns around the demo hospital, with the ZIP codes the demo uses for them.
const TOWNS: &[(&str, &str)] = &[
    ("Riverbend", "01960"),
    ("Riverbend", "01961"),
    ("North Riverbend", "01962"),
    ("Millbrook", "01963"),
    ("Eastfield", "01964"),
    ("Cedar Hill", "01965"),
    ("Westvale", "01966"),
    ("Harbor Point", "01967"),
    ("Oak Grove", "01968"),
];
/// Where each ZIP code's homes are, roughly (the demo's towns sit around Boston, near the
/// community organisations of the demo directory): latitude, longitude of its centre.
const ZIP_CENTRES: &[(&str, f64, f64)] = &[
    ("01960", 42.330, -71.075),
    ("01961", 42.310, -71.060),
    ("01962", 42.360, -71.040),
    ("01963", 42.290, -71.090),
    ("01964", 42.340, -71.020),
    ("01965", 42.300, -71.110),
    ("01966", 42.350, -71.130),
    ("01967", 42.375, -71.030),
    ("01968", 42.280, -71.060),
];
pub(crate) const STATE: &str = "MA";

/// A home's position: its ZIP code's centre moved by up to about a mile, derived from the
/// street address (so the same home is always in the same place, and no random draw is
/// spent).
fn position(a: &Address) -> Option<(f64, f64)> {
    let (_, lat, lon) = ZIP_CENTRES.iter().find(|(z, ..)| *z == a.postal_code)?;
    let h = a.line.bytes().fold(0xcbf2_9ce4_8422_2325u64, |h, b| {
        (h ^ u64::from(b)).wrapping_mul(0x100_0000_01b3)
    });
    let jitter = |k: u64| ((k % 2001) as f64 / 1000.0 - 1.0) * 0.015;
    let round = |v: f64| (v * 10_000.0).round() / 10_000.0;
    Some((round(lat + jitter(h)), round(lon + jitter(h >> 20))))
}
const AREA_CODES: &[&str] = &["978", "781", "617", "508", "857"];

fn address(r: &mut impl Rng) -> Address {
    let (city, postal_code) = *pick(r, TOWNS);
    let mut line = format!("{} {}", int(r, 2, 1450), pick(r, STREETS));
    if chance(r, 0.2) {
        line.push_str(&format!(", Apt {}", int(r, 1, 40)));
    }
    Address {
        line,
        city,
        postal_code,
    }
}

/// A phone number in the 555-01xx range, which is reserved for fiction.
pub(crate) fn phone(r: &mut impl Rng) -> String {
    format!("({}) 555-01{:02}", pick(r, AREA_CODES), int(r, 0, 99))
}

/// A medical record number; distinct for distinct patient numbers.
pub(crate) fn mrn(number: u32) -> String {
    format!(
        "{:08}",
        20_000_000 + (u64::from(number) * 7_919) % 10_000_000
    )
}

impl Race {
    fn extension(self) -> Value {
        let omb = |code: &str, display: &str| json!({"url": "ombCategory", "valueCoding": {"system": OMB, "code": code, "display": display}});
        const WHITE: (&str, &str) = ("2106-3", "White");
        const BLACK: (&str, &str) = ("2054-5", "Black or African American");
        const ASIAN: (&str, &str) = ("2028-9", "Asian");
        const AIAN: (&str, &str) = ("1002-5", "American Indian or Alaska Native");
        const NHPI: (&str, &str) = ("2076-8", "Native Hawaiian or Other Pacific Islander");
        let categories: &[(&str, &str)] = match self {
            Race::White => &[WHITE],
            Race::Black => &[BLACK],
            Race::Asian => &[ASIAN],
            Race::AmericanIndian => &[AIAN],
            Race::PacificIslander => &[NHPI],
            Race::WhiteBlack => &[WHITE, BLACK],
            Race::WhiteAsian => &[WHITE, ASIAN],
            Race::WhiteAmericanIndian => &[WHITE, AIAN],
            Race::Other | Race::Declined => &[],
        };
        let mut parts: Vec<Value> = categories.iter().map(|(c, d)| omb(c, d)).collect();
        let text = match self {
            Race::Other => {
                parts.push(json!({"url": "detailed", "valueCoding": {"system": OMB, "code": "2131-1", "display": "Other Race"}}));
                "Other Race".to_string()
            }
            Race::Declined => {
                parts.push(json!({"url": "ombCategory", "valueCoding": {"system": NULL_FLAVOR, "code": "ASKU", "display": "asked but unknown"}}));
                "Declined to answer".to_string()
            }
            _ if categories.len() > 1 => categories
                .iter()
                .map(|(_, d)| *d)
                .collect::<Vec<_>>()
                .join(" and "),
            _ => categories[0].1.to_string(),
        };
        parts.push(json!({"url": "text", "valueString": text}));
        json!({"url": RACE_URL, "extension": parts})
    }
}

impl Ethnicity {
    fn extension(self) -> Value {
        let (system, code, display) = match self {
            Ethnicity::Hispanic => (OMB, "2135-2", "Hispanic or Latino"),
            Ethnicity::NotHispanic => (OMB, "2186-5", "Not Hispanic or Latino"),
            Ethnicity::Declined => (NULL_FLAVOR, "ASKU", "asked but unknown"),
        };
        let text = if self == Ethnicity::Declined {
            "Declined to answer"
        } else {
            display
        };
        json!({"url": ETHNICITY_URL, "extension": [
            {"url": "ombCategory", "valueCoding": {"system": system, "code": code, "display": display}},
            {"url": "text", "valueString": text},
        ]})
    }
}

/// The Patient resource for `person`, with MRN, gender and US Core birth sex, US Core
/// race/ethnicity, preferred language and interpreter need, and (for clinic patients) their
/// primary care practitioner.
pub(crate) fn patient(
    id: &str,
    number: u32,
    p: &Person,
    general_practitioner: Option<&str>,
    organization: &str,
) -> Value {
    let mut extension = vec![
        p.race.extension(),
        p.ethnicity.extension(),
        json!({"url": BIRTH_SEX_URL, "valueCode": if p.female { "F" } else { "M" }}),
    ];
    if p.language.is_some() {
        extension.push(json!({"url": INTERPRETER_URL, "valueBoolean": p.interpreter}));
    }
    let mut telecom = vec![
        json!({"system": "phone", "value": p.phone, "use": if p.email.is_some() { "mobile" } else { "home" }}),
    ];
    if let Some(email) = &p.email {
        telecom.push(json!({"system": "email", "value": email, "use": "home"}));
    }
    let mut patient = json!({
        "resourceType": "Patient",
        "id": id,
        "meta": fhir::meta(),
        "extension": extension,
        "identifier": [{
            "use": "usual",
            "type": {"coding": [{"system": "http://terminology.hl7.org/CodeSystem/v2-0203", "code": "MR", "display": "Medical record number"}], "text": "MRN"},
            "system": MRN_SYSTEM,
            "value": mrn(number),
        }],
        "active": true,
        "name": [{"use": "official", "text": p.name.text(), "family": p.name.family, "given": p.name.given}],
        "telecom": telecom,
        "gender": p.gender.code(),
        "birthDate": fhir::date(p.birth_date),
        "address": [{
            "use": "home",
            "type": "physical",
            "line": [p.address.line],
            "city": p.address.city,
            "state": STATE,
            "postalCode": p.address.postal_code,
            "country": "US",
        }],
    });
    if let Some((lat, lon)) = position(&p.address) {
        patient["address"][0]["extension"] = json!([{
            "url": "http://hl7.org/fhir/StructureDefinition/geolocation",
            "extension": [{"url": "latitude", "valueDecimal": lat}, {"url": "longitude", "valueDecimal": lon}],
        }]);
    }
    if let Some(l) = p.language {
        patient["communication"] = json!([{
            "language": {"coding": [{"system": "urn:ietf:bcp:47", "code": l.code, "display": l.display}], "text": l.display},
            "preferred": true,
        }]);
    }
    if let Some(gp) = general_practitioner {
        patient["generalPractitioner"] = json!([reference("Practitioner", gp)]);
    }
    patient["managingOrganization"] = reference("Organization", organization);
    patient
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::random::rng;

    #[test]
    fn every_home_has_a_place_near_its_town_and_keeps_it() {
        let mut r = rng(7, "homes", 0);
        for _ in 0..200 {
            let a = address(&mut r);
            let (lat, lon) = position(&a).expect("every demo ZIP code has a centre");
            let (_, clat, clon) = ZIP_CENTRES
                .iter()
                .find(|(z, ..)| *z == a.postal_code)
                .unwrap();
            assert!(
                (lat - clat).abs() <= 0.0151 && (lon - clon).abs() <= 0.0151,
                "{a:?}"
            );
            assert_eq!(position(&a), Some((lat, lon)));
        }
    }

    #[test]
    fn age_is_exact() {
        let today = NaiveDate::from_ymd_opt(2026, 11, 24).unwrap();
        let mut r = rng(1, "p", 0);
        for age in [18, 40, 85, 99] {
            let p = person(&mut r, today, age, true);
            assert_eq!(p.age_on(today), age as i32, "{}", p.birth_date);
        }
    }

    #[test]
    fn about_one_in_ten_prefer_another_language() {
        let today = NaiveDate::from_ymd_opt(2026, 11, 24).unwrap();
        let mut r = rng(1, "p", 1);
        let people: Vec<Person> = (0..4000)
            .map(|i| person(&mut r, today, 20 + i % 60, i % 2 == 0))
            .collect();
        let other = people.iter().filter(|p| !p.speaks_english()).count() as f64 / 4000.0;
        assert!((0.07..0.13).contains(&other), "{other}");
        let interpreters = people.iter().filter(|p| p.interpreter).count() as f64 / 4000.0;
        assert!(
            interpreters > other * 0.75 && interpreters <= other,
            "{interpreters}"
        );
        let hispanic = people
            .iter()
            .filter(|p| p.ethnicity == Ethnicity::Hispanic)
            .count() as f64
            / 4000.0;
        assert!((0.14..0.21).contains(&hispanic), "{hispanic}");
    }

    #[test]
    fn mrns_are_distinct() {
        let mut seen = std::collections::BTreeSet::new();
        for n in 0..50_000 {
            assert!(seen.insert(mrn(n)));
        }
    }
}
