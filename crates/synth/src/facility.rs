//! The hospital itself: the Organization, its wards and beds (R4 Location, physicalType `wa`/`bd`,
//! bed state from HL7 v2 table 0116), the outpatient centre, and the staff (Practitioner with NPI
//! and qualification, PractitionerRole with specialty and ward).
//! <https://hl7.org/fhir/R4/location.html>, <https://hl7.org/fhir/R4/practitioner.html>

use std::collections::BTreeMap;

use chrono::NaiveDate;
use rand::Rng;
use serde_json::json;

use crate::demographics::{self, STATE};
use crate::fhir::{self, concept, reference, Code, NPI, SNOMED};
use crate::hospital::Out;
use crate::random::{chance, int, rng};

pub const ORGANIZATION: &str = "org-riverbend";
pub(crate) const OUTPATIENT_CENTRE: &str = "loc-outpatients";
const HOSPITAL_NAME: &str = "Riverbend General Hospital";
const MAIN_PHONE: &str = "(978) 555-0100";
const PHYSICAL_TYPE: &str = "http://terminology.hl7.org/CodeSystem/location-physical-type";
const BED_STATUS: &str = "http://terminology.hl7.org/CodeSystem/v2-0116";

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum WardKind {
    AcuteMedicine,
    Surgery,
    Respiratory,
    OlderPeople,
    Coronary,
}

/// The nursing unit types the quality measures' benchmarks are set by.
const UNIT_TYPE: &str = "https://tend.example.org/fhir/CodeSystem/nursing-unit-type";

fn unit_type(kind: &WardKind) -> (&'static str, &'static str) {
    match kind {
        WardKind::Surgery => ("surgical", "Surgical"),
        WardKind::Coronary => ("critical-care", "Critical care"),
        _ => ("medical", "Medical"),
    }
}

pub(crate) struct WardSpec {
    pub(crate) key: &'static str,
    pub(crate) name: &'static str,
    pub(crate) alias: &'static str,
    pub(crate) kind: WardKind,
    pub(crate) beds: usize,
    pub(crate) specialty: Code,
}

pub(crate) const WARDS: &[WardSpec] = &[
    WardSpec {
        key: "3east",
        name: "Ward 3 East – Acute Medicine",
        alias: "3E",
        kind: WardKind::AcuteMedicine,
        beds: 40,
        specialty: (SNOMED, "394802001", "General medicine"),
    },
    WardSpec {
        key: "5west",
        name: "Ward 5 West – General Surgery",
        alias: "5W",
        kind: WardKind::Surgery,
        beds: 40,
        specialty: (SNOMED, "394609007", "Surgery-general"),
    },
    WardSpec {
        key: "7north",
        name: "Ward 7 North – Respiratory Medicine",
        alias: "7N",
        kind: WardKind::Respiratory,
        beds: 32,
        specialty: (SNOMED, "418112009", "Pulmonary medicine"),
    },
    WardSpec {
        key: "2south",
        name: "Ward 2 South – Older People's Care",
        alias: "2S",
        kind: WardKind::OlderPeople,
        beds: 36,
        specialty: (SNOMED, "394811001", "Geriatric medicine"),
    },
    WardSpec {
        key: "ccu",
        name: "Coronary Care Unit",
        alias: "CCU",
        kind: WardKind::Coronary,
        beds: 12,
        specialty: (SNOMED, "394579002", "Cardiology"),
    },
];

pub(crate) struct Ward {
    pub(crate) spec: &'static WardSpec,
    pub(crate) beds: usize,
    pub(crate) attending: String,
    pub(crate) nurses: Vec<String>,
}

impl Ward {
    pub(crate) fn id(&self) -> String {
        format!("ward-{}", self.spec.key)
    }

    /// Beds are numbered from 1.
    pub(crate) fn bed_id(&self, bed: usize) -> String {
        format!("bed-{}-{bed:02}", self.spec.key)
    }
}

/// Who works where, by role key (`"attending-3east"`, `"pcp-1"`, `"breast-surgeon"`, ...).
pub(crate) struct Staff {
    pub(crate) wards: Vec<Ward>,
    pub(crate) primary_care: Vec<String>,
    by_role: BTreeMap<String, String>,
}

impl Staff {
    /// The practitioner id for a role key; the roles are fixed, so a missing key is a bug.
    pub(crate) fn role(&self, key: &str) -> &str {
        self.by_role
            .get(key)
            .map(String::as_str)
            .unwrap_or_else(|| panic!("no staff role {key}"))
    }
}

#[derive(Clone, Copy)]
enum Profession {
    Physician,
    Nurse,
    NursePractitioner,
    SocialWorker,
}

