//! The directory as FHIR R4 resources, in the shapes of the HL7 SDOH Clinical Care IG:
//! SDOHCC HealthcareService (`active` true, `name`, `location`, `telecom`, `communication`,
//! `availableTime`, `availabilityExceptions`), SDOHCC Location (`address`) and the
//! organisation as an Organization.
//!
//! | Directory | FHIR |
//! |---|---|
//! | organisation | Organization: `identifier` (the HSDS id), `name`, `telecom` phone and url |
//! | service | HealthcareService: `providedBy`; `category` the needs (SDOHCC codes); `type` the taxonomy terms (Open Eligibility or 211 codings, as the HL7 Human Services Directory IG codes them, else text); `name`; `comment` the description; `eligibility.comment`; `communication` BCP 47 (`urn:ietf:bcp:47`); `availableTime` grouped by hours (`allDay` for midnight to midnight), `availabilityExceptions` the notes; `telecom`; `referralMethod` (`service-referral-method` phone, fax; email as text, the code system's `semail` meaning a secure email a directory does not promise); `location` |
//! | capacity | the SDOHCC capacity status extension (IG STU 3 ballot, `SDOHCC-ExtensionHealthcareServiceCapacityStatus`): `capacityStatus` `capacity`, `no-capacity-has-waitlist` or `no-capacity` (SDOHCC-ValueSetCapacityStatus), `capacityNotes` the note. Chosen over `characteristic`, which has no agreed codes for it, so that a coordinating platform asking the IG's capacity question reads the answer where the IG puts it. |
//! | location | Location: `name`, `address`, `position` |
//!
//! Ids: `cbo-` and the HSDS id when that fits FHIR's id rule (`[A-Za-z0-9-.]{1,64}`),
//! otherwise `cbo-x-` and the SHA-256-based digest of the HSDS id (`fhir::id::digest_hex`);
//! HSDS ids starting `x-` are always digested, so the two kinds never meet. The HSDS id is
//! kept as the resource's identifier, which [`Directory::from_resources`] reads back.

use std::collections::HashMap;

use chrono::{NaiveTime, Weekday};
use serde_json::{json, Value};

use super::taxonomy::Taxonomies;
use super::{
    Address, Capacity, CapacityStatus, Contact, ContactSystem, Directory, Hours, Location,
    OpenHours, Organization, Position, ReferralMethod, Service, Term,
};
use crate::{need, SDOHCC};

/// The identifier system of HSDS ids.
pub const HSDS_ID: &str = "https://tend.example.org/fhir/sid/hsds";
/// BCP 47 language tags.
pub const BCP47: &str = "urn:ietf:bcp:47";
/// FHIR's referral methods.
pub const REFERRAL_METHOD: &str = "http://terminology.hl7.org/CodeSystem/service-referral-method";
/// The SDOHCC capacity status extension.
pub const CAPACITY_EXTENSION: &str = "http://hl7.org/fhir/us/sdoh-clinicalcare/StructureDefinition/SDOHCC-ExtensionHealthcareServiceCapacityStatus";

/// The FHIR id of a directory record with HSDS id `hsds_id`.
pub fn fhir_id(hsds_id: &str) -> String {
    let direct = format!("cbo-{hsds_id}");
    if !hsds_id.is_empty() && !hsds_id.starts_with("x-") && fhir::id::is_id(&direct) {
        direct
    } else {
        format!("cbo-x-{}", fhir::id::digest_hex(hsds_id))
    }
}

const DAYS: [(Weekday, &str); 7] = [
    (Weekday::Mon, "mon"),
    (Weekday::Tue, "tue"),
    (Weekday::Wed, "wed"),
    (Weekday::Thu, "thu"),
    (Weekday::Fri, "fri"),
    (Weekday::Sat, "sat"),
    (Weekday::Sun, "sun"),
];

