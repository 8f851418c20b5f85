//! Ratios against a reference group, with 95 % confidence intervals.
//!
//! The large-sample (Wald) interval on the log scale, as in Rothman, Greenland and Lash,
//! *Modern Epidemiology*, 3rd ed. (2008), chapter 14:
//! - **rate ratio** of counts `a` over person-time `t1` and `b` over `t0`: RR = (a/t1)/(b/t0),
//!   SE(ln RR) = √(1/a + 1/b);
//! - **risk ratio** of `a` of `n1` and `b` of `n0`: RR = (a/n1)/(b/n0),
//!   SE(ln RR) = √(1/a − 1/n1 + 1/b − 1/n0).
//!
//! The interval is exp(ln RR ± 1.959964 × SE). With no events in either group the ratio or
//! its interval is undefined, and `None` says so rather than a number that would mislead.

/// The two-sided 95 % normal quantile.
const Z95: f64 = 1.959_963_984_540_054;

/// A ratio with its 95 % confidence interval.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Ratio {
    pub ratio: f64,
    pub low: f64,
    pub high: f64,
}

impl Ratio {
    /// Whether the interval excludes 1 (the groups differ beyond chance at the 5 % level).
    pub fn differs(&self) -> bool {
        self.low > 1.0 || self.high < 1.0
    }
}

fn interval(ratio: f64, se: f64) -> Ratio {
    let ln = ratio.ln();
    Ratio {
        ratio,
        low: (ln - Z95 * se).exp(),
        high: (ln + Z95 * se).exp(),
    }
}

/// The rate ratio of `a` events over `t1` (days, device days…) against `b` over `t0`.
pub fn rate_ratio(a: u64, t1: f64, b: u64, t0: f64) -> Option<Ratio> {
    if a == 0 || b == 0 || t1 <= 0.0 || t0 <= 0.0 {
        return None;
    }
    let (a, b) = (a as f64, b as f64);
    Some(interval((a / t1) / (b / t0), (1.0 / a + 1.0 / b).sqrt()))
}

/// The risk ratio of `a` of `n1` against `b` of `n0`.
pub fn risk_ratio(a: u64, n1: u64, b: u64, n0: u64) -> Option<Ratio> {
    if a == 0 || b == 0 || n1 == 0 || n0 == 0 || a > n1 || b > n0 {
        return None;
    }
    let (a, n1, b, n0) = (a as f64, n1 as f64, b as f64, n0 as f64);
    Some(interval(
        (a / n1) / (b / n0),
        (1.0 / a - 1.0 / n1 + 1.0 / b - 1.0 / n0).sqrt(),
    ))
}
