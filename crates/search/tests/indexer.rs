//! Index extraction as data: resources under `test_data/indexer/` with the entries they
//! must give beside them (`UPDATE_EXPECT=1` rewrites the expectations), a coverage run
//! over every official R4 example, and timings (`--nocapture`).
//! Spec: <https://hl7.org/fhir/R4/search.html#ptypes>.

use std::collections::{BTreeMap, BTreeSet};
use std::io::Read;
use std::path::{Path, PathBuf};
use std::sync::OnceLock;
use std::time::Instant;

use search::{format_instant, IndexEntry, IndexValue, Indexer, ParamType, Registry};
use serde_json::Value;

fn indexer() -> &'static Indexer {
    static INDEXER: OnceLock<Indexer> = OnceLock::new();
    INDEXER.get_or_init(|| Indexer::new(Registry::r4()).expect("indexer"))
}

fn test_data() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("test_data")
}

fn updating() -> bool {
    std::env::var_os("UPDATE_EXPECT").is_some()
}

fn read_json(path: &Path) -> Value {
    let text = std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

// ---------------------------------------------------------------------------------------
// Rendering entries as text, one per line.

fn opt(s: &Option<String>) -> &str {
    s.as_deref().unwrap_or("")
}

fn instant(ms: i64) -> String {
    match ms {
        i64::MIN => "-inf".to_owned(),
        i64::MAX => "+inf".to_owned(),
        ms => format_instant(ms),
    }
}

fn render(value: &IndexValue) -> String {
    match value {
        IndexValue::String { norm, exact } => format!("string {exact:?} (norm {norm:?})"),
        IndexValue::Token { system, code, text } => {
            let mut s = match (system, code) {
                (None, None) => "token".to_owned(),
                (None, Some(code)) => format!("token {code}"),
                (system, code) => format!("token {}|{}", opt(system), opt(code)),
            };
            if let Some(text) = text {
                s.push_str(&format!(" text={text:?}"));
            }
            s
        }
        IndexValue::Date { lo, hi } => format!("date {} .. {}", instant(*lo), instant(*hi)),
        IndexValue::Number { value } => format!("number {value}"),
        IndexValue::Quantity {
            value,
            system,
            code,
            unit,
        } => {
            let mut s = format!("quantity {value} {}|{}", opt(system), opt(code));
            if let Some(unit) = unit {
                s.push_str(&format!(" unit={unit:?}"));
            }
            s
        }
        IndexValue::Reference {
            rtype,
            id,
            url,
            identifier,
        } => {
            let mut s = "reference".to_owned();
            if rtype.is_some() || id.is_some() {
                s.push_str(&format!(" {}/{}", opt(rtype), opt(id)));
            }
            if let Some(url) = url {
                s.push_str(&format!(" url={url}"));
            }
            if let Some((system, value)) = identifier {
                s.push_str(&format!(" identifier={}|{value}", opt(system)));
            }
            s
        }
        IndexValue::Uri { value } => format!("uri {value}"),
        IndexValue::Composite(parts) => {
            let parts: Vec<String> = parts.iter().map(render).collect();
            format!("composite [{}]", parts.join(" ; "))
        }
    }
}

fn render_entries(entries: &[IndexEntry]) -> String {
    entries
        .iter()
        .map(|e| format!("{}: {}\n", e.param, render(&e.value)))
        .collect()
}

/// Each `test_data/indexer/NAME.json` gives the entries in `NAME.expected`.
#[test]
fn resources_give_the_expected_entries() {
    let dir = test_data().join("indexer");
    let mut cases: Vec<PathBuf> = std::fs::read_dir(&dir)
        .expect("test_data/indexer")
        .map(|e| e.expect("entry").path())
        .filter(|p| p.extension().is_some_and(|e| e == "json"))
        .collect();
    cases.sort();
    assert!(cases.len() >= 7, "the cases are missing");
    let mut failed = Vec::new();
    for case in &cases {
        let (entries, errors) = indexer().extract_with_errors(&read_json(case));
        assert!(errors.is_empty(), "{}: {errors:?}", case.display());
        let actual = render_entries(&entries);
        let expected_path = case.with_extension("expected");
        if updating() {
            std::fs::write(&expected_path, &actual).expect("write expectation");
            continue;
        }
        let expected = std::fs::read_to_string(&expected_path).unwrap_or_default();
        if expected != actual {
            println!("--- {}\n{actual}", expected_path.display());
            failed.push(
                case.file_name()
                    .unwrap_or_default()
                    .to_string_lossy()
                    .into_owned(),
            );
        }
    }
    assert!(
        failed.is_empty(),
        "changed: {failed:?} (UPDATE_EXPECT=1 to accept)"
    );
}

// ---------------------------------------------------------------------------------------
// The official examples.

/// Every official R4 example, and every resource inside an example Bundle.
fn official_examples() -> Option<Vec<Value>> {
    let tgz = Path::new(env!("CARGO_MANIFEST_DIR"))
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

/// Whether the JSON has indexable data for a parameter of type `kind` at a plain path
/// (`a.b.c` below the resource). Keys match exactly or as a choice element (`value`
/// matches `valueQuantity`). Written without the model or the engine, as an independent
/// check on the indexer; what counts as indexable follows the search spec: no contained
/// (`#id`) or display-only references, no free-text dates, no identifier without value.
fn has_data(value: &Value, segments: &[&str], kind: ParamType) -> bool {
    let Some((first, rest)) = segments.split_first() else {
        return match value {
            Value::Array(items) => items.iter().any(|v| has_data(v, &[], kind)),
            Value::Null => false,
            leaf => indexable(leaf, kind),
        };
    };
    match value {
        Value::Array(items) => items.iter().any(|v| has_data(v, segments, kind)),
        Value::Object(map) => map.iter().any(|(key, child)| {
            let matches = key == first
                || key
                    .strip_prefix(first)
                    .is_some_and(|suffix| suffix.starts_with(|c: char| c.is_ascii_uppercase()));
            matches && has_data(child, rest, kind)
        }),
        _ => false,
    }
}

fn indexable(leaf: &Value, kind: ParamType) -> bool {
    let has = |key: &str| leaf.get(key).is_some_and(|v| !v.is_null());
    match (kind, leaf) {
        (_, Value::String(s)) if s.is_empty() => false,
        (ParamType::Date, Value::String(s)) => {
            s.len() >= 4 && s[..4].chars().all(|c| c.is_ascii_digit())
        }
        (ParamType::Date, _) => has("start") || has("end") || has("event"),
        (ParamType::Reference, Value::Object(_)) => {
            leaf.get("reference")
                .and_then(Value::as_str)
                .is_some_and(|r| !r.starts_with('#'))
                || leaf
                    .get("identifier")
                    .is_some_and(|i| i.get("value").is_some())
                || has("resourceType")
        }
        (ParamType::Token, Value::Object(_)) => {
            !has("reference") && (has("code") || has("coding") || has("value") || has("text"))
        }
        (ParamType::Quantity, _) => leaf.get("value").is_some_and(Value::is_number),
        (ParamType::Number, _) => leaf.is_number(),
        _ => true,
    }
}

/// Plain-path parameters the independent check expects values from, and why they have
/// none on the example named.
const KNOWN_MISSES: &[(&str, &str)] = &[(
    "CodeSystem.version (\"snomedct\")",
    "the check reads versionNeeded (an element of its own) as a choice of version",
)];

/// The plain paths of an expression restricted to one type (`Type.a.b | Type.c`), as
/// segments below the resource; `None` if any member is more than a plain path.
fn plain_paths<'a>(expression: &'a str, rtype: &str) -> Option<Vec<Vec<&'a str>>> {
    expression
        .split(" | ")
        .map(|member| {
            let mut segments: Vec<&str> = member.trim().split('.').collect();
            let root = segments.remove(0);
            let plain = (root == rtype || root == "Resource")
                && !segments.is_empty()
                && segments
                    .iter()
                    .all(|s| !s.is_empty() && s.chars().all(|c| c.is_ascii_alphanumeric()));
            plain.then_some(segments)
        })
        .collect()
}