const CAPACITY_CODES: [(CapacityStatus, &str, &str); 3] = [
    (CapacityStatus::Open, "capacity", "Capacity"),
    (
        CapacityStatus::Waitlist,
        "no-capacity-has-waitlist",
        "No Capacity - Has Waitlist",
    ),
    (CapacityStatus::Full, "no-capacity", "No Capacity"),
];

fn identifier(id: &str) -> Value {
    json!([{"system": HSDS_ID, "value": id}])
}

fn organization(o: &Organization) -> Value {
    let mut r = json!({
        "resourceType": "Organization",
        "id": fhir_id(&o.id),
        "identifier": identifier(&o.id),
        "active": true,
        "name": o.name,
    });
    let mut telecom = Vec::new();
    if let Some(p) = &o.phone {
        telecom.push(json!({"system": "phone", "value": p}));
    }
    if let Some(w) = &o.website {
        telecom.push(json!({"system": "url", "value": w}));
    }
    if !telecom.is_empty() {
        r["telecom"] = json!(telecom);
    }
    r
}

fn location(l: &Location) -> Value {
    let mut r = json!({
        "resourceType": "Location",
        "id": fhir_id(&l.id),
        "identifier": identifier(&l.id),
        "status": "active",
    });
    if let Some(n) = &l.name {
        r["name"] = json!(n);
    }
    if let Some(a) = &l.address {
        let mut address = json!({});
        if !a.lines.is_empty() {
            address["line"] = json!(a.lines);
        }
        for (k, v) in [
            ("city", &a.city),
            ("state", &a.state),
            ("postalCode", &a.postal_code),
        ] {
            if let Some(v) = v {
                address[k] = json!(v);
            }
        }
        r["address"] = address;
    }
    if let Some(p) = l.position {
        r["position"] = json!({"longitude": p.longitude, "latitude": p.latitude});
    }
    r
}

fn time(t: NaiveTime) -> String {
    t.format("%H:%M:%S").to_string()
}

