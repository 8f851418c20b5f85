//! The demo's community side (crate `community`): a directory of invented community
//! organisations around Boston (`data/community-directory.json`, Open Referral HSDS 3.0) as
//! FHIR Organization, HealthcareService and Location; and, for about half of the screened
//! patients with needs, the clinical social worker's decisions: the need confirmed (the
//! screening's SDOHCC Condition, confirmed, and a Goal) and the patient referred with their
//! consent to a service for it (Consent, ServiceRequest and Task in the shapes of the HL7 SDOH
//! Clinical Care IG). Each referral's Task then lives a history, moved by the partner and the
//! hospital under `community`'s rules ([`::community::apply`]), so the demo holds referrals at
//! every status: sent, received, accepted, in progress, on hold, completed with the need met
//! or not, failed, declined and cancelled, each with its reason; a few have had no news for
//! more than 14 days, so their follow-up is due. Two partners have demo accounts
//! ([`PARTNERS`]) and several referrals each, some still waiting for their answer.
//!
//! The other patients with needs are left as the screening service leaves them: unconfirmed
//! concerns on the social worker's worklist. Interpersonal-safety needs are left for the
//! social worker to take up in private.

use std::collections::BTreeMap;

use ::community::directory::fhir::fhir_id;
use ::community::{
    apply, referral, Change, ConsentFacts, ConsentGiver, ConsentMethod, Directory, Ids,
    NewReferral, Outcome, Party, Reason, Requester, Status,
};
use chrono::{DateTime, Datelike, TimeDelta, Timelike, Utc, Weekday};
use serde_json::json;
use social_needs::concerns::{concern_id, confirmed, goal};
use social_needs::{Answer, Context, Instrument, QUESTIONNAIRE_URL};

use crate::facility::{Staff, ORGANIZATION};
use crate::fhir::{instant, with_test_tag};
use crate::hospital::{Config, Out};
use crate::random::{rng, uniform};
use crate::social_screenings::prefix;

/// The demo's community partner accounts: (user name, display name, the FHIR id of the
/// Organization they work for). The first takes referrals for the food pantry, the second
/// for medical rides.
pub const PARTNERS: [(&str, &str, &str); 2] = [
    (
        "pantry",
        "Intake coordinator, Three Bridges Community Pantry",
        "cbo-three-bridges",
    ),
    (
        "rides",
        "Ride scheduler, Bellflower Rides",
        "cbo-bellflower-rides",
    ),
];

/// The demo directory (invented organisations; HSDS 3.0, tabular form).
const DIRECTORY: &str = include_str!("../data/community-directory.json");

/// The demo directory, read.
pub(crate) fn directory() -> Directory {
    Directory::from_hsds(DIRECTORY)
        .expect("data/community-directory.json is a valid HSDS 3.0 directory (tested)")
}

/// How a referral ended for the patient.
#[derive(Clone, Copy)]
enum Ending {
    Met,
    /// Not met: an outcome reason code of `community`'s `data/reasons.json`, and words.
    NotMet(&'static str, Option<&'static str>),
}

/// A move in a referral's history.
#[derive(Clone, Copy)]
struct Step {
    /// Days after the previous move (the first: after the referral was sent).
    after: f64,
    party: Party,
    to: Status,
    /// A status reason code of `data/reasons.json`, and words.
    reason: Option<(&'static str, Option<&'static str>)>,
    ending: Option<Ending>,
    note: Option<&'static str>,
}

const fn partner(after: f64, to: Status) -> Step {
    Step {
        after,
        party: Party::Recipient,
        to,
        reason: None,
        ending: None,
        note: None,
    }
}

const fn hospital(after: f64, to: Status) -> Step {
    Step {
        party: Party::Sender,
        ..partner(after, to)
    }
}

impl Step {
    const fn because(self, code: &'static str, words: Option<&'static str>) -> Step {
        Step {
            reason: Some((code, words)),
            ..self
        }
    }

    const fn ending(self, e: Ending) -> Step {
        Step {
            ending: Some(e),
            ..self
        }
    }

    const fn noted(self, note: &'static str) -> Step {
        Step {
            note: Some(note),
            ..self
        }
    }
}

/// A referral's story: the service (HSDS id) for a need, what the social worker told the
/// partner, the moves after it was sent, and how many days it has been quiet since.
struct Story {
    need: &'static str,
    service: &'static str,
    note: &'static str,
    steps: &'static [Step],
    quiet: f64,
}

