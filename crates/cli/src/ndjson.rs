//! `tend import` and `tend export`: bulk data as NDJSON (one resource per line, one file
//! per type, as in <https://hl7.org/fhir/uv/bulkdata/>) or FHIR Bundles.

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader, BufWriter, Write};
use std::path::{Path, PathBuf};
use std::sync::mpsc;

use anyhow::Context;
use clap::Args;
use indicatif::{ProgressBar, ProgressStyle};
use serde_json::Value;
use store::{Entry, Mode, Outcome, Store, WriteOp};

use crate::config::DatabaseArgs;

#[derive(Args, Debug, Clone)]
pub(crate) struct ImportArgs {
    /// A file (`.ndjson`, or `.json` holding a resource or a Bundle) or a directory of them.
    path: PathBuf,
    #[command(flatten)]
    db: DatabaseArgs,
}

#[derive(Args, Debug, Clone)]
pub(crate) struct ExportArgs {
    /// Directory to write `<Type>.ndjson` files into (created if missing).
    #[arg(long, default_value = "export")]
    out: PathBuf,
    /// Only these resource types (repeatable); default: every type in the store.
    #[arg(long = "type")]
    types: Vec<String>,
    #[command(flatten)]
    db: DatabaseArgs,
}

/// What an import did.
#[derive(Debug, Default)]
pub(crate) struct ImportSummary {
    pub(crate) stored: BTreeMap<String, usize>,
    pub(crate) rejected: Vec<String>,
}

fn files_of(path: &Path) -> anyhow::Result<Vec<PathBuf>> {
    if path.is_file() {
        return Ok(vec![path.to_path_buf()]);
    }
    let mut out = Vec::new();
    for e in std::fs::read_dir(path).with_context(|| format!("reading {}", path.display()))? {
        let p = e?.path();
        if p.is_dir() {
            out.extend(files_of(&p)?);
        } else if matches!(
            p.extension().and_then(|x| x.to_str()),
            Some("ndjson" | "json")
        ) {
            out.push(p);
        }
    }
    out.sort();
    Ok(out)
}

/// One resource to store, and where it came from (for messages).
struct Item {
    origin: String,
    resource: Value,
}

/// Read every resource of the files, sending them in chunks.
fn read_files(
    files: &[PathBuf],
    bar: &ProgressBar,
    tx: mpsc::SyncSender<Vec<Item>>,
    rejected: &mut Vec<String>,
) -> anyhow::Result<()> {
    let mut chunk = Vec::with_capacity(500);
    let push = |item: Item, chunk: &mut Vec<Item>| -> anyhow::Result<()> {
        chunk.push(item);
        if chunk.len() >= 500 {
            tx.send(std::mem::take(chunk))
                .context("the writer stopped")?;
        }
        Ok(())
    };
    for f in files {
        let name = f.display().to_string();
        let is_ndjson = f.extension().and_then(|x| x.to_str()) == Some("ndjson");
        let file = std::fs::File::open(f).with_context(|| format!("opening {name}"))?;
        if is_ndjson {
            for (n, line) in BufReader::new(file).lines().enumerate() {
                let line = line.with_context(|| format!("reading {name}"))?;
                bar.inc(line.len() as u64 + 1);
                if line.trim().is_empty() {
                    continue;
                }
                match serde_json::from_str::<Value>(&line) {
                    Ok(v) => push(
                        Item {
                            origin: format!("{name}:{}", n + 1),
                            resource: v,
                        },
                        &mut chunk,
                    )?,
                    Err(e) => rejected.push(format!("{name}:{}: not valid JSON: {e}", n + 1)),
                }
            }
        } else {
            let len = file.metadata().map(|m| m.len()).unwrap_or(0);
            let v: Value = match serde_json::from_reader(BufReader::new(file)) {
                Ok(v) => v,
                Err(e) => {
                    rejected.push(format!("{name}: not valid JSON: {e}"));
                    bar.inc(len);
                    continue;
                }
            };
            bar.inc(len);
            if v.get("resourceType").and_then(Value::as_str) == Some("Bundle")
                && v.get("type").and_then(Value::as_str) != Some("document")
            {
                for (i, e) in v
                    .get("entry")
                    .and_then(Value::as_array)
                    .into_iter()
                    .flatten()
                    .enumerate()
                {
                    if let Some(r) = e.get("resource") {
                        push(
                            Item {
                                origin: format!("{name}#entry[{i}]"),
                                resource: r.clone(),
                            },
                            &mut chunk,
                        )?;
                    }
                }
            } else {
                push(
                    Item {
                        origin: name.clone(),
                        resource: v,
                    },
                    &mut chunk,
                )?;
            }
        }
    }
    if !chunk.is_empty() {
        tx.send(chunk).context("the writer stopped")?;
    }
    Ok(())
}

