//! Reading Open Referral HSDS 3.0 JSON (<https://docs.openreferral.org/en/latest/hsds/>).
//!
//! Two forms are read:
//! - a list of `service` objects as the HSDS API returns them (`/services/{id}`), each with
//!   its `organization`, `service_at_locations[].location` (`latitude`, `longitude`,
//!   `addresses[]`), `languages[]`, `schedules[]`, `phones[]`, `attributes[].taxonomy_term`
//!   and `capacities[]` nested;
//! - an object with `services`, `organizations`, `locations` and `service_at_locations` lists
//!   linked by ids (`organization_id`, `service_id`, `location_id`), as the tabular form is
//!   published, optionally with `taxonomy_terms` and `attributes` (`link_id`,
//!   `taxonomy_term_id`).
//!
//! What Tend takes from each object, and its choices where HSDS leaves room:
//! - `service.status`: `inactive` and `defunct` services are left out; `temporarily closed`
//!   ones are kept as not taking referrals.
//! - Needs: the service's taxonomy terms through `data/taxonomy.json` ([`super::taxonomy`]).
//! - Capacity: HSDS 3.0 `service_capacity` (`available` places) says open or full; an
//!   attribute whose term is a capacity name (`Waiting List`, `Not Accepting New Clients`)
//!   says more and wins; nothing said is taken as taking referrals.
//! - Languages: `code` (ISO 639-1 or 639-3) or else `name`, as BCP 47 tags
//!   ([`super::language`]).
//! - Hours: weekly schedules (`freq` WEEKLY or absent, `byday` plain days, `opens_at`,
//!   `closes_at`) become opening hours in the service's local time; a time zone suffix
//!   (`09:00-05:00`) is dropped, a directory being local; `24:00` closes at midnight. Other
//!   schedules (monthly, every other week) and `description`/`notes` become the hours' notes.
//! - Locations: `virtual` ones are left out (a service with none is by phone or online); the
//!   physical address is preferred to a postal one.
//! - Referral: by phone when the service has a phone, by fax when it has a fax, by email when
//!   it has an email; by the organisation's phone when the service has none of these.
//!
//! Bounds: at most [`MAX_SERVICES`] services; no text longer than [`MAX_TEXT`](crate::MAX_TEXT) characters.
//! Errors name the record and what is wrong with it (`service "s7": latitude 123.4 is out of
//! range`, `service "s2": languages[1].code is missing`).

mod json;
mod schedule;

use std::collections::{HashMap, HashSet};

use serde_json::Value;

use json::{too_long, Obj};
use schedule::schedule;

use super::language;
use super::taxonomy::Taxonomies;
use super::{
    Address, Capacity, CapacityStatus, Contact, ContactSystem, Directory, Hours, Location,
    OpenHours, Organization, Position, ReferralMethod, Service, Term, MAX_SERVICES,
};
use crate::{need, Error, Problem, Record};

impl Directory {
    /// Read an HSDS 3.0 directory (either form, see the module documentation).
    pub fn from_hsds(json: &str) -> Result<Directory, Error> {
        let doc: Value = serde_json::from_str(json).map_err(|e| Error::Json {
            line: e.line(),
            column: e.column(),
        })?;
        let tables = Tables::of(&doc)?;
        if tables.services.len() > MAX_SERVICES {
            return Err(Error::TooManyServices(tables.services.len()));
        }
        tables.check_records()?;
        let organizations = index("organization", tables.organizations, organization)?;
        let locations = index("location", tables.locations, location)?;
        let terms = index("taxonomy_term", tables.taxonomy_terms, raw_term)?;
        let places = service_at_locations(tables.service_at_locations, &locations)?;
        let attributes = attributes(tables.attributes, &terms)?;
        let ctx = Context {
            organizations: &organizations,
            locations: &locations,
            terms: &terms,
            places: &places,
            attributes: &attributes,
        };
        let mut seen = HashSet::new();
        let mut services = Vec::new();
        for (i, v) in tables.services.iter().enumerate() {
            let record = record("service", v, i);
            let o = Obj::root(v);
            let (id, service) = ctx.service(&o).map_err(|p| at(&record, p))?;
            if !seen.insert(id) {
                return Err(at(&record, Problem::Duplicate));
            }
            services.extend(service);
        }
        Ok(Directory { services })
    }
}

