//! Statistical process control: is a measure's month-to-month movement the process's
//! ordinary noise, or a signal worth acting on?
//!
//! **Control charts** for measures with a denominator that changes every period:
//! - a **u-chart** for a rate (events per patient day, per device day): centre
//!   ū = Σ events / Σ exposure, limits ū ± 3 √(ū / nᵢ) for period i's exposure nᵢ;
//! - a **p-chart** for a proportion (patients with a pressure injury of those surveyed):
//!   centre p̄ = Σ cases / Σ surveyed, limits p̄ ± 3 √(p̄ (1 − p̄) / nᵢ).
//!
//! Limits are never below 0 (nor above 1 for a proportion). Special causes follow the rules
//! NHS England's *Making Data Count* programme teaches (NHS England and NHS Improvement,
//! *Making data count: strengthening your decisions*, 2019; the same rules as the NHS-R
//! community's "plot the dots" package):
//! - a point **outside the process limits**;
//! - a **shift**: seven or more consecutive points all above, or all below, the centre line
//!   (a point on the line ends the run);
//! - a **trend**: seven or more consecutive points each higher, or each lower, than the one
//!   before (an equal value ends it);
//! - **two out of three** consecutive points beyond two sigma, on the same side.
//!
//! **Run charts** (no limits) for measures too small for control limits, with the centre at
//! the median and the run-chart rules of Perla, Provost and Murray, *The run chart: a simple
//! analytical tool for learning from variation in healthcare processes*, BMJ Qual Saf
//! 2011;20:46–51: a **shift** of six or more consecutive points on one side of the median
//! (points on the median neither count nor break it), a **trend** of five or more points all
//! going up or all going down (equal neighbours neither count nor break it).
//!
//! Each signal is read against the measure's better direction: an **improvement** or a
//! **concern**. Pure arithmetic: no IO, no clock.

use crate::Better;

/// Consecutive points on one side of the centre that make a shift, and consecutive rises or
/// falls that make a trend, on control charts (Making Data Count).
pub const CONTROL_SHIFT: usize = 7;
pub const CONTROL_TREND: usize = 7;
/// The same, on run charts (Perla, Provost and Murray 2011).
pub const RUN_SHIFT: usize = 6;
pub const RUN_TREND: usize = 5;

/// Which chart.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// A rate: events per unit of exposure.
    U,
    /// A proportion: cases of those counted.
    P,
    /// Values against their median, without limits.
    Run,
}

/// A special-cause rule a point took part in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Rule {
    OutsideLimits,
    Shift,
    Trend,
    TwoOfThree,
}

impl Rule {
    /// The rule in plain words.
    pub fn words(self) -> &'static str {
        match self {
            Rule::OutsideLimits => "outside the process limits",
            Rule::Shift => "a run of points on one side of the centre line",
            Rule::Trend => "a run of points rising or falling",
            Rule::TwoOfThree => "two of three points close to a process limit",
        }
    }
}

/// What a point's variation says.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Variation {
    /// Common cause: the process's ordinary noise.
    Common,
    /// Special cause in the better direction.
    Improvement,
    /// Special cause in the worse direction.
    Concern,
}

/// One period's counts.
#[derive(Debug, Clone, PartialEq)]
pub struct Period {
    pub label: String,
    /// Events or cases.
    pub numerator: f64,
    /// Exposure (days) or people counted.
    pub denominator: f64,
}

/// A point of the chart: its value and limits in the chart's scale.
#[derive(Debug, Clone, PartialEq)]
pub struct Point {
    pub label: String,
    /// `None` when the period had no denominator.
    pub value: Option<f64>,
    pub lower: Option<f64>,
    pub upper: Option<f64>,
    pub rules: Vec<Rule>,
    pub variation: Variation,
}

/// A chart.
#[derive(Debug, Clone, PartialEq)]
pub struct Chart {
    pub kind: Kind,
    /// The centre line (mean rate or proportion, or the median for a run chart).
    pub centre: Option<f64>,
    pub points: Vec<Point>,
}

