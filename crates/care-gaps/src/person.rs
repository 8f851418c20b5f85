//! What the worklist and the measure strata need to know about a patient: how to reach them,
//! in which language, and the equity strata (language, race, ethnicity, sex, age band).

use std::borrow::Cow;

use chrono::NaiveDate;
use serde::Deserialize;

const ETHNICITY: &str = "http://hl7.org/fhir/us/core/StructureDefinition/us-core-ethnicity";
const INTERPRETER: &str = "http://hl7.org/fhir/StructureDefinition/patient-interpreterRequired";

/// A patient's contact details and strata.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Person {
    pub name: String,
    pub mrn: Option<String>,
    pub phone: Option<String>,
    pub email: Option<String>,
    /// Preferred language (BCP 47 code, display).
    pub language: Option<(String, String)>,
    pub interpreter: bool,
    pub birth_date: Option<NaiveDate>,
    /// OMB race category (display), "Multiple" or "Not recorded".
    pub race: String,
    pub ethnicity: String,
    /// Sex assigned at birth where recorded, else administrative gender.
    pub sex: String,
}

#[derive(Deserialize)]
struct Raw<'a> {
    #[serde(default, borrow)]
    name: Vec<RawName<'a>>,
    #[serde(default, borrow)]
    identifier: Vec<RawIdentifier<'a>>,
    #[serde(default, borrow)]
    telecom: Vec<RawTelecom<'a>>,
    #[serde(default, borrow)]
    communication: Vec<RawCommunication<'a>>,
    #[serde(rename = "birthDate", borrow)]
    birth_date: Option<Cow<'a, str>>,
    #[serde(borrow)]
    gender: Option<Cow<'a, str>>,
    #[serde(default, borrow)]
    extension: Vec<RawExtension<'a>>,
}

#[derive(Deserialize)]
struct RawName<'a> {
    #[serde(borrow)]
    text: Option<Cow<'a, str>>,
    #[serde(borrow)]
    family: Option<Cow<'a, str>>,
    #[serde(default, borrow)]
    given: Vec<Cow<'a, str>>,
}

#[derive(Deserialize)]
struct RawIdentifier<'a> {
    #[serde(rename = "type", borrow)]
    kind: Option<RawConcept<'a>>,
    #[serde(borrow)]
    value: Option<Cow<'a, str>>,
}

#[derive(Deserialize)]
struct RawTelecom<'a> {
    #[serde(borrow)]
    system: Option<Cow<'a, str>>,
    #[serde(borrow)]
    value: Option<Cow<'a, str>>,
}

#[derive(Deserialize)]
struct RawCommunication<'a> {
    #[serde(borrow)]
    language: Option<RawConcept<'a>>,
    preferred: Option<bool>,
}

#[derive(Deserialize)]
struct RawConcept<'a> {
    #[serde(default, borrow)]
    coding: Vec<RawCoding<'a>>,
    #[serde(borrow)]
    text: Option<Cow<'a, str>>,
}

#[derive(Deserialize)]
struct RawCoding<'a> {
    #[serde(borrow)]
    code: Option<Cow<'a, str>>,
    #[serde(borrow)]
    display: Option<Cow<'a, str>>,
}

#[derive(Deserialize)]
struct RawExtension<'a> {
    #[serde(borrow)]
    url: Cow<'a, str>,
    #[serde(rename = "valueCode", borrow)]
    value_code: Option<Cow<'a, str>>,
    #[serde(rename = "valueBoolean")]
    value_boolean: Option<bool>,
    #[serde(rename = "valueCoding", borrow)]
    value_coding: Option<RawCoding<'a>>,
    #[serde(default, borrow)]
    extension: Vec<RawExtension<'a>>,
}

/// The OMB categories of a US Core race or ethnicity extension: one display, "Multiple", or
/// "Not recorded".
fn omb(ext: &RawExtension<'_>) -> String {
    let cats: Vec<&str> = ext
        .extension
        .iter()
        .filter(|e| e.url == "ombCategory")
        .filter_map(|e| {
            e.value_coding
                .as_ref()
                .and_then(|c| c.display.as_deref().or(c.code.as_deref()))
        })
        .collect();
    match cats.as_slice() {
        [] => "Not recorded".into(),
        [one] => (*one).to_string(),
        _ => "Multiple".into(),
    }
}