/// The lists of a directory.
struct Tables<'a> {
    services: &'a [Value],
    organizations: &'a [Value],
    locations: &'a [Value],
    service_at_locations: &'a [Value],
    taxonomy_terms: &'a [Value],
    attributes: &'a [Value],
}

impl<'a> Tables<'a> {
    fn of(doc: &'a Value) -> Result<Tables<'a>, Error> {
        match doc {
            Value::Array(services) => Ok(Tables {
                services,
                organizations: &[],
                locations: &[],
                service_at_locations: &[],
                taxonomy_terms: &[],
                attributes: &[],
            }),
            Value::Object(m) => {
                let list = |name: &'static str| -> Result<&'a [Value], Error> {
                    match m.get(name) {
                        None | Some(Value::Null) => Ok(&[]),
                        Some(Value::Array(a)) => Ok(a),
                        Some(_) => Err(Error::Table(name)),
                    }
                };
                if !m.contains_key("services") {
                    return Err(Error::NotHsds);
                }
                Ok(Tables {
                    services: list("services")?,
                    organizations: list("organizations")?,
                    locations: list("locations")?,
                    service_at_locations: list("service_at_locations")?,
                    taxonomy_terms: list("taxonomy_terms")?,
                    attributes: list("attributes")?,
                })
            }
            _ => Err(Error::NotHsds),
        }
    }

    /// Every record is an object with no text over [`MAX_TEXT`](crate::MAX_TEXT) characters.
    fn check_records(&self) -> Result<(), Error> {
        for (kind, list) in [
            ("service", self.services),
            ("organization", self.organizations),
            ("location", self.locations),
            ("service_at_location", self.service_at_locations),
            ("taxonomy_term", self.taxonomy_terms),
            ("attribute", self.attributes),
        ] {
            for (i, v) in list.iter().enumerate() {
                if !v.is_object() {
                    return Err(at(
                        &record(kind, v, i),
                        Problem::Type {
                            field: "the record".into(),
                            expected: "an object",
                        },
                    ));
                }
                let mut path = String::new();
                if too_long(v, &mut path) {
                    return Err(at(&record(kind, v, i), Problem::TooLong(path)));
                }
            }
        }
        Ok(())
    }
}

fn record(kind: &'static str, v: &Value, index: usize) -> Record {
    Record {
        kind,
        id: v.get("id").and_then(Value::as_str).map(str::to_string),
        index,
    }
}

fn at(record: &Record, problem: Problem) -> Error {
    Error::Record {
        record: record.clone(),
        problem,
    }
}

/// Whether `v` holds a string longer than [`MAX_TEXT`](crate::MAX_TEXT) characters; `path` is then where.
fn index<'a, T>(
    kind: &'static str,
    list: &'a [Value],
    read: impl Fn(&Obj<'a>) -> Result<T, Problem>,
) -> Result<HashMap<&'a str, T>, Error> {
    let mut out = HashMap::new();
    for (i, v) in list.iter().enumerate() {
        let record = record(kind, v, i);
        let o = Obj::root(v);
        let id = o.str_req("id").map_err(|p| at(&record, p))?;
        let item = read(&o).map_err(|p| at(&record, p))?;
        if out.insert(id, item).is_some() {
            return Err(at(&record, Problem::Duplicate));
        }
    }
    Ok(out)
}

/// A JSON object being read, with its path inside its record for the errors.
fn organization(o: &Obj<'_>) -> Result<Organization, Problem> {
    let phone = match o.list("phones")?.first() {
        Some(p) => Some(p.str_req("number")?.to_string()),
        None => None,
    };
    Ok(Organization {
        id: o.str_req("id")?.to_string(),
        name: o.str_req("name")?.to_string(),
        phone,
        website: o.str_opt("website")?.map(str::to_string),
    })
}

