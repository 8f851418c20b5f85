//! Architecture invariants checked over `cargo metadata`: the pure crates never depend
//! (directly or transitively) on async runtimes, HTTP, SQL or CLI crates.

use std::collections::{HashMap, HashSet};
use std::process::Command;

use serde_json::Value;

const PURE: &[&str] = &[
    "fhir",
    "hl7v2",
    "rules",
    "synth",
    "prevention",
    "access",
    "tumour-board",
    "social-needs",
    "community",
    "strata",
    "safety-events",
    "quality",
    "pathways",
    "sepsis",
];
const FORBIDDEN: &[&str] = &[
    "tokio", "axum", "hyper", "sqlx", "rusqlite", "postgres", "clap", "reqwest",
];

#[test]
fn pure_crates_do_no_io() {
    let out = Command::new(env!("CARGO"))
        .args([
            "metadata",
            "--format-version",
            "1",
            "--manifest-path",
            concat!(env!("CARGO_MANIFEST_DIR"), "/../../Cargo.toml"),
        ])
        .output()
        .expect("cargo metadata");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let meta: Value = serde_json::from_slice(&out.stdout).unwrap();
    let names: HashMap<&str, &str> = meta["packages"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| (p["id"].as_str().unwrap(), p["name"].as_str().unwrap()))
        .collect();
    // Normal (non-dev) dependency edges from the resolve graph.
    let mut deps: HashMap<&str, Vec<&str>> = HashMap::new();
    for node in meta["resolve"]["nodes"].as_array().unwrap() {
        let id = node["id"].as_str().unwrap();
        let normal: Vec<&str> = node["deps"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|d| {
                d["dep_kinds"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .any(|k| k["kind"].is_null())
            })
            .map(|d| d["pkg"].as_str().unwrap())
            .collect();
        deps.insert(id, normal);
    }
    for pure in PURE {
        let root = names
            .iter()
            .find(|(_, n)| *n == pure)
            .map(|(id, _)| *id)
            .expect("pure crate in workspace");
        let mut seen = HashSet::new();
        let mut stack = vec![root];
        while let Some(id) = stack.pop() {
            if !seen.insert(id) {
                continue;
            }
            let name = names[id];
            assert!(
                !FORBIDDEN.contains(&name),
                "{pure} depends on {name}: pure crates must not do IO"
            );
            stack.extend(deps.get(id).into_iter().flatten());
        }
    }
}
