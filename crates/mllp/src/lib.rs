//! MLLP, the Minimal Lower Layer Protocol (HL7 v2.5.1 Appendix C / HL7 Version 3 Standard:
//! Transport Specification - MLLP, Release 2): every message travels as
//! `0x0B <message> 0x1C 0x0D`. This crate frames and unframes messages, runs a listener
//! that hands each message to a [`Handler`] and writes back its acknowledgement, and sends
//! messages as a client. It knows sockets, not HL7.
//!
//! Both ends optionally speak MLLP over TLS ([`tls`]: rustls with the `ring` provider); the
//! framing and the listener's behaviour are the same over either kind of connection.

mod frame;
mod listener;
mod sender;
pub mod tls;

pub use frame::{encode, Decoder, FrameError, END, START};
pub use listener::{serve, Handler, ListenerConfig};
pub use sender::Sender;

/// What can go wrong on an MLLP connection.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("i/o: {0}")]
    Io(#[from] std::io::Error),
    #[error(transparent)]
    Frame(#[from] FrameError),
    #[error("no acknowledgement within {0:?}")]
    Timeout(std::time::Duration),
    #[error("the connection closed before an acknowledgement arrived")]
    Closed,
    /// The TLS handshake with the endpoint failed (untrusted or wrong certificate, no
    /// client certificate where one is required, not a TLS endpoint, ...).
    #[error("TLS handshake: {0}")]
    Handshake(std::io::Error),
    /// No connection (TCP and TLS handshake) within the time limit.
    #[error("no connection within {0:?}")]
    ConnectTimeout(std::time::Duration),
    /// The name to check the endpoint's certificate against is neither a DNS name nor an
    /// IP address.
    #[error("'{0}' is not a valid TLS server name (a DNS name or an IP address)")]
    ServerName(String),
    /// A certificate, key or CA file could not be used. The problem never quotes the
    /// file's content (it may be a private key).
    #[error("{}: {problem}", path.display())]
    TlsFile {
        path: std::path::PathBuf,
        problem: String,
    },
    /// rustls refused the settings themselves.
    #[error("TLS settings: {0}")]
    Tls(#[from] rustls::Error),
}
