//! Moving a referral: the partner's steps and the hospital's, each under `community`'s
//! rules, written with If-Match on the version the person saw.

use chrono::{DateTime, Utc};
use community::{Change, Outcome, Party, ReferralState};
use serde_json::Value;
use store::{Access, Entry, Mode, Op, WriteOp};

use crate::{Error, Referrals};

/// What someone does to a referral.
#[derive(Debug, Clone)]
pub enum Move {
    /// The partner's step (accept, decline with a reason, start, pause, complete or fail,
    /// with the outcome when it ends).
    Partner(Change),
    /// The hospital's: cancel, with the reason.
    Cancel(community::Reason),
    /// The hospital's answer to "was the need met?".
    FollowUp(Outcome),
}

impl Referrals {
    /// Make `m` on referral Task `id` as the caller (`who`: their name and role, for the
    /// Task's notes); `version` is the one the person saw: if the referral moved since,
    /// nothing is written and the error says so.
    pub fn act(
        &self,
        access: &Access,
        who: &str,
        id: &str,
        version: i64,
        m: &Move,
        now: DateTime<Utc>,
    ) -> Result<ReferralState, Error> {
        let v = self
            .store
            .read(access, "Task", id)?
            .filter(|v| v.op != Op::Delete)
            .ok_or_else(|| Error::Invalid("That referral is not on the record.".into()))?;
        let task: Value = serde_json::from_str(v.body.as_deref().unwrap_or_default())
            .map_err(|e| Error::Invalid(e.to_string()))?;
        if v.version != version {
            let now_is = community::read(&task)?;
            return Err(Error::Invalid(format!(
                "This referral changed since you opened the page (it is now {}); it is shown as it is now.",
                now_is.status.words().to_lowercase()
            )));
        }
        let partner = access.partner_of().is_some();
        let moved = match (m, partner) {
            (Move::Partner(change), true) => {
                community::apply(&task, Party::Recipient, change, who, now)?
            }
            (Move::Cancel(reason), false) => community::apply(
                &task,
                Party::Sender,
                &Change {
                    to: community::Status::Cancelled,
                    reason: Some(reason.clone()),
                    outcome: None,
                    note: None,
                },
                who,
                now,
            )?,
            (Move::FollowUp(outcome), false) => community::follow_up(&task, outcome, who, now)?,
            (Move::Partner(_), false) => {
                return Err(Error::Invalid(
                    "Only the organisation the referral was sent to answers it.".into(),
                ))
            }
            (_, true) => {
                return Err(Error::Invalid(
                    "The hospital cancels and follows up its own referrals.".into(),
                ))
            }
        };
        let state = community::read(&moved)?;
        for w in self.store.write(
            access,
            vec![Entry {
                full_url: None,
                op: WriteOp::Update {
                    rtype: "Task".into(),
                    id: id.to_string(),
                    resource: moved,
                    if_match: Some(v.version.to_string()),
                },
            }],
            Mode::Atomic,
        )? {
            w?;
        }
        Ok(state)
    }
}
