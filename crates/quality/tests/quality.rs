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
                    benchmark: Some(bench[i]),
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
    }
    assert!(evaluate(&[], Better::Lower, "2026-Q5").is_none());
}
