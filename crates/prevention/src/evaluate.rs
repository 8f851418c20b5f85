//! The evaluator: for one patient at one date, every rule is due, satisfied, excluded or not
//! applicable, with the record that decided it.
//!
//! Order of the checks, per rule (following the rule-engine notes of `clinical/screening.md`):
//! 1. population: alive, age (whole years at the date, both ends inclusive), sex assigned at
//!    birth and organ (organ inventory first), risk factors, pack-years, years since quitting,
//!    BMI — failing any is *not applicable*;
//! 2. exclusions (a recorded absent organ, or a record in an exclusion set dated on or before
//!    the date) — *excluded*;
//! 3. qualifying evidence dated on or before the date and less than its interval old (evidence
//!    dated D with interval I counts until the day before D + I) — *satisfied* by the evidence
//!    that lasts longest, with the day it expires;
//! 4. otherwise *due*, since the later of the day the patient entered the age range and the
//!    day their last evidence expired. Undated records never count as evidence.

use std::fmt;

use chrono::{Datelike, Months, NaiveDate};

use crate::facts::{self, Factor, Facts, Item, Sex};
use crate::rule::{Evidence, Interval, Organ, Rule, RuleSet};

/// The verdict for one rule.
#[derive(Debug, Clone, PartialEq)]
pub enum Status<'a> {
    Due {
        /// Since when (`None` if unknown).
        since: Option<NaiveDate>,
        /// The last evidence, now expired.
        last: Option<Found<'a>>,
    },
    Satisfied {
        evidence: Found<'a>,
        /// The day the screening is due again (`None`: never, for once-only screenings).
        expires: Option<NaiveDate>,
    },
    Excluded {
        reason: Why<'a>,
        /// The record behind the exclusion.
        item: Option<&'a Item>,
    },
    NotApplicable(Why<'a>),
}

impl Status<'_> {
    /// `due`, `satisfied`, `excluded` or `not-applicable`.
    pub fn code(&self) -> &'static str {
        match self {
            Status::Due { .. } => "due",
            Status::Satisfied { .. } => "satisfied",
            Status::Excluded { .. } => "excluded",
            Status::NotApplicable(_) => "not-applicable",
        }
    }
}

/// A piece of evidence and which of the rule's evidence kinds it is.
#[derive(Debug, Clone, PartialEq)]
pub struct Found<'a> {
    pub item: &'a Item,
    pub evidence: &'a Evidence,
    /// The interval applied (the low-risk one where it applied).
    pub interval: Interval,
}

/// Why a rule does not apply, or what excluded it.
#[derive(Debug, Clone, PartialEq)]
pub enum Why<'a> {
    Deceased,
    NoBirthDate,
    TooYoung(u32),
    TooOld(u32),
    SexUnknown,
    Sex(Sex),
    Factor(Factor),
    PackYears { min: f64, recorded: Option<f64> },
    QuitTooLongAgo { years: u32, quit: NaiveDate },
    Bmi { min: f64, recorded: Option<f64> },
    OrganAbsent(Organ),
    Exclusion(&'a str),
}

impl fmt::Display for Why<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Why::Deceased => f.write_str("Deceased"),
            Why::NoBirthDate => f.write_str("Birth date not recorded"),
            Why::TooYoung(min) => write!(f, "Younger than {min}"),
            Why::TooOld(max) => write!(f, "Older than {max}"),
            Why::SexUnknown => f.write_str("Sex assigned at birth not recorded"),
            Why::Sex(s) => write!(
                f,
                "Recommendation is for sex assigned at birth {}",
                s.as_str()
            ),
            Why::Factor(x) => write!(f, "Applies only to people who {}", x.describe()),
            Why::PackYears {
                min,
                recorded: None,
            } => write!(f, "Pack-years not recorded (needs {min} or more)"),
            Why::PackYears {
                min,
                recorded: Some(r),
            } => write!(f, "{r} pack-years (needs {min} or more)"),
            Why::QuitTooLongAgo { years, quit } => {
                write!(f, "Quit smoking on {quit}, more than {years} years ago")
            }
            Why::Bmi {
                min,
                recorded: None,
            } => write!(f, "BMI not recorded (applies from {min})"),
            Why::Bmi {
                min,
                recorded: Some(r),
            } => write!(f, "BMI {r} (applies from {min})"),
            Why::OrganAbsent(o) => write!(f, "No {} (organ inventory)", o.as_str()),
            Why::Exclusion(reason) => f.write_str(reason),
        }
    }
}

/// One rule's verdict.
#[derive(Debug, Clone, PartialEq)]
pub struct Verdict<'a> {
    pub rule: &'a Rule,
    pub status: Status<'a>,
}

/// Age in whole years on `on` (a 29 February birthday is reached on 1 March in other years).
pub fn age_on(birth: NaiveDate, on: NaiveDate) -> i32 {
    let mut age = on.year() - birth.year();
    if (on.month(), on.day()) < (birth.month(), birth.day()) {
        age -= 1;
    }
    age
}

