//! The listener: one task per connection, messages handled in order per connection (the
//! sender waits for each acknowledgement), many connections at once. Only configured peer
//! addresses are accepted; idle connections are closed; on shutdown no new connection is
//! accepted and each connection finishes the message it is handling.

use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;

use crate::frame::{encode, Decoder};

/// Handles one message; returns the acknowledgement to send (None: send nothing).
/// Called on a blocking thread: it may wait for the store.
pub trait Handler: Send + Sync + 'static {
    fn handle(&self, message: &[u8], peer: SocketAddr) -> Option<Vec<u8>>;
    /// The acknowledgement for a frame that could not be read (too large).
    fn refuse(&self, reason: &str) -> Vec<u8>;
}

/// Listener settings.
#[derive(Debug, Clone)]
pub struct ListenerConfig {
    /// Peers allowed to connect (empty: loopback only).
    pub allow: Vec<IpAddr>,
    /// Largest message accepted, in bytes.
    pub max_frame: usize,
    /// Connections idle this long are closed.
    pub idle: Duration,
}

impl Default for ListenerConfig {
    fn default() -> ListenerConfig {
        ListenerConfig {
            allow: Vec::new(),
            max_frame: 4 * 1024 * 1024,
            idle: Duration::from_secs(300),
        }
    }
}

fn allowed(cfg: &ListenerConfig, ip: IpAddr) -> bool {
    if cfg.allow.is_empty() {
        ip.is_loopback()
    } else {
        cfg.allow.contains(&ip)
    }
}

/// Serve until `shutdown` turns true.
pub async fn serve(
    listener: TcpListener,
    cfg: ListenerConfig,
    handler: Arc<dyn Handler>,
    mut shutdown: watch::Receiver<bool>,
) -> std::io::Result<()> {
    let cfg = Arc::new(cfg);
    let mut tasks = tokio::task::JoinSet::new();
    loop {
        tokio::select! {
            _ = shutdown.changed() => break,
            accepted = listener.accept() => {
                let (stream, peer) = match accepted {
                    Ok(x) => x,
                    Err(e) => {
                        tracing::warn!(error = %e, "MLLP accept failed");
                        continue;
                    }
                };
                if !allowed(&cfg, peer.ip()) {
                    tracing::warn!(peer = %peer.ip(), "MLLP connection from a peer not configured: closed");
                    continue;
                }
                let (cfg, handler, shutdown) = (cfg.clone(), handler.clone(), shutdown.clone());
                tasks.spawn(async move {
                    if let Err(e) = connection(stream, peer, &cfg, handler, shutdown).await {
                        tracing::debug!(error = %e, "MLLP connection ended");
                    }
                });
            }
        }
    }
    // Finish in-flight messages.
    while tasks.join_next().await.is_some() {}
    Ok(())
}

async fn connection(
    mut stream: TcpStream,
    peer: SocketAddr,
    cfg: &ListenerConfig,
    handler: Arc<dyn Handler>,
    mut shutdown: watch::Receiver<bool>,
) -> std::io::Result<()> {
    stream.set_nodelay(true)?;
    let mut decoder = Decoder::new(cfg.max_frame);
    let mut buf = vec![0u8; 64 * 1024];
    loop {
        let n = tokio::select! {
            _ = shutdown.changed() => return Ok(()),
            r = tokio::time::timeout(cfg.idle, stream.read(&mut buf)) => match r {
                Err(_) => return Ok(()), // idle
                Ok(r) => r?,
            },
        };
        if n == 0 {
            return Ok(());
        }
        let messages = match decoder.push(&buf[..n]) {
            Ok(m) => m,
            Err(e) => {
                let nak = handler.refuse(&e.to_string());
                stream.write_all(&encode(&nak)).await?;
                return Ok(());
            }
        };
        for m in messages {
            let h = handler.clone();
            let ack = tokio::task::spawn_blocking(move || h.handle(&m, peer))
                .await
                .map_err(std::io::Error::other)?;
            if let Some(ack) = ack {
                stream.write_all(&encode(&ack)).await?;
            }
        }
    }
}
