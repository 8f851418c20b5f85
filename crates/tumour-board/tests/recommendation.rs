//! Recommendations into the resources the pathways track, from
//! `test_data/recommendations.json`.

use serde_json::{json, Value};
use tumour_board::recommendation::{resources, Context, Options, Recommendation};

fn tags(r: &Value) -> Value {
    json!(r["meta"]["tag"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|t| t["code"].clone())
        .collect::<Vec<_>>())
}

#[test]
fn every_recommendation_becomes_what_its_file_says() {
    let file: Value =
        serde_json::from_str(include_str!("../test_data/recommendations.json")).unwrap();
    let conditions = vec!["Condition/c1".to_string()];
    let ctx = Context {
        case: "case-1",
        patient: "p1",
        author: "Practitioner/d1",
        board_name: "Upper GI MDT",
        meeting: Some("Appointment/m1"),
        conditions: &conditions,
        now: "2026-12-06T10:00:00Z",
    };
    for c in file["cases"].as_array().unwrap() {
        let what = c["what"].as_str().unwrap();
        let r = &c["recommendation"];
        let rec = Recommendation {
            intent: r["intent"].as_str().unwrap().into(),
            steps: r["steps"]
                .as_array()
                .unwrap()
                .iter()
                .map(|s| s.as_str().unwrap().to_string())
                .collect(),
            rationale: r["rationale"].as_str().unwrap().into(),
        };
        let out = resources(Options::shipped(), &rec, &ctx);
        if let Some(want) = c["error"].as_str() {
            let e = out.expect_err(what).to_string();
            assert!(e.contains(want), "{what}: {e}");
            continue;
        }
        let out = out.expect(what);
        let plan = &out[0];
        assert_eq!(plan["resourceType"], "CarePlan", "{what}");
        assert_eq!(plan["id"], "case-1-plan");
        assert_eq!(tags(plan), c["plan_tags"], "{what}: plan tags");
        assert_eq!(plan["addresses"][0]["reference"], "Condition/c1");
        assert_eq!(plan["author"]["reference"], "Practitioner/d1");
        let requests = json!(out[1..]
            .iter()
            .map(|sr| {
                assert_eq!(
                    sr["basedOn"][0]["reference"], "CarePlan/case-1-plan",
                    "{what}"
                );
                json!([sr["id"], tags(sr)])
            })
            .collect::<Vec<_>>());
        assert_eq!(requests, c["requests"], "{what}: requests");
        assert_eq!(
            plan["activity"].as_array().unwrap().len(),
            out.len() - 1,
            "{what}: each step is an activity of the plan"
        );
        for r in &out {
            let issues: Vec<_> = fhir::validation::validate(r)
                .into_iter()
                .filter(|i| i.severity == fhir::validation::Severity::Error)
                .collect();
            assert!(issues.is_empty(), "{what}: {issues:?}");
        }
    }
}