/// What the rules read besides codes, as of the evaluation date.
#[derive(Debug, Default)]
struct Derived {
    ever_smoker: bool,
    current_smoker: bool,
    quit: Option<NaiveDate>,
    pack_years: Option<f64>,
    bmi: Option<f64>,
    elevated_bp: bool,
    cervix: Option<bool>,
    breasts: Option<bool>,
}

fn derive(f: &Facts, on: NaiveDate) -> Derived {
    let mut d = Derived::default();
    // The latest dated item per fact.
    let mut latest: [Option<&Item>; 8] = [None; 8];
    for it in &f.items {
        if it.has(facts::SMOKING_STATUS)
            && (it.value_is(facts::CURRENT_SMOKER) || it.value_is(facts::FORMER_SMOKER))
        {
            d.ever_smoker = true;
        }
        let Some(date) = it.date.filter(|x| *x <= on) else {
            continue;
        };
        for (slot, bit) in [
            facts::SMOKING_STATUS,
            facts::PACK_YEARS,
            facts::QUIT_DATE,
            facts::BMI,
            facts::SYSTOLIC,
            facts::DIASTOLIC,
            facts::CERVIX,
            facts::BREASTS,
        ]
        .into_iter()
        .enumerate()
        {
            if it.has(bit) && latest[slot].is_none_or(|l| l.date.is_some_and(|ld| ld <= date)) {
                latest[slot] = Some(it);
            }
        }
    }
    d.current_smoker = latest[0].is_some_and(|i| i.value_is(facts::CURRENT_SMOKER));
    d.pack_years = latest[1].and_then(|i| i.number);
    if d.pack_years.is_some_and(|p| p > 0.0) {
        d.ever_smoker = true;
    }
    d.quit = latest[2].and_then(|i| i.value_date);
    d.bmi = latest[3].and_then(|i| i.number);
    d.elevated_bp = latest[4].and_then(|i| i.number).is_some_and(|s| s >= 130.0)
        || latest[5].and_then(|i| i.number).is_some_and(|s| s >= 85.0);
    let organ = |i: Option<&Item>| {
        let i = i?;
        i.flag.or(if i.value_is(facts::PRESENT) {
            Some(true)
        } else if i.value_is(facts::ABSENT) {
            Some(false)
        } else {
            None
        })
    };
    d.cervix = organ(latest[6]);
    d.breasts = organ(latest[7]);
    d
}

fn holds(f: &Facts, d: &Derived, factor: Factor) -> bool {
    match factor {
        Factor::EverSmoker => d.ever_smoker,
        Factor::CurrentSmoker => d.current_smoker,
        Factor::Black => f.black,
        Factor::Asian => f.asian,
        Factor::Overweight => d.bmi.is_some_and(|b| b >= 25.0),
        Factor::ElevatedBloodPressure => d.elevated_bp,
    }
}

impl RuleSet {
    /// Every rule's verdict for `facts` on `on`, in rule order.
    pub fn evaluate<'a>(&'a self, facts: &'a Facts, on: NaiveDate) -> Vec<Verdict<'a>> {
        let derived = derive(facts, on);
        self.rules
            .iter()
            .zip(&self.compiled)
            .map(|(rule, compiled)| Verdict {
                rule,
                status: self.judge(rule, compiled, facts, &derived, on),
            })
            .collect()
    }

