//! One measure as the quality pages show it, assembled from its MeasureReports read with the
//! caller's access: the hospital's months and each unit's, the Magnet grid against the
//! benchmark of each unit's type, and the latest equity report's groups.

use std::collections::BTreeMap;

use access::Access;
use measures::MeasureRow;
use serde_json::Value;

use crate::{Error, MeasureReports, TAG, TAG_SYSTEM, UNIT_SYSTEM};

/// A unit as the pages name it.
#[derive(Debug, Clone, PartialEq)]
pub struct Unit {
    pub id: String,
    pub name: String,
    /// The unit type's words (settings), when the unit has one.
    pub unit_type: Option<String>,
    /// The benchmark for the unit's type, in the measure's unit.
    pub benchmark: Option<f64>,
}

/// A month's counts.
#[derive(Debug, Clone, PartialEq)]
pub struct MonthPoint {
    /// `YYYY-MM`.
    pub month: String,
    pub numerator: i64,
    pub denominator: i64,
    /// The month is still running.
    pub pending: bool,
}

/// A group of an equity stratifier, as the report holds it.
#[derive(Debug, Clone, PartialEq)]
pub struct EquityRow {
    pub value: String,
    /// `None` when suppressed.
    pub numerator: Option<i64>,
    pub denominator: Option<i64>,
    pub rate: Option<f64>,
    pub suppressed: bool,
    pub reference: bool,
    pub ratio: Option<quality::Ratio>,
}

/// A stratifier's groups.
#[derive(Debug, Clone, PartialEq)]
pub struct EquityGroup {
    pub code: String,
    pub words: String,
    pub rows: Vec<EquityRow>,
}

/// A measure, assembled.
#[derive(Debug, Clone)]
pub struct Indicator {
    pub measure: measures::Measure,
    /// The hospital's months, oldest first.
    pub hospital: Vec<MonthPoint>,
    /// Each unit's months, oldest first, units by name.
    pub units: Vec<(Unit, Vec<MonthPoint>)>,
    /// The Magnet grid over the eight quarters ending with the last complete one.
    pub magnet: Option<quality::Grid>,
    /// The latest equity report's period (`start`, `end`) and its groups.
    pub equity: Option<(String, String, Vec<EquityGroup>)>,
    /// The reports it was built from (for export).
    pub reports: Vec<Value>,
}

fn count(pops: &Value, code: &str) -> Option<i64> {
    pops.as_array()?
        .iter()
        .find(|p| p["code"]["coding"][0]["code"] == code)?["count"]
        .as_i64()
}

fn has_ext(v: &Value, url: &str) -> bool {
    v["extension"]
        .as_array()
        .into_iter()
        .flatten()
        .any(|e| e["url"] == url && e["valueBoolean"] == true)
}

fn ratio(v: &Value) -> Option<quality::Ratio> {
    let e = v["extension"]
        .as_array()?
        .iter()
        .find(|e| e["url"] == measures::equity::RATIO_EXT)?;
    let part = |name: &str| {
        e["extension"]
            .as_array()?
            .iter()
            .find(|x| x["url"] == name)?["valueDecimal"]
            .as_f64()
    };
    Some(quality::Ratio {
        ratio: part("ratio")?,
        low: part("low")?,
        high: part("high")?,
    })
}

impl MeasureReports {
    /// Every quality MeasureReport the caller may read.
    pub fn reports(&self, access: &Access) -> Result<Vec<Value>, Error> {
        let q = crate::q(
            "MeasureReport",
            &[
                ("_tag", format!("{TAG_SYSTEM}|{TAG}")),
                ("_count", "5000".into()),
            ],
        )?;
        Ok(self
            .store
            .search(access, &q)?
            .matches
            .into_iter()
            .filter_map(|h| serde_json::from_str(&h.body).ok())
            .collect())
    }

