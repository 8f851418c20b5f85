//! The longest delay of a breached clock, from `test_data/delays.json`: each case's
//! navigator entries evaluated on the shipped suspected-cancer pathway, the clock's status
//! and days, and the step that explains the breach.

use chrono::DateTime;
use navigation::{longest_delay, Site};
use pathways::{evaluate, Event, PathwaySet};
use serde_json::Value;

#[test]
fn the_longest_delay_explains_each_breach() {
    let doc: Value = serde_json::from_str(include_str!("../test_data/delays.json")).unwrap();
    let set = PathwaySet::builtin();
    let pathway = set.pathway("nhs-suspected-cancer").unwrap();
    let cases = doc["cases"].as_array().unwrap();
    assert!(cases.len() >= 5);
    for case in cases {
        let about = case["about"].as_str().unwrap();
        let time = |s: &Value| DateTime::parse_from_rfc3339(s.as_str().unwrap()).unwrap();
        let events: Vec<Event> = case["events"]
            .as_array()
            .unwrap()
            .iter()
            .enumerate()
            .map(|(i, e)| {
                Event::navigator(&format!("e{i}"), e[0].as_str().unwrap(), time(&e[1]), "nav")
            })
            .collect();
        let ev = evaluate(pathway, &events, &[], time(&case["now"]));
        let clock = ev
            .clocks
            .iter()
            .find(|c| c.clock == case["clock"].as_str().unwrap())
            .unwrap();
        let want = &case["expect"];
        assert_eq!(format!("{:?}", clock.status), want["status"], "{about}");
        assert_eq!(clock.elapsed, want["elapsed"].as_i64().unwrap(), "{about}");
        let site = if case["no_typical"] == true {
            Site {
                typical_days: Default::default(),
                ..Site::builtin()
            }
        } else {
            Site::builtin()
        };
        let d = longest_delay(pathway, &ev, clock, &site).expect(about);
        assert_eq!(d.milestone, want["milestone"].as_str().unwrap(), "{about}");
        assert_eq!(d.days, want["days"].as_i64().unwrap(), "{about}");
        assert_eq!(d.typical, want["typical"].as_i64().unwrap(), "{about}");
        assert_eq!(d.waiting, want["waiting"] == true, "{about}");
        if let Some(w) = want["words"].as_str() {
            assert_eq!(d.words(), w, "{about}");
        }
    }
}
