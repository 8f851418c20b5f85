//! A site's settings for showing measures (`data/settings.json`, replaceable): benchmarks
//! by unit type, the small-cell rule and the reference group of each stratifier.

use std::collections::BTreeMap;

use serde::Deserialize;

use crate::Error;

/// A benchmark: a measure's comparison value for a unit type (`*`: every type).
#[derive(Debug, Clone, Deserialize, PartialEq)]
pub struct Benchmark {
    pub measure: String,
    pub unit_type: String,
    /// In the measure's unit (per 1,000 days, per cent).
    pub value: f64,
    /// Mean, median, comparison-group rate…
    pub statistic: String,
    pub source: String,
}

/// The settings.
#[derive(Debug, Clone, Deserialize, PartialEq)]
pub struct Settings {
    /// Strata with 1 to `suppress_below − 1` patients or events are not shown.
    pub suppress_below: usize,
    /// The code system of a unit's type (`Location.type`).
    pub unit_type_system: String,
    /// Unit types: code → words.
    pub unit_types: BTreeMap<String, String>,
    /// The reference group of a stratifier (`race`, `language`…); where none is set, the
    /// largest group with its value recorded.
    #[serde(default)]
    pub reference: BTreeMap<String, String>,
    #[serde(default)]
    pub benchmarks: Vec<Benchmark>,
}

const SHIPPED: &str = include_str!("../data/settings.json");

impl Settings {
    /// The settings shipped with Tend.
    pub fn shipped() -> Settings {
        Settings::from_json(SHIPPED).expect("the shipped settings parse")
    }

    /// Settings from a site's file.
    pub fn from_json(text: &str) -> Result<Settings, Error> {
        let s: Settings = serde_json::from_str(text).map_err(|e| Error::File {
            file: "settings".into(),
            message: e.to_string(),
        })?;
        if s.suppress_below == 0 {
            return Err(Error::File {
                file: "settings".into(),
                message: "suppress_below must be at least 1".into(),
            });
        }
        Ok(s)
    }

    /// The benchmark of `measure` for a unit of `unit_type` (its own type's, else `*`).
    pub fn benchmark(&self, measure: &str, unit_type: Option<&str>) -> Option<&Benchmark> {
        let of = |t: &str| {
            self.benchmarks
                .iter()
                .find(|b| b.measure == measure && b.unit_type == t)
        };
        unit_type.and_then(of).or_else(|| of("*"))
    }
}
