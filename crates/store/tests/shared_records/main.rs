//! Records the store shares outside the usual compartment rules (`access::shared_with`):
//! a community referral's records with the partner organisation (`partner`), a safety-event
//! report with its reporter (`safety_reports`). Each checks every store path.

use std::sync::Arc;

use search::SearchQuery;
use serde_json::Value;
use store::{Access, Entry, Mode, Outcome, Store, WriteOp};

mod partner;
mod safety_reports;

pub(crate) fn options() -> store::Options {
    store::Options {
        clock: Arc::new(store::SystemClock),
        indexer: Arc::new(search::Indexer::new(search::Registry::r4()).unwrap()),
        readers: 1,
    }
}

/// Write `r` at its id as `access`.
pub(crate) fn put(
    store: &dyn Store,
    access: &Access,
    r: Value,
) -> Result<Outcome, store::StoreError> {
    let rtype = r["resourceType"].as_str().unwrap().to_string();
    let id = r["id"].as_str().unwrap().to_string();
    store
        .write(
            access,
            vec![Entry {
                full_url: None,
                op: WriteOp::Update {
                    rtype,
                    id,
                    resource: r,
                    if_match: None,
                },
            }],
            Mode::Atomic,
        )?
        .into_iter()
        .next()
        .unwrap()
}

/// The matches and includes of a search as `access`, as `Type/id`, sorted.
pub(crate) fn ids(
    store: &dyn Store,
    access: &Access,
    rtype: &str,
    params: &[(&str, &str)],
) -> Vec<String> {
    let params: Vec<(String, String)> = params
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    let q = SearchQuery::parse(search::Registry::r4(), rtype, &params).unwrap();
    let page = store.search(access, &q).unwrap();
    let mut out: Vec<String> = page
        .matches
        .iter()
        .chain(page.included.iter())
        .map(|h| format!("{}/{}", h.rtype, h.id))
        .collect();
    out.sort();
    out
}
