//! Typical step durations learned from the site's own pathways: once at least
//! [`MIN_LEARNED`] patients have done a step, the median of the days it took them (from the
//! step done before it) replaces the site policy's default in predictions, and the words say
//! so ("usually 9 days here, from 34 patients"). Pure.

use std::collections::HashMap;

use pathways::Evaluation;

use crate::Site;

/// The fewest completions a learned duration needs.
pub(crate) const MIN_LEARNED: usize = 20;

/// Days each done step of `ev` took after the step done before it, added to `out` (pathway
/// → milestone → days). A step done first (or at the same moment as the first) has no
/// step before it and teaches nothing.
pub(crate) fn observe(
    pathway: &str,
    ev: &Evaluation,
    out: &mut HashMap<String, HashMap<String, Vec<i64>>>,
) {
    let done: Vec<(&str, chrono::DateTime<chrono::FixedOffset>)> = ev
        .milestones
        .iter()
        .filter_map(|m| m.done.first().map(|c| (m.id.as_str(), c.at)))
        .collect();
    for (id, at) in &done {
        let before = done.iter().filter(|(_, t)| t < at).map(|(_, t)| *t).max();
        if let Some(before) = before {
            out.entry(pathway.to_string())
                .or_default()
                .entry(id.to_string())
                .or_default()
                .push((*at - before).num_days().max(0));
        }
    }
}

fn median(mut v: Vec<i64>) -> i64 {
    v.sort_unstable();
    let n = v.len();
    if n % 2 == 1 {
        v[n / 2]
    } else {
        (v[n / 2 - 1] + v[n / 2] + 1) / 2
    }
}

/// `site` with its typical durations replaced where enough were observed (at least one day).
pub(crate) fn with_learned(
    site: &Site,
    observed: HashMap<String, HashMap<String, Vec<i64>>>,
) -> Site {
    let mut s = site.clone();
    s.learned.clear();
    for (pathway, steps) in observed {
        for (milestone, days) in steps {
            let n = days.len();
            if n < MIN_LEARNED {
                continue;
            }
            s.typical_days
                .entry(pathway.clone())
                .or_default()
                .insert(milestone.clone(), median(days).max(1));
            s.learned
                .entry(pathway.clone())
                .or_default()
                .insert(milestone, n);
        }
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::{DateTime, TimeDelta};
    use pathways::{Coding, Event, ResourceType};

    fn event(kind: ResourceType, code: &str, at: DateTime<chrono::FixedOffset>) -> Event {
        let mut e = Event::resource(&format!("{code}-{}", at.timestamp()), kind, at);
        e.codes = vec![Coding::new(
            "https://tend.example.org/fhir/CodeSystem/pathway-event",
            code,
        )];
        e.status = Some(
            match kind {
                ResourceType::CarePlan => "active",
                ResourceType::Encounter => "finished",
                _ => "completed",
            }
            .into(),
        );
        e
    }

    #[test]
    fn enough_completions_replace_the_default_and_too_few_do_not() {
        let set = pathways::PathwaySet::builtin();
        let p = set.pathway("nhs-suspected-cancer").unwrap();
        let start = DateTime::parse_from_rfc3339("2026-09-01T09:00:00+00:00").unwrap();
        let now = start + TimeDelta::days(90);
        let mut observed = HashMap::new();
        for k in 0..MIN_LEARNED {
            // First seen 3 days after the referral for everyone; told 10 or 12 days later.
            let told = if k % 2 == 0 { 10 } else { 12 };
            let mut events = vec![
                event(
                    ResourceType::ServiceRequest,
                    "urgent-suspected-cancer-referral",
                    start,
                ),
                event(
                    ResourceType::Encounter,
                    "first-seen",
                    start + TimeDelta::days(3),
                ),
            ];
            if k < 5 {
                events.push(event(
                    ResourceType::CarePlan,
                    "decision-to-treat",
                    start + TimeDelta::days(3 + told),
                ));
            }
            let ev = pathways::evaluate(p, &events, &[], now);
            observe(&p.id, &ev, &mut observed);
        }
        let site = with_learned(&Site::builtin(), observed);
        assert_eq!(site.typical("nhs-suspected-cancer", "first-seen"), 3);
        assert_eq!(
            site.learned["nhs-suspected-cancer"]["first-seen"],
            MIN_LEARNED
        );
        // Five decisions to treat are too few: the default stands.
        assert_eq!(
            site.typical("nhs-suspected-cancer", "decision-to-treat"),
            Site::builtin().typical("nhs-suspected-cancer", "decision-to-treat")
        );
    }
}