impl Story {
    /// Days from sending to now.
    fn span(&self) -> f64 {
        self.steps.iter().map(|s| s.after).sum::<f64>() + self.quiet
    }
}

const FOOD: &str = "food-insecurity";
const HOUSING: &str = "housing-instability";
const HOUSING_QUALITY: &str = "inadequate-housing";
const TRANSPORT: &str = "transportation-insecurity";
const UTILITIES: &str = "utility-insecurity";

/// The referrals, most needed first: the first nine reach the nine statuses, and the two
/// partners' come early, so a smaller demo still shows them.
const STORIES: &[Story] = &[
    Story {
        need: FOOD,
        service: "three-bridges-pantry",
        note: "Family of four; food runs out before payday. Best reached after 3 pm.",
        steps: &[],
        quiet: 1.0,
    },
    Story {
        need: TRANSPORT,
        service: "bellflower-medical-rides",
        note: "No car; has missed two appointments. Needs rides to weekly appointments at Riverbend.",
        steps: &[partner(1.0, Status::Received)],
        quiet: 3.0,
    },
    Story {
        need: FOOD,
        service: "three-bridges-pantry",
        note: "Lives alone on a fixed income; would like a weekly bag.",
        steps: &[
            partner(0.6, Status::Received),
            partner(1.0, Status::Accepted).noted("Registered by phone; first pick-up Friday."),
            partner(2.0, Status::InProgress),
            partner(12.0, Status::Completed)
                .ending(Ending::Met)
                .noted("Picking up every week; also signed up for SNAP help."),
        ],
        quiet: 4.0,
    },
    Story {
        need: TRANSPORT,
        service: "bellflower-medical-rides",
        note: "Uses a walker; needs an accessible van.",
        steps: &[
            partner(1.0, Status::Received),
            partner(1.0, Status::Accepted),
            partner(10.0, Status::Failed)
                .because("could-not-reach", None)
                .ending(Ending::NotMet("could-not-reach", None))
                .noted("Called three times and left messages; no answer."),
        ],
        quiet: 6.0,
    },
    Story {
        need: HOUSING,
        service: "granite-row-beds",
        note: "Staying with a cousin this week; has to leave on Sunday.",
        steps: &[partner(0.3, Status::Rejected)
            .because("no-capacity", None)
            .ending(Ending::NotMet("no-capacity", None))
            .noted("All beds taken; advised to call the intake line after 4 pm for cancellations.")],
        quiet: 12.0,
    },
    Story {
        need: FOOD,
        service: "three-bridges-pantry",
        note: "Works two jobs; the Thursday evening hours suit best.",
        steps: &[
            partner(1.0, Status::Accepted),
            partner(3.0, Status::InProgress).noted("First pick-up done."),
        ],
        quiet: 17.0,
    },
    Story {
        need: HOUSING,
        service: "stillwater-law-tenants",
        note: "Received a notice to quit for back rent; court date not yet set.",
        steps: &[
            partner(1.0, Status::Accepted),
            partner(2.0, Status::InProgress),
            partner(5.0, Status::OnHold).because(
                "other",
                Some("Waiting for the housing court to set a hearing date"),
            ),
        ],
        quiet: 9.0,
    },
    Story {
        need: HOUSING_QUALITY,
        service: "plumb-line-repair",
        note: "Peeling paint in a 1920s apartment; a two-year-old at home.",
        steps: &[
            partner(2.0, Status::Received),
            partner(5.0, Status::Accepted).noted("On the list for a home visit."),
        ],
        quiet: 17.0,
    },
    Story {
        need: UTILITIES,
        service: "pilot-light-shutoff",
        note: "Shut-off notice from the gas company for the end of the month.",
        steps: &[
            partner(1.0, Status::Received),
            hospital(3.0, Status::Cancelled)
                .because(
                    "other",
                    Some("Need met another way: the family set up a payment plan with the gas company"),
                )
                .ending(Ending::Met),
        ],
        quiet: 6.0,
    },
    Story {
        need: TRANSPORT,
        service: "bellflower-medical-rides",
        note: "Needs rides to chemotherapy every other week.",
        steps: &[],
        quiet: 2.0,
    },
    Story {
        need: FOOD,
        service: "three-bridges-pantry",
        note: "Recently lost work; two children at home.",
        steps: &[partner(0.8, Status::Received)],
        quiet: 2.0,
    },
    Story {
        need: FOOD,
        service: "three-bridges-pantry",
        note: "Prefers a halal bag.",
        steps: &[],
        quiet: 20.0,
    },
    Story {
        need: TRANSPORT,
        service: "bellflower-medical-rides",
        note: "Dialysis-free, but three appointments a month in Boston.",
        steps: &[
            partner(1.0, Status::Accepted).noted("Rides booked for the next four appointments."),
            partner(2.0, Status::Completed).ending(Ending::Met),
        ],
        quiet: 10.0,
    },
    Story {
        need: TRANSPORT,
        service: "bellflower-medical-rides",
        note: "Appointments at the outpatient center on Tuesdays.",
        steps: &[partner(1.5, Status::Rejected)
            .because("not-eligible", Some("The home address is outside the area our vans cover"))
            .ending(Ending::NotMet("not-eligible", None))],
        quiet: 7.0,
    },
    Story {
        need: HOUSING,
        service: "sparrow-street-rent",
        note: "Three months behind on rent after a hospital stay.",
        steps: &[
            partner(1.0, Status::Received),
            partner(2.0, Status::Accepted),
            partner(3.0, Status::InProgress),
            partner(14.0, Status::Completed)
                .ending(Ending::NotMet(
                    "other",
                    Some("The arrears were more than the fund's limit; sent on to tenant legal help"),
                )),
        ],
        quiet: 3.0,
    },
    Story {
        need: FOOD,
        service: "doorstep-supper-meals",
        note: "Homebound after surgery; cannot stand to cook.",
        steps: &[
            partner(2.0, Status::Received),
            partner(3.0, Status::Accepted),
            partner(0.5, Status::InProgress).noted("Assessed at home by phone."),
            partner(1.0, Status::OnHold).because(
                "no-capacity",
                Some("No delivery place free yet: on the waiting list, about three weeks"),
            ),
        ],
        quiet: 8.0,
    },
    Story {
        need: FOOD,
        service: "three-bridges-snap",
        note: "Has never applied for SNAP; would like help with the forms.",
        steps: &[
            partner(1.0, Status::Received),
            partner(1.0, Status::Accepted),
            partner(9.0, Status::Completed)
                .ending(Ending::Met)
                .noted("Application approved; benefits start next month."),
        ],
        quiet: 5.0,
    },
    Story {
        need: TRANSPORT,
        service: "corner-lantern-fare",
        note: "Takes the bus to appointments; cannot afford the monthly pass.",
        steps: &[
            partner(2.0, Status::Accepted),
            partner(1.0, Status::InProgress).noted("Application sent; a pass given meanwhile."),
        ],
        quiet: 5.0,
    },
    Story {
        need: UTILITIES,
        service: "corner-lantern-fuel",
        note: "Oil tank nearly empty; heats with the oven.",
        steps: &[
            partner(2.0, Status::Accepted),
            partner(6.0, Status::Completed)
                .ending(Ending::Met)
                .noted("Application approved; first delivery scheduled."),
        ],
        quiet: 4.0,
    },
    Story {
        need: FOOD,
        service: "open-ladle-supper",
        note: "Lives two streets away; evenings are free.",
        steps: &[hospital(4.0, Status::Cancelled)
            .because("patient-declined", None)
            .ending(Ending::NotMet("patient-declined", None))
            .noted("Would rather not go to a supper; prefers groceries to cook at home.")],
        quiet: 6.0,
    },
];