fn healthcare_service(s: &Service) -> Value {
    let taxonomies = Taxonomies::shipped();
    let (code, display) = CAPACITY_CODES
        .iter()
        .find(|(c, _, _)| *c == s.capacity.status)
        .map(|(_, code, display)| (*code, *display))
        .unwrap_or(("capacity", "Capacity"));
    let mut capacity = vec![json!({
        "url": "capacityStatus",
        "valueCodeableConcept": {"coding": [{"system": SDOHCC, "code": code, "display": display}]},
    })];
    if let Some(n) = &s.capacity.note {
        capacity.push(json!({"url": "capacityNotes", "valueString": n}));
    }
    let mut r = json!({
        "resourceType": "HealthcareService",
        "id": fhir_id(&s.id),
        "extension": [{"url": CAPACITY_EXTENSION, "extension": capacity}],
        "identifier": identifier(&s.id),
        "active": true,
        "providedBy": {
            "reference": format!("Organization/{}", fhir_id(&s.organization.id)),
            "display": s.organization.name,
        },
    });
    if !s.needs.is_empty() {
        r["category"] = json!(s
            .needs
            .iter()
            .map(|n| json!({"coding": [{"system": SDOHCC, "code": n}], "text": need::words(n)}))
            .collect::<Vec<_>>());
    }
    if !s.terms.is_empty() {
        r["type"] = json!(s
            .terms
            .iter()
            .map(|t| {
                let system = t.taxonomy.as_deref().and_then(|k| taxonomies.taxonomy(k));
                match (system, &t.code) {
                    (Some(tx), Some(code)) => json!({
                        "coding": [{"system": tx.system, "code": code, "display": t.name}],
                        "text": t.name,
                    }),
                    _ => json!({"text": t.name}),
                }
            })
            .collect::<Vec<_>>());
    }
    if !s.locations.is_empty() {
        r["location"] = json!(s
            .locations
            .iter()
            .map(|l| json!({"reference": format!("Location/{}", fhir_id(&l.id))}))
            .collect::<Vec<_>>());
    }
    r["name"] = json!(s.name);
    if let Some(d) = &s.description {
        r["comment"] = json!(d);
    }
    if !s.contacts.is_empty() {
        r["telecom"] = json!(s
            .contacts
            .iter()
            .map(|c| json!({"system": c.system.code(), "value": c.value}))
            .collect::<Vec<_>>());
    }
    if let Some(e) = &s.eligibility {
        r["eligibility"] = json!([{"comment": e}]);
    }
    if !s.languages.is_empty() {
        r["communication"] = json!(s
            .languages
            .iter()
            .map(|l| json!({"coding": [{"system": BCP47, "code": l}], "text": super::language::name(l)}))
            .collect::<Vec<_>>());
    }
    if !s.referral.is_empty() {
        r["referralMethod"] = json!(s
            .referral
            .iter()
            .map(|m| match m {
                ReferralMethod::Phone => json!({"coding": [{"system": REFERRAL_METHOD, "code": "phone", "display": "Phone"}]}),
                ReferralMethod::Fax => json!({"coding": [{"system": REFERRAL_METHOD, "code": "fax", "display": "Fax"}]}),
                ReferralMethod::Email => json!({"text": "Email"}),
            })
            .collect::<Vec<_>>());
    }
    let mut groups: Vec<(NaiveTime, NaiveTime, Vec<&str>)> = Vec::new();
    for h in &s.hours.open {
        let day = DAYS
            .iter()
            .find(|(d, _)| *d == h.day)
            .map(|(_, c)| *c)
            .unwrap_or("mon");
        match groups
            .iter_mut()
            .find(|(o, c, _)| *o == h.opens && *c == h.closes)
        {
            Some((_, _, days)) => days.push(day),
            None => groups.push((h.opens, h.closes, vec![day])),
        }
    }
    if !groups.is_empty() {
        r["availableTime"] = json!(groups
            .iter()
            .map(|(o, c, days)| {
                if *o == NaiveTime::MIN && *c == NaiveTime::MIN {
                    json!({"daysOfWeek": days, "allDay": true})
                } else {
                    json!({
                        "daysOfWeek": days,
                        "availableStartTime": time(*o),
                        "availableEndTime": time(*c),
                    })
                }
            })
            .collect::<Vec<_>>());
    }
    if let Some(n) = &s.hours.notes {
        r["availabilityExceptions"] = json!(n);
    }
    r
}

impl Directory {
    /// The directory as FHIR resources: an Organization per organisation and a Location per
    /// location (each once, in the order first met), then a HealthcareService per service.
    pub fn resources(&self) -> Vec<Value> {
        let mut organizations: Vec<&Organization> = Vec::new();
        let mut locations: Vec<&Location> = Vec::new();
        for s in &self.services {
            if !organizations.iter().any(|o| o.id == s.organization.id) {
                organizations.push(&s.organization);
            }
            for l in &s.locations {
                if !locations.iter().any(|x| x.id == l.id) {
                    locations.push(l);
                }
            }
        }
        organizations
            .into_iter()
            .map(organization)
            .chain(locations.into_iter().map(location))
            .chain(self.services.iter().map(healthcare_service))
            .collect()
    }

    /// A directory from the resources [`Directory::resources`] writes (others are ignored).
    /// A service whose Organization or Location is not among them keeps what its reference
    /// says.
    pub fn from_resources(resources: &[Value]) -> Directory {
        let of_type = |t: &'static str| {
            resources
                .iter()
                .filter(move |r| r["resourceType"] == t)
                .filter_map(|r| Some((r["id"].as_str()?.to_string(), r)))
        };
        let organizations: HashMap<String, Organization> = of_type("Organization")
            .map(|(id, r)| (id, read_organization(r)))
            .collect();
        let locations: HashMap<String, Location> = of_type("Location")
            .map(|(id, r)| (id, read_location(r)))
            .collect();
        let services = of_type("HealthcareService")
            .map(|(_, r)| read_service(r, &organizations, &locations))
            .collect();
        Directory { services }
    }
}

