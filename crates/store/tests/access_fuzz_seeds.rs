//! The access path's fuzz check, run on stable over fixed requests and a few hundred
//! pseudo-random ones from a fixed seed, so every test run holds the store to the model
//! (`access_path/mod.rs`, shared with `fuzz/fuzz_targets/access_path.rs`).

mod access_path;

use std::collections::BTreeMap;

use access_path::{
    Action, Caller, Effect, Key, Kind, Param, Pat, Request, Scope, Style, Type, Who, World, Write,
};
use arbitrary::{Arbitrary, Unstructured};

/// A nurse who reaches only A.
fn nurse_of_a() -> Caller {
    Caller {
        who: Who::Nurse,
        reach: [true, false, false],
        break_glass: false,
    }
}

fn write(kind: Kind, rtype: Type, key: Key, about: Pat, style: Style) -> Write {
    Write {
        kind,
        rtype,
        key,
        about,
        style,
        also: None,
        full_url: false,
    }
}

/// Requests that aim at B and C from A's nurse, one shape each.
fn seeds() -> Vec<Request> {
    let obs = Type::Observation;
    let mut actions = vec![
        Action::Read(obs, Key::Of(Pat::B, false)),
        Action::Read(Type::Patient, Key::Of(Pat::C, false)),
        Action::Read(obs, Key::Both),
        Action::Vread(Type::CareTeam, Key::Both, 1),
        Action::History(Scope::System, 7),
        Action::History(Scope::Type(obs), 0),
        Action::History(Scope::Instance(Type::Encounter, Key::Of(Pat::B, false)), 3),
        Action::Everything(Pat::A),
        Action::Everything(Pat::B),
    ];
    let searches: Vec<(Type, Vec<Param>)> = vec![
        (obs, vec![Param::Subject(Pat::B, Style::Absolute)]),
        (obs, vec![Param::Subject(Pat::C, Style::Versioned)]),
        (obs, vec![Param::Code, Param::SummaryCount]),
        (obs, vec![Param::ChainName(Pat::B), Param::TotalAccurate]),
        (obs, vec![Param::ChainIdentifier(Pat::C)]),
        (obs, vec![Param::IncludeSubject, Param::IncludePatient]),
        (obs, vec![Param::Performer(Pat::B), Param::Elements]),
        (
            Type::Patient,
            vec![Param::HasObservation, Param::SummaryCount],
        ),
        (Type::Patient, vec![Param::HasCareTeam]),
        (
            Type::Patient,
            vec![Param::HasPerformer, Param::SummaryCount],
        ),
        (Type::Patient, vec![Param::HasPerformer]),
        (
            Type::Patient,
            vec![Param::RevincludeObservation, Param::RevincludeAudit],
        ),
        (
            Type::Patient,
            vec![Param::RevincludeCareTeam, Param::IncludeIterate],
        ),
        (Type::Patient, vec![Param::Name(Pat::B)]),
        (
            Type::Patient,
            vec![Param::Identifier(Pat::C), Param::RevincludeAll],
        ),
        (
            Type::CareTeam,
            vec![Param::Participant(Pat::B), Param::IncludeParticipant],
        ),
        (
            Type::Encounter,
            vec![Param::IncludeAll, Param::Sort, Param::Count(2)],
        ),
        (
            Type::AuditEvent,
            vec![Param::Patient(Pat::B, Style::Relative)],
        ),
        (
            Type::Location,
            vec![Param::Id(Key::Unowned), Param::RevincludeAll],
        ),
    ];
    actions.extend(searches.into_iter().map(|(t, p)| Action::Search(t, p)));
    let writes = vec![
        write(
            Kind::Update,
            obs,
            Key::Of(Pat::B, false),
            Pat::A,
            Style::Relative,
        ),
        write(Kind::Update, obs, Key::New(0), Pat::B, Style::Absolute),
        write(Kind::Create, obs, Key::New(1), Pat::C, Style::Versioned),
        write(Kind::Create, obs, Key::New(2), Pat::B, Style::Conditional),
        write(
            Kind::Patch,
            obs,
            Key::Of(Pat::A, false),
            Pat::B,
            Style::Relative,
        ),
        write(
            Kind::Patch,
            obs,
            Key::Of(Pat::B, true),
            Pat::A,
            Style::Relative,
        ),
        write(
            Kind::Delete,
            Type::Encounter,
            Key::Of(Pat::C, false),
            Pat::A,
            Style::Relative,
        ),
        write(
            Kind::Delete,
            Type::Patient,
            Key::Of(Pat::B, false),
            Pat::A,
            Style::Relative,
        ),
        write(
            Kind::ConditionalDelete(Param::Subject(Pat::B, Style::Absolute)),
            obs,
            Key::New(0),
            Pat::A,
            Style::Relative,
        ),
        write(
            Kind::ConditionalDelete(Param::Code),
            obs,
            Key::New(0),
            Pat::A,
            Style::Relative,
        ),
        write(
            Kind::ConditionalUpdate(Param::Subject(Pat::C, Style::Versioned)),
            obs,
            Key::New(3),
            Pat::A,
            Style::Relative,
        ),
        write(
            Kind::CreateIfNoneExist(Param::Patient(Pat::B, Style::Relative)),
            Type::CareTeam,
            Key::New(1),
            Pat::A,
            Style::Relative,
        ),
        write(
            Kind::CreateIfNoneExist(Param::Code),
            obs,
            Key::New(2),
            Pat::A,
            Style::Relative,
        ),
    ];
    for w in writes {
        actions.push(Action::Write(w, vec![], true));
    }
    // A Bundle: a new Observation about A whose performer is B, and one referring to the
    // first entry's patient through its fullUrl.
    let mut first = write(Kind::Create, obs, Key::New(0), Pat::A, Style::Relative);
    first.also = Some(Pat::B);
    first.full_url = true;
    let second = write(
        Kind::Update,
        Type::CareTeam,
        Key::New(1),
        Pat::A,
        Style::Entry(0),
    );
    actions.push(Action::Write(first, vec![second], true));
    actions.push(Action::Write(first, vec![second], false));
    let mut requests: Vec<Request> = actions
        .into_iter()
        .map(|action| Request {
            caller: nurse_of_a(),
            action,
        })
        .collect();
    // The same shapes by other callers: the privacy officer, a navigator reaching B and C,
    // a physician who broke the glass.
    let others = [
        Caller {
            who: Who::PrivacyOfficer,
            reach: [false; 3],
            break_glass: false,
        },
        Caller {
            who: Who::Navigator,
            reach: [false, true, true],
            break_glass: false,
        },
        Caller {
            who: Who::Physician,
            reach: [false; 3],
            break_glass: true,
        },
    ];
    let shapes = requests.clone();
    for caller in others {
        requests.extend(shapes.iter().map(|r| Request {
            caller: caller.clone(),
            action: r.action.clone(),
        }));
    }
    requests
}