/// The Goal, in the patient's words, for each need.
const GOALS: [(&str, &str); 5] = [
    (FOOD, "Enough food for the household every week"),
    (HOUSING, "Keep a safe, steady place to live"),
    (HOUSING_QUALITY, "A home free of lead, mould and pests"),
    (TRANSPORT, "Get to every medical appointment"),
    (UTILITIES, "Keep the heat and lights on"),
];

/// A screened patient, as the social worker's worklist reads the screening.
struct Screened {
    patient: String,
    response: String,
    at: DateTime<Utc>,
    answers: Answer,
    /// The positive domains.
    needs: Vec<String>,
}

/// The screenings written so far, in the order they were written.
fn screened(out: &Out) -> Vec<Screened> {
    let instrument = Instrument::ahc_hrsn();
    out.of_type("QuestionnaireResponse")
        .iter()
        .filter(|q| q["questionnaire"] == QUESTIONNAIRE_URL)
        .filter_map(|q| {
            let answers = instrument.answers(q).ok()?;
            let needs = instrument
                .score(&answers)
                .positive()
                .map(|d| d.domain.clone())
                .collect();
            Some(Screened {
                patient: q["subject"]["reference"]
                    .as_str()?
                    .strip_prefix("Patient/")?
                    .to_string(),
                response: q["id"].as_str()?.to_string(),
                at: q["authored"].as_str()?.parse().ok()?,
                answers,
                needs,
            })
        })
        .collect()
}