fn text(v: &Value) -> Option<String> {
    v.as_str().map(str::to_string)
}

fn hsds_id(r: &Value) -> String {
    r["identifier"]
        .as_array()
        .into_iter()
        .flatten()
        .find(|i| i["system"] == HSDS_ID)
        .and_then(|i| text(&i["value"]))
        .or_else(|| text(&r["id"]))
        .unwrap_or_default()
}

fn telecom(r: &Value, system: &str) -> Option<String> {
    r["telecom"]
        .as_array()
        .into_iter()
        .flatten()
        .find(|t| t["system"] == system)
        .and_then(|t| text(&t["value"]))
}

fn read_organization(r: &Value) -> Organization {
    Organization {
        id: hsds_id(r),
        name: text(&r["name"]).unwrap_or_default(),
        phone: telecom(r, "phone"),
        website: telecom(r, "url"),
    }
}

fn read_location(r: &Value) -> Location {
    let a = &r["address"];
    let address = a.is_object().then(|| Address {
        lines: a["line"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(text)
            .collect(),
        city: text(&a["city"]),
        state: text(&a["state"]),
        postal_code: text(&a["postalCode"]),
    });
    let p = &r["position"];
    let position = match (p["latitude"].as_f64(), p["longitude"].as_f64()) {
        (Some(latitude), Some(longitude)) => Some(Position {
            latitude,
            longitude,
        }),
        _ => None,
    };
    Location {
        id: hsds_id(r),
        name: text(&r["name"]),
        address,
        position,
    }
}

fn list(v: &Value) -> impl Iterator<Item = &Value> {
    v.as_array().into_iter().flatten()
}

fn reference_id<'a>(v: &'a Value, kind: &str) -> Option<&'a str> {
    v["reference"]
        .as_str()?
        .strip_prefix(kind)?
        .strip_prefix('/')
}

