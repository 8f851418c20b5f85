//! The kick-off's parameters, case by case from `data/kickoff.json`: what each request
//! asks for, or which parameter it is refused for.

use bulk_export::{parse, Level, Types};
use serde_json::Value;

struct R4;

impl Types for R4 {
    fn known(&self, rtype: &str) -> bool {
        search::Registry::r4().resource_types().any(|t| t == rtype)
    }
    fn in_patient_compartment(&self, rtype: &str) -> bool {
        store::patient_compartment_types().contains(&rtype)
    }
}

#[test]
fn every_kickoff_case() {
    let cases: Vec<Value> = serde_json::from_str(include_str!("data/kickoff.json")).unwrap();
    assert!(cases.len() >= 20);
    for c in &cases {
        let what = c["what"].as_str().unwrap();
        let level = match c["level"].as_str().unwrap() {
            "system" => Level::System,
            "patient" => Level::Patient,
            "group" => Level::Group(c["group"].as_str().unwrap().into()),
            other => panic!("{what}: level {other}"),
        };
        let query: Vec<(String, String)> = c["query"]
            .as_array()
            .unwrap()
            .iter()
            .map(|p| (p[0].as_str().unwrap().into(), p[1].as_str().unwrap().into()))
            .collect();
        let lenient = c["lenient"].as_bool().unwrap_or(false);
        let got = parse(level, &query, lenient, &R4);
        if let Some(param) = c["error"].as_str() {
            match got {
                Err(bulk_export::Error::Parameter { parameter, message }) => {
                    assert_eq!(parameter, param, "{what}: {message}");
                    assert!(!message.is_empty());
                }
                other => panic!("{what}: expected a refusal naming {param}, got {other:?}"),
            }
            continue;
        }
        let req = got.unwrap_or_else(|e| panic!("{what}: {e}"));
        let as_json = serde_json::to_value(&req).unwrap();
        for (k, want) in c["expect"].as_object().unwrap() {
            let got = match k.as_str() {
                "since" => req
                    .since
                    .map(|t| Value::String(t.format("%Y-%m-%dT%H:%M:%SZ").to_string()))
                    .unwrap_or(Value::Null),
                _ => as_json[k].clone(),
            };
            assert_eq!(&got, want, "{what}: {k}");
        }
    }
}
