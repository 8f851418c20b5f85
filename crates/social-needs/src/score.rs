//! Scoring a screening by the tool's rules, and the safety follow-up policy.

use crate::instrument::{Answer, Instrument};

/// A domain's result.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Status {
    Positive,
    Negative,
    /// Not every question the rule needs was answered (and none made it positive).
    NotAnswered,
}

impl Status {
    pub fn code(self) -> &'static str {
        match self {
            Status::Positive => "positive",
            Status::Negative => "negative",
            Status::NotAnswered => "not-answered",
        }
    }
}

/// One domain.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DomainResult {
    pub domain: String,
    pub words: String,
    pub status: Status,
    /// Why, in words ("sometimes true: worried food would run out").
    pub because: String,
}

/// A scored screening.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Screening {
    pub domains: Vec<DomainResult>,
    /// The interpersonal-safety total (4 to 20), when all four were answered.
    pub safety_total: Option<u32>,
    /// A clinician should follow up on safety (an answer other than "never" to being
    /// physically hurt or threatened), whatever the total.
    pub follow_up: bool,
}

impl Screening {
    pub fn positive(&self) -> impl Iterator<Item = &DomainResult> {
        self.domains.iter().filter(|d| d.status == Status::Positive)
    }
}

impl Instrument {
    /// Score `answers`.
    pub fn score(&self, answers: &Answer) -> Screening {
        let mut domains = Vec::new();
        let mut follow_up = false;
        let mut safety_total = None;
        for d in &self.domains {
            let questions: Vec<_> = self
                .questions
                .iter()
                .filter(|q| q.domain == d.code)
                .collect();
            let scored = questions
                .iter()
                .all(|q| q.answers.iter().all(|a| a.score.is_some()) && !q.answers.is_empty());
            let mut positive_because = Vec::new();
            let mut answered = 0;
            let mut total = 0;
            for q in &questions {
                let Some(keys) = answers.get(&q.link).filter(|k| !k.is_empty()) else {
                    continue;
                };
                answered += 1;
                for k in keys {
                    let Some(a) = q.answer(k) else { continue };
                    if a.positive {
                        positive_because.push(a.label().to_string());
                    }
                    if let Some(s) = a.score {
                        total += s;
                        if q.follow_up_unless_never && s > 1 {
                            follow_up = true;
                        }
                    }
                }
            }
            let (status, because) = if scored {
                if answered == questions.len() {
                    safety_total = Some(total);
                    if total > self.safety_above {
                        (
                            Status::Positive,
                            format!("total {total} (above {})", self.safety_above),
                        )
                    } else {
                        (Status::Negative, format!("total {total}"))
                    }
                } else {
                    (
                        Status::NotAnswered,
                        format!("{answered} of {} answered", questions.len()),
                    )
                }
            } else if !positive_because.is_empty() {
                (Status::Positive, positive_because.join("; "))
            } else if answered == questions.len() {
                (Status::Negative, String::new())
            } else {
                (Status::NotAnswered, String::new())
            };
            domains.push(DomainResult {
                domain: d.code.clone(),
                words: d.words.clone(),
                status,
                because,
            });
        }
        Screening {
            domains,
            safety_total,
            follow_up,
        }
    }
}
