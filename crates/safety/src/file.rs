//! Filing a report with the reporter's own access.

use access::Access;
use safety_events::{Report, Reporter};
use serde_json::Value;
use store::{Entry, Mode, WriteOp};

use crate::{Error, Safety};

/// A report filed: its id and the reference number staff quote.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Filed {
    pub id: String,
    pub reference: String,
}

impl Safety {
    /// File `report` as the caller (`reporter`, left off the report when it is anonymous).
    /// A report with no patient names the "no patient" Group, which Tend keeps.
    pub fn file(
        &self,
        access: &Access,
        reporter: &Reporter,
        report: &Report,
    ) -> Result<Filed, Error> {
        let now = self.now()?;
        let id = format!("se-{}", uuid::Uuid::new_v4().simple());
        let ae = report.adverse_event(self.formats(), &id, now, Some(reporter))?;
        if report.patient.is_none() {
            self.keep_no_patient_group()?;
        }
        let out = self.store.write(
            access,
            vec![Entry {
                full_url: None,
                op: WriteOp::Create {
                    id: id.clone(),
                    resource: ae,
                    if_none_exist: None,
                },
            }],
            Mode::Atomic,
        )?;
        for o in out {
            o?;
        }
        Ok(Filed {
            reference: safety_events::reference_number(&id),
            id,
        })
    }

    /// The Group reports with no patient name as their subject, written once by Tend.
    fn keep_no_patient_group(&self) -> Result<(), Error> {
        let system = Access::system();
        let id = safety_events::NO_PATIENT.trim_start_matches("Group/");
        if self.store.read(&system, "Group", id)?.is_some() {
            return Ok(());
        }
        let group: Value = safety_events::no_patient_group();
        for o in self.store.write(
            &system,
            vec![Entry {
                full_url: None,
                op: WriteOp::Update {
                    rtype: "Group".into(),
                    id: id.into(),
                    resource: group,
                    if_match: None,
                },
            }],
            Mode::Atomic,
        )? {
            o?;
        }
        Ok(())
    }
}