struct Post {
    key: String,
    title: String,
    profession: Profession,
    specialty: Code,
    ward: Option<usize>,
}

const PRIMARY_CARE: Code = (SNOMED, "394814009", "General practice");

fn posts() -> Vec<Post> {
    let mut posts = Vec::new();
    let post = |key: String, title: &str, profession, specialty, ward| Post {
        key,
        title: title.to_string(),
        profession,
        specialty,
        ward,
    };
    for (i, w) in WARDS.iter().enumerate() {
        let title = if w.kind == WardKind::Surgery {
            "Attending surgeon"
        } else {
            "Attending physician"
        };
        posts.push(post(
            format!("attending-{}", w.key),
            title,
            Profession::Physician,
            w.specialty,
            Some(i),
        ));
        for n in 1..=3 {
            let title = if n == 1 {
                "Charge nurse"
            } else {
                "Staff nurse"
            };
            posts.push(post(
                format!("nurse-{}-{n}", w.key),
                title,
                Profession::Nurse,
                w.specialty,
                Some(i),
            ));
        }
    }
    let medicine = (SNOMED, "419192003", "Internal medicine");
    posts.push(post(
        "resident-medicine".into(),
        "Resident physician",
        Profession::Physician,
        medicine,
        Some(0),
    ));
    posts.push(post(
        "resident-surgery".into(),
        "Surgical resident",
        Profession::Physician,
        WARDS[1].specialty,
        Some(1),
    ));
    posts.push(post(
        "outreach-nurse".into(),
        "Rapid response (critical care outreach) nurse",
        Profession::Nurse,
        (SNOMED, "408478003", "Critical care medicine"),
        None,
    ));
    posts.push(post(
        "pcp-1".into(),
        "Primary care physician",
        Profession::Physician,
        PRIMARY_CARE,
        None,
    ));
    posts.push(post(
        "pcp-2".into(),
        "Primary care physician",
        Profession::Physician,
        PRIMARY_CARE,
        None,
    ));
    posts.push(post(
        "pcp-3".into(),
        "Family nurse practitioner",
        Profession::NursePractitioner,
        PRIMARY_CARE,
        None,
    ));
    for (key, title, specialty) in [
        (
            "breast-surgeon",
            "Breast surgeon",
            (SNOMED, "408469009", "Surgery-Breast surgery"),
        ),
        (
            "colorectal-surgeon",
            "Colorectal surgeon",
            (SNOMED, "408464004", "Surgery-Colorectal surgery"),
        ),
        (
            "gastroenterologist",
            "Gastroenterologist",
            (SNOMED, "394584008", "Gastroenterology"),
        ),
        (
            "dermatologist",
            "Dermatologist",
            (SNOMED, "394582007", "Dermatology"),
        ),
        ("urologist", "Urologist", (SNOMED, "394612005", "Urology")),
        (
            "gynecologist",
            "Gynecologist",
            (SNOMED, "394586005", "Gynecology"),
        ),
        (
            "ent-surgeon",
            "Otolaryngologist (head and neck surgeon)",
            (SNOMED, "418960008", "Otolaryngology"),
        ),
        (
            "oncologist",
            "Medical oncologist",
            (SNOMED, "394593009", "Medical oncology"),
        ),
    ] {
        posts.push(post(
            key.into(),
            title,
            Profession::Physician,
            specialty,
            None,
        ));
    }
    // Last, so earlier posts keep their generated people: the clinic's outreach navigator,
    // who works the care-gap worklist.
    posts.push(post(
        "navigator-1".into(),
        "Patient navigator (preventive care outreach)",
        Profession::Nurse,
        PRIMARY_CARE,
        None,
    ));
    // And the outpatient centre's clinical social worker, on the care teams of patients on
    // cancer pathways.
    posts.push(post(
        "social-worker-1".into(),
        "Clinical social worker",
        Profession::SocialWorker,
        PRIMARY_CARE,
        None,
    ));
    // And the cancer pathways' second navigator (the first also covers pathways).
    posts.push(post(
        "navigator-2".into(),
        "Patient navigator (cancer pathways)",
        Profession::Nurse,
        PRIMARY_CARE,
        None,
    ));
    // And the tumour boards' coordinator, a cancer-services nurse who prepares the meetings.
    posts.push(post(
        "mdt-coordinator".into(),
        "MDT coordinator (cancer services)",
        Profession::Nurse,
        PRIMARY_CARE,
        None,
    ));
    posts
}

/// A valid NPI: nine digits plus a Luhn check digit.
fn npi(r: &mut impl Rng) -> String {
    let body = format!("1{:08}", int(r, 0, 99_999_999));
    let check = npi_check_digit(&body);
    format!("{body}{check}")
}