/// A location; `None` for a virtual one.
fn location(o: &Obj<'_>) -> Result<Option<Location>, Problem> {
    let id = o.str_req("id")?.to_string();
    if o.str_opt("location_type")? == Some("virtual") {
        return Ok(None);
    }
    let position = match (o.num_opt("latitude")?, o.num_opt("longitude")?) {
        (None, None) => None,
        (Some(latitude), Some(longitude)) => {
            if !(-90.0..=90.0).contains(&latitude) {
                return Err(Problem::Latitude(latitude));
            }
            if !(-180.0..=180.0).contains(&longitude) {
                return Err(Problem::Longitude(longitude));
            }
            Some(Position {
                latitude,
                longitude,
            })
        }
        _ => {
            let place = if o.path.is_empty() {
                "the location".to_string()
            } else {
                o.path.clone()
            };
            return Err(Problem::HalfPosition(place));
        }
    };
    let addresses = o.list("addresses")?;
    let mut chosen = None;
    for a in &addresses {
        if a.str_opt("address_type")? == Some("physical") {
            chosen = Some(a);
            break;
        }
        chosen = chosen.or(Some(a));
    }
    let address = match chosen {
        Some(a) => {
            let lines: Vec<String> = [a.str_opt("address_1")?, a.str_opt("address_2")?]
                .into_iter()
                .flatten()
                .map(str::to_string)
                .collect();
            let address = Address {
                lines,
                city: a.str_opt("city")?.map(str::to_string),
                state: a.str_opt("state_province")?.map(str::to_string),
                postal_code: a.str_opt("postal_code")?.map(str::to_string),
            };
            let empty = address.lines.is_empty()
                && address.city.is_none()
                && address.state.is_none()
                && address.postal_code.is_none();
            (!empty).then_some(address)
        }
        None => None,
    };
    Ok(Some(Location {
        id,
        name: o.str_opt("name")?.map(str::to_string),
        address,
        position,
    }))
}

/// A taxonomy term as the directory gives it.
#[derive(Debug, Clone)]
struct RawTerm {
    taxonomy: Option<String>,
    code: Option<String>,
    name: String,
}

fn raw_term(o: &Obj<'_>) -> Result<RawTerm, Problem> {
    let taxonomy = match o.str_opt("taxonomy")? {
        Some(t) => Some(t.to_string()),
        None => match o.obj_opt("taxonomy_detail")? {
            Some(d) => d.str_opt("name")?.map(str::to_string),
            None => None,
        },
    };
    Ok(RawTerm {
        taxonomy,
        code: o.str_opt("code")?.map(str::to_string),
        name: o.str_req("name")?.to_string(),
    })
}

/// An attribute's term, with the attribute's value.
#[derive(Debug, Clone)]
struct Attribute {
    term: RawTerm,
    value: Option<String>,
}

fn attribute(o: &Obj<'_>, terms: &HashMap<&str, RawTerm>) -> Result<Attribute, Problem> {
    let term = if let Some(t) = o.obj_opt("taxonomy_term")? {
        raw_term(&t)?
    } else if let Some(id) = o.str_opt("taxonomy_term_id")? {
        terms.get(id).cloned().ok_or_else(|| Problem::Unknown {
            kind: "taxonomy term",
            id: id.to_string(),
        })?
    } else {
        return Err(Problem::Missing(o.field("taxonomy_term")));
    };
    Ok(Attribute {
        term,
        value: o.str_opt("value")?.map(str::to_string),
    })
}

/// Top-level attributes by the service they describe.
fn attributes<'a>(
    list: &'a [Value],
    terms: &HashMap<&str, RawTerm>,
) -> Result<HashMap<&'a str, Vec<Attribute>>, Error> {
    let mut out: HashMap<&str, Vec<Attribute>> = HashMap::new();
    for (i, v) in list.iter().enumerate() {
        let record = record("attribute", v, i);
        let o = Obj::root(v);
        let entity = o.str_opt("link_entity").map_err(|p| at(&record, p))?;
        if entity.is_some_and(|e| e != "service") {
            continue;
        }
        let link = o.str_req("link_id").map_err(|p| at(&record, p))?;
        let a = attribute(&o, terms).map_err(|p| at(&record, p))?;
        out.entry(link).or_default().push(a);
    }
    Ok(out)
}

/// Where and when a service is delivered, from one service_at_location.
#[derive(Debug, Clone, Default)]
struct Place {
    location: Option<Location>,
    open: Vec<OpenHours>,
    notes: Vec<String>,
}

fn place(o: &Obj<'_>, locations: &HashMap<&str, Option<Location>>) -> Result<Place, Problem> {
    let location = if let Some(l) = o.obj_opt("location")? {
        location(&l)?
    } else if let Some(id) = o.str_opt("location_id")? {
        locations
            .get(id)
            .ok_or_else(|| Problem::Unknown {
                kind: "location",
                id: id.to_string(),
            })?
            .clone()
    } else {
        return Err(Problem::Missing(o.field("location")));
    };
    let mut p = Place {
        location,
        ..Place::default()
    };
    for s in o.list("schedules")? {
        schedule(&s, &mut p.open, &mut p.notes)?;
    }
    Ok(p)
}

