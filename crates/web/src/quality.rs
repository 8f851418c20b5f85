//! The quality office's pages: `/quality` lists every measure, the riskiest first (a
//! special cause of concern in the latest months, the Magnet rule not met, a gap between
//! groups); `/quality/measures/{id}` shows one measure for the hospital or a unit: its
//! control chart, its months in a table, the Magnet grid by unit and quarter against the
//! benchmark of each unit's type, and the last four quarters by equity group with ratios to
//! the reference group. Everything is read from the MeasureReports the signed-in person may
//! read (service `measure-reports`), so what the store refuses is never shown.

use askama::Template;
use axum::extract::{Path, Query, State};
use axum::response::Response;
use measure_reports::{Indicator, MonthPoint};
use quality::spc::{self, Variation};
use serde::Deserialize;

use crate::quality_chart::{count, month_words, num, svg};
use crate::view::{self, Nav, PageError};
use crate::{blocking, Web};

/// Months shown on a chart.
const MONTHS: usize = 24;

pub(crate) struct Overview {
    id: String,
    title: String,
    latest: String,
    /// `concern`, `improvement` or `common`.
    variation: &'static str,
    variation_words: String,
    magnet: String,
    magnet_met: Option<bool>,
    gap: Option<String>,
    risk: u8,
}

#[derive(Template)]
#[template(path = "quality.html")]
struct OverviewPage {
    nav: Nav,
    measures: Vec<Overview>,
    computed: Option<String>,
}

impl Web {
    /// Measure `id` read with `user`'s access, or the page saying there is no such measure.
    /// Blocking.
    pub(crate) fn indicator(&self, user: &crate::User, id: &str) -> Result<Indicator, PageError> {
        let svc = self.quality()?;
        let access = self.access(user)?;
        let all = svc.reports(&access).map_err(view::store_error)?;
        svc.indicator(&access, id, &all)
            .map_err(view::store_error)?
            .ok_or_else(|| {
                view::error_page(
                    axum::http::StatusCode::NOT_FOUND,
                    "There is no such measure.",
                )
            })
    }

    pub(crate) fn quality(
        &self,
    ) -> Result<std::sync::Arc<measure_reports::MeasureReports>, PageError> {
        self.config.measure_reports.clone().ok_or_else(|| {
            view::error_page(
                axum::http::StatusCode::SERVICE_UNAVAILABLE,
                "Quality measures are not running on this server.",
            )
        })
    }
}

fn kind(i: &Indicator) -> spc::Kind {
    if i.measure.unit == "%" {
        spc::Kind::P
    } else {
        spc::Kind::U
    }
}

fn better(i: &Indicator) -> quality::Better {
    if i.measure.better == "higher" {
        quality::Better::Higher
    } else {
        quality::Better::Lower
    }
}

/// The finished months, the last [`MONTHS`] of them, as chart periods.
fn finished(points: &[MonthPoint]) -> Vec<&MonthPoint> {
    let done: Vec<&MonthPoint> = points.iter().filter(|p| !p.pending).collect();
    let skip = done.len().saturating_sub(MONTHS);
    done.into_iter().skip(skip).collect()
}

fn chart_of(i: &Indicator, points: &[&MonthPoint], run: bool) -> spc::Chart {
    let periods: Vec<spc::Period> = points
        .iter()
        .map(|p| spc::Period {
            label: p.month.clone(),
            numerator: p.numerator as f64,
            denominator: p.denominator as f64,
        })
        .collect();
    let k = if run { spc::Kind::Run } else { kind(i) };
    let scale = i.measure.scale();
    if k == spc::Kind::Run {
        // A run chart of the rates themselves.
        let rates: Vec<spc::Period> = periods
            .iter()
            .map(|p| spc::Period {
                label: p.label.clone(),
                numerator: if p.denominator > 0.0 {
                    p.numerator / p.denominator * scale
                } else {
                    0.0
                },
                denominator: if p.denominator > 0.0 { 1.0 } else { 0.0 },
            })
            .collect();
        return spc::chart(k, &rates, 1.0, better(i));
    }
    spc::chart(k, &periods, scale, better(i))
}