/// The Luhn check digit of an NPI body, computed over the body with the "80840" prefix.
fn npi_check_digit(body: &str) -> u32 {
    let sum: u32 = format!("80840{body}")
        .chars()
        .filter_map(|c| c.to_digit(10))
        .rev()
        .enumerate()
        .map(|(i, d)| match (i % 2 == 0, d * 2) {
            (true, x) if x > 9 => x - 9,
            (true, x) => x,
            (false, _) => d,
        })
        .sum();
    (10 - sum % 10) % 10
}

/// Emits the Organization, the outpatient centre, the wards, the staff and their roles.
/// `beds[i]` is the number of beds of `WARDS[i]`.
pub(crate) fn build(seed: u64, today: NaiveDate, beds: &[usize], out: &mut Out) -> Staff {
    let mut r = rng(seed, "facility", 0);
    out.push(json!({
        "resourceType": "Organization",
        "id": ORGANIZATION,
        "meta": fhir::meta(),
        "identifier": [
            {"system": NPI, "value": npi(&mut r)},
            {"system": format!("{}/sid/organization", fhir::TEND), "value": "RGH"},
        ],
        "active": true,
        "type": [{"coding": [{"system": "http://terminology.hl7.org/CodeSystem/organization-type", "code": "prov", "display": "Healthcare Provider"}]}],
        "name": HOSPITAL_NAME,
        "alias": ["RGH"],
        "telecom": [
            {"system": "phone", "value": MAIN_PHONE, "use": "work"},
            {"system": "url", "value": "https://riverbend.example.org", "use": "work"},
        ],
        "address": [{"use": "work", "type": "both", "line": ["1200 River Road"], "city": "Riverbend", "state": STATE, "postalCode": "01960", "country": "US"}],
    }));
    out.push(json!({
        "resourceType": "Location",
        "id": OUTPATIENT_CENTRE,
        "meta": fhir::meta(),
        "status": "active",
        "name": "Riverbend Outpatient Center",
        "description": "Primary care, screening and specialist clinics",
        "mode": "instance",
        "telecom": [{"system": "phone", "value": "(978) 555-0150", "use": "work"}],
        "address": {"use": "work", "line": ["1250 River Road"], "city": "Riverbend", "state": STATE, "postalCode": "01960", "country": "US"},
        "physicalType": {"coding": [{"system": PHYSICAL_TYPE, "code": "bu", "display": "Building"}]},
        "managingOrganization": reference("Organization", ORGANIZATION),
    }));
    for (i, w) in WARDS.iter().enumerate() {
        out.push(json!({
            "resourceType": "Location",
            "id": format!("ward-{}", w.key),
            "meta": fhir::meta(),
            "identifier": [{"system": format!("{}/sid/location", fhir::TEND), "value": w.alias}],
            "status": "active",
            "name": w.name,
            "alias": [w.alias],
            "description": format!("{} ({} beds)", w.name, beds[i]),
            "mode": "instance",
            "telecom": [{"system": "phone", "value": format!("{MAIN_PHONE} ext {}", 3100 + i * 100), "use": "work"}],
            "physicalType": {"coding": [{"system": PHYSICAL_TYPE, "code": "wa", "display": "Ward"}]},
            "type": [{"coding": [{"system": UNIT_TYPE, "code": unit_type(&w.kind).0, "display": unit_type(&w.kind).1}]}],
            "managingOrganization": reference("Organization", ORGANIZATION),
        }));
    }

    const ROLE: &str = "http://terminology.hl7.org/CodeSystem/practitioner-role";
    let mut by_role = BTreeMap::new();
    let mut practitioners = Vec::new();
    let mut roles = Vec::new();
    for (n, post) in posts().iter().enumerate() {
        let id = format!("prac-{:03}", n + 1);
        let female = chance(
            &mut r,
            if matches!(post.profession, Profession::Physician) {
                0.45
            } else {
                0.85
            },
        );
        let age = int(&mut r, 28, 64) as u32;
        let person = demographics::person(&mut r, today, age, female);
        let (qualification, role_code, prefix) = match post.profession {
            Profession::Physician => {
                let q = if chance(&mut r, 0.88) {
                    ("MD", "Doctor of Medicine")
                } else {
                    ("DO", "Doctor of Osteopathy")
                };
                (q, (ROLE, "doctor", "Doctor"), Some("Dr."))
            }
            Profession::Nurse => (("RN", "Registered Nurse"), (ROLE, "nurse", "Nurse"), None),
            Profession::NursePractitioner => {
                (("NP", "Nurse Practitioner"), (ROLE, "nurse", "Nurse"), None)
            }
            Profession::SocialWorker => (
                ("LICSW", "Licensed Independent Clinical Social Worker"),
                (SNOMED, "106328005", "Social worker"),
                None,
            ),
        };
        let email = format!(
            "{}.{}@riverbend.example.org",
            ascii(&person.name.given[0]),
            ascii(&person.name.family)
        );
        let mut name = json!({
            "use": "official",
            "text": match prefix { Some(p) => format!("{p} {}", person.name.text()), None => person.name.text() },
            "family": person.name.family,
            "given": person.name.given,
        });
        if let Some(p) = prefix {
            name["prefix"] = json!([p]);
        }
        name["suffix"] = json!([qualification.0]);
        practitioners.push(json!({
            "resourceType": "Practitioner",
            "id": id,
            "meta": fhir::meta(),
            "identifier": [
                {"system": NPI, "value": npi(&mut r)},
                {"system": format!("{}/sid/staff", fhir::TEND), "value": format!("E{:05}", 10_000 + n * 37)},
            ],
            "active": true,
            "name": [name],
            "telecom": [
                {"system": "phone", "value": format!("{MAIN_PHONE} ext {}", 2000 + n), "use": "work"},
                {"system": "email", "value": email, "use": "work"},
            ],
            "gender": if female { "female" } else { "male" },
            "qualification": [{
                "code": {"coding": [{"system": "http://terminology.hl7.org/CodeSystem/v2-0360", "code": qualification.0, "display": qualification.1}], "text": qualification.0},
                "issuer": {"display": "Commonwealth of Massachusetts, Board of Registration"},
            }],
        }));
        let mut role = json!({
            "resourceType": "PractitionerRole",
            "id": format!("role-{:03}", n + 1),
            "meta": fhir::meta(),
            "active": true,
            "practitioner": reference("Practitioner", &id),
            "organization": reference("Organization", ORGANIZATION),
            "code": [{"coding": [{"system": role_code.0, "code": role_code.1, "display": role_code.2}], "text": post.title}],
            "specialty": [concept(&[post.specialty])],
        });
        role["location"] = match post.ward {
            Some(w) => json!([reference("Location", &format!("ward-{}", WARDS[w].key))]),
            None => json!([reference("Location", OUTPATIENT_CENTRE)]),
        };
        roles.push(role);
        by_role.insert(post.key.clone(), id);
    }
    for p in practitioners {
        out.push(p);
    }
    for role in roles {
        out.push(role);
    }

    let wards = WARDS
        .iter()
        .enumerate()
        .map(|(i, spec)| Ward {
            spec,
            beds: beds[i],
            attending: by_role[&format!("attending-{}", spec.key)].clone(),
            nurses: (1..=3)
                .map(|n| by_role[&format!("nurse-{}-{n}", spec.key)].clone())
                .collect(),
        })
        .collect();
    let primary_care = (1..=3)
        .map(|n| by_role[&format!("pcp-{n}")].clone())
        .collect();
    Staff {
        wards,
        primary_care,
        by_role,
    }
}

