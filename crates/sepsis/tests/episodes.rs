//! Every case in `test_data/episodes/`: a patient's resources and a moment, and the Tasks
//! each episode should have then (only the fields a case names are compared).

use chrono::DateTime;
use pathways::PathwaySet;
use serde_json::Value;

#[test]
fn episodes_from_data_files() {
    let pathway = PathwaySet::builtin()
        .pathway(sepsis::PATHWAY)
        .cloned()
        .unwrap();
    let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/test_data/episodes");
    let mut cases = 0;
    let mut files: Vec<_> = std::fs::read_dir(dir).unwrap().flatten().collect();
    files.sort_by_key(|f| f.path());
    for f in files {
        let name = f.path().display().to_string();
        let case: Value = serde_json::from_str(&std::fs::read_to_string(f.path()).unwrap())
            .unwrap_or_else(|e| panic!("{name}: {e}"));
        let now = DateTime::parse_from_rfc3339(case["now"].as_str().unwrap()).unwrap();
        let events: Vec<pathways::Event> = case["resources"]
            .as_array()
            .unwrap()
            .iter()
            .flat_map(|r| sepsis::episode::events(chrono_tz::UTC, r))
            .collect();
        let episodes = sepsis::episode::episodes(&pathway, &events, now);
        let expect = case["expect"].as_array().unwrap();
        let anchors: Vec<&str> = episodes.iter().map(|e| e.anchor.as_str()).collect();
        let want: Vec<&str> = expect
            .iter()
            .map(|e| e["anchor"].as_str().unwrap())
            .collect();
        assert_eq!(anchors, want, "{name}: episodes");
        for (e, x) in episodes.iter().zip(expect) {
            let tasks: Vec<Value> = e
                .evaluation
                .clocks
                .iter()
                .filter_map(|c| sepsis::shape::task("p", None, e, c))
                .collect();
            let want = x["tasks"].as_array().unwrap();
            let clocks: Vec<&str> = tasks
                .iter()
                .map(|t| t["code"]["coding"][0]["code"].as_str().unwrap())
                .collect();
            let want_clocks: Vec<&str> =
                want.iter().map(|t| t["clock"].as_str().unwrap()).collect();
            assert_eq!(clocks, want_clocks, "{name}: {} clocks", e.anchor);
            for (t, w) in tasks.iter().zip(want) {
                let clock = w["clock"].as_str().unwrap();
                let check = |field: &str, got: &Value| {
                    if let Some(x) = w.get(field) {
                        assert_eq!(got, x, "{name}: {clock} {field}");
                    }
                };
                check("status", &t["status"]);
                check("business", &t["businessStatus"]["coding"][0]["code"]);
                check("start", &t["restriction"]["period"]["start"]);
                check("deadline", &t["restriction"]["period"]["end"]);
                check("done", &t["executionPeriod"]["end"]);
                check("reason", &t["reasonReference"]["reference"]);
                check("output", &t["output"][0]["valueReference"]["reference"]);
                // Every Task is valid FHIR R4.
                let issues = fhir::validation::validate(t);
                assert!(issues.is_empty(), "{name}: {clock}: {issues:?}");
                let a = sepsis::Action::of(t).expect("read back");
                assert_eq!(a.clock, clock);
            }
            cases += 1;
        }
    }
    assert!(cases >= 6, "only {cases} episodes checked");
}
