//! The listener: one task per connection, messages handled in order per connection (the
//! sender waits for each acknowledgement), many connections at once. Only configured peer
//! addresses are accepted; idle connections are closed; on shutdown no new connection is
//! accepted and each connection finishes the message it is handling.
//!
//! With [`ListenerConfig::tls`], every connection starts with a TLS handshake (bounded by
//! [`ListenerConfig::handshake_timeout`]); after it, plain and TLS connections run the same
//! code. A failed handshake closes the connection before any message is read.
//!
//! Counters (through the `metrics` facade; `/metrics` renders them), labelled by the peer's
//! address: `tend_mllp_connections_total`, `tend_mllp_connections_refused_total`,
//! `tend_mllp_connections_open` (gauge), `tend_mllp_frames_total`,
//! `tend_mllp_frames_refused_total` (over the size limit), `tend_mllp_bytes_received_total`
//! and `tend_mllp_tls_handshake_failures_total`.

use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::time::Duration;

use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;
use tokio_rustls::server::TlsStream;

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
    /// MLLP over TLS when set (see [`crate::tls::server_config`]); plain TCP otherwise.
    pub tls: Option<Arc<rustls::ServerConfig>>,
    /// A TLS handshake not finished within this time closes the connection.
    pub handshake_timeout: Duration,
}

impl Default for ListenerConfig {
    fn default() -> ListenerConfig {
        ListenerConfig {
            allow: Vec::new(),
            max_frame: 4 * 1024 * 1024,
            idle: Duration::from_secs(300),
            tls: None,
            handshake_timeout: Duration::from_secs(10),
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
                    metrics::counter!("tend_mllp_connections_refused_total", "peer" => peer.ip().to_string()).increment(1);
                    tracing::warn!(peer = %peer.ip(), "MLLP connection from a peer not configured: closed");
                    continue;
                }
                let (cfg, handler, shutdown) = (cfg.clone(), handler.clone(), shutdown.clone());
                let ip = peer.ip().to_string();
                metrics::counter!("tend_mllp_connections_total", "peer" => ip.clone()).increment(1);
                let open = metrics::gauge!("tend_mllp_connections_open");
                open.increment(1.0);
                tasks.spawn(async move {
                    if let Err(e) = accepted_connection(stream, peer, &cfg, handler, shutdown).await {
                        tracing::debug!(error = %e, "MLLP connection ended");
                    }
                    open.decrement(1.0);
                });
            }
        }
    }
    // Finish in-flight messages.
    while tasks.join_next().await.is_some() {}
    Ok(())
}

/// An allowed peer's connection: the TLS handshake first when configured, then messages.
async fn accepted_connection(
    stream: TcpStream,
    peer: SocketAddr,
    cfg: &ListenerConfig,
    handler: Arc<dyn Handler>,
    shutdown: watch::Receiver<bool>,
) -> std::io::Result<()> {
    // Acknowledgements are small and awaited one by one: no Nagle delay.
    stream.set_nodelay(true)?;
    match &cfg.tls {
        None => connection(stream, peer, cfg, handler, shutdown).await,
        Some(tls) => match handshake(tls, stream, peer, cfg, shutdown.clone()).await {
            Some(stream) => connection(stream, peer, cfg, handler, shutdown).await,
            None => Ok(()),
        },
    }
}

/// The server side of the TLS handshake; None (counted and logged) when it fails or times
/// out, or when shutdown begins first.
async fn handshake(
    tls: &Arc<rustls::ServerConfig>,
    stream: TcpStream,
    peer: SocketAddr,
    cfg: &ListenerConfig,
    mut shutdown: watch::Receiver<bool>,
) -> Option<TlsStream<TcpStream>> {
    let accept = tokio_rustls::TlsAcceptor::from(tls.clone()).accept(stream);
    let reason = tokio::select! {
        _ = shutdown.changed() => return None,
        r = tokio::time::timeout(cfg.handshake_timeout, accept) => match r {
            Ok(Ok(stream)) => return Some(stream),
            Ok(Err(e)) => handshake_failure(&e),
            Err(_) => format!("not finished within {:?}", cfg.handshake_timeout),
        },
    };
    metrics::counter!("tend_mllp_tls_handshake_failures_total", "peer" => peer.ip().to_string())
        .increment(1);
    tracing::warn!(peer = %peer.ip(), %reason, "MLLP TLS handshake failed: connection closed");
    None
}

/// What went wrong in a handshake, fit for the log. No message has been read yet, so no
/// patient data can be involved; still, only rustls's own error (the kind of TLS failure:
/// "peer sent no certificates", "invalid peer certificate: UnknownIssuer", "received corrupt
/// message ...") or the kind of I/O error is logged, never bytes the peer sent.
fn handshake_failure(e: &std::io::Error) -> String {
    match e
        .get_ref()
        .and_then(|inner| inner.downcast_ref::<rustls::Error>())
    {
        Some(tls) => tls.to_string(),
        None => e.kind().to_string(),
    }
}

/// One connection, plain or TLS: messages in, acknowledgements out, until the peer closes,
/// the connection is idle too long, or shutdown.
async fn connection<S>(
    mut stream: S,
    peer: SocketAddr,
    cfg: &ListenerConfig,
    handler: Arc<dyn Handler>,
    shutdown: watch::Receiver<bool>,
) -> std::io::Result<()>
where
    S: AsyncRead + AsyncWrite + Unpin,
{
    let served = exchange(&mut stream, peer, cfg, handler, shutdown).await;
    // Close politely (a TLS close_notify; a FIN for TCP), but never wait long for it.
    let _ = tokio::time::timeout(Duration::from_secs(1), stream.shutdown()).await;
    served
}

async fn exchange<S: AsyncRead + AsyncWrite + Unpin>(
    stream: &mut S,
    peer: SocketAddr,
    cfg: &ListenerConfig,
    handler: Arc<dyn Handler>,
    mut shutdown: watch::Receiver<bool>,
) -> std::io::Result<()> {
    let mut decoder = Decoder::new(cfg.max_frame);
    let mut buf = vec![0u8; 64 * 1024];
    let ip = peer.ip().to_string();
    let bytes = metrics::counter!("tend_mllp_bytes_received_total", "peer" => ip.clone());
    let frames = metrics::counter!("tend_mllp_frames_total", "peer" => ip.clone());
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
        bytes.increment(n as u64);
        let messages = match decoder.push(&buf[..n]) {
            Ok(m) => m,
            Err(e) => {
                metrics::counter!("tend_mllp_frames_refused_total", "peer" => ip.clone())
                    .increment(1);
                let nak = handler.refuse(&e.to_string());
                stream.write_all(&encode(&nak)).await?;
                stream.flush().await?;
                return Ok(());
            }
        };
        for m in messages {
            frames.increment(1);
            let h = handler.clone();
            let ack = tokio::task::spawn_blocking(move || h.handle(&m, peer))
                .await
                .map_err(std::io::Error::other)?;
            if let Some(ack) = ack {
                stream.write_all(&encode(&ack)).await?;
                // TLS buffers what it writes: send the acknowledgement now.
                stream.flush().await?;
            }
        }
    }
}
