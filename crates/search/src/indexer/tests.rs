use std::io::Read;
use std::path::Path as FsPath;
use std::sync::OnceLock;

use serde_json::{json, Value};

use super::*;

fn indexer() -> &'static Indexer {
    static INDEXER: OnceLock<Indexer> = OnceLock::new();
    INDEXER.get_or_init(|| Indexer::new(Registry::r4()).expect("indexer"))
}

fn values_of(entries: &[IndexEntry], param: &str) -> Vec<IndexValue> {
    entries
        .iter()
        .filter(|e| e.param == param)
        .map(|e| e.value.clone())
        .collect()
}

fn token(system: Option<&str>, code: &str) -> IndexValue {
    IndexValue::Token {
        system: system.map(Into::into),
        code: Some(code.into()),
        text: None,
    }
}

#[test]
fn indexer_is_send_and_sync() {
    fn check<T: Send + Sync>() {}
    check::<Indexer>();
}

#[test]
fn resolve_filters_keep_references_of_the_named_type() {
    let obs = json!({
        "resourceType": "Observation", "status": "final", "code": {"text": "x"},
        "subject": {"reference": "Group/g1"},
        "performer": [{"reference": "Practitioner/d1"}]
    });
    let entries = indexer().extract(&obs);
    assert_eq!(values_of(&entries, "subject").len(), 1);
    assert!(values_of(&entries, "patient").is_empty());
    let obs = json!({"resourceType": "Observation", "subject": {"reference": "Patient/p1"}});
    let patient = values_of(&indexer().extract(&obs), "patient");
    assert_eq!(
        patient,
        [IndexValue::Reference {
            rtype: Some("Patient".into()),
            id: Some("p1".into()),
            url: None,
            identifier: None
        }]
    );
}

#[test]
fn resource_parameters_apply_to_every_type() {
    let res = json!({
        "resourceType": "Basic", "id": "b1",
        "meta": {"lastUpdated": "2024-01-01T00:00:00Z", "tag": [{"system": "s", "code": "t"}],
                 "profile": ["http://x/p"], "source": "http://src"},
        "code": {"text": "c"}
    });
    let entries = indexer().extract(&res);
    assert_eq!(values_of(&entries, "_id"), [token(None, "b1")]);
    assert_eq!(values_of(&entries, "_tag"), [token(Some("s"), "t")]);
    assert_eq!(
        values_of(&entries, "_profile"),
        [IndexValue::Uri {
            value: "http://x/p".into()
        }]
    );
    assert_eq!(
        values_of(&entries, "_source"),
        [IndexValue::Uri {
            value: "http://src".into()
        }]
    );
    assert_eq!(values_of(&entries, "_lastUpdated").len(), 1);
}

#[test]
fn expressions_that_answer_for_absent_elements_always_run() {
    let entries = indexer().extract(&json!({"resourceType": "Patient", "id": "p"}));
    assert_eq!(values_of(&entries, "deceased"), [token(None, "false")]);
    let dead = json!({"resourceType": "Patient", "deceasedDateTime": "2020-01-01"});
    assert_eq!(
        values_of(&indexer().extract(&dead), "deceased"),
        [token(None, "true")]
    );
    let alive = json!({"resourceType": "Patient", "deceasedBoolean": false});
    assert_eq!(
        values_of(&indexer().extract(&alive), "deceased"),
        [token(None, "false")]
    );
}

#[test]
fn plain_paths_are_walked_without_the_engine() {
    let plan = &indexer().plans["Observation"];
    let by_code = |code: &str| plan.params.iter().find(|p| p.code == code).unwrap();
    for code in [
        "code",
        "subject",
        "patient",
        "date",
        "value-quantity",
        "_lastUpdated",
        "category",
    ] {
        let p = by_code(code);
        assert!(
            p.groups.iter().all(|g| g.engine.is_none()),
            "{code} uses the engine"
        );
    }
    assert!(matches!(
        by_code("component-code-value-quantity").composite,
        Some(Composite::Native { .. })
    ));
}

#[test]
fn composites_pair_components_per_item() {
    let obs = json!({
        "resourceType": "Observation",
        "code": {"coding": [{"system": "http://loinc.org", "code": "85354-9"}]},
        "component": [
            {"code": {"coding": [{"system": "http://loinc.org", "code": "8480-6"}]},
             "valueQuantity": {"value": 120, "system": "http://unitsofmeasure.org", "code": "mm[Hg]"}},
            {"code": {"coding": [{"system": "http://loinc.org", "code": "8462-4"}]},
             "valueQuantity": {"value": 80, "system": "http://unitsofmeasure.org", "code": "mm[Hg]"}}
        ]
    });
    let got = values_of(&indexer().extract(&obs), "component-code-value-quantity");
    let pair = |code: &str, value: f64| {
        IndexValue::Composite(vec![
            token(Some("http://loinc.org"), code),
            IndexValue::Quantity {
                value,
                system: Some("http://unitsofmeasure.org".into()),
                code: Some("mm[Hg]".into()),
                unit: None,
            },
        ])
    };
    assert_eq!(got, [pair("8480-6", 120.0), pair("8462-4", 80.0)]);
}

