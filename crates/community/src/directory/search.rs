//! Searching the directory for the service to refer a patient to.
//!
//! A search ranks, in this order: services that serve the need asked for, then those whose
//! staff speak the patient's language, then those taking referrals (open, then a waiting
//! list, then full), then the nearest, then by name. The need and the language rank rather
//! than filter, so that a social worker still sees the service that helps with food but
//! needs an interpreter, with the caution saying so. What filters: `within_miles` (of `near`),
//! `text` (every word somewhere in the service's name, description, organisation, eligibility
//! or terms) and `open_at` (a service with no weekly hours is left out then).
//!
//! A service with several locations is as near as its nearest; a service with no location
//! (by phone or online) is kept by `within_miles` and ranks after those with a distance.
//! Distances are great-circle distances by the haversine formula on a sphere of the earth's
//! mean radius, 3958.8 miles (6371.0 km, IUGG mean radius R1).

use chrono::{NaiveTime, Weekday};

use super::language;
use super::{CapacityStatus, Directory, Position, Service};
use crate::need;

/// The earth's mean radius in miles.
pub const EARTH_RADIUS_MILES: f64 = 3958.8;

/// The great-circle distance in miles between two (latitude, longitude) points in degrees.
pub fn distance_miles(a: (f64, f64), b: (f64, f64)) -> f64 {
    let (lat1, lon1) = (a.0.to_radians(), a.1.to_radians());
    let (lat2, lon2) = (b.0.to_radians(), b.1.to_radians());
    let h = ((lat2 - lat1) / 2.0).sin().powi(2)
        + lat1.cos() * lat2.cos() * ((lon2 - lon1) / 2.0).sin().powi(2);
    2.0 * EARTH_RADIUS_MILES * h.sqrt().min(1.0).asin()
}

/// What a social worker searches for. Every part is optional.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Query {
    /// A need (SDOHCC category code, e.g. `food-insecurity`).
    pub need: Option<String>,
    /// The patient's language (BCP 47).
    pub language: Option<String>,
    /// Where the patient is (latitude, longitude).
    pub near: Option<(f64, f64)>,
    /// How far from `near` (ignored without `near`).
    pub within_miles: Option<f64>,
    /// Words the service must mention.
    pub text: Option<String>,
    /// Open then (the service's local time).
    pub open_at: Option<(Weekday, NaiveTime)>,
}

/// A service found, with why it fits and what to watch for, in plain words.
#[derive(Debug, Clone, PartialEq)]
pub struct Match<'a> {
    pub service: &'a Service,
    /// Miles to its nearest location; `None` without `near` or without a located place.
    pub distance_miles: Option<f64>,
    pub reasons: Vec<String>,
    pub cautions: Vec<String>,
}

fn day_words(d: Weekday) -> &'static str {
    match d {
        Weekday::Mon => "Monday",
        Weekday::Tue => "Tuesday",
        Weekday::Wed => "Wednesday",
        Weekday::Thu => "Thursday",
        Weekday::Fri => "Friday",
        Weekday::Sat => "Saturday",
        Weekday::Sun => "Sunday",
    }
}

fn mentions(s: &Service, words: &[String]) -> bool {
    let mut hay = vec![s.name.to_lowercase(), s.organization.name.to_lowercase()];
    hay.extend(s.description.iter().map(|d| d.to_lowercase()));
    hay.extend(s.eligibility.iter().map(|d| d.to_lowercase()));
    hay.extend(s.terms.iter().map(|t| t.name.to_lowercase()));
    hay.extend(s.needs.iter().map(|n| need::words(n)));
    words
        .iter()
        .all(|w| hay.iter().any(|h| h.contains(w.as_str())))
}

impl Directory {
    /// The services that fit `q`, best first.
    pub fn search(&self, q: &Query) -> Vec<Match<'_>> {
        let words: Vec<String> = q
            .text
            .as_deref()
            .unwrap_or_default()
            .split_whitespace()
            .map(str::to_lowercase)
            .collect();
        let want_language = q.language.as_deref().map(language::primary);
        let mut found: Vec<(bool, bool, Match<'_>)> = Vec::new();
        for s in &self.services {
            if !mentions(s, &words) {
                continue;
            }
            let mut reasons = Vec::new();
            let mut cautions = Vec::new();
            if let Some((day, time)) = q.open_at {
                if !s.hours.is_open(day, time) {
                    continue;
                }
                reasons.push(format!(
                    "Open {} at {}",
                    day_words(day),
                    time.format("%H:%M")
                ));
            }
            let distance = q.near.and_then(|near| {
                s.locations
                    .iter()
                    .filter_map(|l| l.position)
                    .map(
                        |Position {
                             latitude,
                             longitude,
                         }| { distance_miles(near, (latitude, longitude)) },
                    )
                    .min_by(f64::total_cmp)
            });
            if let (Some(_), Some(limit), Some(d)) = (q.near, q.within_miles, distance) {
                if d > limit {
                    continue;
                }
            }
            let serves = match &q.need {
                Some(n) if s.needs.contains(n) => {
                    reasons.push(format!("For {}", need::words(n)));
                    true
                }
                Some(n) => {
                    cautions.push(format!("Not listed for {}", need::words(n)));
                    false
                }
                None => true,
            };
            let speaks = match (&q.language, &want_language) {
                (Some(tag), Some(primary)) => {
                    let name = language::name(tag);
                    if s.languages.iter().any(|l| language::primary(l) == *primary) {
                        reasons.push(format!("{name} spoken"));
                        true
                    } else {
                        cautions.push(format!("No {name}: interpreter needed"));
                        false
                    }
                }
                _ => true,
            };
            let note = |words: &str| match &s.capacity.note {
                Some(n) => format!("{words}: {n}"),
                None => words.to_string(),
            };
            match s.capacity.status {
                CapacityStatus::Open => reasons.push(note("Taking referrals")),
                CapacityStatus::Waitlist => cautions.push(note("Waiting list")),
                CapacityStatus::Full => cautions.push(note("Not taking referrals")),
            }
            if q.near.is_some() {
                match distance {
                    Some(d) => reasons.push(format!("{d:.1} miles")),
                    None if s.locations.is_empty() => {
                        reasons.push("By phone or online".to_string())
                    }
                    None => cautions.push("Distance unknown".to_string()),
                }
            }
            found.push((
                serves,
                speaks,
                Match {
                    service: s,
                    distance_miles: distance,
                    reasons,
                    cautions,
                },
            ));
        }
        found.sort_by(|(s1, l1, a), (s2, l2, b)| {
            s2.cmp(s1)
                .then(l2.cmp(l1))
                .then(a.service.capacity.status.cmp(&b.service.capacity.status))
                .then(match (a.distance_miles, b.distance_miles) {
                    (Some(x), Some(y)) => x.total_cmp(&y),
                    (Some(_), None) => std::cmp::Ordering::Less,
                    (None, Some(_)) => std::cmp::Ordering::Greater,
                    (None, None) => std::cmp::Ordering::Equal,
                })
                .then_with(|| {
                    a.service
                        .name
                        .to_lowercase()
                        .cmp(&b.service.name.to_lowercase())
                })
                .then_with(|| a.service.id.cmp(&b.service.id))
        });
        found.into_iter().map(|(_, _, m)| m).collect()
    }
}