/// Every search parameter over every official example: parameters that never give a
/// value must be the checked-in list, and wherever a plain path finds something in the
/// JSON, the parameter must give at least one value.
#[test]
fn official_examples_cover_the_search_parameters() {
    let examples = official_examples().expect(
        "the official R4 examples are missing at ../shared/data/fhir-r4 beside the repository",
    );
    let registry = Registry::r4();
    let mut produced: BTreeSet<(String, String)> = BTreeSet::new();
    let mut missed: BTreeMap<String, usize> = BTreeMap::new();
    let mut errors = Vec::new();
    for resource in &examples {
        let rtype = resource["resourceType"].as_str().unwrap_or_default();
        let (entries, failures) = indexer().extract_with_errors(resource);
        errors.extend(failures.iter().map(|e| e.to_string()));
        let codes: BTreeSet<&str> = entries.iter().map(|e| e.param.as_str()).collect();
        for code in &codes {
            produced.insert((rtype.to_owned(), (*code).to_owned()));
        }
        for param in registry.params_for(rtype) {
            if matches!(param.kind, ParamType::Composite | ParamType::Special) {
                continue;
            }
            let Some(paths) = param
                .expression
                .as_deref()
                .and_then(|e| plain_paths(e, rtype))
            else {
                continue;
            };
            if paths.iter().any(|p| has_data(resource, p, param.kind))
                && !codes.contains(param.code.as_str())
            {
                let key = format!("{rtype}.{} ({})", param.code, resource["id"]);
                if !KNOWN_MISSES.iter().any(|(k, _)| *k == key) {
                    *missed.entry(key).or_default() += 1;
                }
            }
        }
    }
    let mut defined = 0;
    let mut silent = Vec::new();
    for rtype in registry.resource_types() {
        for param in registry.params_for(rtype) {
            if param.expression.is_none() || param.kind == ParamType::Special {
                continue;
            }
            defined += 1;
            if !produced.contains(&(rtype.to_owned(), param.code.clone())) {
                silent.push(format!("{rtype}.{}", param.code));
            }
        }
    }
    println!(
        "indexer coverage on {} official examples: {} of {defined} parameters gave values",
        examples.len(),
        defined - silent.len()
    );
    println!("parameters giving nothing although their plain path has data: {missed:?}");
    println!("expression errors: {errors:?}");
    assert!(missed.is_empty(), "{missed:?}");
    assert!(errors.is_empty(), "{errors:?}");

    let list = test_data().join("examples-no-values.txt");
    let rendered: String = silent.iter().map(|s| format!("{s}\n")).collect();
    if updating() {
        let header = "# Search parameters that give no value on any official R4 example (generated by\n\
                      # UPDATE_EXPECT=1 cargo test -p search --test indexer). Mostly elements no\n\
                      # example fills: meta (_tag, _profile, _security, _source, _lastUpdated);\n\
                      # definitional resources' context, jurisdiction, publisher; references the\n\
                      # examples only make to contained resources (#id) or by display. Also by design:\n\
                      # context-quantity on Range values (a quantity index holds one value).\n";
        std::fs::write(&list, format!("{header}{rendered}")).expect("write list");
        return;
    }
    let expected: String = std::fs::read_to_string(&list)
        .unwrap_or_default()
        .lines()
        .filter(|l| !l.starts_with('#'))
        .map(|l| format!("{l}\n"))
        .collect();
    assert!(
        expected == rendered,
        "the silent parameters changed:\n{rendered}(UPDATE_EXPECT=1 to accept)"
    );
}

