//! The rule files: one TOML file per screening, read into [`Rule`]s and compiled into a
//! [`RuleSet`] whose code index answers "which evidence or exclusion sets does this coding
//! belong to" with one hash lookup per coding.

use std::collections::{BTreeMap, HashMap};
use std::fmt;
use std::path::Path;

use chrono::{Months, NaiveDate};
use serde::Deserialize;

use crate::facts::{Factor, Kind, Sex};
use crate::RuleError;

/// The rule files shipped with Tend, by file name.
const BUILTIN: &[(&str, &str)] = &[
    (
        "colorectal-cancer.toml",
        include_str!("../rules/colorectal-cancer.toml"),
    ),
    (
        "breast-cancer.toml",
        include_str!("../rules/breast-cancer.toml"),
    ),
    (
        "cervical-cancer.toml",
        include_str!("../rules/cervical-cancer.toml"),
    ),
    (
        "lung-cancer.toml",
        include_str!("../rules/lung-cancer.toml"),
    ),
    (
        "hypertension.toml",
        include_str!("../rules/hypertension.toml"),
    ),
    ("diabetes.toml", include_str!("../rules/diabetes.toml")),
    (
        "abdominal-aortic-aneurysm.toml",
        include_str!("../rules/abdominal-aortic-aneurysm.toml"),
    ),
    (
        "osteoporosis.toml",
        include_str!("../rules/osteoporosis.toml"),
    ),
    ("hiv.toml", include_str!("../rules/hiv.toml")),
    (
        "hepatitis-c.toml",
        include_str!("../rules/hepatitis-c.toml"),
    ),
];

/// One screening recommendation as data.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Rule {
    /// Stable id, e.g. `colorectal-cancer`: used in resource ids and URLs.
    pub id: String,
    pub title: String,
    /// The recommendation in one sentence.
    pub summary: String,
    /// What to offer the patient when the screening is due.
    pub action: String,
    /// `false` switches a shipped rule off (in a site's override file).
    #[serde(default = "yes")]
    pub enabled: bool,
    pub source: Source,
    pub population: Population,
    pub evidence: Vec<Evidence>,
    #[serde(default, rename = "exclusion")]
    pub exclusions: Vec<Exclusion>,
}

fn yes() -> bool {
    true
}

/// The published statement a rule follows.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Source {
    pub statement: String,
    pub grade: String,
    pub year: u16,
    pub url: String,
}

/// Who the recommendation applies to. Ages are whole years at the evaluation date, inclusive.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Population {
    pub min_age: u32,
    pub max_age: u32,
    /// Sex assigned at birth the recommendation is for.
    #[serde(default)]
    pub sex_at_birth: Option<Sex>,
    /// An organ the person must have: the organ inventory decides where recorded, otherwise
    /// sex assigned at birth.
    #[serde(default)]
    pub organ: Option<Organ>,
    /// Risk factors that must all hold.
    #[serde(default)]
    pub requires: Vec<Factor>,
    #[serde(default)]
    pub min_pack_years: Option<f64>,
    /// Former smokers qualify only within this many years of quitting.
    #[serde(default)]
    pub quit_within_years: Option<u32>,
    #[serde(default)]
    pub min_bmi: Option<f64>,
    /// The BMI threshold for Asian Americans, where lower.
    #[serde(default)]
    pub min_bmi_asian: Option<f64>,
}

/// Organs a screening needs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Organ {
    Cervix,
    Breasts,
}

impl Organ {
    pub fn as_str(self) -> &'static str {
        match self {
            Organ::Cervix => "cervix",
            Organ::Breasts => "breasts",
        }
    }
}

/// One kind of qualifying evidence and how long it lasts.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Evidence {
    pub name: String,
    pub resources: Vec<Kind>,
    pub interval: Interval,
    /// A longer interval for people at low risk.
    #[serde(default)]
    pub low_risk: Option<LowRisk>,
    /// The evidence counts only if the patient was at least this old when it was done.
    #[serde(default)]
    pub min_age_at_test: Option<u32>,
    /// Where the evidence must have been made: `any` (default) or `outpatient` (not during
    /// a hospital stay: a ward's readings of an acutely ill patient are not a screening).
    #[serde(default)]
    pub setting: Setting,
    pub codes: Codes,
}