    /// Measure `id` as the pages show it, from the reports the caller may read and the units
    /// (Locations) they may read; `None` for a measure the suite does not have.
    pub fn indicator(
        &self,
        access: &Access,
        id: &str,
        all: &[Value],
    ) -> Result<Option<Indicator>, Error> {
        let Some(m) = self.suite.measure(id) else {
            return Ok(None);
        };
        let url = format!("https://tend.example.org/fhir/Measure/{id}");
        let reports: Vec<Value> = all
            .iter()
            .filter(|r| r["measure"].as_str() == Some(url.as_str()))
            .cloned()
            .collect();
        let settings = &self.config.settings;
        let mut locations: BTreeMap<String, Value> = BTreeMap::new();
        let q = crate::q("Location", &[("_count", "1000".into())])?;
        for h in self.store.search(access, &q)?.matches {
            if let Ok(v) = serde_json::from_str::<Value>(&h.body) {
                locations.insert(h.id.clone(), v);
            }
        }
        let mut hospital = Vec::new();
        let mut by_unit: BTreeMap<String, (String, Vec<MonthPoint>)> = BTreeMap::new();
        let mut equity: Option<(String, String, Vec<EquityGroup>)> = None;
        let mut monthly: Vec<&Value> = reports
            .iter()
            .filter(|r| !r["id"].as_str().unwrap_or("").contains("-equity-"))
            .collect();
        monthly.sort_by_key(|r| r["period"]["start"].as_str().unwrap_or("").to_string());
        for r in &monthly {
            let month = r["period"]["start"]
                .as_str()
                .unwrap_or("")
                .get(..7)
                .unwrap_or("")
                .to_string();
            let pending = r["status"] == "pending";
            let g = &r["group"][0];
            hospital.push(MonthPoint {
                month: month.clone(),
                numerator: count(&g["population"], "numerator").unwrap_or(0),
                denominator: count(&g["population"], "denominator").unwrap_or(0),
                pending,
            });
            for s in g["stratifier"][0]["stratum"]
                .as_array()
                .into_iter()
                .flatten()
            {
                let c = &s["value"]["coding"][0];
                if c["system"] != UNIT_SYSTEM {
                    continue;
                }
                let uid = c["code"].as_str().unwrap_or("").to_string();
                let name = s["value"]["text"].as_str().unwrap_or(&uid).to_string();
                by_unit
                    .entry(uid)
                    .or_insert_with(|| (name, Vec::new()))
                    .1
                    .push(MonthPoint {
                        month: month.clone(),
                        numerator: count(&s["population"], "numerator").unwrap_or(0),
                        denominator: count(&s["population"], "denominator").unwrap_or(0),
                        pending,
                    });
            }
        }
        let mut equity_reports: Vec<&Value> = reports
            .iter()
            .filter(|r| r["id"].as_str().unwrap_or("").contains("-equity-"))
            .collect();
        equity_reports.sort_by_key(|r| r["period"]["end"].as_str().unwrap_or("").to_string());
        if let Some(r) = equity_reports.last() {
            let groups = r["group"][0]["stratifier"]
                .as_array()
                .into_iter()
                .flatten()
                .map(|s| EquityGroup {
                    code: s["code"][0]["coding"][0]["code"]
                        .as_str()
                        .unwrap_or("")
                        .into(),
                    words: s["code"][0]["text"].as_str().unwrap_or("").into(),
                    rows: s["stratum"]
                        .as_array()
                        .into_iter()
                        .flatten()
                        .map(|g| EquityRow {
                            value: g["value"]["text"].as_str().unwrap_or("").into(),
                            numerator: count(&g["population"], "numerator"),
                            denominator: count(&g["population"], "denominator"),
                            rate: g["measureScore"]["value"].as_f64(),
                            suppressed: has_ext(g, strata::SUPPRESSED_EXT),
                            reference: has_ext(g, measures::equity::REFERENCE_EXT),
                            ratio: ratio(g),
                        })
                        .collect(),
                })
                .collect();
            equity = Some((
                r["period"]["start"].as_str().unwrap_or("").into(),
                r["period"]["end"].as_str().unwrap_or("").into(),
                groups,
            ));
        }
        let units: Vec<(Unit, Vec<MonthPoint>)> = {
            let mut u: Vec<(Unit, Vec<MonthPoint>)> = by_unit
                .into_iter()
                .map(|(uid, (name, months))| {
                    let loc = locations.get(&uid);
                    let type_code = loc.and_then(|l| {
                        l["type"]
                            .as_array()?
                            .iter()
                            .flat_map(|t| t["coding"].as_array().cloned().unwrap_or_default())
                            .find(|c| {
                                c["system"].as_str() == Some(settings.unit_type_system.as_str())
                            })?["code"]
                            .as_str()
                            .map(str::to_string)
                    });
                    let unit = Unit {
                        name: loc
                            .and_then(|l| l["name"].as_str())
                            .map_or(name, str::to_string),
                        unit_type: type_code
                            .as_deref()
                            .and_then(|t| settings.unit_types.get(t).cloned()),
                        benchmark: settings
                            .benchmark(&m.id, type_code.as_deref())
                            .map(|b| b.value),
                        id: uid,
                    };
                    (unit, months)
                })
                .collect();
            u.sort_by(|a, b| a.0.name.cmp(&b.0.name));
            u
        };
        // The Magnet grid over the eight quarters ending with the last complete one.
        let last_complete = hospital
            .iter()
            .filter(|p| !p.pending)
            .filter_map(|p| measures::report::quarter_of(&p.month).map(|q| (q, p.month.clone())))
            .filter(|(q, mo)| crate::run::quarter_months(q).is_some_and(|(_, last)| last == *mo))
            .map(|(q, _)| q)
            .next_back();
        let magnet = last_complete.and_then(|last| {
            let rows: Vec<MeasureRow> = units
                .iter()
                .flat_map(|(u, months)| {
                    months.iter().map(|p| MeasureRow {
                        measure: m.id.clone(),
                        unit: u.id.clone(),
                        month: p.month.clone(),
                        patient: None,
                        numerator: p.numerator,
                        denominator: p.denominator,
                    })
                })
                .collect();
            let bench: BTreeMap<&str, Option<f64>> = units
                .iter()
                .map(|(u, _)| (u.id.as_str(), u.benchmark))
                .collect();
            measures::report::magnet(m, &rows, &last, |u| bench.get(u).copied().flatten())
        });
        Ok(Some(Indicator {
            measure: m.clone(),
            hospital,
            units,
            magnet,
            equity,
            reports,
        }))
    }
}
