//! Data-driven cases: every `test_data/validation/NAME.json` is validated and the issues
//! compared with `NAME.expected` (one issue a line, empty for a valid resource), and every
//! element listed in `test_data/summary-elements.txt` is looked up with [`is_summary`] and
//! [`is_mandatory`]. `UPDATE_EXPECT=1 cargo test -p fhir validation` rewrites the expectations.

use std::path::Path;
use std::time::Instant;

use serde_json::{json, Value};

use super::{
    is_mandatory, is_summary, resource_types, validate, Issue, IssueCode, Severity, MAX_DEPTH,
};

fn render(issues: &[Issue]) -> String {
    issues
        .iter()
        .map(|i| {
            let severity = match i.severity {
                Severity::Error => "error",
                Severity::Warning => "warning",
            };
            format!(
                "{severity} {} {}: {}\n",
                i.code.as_str(),
                i.expression,
                i.message
            )
        })
        .collect()
}

#[test]
fn cases() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("test_data/validation");
    let update = std::env::var_os("UPDATE_EXPECT").is_some_and(|v| v == "1");
    let mut paths: Vec<_> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "json"))
        .collect();
    paths.sort();
    assert!(!paths.is_empty());
    let mut failures = Vec::new();
    for path in &paths {
        let text = std::fs::read_to_string(path).unwrap();
        let resource: Value =
            serde_json::from_str(&text).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        let actual = render(&validate(&resource));
        let expected_path = path.with_extension("expected");
        if update {
            std::fs::write(&expected_path, &actual).unwrap();
            continue;
        }
        let expected = std::fs::read_to_string(&expected_path).unwrap_or_default();
        if actual != expected {
            let name = path.file_name().unwrap().to_string_lossy();
            failures.push(format!(
                "{name}\n--- expected\n{expected}--- actual\n{actual}"
            ));
        }
    }
    assert!(
        failures.is_empty(),
        "{} case(s) differ (UPDATE_EXPECT=1 to accept):\n{}",
        failures.len(),
        failures.join("\n")
    );
}

/// `test_data/summary-elements.txt`: `resource<TAB>element<TAB>summary<TAB>mandatory` a
/// line; the first two columns are the question, the last two the expected answer.
#[test]
fn summary_elements() {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("test_data/summary-elements.txt");
    let expected = std::fs::read_to_string(&path).unwrap();
    let mut actual = String::new();
    for line in expected.lines() {
        if line.is_empty() || line.starts_with('#') {
            actual.push_str(line);
            actual.push('\n');
            continue;
        }
        let mut fields = line.split('\t');
        let (rtype, element) = (fields.next().unwrap(), fields.next().unwrap_or_default());
        let summary = if is_summary(rtype, element) {
            "summary"
        } else {
            "not-summary"
        };
        let mandatory = if is_mandatory(rtype, element) {
            "mandatory"
        } else {
            "optional"
        };
        actual.push_str(&format!("{rtype}\t{element}\t{summary}\t{mandatory}\n"));
    }
    if std::env::var_os("UPDATE_EXPECT").is_some_and(|v| v == "1") {
        std::fs::write(&path, &actual).unwrap();
        return;
    }
    let differences: Vec<String> = expected
        .lines()
        .zip(actual.lines())
        .filter(|(e, a)| e != a)
        .map(|(e, a)| format!("expected {e:?}\n  actual {a:?}"))
        .collect();
    assert!(
        differences.is_empty(),
        "{} line(s) differ (UPDATE_EXPECT=1 to accept):\n{}",
        differences.len(),
        differences.join("\n")
    );
}

