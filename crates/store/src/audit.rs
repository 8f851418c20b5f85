//! The audit trail: `AuditEvent`s Tend records are appended by the store's writer in the
//! group commit that is open anyway (no fsync of their own), each carrying a link to the one
//! before: the `audit-chain` extension holds its sequence number, the previous event's hash
//! and its own, SHA-256 over the previous hash and the event's canonical JSON (keys sorted,
//! without `meta` and the link itself). Changing, removing or reordering a recorded event
//! breaks the chain at that event ([`verify`]); the head hash can be kept elsewhere to detect
//! a cut tail.
//!
//! AuditEvents are append-only for everyone: an existing one cannot be updated, patched or
//! deleted, and only the writer may set the chain link. Other systems may still create their
//! own AuditEvents (an audit repository receives them); those carry no link and are listed
//! as external.

use serde_json::{json, Map, Value};
use sha2::{Digest, Sha256};

/// The link's extension URL.
pub const CHAIN: &str = "https://tend.example.org/fhir/StructureDefinition/audit-chain";
/// The "previous hash" of the first event.
pub const GENESIS: &str = "0000000000000000000000000000000000000000000000000000000000000000";

/// A new AuditEvent id: a time-ordered UUID (version 7), so a busy audit trail's id index
/// grows at its end instead of dirtying a random page for every event it records.
pub fn event_id() -> String {
    uuid::Uuid::now_v7().to_string()
}

/// The newest link of the chain.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Head {
    pub sequence: i64,
    pub hash: String,
}

impl Head {
    pub(crate) fn genesis() -> Head {
        Head {
            sequence: 0,
            hash: GENESIS.into(),
        }
    }
}

fn sorted(v: &Value) -> Value {
    match v {
        Value::Object(m) => {
            let mut keys: Vec<&String> = m.keys().collect();
            keys.sort();
            let mut out = Map::new();
            for k in keys {
                out.insert(k.clone(), sorted(&m[k]));
            }
            Value::Object(out)
        }
        Value::Array(a) => Value::Array(a.iter().map(sorted).collect()),
        other => other.clone(),
    }
}

/// The event without `meta` and without its link.
fn content(event: &Value) -> Value {
    let mut v = event.clone();
    if let Some(o) = v.as_object_mut() {
        o.remove("meta");
        if let Some(Value::Array(ext)) = o.get_mut("extension") {
            ext.retain(|e| e["url"] != CHAIN);
            if ext.is_empty() {
                o.remove("extension");
            }
        }
    }
    v
}

/// The text an event's hash covers: its content (without `meta` and its link) as JSON
/// with sorted keys. Computed on the recording caller's thread; the writer only hashes it
/// after the previous link.
pub(crate) fn canonical(event: &Value) -> String {
    sorted(&content(event)).to_string()
}

fn hash(previous: &str, canonical: &str) -> String {
    let mut h = Sha256::new();
    h.update(previous.as_bytes());
    h.update(b"\n");
    h.update(canonical.as_bytes());
    h.finalize().iter().map(|b| format!("{b:02x}")).collect()
}

/// Whether an AuditEvent carries a chain link.
pub(crate) fn has_link(event: &Value) -> bool {
    event["extension"]
        .as_array()
        .is_some_and(|e| e.iter().any(|x| x["url"] == CHAIN))
}

/// Link `event`, whose [`canonical`] text is given, after `head`; returns the new head.
pub(crate) fn link(event: &mut Value, canonical: &str, head: &Head) -> Head {
    let sequence = head.sequence + 1;
    let own = hash(&head.hash, canonical);
    let ext = json!({"url": CHAIN, "extension": [
        {"url": "sequence", "valueInteger": sequence},
        {"url": "previous", "valueString": head.hash},
        {"url": "hash", "valueString": own},
    ]});
    if let Some(o) = event.as_object_mut() {
        match o.get_mut("extension") {
            Some(Value::Array(a)) => a.push(ext),
            _ => {
                o.insert("extension".into(), json!([ext]));
            }
        }
    }
    Head {
        sequence,
        hash: own,
    }
}

