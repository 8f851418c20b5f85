//! A measure's months as a server-rendered SVG control chart (no script, no external
//! asset): the values joined by a line, the centre line, the process limits as steps (they
//! widen in months with fewer days), the benchmark dashed, and each point coloured by what
//! it says (grey: common cause; orange: a concern; blue: an improvement, as *Making Data
//! Count* colours them). Every point has a tooltip in words; the chart's label says what the
//! latest month shows. Only numbers and month names go into the SVG.

use quality::spc::{Chart, Variation};

const W: f64 = 760.0;
const H: f64 = 260.0;
const LEFT: f64 = 48.0;
const RIGHT: f64 = 16.0;
const TOP: f64 = 14.0;
const BOTTOM: f64 = 34.0;

/// `2026-05` → `May 2026`.
pub(crate) fn month_words(month: &str) -> String {
    chrono::NaiveDate::parse_from_str(&format!("{month}-01"), "%Y-%m-%d")
        .map(|d| d.format("%B %Y").to_string())
        .unwrap_or_else(|_| month.to_string())
}

/// A month's axis label: with the year when it is not the year of the label before.
fn short(month: &str, year_shown: &mut String) -> String {
    chrono::NaiveDate::parse_from_str(&format!("{month}-01"), "%Y-%m-%d")
        .map(|d| {
            let year = d.format("%Y").to_string();
            if *year_shown != year {
                *year_shown = year;
                d.format("%b %Y").to_string()
            } else {
                d.format("%b").to_string()
            }
        })
        .unwrap_or_else(|_| month.to_string())
}

/// A count with thousands separated: `33811` → `33,811`.
pub(crate) fn count(n: i64) -> String {
    let digits = n.unsigned_abs().to_string();
    let mut out = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    if n < 0 {
        format!("-{out}")
    } else {
        out
    }
}

/// The value with the decimals a rate needs.
pub(crate) fn num(v: f64) -> String {
    if v >= 100.0 {
        format!("{v:.0}")
    } else if v >= 10.0 {
        format!("{v:.1}")
    } else {
        format!("{v:.2}")
    }
}