/// Where evidence must have been made.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Setting {
    #[default]
    Any,
    /// Not in an inpatient, emergency or observation encounter.
    Outpatient,
}

/// When a longer interval applies: at most `max_age`, and none of `unless`.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LowRisk {
    pub interval: Interval,
    pub max_age: u32,
    #[serde(default)]
    pub unless: Vec<Factor>,
}

/// A reason the screening does not apply although the population does.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Exclusion {
    pub reason: String,
    pub resources: Vec<Kind>,
    pub codes: Codes,
    /// A second code set that must also be present (e.g. left and right mastectomy).
    #[serde(default)]
    pub with: Option<Codes>,
    /// Only Conditions whose clinical status is active (or recurrence, relapse) count.
    #[serde(default)]
    pub active_only: bool,
    /// Only records dated within this interval before the evaluation date count.
    #[serde(default)]
    pub within: Option<Interval>,
}

/// Codes by system. `"45378..45398"` is a numeric range; `"E11*"` matches every code that
/// starts with `E11` (ICD-10-CM families).
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Codes {
    #[serde(default)]
    pub loinc: Vec<String>,
    #[serde(default)]
    pub snomed: Vec<String>,
    #[serde(default)]
    pub cpt: Vec<String>,
    #[serde(default)]
    pub hcpcs: Vec<String>,
    #[serde(default)]
    pub icd10cm: Vec<String>,
}

/// Code systems the rule files name.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub(crate) enum System {
    Loinc,
    Snomed,
    Cpt,
    Hcpcs,
    Icd10cm,
    /// Tend's organ-inventory code system ([`crate::facts::ORGAN_INVENTORY`]).
    Organ,
}

impl System {
    pub(crate) fn of(uri: &str) -> Option<System> {
        Some(match uri {
            "http://loinc.org" => System::Loinc,
            "http://snomed.info/sct" => System::Snomed,
            "http://www.ama-assn.org/go/cpt" => System::Cpt,
            "https://www.cms.gov/Medicare/Coding/HCPCSReleaseCodeSets"
            | "http://www.cms.gov/Medicare/Coding/HCPCSReleaseCodeSets" => System::Hcpcs,
            "http://hl7.org/fhir/sid/icd-10-cm" => System::Icd10cm,
            crate::facts::ORGAN_INVENTORY => System::Organ,
            _ => return None,
        })
    }
}

/// How long evidence lasts: whole months, or for life (once-only screenings).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Interval {
    Months(u32),
    Lifetime,
}

impl Interval {
    /// The day evidence dated `from` stops counting (`None`: never).
    pub fn expires(self, from: NaiveDate) -> Option<NaiveDate> {
        match self {
            Interval::Months(m) => from.checked_add_months(Months::new(m)),
            Interval::Lifetime => None,
        }
    }

    /// The earliest day still inside the interval ending `on` (`None`: no limit).
    pub fn start(self, on: NaiveDate) -> Option<NaiveDate> {
        match self {
            Interval::Months(m) => on.checked_sub_months(Months::new(m)),
            Interval::Lifetime => None,
        }
    }
}

impl fmt::Display for Interval {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match *self {
            Interval::Lifetime => f.write_str("once"),
            Interval::Months(m) if m % 12 == 0 && m == 12 => f.write_str("1 year"),
            Interval::Months(m) if m % 12 == 0 => write!(f, "{} years", m / 12),
            Interval::Months(1) => f.write_str("1 month"),
            Interval::Months(m) => write!(f, "{m} months"),
        }
    }
}

impl<'de> Deserialize<'de> for Interval {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        parse_interval(&s).map_err(serde::de::Error::custom)
    }
}