    fn judge<'a>(
        &'a self,
        rule: &'a Rule,
        c: &crate::rule::Compiled,
        f: &'a Facts,
        d: &Derived,
        on: NaiveDate,
    ) -> Status<'a> {
        use Status::NotApplicable as Na;
        let p = &rule.population;
        if f.deceased {
            return Na(Why::Deceased);
        }
        let Some(birth) = f.birth_date else {
            return Na(Why::NoBirthDate);
        };
        let age = age_on(birth, on);
        if age < p.min_age as i32 {
            return Na(Why::TooYoung(p.min_age));
        }
        if age > p.max_age as i32 {
            return Na(Why::TooOld(p.max_age));
        }
        // Anatomy: a recorded organ inventory decides; otherwise sex assigned at birth.
        let inventory = p.organ.and_then(|o| match o {
            Organ::Cervix => d.cervix,
            Organ::Breasts => d.breasts,
        });
        match (p.organ, inventory) {
            (Some(o), Some(false)) => {
                return Status::Excluded {
                    reason: Why::OrganAbsent(o),
                    item: None,
                }
            }
            (Some(_), Some(true)) => {}
            _ => {
                if let Some(sex) = p.sex_at_birth {
                    match f.sex_at_birth {
                        None => return Na(Why::SexUnknown),
                        Some(s) if s != sex => return Na(Why::Sex(sex)),
                        Some(_) => {}
                    }
                }
            }
        }
        for factor in &p.requires {
            if !holds(f, d, *factor) {
                return Na(Why::Factor(*factor));
            }
        }
        if let Some(min) = p.min_pack_years {
            if d.pack_years.is_none_or(|py| py < min) {
                return Na(Why::PackYears {
                    min,
                    recorded: d.pack_years,
                });
            }
        }
        if let Some(years) = p.quit_within_years {
            if !d.current_smoker {
                if let Some(quit) = d.quit {
                    let limit = quit
                        .checked_add_months(Months::new(years * 12))
                        .unwrap_or(quit);
                    if on > limit {
                        return Na(Why::QuitTooLongAgo { years, quit });
                    }
                }
            }
        }
        if let Some(min) = p.min_bmi {
            let min = if f.asian {
                p.min_bmi_asian.unwrap_or(min)
            } else {
                min
            };
            if d.bmi.is_none_or(|b| b < min) {
                return Na(Why::Bmi {
                    min,
                    recorded: d.bmi,
                });
            }
        }

        for (x, (bit, with)) in rule.exclusions.iter().zip(&c.exclusions) {
            let matches = |bit: u8| {
                f.items.iter().find(|i| {
                    i.has(bit)
                        && x.resources.contains(&i.kind)
                        && i.date.is_none_or(|dt| dt <= on)
                        && (!x.active_only || i.active)
                        && x.within.is_none_or(|w| {
                            i.date.is_some_and(|dt| w.start(on).is_none_or(|s| dt > s))
                        })
                })
            };
            if let Some(item) = matches(*bit) {
                if with.is_none_or(|w| matches(w).is_some()) {
                    return Status::Excluded {
                        reason: Why::Exclusion(&x.reason),
                        item: Some(item),
                    };
                }
            }
        }

        let mut best: Option<(Found<'a>, Option<NaiveDate>)> = None;
        let mut last: Option<(Found<'a>, NaiveDate)> = None;
        // The patient's hospital stays, for evidence that must come from outside them.
        let stays: Vec<&str> = f
            .items
            .iter()
            .filter(|i| i.is_stay())
            .map(|i| &*i.id)
            .collect();
        let in_stay = |i: &Item| i.encounter.as_deref().is_some_and(|e| stays.contains(&e));
        for (e, bit) in rule.evidence.iter().zip(&c.evidence) {
            let interval = match &e.low_risk {
                Some(lr)
                    if age <= lr.max_age as i32 && !lr.unless.iter().any(|x| holds(f, d, *x)) =>
                {
                    lr.interval
                }
                _ => e.interval,
            };
            for item in &f.items {
                if !item.has(*bit) || !e.resources.contains(&item.kind) {
                    continue;
                }
                if e.setting == crate::rule::Setting::Outpatient && in_stay(item) {
                    continue;
                }
                let Some(date) = item.date.filter(|dt| *dt <= on) else {
                    continue;
                };
                if e.min_age_at_test
                    .is_some_and(|m| age_on(birth, date) < m as i32)
                {
                    continue;
                }
                let expires = interval.expires(date);
                let found = Found {
                    item,
                    evidence: e,
                    interval,
                };
                match expires {
                    Some(x) if x <= on => {
                        if last.as_ref().is_none_or(|(_, l)| x > *l) {
                            last = Some((found, x));
                        }
                    }
                    _ => {
                        let better = match &best {
                            None => true,
                            Some((_, None)) => false,
                            Some((_, Some(b))) => expires.is_none_or(|x| x > *b),
                        };
                        if better {
                            best = Some((found, expires));
                        }
                    }
                }
            }
        }
        if let Some((evidence, expires)) = best {
            return Status::Satisfied { evidence, expires };
        }
        // Open since the patient became eligible or their last evidence ran out, and never
        // before the recommendation itself took effect (its year: a gap cannot be older than
        // the advice that defines it).
        let entered = birth.checked_add_months(Months::new(p.min_age * 12));
        let effective = NaiveDate::from_ymd_opt(i32::from(rule.source.year), 1, 1);
        let since = [last.as_ref().map(|(_, l)| *l), entered, effective]
            .into_iter()
            .flatten()
            .max()
            .filter(|_| last.is_some() || entered.is_some());
        Status::Due {
            since,
            last: last.map(|(f, _)| f),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn age_counts_whole_years_and_leap_day_birthdays() {
        let d = |y, m, dd| NaiveDate::from_ymd_opt(y, m, dd).unwrap();
        assert_eq!(age_on(d(1981, 11, 25), d(2026, 11, 24)), 44);
        assert_eq!(age_on(d(1981, 11, 25), d(2026, 11, 25)), 45);
        assert_eq!(age_on(d(2000, 2, 29), d(2021, 2, 28)), 20);
        assert_eq!(age_on(d(2000, 2, 29), d(2021, 3, 1)), 21);
    }
}