/// The month still running, in words (`88.2 % so far in December 2026`), when it has
/// anything counted.
fn so_far(i: &Indicator, months: &[MonthPoint]) -> Option<String> {
    let p = months.last().filter(|p| p.pending && p.denominator > 0)?;
    Some(format!(
        "{} so far in {}",
        rate_words(i, p.numerator, p.denominator),
        month_words(&p.month)
    ))
}

/// What the latest finished month says, in words (or, before the first, the month so far).
fn latest_words(
    chart: &spc::Chart,
    points: &[&MonthPoint],
    running: Option<String>,
) -> (&'static str, String) {
    let Some((idx, p)) = chart
        .points
        .iter()
        .enumerate()
        .rev()
        .find(|(_, p)| p.value.is_some())
    else {
        return (
            "common",
            match running {
                Some(r) => format!("No finished month yet: {r}."),
                None => "No finished month yet.".into(),
            },
        );
    };
    let month = points
        .get(idx)
        .map(|m| month_words(&m.month))
        .unwrap_or_default();
    match p.variation {
        Variation::Common => (
            "common",
            format!("{month}: within the usual variation (common cause)."),
        ),
        v => {
            let what: Vec<&str> = p.rules.iter().map(|r| r.words()).collect();
            let (class, word) = if v == Variation::Concern {
                ("concern", "a concern")
            } else {
                ("improvement", "an improvement")
            };
            (class, format!("{month}: {word}: {}.", what.join("; ")))
        }
    }
}

fn rate_words(i: &Indicator, n: i64, d: i64) -> String {
    if d == 0 {
        return format!("{n} {}, no {}", i.measure.numerator, i.measure.denominator);
    }
    let r = n as f64 / d as f64 * i.measure.scale();
    format!("{} {}", num(r), i.measure.unit)
}

/// The widest gap between groups that is beyond chance, in words, when there is one.
fn gap_words(i: &Indicator) -> Option<String> {
    let (_, _, groups) = i.equity.as_ref()?;
    let worse_high = i.measure.better != "higher";
    let mut best: Option<(f64, String)> = None;
    for g in groups {
        let reference = g.rows.iter().find(|r| r.reference)?;
        for r in &g.rows {
            let Some(ratio) = r.ratio else { continue };
            let worse = if worse_high {
                ratio.low > 1.0
            } else {
                ratio.high < 1.0
            };
            if !worse {
                continue;
            }
            let size = if worse_high {
                ratio.ratio
            } else {
                1.0 / ratio.ratio
            };
            if best.as_ref().is_none_or(|(b, _)| size > *b) {
                best = Some((
                    size,
                    format!(
                        "{}: {} is {:.1} times the rate of {} (95% CI {:.1} to {:.1})",
                        g.words, r.value, ratio.ratio, reference.value, ratio.low, ratio.high
                    ),
                ));
            }
        }
    }
    best.map(|(_, w)| w)
}

fn magnet_words(i: &Indicator) -> (String, Option<bool>) {
    match &i.magnet {
        None => ("No complete quarter yet.".into(), None),
        Some(g) if g.units.is_empty() => ("No benchmark set for these units.".into(), None),
        Some(g) => {
            let units = g.units.len();
            let without = match g.no_benchmark.len() {
                0 => String::new(),
                1 => " (1 unit has no benchmark for its type)".into(),
                n => format!(" ({n} units have no benchmark for their type)"),
            };
            (
                format!(
                    "{} of {units} {} outperformed the benchmark in at least 5 of the last 8 quarters{without}: {}",
                    g.units_outperforming,
                    if units == 1 { "unit" } else { "units" },
                    if g.met { "the Magnet rule is met" } else { "the Magnet rule is not met" }
                ),
                Some(g.met),
            )
        }
    }
}