/// An event's link: (sequence, previous, hash).
pub fn link_of(event: &Value) -> Option<(i64, String, String)> {
    let ext = event["extension"]
        .as_array()?
        .iter()
        .find(|e| e["url"] == CHAIN)?;
    let part = |name: &str| {
        ext["extension"]
            .as_array()?
            .iter()
            .find(|p| p["url"] == name)
            .cloned()
    };
    Some((
        part("sequence")?["valueInteger"].as_i64()?,
        part("previous")?["valueString"].as_str()?.to_string(),
        part("hash")?["valueString"].as_str()?.to_string(),
    ))
}

/// What [`verify`] found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Report {
    /// Linked events checked.
    pub linked: usize,
    /// AuditEvents without a link (created by other systems).
    pub external: usize,
    pub head: Option<Head>,
    /// The first event where the chain breaks: its id and why.
    pub broken: Option<(String, String)>,
}

/// Check the chain over AuditEvent bodies in the order they were appended.
pub fn verify<'a>(bodies: impl IntoIterator<Item = &'a str>) -> Report {
    let mut report = Report {
        linked: 0,
        external: 0,
        head: None,
        broken: None,
    };
    let mut head = Head::genesis();
    for body in bodies {
        let Ok(v) = serde_json::from_str::<Value>(body) else {
            report.broken = Some(("?".into(), "an audit record is not JSON".into()));
            return report;
        };
        let id = v["id"].as_str().unwrap_or("?").to_string();
        let Some((sequence, previous, stated)) = link_of(&v) else {
            if has_link(&v) {
                report.broken = Some((id, "its chain link is incomplete".into()));
                return report;
            }
            report.external += 1;
            continue;
        };
        let why = if sequence != head.sequence + 1 {
            Some(format!(
                "sequence {sequence} follows {}: events are missing or out of order",
                head.sequence
            ))
        } else if previous != head.hash {
            Some("it does not link to the event before it".to_string())
        } else if hash(&previous, &canonical(&v)) != stated {
            Some("its content does not match its hash: it was changed".to_string())
        } else {
            None
        };
        if let Some(why) = why {
            report.broken = Some((id, why));
            return report;
        }
        head = Head {
            sequence,
            hash: stated,
        };
        report.linked += 1;
        report.head = Some(head.clone());
    }
    report
}

#[cfg(test)]
mod tests {
    use super::*;

    fn chain(n: usize) -> Vec<String> {
        let mut head = Head::genesis();
        (0..n)
            .map(|i| {
                let mut e = json!({"resourceType": "AuditEvent", "id": format!("a{i}"), "recorded": "2026-11-25T00:00:00Z", "outcome": "0"});
                let text = canonical(&e);
                head = link(&mut e, &text, &head);
                e["meta"] = json!({"versionId": "1"});
                e.to_string()
            })
            .collect()
    }

    #[test]
    fn an_intact_chain_verifies_and_any_change_breaks_it() {
        let events = chain(5);
        let r = verify(events.iter().map(String::as_str));
        assert_eq!((r.linked, r.broken.clone()), (5, None));
        assert_eq!(r.head.unwrap().sequence, 5);

        let mut changed = events.clone();
        changed[2] = changed[2].replace("\"outcome\":\"0\"", "\"outcome\":\"4\"");
        let r = verify(changed.iter().map(String::as_str));
        assert_eq!(r.broken.unwrap().0, "a2");

        let mut removed = events.clone();
        removed.remove(1);
        let r = verify(removed.iter().map(String::as_str));
        assert!(r.broken.unwrap().1.contains("missing"));

        let mut swapped = events.clone();
        swapped.swap(3, 4);
        assert!(verify(swapped.iter().map(String::as_str)).broken.is_some());

        let external = [r#"{"resourceType":"AuditEvent","id":"x"}"#.to_string()];
        let r = verify(events.iter().chain(&external).map(String::as_str));
        assert_eq!((r.linked, r.external, r.broken), (5, 1, None));
    }

    #[test]
    fn key_order_and_meta_do_not_change_the_hash() {
        let a = json!({"resourceType": "AuditEvent", "id": "1", "outcome": "0"});
        let b = json!({"outcome": "0", "id": "1", "resourceType": "AuditEvent", "meta": {"versionId": "3"}});
        assert_eq!(hash(GENESIS, &canonical(&a)), hash(GENESIS, &canonical(&b)));
    }
}
