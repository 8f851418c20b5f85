//! The ward board's order, from `test_data/board-order.tsv`: riskiest first, whatever the
//! order the patients arrive in; an open alert or an overdue set never lifts a patient
//! above a higher band.

use early_warning::{AlertView, News2Summary, PatientStatus};

fn yes(s: &str) -> bool {
    s == "y"
}

fn rows() -> Vec<PatientStatus> {
    let text = include_str!("../test_data/board-order.tsv");
    text.lines()
        .filter(|l| !l.starts_with('#') && !l.trim().is_empty())
        .map(|l| {
            let f: Vec<&str> = l.split('\t').collect();
            assert_eq!(f.len(), 7, "seven columns: {l}");
            let score: u32 = f[3].parse().unwrap();
            let news2 = (f[1] != "-").then(|| News2Summary {
                id: format!("news2-{}", f[0]),
                total: yes(f[2]).then_some(score),
                partial_total: score,
                band: f[1].into(),
                complete: yes(f[2]),
                scale: 1,
                effective: "2026-12-06T10:00:00Z".into(),
                next_due: None,
                rising: yes(f[4]),
                response: None,
            });
            PatientStatus {
                patient: format!("Patient/{}", f[0].replace(' ', "")),
                encounter: "Encounter/e".into(),
                bed: None,
                bed_display: Some(f[0].into()),
                news2,
                qsofa: None,
                sirs: None,
                overdue: yes(f[5]),
                minutes_to_due: None,
                alert: yes(f[6]).then(|| AlertView {
                    overdue: yes(f[5]),
                    open: true,
                    band: f[1].into(),
                    ..AlertView::default()
                }),
            }
        })
        .collect()
}

fn beds(rows: &[PatientStatus]) -> Vec<String> {
    rows.iter()
        .map(|r| r.bed_display.clone().unwrap())
        .collect()
}

#[test]
fn the_riskiest_patient_is_on_top() {
    let expected = rows();
    assert!(expected.len() >= 20);
    // Reversed, rotated and interleaved arrivals all sort back to the listed order.
    let mut shuffles = vec![expected.iter().rev().cloned().collect::<Vec<_>>()];
    for k in [3, 7, 11] {
        let mut r = expected.clone();
        r.rotate_left(k);
        shuffles.push(r);
    }
    let (even, odd): (Vec<_>, Vec<_>) = expected
        .iter()
        .cloned()
        .enumerate()
        .partition(|(i, _)| i % 2 == 0);
    shuffles.push(odd.into_iter().chain(even).map(|(_, r)| r).collect());
    for mut s in shuffles {
        s.sort_by(early_warning::ranking::most_at_risk_first);
        assert_eq!(beds(&s), beds(&expected));
    }
}

#[test]
fn beds_sort_by_number() {
    use early_warning::ranking::bed_order;
    use std::cmp::Ordering::*;
    assert_eq!(bed_order(Some("Bed 2"), Some("Bed 10")), Less);
    assert_eq!(bed_order(Some("Bay 1 Bed 10"), Some("Bay 2 Bed 1")), Less);
    assert_eq!(bed_order(Some("Bed 3"), None), Less);
}

#[test]
fn the_inbox_answers_the_higher_band_first_however_late_the_lower_one_is() {
    let alert = |band: &str, overdue: bool, ms: i64| AlertView {
        band: band.into(),
        open: true,
        overdue,
        ms_to_deadline: ms,
        ..AlertView::default()
    };
    let mut v = [
        alert("low-medium", true, -600_000),
        alert("high", false, 300_000),
        alert("medium", false, 1_200_000),
        alert("medium", true, -60_000),
        AlertView {
            open: false,
            ..alert("high", false, 0)
        },
    ];
    v.sort_by(early_warning::ranking::most_urgent_alert_first);
    let got: Vec<(String, bool, bool)> = v
        .iter()
        .map(|a| (a.band.clone(), a.overdue, a.open))
        .collect();
    assert_eq!(
        got,
        [
            ("high".to_string(), false, true),
            ("medium".to_string(), true, true),
            ("medium".to_string(), false, true),
            ("low-medium".to_string(), true, true),
            ("high".to_string(), false, false),
        ]
    );
}