impl Chart {
    /// The last point's variation: what the chart says now.
    pub fn latest(&self) -> Option<&Point> {
        self.points.iter().rev().find(|p| p.value.is_some())
    }
}

/// The chart of `periods` (oldest first), its values multiplied by `scale` (1,000 for "per
/// 1,000 days", 100 for per cent).
pub fn chart(kind: Kind, periods: &[Period], scale: f64, better: Better) -> Chart {
    let values: Vec<Option<f64>> = periods
        .iter()
        .map(|p| (p.denominator > 0.0).then(|| p.numerator / p.denominator))
        .collect();
    let (num, den) = periods
        .iter()
        .filter(|p| p.denominator > 0.0)
        .fold((0.0, 0.0), |(a, b), p| (a + p.numerator, b + p.denominator));
    let centre = match kind {
        Kind::Run => median(values.iter().flatten().copied().collect()),
        _ => (den > 0.0).then(|| num / den),
    };
    // Sigma for each point, in the measure's own scale (unscaled).
    let sigma: Vec<Option<f64>> = periods
        .iter()
        .map(|p| {
            let c = centre?;
            if p.denominator <= 0.0 {
                return None;
            }
            match kind {
                Kind::U => Some((c / p.denominator).sqrt()),
                Kind::P => Some((c * (1.0 - c) / p.denominator).sqrt()),
                Kind::Run => None,
            }
        })
        .collect();
    let n = periods.len();
    let mut rules: Vec<Vec<Rule>> = vec![Vec::new(); n];
    let side: Vec<i8> = values
        .iter()
        .map(|v| match (v, centre) {
            (Some(v), Some(c)) if *v > c => 1,
            (Some(v), Some(c)) if *v < c => -1,
            _ => 0,
        })
        .collect();
    if let Some(c) = centre {
        if kind != Kind::Run {
            for i in 0..n {
                if let (Some(v), Some(s)) = (values[i], sigma[i]) {
                    if v > c + 3.0 * s || (c - 3.0 * s > 0.0 && v < c - 3.0 * s) {
                        rules[i].push(Rule::OutsideLimits);
                    }
                }
            }
            // Two of three beyond two sigma, same side.
            let near: Vec<i8> = (0..n)
                .map(|i| match (values[i], sigma[i]) {
                    (Some(v), Some(s)) if v > c + 2.0 * s => 1,
                    (Some(v), Some(s)) if v < c - 2.0 * s => -1,
                    _ => 0,
                })
                .collect();
            for start in 0..n.saturating_sub(2) {
                for dir in [1i8, -1] {
                    let hits: Vec<usize> = (start..start + 3).filter(|&i| near[i] == dir).collect();
                    if hits.len() >= 2 {
                        for i in hits {
                            push(&mut rules[i], Rule::TwoOfThree);
                        }
                    }
                }
            }
        }
    }
    let (shift, trend) = if kind == Kind::Run {
        (RUN_SHIFT, RUN_TREND)
    } else {
        (CONTROL_SHIFT, CONTROL_TREND)
    };
    // Shifts: runs of points on one side.
    if kind == Kind::Run {
        // Points on the median (or without a value) neither count nor break the run.
        let counted: Vec<usize> = (0..n).filter(|&i| side[i] != 0).collect();
        mark_runs(&counted, |i| side[i], shift, Rule::Shift, &mut rules);
    } else {
        let mut i = 0;
        while i < n {
            let s = side[i];
            let mut j = i;
            while j < n && side[j] == s {
                j += 1;
            }
            if s != 0 && j - i >= shift {
                for r in &mut rules[i..j] {
                    push(r, Rule::Shift);
                }
            }
            i = j.max(i + 1);
        }
    }
    // Trends: runs of rises or falls.
    let present: Vec<usize> = (0..n).filter(|&i| values[i].is_some()).collect();
    let mut steps: Vec<(usize, usize, i8)> = Vec::new();
    for w in present.windows(2) {
        let (a, b) = (values[w[0]].unwrap_or(0.0), values[w[1]].unwrap_or(0.0));
        let d = if b > a {
            1
        } else if b < a {
            -1
        } else {
            0
        };
        steps.push((w[0], w[1], d));
    }
    let mut trend_way = vec![0i8; n];
    if kind == Kind::Run {
        // Equal neighbours neither count nor break it: drop the flat steps.
        let moving: Vec<(usize, usize, i8)> = steps.iter().copied().filter(|s| s.2 != 0).collect();
        mark_trends(&moving, trend, &mut rules, &mut trend_way);
    } else {
        // A flat step is a run of its own, so it ends a trend.
        mark_trends(&steps, trend, &mut rules, &mut trend_way);
    }
    let points = periods
        .iter()
        .enumerate()
        .map(|(i, p)| {
            let (lower, upper) = match (centre, sigma[i]) {
                (Some(c), Some(s)) => {
                    let lo = (c - 3.0 * s).max(0.0);
                    let hi = if kind == Kind::P {
                        (c + 3.0 * s).min(1.0)
                    } else {
                        c + 3.0 * s
                    };
                    (Some(lo * scale), Some(hi * scale))
                }
                _ => (None, None),
            };
            let variation = if rules[i].is_empty() {
                Variation::Common
            } else {
                let worse_high = better == Better::Lower;
                let high = if rules[i].iter().all(|r| *r == Rule::Trend) {
                    trend_way[i] > 0
                } else {
                    matches!((values[i], centre), (Some(v), Some(c)) if v >= c)
                };
                if high == worse_high {
                    Variation::Concern
                } else {
                    Variation::Improvement
                }
            };
            let mut r = rules[i].clone();
            r.sort();
            Point {
                label: p.label.clone(),
                value: values[i].map(|v| v * scale),
                lower,
                upper,
                rules: r,
                variation,
            }
        })
        .collect();
    Chart {
        kind,
        centre: centre.map(|c| c * scale),
        points,
    }
}