fn ascii(s: &str) -> String {
    s.chars()
        .filter(|c| c.is_ascii_alphanumeric())
        .map(|c| c.to_ascii_lowercase())
        .collect()
}

/// Emits the beds of `ward`; `occupied[b]` says whether bed `b + 1` has a patient. Empty beds are
/// mostly ready (U), a few awaiting cleaning after a discharge (H).
pub(crate) fn beds(seed: u64, ward_index: usize, ward: &Ward, occupied: &[bool], out: &mut Out) {
    let mut r = rng(seed, "beds", ward_index as u64);
    for (b, &occ) in occupied.iter().enumerate() {
        let (code, display) = if occ {
            ("O", "Occupied")
        } else if chance(&mut r, 0.2) {
            ("H", "Housekeeping")
        } else {
            ("U", "Unoccupied")
        };
        out.push(json!({
            "resourceType": "Location",
            "id": ward.bed_id(b + 1),
            "meta": fhir::meta(),
            "status": "active",
            "operationalStatus": {"system": BED_STATUS, "code": code, "display": display},
            "name": format!("{} Bed {:02}", ward.spec.alias, b + 1),
            "mode": "instance",
            "physicalType": {"coding": [{"system": PHYSICAL_TYPE, "code": "bd", "display": "Bed"}]},
            "managingOrganization": reference("Organization", ORGANIZATION),
            "partOf": reference("Location", &ward.id()),
        }));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn npi_check_digit_matches_the_worked_example() {
        // The example in the NPI check-digit specification: 123456789 has check digit 3.
        assert_eq!(npi_check_digit("123456789"), 3);
        let mut r = rng(1, "npi", 0);
        let n = npi(&mut r);
        assert_eq!(n.len(), 10);
        assert_eq!(npi_check_digit(&n[..9]), n[9..].parse::<u32>().unwrap());
    }
}