/// Every resource keeps something under `_summary=true` beyond `id` and `meta`, and an
/// element's flags are the same whichever of its JSON names asks.
#[test]
fn summary_flags_cover_every_resource() {
    for rtype in resource_types() {
        let defs = super::definitions::definitions();
        let node = defs.node(defs.resource(rtype).unwrap());
        assert!(
            node.elements
                .iter()
                .any(|e| e.summary && !matches!(e.name, "id" | "meta" | "implicitRules")),
            "{rtype} has no summary element of its own"
        );
    }
    for name in [
        "valueQuantity",
        "valueString",
        "valueCodeableConcept",
        "_valueString",
    ] {
        assert!(is_summary("Observation", name), "{name}");
        assert!(!is_mandatory("Observation", name), "{name}");
    }
    assert!(!is_summary("Observation", "_valueQuantity"));
    assert!(!is_summary("Observation", "value") && !is_summary("Observation", "value[x]"));
}

#[test]
fn resource_type_list() {
    let types = resource_types();
    assert_eq!(types.len(), 146);
    assert!(types.windows(2).all(|w| w[0] < w[1]));
    assert!(super::is_resource_type("Patient") && super::is_resource_type("Observation"));
    assert!(!super::is_resource_type("DomainResource") && !super::is_resource_type("Quantity"));
}

/// JSON nesting depth of a value: objects and arrays, the outermost being 1.
fn depth(value: &Value) -> usize {
    match value {
        Value::Object(o) => 1 + o.values().map(depth).max().unwrap_or(0),
        Value::Array(a) => 1 + a.iter().map(depth).max().unwrap_or(0),
        _ => 0,
    }
}

/// A valid Patient nested exactly `levels` deep: extensions within extensions, the last
/// with a CodeableConcept (one level more) when `levels` is even.
fn nested_patient(levels: usize) -> Value {
    // Patient (1), extension array (2), extension (3), ...: an extension at level 2k + 1.
    let extensions = (levels - 1) / 2;
    let mut ext = if levels.is_multiple_of(2) {
        json!({"url": "inner", "valueCodeableConcept": {"text": "deep"}})
    } else {
        json!({"url": "inner", "valueString": "deep"})
    };
    for _ in 1..extensions {
        ext = json!({"url": "outer", "extension": [ext]});
    }
    ext["url"] = json!("https://tend.example.org/fhir/StructureDefinition/nested");
    let patient = json!({"resourceType": "Patient", "extension": [ext]});
    assert_eq!(depth(&patient), levels);
    patient
}

/// A resource nested [`MAX_DEPTH`] levels deep is valid; one level more is refused with one
/// issue at the first element past the limit, whatever the path to it (extensions,
/// `_` siblings, contained resources, Bundle entries).
#[test]
fn nesting_depth_is_bounded() {
    for levels in [MAX_DEPTH - 1, MAX_DEPTH] {
        assert_eq!(validate(&nested_patient(levels)), vec![], "{levels} levels");
    }
    // Objects are at odd levels here: the innermost extension is the first too deep.
    let issues = validate(&nested_patient(MAX_DEPTH + 1));
    let extensions = |n: usize| ".extension[0]".repeat(n);
    assert_eq!(
        issues,
        vec![Issue {
            severity: Severity::Error,
            code: IssueCode::Structure,
            expression: format!("Patient{}", extensions(MAX_DEPTH / 2)),
            message: "JSON nested deeper than 40 levels (objects and arrays) is not accepted"
                .into(),
        }]
    );
    // An array can be the first too deep: `coding` one level past a CodeableConcept at
    // the limit.
    let mut patient = nested_patient(MAX_DEPTH);
    let mut ext = &mut patient["extension"][0];
    while ext.get("extension").is_some() {
        ext = &mut ext["extension"][0];
    }
    ext["valueCodeableConcept"] = json!({"coding": [{"code": "deep"}]});
    let issues = validate(&patient);
    assert_eq!(issues.len(), 1, "{issues:?}");
    assert_eq!(
        issues[0].expression,
        format!(
            "Patient{}.value.ofType(CodeableConcept).coding",
            extensions(MAX_DEPTH / 2 - 1)
        )
    );

    // A resource at the limit is too deep one level down in a Bundle entry.
    let bundle = json!({"resourceType": "Bundle", "type": "collection", "entry": [{"resource": nested_patient(MAX_DEPTH - 2)}]});
    assert_eq!(depth(&bundle), MAX_DEPTH + 1);
    let issues = validate(&bundle);
    assert_eq!(issues.len(), 1, "{issues:?}");
    assert!(
        issues[0]
            .expression
            .starts_with("Bundle.entry[0].resource.ofType(Patient).extension[0]"),
        "{issues:?}"
    );
    // Deep `_` siblings count too.
    let mut sibling =
        json!({"extension": [{"url": "https://tend.example.org/x", "valueString": "x"}]});
    for _ in 0..MAX_DEPTH {
        sibling = json!({"extension": [{"url": "https://tend.example.org/x", "extension": [sibling["extension"][0].clone()]}]});
    }
    let patient =
        json!({"resourceType": "Patient", "birthDate": "2000-01-01", "_birthDate": sibling});
    let issues = validate(&patient);
    assert_eq!(issues.len(), 1, "{issues:?}");
    assert!(
        issues[0]
            .expression
            .starts_with("Patient.birthDate.extension[0]"),
        "{issues:?}"
    );
}