pub(crate) async fn overview(
    State(web): State<Web>,
    auth: crate::session::AuthExt,
) -> Result<Response, PageError> {
    let user = crate::session::user(&auth, access::Permission::Measures)?;
    let svc = web.quality()?;
    let w = web.clone();
    let u = user.clone();
    let (measures, computed) = blocking(move || {
        let access = w.access(&u)?;
        let all = svc.reports(&access).map_err(view::store_error)?;
        let mut out = Vec::new();
        for m in svc.suite().measures() {
            let Some(i) = svc
                .indicator(&access, &m.id, &all)
                .map_err(view::store_error)?
            else {
                continue;
            };
            let points = finished(&i.hospital);
            let chart = chart_of(&i, &points, false);
            let (variation, variation_words) = latest_words(&chart, &points, None);
            let latest = points
                .last()
                .map(|p| {
                    format!(
                        "{} in {}",
                        rate_words(&i, p.numerator, p.denominator),
                        month_words(&p.month)
                    )
                })
                .or_else(|| so_far(&i, &i.hospital))
                .unwrap_or_else(|| "No finished month yet".into());
            let (magnet, magnet_met) = magnet_words(&i);
            let gap = gap_words(&i);
            let risk = match variation {
                "concern" => 0,
                _ if magnet_met == Some(false) => 1,
                _ if gap.is_some() => 2,
                _ => 3,
            };
            out.push(Overview {
                id: m.id.clone(),
                title: m.title.clone(),
                latest,
                variation,
                variation_words,
                magnet,
                magnet_met,
                gap,
                risk,
            });
        }
        out.sort_by_key(|o| o.risk);
        let computed = svc.last_run().map(|r| r.at.timestamp_millis());
        Ok::<_, PageError>((out, computed))
    })
    .await?;
    Ok(view::render(&OverviewPage {
        computed: computed.map(|ms| {
            web.config
                .zone
                .clock_ms(ms, chrono::Utc::now().timestamp_millis())
        }),
        nav: Nav::new(&user, "quality", web.config.zone),
        measures,
    }))
}

#[derive(Debug, Default, Deserialize)]
pub(crate) struct Scope {
    #[serde(default)]
    unit: String,
    #[serde(default)]
    chart: String,
}

