//! The safety team's review steps, written with If-Match on the version the reviewer saw.

use access::Access;
use safety_events::{read, SafetyEvent, Step};
use serde_json::Value;
use store::{Entry, Mode, WriteOp};

use crate::{Error, Safety};

impl Safety {
    /// Take `step` on report `id` (at `version`, the one the reviewer saw) as `who` (their
    /// name, for the notes). The store decides whether the caller may.
    pub fn review(
        &self,
        access: &Access,
        who: &str,
        id: &str,
        version: i64,
        step: &Step,
    ) -> Result<SafetyEvent, Error> {
        let now = self.now()?;
        let current = self
            .store()
            .read(access, "AdverseEvent", id)?
            .ok_or_else(|| Error::Invalid("There is no such report.".into()))?;
        // The step was chosen on the version the reviewer saw: judged against a newer one it
        // could mean something else.
        if current.version != version {
            return Err(store::StoreError::VersionConflict {
                rtype: "AdverseEvent".into(),
                id: id.into(),
                expected: version.to_string(),
                current: current.version.to_string(),
            }
            .into());
        }
        let stored = current
            .body
            .ok_or_else(|| Error::Invalid("There is no such report.".into()))?;
        let event: Value = serde_json::from_str(&stored)
            .map_err(|e| Error::Invalid(format!("a stored report is not JSON: {e}")))?;
        let next = safety_events::review::apply(self.formats(), &event, step, who, now)?;
        let out = self.store().write(
            access,
            vec![Entry {
                full_url: None,
                op: WriteOp::Update {
                    rtype: "AdverseEvent".into(),
                    id: id.into(),
                    resource: next.clone(),
                    if_match: Some(version.to_string()),
                },
            }],
            Mode::Atomic,
        )?;
        for o in out {
            o?;
        }
        Ok(read(&next)?)
    }
}