/// Top-level service_at_locations by service id.
fn service_at_locations<'a>(
    list: &'a [Value],
    locations: &HashMap<&str, Option<Location>>,
) -> Result<HashMap<&'a str, Vec<Place>>, Error> {
    let mut out: HashMap<&str, Vec<Place>> = HashMap::new();
    for (i, v) in list.iter().enumerate() {
        let record = record("service_at_location", v, i);
        let o = Obj::root(v);
        let service = o.str_req("service_id").map_err(|p| at(&record, p))?;
        let p = place(&o, locations).map_err(|p| at(&record, p))?;
        out.entry(service).or_default().push(p);
    }
    Ok(out)
}

/// How to reach a service, and how it takes referrals.
fn contacts(
    o: &Obj<'_>,
    organization: &Organization,
) -> Result<(Vec<Contact>, Vec<ReferralMethod>), Problem> {
    let mut contacts = Vec::new();
    for p in o.list("phones")? {
        let number = p.str_req("number")?.to_string();
        let system = if p.str_opt("type")? == Some("fax") {
            ContactSystem::Fax
        } else {
            ContactSystem::Phone
        };
        contacts.push(Contact {
            system,
            value: number,
        });
    }
    if let Some(email) = o.str_opt("email")? {
        contacts.push(Contact {
            system: ContactSystem::Email,
            value: email.to_string(),
        });
    }
    if let Some(url) = o.str_opt("url")? {
        contacts.push(Contact {
            system: ContactSystem::Url,
            value: url.to_string(),
        });
    }
    let has = |s: ContactSystem| contacts.iter().any(|c| c.system == s);
    let mut referral: Vec<ReferralMethod> = [
        (ContactSystem::Phone, ReferralMethod::Phone),
        (ContactSystem::Fax, ReferralMethod::Fax),
        (ContactSystem::Email, ReferralMethod::Email),
    ]
    .into_iter()
    .filter(|(s, _)| has(*s))
    .map(|(_, m)| m)
    .collect();
    if referral.is_empty() && organization.phone.is_some() {
        referral.push(ReferralMethod::Phone);
    }
    Ok((contacts, referral))
}

/// Whether a service takes referrals: closed, else what an attribute says, else its counted
/// places (`capacities`), else open.
fn capacity(
    o: &Obj<'_>,
    closed: bool,
    said: Option<(CapacityStatus, Option<String>)>,
) -> Result<Capacity, Problem> {
    let mut counted: Option<(bool, String)> = None;
    for c in o.list("capacities")? {
        let available = c
            .num_opt("available")?
            .ok_or_else(|| Problem::Missing(c.field("available")))?;
        if !(available >= 0.0 && available.fract() == 0.0) {
            return Err(Problem::Places {
                field: c.field("available"),
                value: available,
            });
        }
        let unit = match c.obj_opt("unit")? {
            Some(u) => u.str_opt("name")?.map(str::to_string),
            None => None,
        };
        let note = match (c.str_opt("description")?, c.num_opt("maximum")?) {
            (Some(d), _) => d.to_string(),
            (None, max) => {
                let unit = unit.as_deref().unwrap_or("places");
                match max {
                    Some(m) => format!("{available} of {m} {unit} available"),
                    None => format!("{available} {unit} available"),
                }
            }
        };
        match &mut counted {
            Some((any_open, _)) => *any_open |= available > 0.0,
            None => counted = Some((available > 0.0, note)),
        }
    }
    Ok(if closed {
        Capacity {
            status: CapacityStatus::Full,
            note: Some("Temporarily closed".into()),
        }
    } else if let Some((status, note)) = said {
        Capacity { status, note }
    } else if let Some((any_open, note)) = counted {
        Capacity {
            status: if any_open {
                CapacityStatus::Open
            } else {
                CapacityStatus::Full
            },
            note: Some(note),
        }
    } else {
        Capacity {
            status: CapacityStatus::Open,
            note: None,
        }
    })
}

struct Context<'a, 'b> {
    organizations: &'b HashMap<&'a str, Organization>,
    locations: &'b HashMap<&'a str, Option<Location>>,
    terms: &'b HashMap<&'a str, RawTerm>,
    places: &'b HashMap<&'a str, Vec<Place>>,
    attributes: &'b HashMap<&'a str, Vec<Attribute>>,
}

