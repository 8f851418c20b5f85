//! The Magnet rule for a nurse-sensitive clinical indicator (ANCC Magnet Recognition
//! Program, 2014 manual, EP22EO and its FAQ of May 2017): unit-level data for the **most
//! recent eight consecutive quarters**, with **the majority of units outperforming the
//! benchmark in the majority of those quarters** (at least five of eight).
//!
//! A unit outperforms in a quarter when its value is strictly better than that quarter's
//! benchmark for its unit type (lower for falls, pressure injuries and infections). A
//! quarter without the unit's value or without a benchmark is not outperformed: Magnet asks
//! for the data, so a gap counts against the unit, and the grid shows it as a gap.

use std::collections::{BTreeMap, BTreeSet};

/// Quarters the rule looks at, and how many a unit must outperform in.
pub const QUARTERS: usize = 8;
pub const MAJORITY_OF_QUARTERS: usize = 5;

/// Which way is better.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Better {
    Lower,
    Higher,
}

/// One unit's value in one quarter, with the benchmark for its unit type.
#[derive(Debug, Clone, PartialEq)]
pub struct UnitQuarter {
    pub unit: String,
    /// `2026-Q3`.
    pub quarter: String,
    pub value: Option<f64>,
    pub benchmark: Option<f64>,
}

/// A cell of the unit × quarter grid.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Cell {
    Outperformed,
    NotOutperformed,
    /// No value or no benchmark that quarter.
    NoData,
}

/// A unit's row: its cells in quarter order, how many it outperformed in, and whether that
/// is the majority.
#[derive(Debug, Clone, PartialEq)]
pub struct UnitRow {
    pub unit: String,
    pub cells: Vec<Cell>,
    pub outperformed: usize,
    pub majority: bool,
}

/// The grid and the verdict.
#[derive(Debug, Clone, PartialEq)]
pub struct Grid {
    /// The eight quarters, oldest first, ending with the last quarter asked for.
    pub quarters: Vec<String>,
    pub units: Vec<UnitRow>,
    /// Units with no benchmark in any of the quarters (no benchmark for their type): left
    /// out of the rule, not counted against it.
    pub no_benchmark: Vec<String>,
    /// Units outperforming in the majority of quarters.
    pub units_outperforming: usize,
    /// The majority of units do.
    pub met: bool,
}

/// `2026-Q3` as (2026, 3).
fn parse(q: &str) -> Option<(i32, u32)> {
    let (y, n) = q.split_once("-Q")?;
    let (y, n) = (y.parse().ok()?, n.parse().ok()?);
    (1..=4).contains(&n).then_some((y, n))
}

/// The eight quarters ending with `last`, oldest first.
pub fn last_quarters(last: &str) -> Option<Vec<String>> {
    let (mut y, mut n) = parse(last)?;
    let mut out = Vec::with_capacity(QUARTERS);
    for _ in 0..QUARTERS {
        out.push(format!("{y}-Q{n}"));
        if n == 1 {
            y -= 1;
            n = 4;
        } else {
            n -= 1;
        }
    }
    out.reverse();
    Some(out)
}

/// The grid of every unit in `values` over the eight quarters ending with `last` (a
/// `YYYY-Qn` quarter), and whether the indicator meets the Magnet rule. `None` when `last`
/// is not a quarter.
pub fn evaluate(values: &[UnitQuarter], better: Better, last: &str) -> Option<Grid> {
    let quarters = last_quarters(last)?;
    let all: BTreeSet<&str> = values.iter().map(|v| v.unit.as_str()).collect();
    let benchmarked: BTreeSet<&str> = values
        .iter()
        .filter(|v| v.benchmark.is_some() && quarters.contains(&v.quarter))
        .map(|v| v.unit.as_str())
        .collect();
    let no_benchmark: Vec<String> = all
        .difference(&benchmarked)
        .map(|u| u.to_string())
        .collect();
    let units = benchmarked;
    let at: BTreeMap<(&str, &str), &UnitQuarter> = values
        .iter()
        .map(|v| ((v.unit.as_str(), v.quarter.as_str()), v))
        .collect();
    let rows: Vec<UnitRow> = units
        .into_iter()
        .map(|unit| {
            let cells: Vec<Cell> = quarters
                .iter()
                .map(|q| match at.get(&(unit, q.as_str())) {
                    Some(UnitQuarter {
                        value: Some(v),
                        benchmark: Some(b),
                        ..
                    }) => {
                        let wins = match better {
                            Better::Lower => v < b,
                            Better::Higher => v > b,
                        };
                        if wins {
                            Cell::Outperformed
                        } else {
                            Cell::NotOutperformed
                        }
                    }
                    _ => Cell::NoData,
                })
                .collect();
            let outperformed = cells.iter().filter(|c| **c == Cell::Outperformed).count();
            UnitRow {
                unit: unit.to_string(),
                cells,
                outperformed,
                majority: outperformed >= MAJORITY_OF_QUARTERS,
            }
        })
        .collect();
    let units_outperforming = rows.iter().filter(|r| r.majority).count();
    Some(Grid {
        met: !rows.is_empty() && units_outperforming * 2 > rows.len(),
        quarters,
        units: rows,
        no_benchmark,
        units_outperforming,
    })
}