/// Reads a Patient (JSON text).
pub(crate) fn read(json: &str) -> Option<Person> {
    let r: Raw<'_> = serde_json::from_str(json).ok()?;
    let name = r
        .name
        .first()
        .map(|n| match &n.text {
            Some(t) => t.to_string(),
            None => {
                let mut s = n.given.join(" ");
                if let Some(f) = &n.family {
                    if !s.is_empty() {
                        s.push(' ');
                    }
                    s.push_str(f);
                }
                s
            }
        })
        .unwrap_or_default();
    let mrn = r
        .identifier
        .iter()
        .find(|i| {
            i.kind
                .as_ref()
                .is_some_and(|k| k.coding.iter().any(|c| c.code.as_deref() == Some("MR")))
        })
        .and_then(|i| i.value.as_deref().map(str::to_string));
    let tel = |sys: &str| {
        r.telecom
            .iter()
            .find(|t| t.system.as_deref() == Some(sys))
            .and_then(|t| t.value.as_deref().map(str::to_string))
    };
    let language = r
        .communication
        .iter()
        .find(|c| c.preferred == Some(true))
        .or(r.communication.first())
        .and_then(|c| c.language.as_ref())
        .and_then(|l| {
            let coding = l.coding.first();
            let code = coding.and_then(|c| c.code.as_deref())?.to_string();
            let display = l
                .text
                .as_deref()
                .or(coding.and_then(|c| c.display.as_deref()))
                .unwrap_or(&code)
                .to_string();
            Some((code, display))
        });
    let mut p = Person {
        name,
        mrn,
        phone: tel("phone"),
        email: tel("email"),
        language,
        birth_date: r.birth_date.as_deref().and_then(prevention::parse_date),
        race: "Not recorded".into(),
        ethnicity: "Not recorded".into(),
        sex: r.gender.as_deref().unwrap_or("unknown").to_string(),
        ..Person::default()
    };
    for e in &r.extension {
        if e.url == prevention::RACE {
            p.race = omb(e);
        } else if e.url == ETHNICITY {
            p.ethnicity = omb(e);
        } else if e.url == INTERPRETER {
            p.interpreter = e.value_boolean == Some(true);
        } else if e.url == prevention::BIRTH_SEX {
            match e.value_code.as_deref() {
                Some("F") => p.sex = "female".into(),
                Some("M") => p.sex = "male".into(),
                _ => {}
            }
        }
    }
    Some(p)
}

impl Person {
    /// The language stratum: the preferred language's display, English when none is recorded
    /// (US Core: absence of a preferred language is read as English by most systems; the
    /// stratum says so).
    pub fn language_stratum(&self) -> &str {
        self.language
            .as_ref()
            .map_or("English (not recorded)", |(_, d)| d.as_str())
    }
}

/// Age bands of the measure strata.
pub fn age_band(age: i32) -> &'static str {
    match age {
        i32::MIN..=17 => "under 18",
        18..=29 => "18–29",
        30..=39 => "30–39",
        40..=49 => "40–49",
        50..=64 => "50–64",
        65..=74 => "65–74",
        _ => "75 and over",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_contact_details_language_and_strata() {
        let json = r#"{"resourceType":"Patient","id":"p","extension":[
            {"url":"http://hl7.org/fhir/us/core/StructureDefinition/us-core-race","extension":[{"url":"ombCategory","valueCoding":{"code":"2028-9","display":"Asian"}}]},
            {"url":"http://hl7.org/fhir/us/core/StructureDefinition/us-core-birthsex","valueCode":"F"},
            {"url":"http://hl7.org/fhir/StructureDefinition/patient-interpreterRequired","valueBoolean":true}],
            "identifier":[{"type":{"coding":[{"code":"MR"}]},"value":"MRN1"}],
            "name":[{"family":"Nguyen","given":["Lan"]}],"gender":"male",
            "telecom":[{"system":"phone","value":"555-0101"}],
            "communication":[{"language":{"coding":[{"system":"urn:ietf:bcp:47","code":"vi","display":"Vietnamese"}]},"preferred":true}],
            "birthDate":"1970-02-03"}"#;
        let p = read(json).unwrap();
        assert_eq!(p.name, "Lan Nguyen");
        assert_eq!(p.mrn.as_deref(), Some("MRN1"));
        assert_eq!(p.phone.as_deref(), Some("555-0101"));
        assert_eq!(p.language, Some(("vi".into(), "Vietnamese".into())));
        assert!(p.interpreter);
        assert_eq!(p.race, "Asian");
        assert_eq!(p.ethnicity, "Not recorded");
        assert_eq!(p.sex, "female", "sex at birth over administrative gender");
        assert_eq!(age_band(17), "under 18");
        assert_eq!(age_band(18), "18–29");
        assert_eq!(age_band(75), "75 and over");
    }
}
