//! The arithmetic from `tests/data/`: ratios with their intervals worked independently, and
//! Magnet grids worked by hand.

use quality::{evaluate, rate_ratio, risk_ratio, Better, Cell, UnitQuarter};
use serde_json::Value;

fn load(name: &str) -> Value {
    let path = format!("{}/tests/data/{name}", env!("CARGO_MANIFEST_DIR"));
    serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}

#[test]
fn ratios_and_their_intervals() {
    for case in load("ratios.json")["cases"].as_array().unwrap() {
        let name = case["name"].as_str().unwrap();
        let n = |k: &str| case[k].as_f64().unwrap();
        let u = |k: &str| case[k].as_u64().unwrap();
        let got = match case["kind"].as_str().unwrap() {
            "rate" => rate_ratio(u("a"), n("t1"), u("b"), n("t0")),
            _ => risk_ratio(u("a"), u("n1"), u("b"), u("n0")),
        };
        match case["expect"].as_array() {
            None => assert_eq!(got, None, "{name}"),
            Some(want) => {
                let got = got.unwrap_or_else(|| panic!("{name}: undefined"));
                for (g, w) in [got.ratio, got.low, got.high].iter().zip(want) {
                    let w = w.as_f64().unwrap();
                    assert!((g - w).abs() < 1e-9 * w.max(1.0), "{name}: {g} against {w}");
                }
                assert_eq!(got.differs(), case["differs"].as_bool().unwrap(), "{name}");
            }
        }
    }
}

#[test]
fn the_magnet_rule() {
    for case in load("magnet.json")["cases"].as_array().unwrap() {
        let name = case["name"].as_str().unwrap();
        let better = match case["better"].as_str().unwrap() {
            "lower" => Better::Lower,
            _ => Better::Higher,
        };
        let last = case["last"].as_str().unwrap();
        let quarters = quality::magnet::last_quarters(last).unwrap();
        let bench: Vec<f64> = case["benchmark"]
            .as_array()
            .unwrap()
            .iter()
            .map(|b| b.as_f64().unwrap())
            .collect();
        let mut values = Vec::new();
        for (unit, vs) in case["units"].as_object().unwrap() {
            for (i, v) in vs.as_array().unwrap().iter().enumerate() {
                values.push(UnitQuarter {
                    unit: unit.clone(),
                    quarter: quarters[i].clone(),
                    value: v.as_f64(),
                    benchmark: (!case["no_benchmark"]
                        .as_array()
                        .is_some_and(|n| n.iter().any(|u| u == unit.as_str())))
                    .then_some(bench[i]),
                });
            }
        }
        let grid = evaluate(&values, better, last).unwrap();
        let e = &case["expect"];
        if let Some(q) = e.get("quarters") {
            let want: Vec<&str> = q
                .as_array()
                .unwrap()
                .iter()
                .map(|x| x.as_str().unwrap())
                .collect();
            assert_eq!(grid.quarters, want, "{name}");
        }
        for row in &grid.units {
            let drawn: String = row
                .cells
                .iter()
                .map(|c| match c {
                    Cell::Outperformed => 'O',
                    Cell::NotOutperformed => 'x',
                    Cell::NoData => '-',
                })
                .collect();
            assert_eq!(drawn, e["cells"][&row.unit], "{name}: {}", row.unit);
        }
        assert_eq!(
            grid.units_outperforming as u64,
            e["units_outperforming"].as_u64().unwrap(),
            "{name}"
        );
        assert_eq!(grid.met, e["met"].as_bool().unwrap(), "{name}");
        let left_out: Vec<&str> = e["no_benchmark"]
            .as_array()
            .map(|n| n.iter().map(|u| u.as_str().unwrap()).collect())
            .unwrap_or_default();
        assert_eq!(grid.no_benchmark, left_out, "{name}");
    }
    assert!(evaluate(&[], Better::Lower, "2026-Q5").is_none());
}

#[test]
fn control_and_run_charts() {
    use quality::spc::{chart, Kind, Period, Rule, Variation};
    for case in load("spc.json")["cases"].as_array().unwrap() {
        let name = case["name"].as_str().unwrap();
        let nums = case["numerators"].as_array().unwrap();
        let periods: Vec<Period> = nums
            .iter()
            .enumerate()
            .map(|(i, n)| Period {
                label: format!("p{i}"),
                numerator: n.as_f64().unwrap(),
                denominator: case["denominators"]
                    .as_array()
                    .map(|d| d[i].as_f64().unwrap())
                    .unwrap_or_else(|| case["denominator"].as_f64().unwrap()),
            })
            .collect();
        let kind = match case["kind"].as_str().unwrap() {
            "u" => Kind::U,
            "p" => Kind::P,
            _ => Kind::Run,
        };
        let better = match case["better"].as_str().unwrap() {
            "lower" => Better::Lower,
            _ => Better::Higher,
        };
        let c = chart(kind, &periods, case["scale"].as_f64().unwrap(), better);
        let close = |a: f64, b: f64| (a - b).abs() < 1e-9 * b.abs().max(1.0);
        assert!(
            close(c.centre.unwrap(), case["centre"].as_f64().unwrap()),
            "{name}: centre {:?}",
            c.centre
        );
        if let Some(i) = case["check_point"].as_u64() {
            let p = &c.points[i as usize];
            assert!(
                close(p.upper.unwrap(), case["upper"].as_f64().unwrap()),
                "{name}: upper {:?}",
                p.upper
            );
            assert!(
                close(p.lower.unwrap(), case["lower"].as_f64().unwrap()),
                "{name}: lower {:?}",
                p.lower
            );
        }
        for (i, p) in c.points.iter().enumerate() {
            let want: Vec<Rule> = case["signals"][i.to_string()]
                .as_array()
                .map(|a| {
                    a.iter()
                        .map(|r| match r.as_str().unwrap() {
                            "outside" => Rule::OutsideLimits,
                            "shift" => Rule::Shift,
                            "trend" => Rule::Trend,
                            _ => Rule::TwoOfThree,
                        })
                        .collect()
                })
                .unwrap_or_default();
            assert_eq!(p.rules, want, "{name}: point {i}");
            let variation = match case["variation"][i.to_string()].as_str() {
                Some("concern") => Variation::Concern,
                Some("improvement") => Variation::Improvement,
                _ => Variation::Common,
            };
            assert_eq!(p.variation, variation, "{name}: point {i}");
        }
        for m in case["missing"].as_array().into_iter().flatten() {
            assert_eq!(c.points[m.as_u64().unwrap() as usize].value, None, "{name}");
        }
    }
}