/// Check every request; the violations, and how many requests came to each effect.
fn run(world: &World, requests: impl IntoIterator<Item = Request>) -> BTreeMap<Effect, usize> {
    let mut effects = BTreeMap::new();
    let mut failures = Vec::new();
    for r in requests {
        match world.check(&r) {
            Ok(e) => *effects.entry(e).or_insert(0) += 1,
            Err(e) => failures.push(format!("{r:?}: {e}")),
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
    effects
}

/// Whether every effect but "nothing" happened at least `n` times: the requests reached
/// the store's decisions rather than bouncing off the parser.
fn exercised(effects: &BTreeMap<Effect, usize>, n: usize) -> bool {
    [Effect::Refused, Effect::Returned, Effect::Wrote]
        .iter()
        .all(|e| effects.get(e).copied().unwrap_or(0) >= n)
}

#[test]
fn fixed_requests_keep_to_the_callers_reach() {
    let effects = run(&World::open(), seeds());
    assert!(exercised(&effects, 5), "{effects:?}");
}

#[test]
fn pseudo_random_requests_keep_to_the_callers_reach() {
    let mut state = 0x2545_f491_4f6c_dd1du64;
    let requests: Vec<Request> = (0..600)
        .filter_map(|i| {
            // Inputs of 16 to 256 bytes: short ones make short lists (one-entry writes).
            let mut bytes = vec![0u8; 16 + (i * 37) % 241];
            for b in bytes.iter_mut() {
                state ^= state << 13;
                state ^= state >> 7;
                state ^= state << 17;
                *b = (state >> 24) as u8;
            }
            Request::arbitrary(&mut Unstructured::new(&bytes)).ok()
        })
        .collect();
    assert!(
        requests.len() > 500,
        "only {} requests decoded",
        requests.len()
    );
    let effects = run(&World::open(), requests);
    assert!(exercised(&effects, 5), "{effects:?}");
}