fn push(r: &mut Vec<Rule>, rule: Rule) {
    if !r.contains(&rule) {
        r.push(rule);
    }
}

/// Mark runs of at least `len` consecutive `indices` with the same non-zero `key`.
fn mark_runs(
    indices: &[usize],
    key: impl Fn(usize) -> i8,
    len: usize,
    rule: Rule,
    rules: &mut [Vec<Rule>],
) {
    let mut i = 0;
    while i < indices.len() {
        let k = key(indices[i]);
        let mut j = i;
        while j < indices.len() && key(indices[j]) == k {
            j += 1;
        }
        if k != 0 && j - i >= len {
            for &x in &indices[i..j] {
                push(&mut rules[x], rule);
            }
        }
        i = j.max(i + 1);
    }
}

/// Mark trends: `len` points joined by `len − 1` consecutive steps in one direction.
fn mark_trends(steps: &[(usize, usize, i8)], len: usize, rules: &mut [Vec<Rule>], way: &mut [i8]) {
    let mut i = 0;
    while i < steps.len() {
        let d = steps[i].2;
        let mut j = i;
        while j < steps.len() && steps[j].2 == d {
            j += 1;
        }
        if d != 0 && j - i + 1 >= len {
            for s in &steps[i..j] {
                for x in [s.0, s.1] {
                    push(&mut rules[x], Rule::Trend);
                    way[x] = d;
                }
            }
        }
        i = j.max(i + 1);
    }
}

/// The median (mean of the two middle values for an even count).
pub fn median(mut v: Vec<f64>) -> Option<f64> {
    if v.is_empty() {
        return None;
    }
    v.sort_by(|a, b| a.total_cmp(b));
    let n = v.len();
    Some(if n % 2 == 1 {
        v[n / 2]
    } else {
        (v[n / 2 - 1] + v[n / 2]) / 2.0
    })
}
