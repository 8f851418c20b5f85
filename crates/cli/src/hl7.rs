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
    /// PEM CA certificates the endpoint's certificate must chain to: send over TLS.
    #[arg(long = "tls-ca", value_name = "FILE")]
    tls_ca: Option<PathBuf>,
    /// The name the endpoint's certificate must hold (default: the host part of --to).
    #[arg(long = "tls-server-name", value_name = "NAME", requires = "tls_ca")]
    tls_server_name: Option<String>,
    /// PEM client certificate chain, for listeners that require one (with --tls-key).
    #[arg(long = "tls-cert", value_name = "FILE", requires_all = ["tls_ca", "tls_key"])]
    tls_cert: Option<PathBuf>,
    /// PEM private key of --tls-cert.
    #[arg(long = "tls-key", value_name = "FILE", requires = "tls_cert")]
    tls_key: Option<PathBuf>,
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
    let timeout = Duration::from_secs(args.timeout);
    let connected = match &args.tls_ca {
        None => mllp::Sender::connect(&args.to, timeout).await,
        Some(ca) => {
            let client = args.tls_cert.as_deref().zip(args.tls_key.as_deref());
            let config = mllp::tls::client_config(ca, client)?;
            let name = match &args.tls_server_name {
                Some(name) => name.clone(),
                None => mllp::tls::host(&args.to).to_string(),
            };
            mllp::Sender::connect_tls(&args.to, &name, config, timeout).await
        }
    };
    let mut sender = connected.with_context(|| format!("connecting to {}", args.to))?;
    let bar = ProgressBar::new(messages.len() as u64);
    bar.set_style(
        ProgressStyle::with_template("{spinner} [{elapsed_precise}] {wide_bar} {pos}/{len} {msg}")
            .unwrap_or_else(|_| ProgressStyle::default_bar()),
    );
    let mut counts: std::collections::BTreeMap<String, usize> = Default::default();
    for m in &messages {
        let ack = sender.send(m.as_bytes()).await?;
        *counts.entry(ack_code(&ack)).or_default() += 1;
        bar.inc(1);
    }
    bar.finish_and_clear();
    let summary: Vec<String> = counts.iter().map(|(k, v)| format!("{v} {k}")).collect();
    println!(
        "{} messages sent to {}{}: {}",
        messages.len(),
        args.to,
        if args.tls_ca.is_some() {
            " over TLS"
        } else {
            ""
        },
        summary.join(", ")
    );
    Ok(())
}

/// MSA-1 of an acknowledgement (`AA`, `AE`, ...), or `none`.
pub(crate) fn ack_code(ack: &[u8]) -> String {
    String::from_utf8_lossy(ack)
        .split('\r')
        .find(|l| l.starts_with("MSA|"))
        .and_then(|l| l.split('|').nth(1))
        .unwrap_or("none")
        .to_string()
}

/// The MLLP listener's task.
pub(crate) type ListenerTask = tokio::task::JoinHandle<std::io::Result<()>>;

/// Start the HL7 v2 feed and its MLLP listener when configured (stops when `stop` turns
/// true); the state gains the feed, whose message log the API shows.
pub(crate) async fn start(
    state: server::AppState,
    args: &crate::config::Hl7Args,
    stop: tokio::sync::watch::Receiver<bool>,
) -> anyhow::Result<(server::AppState, Option<ListenerTask>)> {
    if !args.enabled() {
        return Ok((state, None));
    }
    let feed = new_feed(
        state.store.clone(),
        state.early_warning.clone(),
        args.config()?,
    );
    let tls = args.tls()?;
    let over = if tls.is_some() {
        "MLLP over TLS"
    } else {
        "MLLP"
    };
    let addr = &args.mllp_listen;
    let listener = tokio::net::TcpListener::bind(addr)
        .await
        .with_context(|| format!("binding the MLLP listener on {addr}"))?;
    let bound = listener.local_addr()?;
    let task = listen(listener, &args.mllp_allow, tls, feed.clone(), stop)?;
    println!("Tend HL7 v2 ({over}): {bound}");
    Ok((state.with_feed(feed), Some(task)))
}

/// The feed over a store (scoring through `ew` before `AA` when given).
pub(crate) fn new_feed(
    store: Arc<dyn store::Store>,
    ew: Option<Arc<early_warning::EarlyWarning>>,
    config: interface::Config,
) -> Arc<interface::Feed> {
    Arc::new(interface::Feed::new(
        store,
        ew,
        Arc::new(store::SystemClock),
        config,
    ))
}

/// Serve the HL7 v2 feed with default mapping on a bound listener (`allow`:
/// comma-separated peer addresses, empty for loopback only); stops when `stop` turns true.
pub(crate) fn serve_feed(
    listener: tokio::net::TcpListener,
    allow: &str,
    store: Arc<dyn store::Store>,
    ew: Option<Arc<early_warning::EarlyWarning>>,
    stop: tokio::sync::watch::Receiver<bool>,
) -> anyhow::Result<ListenerTask> {
    listen(
        listener,
        allow,
        None,
        new_feed(store, ew, interface::Config::default()),
        stop,
    )
}

/// The MLLP listener over `feed` (`tls`: MLLP over TLS with these settings, plain TCP
/// when None).
fn listen(
    listener: tokio::net::TcpListener,
    allow: &str,
    tls: Option<Arc<mllp::tls::ServerConfig>>,
    feed: Arc<interface::Feed>,
    stop: tokio::sync::watch::Receiver<bool>,
) -> anyhow::Result<ListenerTask> {
    let mut cfg = mllp::ListenerConfig {
        tls,
        ..Default::default()
    };
    for a in allow.split(',').map(str::trim).filter(|a| !a.is_empty()) {
        cfg.allow.push(
            a.parse()
                .with_context(|| format!("TEND_MLLP_ALLOW: '{a}' is not an IP address"))?,
        );
    }
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