/// Validate and store chunks of resources: PUT at their id, or create when they have none.
/// Returns the summary.
pub(crate) fn import_into(
    store: &dyn Store,
    path: &Path,
    show_progress: bool,
) -> anyhow::Result<ImportSummary> {
    let files = files_of(path)?;
    let bytes: u64 = files
        .iter()
        .filter_map(|f| f.metadata().ok())
        .map(|m| m.len())
        .sum();
    let bar = if show_progress {
        ProgressBar::new(bytes)
    } else {
        ProgressBar::hidden()
    };
    bar.set_style(
        ProgressStyle::with_template(
            "{spinner} [{elapsed_precise}] {wide_bar} {bytes}/{total_bytes} ({eta}) {msg}",
        )
        .unwrap_or_else(|_| ProgressStyle::default_bar()),
    );
    let (tx, rx) = mpsc::sync_channel::<Vec<Item>>(8);
    let mut summary = ImportSummary::default();
    let mut read_rejects = Vec::new();
    std::thread::scope(|s| -> anyhow::Result<()> {
        let reader = s.spawn(|| read_files(&files, &bar, tx, &mut read_rejects));
        for chunk in rx {
            let mut entries = Vec::with_capacity(chunk.len());
            let mut origins = Vec::with_capacity(chunk.len());
            for item in chunk {
                let issues = fhir::validation::validate(&item.resource);
                if let Some(i) = issues
                    .iter()
                    .find(|i| i.severity == fhir::validation::Severity::Error)
                {
                    summary.rejected.push(format!(
                        "{}: {} (at {})",
                        item.origin, i.message, i.expression
                    ));
                    continue;
                }
                let has_id = item.resource.get("id").is_some_and(Value::is_string);
                let entry = if has_id {
                    crate::demo::put_entry(item.resource)
                } else {
                    Some(Entry {
                        full_url: None,
                        op: WriteOp::Create {
                            resource: item.resource,
                            id: uuid::Uuid::new_v4().to_string(),
                            if_none_exist: None,
                        },
                    })
                };
                let Some(entry) = entry else {
                    summary
                        .rejected
                        .push(format!("{}: the resource has no resourceType", item.origin));
                    continue;
                };
                entries.push(entry);
                origins.push(item.origin);
            }
            for (r, origin) in store
                .write(&store::Access::system(), entries, Mode::Independent)?
                .into_iter()
                .zip(origins)
            {
                match r {
                    Ok(Outcome::Created(v) | Outcome::Updated(v) | Outcome::Exists(v)) => {
                        *summary.stored.entry(v.rtype).or_default() += 1
                    }
                    Ok(Outcome::Deleted(_)) => {}
                    Err(e) => summary.rejected.push(format!("{origin}: {e}")),
                }
            }
            bar.set_message(format!("{} stored", summary.stored.values().sum::<usize>()));
        }
        reader
            .join()
            .map_err(|_| anyhow::anyhow!("the reader thread panicked"))??;
        Ok(())
    })?;
    bar.finish_and_clear();
    summary.rejected.splice(0..0, read_rejects);
    Ok(summary)
}

