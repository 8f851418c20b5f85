//! Running one export: page through the store as the caller (the store decides what the
//! caller reaches, in the query), write NDJSON files of at most `file_resources` lines, and
//! beside each a list of the patients it holds (for the audit record of its download).

use std::collections::{BTreeSet, HashSet};
use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Mutex;

use access::Access;
use search::{Registry, SearchQuery};
use store::{ExportQuery, ExportScope, Hit, Store, EXPORT_PATIENTS};

use crate::job::{Job, Output};
use crate::manifest::instant;
use crate::request::{Level, NOT_EXPORTED};
use crate::{Config, Error};

/// A job while it runs: what the status endpoint reports, and the stop flag.
#[derive(Debug, Default)]
pub(crate) struct Live {
    pub(crate) cancel: AtomicBool,
    pub(crate) exported: AtomicU64,
    pub(crate) current: Mutex<Option<String>>,
}

/// The patients file beside an output file.
pub(crate) fn patients_file(file: &str) -> String {
    format!("{}.patients", file.trim_end_matches(".ndjson"))
}

/// The types a job exports, in order: those asked for, or every type with resources that
/// the caller may read (and, below system level, that a patient's record can hold).
pub(crate) fn types_of(
    store: &dyn Store,
    access: &Access,
    job: &Job,
) -> Result<Vec<String>, Error> {
    if let Some(t) = &job.request.types {
        return Ok(t.clone());
    }
    let compartment = store::patient_compartment_types();
    let mut out: Vec<String> = store
        .counts()?
        .into_iter()
        .filter(|(t, n)| *n > 0 && !NOT_EXPORTED.contains(&t.as_str()))
        .map(|(t, _)| t)
        .filter(|t| access.may_type(t, false))
        .filter(|t| job.request.level == Level::System || compartment.contains(&t.as_str()))
        .collect();
    out.sort();
    // The patients first: a client loading the files in order meets them before their data.
    if let Some(i) = out.iter().position(|t| t == "Patient") {
        let p = out.remove(i);
        out.insert(0, p);
    }
    Ok(out)
}

/// The members of a Group (`Patient` ids of members not marked inactive), read as the caller.
pub(crate) fn members(
    store: &dyn Store,
    access: &Access,
    group: &str,
) -> Result<Vec<String>, Error> {
    let g = store
        .read(access, "Group", group)?
        .filter(|v| v.op != store::Op::Delete)
        .and_then(|v| v.body)
        .ok_or_else(|| Error::NotFound(format!("Group/{group} is not known")))?;
    let g: serde_json::Value =
        serde_json::from_str(&g).map_err(|e| Error::Io(format!("Group/{group}: {e}")))?;
    let mut out: Vec<String> = g["member"]
        .as_array()
        .into_iter()
        .flatten()
        .filter(|m| m["inactive"].as_bool() != Some(true))
        .filter_map(|m| m["entity"]["reference"].as_str())
        .filter_map(|r| r.strip_prefix("Patient/"))
        .map(str::to_string)
        .collect();
    out.sort();
    out.dedup();
    Ok(out)
}

/// The files of one type being written.
struct Sink<'a> {
    dir: &'a Path,
    rtype: String,
    per_file: usize,
    n: usize,
    open: Option<(String, BufWriter<File>, u64, BTreeSet<String>)>,
    done: Vec<Output>,
}

impl Sink<'_> {
    fn write(&mut self, hit: &Hit) -> Result<(), Error> {
        if self
            .open
            .as_ref()
            .is_some_and(|o| o.2 as usize >= self.per_file)
        {
            self.close()?;
        }
        if self.open.is_none() {
            self.n += 1;
            let name = format!("{}-{}.ndjson", self.rtype, self.n);
            let f = File::create(self.dir.join(&name)).map_err(io)?;
            self.open = Some((
                name,
                BufWriter::with_capacity(1 << 20, f),
                0,
                BTreeSet::new(),
            ));
        }
        let (_, w, count, patients) = self.open.as_mut().expect("opened above");
        // Stored bodies are compact JSON: one line each.
        w.write_all(hit.body.as_bytes()).map_err(io)?;
        w.write_all(b"\n").map_err(io)?;
        *count += 1;
        patients.extend(hit.patients.iter().cloned());
        Ok(())
    }

    fn close(&mut self) -> Result<(), Error> {
        if let Some((name, mut w, count, patients)) = self.open.take() {
            w.flush().map_err(io)?;
            w.into_inner()
                .map_err(|e| Error::Io(e.to_string()))?
                .sync_all()
                .map_err(io)?;
            let mut list = String::new();
            for p in &patients {
                list.push_str(p);
                list.push('\n');
            }
            std::fs::write(self.dir.join(patients_file(&name)), list).map_err(io)?;
            self.done.push(Output {
                rtype: self.rtype.clone(),
                file: name,
                count,
            });
        }
        Ok(())
    }
}

fn io(e: std::io::Error) -> Error {
    Error::Io(e.to_string())
}