fn parse_interval(s: &str) -> Result<Interval, String> {
    let t = s.trim();
    if t == "lifetime" || t == "once" {
        return Ok(Interval::Lifetime);
    }
    let (n, unit) = t.split_once(' ').ok_or_else(|| {
        format!("interval '{s}': write e.g. \"3 years\", \"27 months\" or \"lifetime\"")
    })?;
    let n: u32 = n
        .parse()
        .map_err(|_| format!("interval '{s}': '{n}' is not a whole number"))?;
    match unit.trim() {
        "year" | "years" => Ok(Interval::Months(n * 12)),
        "month" | "months" => Ok(Interval::Months(n)),
        u => Err(format!("interval '{s}': unit '{u}' is not years or months")),
    }
}

/// A bit set over the compiled code sets of a rule set (at most 128 sets).
pub(crate) type Mask = u128;

/// Where a rule's code sets sit in the masks.
#[derive(Debug, Clone)]
pub(crate) struct Compiled {
    /// Bit of each evidence entry.
    pub(crate) evidence: Vec<u8>,
    /// Bits of each exclusion entry and of its `with` set.
    pub(crate) exclusions: Vec<(u8, Option<u8>)>,
}

/// The rules in force, compiled.
#[derive(Debug, Clone)]
pub struct RuleSet {
    pub(crate) rules: Vec<Rule>,
    pub(crate) compiled: Vec<Compiled>,
    exact: HashMap<(System, Box<str>), Mask>,
    prefixes: HashMap<(System, Box<str>), Mask>,
    longest_prefix: usize,
}

impl RuleSet {
    /// The rules shipped with Tend.
    pub fn builtin() -> RuleSet {
        Self::with_overrides(Vec::new()).expect("the shipped rule files are valid")
    }

    /// The shipped rules with a site's directory of rule files over them: a file whose `id`
    /// matches a shipped rule replaces it (e.g. another interval), a new id adds a rule, and
    /// `enabled = false` switches one off.
    pub fn load(dir: &Path) -> Result<RuleSet, RuleError> {
        let mut files = Vec::new();
        let entries = std::fs::read_dir(dir).map_err(|e| RuleError::Io {
            path: dir.display().to_string(),
            message: e.to_string(),
        })?;
        let mut paths: Vec<_> = entries
            .filter_map(|e| e.ok().map(|e| e.path()))
            .filter(|p| p.extension().is_some_and(|x| x == "toml"))
            .collect();
        paths.sort();
        for path in paths {
            let text = std::fs::read_to_string(&path).map_err(|e| RuleError::Io {
                path: path.display().to_string(),
                message: e.to_string(),
            })?;
            files.push((path.display().to_string(), text));
        }
        Self::with_overrides(files)
    }

    /// The shipped rules with `(name, text)` rule files over them (see [`RuleSet::load`]).
    pub fn with_overrides(files: Vec<(String, String)>) -> Result<RuleSet, RuleError> {
        let mut by_id: BTreeMap<String, (usize, Rule)> = BTreeMap::new();
        let shipped = BUILTIN
            .iter()
            .map(|(n, t)| ((*n).to_string(), (*t).to_string()));
        for (order, (name, text)) in shipped.chain(files).enumerate() {
            let rule: Rule = toml::from_str(&text).map_err(|e| RuleError::Parse {
                file: name.clone(),
                message: e.to_string(),
            })?;
            validate(&name, &rule)?;
            let order = by_id.get(&rule.id).map_or(order, |(o, _)| *o);
            by_id.insert(rule.id.clone(), (order, rule));
        }
        let mut rules: Vec<(usize, Rule)> =
            by_id.into_values().filter(|(_, r)| r.enabled).collect();
        rules.sort_by_key(|(o, _)| *o);
        Self::compile(rules.into_iter().map(|(_, r)| r).collect())
    }