/// Which screened patient each story happens to, and when: `(story, patient, days from the
/// screening to the referral)`, by index. About half the
/// patients with needs (not counting those whose safety is at stake) get referrals, one or
/// two each; each story goes to a patient with its need whose screening is old enough for its
/// history, and no longer ago than it needs.
fn cast(cfg: &Config, people: &[Screened]) -> Vec<(usize, usize, f64)> {
    let with_needs: Vec<usize> = (0..people.len())
        .filter(|&i| !people[i].needs.is_empty())
        .collect();
    let decided = with_needs.len().div_ceil(2);
    let candidates: Vec<usize> = with_needs
        .into_iter()
        .filter(|&i| {
            !people[i]
                .needs
                .iter()
                .any(|n| n == "intimate-partner-violence")
        })
        .collect();
    let mut r = rng(cfg.seed, "sdoh-referrals", 0);
    let mut referred: BTreeMap<usize, Vec<&str>> = BTreeMap::new();
    let mut cast = Vec::new();
    for (s, story) in STORIES.iter().enumerate() {
        // Days between the screening and the referral, for this story.
        let wait = uniform(&mut r, 1.0, 8.0);
        let wanted = story.span() + wait;
        let open = referred.len() < decided;
        let chosen = candidates
            .iter()
            .copied()
            .filter(|i| people[*i].needs.iter().any(|n| n == story.need))
            .filter(|i| match referred.get(i) {
                Some(needs) => needs.len() < 2 && !needs.contains(&story.need),
                None => open,
            })
            .min_by_key(|i| {
                let available = days(cfg.now - people[*i].at);
                let fits = available >= wanted;
                (
                    !fits,
                    referred.contains_key(i),
                    ((available - wanted).abs() * 24.0) as i64,
                )
            });
        if let Some(i) = chosen {
            referred.entry(i).or_default().push(story.need);
            cast.push((s, i, wait));
        }
    }
    cast
}

fn days(d: TimeDelta) -> f64 {
    d.num_minutes() as f64 / 1440.0
}

/// A practitioner's name as written on their resource.
fn name_of(out: &Out, practitioner: &str) -> String {
    out.of_type("Practitioner")
        .iter()
        .find(|p| p["id"] == practitioner)
        .and_then(|p| p["name"][0]["text"].as_str())
        .unwrap_or("Clinical social worker")
        .to_string()
}

/// "Prefers Spanish." when the patient's preferred language is not English.
fn language_note(out: &Out, patient: &str) -> String {
    out.of_type("Patient")
        .iter()
        .find(|p| p["id"] == patient)
        .and_then(|p| {
            let l = &p["communication"][0]["language"];
            (l["coding"][0]["code"] != "en")
                .then(|| l["text"].as_str())
                .flatten()
        })
        .map(|l| format!(" Prefers {l}; an interpreter helps."))
        .unwrap_or_default()
}