impl Context<'_, '_> {
    /// A service's id, and the service unless it is inactive or defunct.
    fn service(&self, o: &Obj<'_>) -> Result<(String, Option<Service>), Problem> {
        let id = o.str_req("id")?.to_string();
        let name = o.str_req("name")?.to_string();
        let closed = match o.str_opt("status")? {
            None | Some("active") => false,
            Some("temporarily closed") => true,
            Some("inactive") | Some("defunct") => return Ok((id, None)),
            Some(other) => return Err(Problem::Status(other.to_string())),
        };
        let organization = if let Some(org) = o.obj_opt("organization")? {
            organization(&org)?
        } else if let Some(oid) = o.str_opt("organization_id")? {
            self.organizations
                .get(oid)
                .cloned()
                .ok_or_else(|| Problem::Unknown {
                    kind: "organization",
                    id: oid.to_string(),
                })?
        } else {
            return Err(Problem::Missing("organization".into()));
        };

        let mut languages: Vec<String> = Vec::new();
        for l in o.list("languages")? {
            let tag = match (l.str_opt("code")?, l.str_opt("name")?) {
                (Some(code), _) => language::tag_for_code(code)
                    .ok_or_else(|| Problem::Language(code.to_string()))?,
                (None, Some(name)) => language::tag_for_name(name)
                    .ok_or_else(|| Problem::Language(name.to_string()))?,
                (None, None) => return Err(Problem::Missing(l.field("code"))),
            };
            if !languages.contains(&tag) {
                languages.push(tag);
            }
        }

        let mut open = Vec::new();
        let mut notes = Vec::new();
        for s in o.list("schedules")? {
            schedule(&s, &mut open, &mut notes)?;
        }
        let mut places = Vec::new();
        for sal in o.list("service_at_locations")? {
            places.push(place(&sal, self.locations)?);
        }
        places.extend(self.places.get(id.as_str()).into_iter().flatten().cloned());
        let mut locations: Vec<Location> = Vec::new();
        for p in places {
            open.extend(p.open);
            notes.extend(p.notes);
            if let Some(l) = p.location {
                if !locations.iter().any(|x| x.id == l.id) {
                    locations.push(l);
                }
            }
        }
        open.sort_by_key(|h| (h.day.num_days_from_monday(), h.opens, h.closes));
        open.dedup();
        let mut kept_notes: Vec<String> = Vec::new();
        for n in notes {
            if !kept_notes.contains(&n) {
                kept_notes.push(n);
            }
        }
        let hours = Hours {
            open,
            notes: (!kept_notes.is_empty()).then(|| kept_notes.join("; ")),
        };

        let (contacts, referral) = contacts(o, &organization)?;

        let mut attributes = Vec::new();
        for a in o.list("attributes")? {
            attributes.push(attribute(&a, self.terms)?);
        }
        attributes.extend(
            self.attributes
                .get(id.as_str())
                .into_iter()
                .flatten()
                .cloned(),
        );
        for t in o.list("taxonomy_terms")? {
            attributes.push(Attribute {
                term: raw_term(&t)?,
                value: None,
            });
        }
        let taxonomies = Taxonomies::shipped();
        let mut said_capacity = None;
        let mut terms = Vec::new();
        let mut needs: Vec<String> = Vec::new();
        for a in attributes {
            if let Some(status) = taxonomies.capacity(&a.term.name) {
                said_capacity.get_or_insert((status, a.value));
                continue;
            }
            let key = a
                .term
                .taxonomy
                .as_deref()
                .and_then(|t| taxonomies.taxonomy_key(t))
                .map(str::to_string);
            let code = if key.is_some() { a.term.code } else { None };
            for n in taxonomies.needs(key.as_deref(), code.as_deref(), &a.term.name) {
                if !needs.contains(n) {
                    needs.push(n.clone());
                }
            }
            let term = Term {
                taxonomy: key,
                code,
                name: a.term.name,
            };
            if !terms.contains(&term) {
                terms.push(term);
            }
        }
        needs.sort_by_key(|n| need::rank(n));

        let capacity = capacity(o, closed, said_capacity)?;

        let service = Service {
            id: id.clone(),
            name,
            description: o.str_opt("description")?.map(str::to_string),
            organization,
            needs,
            terms,
            languages,
            eligibility: o.str_opt("eligibility_description")?.map(str::to_string),
            hours,
            locations,
            capacity,
            contacts,
            referral,
        };
        Ok((id, Some(service)))
    }
}
