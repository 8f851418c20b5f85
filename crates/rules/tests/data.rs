//! The scores against their published tables, from the data files in `test_data/`: every
//! boundary of every NEWS2 parameter on both SpO2 scales, whole sets and their bands,
//! incomplete sets, qSOFA and SIRS with unknown criteria; every boundary of every national PEWS
//! item in every age band, its escalation criteria, whole sets and the age bands.

use rules::news2::{self, Acvpu, Band, Param, Scale, Vitals};
use rules::pews::{self, AgeBand, CivilDate};
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

fn pews_oxygen(s: &str) -> Option<pews::Oxygen> {
    if s == "-" {
        None
    } else if s == "air" {
        Some(pews::Oxygen::Air)
    } else if let Some(p) = s.strip_suffix('%') {
        Some(pews::Oxygen::Percent(dec(p)?))
    } else if let Some(l) = s.strip_suffix('L') {
        Some(pews::Oxygen::LitresPerMinute(dec(l)?))
    } else {
        panic!("bad oxygen {s}")
    }
}

fn pews_bp(inputs: &mut pews::Inputs, s: &str) {
    match pews::BpNotObtained::parse(s) {
        Some(code) => inputs.bp_not_obtained = Some(code),
        None => inputs.systolic_bp = dec(s),
    }
}

fn band(s: &str) -> AgeBand {
    AgeBand::parse(s).unwrap_or_else(|| panic!("bad band {s}"))
}

fn points(s: &str) -> Option<u32> {
    (s != "-").then(|| s.parse().unwrap())
}

#[test]
fn every_pews_boundary_scores_as_the_national_charts() {
    use pews::Param as P;
    let mut seen = std::collections::HashSet::new();
    let mut n = 0;
    for (line, r) in rows("pews-parameters.tsv") {
        let param = P::parse(&r[0]).unwrap_or_else(|| panic!("line {line}: {}", r[0]));
        let b = band(&r[1]);
        seen.insert((param, b));
        let mut v = pews::Inputs {
            device: (r[3] != "-").then(|| pews::Device::parse(&r[3]).unwrap()),
            ..pews::Inputs::default()
        };
        match param {
            P::RespiratoryRate => v.respiratory_rate = dec(&r[2]),
            P::RespiratoryDistress => v.respiratory_distress = pews::Distress::parse(&r[2]),
            P::SpO2 => v.spo2 = dec(&r[2]),
            P::OxygenDelivery => v.oxygen = pews_oxygen(&r[2]),
            P::HeartRate => v.heart_rate = dec(&r[2]),
            P::SystolicBp => pews_bp(&mut v, &r[2]),
            P::CapillaryRefill => v.capillary_refill = dec(&r[2]),
        }
        let s = pews::score(&v, b);
        let want = points(&r[4]);
        assert_eq!(
            s.points(param),
            want,
            "line {line}: {} {} {} device {}",
            r[0],
            r[1],
            r[2],
            r[3]
        );
        if want.is_none() {
            assert!(s.missing.iter().any(|m| m.param == param), "line {line}");
        }
        n += 1;
    }
    assert_eq!(seen.len(), 7 * 4, "every item has rows in every age band");
    assert!(n > 300);
}

#[test]
fn pews_escalates_to_the_highest_criterion() {
    for (line, r) in rows("pews-escalation.tsv") {
        let avpu = |s: &str| (s != "-").then(|| pews::Avpu::parse(s).unwrap());
        let level = |s: &str| pews::Level::parse(s).unwrap_or_else(|| panic!("line {line}: {s}"));
        let carer = match r[7].as_str() {
            "-" => None,
            "S" => Some(pews::Carer::Same),
            "B" => Some(pews::Carer::Better),
            "A" => Some(pews::Carer::Asleep),
            "U" => Some(pews::Carer::Unavailable),
            w => Some(pews::Carer::Worse(level(w.strip_prefix("W:").unwrap()))),
        };
        let t = pews::Triggers {
            avpu: avpu(&r[2]),
            previous_avpu: avpu(&r[3]),
            abnormal_pupils: r[4] == "y",
            new_sepsis_suspicion: r[5] == "y",
            new_septic_shock_suspicion: r[6] == "y",
            carer,
            clinical_intuition: (r[8] != "-").then(|| level(&r[8])),
        };
        let e = pews::escalate(r[0].parse().unwrap(), r[1] == "yes", &t);
        assert_eq!(e.level, level(&r[9]), "line {line}: level {e:?}");
        assert_eq!(
            e.reason_codes().join(","),
            r[10],
            "line {line}: reasons {e:?}"
        );
    }
}

#[test]
fn pews_sets_total_level_and_next_observations() {
    for (line, r) in rows("pews-sets.tsv") {
        let mut v = pews::Inputs {
            respiratory_rate: dec(&r[1]),
            respiratory_distress: (r[2] != "-").then(|| pews::Distress::parse(&r[2]).unwrap()),
            spo2: dec(&r[3]),
            device: (r[4] != "-").then(|| pews::Device::parse(&r[4]).unwrap()),
            oxygen: pews_oxygen(&r[5]),
            heart_rate: dec(&r[6]),
            capillary_refill: dec(&r[8]),
            ..pews::Inputs::default()
        };
        pews_bp(&mut v, &r[7]);
        let s = pews::score(&v, band(&r[0]));
        assert_eq!(s.total, points(&r[9]), "line {line}: total {s:?}");
        assert_eq!(
            s.partial_total,
            r[10].parse::<u32>().unwrap(),
            "line {line}"
        );
        assert_eq!(s.max_possible, r[11].parse::<u32>().unwrap(), "line {line}");
        assert_eq!(s.level().code(), r[12], "line {line}: level");
        assert_eq!(s.next_observation_minutes(), points(&r[13]), "line {line}");
        assert_eq!(s.items.len() + s.missing.len(), 7, "line {line}");
        assert_eq!(
            s.items.iter().map(|i| i.points).sum::<u32>(),
            s.partial_total,
            "line {line}: explanation adds up"
        );
    }
}

#[test]
fn pews_age_bands_from_dates() {
    for (line, r) in rows("pews-age-bands.tsv") {
        let (birth, on) = (
            CivilDate::parse(&r[0]).unwrap(),
            CivilDate::parse(&r[1]).unwrap(),
        );
        assert_eq!(
            pews::completed_months(birth, on),
            points(&r[2]),
            "line {line}"
        );
        assert_eq!(
            pews::age_band(birth, on),
            (r[3] != "-").then(|| band(&r[3])),
            "line {line}"
        );
    }
}

#[test]
fn pews_levels_carry_the_chart_response() {
    use pews::{Level, Observe};
    assert_eq!(Level::None.response(), None);
    assert_eq!(Level::None.observe(), None);
    assert_eq!(Level::Low.observe(), Some(Observe::Within(60)));
    assert_eq!(Level::Medium.observe(), Some(Observe::Within(30)));
    assert_eq!(Level::High.observe(), Some(Observe::Every(30)));
    assert_eq!(Level::Emergency.observe(), Some(Observe::Every(15)));
    assert_eq!(Level::Low.medical_review_minutes(), None);
    assert_eq!(Level::Medium.medical_review_minutes(), Some(30));
    assert_eq!(Level::High.medical_review_minutes(), Some(15));
    assert_eq!(Level::Emergency.medical_review_minutes(), Some(0));
    assert!(Level::Emergency
        .response()
        .unwrap()
        .starts_with("Immediate 2222 call"));
    for l in Level::ALL {
        assert_eq!(Level::parse(l.code()), Some(l));
    }
}
