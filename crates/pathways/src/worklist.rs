//! The navigator's worklist order: breached clocks first (the longest in breach first), then
//! the fewest days (or minutes) remaining, then patients with no open clock.

use std::cmp::Ordering;

use crate::evaluate::{ClockStatus, Evaluation};

/// How urgent one evaluation is; smaller is worse (sorts first).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct Urgency {
    /// 0: an open clock is breached; 1: open clocks within target; 2: no open clock.
    pub tier: u8,
    /// The least time remaining on any open clock, in minutes (negative once breached).
    pub remaining_minutes: i64,
}

impl Evaluation {
    /// This patient's place on a worklist (see [`worst_first`]).
    pub fn urgency(&self) -> Urgency {
        let open = self.clocks.iter().filter(|c| c.is_open());
        let worst = open.clone().map(|c| c.remaining_minutes()).min();
        match worst {
            None => Urgency {
                tier: 2,
                remaining_minutes: i64::MAX,
            },
            Some(r) => Urgency {
                tier: if open.clone().any(|c| c.status == ClockStatus::Breached) {
                    0
                } else {
                    1
                },
                remaining_minutes: r,
            },
        }
    }
}

/// Compares two evaluations worst first; ties keep their order under a stable sort.
pub fn worst_first_cmp(a: &Evaluation, b: &Evaluation) -> Ordering {
    a.urgency().cmp(&b.urgency())
}

/// Sorts a worklist worst first (stable: equal urgency keeps the caller's order, e.g. by name).
pub fn worst_first(items: &mut [Evaluation]) {
    items.sort_by_key(Evaluation::urgency);
}
