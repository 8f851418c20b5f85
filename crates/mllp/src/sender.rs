//! A client: send a message, wait for its acknowledgement; over plain TCP or TLS.

use std::sync::Arc;
use std::time::Duration;

use rustls::pki_types::ServerName;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::TcpStream;

use crate::frame::{encode, Decoder};
use crate::Error;

/// A connection of either kind: `send` is the same for both.
trait Stream: AsyncRead + AsyncWrite + Unpin + Send {}
impl<T: AsyncRead + AsyncWrite + Unpin + Send> Stream for T {}

/// One connection to an MLLP endpoint.
pub struct Sender {
    stream: Box<dyn Stream>,
    decoder: Decoder,
    timeout: Duration,
}

impl Sender {
    /// Connect over plain TCP; `timeout` bounds the wait for each acknowledgement.
    pub async fn connect(addr: &str, timeout: Duration) -> Result<Sender, Error> {
        let stream = TcpStream::connect(addr).await?;
        stream.set_nodelay(true)?;
        Ok(Sender::over(Box::new(stream), timeout))
    }

    /// Connect over TLS (see [`crate::tls::client_config`]), checking the endpoint's
    /// certificate against `server_name` (a DNS name or an IP address). `timeout` bounds the
    /// connection with its handshake, then the wait for each acknowledgement.
    ///
    /// With TLS 1.3, a listener that refuses this client's certificate (or its lack of one)
    /// says so only after the client's side of the handshake is done: the refusal then
    /// surfaces as an error from the first [`Sender::send`].
    pub async fn connect_tls(
        addr: &str,
        server_name: &str,
        config: Arc<rustls::ClientConfig>,
        timeout: Duration,
    ) -> Result<Sender, Error> {
        let name = ServerName::try_from(server_name.to_string())
            .map_err(|_| Error::ServerName(server_name.to_string()))?;
        let connect = async {
            let tcp = TcpStream::connect(addr).await?;
            tcp.set_nodelay(true)?;
            tokio_rustls::TlsConnector::from(config)
                .connect(name, tcp)
                .await
                .map_err(Error::Handshake)
        };
        let stream = tokio::time::timeout(timeout, connect)
            .await
            .map_err(|_| Error::ConnectTimeout(timeout))??;
        Ok(Sender::over(Box::new(stream), timeout))
    }

    fn over(stream: Box<dyn Stream>, timeout: Duration) -> Sender {
        Sender {
            stream,
            decoder: Decoder::new(16 * 1024 * 1024),
            timeout,
        }
    }

    /// Send one message and return its acknowledgement.
    pub async fn send(&mut self, message: &[u8]) -> Result<Vec<u8>, Error> {
        self.stream.write_all(&encode(message)).await?;
        // TLS buffers what it writes: send the message now.
        self.stream.flush().await?;
        let mut buf = vec![0u8; 16 * 1024];
        loop {
            let n = tokio::time::timeout(self.timeout, self.stream.read(&mut buf))
                .await
                .map_err(|_| Error::Timeout(self.timeout))??;
            if n == 0 {
                return Err(Error::Closed);
            }
            if let Some(ack) = self.decoder.push(&buf[..n])?.into_iter().next() {
                return Ok(ack);
            }
        }
    }
}