/// The directory, and the social worker's decisions and referrals.
pub(crate) fn generate(cfg: &Config, staff: &Staff, out: &mut Out) {
    let directory = directory();
    for r in directory.resources() {
        out.push(with_test_tag(r));
    }
    let people = screened(out);
    let social_worker = staff.role("social-worker-1");
    let by = format!("Practitioner/{social_worker}");
    let sw_name = name_of(out, social_worker);
    let sw_label = format!("{sw_name}, clinical social worker");
    let instrument = Instrument::ahc_hrsn();
    let mut written = Vec::new();
    for (n, (s, i, wait)) in cast(cfg, &people).into_iter().enumerate() {
        let n = n + 1;
        let story = &STORIES[s];
        let person = &people[i];
        let mut r = rng(cfg.seed, "sdoh-referral", n as u64);
        let service = directory
            .service(story.service)
            .unwrap_or_else(|| panic!("the demo directory has no service {}", story.service));

        // The history's times, squeezed when the screening is too recent for it.
        let stretch = uniform(&mut r, 0.9, 1.1);
        let available = days(cfg.now - person.at) - 1.0 / 24.0;
        let needed = (story.span() + wait) * stretch;
        let scale = if needed > available {
            available / needed * 0.98
        } else {
            1.0
        };
        let mut moment = cfg.now - minutes(story.span() * stretch * scale);
        let sent = office(moment, cfg.now)
            .max(person.at + TimeDelta::minutes(30))
            .min(cfg.now);
        let decided = sent - TimeDelta::minutes(20);

        // The need confirmed, with a Goal.
        let id = &person.response;
        let when = instant(person.at);
        let ctx = Context {
            patient: &person.patient,
            response: &format!("QuestionnaireResponse/{id}"),
            when: &when,
            performer: None,
            prefix: &prefix(id),
        };
        let concern = instrument
            .concerns(&person.answers, &ctx)
            .into_iter()
            .find(|c| c["id"] == concern_id(&prefix(id), story.need).as_str())
            .expect("the story's patient screened positive for its need");
        let condition = with_test_tag(confirmed(&concern, &by, &instant(decided)));
        let words = GOALS
            .iter()
            .find(|(need, _)| *need == story.need)
            .map_or("Need met", |(_, w)| w);
        let mut target = with_test_tag(goal(
            &condition,
            &format!("sdoh-goal-{n}"),
            words,
            &instant(decided),
        ));

        // The referral, with the patient's verbal consent on the same call.
        let made = referral(&NewReferral {
            ids: Ids {
                consent: format!("sdoh-consent-{n}"),
                service_request: format!("sdoh-sr-{n}"),
                task: format!("sdoh-task-{n}"),
            },
            patient: format!("Patient/{}", person.patient),
            requester: Requester::Reference {
                reference: by.clone(),
                name: sw_name.clone(),
            },
            hospital: format!("Organization/{ORGANIZATION}"),
            service: fhir_id(&service.id),
            service_name: service.name.clone(),
            recipient: fhir_id(&service.organization.id),
            recipient_name: service.organization.name.clone(),
            need: story.need.to_string(),
            reasons: vec![format!(
                "Condition/{}",
                condition["id"].as_str().unwrap_or_default()
            )],
            note: Some(format!(
                "{}{}",
                story.note,
                language_note(out, &person.patient)
            )),
            contact_prohibited: false,
            consent: Some(ConsentFacts {
                given_by: ConsentGiver::Patient,
                at: sent,
                method: ConsentMethod::Verbal,
                document: None,
            }),
            now: sent,
        })
        .expect("the demo's referrals are well formed");

        // The Task's history.
        let partner_label = PARTNERS
            .iter()
            .find(|(_, _, org)| *org == fhir_id(&service.organization.id))
            .map_or_else(
                || format!("Intake team, {}", service.organization.name),
                |(_, label, _)| label.to_string(),
            );
        let mut task = made.task;
        let mut at = sent;
        for step in story.steps {
            moment += minutes(step.after * stretch * scale);
            // A move the same working hour as the one before comes a few minutes after it.
            at = office(moment, cfg.now)
                .max(at + TimeDelta::minutes(7))
                .min(cfg.now);
            let change = Change {
                to: step.to,
                reason: step.reason.map(|(code, text)| Reason {
                    code: code.to_string(),
                    text: text.map(str::to_string),
                }),
                outcome: step.ending.map(|e| match e {
                    Ending::Met => Outcome::NeedMet,
                    Ending::NotMet(reason, text) => Outcome::NotMet {
                        reason: reason.to_string(),
                        text: text.map(str::to_string),
                    },
                }),
                note: step.note.map(str::to_string),
            };
            let actor = match step.party {
                Party::Recipient => partner_label.as_str(),
                Party::Sender => sw_label.as_str(),
            };
            task = apply(&task, step.party, &change, actor, at)
                .unwrap_or_else(|e| panic!("story {s} breaks the referral rules: {e}"));
            if matches!(step.ending, Some(Ending::Met)) {
                target["lifecycleStatus"] = json!("completed");
                target["achievementStatus"]["coding"][0]["code"] = json!("achieved");
            }
        }

        // Conditions and Goals refer to the screening's Observations, the request to the
        // Condition: all after them. The Consent and the request refer to each other (the
        // IG's shapes); the Consent goes first, as it was given first.
        written.push(condition);
        written.push(target);
        written.push(with_test_tag(made.consent));
        written.push(with_test_tag(made.service_request));
        written.push(with_test_tag(task));
    }
    for r in written {
        out.push_last(r);
    }
}