/// Run `job` into `dir`; returns its files, or [`Error::Cancelled`] when stopped. `beat` is
/// called after every page (it records progress now and then, and may stop the job).
pub(crate) fn run(
    store: &dyn Store,
    access: &Access,
    job: &Job,
    dir: &Path,
    config: &Config,
    live: &Live,
    beat: &mut dyn FnMut(),
) -> Result<Vec<Output>, Error> {
    std::fs::create_dir_all(dir).map_err(io)?;
    let types = types_of(store, access, job)?;
    let asked = &job.request.patients;
    let patients_scope = |ids: Vec<String>| -> Vec<ExportScope> {
        ids.chunks(EXPORT_PATIENTS)
            .map(|c| ExportScope::Patients(c.to_vec()))
            .collect()
    };
    let scopes: Vec<ExportScope> = match &job.request.level {
        Level::System => vec![ExportScope::Everything],
        Level::Patient if asked.is_empty() => vec![ExportScope::AnyPatient],
        Level::Patient => patients_scope(asked.clone()),
        // The members, or those of the patients asked for who are members.
        Level::Group(g) => patients_scope(
            members(store, access, g)?
                .into_iter()
                .filter(|m| asked.is_empty() || asked.contains(m))
                .collect(),
        ),
    };
    let since = job.request.since.map(|t| t.timestamp_millis());
    let mut outputs = Vec::new();
    for rtype in types {
        *live.current.lock().unwrap_or_else(|e| e.into_inner()) = Some(rtype.clone());
        let mut sink = Sink {
            dir,
            rtype: rtype.clone(),
            per_file: config.file_resources.max(1),
            n: 0,
            open: None,
            done: Vec::new(),
        };
        let filters: Vec<_> = job
            .request
            .filters
            .iter()
            .filter(|f| f.rtype == rtype)
            .collect();
        // A resource in the compartments of members in two chunks is written once.
        let mut seen: Option<HashSet<String>> =
            (scopes.len() > 1 || !filters.is_empty()).then(HashSet::new);
        let mut keep = |hit: Hit, sink: &mut Sink<'_>| -> Result<(), Error> {
            if let Some(seen) = &mut seen {
                if !seen.insert(hit.id.clone()) {
                    return Ok(());
                }
            }
            sink.write(&hit)?;
            live.exported.fetch_add(1, Ordering::Relaxed);
            Ok(())
        };
        if filters.is_empty() {
            for scope in &scopes {
                let mut after = 0;
                loop {
                    beat();
                    if live.cancel.load(Ordering::Relaxed) {
                        return Err(Error::Cancelled);
                    }
                    let (hits, next) = store.export(
                        access,
                        &ExportQuery {
                            rtype: rtype.clone(),
                            after,
                            limit: config.page,
                            since,
                            upto: job.snapshot,
                            scope: scope.clone(),
                        },
                    )?;
                    if hits.is_empty() {
                        break;
                    }
                    after = next;
                    for h in hits {
                        keep(h, &mut sink)?;
                    }
                }
            }
        } else {
            // The patients a filtered search's matches must be about (a group, or the
            // patients asked for), or None for any patient (or, at system level, none).
            let members: Option<HashSet<&String>> = match (&job.request.level, asked.is_empty()) {
                (Level::Group(_), _) | (Level::Patient, false) => Some(
                    scopes
                        .iter()
                        .flat_map(|s| match s {
                            ExportScope::Patients(p) => p.iter().collect::<Vec<_>>(),
                            _ => Vec::new(),
                        })
                        .collect(),
                ),
                _ => None,
            };
            for f in filters {
                let mut params = f.params.clone();
                params.push((
                    "_lastUpdated".into(),
                    format!("le{}", instant(job.transaction_time)),
                ));
                if let Some(s) = since {
                    params.push(("_lastUpdated".into(), format!("gt{}", instant(s))));
                }
                params.push((
                    "_count".into(),
                    config.page.min(search::MAX_COUNT).to_string(),
                ));
                let mut q = SearchQuery::parse(Registry::r4(), &rtype, &params).map_err(|e| {
                    Error::Parameter {
                        parameter: "_typeFilter".into(),
                        message: format!("the filter on {rtype}: {e}"),
                    }
                })?;
                loop {
                    beat();
                    if live.cancel.load(Ordering::Relaxed) {
                        return Err(Error::Cancelled);
                    }
                    let page = store.search(access, &q)?;
                    let n = page.matches.len();
                    for h in page.matches {
                        let in_scope = match (&job.request.level, &members) {
                            (Level::System, _) => true,
                            (_, Some(m)) => h.patients.iter().any(|p| m.contains(p)),
                            _ => !h.patients.is_empty(),
                        };
                        if in_scope {
                            keep(h, &mut sink)?;
                        }
                    }
                    if !page.has_more || n == 0 {
                        break;
                    }
                    q.offset += n;
                }
            }
        }
        sink.close()?;
        outputs.extend(sink.done);
    }
    *live.current.lock().unwrap_or_else(|e| e.into_inner()) = None;
    Ok(outputs)
}

/// The directory of a job's files.
pub(crate) fn job_dir(root: &Path, id: &str) -> PathBuf {
    root.join(id)
}