#[test]
fn cross_product_of_components() {
    let a = |s: &str| IndexValue::Uri { value: s.into() };
    let mut out = Vec::new();
    cross_product(&[vec![a("1"), a("2")], vec![a("x"), a("y")]], &mut out);
    assert_eq!(out.len(), 4);
    assert_eq!(out[1], IndexValue::Composite(vec![a("1"), a("y")]));
    out.clear();
    cross_product(&[vec![a("1")], vec![]], &mut out);
    assert!(out.is_empty());
}

#[test]
fn rewrites() {
    assert_eq!(rebase("Resource.meta.tag", "Patient"), "Patient.meta.tag");
    assert_eq!(rebase("(Resource.id)", "Patient"), "(Patient.id)");
    assert_eq!(rebase("Patient.id", "Patient"), "Patient.id");
    assert_eq!(
        split_resolve("A.b.where(resolve() is Patient)"),
        Some(("A.b", "Patient"))
    );
    assert_eq!(split_resolve("A.b.where(x = 'y')"), None);
    assert_eq!(
        present_and_not_false("P.d.exists() and P.d != false"),
        Some("P.d")
    );
    assert_eq!(present_and_not_false("P.d.exists() and P.e != false"), None);
}

/// Every official example resource (and every resource inside an example Bundle).
pub(super) fn official_examples() -> Option<Vec<Value>> {
    let tgz = FsPath::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../../shared/data/fhir-r4/hl7.fhir.r4.examples-4.0.1.tgz");
    let file = std::fs::File::open(tgz).ok()?;
    let mut archive = tar::Archive::new(flate2::read::GzDecoder::new(file));
    let mut out = Vec::new();
    for entry in archive.entries().ok()? {
        let mut entry = entry.ok()?;
        let name = entry.path().ok()?.to_string_lossy().into_owned();
        if !name.ends_with(".json") || name.ends_with("package.json") || name.contains(".index.") {
            continue;
        }
        let mut text = String::new();
        entry.read_to_string(&mut text).ok()?;
        let Ok(resource) = serde_json::from_str::<Value>(&text) else {
            continue;
        };
        if resource.get("resourceType").is_none() {
            continue;
        }
        for inner in resource["entry"].as_array().into_iter().flatten() {
            if inner["resource"].get("resourceType").is_some() {
                out.push(inner["resource"].clone());
            }
        }
        out.push(resource);
    }
    Some(out)
}

/// Entries with quantities reduced to value and unit: the engine derives a missing code
/// (and the UCUM system) from the unit and a missing unit from the code, while the walk
/// indexes what the resource says.
fn comparable(entries: Vec<IndexEntry>) -> Vec<IndexEntry> {
    fn reduce(value: IndexValue) -> IndexValue {
        match value {
            IndexValue::Quantity {
                value, unit, code, ..
            } => IndexValue::Quantity {
                value,
                unit: unit.or(code),
                system: None,
                code: None,
            },
            IndexValue::Composite(parts) => {
                IndexValue::Composite(parts.into_iter().map(reduce).collect())
            }
            other => other,
        }
    }
    entries
        .into_iter()
        .map(|e| IndexEntry {
            param: e.param,
            value: reduce(e.value),
        })
        .collect()
}

/// The direct walk over the JSON finds exactly what the engine finds, on every official
/// example, for every parameter it handles.
#[test]
fn walking_paths_agrees_with_the_engine_on_the_official_examples() {
    let Some(examples) = official_examples() else {
        eprintln!("skipped: the official examples are not available");
        return;
    };
    let engine_only = Indexer::build(Registry::r4(), Walk::Engine).expect("engine-only indexer");
    let mut differences = Vec::new();
    for resource in &examples {
        // Extreme decimals (1e-22, 1e18): the engine's 28-digit decimals round them.
        if resource["id"] == "decimal" {
            continue;
        }
        let (native, native_errors) = indexer().extract_with_errors(resource);
        let (engine, engine_errors) = engine_only.extract_with_errors(resource);
        assert_eq!(
            native_errors.len(),
            engine_errors.len(),
            "{}",
            resource["id"]
        );
        let (native, engine) = (comparable(native), comparable(engine));
        let missing: Vec<&IndexEntry> = engine.iter().filter(|e| !native.contains(e)).collect();
        let extra: Vec<&IndexEntry> = native.iter().filter(|e| !engine.contains(e)).collect();
        if !missing.is_empty() || !extra.is_empty() {
            differences.push(format!(
                "{}/{}: only the engine {missing:?}; only the walk {extra:?}",
                resource["resourceType"], resource["id"]
            ));
        }
    }
    for d in differences.iter().take(20) {
        println!("{}", d.chars().take(600).collect::<String>());
    }
    assert!(
        differences.is_empty(),
        "{} resources differ",
        differences.len()
    );
}
