//! `tend hl7 send`: push HL7 v2 messages from files to any MLLP endpoint, one connection,
//! each message waiting for its acknowledgement; and the MLLP listener of `serve`/`demo`.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use clap::{Args, Subcommand};
use indicatif::{ProgressBar, ProgressStyle};

#[derive(Subcommand, Debug)]
pub(crate) enum Hl7Command {
    /// Send the messages of a file or a directory (`*.hl7`, several messages per file
    /// allowed) over MLLP and report the acknowledgements.
    Send(SendArgs),
}

#[derive(Args, Debug)]
pub(crate) struct SendArgs {
    /// A file or a directory of `.hl7` files.
    path: PathBuf,
    /// The MLLP endpoint.
    #[arg(long, env = "TEND_MLLP_TO", default_value = "127.0.0.1:2575")]
    to: String,
    /// Seconds to wait for each acknowledgement.
    #[arg(long, default_value_t = 30)]
    timeout: u64,
}

/// The messages of a file: a new message starts at each line beginning with `MSH`.
pub(crate) fn split_messages(text: &str) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    for line in text.split(['\r', '\n']).filter(|l| !l.trim().is_empty()) {
        if line.starts_with("MSH") || out.is_empty() {
            out.push(String::new());
        }
        if let Some(m) = out.last_mut() {
            m.push_str(line);
            m.push('\r');
        }
    }
    out.into_iter().filter(|m| m.starts_with("MSH")).collect()
}

fn files(path: &Path) -> anyhow::Result<Vec<PathBuf>> {
    if path.is_dir() {
        let mut v: Vec<PathBuf> = std::fs::read_dir(path)?
            .filter_map(|e| e.ok().map(|e| e.path()))
            .filter(|p| p.extension().is_some_and(|x| x == "hl7" || x == "txt"))
            .collect();
        v.sort();
        Ok(v)
    } else {
        Ok(vec![path.to_path_buf()])
    }
}

pub(crate) fn run(cmd: Hl7Command) -> anyhow::Result<()> {
    match cmd {
        Hl7Command::Send(args) => crate::runtime()?.block_on(send(args)),
    }
}

async fn send(args: SendArgs) -> anyhow::Result<()> {
    let mut messages = Vec::new();
    for f in files(&args.path)? {
        let bytes = std::fs::read(&f).with_context(|| format!("reading {}", f.display()))?;
        messages.extend(split_messages(&String::from_utf8_lossy(&bytes)));
    }
    anyhow::ensure!(
        !messages.is_empty(),
        "no HL7 v2 messages in {}",
        args.path.display()
    );
    let mut sender = mllp::Sender::connect(&args.to, Duration::from_secs(args.timeout))
        .await
        .with_context(|| format!("connecting to {}", args.to))?;
    let bar = ProgressBar::new(messages.len() as u64);
    bar.set_style(
        ProgressStyle::with_template("{spinner} [{elapsed_precise}] {wide_bar} {pos}/{len} {msg}")
            .unwrap_or_else(|_| ProgressStyle::default_bar()),
    );
    let mut counts: std::collections::BTreeMap<String, usize> = Default::default();
    for m in &messages {
        let ack = sender.send(m.as_bytes()).await?;
        let text = String::from_utf8_lossy(&ack);
        let code = text
            .split('\r')
            .find(|l| l.starts_with("MSA|"))
            .and_then(|l| l.split('|').nth(1))
            .unwrap_or("none")
            .to_string();
        *counts.entry(code).or_default() += 1;
        bar.inc(1);
    }
    bar.finish_and_clear();
    let summary: Vec<String> = counts.iter().map(|(k, v)| format!("{v} {k}")).collect();
    println!(
        "{} messages sent to {}: {}",
        messages.len(),
        args.to,
        summary.join(", ")
    );
    Ok(())
}

/// Start the MLLP listener for the HL7 v2 feed; stops when `stop` turns true.
pub(crate) async fn start_listener(
    addr: &str,
    allow: &str,
    store: Arc<dyn store::Store>,
    ew: Option<Arc<early_warning::EarlyWarning>>,
    stop: tokio::sync::watch::Receiver<bool>,
) -> anyhow::Result<tokio::task::JoinHandle<std::io::Result<()>>> {
    let listener = tokio::net::TcpListener::bind(addr)
        .await
        .with_context(|| format!("binding the MLLP listener on {addr}"))?;
    let mut cfg = mllp::ListenerConfig::default();
    for a in allow.split(',').map(str::trim).filter(|a| !a.is_empty()) {
        cfg.allow.push(
            a.parse()
                .with_context(|| format!("TEND_MLLP_ALLOW: '{a}' is not an IP address"))?,
        );
    }
    let feed = Arc::new(interface::Feed::new(
        store,
        ew,
        Arc::new(store::SystemClock),
        interface::Config::default(),
    ));
    println!("Tend HL7 v2 (MLLP): {}", listener.local_addr()?);
    Ok(tokio::spawn(mllp::serve(listener, cfg, feed, stop)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn files_with_several_messages_split_at_msh() {
        let t = "MSH|a\nPID|1\n\nMSH|b\r\nOBX|1\r\n";
        assert_eq!(split_messages(t), vec!["MSH|a\rPID|1\r", "MSH|b\rOBX|1\r"]);
    }
}
