//! Validates every resource of the official R4 examples package
//! (<https://hl7.org/fhir/R4/downloads.html>, npm `hl7.fhir.r4.examples` 4.0.1).
//!
//! A few official examples are genuinely invalid; `test_data/invalid-official-examples.txt`
//! lists them, one `file<TAB>first error` a line. The test fails on any difference, and
//! `UPDATE_EXPECT=1 cargo test -p fhir --test official_examples` rewrites the list.
//! Fails when the shared data directory is absent.
//!
//! It also measures the deepest JSON nesting among the examples, the yardstick
//! [`fhir::validation::MAX_DEPTH`] was chosen by: every example must stay well within it.

use std::io::Read;
use std::path::Path;

use fhir::validation::{validate, Severity, MAX_DEPTH};
use serde_json::Value;

/// JSON nesting depth: objects and arrays, the outermost being 1.
fn depth(value: &Value) -> usize {
    match value {
        Value::Object(o) => 1 + o.values().map(depth).max().unwrap_or(0),
        Value::Array(a) => 1 + a.iter().map(depth).max().unwrap_or(0),
        _ => 0,
    }
}

#[test]
fn official_examples() {
    let manifest = Path::new(env!("CARGO_MANIFEST_DIR"));
    let package = manifest.join("../../../shared/data/fhir-r4/hl7.fhir.r4.examples-4.0.1.tgz");
    assert!(
        package.exists(),
        "the official R4 examples are missing at {} (beside the repository)",
        package.display()
    );
    let file = std::fs::File::open(&package).unwrap();
    let mut archive = tar::Archive::new(flate2::read::GzDecoder::new(file));
    let mut total = 0;
    let mut rejected: Vec<String> = Vec::new();
    let mut deepest = (0, String::new());
    for entry in archive.entries().unwrap() {
        let mut entry = entry.unwrap();
        let path = entry.path().unwrap().into_owned();
        let Some(name) = path
            .strip_prefix("package")
            .ok()
            .and_then(|p| p.to_str())
            .map(str::to_owned)
        else {
            continue;
        };
        if !name.ends_with(".json")
            || name.contains('/')
            || name == "package.json"
            || name.starts_with('.')
        {
            continue;
        }
        let mut text = String::new();
        entry.read_to_string(&mut text).unwrap();
        let resource: Value = serde_json::from_str(&text).unwrap_or_else(|e| panic!("{name}: {e}"));
        if !resource.get("resourceType").is_some_and(Value::is_string) {
            continue;
        }
        total += 1;
        let levels = depth(&resource);
        if levels > deepest.0 {
            deepest = (levels, name.clone());
        }
        let issues = validate(&resource);
        if let Some(first) = issues.iter().find(|i| i.severity == Severity::Error) {
            let errors = issues
                .iter()
                .filter(|i| i.severity == Severity::Error)
                .count();
            let more = if errors > 1 {
                format!(" (+{} more)", errors - 1)
            } else {
                String::new()
            };
            rejected.push(format!(
                "{name}\t{}: {}{more}",
                first.expression, first.message
            ));
        }
    }
    rejected.sort();
    println!("deepest nesting: {} levels ({})", deepest.0, deepest.1);
    // The limit's documentation cites this figure; the examples keep a wide margin under it.
    assert_eq!(deepest.0, 22, "deepest example: {}", deepest.1);
    assert!(deepest.0 + 16 <= MAX_DEPTH);
    let list_path = manifest.join("test_data/invalid-official-examples.txt");
    let actual: String = rejected.iter().map(|l| format!("{l}\n")).collect();
    println!(
        "{total} official examples: {} valid, {} listed as invalid",
        total - rejected.len(),
        rejected.len()
    );
    if std::env::var_os("UPDATE_EXPECT").is_some_and(|v| v == "1") {
        std::fs::write(&list_path, actual).unwrap();
        return;
    }
    let expected = std::fs::read_to_string(&list_path).unwrap_or_default();
    let expected: Vec<&str> = expected.lines().collect();
    let unexpected: Vec<&String> = rejected
        .iter()
        .filter(|l| !expected.contains(&l.as_str()))
        .collect();
    let accepted: Vec<&&str> = expected
        .iter()
        .filter(|l| !rejected.iter().any(|r| r == **l))
        .collect();
    assert!(
        unexpected.is_empty() && accepted.is_empty(),
        "rejections differ from {} (UPDATE_EXPECT=1 to accept)\nnewly rejected:\n{}\nno longer rejected as listed:\n{}",
        list_path.display(),
        unexpected.iter().map(|l| format!("  {l}\n")).collect::<String>(),
        accepted.iter().map(|l| format!("  {l}\n")).collect::<String>(),
    );
}