    fn compile(rules: Vec<Rule>) -> Result<RuleSet, RuleError> {
        let mut set = RuleSet {
            rules: Vec::new(),
            compiled: Vec::new(),
            exact: HashMap::new(),
            prefixes: HashMap::new(),
            longest_prefix: 0,
        };
        // The first bits belong to the facts every rule reads (smoking, BMI, blood pressure…).
        let mut next = crate::facts::FACT_SETS.len() as u32;
        for (bit, (system, codes)) in crate::facts::FACT_SETS.iter().enumerate() {
            for code in *codes {
                set.add(*system, code, bit as u8);
            }
        }
        let mut take = |rule: &Rule| -> Result<u8, RuleError> {
            let bit = next;
            next += 1;
            if bit >= Mask::BITS {
                return Err(RuleError::Invalid {
                    rule: rule.id.clone(),
                    message: format!("more than {} code sets in all rules", Mask::BITS),
                });
            }
            Ok(bit as u8)
        };
        for rule in rules {
            let mut compiled = Compiled {
                evidence: Vec::new(),
                exclusions: Vec::new(),
            };
            for e in &rule.evidence {
                let bit = take(&rule)?;
                set.add_codes(&e.codes, bit);
                compiled.evidence.push(bit);
            }
            for x in &rule.exclusions {
                let bit = take(&rule)?;
                set.add_codes(&x.codes, bit);
                let with = match &x.with {
                    Some(codes) => {
                        let b = take(&rule)?;
                        set.add_codes(codes, b);
                        Some(b)
                    }
                    None => None,
                };
                compiled.exclusions.push((bit, with));
            }
            set.rules.push(rule);
            set.compiled.push(compiled);
        }
        Ok(set)
    }

    fn add_codes(&mut self, codes: &Codes, bit: u8) {
        let lists = [
            (System::Loinc, &codes.loinc),
            (System::Snomed, &codes.snomed),
            (System::Cpt, &codes.cpt),
            (System::Hcpcs, &codes.hcpcs),
            (System::Icd10cm, &codes.icd10cm),
        ];
        for (system, list) in lists {
            for code in list {
                self.add(system, code, bit);
            }
        }
    }

    fn add(&mut self, system: System, code: &str, bit: u8) {
        if let Some(prefix) = code.strip_suffix('*') {
            self.longest_prefix = self.longest_prefix.max(prefix.len());
            *self.prefixes.entry((system, prefix.into())).or_default() |= 1 << bit;
        } else if let Some((a, b)) = range(code) {
            let width = code.split_once("..").map_or(0, |(x, _)| x.len());
            for n in a..=b {
                let c = format!("{n:0width$}");
                *self.exact.entry((system, c.into())).or_default() |= 1 << bit;
            }
        } else {
            *self.exact.entry((system, code.into())).or_default() |= 1 << bit;
        }
    }

    /// The code sets a coding belongs to.
    pub(crate) fn mask(&self, system: &str, code: &str) -> Mask {
        let Some(sys) = System::of(system) else {
            return 0;
        };
        let key = (sys, Box::<str>::from(code));
        let mut m = self.exact.get(&key).copied().unwrap_or(0);
        if !self.prefixes.is_empty() {
            let max = self.longest_prefix.min(code.len());
            for n in 1..=max {
                if !code.is_char_boundary(n) {
                    continue;
                }
                if let Some(p) = self.prefixes.get(&(sys, Box::<str>::from(&code[..n]))) {
                    m |= p;
                }
            }
        }
        m
    }

    /// The rules, in file order.
    pub fn rules(&self) -> &[Rule] {
        &self.rules
    }

    /// A rule by id.
    pub fn rule(&self, id: &str) -> Option<&Rule> {
        self.rules.iter().find(|r| r.id == id)
    }
}

fn range(code: &str) -> Option<(u32, u32)> {
    let (a, b) = code.split_once("..")?;
    let (a, b): (u32, u32) = (a.parse().ok()?, b.parse().ok()?);
    (a <= b && b - a <= 1000).then_some((a, b))
}

