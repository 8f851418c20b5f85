//! The community-services directory: organisations, the services they offer, where and when.
//!
//! The model follows Open Referral's Human Services Data Specification (HSDS 3.0,
//! <https://docs.openreferral.org/en/latest/hsds/schema_reference.html>): an organization
//! offers services; a service is delivered at locations (service_at_location), speaks
//! languages, keeps schedules, and is described by taxonomy terms through attributes. Tend
//! keeps what a social worker needs to choose where to refer: the needs a service serves (its
//! terms mapped to SDOHCC categories, [`taxonomy`]), languages as BCP 47 tags
//! ([`language`]), weekly opening hours, places with their coordinates, whether it is taking
//! referrals, and how to reach it.
//!
//! - [`hsds`]: reading HSDS 3.0 JSON ([`Directory::from_hsds`]);
//! - [`search`]: searching it ([`Directory::search`]);
//! - [`fhir`]: as FHIR Organization, HealthcareService and Location
//!   ([`Directory::resources`], [`Directory::from_resources`]).

pub mod fhir;
pub mod hsds;
pub mod language;
pub mod search;
pub mod taxonomy;

use chrono::{NaiveTime, Weekday};

pub use search::{distance_miles, Match, Query};

/// The most services [`Directory::from_hsds`] reads.
pub const MAX_SERVICES: usize = 100_000;

/// A community-services directory: services in the order the directory lists them.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Directory {
    pub services: Vec<Service>,
}

impl Directory {
    /// The service with HSDS id `id`.
    pub fn service(&self, id: &str) -> Option<&Service> {
        self.services.iter().find(|s| s.id == id)
    }
}

/// A service a community organisation offers.
#[derive(Debug, Clone, PartialEq)]
pub struct Service {
    /// Its HSDS id.
    pub id: String,
    pub name: String,
    pub description: Option<String>,
    pub organization: Organization,
    /// The needs it serves: SDOHCC category codes, in the screening's order.
    pub needs: Vec<String>,
    /// The taxonomy terms that describe it, as the directory gave them.
    pub terms: Vec<Term>,
    /// Languages its staff speak, as BCP 47 tags ("en", "es", "ht").
    pub languages: Vec<String>,
    /// Who it is for, in the directory's words.
    pub eligibility: Option<String>,
    pub hours: Hours,
    /// Where it is delivered; none for a service by phone or online.
    pub locations: Vec<Location>,
    pub capacity: Capacity,
    /// How to reach the service itself.
    pub contacts: Vec<Contact>,
    /// How it takes referrals.
    pub referral: Vec<ReferralMethod>,
}

/// The organisation that offers a service.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Organization {
    /// Its HSDS id.
    pub id: String,
    pub name: String,
    pub phone: Option<String>,
    pub website: Option<String>,
}

/// A taxonomy term describing a service.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Term {
    /// The taxonomy it is from, when it is one Tend reads by code (`open-eligibility`,
    /// `211`: the keys of `data/taxonomy.json`).
    pub taxonomy: Option<String>,
    /// Its code in that taxonomy (kept only with a taxonomy Tend reads).
    pub code: Option<String>,
    pub name: String,
}

/// Where a service is delivered.
#[derive(Debug, Clone, PartialEq)]
pub struct Location {
    /// Its HSDS id.
    pub id: String,
    pub name: Option<String>,
    pub address: Option<Address>,
    pub position: Option<Position>,
}

/// A postal address.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Address {
    pub lines: Vec<String>,
    pub city: Option<String>,
    pub state: Option<String>,
    pub postal_code: Option<String>,
}

/// A place on the earth (WGS 84 decimal degrees).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Position {
    pub latitude: f64,
    pub longitude: f64,
}

/// When a service is open.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Hours {
    /// Weekly opening hours, by day then opening time.
    pub open: Vec<OpenHours>,
    /// What the weekly hours do not say ("Second Tuesday of the month", "Closed on
    /// holidays").
    pub notes: Option<String>,
}

/// Open on `day` from `opens` to `closes`, in the service's local time. A closing time at or
/// before the opening time closes the next morning (an overnight shelter).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct OpenHours {
    pub day: Weekday,
    pub opens: NaiveTime,
    pub closes: NaiveTime,
}

impl Hours {
    /// Whether the service is open on `day` at `time`.
    pub fn is_open(&self, day: Weekday, time: NaiveTime) -> bool {
        self.open.iter().any(|h| {
            if h.opens < h.closes {
                h.day == day && h.opens <= time && time < h.closes
            } else {
                (h.day == day && time >= h.opens) || (h.day.succ() == day && time < h.closes)
            }
        })
    }
}

/// Whether a service is taking referrals.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Capacity {
    pub status: CapacityStatus,
    /// In the directory's words ("About 3 weeks", "4 of 20 beds available").
    pub note: Option<String>,
}

/// Taking referrals, a waiting list, or none: in the order a search ranks them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum CapacityStatus {
    Open,
    Waitlist,
    Full,
}

/// A way to reach a service: a FHIR ContactPoint.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Contact {
    pub system: ContactSystem,
    pub value: String,
}

/// The kinds of [`Contact`], as FHIR ContactPoint.system codes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ContactSystem {
    Phone,
    Fax,
    Email,
    Url,
}

impl ContactSystem {
    pub fn code(self) -> &'static str {
        match self {
            ContactSystem::Phone => "phone",
            ContactSystem::Fax => "fax",
            ContactSystem::Email => "email",
            ContactSystem::Url => "url",
        }
    }

    pub fn from_code(code: &str) -> Option<ContactSystem> {
        [
            ContactSystem::Phone,
            ContactSystem::Fax,
            ContactSystem::Email,
            ContactSystem::Url,
        ]
        .into_iter()
        .find(|s| s.code() == code)
    }
}

/// How a service takes referrals.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ReferralMethod {
    Phone,
    Fax,
    Email,
}

impl ReferralMethod {
    /// In words, for the pages.
    pub fn words(self) -> &'static str {
        match self {
            ReferralMethod::Phone => "Phone",
            ReferralMethod::Fax => "Fax",
            ReferralMethod::Email => "Email",
        }
    }
}
