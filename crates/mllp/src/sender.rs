//! A client: send a message, wait for its acknowledgement.

use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use crate::frame::{encode, Decoder};
use crate::Error;

/// One connection to an MLLP endpoint.
pub struct Sender {
    stream: TcpStream,
    decoder: Decoder,
    timeout: Duration,
}

impl Sender {
    pub async fn connect(addr: &str, timeout: Duration) -> Result<Sender, Error> {
        let stream = TcpStream::connect(addr).await?;
        stream.set_nodelay(true)?;
        Ok(Sender {
            stream,
            decoder: Decoder::new(16 * 1024 * 1024),
            timeout,
        })
    }

    /// Send one message and return its acknowledgement.
    pub async fn send(&mut self, message: &[u8]) -> Result<Vec<u8>, Error> {
        self.stream.write_all(&encode(message)).await?;
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