fn read_service(
    r: &Value,
    organizations: &HashMap<String, Organization>,
    locations: &HashMap<String, Location>,
) -> Service {
    let taxonomies = Taxonomies::shipped();
    let by = &r["providedBy"];
    let organization = match reference_id(by, "Organization") {
        Some(id) => organizations
            .get(id)
            .cloned()
            .unwrap_or_else(|| Organization {
                id: id.to_string(),
                name: text(&by["display"]).unwrap_or_else(|| id.to_string()),
                phone: None,
                website: None,
            }),
        None => Organization {
            id: String::new(),
            name: text(&by["display"]).unwrap_or_default(),
            phone: None,
            website: None,
        },
    };
    let needs = list(&r["category"])
        .flat_map(|c| list(&c["coding"]))
        .filter(|c| c["system"] == SDOHCC)
        .filter_map(|c| text(&c["code"]))
        .collect();
    let terms = list(&r["type"])
        .map(|t| {
            let coding = list(&t["coding"]).find_map(|c| {
                let tx = taxonomies.by_system(c["system"].as_str()?)?;
                Some((tx.key.clone(), text(&c["code"])?, text(&c["display"])))
            });
            match coding {
                Some((key, code, display)) => Term {
                    taxonomy: Some(key),
                    code: Some(code),
                    name: text(&t["text"]).or(display).unwrap_or_default(),
                },
                None => Term {
                    taxonomy: None,
                    code: None,
                    name: text(&t["text"]).unwrap_or_default(),
                },
            }
        })
        .collect();
    let languages = list(&r["communication"])
        .flat_map(|c| list(&c["coding"]))
        .filter(|c| c["system"] == BCP47)
        .filter_map(|c| text(&c["code"]))
        .collect();
    let mut open = Vec::new();
    for t in list(&r["availableTime"]) {
        let parse = |k: &str| {
            t[k].as_str()
                .and_then(|v| NaiveTime::parse_from_str(v, "%H:%M:%S").ok())
        };
        let (opens, closes) = if t["allDay"] == true {
            (NaiveTime::MIN, NaiveTime::MIN)
        } else {
            match (parse("availableStartTime"), parse("availableEndTime")) {
                (Some(o), Some(c)) => (o, c),
                _ => continue,
            }
        };
        for d in list(&t["daysOfWeek"]) {
            if let Some((day, _)) = DAYS.iter().find(|(_, c)| d == c) {
                open.push(OpenHours {
                    day: *day,
                    opens,
                    closes,
                });
            }
        }
    }
    open.sort_by_key(|h| (h.day.num_days_from_monday(), h.opens, h.closes));
    let ext = list(&r["extension"]).find(|e| e["url"] == CAPACITY_EXTENSION);
    let sub = |name: &str| ext.and_then(|e| list(&e["extension"]).find(|x| x["url"] == name));
    let status = sub("capacityStatus")
        .and_then(|x| list(&x["valueCodeableConcept"]["coding"]).find_map(|c| c["code"].as_str()))
        .and_then(|code| CAPACITY_CODES.iter().find(|(_, c, _)| *c == code))
        .map(|(s, _, _)| *s)
        .unwrap_or(CapacityStatus::Open);
    let note = sub("capacityNotes").and_then(|x| text(&x["valueString"]));
    let contacts = list(&r["telecom"])
        .filter_map(|t| {
            Some(Contact {
                system: ContactSystem::from_code(t["system"].as_str()?)?,
                value: text(&t["value"])?,
            })
        })
        .collect();
    let referral = list(&r["referralMethod"])
        .filter_map(|m| {
            let code = list(&m["coding"])
                .find(|c| c["system"] == REFERRAL_METHOD)
                .and_then(|c| c["code"].as_str());
            match (code, m["text"].as_str()) {
                (Some("phone"), _) => Some(ReferralMethod::Phone),
                (Some("fax"), _) => Some(ReferralMethod::Fax),
                (Some("semail" | "elec"), _) | (None, Some("Email")) => Some(ReferralMethod::Email),
                _ => None,
            }
        })
        .collect();
    Service {
        id: hsds_id(r),
        name: text(&r["name"]).unwrap_or_default(),
        description: text(&r["comment"]),
        organization,
        needs,
        terms,
        languages,
        eligibility: list(&r["eligibility"]).find_map(|e| text(&e["comment"])),
        hours: Hours {
            open,
            notes: text(&r["availabilityExceptions"]),
        },
        locations: list(&r["location"])
            .filter_map(|l| reference_id(l, "Location"))
            .map(|id| {
                locations.get(id).cloned().unwrap_or_else(|| Location {
                    id: id.to_string(),
                    name: None,
                    address: None,
                    position: None,
                })
            })
            .collect(),
        capacity: Capacity { status, note },
        contacts,
        referral,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_fit_fhir_and_never_meet() {
        assert_eq!(fhir_id("s1"), "cbo-s1");
        assert_eq!(
            fhir_id("3f7b145d-84af-42d7-8fae-eaca714b02b2"),
            "cbo-3f7b145d-84af-42d7-8fae-eaca714b02b2"
        );
        for odd in ["svc/7", "a b", "ñ", "", &"x".repeat(61)] {
            let id = fhir_id(odd);
            assert!(
                id.starts_with("cbo-x-") && fhir::id::is_id(&id),
                "{odd:?}: {id}"
            );
        }
        // An HSDS id shaped like a digested one is digested too.
        let digested = fhir_id("a b");
        let lookalike = digested.strip_prefix("cbo-").unwrap();
        assert_ne!(fhir_id(lookalike), digested);
        assert_eq!(fhir_id(&"y".repeat(60)).len(), 64);
    }
}