/// The AuditEvent of a bulk import or export at the console: who (the operating-system
/// user running `tend`), what (types and counts, the file or directory), the outcome.
fn bulk_event(action: &str, code: &str, what: String) -> serde_json::Value {
    let who = std::env::var("USER")
        .or_else(|_| std::env::var("LOGNAME"))
        .unwrap_or_else(|_| "console".into());
    serde_json::json!({
        "resourceType": "AuditEvent",
        "id": store::audit::event_id(),
        "type": {"system": "http://dicom.nema.org/resources/ontology/DCM", "code": code, "display": if code == "110106" { "Export" } else { "Import" }},
        "subtype": [{"system": "https://tend.example.org/fhir/CodeSystem/audit-subtype", "code": "bulk"}],
        "action": action,
        "recorded": chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Millis, true),
        "outcome": "0",
        "agent": [{"requestor": true, "who": {"display": format!("{who} (tend at the console)")}, "altId": who}],
        "source": {"observer": {"display": "Tend"}},
        "entity": [{"type": {"system": "http://terminology.hl7.org/CodeSystem/audit-entity-type", "code": "2", "display": "System Object"},
            "description": what}],
    })
}

pub(crate) fn import(args: ImportArgs) -> anyhow::Result<()> {
    let store = crate::open_store(&args.db)?;
    let started = std::time::Instant::now();
    let summary = import_into(&*store, &args.path, true)?;
    let secs = started.elapsed().as_secs_f64();
    let total: usize = summary.stored.values().sum();
    let types: Vec<String> = summary
        .stored
        .iter()
        .map(|(t, n)| format!("{t} {n}"))
        .collect();
    store.audit_durable(vec![bulk_event(
        "C",
        "110107",
        format!(
            "bulk import of {total} resources from {} ({})",
            args.path.display(),
            types.join(", ")
        ),
    )])?;
    println!(
        "Imported {total} resources in {secs:.1} s ({:.0}/s); {} rejected",
        total as f64 / secs.max(1e-9),
        summary.rejected.len()
    );
    for (t, n) in &summary.stored {
        println!("  {t:<28} {n}");
    }
    for r in summary.rejected.iter().take(50) {
        println!("  rejected: {r}");
    }
    if summary.rejected.len() > 50 {
        println!("  ... and {} more rejected", summary.rejected.len() - 50);
    }
    Ok(())
}

pub(crate) fn export(args: ExportArgs) -> anyhow::Result<()> {
    let store = crate::open_store(&args.db)?;
    std::fs::create_dir_all(&args.out)
        .with_context(|| format!("creating {}", args.out.display()))?;
    let counts = store.counts()?;
    let types: Vec<(String, usize)> = if args.types.is_empty() {
        counts
    } else {
        counts
            .into_iter()
            .filter(|(t, _)| args.types.contains(t))
            .collect()
    };
    let total: usize = types.iter().map(|(_, n)| n).sum();
    let bar = ProgressBar::new(total as u64);
    for (t, _) in &types {
        let path = args.out.join(format!("{t}.ndjson"));
        let mut w = BufWriter::new(
            std::fs::File::create(&path).with_context(|| format!("creating {}", path.display()))?,
        );
        let mut cursor = 0;
        loop {
            let (hits, next) = store.scan(t, cursor, 1000)?;
            if hits.is_empty() {
                break;
            }
            for h in &hits {
                w.write_all(h.body.as_bytes())?;
                w.write_all(b"\n")?;
            }
            bar.inc(hits.len() as u64);
            cursor = next;
        }
        w.flush()?;
    }
    bar.finish_and_clear();
    let what: Vec<String> = types.iter().map(|(t, n)| format!("{t} {n}")).collect();
    store.audit_durable(vec![bulk_event(
        "R",
        "110106",
        format!(
            "bulk export of {total} resources, every patient's, to {} ({})",
            args.out.display(),
            what.join(", ")
        ),
    )])?;
    println!(
        "Exported {total} resources of {} types to {}",
        types.len(),
        args.out.display()
    );
    Ok(())
}