/// `t` moved into office hours (weekdays, 8:00 to 17:00 in Boston in winter: 13:00 to 22:00
/// UTC), at the same share of the working day as `t` is of its day, in whole minutes; a
/// weekend moves to the Friday before, and a time that would pass `now` to the working day
/// before. Later times stay later or equal, but for the last of these moves.
fn office(t: DateTime<Utc>, now: DateTime<Utc>) -> DateTime<Utc> {
    let share = f64::from(t.num_seconds_from_midnight()) / 86_400.0;
    let mut day = t.date_naive();
    loop {
        while matches!(day.weekday(), Weekday::Sat | Weekday::Sun) {
            day -= TimeDelta::days(1);
        }
        let at = day.and_hms_opt(13, 0, 0).unwrap_or_default().and_utc()
            + TimeDelta::minutes((share * 540.0) as i64);
        if at <= now {
            return at;
        }
        day -= TimeDelta::days(1);
    }
}

fn minutes(days: f64) -> TimeDelta {
    TimeDelta::minutes((days * 1440.0).round() as i64)
}

#[cfg(test)]
mod tests {
    use super::*;
    use ::community::Rules;

    #[test]
    fn office_hours_are_weekdays_and_not_after_now() {
        let now: DateTime<Utc> = "2026-11-24T08:00:00Z".parse().unwrap();
        for (t, want) in [
            ("2026-11-23T12:00:00Z", "2026-11-23T17:30:00Z"),
            ("2026-11-23T00:00:00Z", "2026-11-23T13:00:00Z"),
            ("2026-11-23T23:59:59Z", "2026-11-23T21:59:00Z"),
            ("2026-11-22T12:00:00Z", "2026-11-20T17:30:00Z"),
            ("2026-11-24T06:00:00Z", "2026-11-23T15:15:00Z"),
        ] {
            let t: DateTime<Utc> = t.parse().unwrap();
            assert_eq!(instant(office(t, now)), want, "{t}");
        }
    }

    #[test]
    fn the_directory_covers_every_need_and_the_stories_fit_it() {
        let d = directory();
        assert_eq!(d.services.len(), 16);
        for need in ::community::need::codes() {
            assert!(
                d.services.iter().any(|s| s.needs.iter().any(|n| n == need)),
                "no service for {need}"
            );
        }
        for s in &d.services {
            assert!(!s.needs.is_empty(), "{} serves no need", s.id);
            assert!(s.languages.len() >= 3, "{}", s.id);
            assert!(
                s.eligibility.is_some() && !s.hours.open.is_empty(),
                "{}",
                s.id
            );
            for c in &s.contacts {
                if c.system == ::community::ContactSystem::Phone {
                    assert!(c.value.starts_with("617-555-01"), "{}", c.value);
                }
            }
        }
        let capacity = |status| {
            d.services
                .iter()
                .filter(|s| s.capacity.status == status)
                .count()
        };
        assert_eq!(capacity(::community::CapacityStatus::Waitlist), 2);
        assert_eq!(capacity(::community::CapacityStatus::Full), 1);
        for story in STORIES {
            let s = d
                .service(story.service)
                .expect("a service of the directory");
            assert!(
                s.needs.iter().any(|n| n == story.need),
                "{} does not serve {}",
                s.id,
                story.need
            );
            // Every move is allowed from where the story is.
            let mut at = Status::Requested;
            for step in story.steps {
                assert!(
                    Rules::shipped().allows(step.party, at, step.to),
                    "{}: {at} to {}",
                    story.service,
                    step.to
                );
                at = step.to;
            }
        }
        for (_, _, org) in PARTNERS {
            assert!(d
                .services
                .iter()
                .any(|s| fhir_id(&s.organization.id) == org));
        }
    }
}
