//! MLLP, the Minimal Lower Layer Protocol (HL7 v2.5.1 Appendix C / HL7 Version 3 Standard:
//! Transport Specification - MLLP, Release 2): every message travels as
//! `0x0B <message> 0x1C 0x0D`. This crate frames and unframes messages, runs a listener
//! that hands each message to a [`Handler`] and writes back its acknowledgement, and sends
//! messages as a client. It knows sockets, not HL7.

mod frame;
mod listener;
mod sender;

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
}