/// Prints the time per validation: `cargo test -p fhir --release speed -- --nocapture`.
#[test]
fn speed() {
    let observation = json!({
        "resourceType": "Observation",
        "id": "news2-rr-1",
        "meta": {"lastUpdated": "2024-03-01T10:15:00Z", "versionId": "3"},
        "status": "final",
        "category": [{"coding": [{"system": "http://terminology.hl7.org/CodeSystem/observation-category", "code": "vital-signs", "display": "Vital Signs"}]}],
        "code": {"coding": [{"system": "http://loinc.org", "code": "85354-9", "display": "Blood pressure panel"}], "text": "Blood pressure"},
        "subject": {"reference": "Patient/p1", "display": "Jane Doe"},
        "encounter": {"reference": "Encounter/e1"},
        "effectiveDateTime": "2024-03-01T10:14:00+00:00",
        "performer": [{"reference": "Practitioner/n7"}],
        "interpretation": [{"coding": [{"system": "http://terminology.hl7.org/CodeSystem/v3-ObservationInterpretation", "code": "H"}]}],
        "component": [
            {"code": {"coding": [{"system": "http://loinc.org", "code": "8480-6"}]}, "valueQuantity": {"value": 142, "unit": "mmHg", "system": "http://unitsofmeasure.org", "code": "mm[Hg]"}},
            {"code": {"coding": [{"system": "http://loinc.org", "code": "8462-4"}]}, "valueQuantity": {"value": 91, "unit": "mmHg", "system": "http://unitsofmeasure.org", "code": "mm[Hg]"}}
        ]
    });
    let patient = json!({
        "resourceType": "Patient",
        "id": "p1",
        "meta": {"lastUpdated": "2024-03-01T10:15:00Z"},
        "identifier": [{"system": "https://fhir.nhs.uk/Id/nhs-number", "value": "9000000009"}],
        "active": true,
        "name": [{"use": "official", "family": "Doe", "given": ["Jane", "Q"]}],
        "telecom": [{"system": "phone", "value": "+44 20 7946 0000", "use": "mobile"}],
        "gender": "female",
        "birthDate": "1961-07-14",
        "address": [{"line": ["1 High Street"], "city": "Leeds", "postalCode": "LS1 1AA", "country": "GB"}],
        "generalPractitioner": [{"reference": "Practitioner/gp1"}]
    });
    for resource in [&observation, &patient] {
        assert_eq!(validate(resource), vec![]);
        let rounds = 2000;
        let start = Instant::now();
        for _ in 0..rounds {
            std::hint::black_box(validate(std::hint::black_box(resource)));
        }
        let per = start.elapsed() / rounds;
        println!(
            "validate {}: {per:?} per resource",
            resource["resourceType"]
        );
    }
}