// ---------------------------------------------------------------------------------------
// Timings (printed with --nocapture; not asserted, machines differ).

fn time_per_resource(resources: &[Value], rounds: u32) -> f64 {
    let start = Instant::now();
    let mut n = 0usize;
    for _ in 0..rounds {
        for resource in resources {
            n += std::hint::black_box(indexer().extract(resource)).len();
        }
    }
    assert!(n > 0);
    start.elapsed().as_secs_f64() * 1e6 / (f64::from(rounds) * resources.len() as f64)
}

#[test]
fn extraction_timings() {
    let start = Instant::now();
    let fresh = Indexer::new(Registry::r4()).expect("indexer");
    println!(
        "indexer: start-up (all R4 parameters) {:.0} ms",
        start.elapsed().as_secs_f64() * 1e3
    );
    drop(fresh);
    let dir = test_data().join("indexer");
    for name in [
        "patient",
        "observation-heart-rate",
        "observation-blood-pressure",
        "encounter",
    ] {
        let resource = read_json(&dir.join(format!("{name}.json")));
        indexer().extract(&resource);
        let us = time_per_resource(std::slice::from_ref(&resource), 2000);
        println!("indexer: {name}: {us:.1} µs/resource");
    }
    if let Some(examples) = official_examples() {
        let us = time_per_resource(&examples, 1);
        println!(
            "indexer: {} official examples: {us:.1} µs/resource on average",
            examples.len()
        );
    }
}
