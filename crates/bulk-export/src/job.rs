//! An export job as it is kept (in the store's keyed records, space [`SPACE`]): who asked,
//! what, when, how far it got and what it wrote. Its files live in the job's directory.

use serde::{Deserialize, Serialize};

use crate::request::Request;

/// The keyed-record space of export jobs.
pub const SPACE: &str = "bulk-export";

/// Where a job stands.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case", tag = "state", content = "reason")]
pub enum State {
    /// Accepted, waiting for a free exporter.
    Queued,
    Running,
    Complete,
    /// Stopped with this reason (said to the client as an OperationOutcome).
    Failed(String),
}

/// One file of the output.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Output {
    /// The resource type of every line.
    pub rtype: String,
    /// The file's name in the job's directory.
    pub file: String,
    /// Resources (lines) in it.
    pub count: u64,
}

/// An export job.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Job {
    pub id: String,
    /// Who kicked it off (account user name or service client id): the only caller who may
    /// poll it, download its files or cancel it.
    pub owner: String,
    pub request: Request,
    /// The kick-off URL, as the manifest repeats it.
    pub request_url: String,
    /// The change-log position the export reflects: nothing committed after it is in the
    /// files.
    pub snapshot: i64,
    /// The commit time of that position (ms), the manifest's `transactionTime`: everything
    /// committed after the snapshot was committed later, so the client's next export
    /// `_since` this time misses nothing.
    pub transaction_time: i64,
    /// When it was accepted (ms).
    pub created: i64,
    pub state: State,
    pub outputs: Vec<Output>,
    /// When it completed or failed (ms); the files are removed a while after.
    pub finished: Option<i64>,
    /// Resources written so far, the type being written, and when the process running the
    /// job last said so (ms): another Tend process on the same database answers status
    /// requests from these, and a job whose runner fell silent is known to have stopped.
    #[serde(default)]
    pub exported: u64,
    #[serde(default)]
    pub current: Option<String>,
    #[serde(default)]
    pub heartbeat: i64,
}

impl Job {
    /// Resources in its files (a finished job), or written so far (a running one).
    pub fn exported(&self) -> u64 {
        if self.outputs.is_empty() {
            self.exported
        } else {
            self.outputs.iter().map(|o| o.count).sum()
        }
    }

    /// Whether the job is over (complete or failed).
    pub fn finished(&self) -> bool {
        matches!(self.state, State::Complete | State::Failed(_))
    }
}
