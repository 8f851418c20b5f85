//! Writing what the ward records, as the signed-in person with their access, then waiting
//! for the first hour to be judged again.

use chrono::{DateTime, FixedOffset};
use sepsis::record::{resource, ruled_out, Context, Record};
use serde_json::Value;
use store::{Access, Entry, Mode, WriteOp};

use crate::{Error, Sepsis};

impl Sepsis {
    /// Record `what` about `patient` as `by` (`Practitioner/ID`) at `at`, with the caller's
    /// access; returns once the first hour has been judged again.
    pub fn record(
        &self,
        access: &Access,
        by: &str,
        patient: &str,
        encounter: Option<&str>,
        what: &Record,
        at: DateTime<FixedOffset>,
    ) -> Result<String, Error> {
        let entry = match what {
            Record::RuledOut { condition, reason } => {
                let reason = reason.trim();
                if reason.is_empty() {
                    return Err(Error::Invalid(
                        "Say why infection is no longer suspected".into(),
                    ));
                }
                let id = condition.trim_start_matches("Condition/");
                let v = self
                    .store
                    .read(access, "Condition", id)?
                    .filter(|v| v.op != store::Op::Delete)
                    .ok_or(Error::NotFound)?;
                let c: Value = serde_json::from_str(v.body.as_deref().unwrap_or("{}"))
                    .map_err(|_| Error::NotFound)?;
                if c["subject"]["reference"] != format!("Patient/{patient}") {
                    return Err(Error::NotFound);
                }
                Entry {
                    full_url: None,
                    op: WriteOp::Update {
                        rtype: "Condition".into(),
                        id: id.to_string(),
                        resource: ruled_out(&c, reason, by, at),
                        if_match: Some(v.version.to_string()),
                    },
                }
            }
            _ => {
                let id = uuid::Uuid::new_v4().to_string();
                let r = resource(
                    what,
                    &Context {
                        by,
                        patient,
                        encounter,
                        at,
                        id: &id,
                    },
                )?;
                Entry {
                    full_url: None,
                    op: WriteOp::Create {
                        resource: r,
                        id,
                        if_none_exist: None,
                    },
                }
            }
        };
        let mut written = String::new();
        for w in self.store.write(access, vec![entry], Mode::Atomic)? {
            written = w?.version().map(|v| v.id.clone()).unwrap_or_default();
        }
        self.settle()?;
        Ok(written)
    }
}
