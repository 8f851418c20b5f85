//! The message log an integration engineer searches: every received HL7 v2 message is a
//! `MessageHeader` record (see the crate docs); this module finds records and shows them.
//!
//! | Filter | Searched as |
//! |---|---|
//! | `outcome` (`accepted`, `error`, `rejected`) | `_tag` of the record |
//! | `type` (`ORU^R01`, `ADT^A08`, or a trigger `A08`) | `event` (MSH-9.2), then MSH-9.1 |
//! | `sender` (MSH-3) | `source` (the record's `source.name`) |
//! | `since`, `until` (FHIR instants or dates) | `_lastUpdated` |
//! | `key` (`MSH-3\|MSH-4\|MSH-10`) | the record's id, derived from the key |
//!
//! Newest first. The message text and acknowledgement are shown for one record only.

use serde::Serialize;
use serde_json::Value;

use crate::{Feed, EXT};

/// The outcome tag system of the records.
pub const OUTCOME_SYSTEM: &str = "https://tend.example.org/fhir/CodeSystem/hl7v2-outcome";

/// Filters of the message log.
#[derive(Debug, Clone, Default)]
pub struct MessageQuery {
    pub outcome: Option<String>,
    pub message_type: Option<String>,
    pub sender: Option<String>,
    pub since: Option<String>,
    pub until: Option<String>,
    pub key: Option<String>,
    pub count: usize,
    pub offset: usize,
}

/// One record as the log shows it.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct MessageView {
    pub id: String,
    /// MSH-3|MSH-4|MSH-10.
    pub key: String,
    /// MSH-9.1^MSH-9.2.
    #[serde(rename = "type")]
    pub message_type: String,
    /// `accepted`, `error` or `rejected`.
    pub outcome: String,
    /// MSA-1 of the acknowledgement sent.
    pub ack_code: String,
    /// When the record was last written (received, or replayed).
    pub received: String,
    /// Times the message was processed (first receipt and replays).
    pub versions: i64,
    /// Problems reported in the acknowledgement (position and text).
    pub problems: Vec<String>,
    /// Resources written (references).
    pub resources: Vec<String>,
    /// The message as received (one record only).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
    /// The acknowledgement sent (one record only).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ack: Option<String>,
}

/// A page of the log.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct MessagePage {
    pub total: usize,
    pub messages: Vec<MessageView>,
}

/// Why the log could not be searched.
#[derive(Debug, thiserror::Error)]
pub enum LogError {
    #[error("{0}")]
    BadFilter(String),
    #[error("the message log could not be read: {0}")]
    Store(#[from] store::StoreError),
}

fn exts<'a>(record: &'a Value, name: &'a str) -> impl Iterator<Item = &'a str> + 'a {
    record["extension"]
        .as_array()
        .into_iter()
        .flatten()
        .filter(move |e| e["url"].as_str().and_then(|u| u.strip_prefix(EXT)) == Some(name))
        .filter_map(|e| e["valueString"].as_str())
}

/// The view of a stored record; `full` adds the message and acknowledgement text.
pub fn view(record: &Value, full: bool) -> MessageView {
    let text = |name| exts(record, name).next().unwrap_or_default().to_string();
    let ack = text("ack");
    MessageView {
        id: record["id"].as_str().unwrap_or_default().to_string(),
        key: text("key"),
        message_type: record["eventCoding"]["display"]
            .as_str()
            .unwrap_or_default()
            .to_string(),
        outcome: record["meta"]["tag"]
            .as_array()
            .into_iter()
            .flatten()
            .find(|t| t["system"] == OUTCOME_SYSTEM)
            .and_then(|t| t["code"].as_str())
            .unwrap_or_default()
            .to_string(),
        ack_code: crate::ack_code(&ack).to_string(),
        received: record["meta"]["lastUpdated"]
            .as_str()
            .unwrap_or_default()
            .to_string(),
        versions: record["meta"]["versionId"]
            .as_str()
            .and_then(|v| v.parse().ok())
            .unwrap_or(1),
        problems: exts(record, "problem").map(str::to_string).collect(),
        resources: record["focus"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|f| f["reference"].as_str().map(str::to_string))
            .collect(),
        message: full.then(|| text("message")),
        ack: full.then_some(ack),
    }
}

