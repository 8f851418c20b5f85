//! The ward board's order: the riskiest patient first.
//!
//! By NEWS2 band (high, medium, low-medium, low, zero), then the score, then a rising trend,
//! then an overdue set; patients without a set that implies any risk (no set yet, or an
//! incomplete set whose readings so far score nothing) come last, where a nurse's eye goes
//! to "who still needs observing". An incomplete set is placed by the least band its
//! readings imply (missing parameters can only add points: RCP NEWS2, 2017, chart 1), so a
//! sick patient with a missing reading is never buried. An open alert or an overdue set is
//! shown as what it is, on the row; it never lifts a patient above a higher band (a NEWS2
//! of 4 with an overdue alert stays below a 13). Ties keep bed order.
//!
//! A child's PEWS is placed by its escalation level beside the NEWS2 band that asks for a
//! response as fast: low beside low, medium beside medium, high beside high, and emergency
//! (an immediate emergency call) above everything.

use std::cmp::Ordering;

use rules::{pews, Band, Trigger};

use crate::codes::ScoreKind;

use crate::PatientStatus;

/// What the order looks at, per patient (highest first, field by field).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct Risk {
    /// 0: no set implying any risk; then zero, low, low-medium, medium, high (1–5); a PEWS
    /// emergency 6.
    pub tier: u8,
    /// The total, or the partial total of an incomplete set.
    pub score: u32,
    pub rising: bool,
    pub overdue: bool,
}

impl Risk {
    /// The risk of a patient's latest NEWS2 (`band` as stored, e.g. `low-medium`).
    pub fn new(
        band: Option<&str>,
        complete: bool,
        score: u32,
        rising: bool,
        overdue: bool,
    ) -> Risk {
        let tier = match band.and_then(Band::parse) {
            Some(Band::High) => 5,
            Some(Band::Medium) => 4,
            Some(Band::LowMedium) => 3,
            Some(Band::Low) => 2,
            Some(Band::Zero) if complete => 1,
            _ => 0,
        };
        Risk {
            tier,
            score,
            rising,
            overdue,
        }
    }

    /// The risk of a child's latest PEWS (`level` as stored, e.g. `medium`).
    pub fn of_pews(level: Option<&str>, complete: bool, score: u32, overdue: bool) -> Risk {
        let tier = match level.and_then(pews::Level::parse) {
            Some(pews::Level::Emergency) => 6,
            Some(pews::Level::High) => 5,
            Some(pews::Level::Medium) => 4,
            Some(pews::Level::Low) => 2,
            Some(pews::Level::None) if complete => 1,
            _ => 0,
        };
        Risk {
            tier,
            score,
            rising: false,
            overdue,
        }
    }

    /// The risk shown by a board row.
    pub fn of(p: &PatientStatus) -> Risk {
        match &p.news2 {
            Some(n) if n.kind() == ScoreKind::Pews => Risk::of_pews(
                Some(&n.band),
                n.complete,
                n.total.unwrap_or(n.partial_total),
                p.overdue,
            ),
            Some(n) => Risk::new(
                Some(&n.band),
                n.complete,
                n.total.unwrap_or(n.partial_total),
                n.rising,
                p.overdue,
            ),
            None => Risk::new(None, false, 0, false, p.overdue),
        }
    }
}

/// The board's order: riskiest first, then bed.
pub fn most_at_risk_first(a: &PatientStatus, b: &PatientStatus) -> Ordering {
    Risk::of(b)
        .cmp(&Risk::of(a))
        .then_with(|| bed_order(a.bed_display.as_deref(), b.bed_display.as_deref()))
}

/// Beds in the order they are numbered on the ward ("Bed 2" before "Bed 10"); none last.
pub fn bed_order(a: Option<&str>, b: Option<&str>) -> Ordering {
    match (a, b) {
        (Some(a), Some(b)) => natural(a).cmp(&natural(b)),
        (Some(_), None) => Ordering::Less,
        (None, Some(_)) => Ordering::Greater,
        (None, None) => Ordering::Equal,
    }
}

/// A key comparing runs of digits by value.
fn natural(s: &str) -> Vec<(String, u64)> {
    let mut out = Vec::new();
    let mut text = String::new();
    let mut digits = String::new();
    for c in s.chars() {
        if c.is_ascii_digit() {
            digits.push(c);
        } else {
            if !digits.is_empty() {
                out.push((
                    std::mem::take(&mut text),
                    digits.parse().unwrap_or(u64::MAX),
                ));
                digits.clear();
            }
            text.extend(c.to_lowercase());
        }
    }
    out.push((text, digits.parse().unwrap_or(0)));
    out
}

/// The alert inbox's order: open before closed, then the higher band (a medium alert is
/// answered before a low-medium one, however late that one is; a child's PEWS level beside
/// the NEWS2 band as urgent, [`Trigger::urgency`]), then escalated or past its deadline, then
/// the least time left.
pub fn most_urgent_alert_first(a: &crate::AlertView, b: &crate::AlertView) -> Ordering {
    let key = |v: &crate::AlertView| {
        let score = if v.score_name == "PEWS" {
            "pews"
        } else {
            "news2"
        };
        (
            v.open,
            Trigger::parse(score, &v.band).map_or(0, Trigger::urgency),
            v.escalation_level > 0 || v.overdue,
        )
    };
    key(b)
        .cmp(&key(a))
        .then(a.ms_to_deadline.cmp(&b.ms_to_deadline))
}
