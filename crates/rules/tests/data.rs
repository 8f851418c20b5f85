//! The scores against their published tables, from the data files in `test_data/`: every
//! boundary of every NEWS2 parameter on both SpO2 scales, whole sets and their bands,
//! incomplete sets, qSOFA and SIRS with unknown criteria.

use rules::news2::{self, Acvpu, Band, Param, Scale, Vitals};
use rules::sepsis::{self, QsofaInputs, Screen, SirsInputs};
use rules::Decimal;

fn rows(name: &str) -> Vec<(usize, Vec<String>)> {
    let path = format!("{}/test_data/{name}", env!("CARGO_MANIFEST_DIR"));
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}"));
    text.lines()
        .enumerate()
        .filter(|(_, l)| !l.trim().is_empty() && !l.starts_with('#'))
        .map(|(i, l)| (i + 1, l.split('\t').map(str::to_string).collect()))
        .collect()
}

fn dec(s: &str) -> Option<Decimal> {
    (s != "-").then(|| Decimal::parse(s).unwrap_or_else(|| panic!("bad number {s}")))
}

fn oxygen(s: &str) -> Option<bool> {
    match s {
        "air" => Some(false),
        "oxygen" => Some(true),
        _ => None,
    }
}

fn scale(s: &str) -> Scale {
    if s == "2" {
        Scale::Two
    } else {
        Scale::One
    }
}

#[test]
fn every_parameter_boundary_scores_as_chart_1() {
    let mut seen = std::collections::HashSet::new();
    let mut n = 0;
    for (line, r) in rows("news2-parameters.tsv") {
        let param = Param::parse(&r[0]).unwrap_or_else(|| panic!("line {line}: {}", r[0]));
        seen.insert(param);
        let mut v = Vitals {
            oxygen: oxygen(&r[3]),
            ..Vitals::default()
        };
        match param {
            Param::RespirationRate => v.respiration_rate = dec(&r[1]),
            Param::SpO2 => v.spo2 = dec(&r[1]),
            Param::AirOrOxygen => {}
            Param::SystolicBp => v.systolic_bp = dec(&r[1]),
            Param::Pulse => v.pulse = dec(&r[1]),
            Param::Consciousness => v.consciousness = Acvpu::parse(&r[1]),
            Param::Temperature => v.temperature = dec(&r[1]),
        }
        let s = news2::score(&v, scale(&r[2]));
        let want: Option<u32> = (r[4] != "-").then(|| r[4].parse().unwrap());
        assert_eq!(
            s.points(param),
            want,
            "line {line}: {param:?} {} scale {}",
            r[1],
            r[2]
        );
        if want.is_none() {
            assert!(s.missing.iter().any(|m| m.param == param), "line {line}");
        }
        n += 1;
    }
    assert_eq!(seen.len(), 7, "every parameter has rows");
    assert!(n > 90);
}

#[test]
fn sets_total_and_band_by_precedence() {
    for (line, r) in rows("news2-sets.tsv") {
        let v = Vitals {
            respiration_rate: dec(&r[0]),
            spo2: dec(&r[1]),
            oxygen: oxygen(&r[2]),
            systolic_bp: dec(&r[3]),
            pulse: dec(&r[4]),
            consciousness: (r[5] != "-").then(|| Acvpu::parse(&r[5]).unwrap()),
            temperature: dec(&r[6]),
        };
        let s = news2::score(&v, scale(&r[7]));
        let total: Option<u32> = (r[8] != "-").then(|| r[8].parse().unwrap());
        assert_eq!(s.total, total, "line {line}: total");
        assert_eq!(
            s.partial_total,
            r[9].parse::<u32>().unwrap(),
            "line {line}: partial"
        );
        assert_eq!(s.band, Band::parse(&r[10]).unwrap(), "line {line}: band");
        assert_eq!(
            s.max_possible,
            r[11].parse::<u32>().unwrap(),
            "line {line}: max"
        );
        assert_eq!(
            s.items.iter().map(|i| i.points).sum::<u32>(),
            s.partial_total,
            "line {line}: explanation adds up"
        );
    }
}

fn screen(s: &str) -> Screen {
    match s {
        "positive" => Screen::Positive,
        "negative" => Screen::Negative,
        _ => Screen::Indeterminate,
    }
}

#[test]
fn qsofa_counts_criteria_and_never_assumes_negative() {
    for (line, r) in rows("qsofa.tsv") {
        let res = sepsis::qsofa(&QsofaInputs {
            respiration_rate: dec(&r[0]),
            systolic_bp: dec(&r[1]),
            gcs: dec(&r[2]),
            consciousness: (r[3] != "-").then(|| Acvpu::parse(&r[3]).unwrap()),
        });
        assert_eq!(res.met, r[4].parse::<u32>().unwrap(), "line {line}: met");
        assert_eq!(
            res.unknown,
            r[5].parse::<u32>().unwrap(),
            "line {line}: unknown"
        );
        assert_eq!(res.screen, screen(&r[6]), "line {line}: screen");
    }
}

#[test]
fn sirs_uses_strict_inequalities() {
    for (line, r) in rows("sirs.tsv") {
        let res = sepsis::sirs(&SirsInputs {
            temperature: dec(&r[0]),
            heart_rate: dec(&r[1]),
            respiration_rate: dec(&r[2]),
            paco2: dec(&r[3]),
            wbc: dec(&r[4]),
            bands: dec(&r[5]),
        });
        assert_eq!(res.met, r[6].parse::<u32>().unwrap(), "line {line}: met");
        assert_eq!(
            res.unknown,
            r[7].parse::<u32>().unwrap(),
            "line {line}: unknown"
        );
        assert_eq!(res.screen, screen(&r[8]), "line {line}: screen");
    }
}

#[test]
fn bands_carry_response_and_monitoring() {
    use rules::Monitoring;
    assert_eq!(Band::Zero.monitoring(), Monitoring::Every(720));
    assert_eq!(Band::Low.monitoring(), Monitoring::Every(240));
    assert_eq!(Band::LowMedium.monitoring(), Monitoring::Every(60));
    assert_eq!(Band::Medium.monitoring(), Monitoring::Every(60));
    assert_eq!(Band::High.monitoring(), Monitoring::Continuous);
    assert!(!Band::Low.alerts() && Band::LowMedium.alerts());
    for b in Band::ALL {
        assert!(!b.response().is_empty());
        assert_eq!(Band::parse(b.code()), Some(b));
    }
}