type Params = Vec<(String, String)>;

impl MessageQuery {
    /// The FHIR search on `MessageHeader` for these filters, and the message code (MSH-9.1)
    /// to check on each match when `type` names one.
    fn search_params(&self) -> Result<(Params, Option<String>), LogError> {
        let mut p: Vec<(String, String)> = vec![("_sort".into(), "-_lastUpdated".into())];
        if let Some(o) = &self.outcome {
            if !matches!(o.as_str(), "accepted" | "error" | "rejected") {
                return Err(LogError::BadFilter(format!(
                    "outcome '{o}' is not one of accepted, error, rejected"
                )));
            }
            p.push(("_tag".into(), format!("{OUTCOME_SYSTEM}|{o}")));
        }
        let mut code = None;
        if let Some(t) = &self.message_type {
            let (c, trigger) = match t.split_once('^') {
                Some((c, tr)) => (Some(c.to_ascii_uppercase()), tr),
                None => (None, t.as_str()),
            };
            if trigger.is_empty() {
                return Err(LogError::BadFilter(format!(
                    "type '{t}' has no trigger event"
                )));
            }
            p.push((
                "event".into(),
                format!(
                    "http://terminology.hl7.org/CodeSystem/v2-0003|{}",
                    trigger.to_ascii_uppercase()
                ),
            ));
            code = c;
        }
        if let Some(s) = &self.sender {
            p.push(("source:exact".into(), s.clone()));
        }
        if let Some(s) = &self.since {
            p.push(("_lastUpdated".into(), format!("ge{s}")));
        }
        if let Some(u) = &self.until {
            p.push(("_lastUpdated".into(), format!("le{u}")));
        }
        Ok((p, code))
    }
}

impl Feed {
    /// One record (with the message and acknowledgement text).
    pub fn message(&self, id: &str) -> Option<MessageView> {
        self.read_json("MessageHeader", id).map(|r| view(&r, true))
    }

    /// Search the message log, newest first.
    pub fn messages(&self, q: &MessageQuery) -> Result<MessagePage, LogError> {
        if let Some(key) = &q.key {
            let id = fhir::stable_id("msg", key);
            let found: Vec<MessageView> = self
                .read_json("MessageHeader", &id)
                .map(|r| view(&r, false))
                .into_iter()
                .collect();
            return Ok(MessagePage {
                total: found.len(),
                messages: found,
            });
        }
        let (mut params, code) = q.search_params()?;
        let count = q.count.clamp(1, 500);
        if code.is_none() {
            params.push(("_count".into(), count.to_string()));
            params.push(("_offset".into(), q.offset.to_string()));
            params.push(("_total".into(), "accurate".into()));
        } else {
            // The trigger is searched; the message code is checked here, over every match.
            params.push(("_count".into(), "10000".into()));
        }
        let query = search::SearchQuery::parse(search::Registry::r4(), "MessageHeader", &params)
            .map_err(|e| LogError::BadFilter(e.to_string()))?;
        let page = self.store.search(&store::Access::system(), &query)?;
        let records = page
            .matches
            .iter()
            .filter_map(|h| serde_json::from_str::<Value>(&h.body).ok())
            .map(|r| view(&r, false));
        Ok(match code {
            None => MessagePage {
                total: page.total.unwrap_or(0),
                messages: records.collect(),
            },
            Some(c) => {
                let all: Vec<MessageView> = records
                    .filter(|v| v.message_type.split('^').next() == Some(c.as_str()))
                    .collect();
                MessagePage {
                    total: all.len(),
                    messages: all.into_iter().skip(q.offset).take(count).collect(),
                }
            }
        })
    }
}