pub(crate) struct MonthRow {
    month: String,
    numerator: String,
    denominator: String,
    rate: String,
    signal: String,
    class: &'static str,
    /// The reports or the patients behind the number, for those who may see them: words
    /// and address.
    links: Vec<(&'static str, String)>,
}

pub(crate) struct MagnetRow {
    unit: String,
    unit_type: String,
    benchmark: String,
    /// (class, words) per quarter.
    cells: Vec<(&'static str, String)>,
    outperformed: usize,
    majority: bool,
}

pub(crate) struct EquityLine {
    value: String,
    rate: String,
    /// Bar length, 0–100.
    bar: f64,
    suppressed: bool,
    reference: bool,
    ratio: String,
    differs: bool,
}

#[derive(Template)]
#[template(path = "quality_measure.html")]
struct MeasurePage {
    nav: Nav,
    id: String,
    title: String,
    unit: String,
    source: String,
    better: String,
    scope_name: String,
    scope: String,
    scopes: Vec<(String, String)>,
    run: bool,
    chart_svg: String,
    chart_words: String,
    chart_class: &'static str,
    months: Vec<MonthRow>,
    drill: bool,
    /// The measure counts safety reports (which only the safety team may open).
    counts_reports: bool,
    /// The person may open the reports behind the numbers.
    reports_open: bool,
    quarters: Vec<String>,
    magnet: Vec<MagnetRow>,
    magnet_words: String,
    magnet_met: Option<bool>,
    /// The units left out of the Magnet rule for want of a benchmark, by name.
    no_benchmark: String,
    equity_period: String,
    equity: Vec<(String, Vec<EquityLine>)>,
}

pub(crate) async fn measure(
    State(web): State<Web>,
    auth: crate::session::AuthExt,
    Path(id): Path<String>,
    Query(scope): Query<Scope>,
) -> Result<Response, PageError> {
    let user = crate::session::user(&auth, access::Permission::Measures)?;
    web.quality()?;
    let w = web.clone();
    let u = user.clone();
    let drill = user.may(access::Permission::SafetyEvents);
    let cases = user.may(access::Permission::MeasureCases);
    let page = blocking(move || {
        let i = w.indicator(&u, &id)?;
        let run = scope.chart == "run";
        let (scope_name, points_all, benchmark) = if scope.unit.is_empty() {
            ("Whole hospital".to_string(), i.hospital.clone(), None)
        } else {
            let (unit, months) = i
                .units
                .iter()
                .find(|(u, _)| u.id == scope.unit)
                .ok_or_else(|| {
                    view::error_page(
                        axum::http::StatusCode::NOT_FOUND,
                        "This measure has no figures for that unit.",
                    )
                })?;
            (unit.name.clone(), months.clone(), unit.benchmark)
        };
        let points = finished(&points_all);
        let chart = chart_of(&i, &points, run);
        let (chart_class, chart_words) = latest_words(&chart, &points, so_far(&i, &points_all));
        let months: Vec<String> = points.iter().map(|p| p.month.clone()).collect();
        let tips: Vec<String> = points
            .iter()
            .map(|p| {
                format!(
                    "{}: {} ({} {}, {} {})",
                    month_words(&p.month),
                    rate_words(&i, p.numerator, p.denominator),
                    count(p.numerator),
                    i.measure.numerator,
                    count(p.denominator),
                    i.measure.denominator
                )
            })
            .collect();
        let aria = format!(
            "{} by month, {}. {}",
            i.measure.title, scope_name, chart_words
        );
        let chart_svg = svg(
            &chart,
            &months,
            &vec![false; months.len()],
            &tips,
            benchmark,
            &aria,
        );
        let drillable = drill && i.measure.views.iter().any(|v| v == "safety_event");
        let scope_query = if scope.unit.is_empty() {
            String::new()
        } else {
            format!("&unit={}", scope.unit)
        };
        let rows: Vec<MonthRow> = points_all
            .iter()
            .rev()
            .take(MONTHS + 1)
            .map(|p| {
                let at = chart.points.iter().position(|c| c.label == p.month);
                let cp = at.map(|k| &chart.points[k]);
                let (class, signal) = match cp.map(|c| (c.variation, c.rules.clone())) {
                    Some((Variation::Concern, r)) => (
                        "concern",
                        r.iter().map(|x| x.words()).collect::<Vec<_>>().join("; "),
                    ),
                    Some((Variation::Improvement, r)) => (
                        "improvement",
                        r.iter().map(|x| x.words()).collect::<Vec<_>>().join("; "),
                    ),
                    _ if p.pending => ("pending", "month still running".to_string()),
                    _ => ("common", String::new()),
                };
                MonthRow {
                    month: month_words(&p.month),
                    numerator: count(p.numerator),
                    denominator: count(p.denominator),
                    rate: rate_words(&i, p.numerator, p.denominator),
                    signal,
                    class,
                    links: [
                        (drillable && p.numerator > 0).then(|| {
                            (
                                "The reports",
                                format!(
                                    "/quality/measures/{}/events?month={}{scope_query}",
                                    i.measure.id, p.month
                                ),
                            )
                        }),
                        (cases
                            && measure_reports::counts_against(
                                &i.measure,
                                p.numerator,
                                p.denominator,
                            ))
                        .then(|| {
                            (
                                "The patients",
                                format!(
                                    "/quality/measures/{}/patients?month={}{scope_query}",
                                    i.measure.id, p.month
                                ),
                            )
                        }),
                    ]
                    .into_iter()
                    .flatten()
                    .collect(),
                }
            })
            .collect();
        let (magnet_words, magnet_met) = magnet_words(&i);
        let no_benchmark = i
            .magnet
            .iter()
            .flat_map(|g| &g.no_benchmark)
            .map(|id| {
                i.units
                    .iter()
                    .find(|(u, _)| u.id == *id)
                    .map_or(id.clone(), |(u, _)| u.name.clone())
            })
            .collect::<Vec<_>>()
            .join(", ");
        let (quarters, magnet) = match &i.magnet {
            Some(g) => (
                g.quarters.iter().map(|q| q.replace("-Q", " Q")).collect(),
                g.units
                    .iter()
                    .map(|row| {
                        let unit = i
                            .units
                            .iter()
                            .find(|(u, _)| u.id == row.unit)
                            .map(|(u, _)| u);
                        MagnetRow {
                            unit: unit.map_or(row.unit.clone(), |u| u.name.clone()),
                            unit_type: unit
                                .and_then(|u| u.unit_type.clone())
                                .unwrap_or_else(|| "No unit type".into()),
                            benchmark: unit
                                .and_then(|u| u.benchmark)
                                .map_or("none set".into(), num),
                            cells: row
                                .cells
                                .iter()
                                .zip(&g.quarters)
                                .map(|(c, q)| {
                                    let value = quarter_rate(&i, &row.unit, q);
                                    match c {
                                        quality::Cell::Outperformed => {
                                            ("met", format!("{} ✓", value.unwrap_or_default()))
                                        }
                                        quality::Cell::NotOutperformed => {
                                            ("missed", format!("{} ✗", value.unwrap_or_default()))
                                        }
                                        quality::Cell::NoData => ("nodata", "no data".into()),
                                    }
                                })
                                .collect(),
                            outperformed: row.outperformed,
                            majority: row.majority,
                        }
                    })
                    .collect(),
            ),
            None => (Vec::new(), Vec::new()),
        };
        let (equity_period, equity) = match &i.equity {
            Some((start, end, groups)) => {
                let max = groups
                    .iter()
                    .flat_map(|g| g.rows.iter().filter_map(|r| r.rate))
                    .fold(0.0_f64, f64::max);
                (
                    format!(
                        "{} to {}",
                        month_words(start.get(..7).unwrap_or(start)),
                        month_words(end.get(..7).unwrap_or(end))
                    ),
                    groups
                        .iter()
                        .map(|g| {
                            (
                                g.words.clone(),
                                g.rows
                                    .iter()
                                    .map(|r| EquityLine {
                                        value: r.value.clone(),
                                        rate: if r.suppressed {
                                            "fewer than 11 counted: not shown".into()
                                        } else {
                                            match (r.numerator, r.denominator) {
                                                (Some(n), Some(d)) if d > 0 => format!(
                                                    "{} ({} {} in {} {})",
                                                    rate_words(&i, n, d),
                                                    count(n),
                                                    i.measure.numerator,
                                                    count(d),
                                                    i.measure.denominator
                                                ),
                                                _ => "none counted".into(),
                                            }
                                        },
                                        bar: match (r.rate, max > 0.0) {
                                            (Some(v), true) => (v / max * 100.0).clamp(0.0, 100.0),
                                            _ => 0.0,
                                        },
                                        suppressed: r.suppressed,
                                        reference: r.reference,
                                        ratio: match r.ratio {
                                            Some(x) => format!(
                                                "{:.2} times the reference (95% CI {:.2} to {:.2})",
                                                x.ratio, x.low, x.high
                                            ),
                                            None if r.reference => "reference group".into(),
                                            None => String::new(),
                                        },
                                        differs: r.ratio.is_some_and(|x| x.differs()),
                                    })
                                    .collect(),
                            )
                        })
                        .collect(),
                )
            }
            None => (String::new(), Vec::new()),
        };
        let mut scopes = vec![(String::new(), "Whole hospital".to_string())];
        scopes.extend(i.units.iter().map(|(u, _)| (u.id.clone(), u.name.clone())));
        Ok::<_, PageError>(MeasurePage {
            nav: Nav::new(&u, "quality", w.config.zone),
            id: i.measure.id.clone(),
            title: i.measure.title.clone(),
            unit: i.measure.unit.clone(),
            source: i.measure.source.clone(),
            better: if i.measure.better == "higher" {
                "Higher is better".into()
            } else {
                "Lower is better".into()
            },
            scope_name,
            scope: scope.unit.clone(),
            scopes,
            run,
            chart_svg,
            chart_words,
            chart_class,
            months: rows,
            drill: drillable || cases,
            reports_open: drillable,
            counts_reports: i.measure.views.iter().any(|v| v == "safety_event"),
            quarters,
            magnet,
            magnet_words,
            magnet_met,
            no_benchmark,
            equity_period,
            equity,
        })
    })
    .await?;
    Ok(view::render(&page))
}

/// A unit's rate over a quarter (`YYYY-Qn`), in words.
fn quarter_rate(i: &Indicator, unit: &str, q: &str) -> Option<String> {
    let (first, last) = measure_reports::quarter_months(q)?;
    let months = &i.units.iter().find(|(x, _)| x.id == unit)?.1;
    let (n, d) = months
        .iter()
        .filter(|p| p.month >= first && p.month <= last)
        .fold((0, 0), |a, p| (a.0 + p.numerator, a.1 + p.denominator));
    (d > 0).then(|| num(n as f64 / d as f64 * i.measure.scale()))
}