fn validate(file: &str, r: &Rule) -> Result<(), RuleError> {
    let bad = |message: String| RuleError::Invalid {
        rule: format!("{} ({file})", r.id),
        message,
    };
    if r.id.is_empty()
        || !r
            .id
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
    {
        return Err(bad("id must be lower-case letters, digits and '-'".into()));
    }
    if r.population.min_age > r.population.max_age {
        return Err(bad("population min_age is above max_age".into()));
    }
    if r.evidence.is_empty() {
        return Err(bad("a rule needs at least one [[evidence]]".into()));
    }
    let all = r
        .evidence
        .iter()
        .map(|e| (&e.name, &e.codes, &e.resources))
        .chain(
            r.exclusions
                .iter()
                .map(|x| (&x.reason, &x.codes, &x.resources)),
        );
    for (name, codes, resources) in all {
        let n = codes.loinc.len()
            + codes.snomed.len()
            + codes.cpt.len()
            + codes.hcpcs.len()
            + codes.icd10cm.len();
        if n == 0 {
            return Err(bad(format!("'{name}' lists no codes")));
        }
        if resources.is_empty() {
            return Err(bad(format!("'{name}' names no resource types")));
        }
        for code in codes.cpt.iter().chain(&codes.hcpcs) {
            if code.contains("..") && range(code).is_none() {
                return Err(bad(format!(
                    "'{name}': range '{code}' is not two ascending numbers"
                )));
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shipped_rules_compile_and_index_their_codes() {
        let set = RuleSet::builtin();
        assert_eq!(set.rules().len(), 10);
        assert_ne!(
            set.mask("http://www.ama-assn.org/go/cpt", "45390"),
            0,
            "range expanded"
        );
        assert_ne!(
            set.mask("http://hl7.org/fhir/sid/icd-10-cm", "E11.9"),
            0,
            "prefix"
        );
        assert_eq!(set.mask("http://hl7.org/fhir/sid/icd-10-cm", "E12.9"), 0);
        assert_eq!(set.mask("http://example.org", "45390"), 0);
    }

    #[test]
    fn intervals_parse_and_print() {
        assert_eq!(parse_interval("10 years"), Ok(Interval::Months(120)));
        assert_eq!(parse_interval("27 months"), Ok(Interval::Months(27)));
        assert_eq!(parse_interval("lifetime"), Ok(Interval::Lifetime));
        assert!(parse_interval("ten years").is_err());
        assert!(parse_interval("3 weeks").is_err());
        assert_eq!(Interval::Months(12).to_string(), "1 year");
        assert_eq!(Interval::Months(36).to_string(), "3 years");
        assert_eq!(Interval::Months(27).to_string(), "27 months");
    }

    #[test]
    fn a_site_file_replaces_a_shipped_rule_or_switches_it_off() {
        let text = include_str!("../rules/breast-cancer.toml")
            .replace("interval = \"2 years\"", "interval = \"1 year\"");
        let set = RuleSet::with_overrides(vec![("site/breast.toml".into(), text)]).unwrap();
        assert_eq!(set.rules().len(), 10);
        assert_eq!(
            set.rule("breast-cancer").unwrap().evidence[0].interval,
            Interval::Months(12)
        );
        assert_eq!(set.rules()[1].id, "breast-cancer", "keeps its place");
        let off = include_str!("../rules/hiv.toml")
            .replace("id = \"hiv\"", "id = \"hiv\"\nenabled = false");
        let set = RuleSet::with_overrides(vec![("site/hiv.toml".into(), off)]).unwrap();
        assert!(set.rule("hiv").is_none());
    }

    #[test]
    fn bad_rule_files_are_named_with_their_problem() {
        let e = RuleSet::with_overrides(vec![("x.toml".into(), "id = 3".into())]).unwrap_err();
        assert!(e.to_string().contains("x.toml"), "{e}");
        let text = include_str!("../rules/hiv.toml")
            .replace("interval = \"lifetime\"", "interval = \"forever\"");
        let e = RuleSet::with_overrides(vec![("hiv2.toml".into(), text)]).unwrap_err();
        assert!(e.to_string().contains("forever"), "{e}");
        let text = include_str!("../rules/hiv.toml").replace("min_age = 15", "min_age = 99");
        let e = RuleSet::with_overrides(vec![("hiv3.toml".into(), text)]).unwrap_err();
        assert!(e.to_string().contains("min_age"), "{e}");
    }
}