/// The SVG of `chart`; `labels` are the points' months, `pending` marks a month still
/// running, `tips` the words for each point's tooltip.
pub(crate) fn svg(
    chart: &Chart,
    months: &[String],
    pending: &[bool],
    tips: &[String],
    benchmark: Option<f64>,
    aria: &str,
) -> String {
    let n = chart.points.len().max(1);
    let top_value = chart
        .points
        .iter()
        .flat_map(|p| [p.value, p.upper])
        .flatten()
        .chain(benchmark)
        .chain(chart.centre)
        .fold(0.0_f64, f64::max);
    // Gridlines at a round step (1, 2, 2.5 or 5 times a power of ten), about four of them.
    let top = if top_value <= 0.0 {
        1.0
    } else {
        top_value * 1.05
    };
    let step = nice_step(top / 4.0);
    let lines = (top / step).ceil().max(1.0) as usize;
    let ymax = step * lines as f64;
    let x = |i: usize| {
        if n == 1 {
            LEFT + (W - LEFT - RIGHT) / 2.0
        } else {
            LEFT + (W - LEFT - RIGHT) * i as f64 / (n - 1) as f64
        }
    };
    let y = |v: f64| TOP + (H - TOP - BOTTOM) * (1.0 - v / ymax);
    let mut s = format!(
        r#"<svg class="spc" viewBox="0 0 {W} {H}" role="img" aria-label="{}" xmlns="http://www.w3.org/2000/svg">"#,
        attr(aria)
    );
    // Axis and gridlines at quarters of the range.
    for k in 0..=lines {
        let v = step * k as f64;
        let yy = y(v);
        s.push_str(&format!(
            r#"<line class="grid" x1="{LEFT}" x2="{}" y1="{yy:.1}" y2="{yy:.1}"/><text class="tick" x="{}" y="{:.1}" text-anchor="end">{}</text>"#,
            W - RIGHT,
            LEFT - 6.0,
            yy + 4.0,
            tick(v)
        ));
    }
    let every = (n / 12).max(1);
    let mut year_shown = String::new();
    for (i, m) in months.iter().enumerate() {
        if i % every == 0 || i + 1 == n {
            s.push_str(&format!(
                r#"<text class="tick" x="{:.1}" y="{}" text-anchor="middle">{}</text>"#,
                x(i),
                H - BOTTOM + 16.0,
                short(m, &mut year_shown)
            ));
        }
    }
    // Limits as steps.
    for upper in [true, false] {
        let mut d = String::new();
        for (i, p) in chart.points.iter().enumerate() {
            let Some(v) = (if upper { p.upper } else { p.lower }) else {
                continue;
            };
            let (x0, x1) = (
                if i == 0 {
                    x(0)
                } else {
                    (x(i - 1) + x(i)) / 2.0
                },
                if i + 1 == n {
                    x(i)
                } else {
                    (x(i) + x(i + 1)) / 2.0
                },
            );
            let cmd = if d.is_empty() { 'M' } else { 'L' };
            d.push_str(&format!("{cmd}{x0:.1},{:.1} L{x1:.1},{:.1} ", y(v), y(v)));
        }
        if !d.is_empty() {
            s.push_str(&format!(r#"<path class="limit" d="{}"/>"#, d.trim_end()));
        }
    }
    if let Some(c) = chart.centre {
        s.push_str(&format!(
            r#"<line class="centre" x1="{LEFT}" x2="{}" y1="{:.1}" y2="{:.1}"/>"#,
            W - RIGHT,
            y(c),
            y(c)
        ));
    }
    if let Some(b) = benchmark {
        s.push_str(&format!(
            r#"<line class="benchmark" x1="{LEFT}" x2="{}" y1="{:.1}" y2="{:.1}"/><text class="tick bench-label" x="{}" y="{:.1}" text-anchor="end">benchmark {}</text>"#,
            W - RIGHT,
            y(b),
            y(b),
            W - RIGHT,
            y(b) - 4.0,
            num(b)
        ));
    }
    let line: Vec<String> = chart
        .points
        .iter()
        .enumerate()
        .filter_map(|(i, p)| p.value.map(|v| format!("{:.1},{:.1}", x(i), y(v))))
        .collect();
    if line.len() > 1 {
        s.push_str(&format!(
            r#"<polyline class="values" points="{}"/>"#,
            line.join(" ")
        ));
    }
    for (i, p) in chart.points.iter().enumerate() {
        let Some(v) = p.value else { continue };
        let class = match p.variation {
            Variation::Common => "common",
            Variation::Concern => "concern",
            Variation::Improvement => "improvement",
        };
        let hollow = if pending.get(i).copied().unwrap_or(false) {
            " pending"
        } else {
            ""
        };
        s.push_str(&format!(
            r#"<circle class="pt {class}{hollow}" cx="{:.1}" cy="{:.1}" r="4.5"><title>{}</title></circle>"#,
            x(i),
            y(v),
            attr(tips.get(i).map(String::as_str).unwrap_or(""))
        ));
    }
    s.push_str("</svg>");
    s
}

/// A round step at or above `raw`: 1, 2, 2.5 or 5 times a power of ten.
fn nice_step(raw: f64) -> f64 {
    if raw <= 0.0 || !raw.is_finite() {
        return 1.0;
    }
    let power = 10f64.powf(raw.log10().floor());
    [1.0, 2.0, 2.5, 5.0, 10.0]
        .iter()
        .map(|m| m * power)
        .find(|s| *s >= raw * 0.999_999)
        .unwrap_or(10.0 * power)
}

/// A gridline's label: no more decimals than the step needs.
fn tick(v: f64) -> String {
    let s = format!("{v:.2}");
    s.trim_end_matches('0').trim_end_matches('.').to_string()
}

/// Text made safe inside an attribute or element.
fn attr(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

#[cfg(test)]
mod tests {
    use super::*;
    use quality::spc::{chart, Kind, Period};

    #[test]
    fn the_chart_draws_every_point_with_its_words_and_escapes_them() {
        let periods: Vec<Period> = (0..14)
            .map(|i| Period {
                label: format!("2026-{:02}", i % 12 + 1),
                numerator: if i == 13 { 20.0 } else { 3.0 },
                denominator: 1000.0,
            })
            .collect();
        let c = chart(Kind::U, &periods, 1000.0, quality::Better::Lower);
        let months: Vec<String> = periods.iter().map(|p| p.label.clone()).collect();
        let tips: Vec<String> = (0..14).map(|i| format!("point {i} <&>")).collect();
        let svg = svg(
            &c,
            &months,
            &[false; 14],
            &tips,
            Some(2.75),
            "Falls \"by\" month",
        );
        assert_eq!(svg.matches("<circle").count(), 14);
        assert!(
            svg.contains("pt concern"),
            "the last month is outside the limits"
        );
        assert!(svg.contains("point 3 &lt;&amp;&gt;"));
        assert!(svg.contains("aria-label=\"Falls &quot;by&quot; month\""));
        assert!(svg.contains("class=\"benchmark\""));
        assert!(svg.contains("class=\"limit\""));
    }

    #[test]
    fn gridlines_fall_on_round_numbers() {
        assert_eq!(nice_step(2.46), 2.5);
        assert_eq!(nice_step(0.3), 0.5);
        assert_eq!(nice_step(1.0), 1.0);
        assert_eq!(nice_step(7.0), 10.0);
        assert_eq!(tick(2.5), "2.5");
        assert_eq!(tick(10.0), "10");
        assert_eq!(tick(0.25), "0.25");
        assert_eq!(count(33811), "33,811");
        assert_eq!(count(999), "999");
        assert_eq!(count(1_000_000), "1,000,000");
    }
}
