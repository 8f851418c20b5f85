//! The community directory as the store holds it, and HSDS imports into it.

use std::sync::Arc;

use community::Directory;
use serde_json::Value;
use store::{Access, Entry, Mode};

use crate::{q, Error, Referrals};

/// The directory's record types.
const TYPES: [&str; 3] = ["Organization", "HealthcareService", "Location"];
/// Records read per page.
const PAGE: usize = 1000;

impl Referrals {
    /// The directory now: read again when any of its records changed since the last read.
    /// Directory records are not patient data; every role reads them.
    pub fn directory(&self) -> Result<Arc<Directory>, Error> {
        let mark = self.directory_mark()?;
        if let Ok(c) = self.cached.lock() {
            if let Some((m, d)) = c.as_ref() {
                if *m == mark {
                    return Ok(d.clone());
                }
            }
        }
        let mut resources = Vec::new();
        for t in TYPES {
            resources.extend(self.all(t)?);
        }
        let d = Arc::new(Directory::from_resources(&resources));
        if let Ok(mut c) = self.cached.lock() {
            *c = Some((mark, d.clone()));
        }
        Ok(d)
    }

    /// A fingerprint of the directory's records: the newest change among them and how many
    /// there are (a deletion changes the count).
    fn directory_mark(&self) -> Result<i64, Error> {
        let mut mark = 0i64;
        for t in TYPES {
            let newest = self.store.search(
                &Access::system(),
                &q(
                    t,
                    &[
                        ("_sort", "-_lastUpdated".into()),
                        ("_count", "1".into()),
                        ("_total", "accurate".into()),
                    ],
                )?,
            )?;
            let at = newest
                .matches
                .first()
                .and_then(|h| serde_json::from_str::<Value>(&h.body).ok())
                .and_then(|v| {
                    v["meta"]["lastUpdated"]
                        .as_str()
                        .and_then(|s| chrono::DateTime::parse_from_rfc3339(s).ok())
                        .map(|t| t.timestamp_millis())
                })
                .unwrap_or(0);
            mark = mark
                .wrapping_mul(1_000_003)
                .wrapping_add(at)
                .wrapping_add(newest.total.unwrap_or(0) as i64);
        }
        Ok(mark)
    }

    fn all(&self, rtype: &str) -> Result<Vec<Value>, Error> {
        let mut out = Vec::new();
        let mut offset = 0;
        loop {
            let page = self.store.search(
                &Access::system(),
                &q(
                    rtype,
                    &[
                        ("_count", PAGE.to_string()),
                        ("_offset", offset.to_string()),
                    ],
                )?,
            )?;
            let n = page.matches.len();
            out.extend(
                page.matches
                    .iter()
                    .filter_map(|h| serde_json::from_str::<Value>(&h.body).ok()),
            );
            if !page.has_more || n == 0 {
                return Ok(out);
            }
            offset += n;
        }
    }

    /// Import an Open Referral HSDS 3.0 file into the directory with the caller's access
    /// (the store refuses roles that do not write the directory); records are written at
    /// ids derived from the file's, so importing again updates them. Returns how many
    /// services the file held.
    pub fn import(&self, access: &Access, hsds: &str) -> Result<usize, Error> {
        let d = Directory::from_hsds(hsds)?;
        let entries: Vec<Entry> = d.resources().into_iter().filter_map(Entry::put).collect();
        for r in self.store.write(access, entries, Mode::Atomic)? {
            r?;
        }
        Ok(d.services.len())
    }
}
