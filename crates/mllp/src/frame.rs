//! Framing: start block 0x0B, message, end block 0x1C, carriage return 0x0D.

/// Start of a frame.
pub const START: u8 = 0x0B;
/// End of a frame (followed by 0x0D).
pub const END: [u8; 2] = [0x1C, 0x0D];

/// A message framed for the wire.
pub fn encode(message: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(message.len() + 3);
    out.push(START);
    out.extend_from_slice(message);
    out.extend_from_slice(&END);
    out
}

/// Why a frame was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FrameError {
    #[error("frame larger than {max} bytes")]
    TooLarge { max: usize },
}

/// Incremental decoder: feed bytes, take complete messages. Bytes outside a frame are
/// skipped; a 0x1C not followed by 0x0D stays part of the message.
#[derive(Debug)]
pub struct Decoder {
    buf: Vec<u8>,
    in_frame: bool,
    max: usize,
}

impl Decoder {
    pub fn new(max: usize) -> Decoder {
        Decoder {
            buf: Vec::new(),
            in_frame: false,
            max,
        }
    }

    /// Add bytes; returns the complete messages they finish, in order.
    pub fn push(&mut self, bytes: &[u8]) -> Result<Vec<Vec<u8>>, FrameError> {
        let mut out = Vec::new();
        for &b in bytes {
            if !self.in_frame {
                if b == START {
                    self.in_frame = true;
                    self.buf.clear();
                }
                continue;
            }
            if b == START && self.buf.is_empty() {
                continue;
            }
            self.buf.push(b);
            if self.buf.ends_with(&END) {
                self.buf.truncate(self.buf.len() - 2);
                self.in_frame = false;
                if self.buf.len() > self.max {
                    self.buf.clear();
                    return Err(FrameError::TooLarge { max: self.max });
                }
                out.push(std::mem::take(&mut self.buf));
            } else if self.buf.len() > self.max + 2 {
                self.buf.clear();
                self.in_frame = false;
                return Err(FrameError::TooLarge { max: self.max });
            }
        }
        Ok(out)
    }

    /// Whether part of a message is buffered.
    pub fn pending(&self) -> bool {
        self.in_frame
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn frames_split_anywhere_and_noise_is_skipped() {
        let mut wire = b"noise".to_vec();
        wire.extend(encode(b"MSH|one\r"));
        wire.extend(encode(b"MSH|two\x1cX\r"));
        for split in 0..wire.len() {
            let mut d = Decoder::new(1024);
            let mut got = d.push(&wire[..split]).unwrap();
            got.extend(d.push(&wire[split..]).unwrap());
            assert_eq!(
                got,
                vec![b"MSH|one\r".to_vec(), b"MSH|two\x1cX\r".to_vec()],
                "split {split}"
            );
            assert!(!d.pending());
        }
    }

    #[test]
    fn oversized_frames_are_refused() {
        let mut d = Decoder::new(8);
        assert!(d.push(&encode(b"0123456789abcdef")).is_err());
        // One byte over the limit, ending exactly at the end block (found by fuzzing).
        assert!(Decoder::new(8).push(&encode(b"012345678")).is_err());
        assert_eq!(Decoder::new(8).push(&encode(b"01234567")).unwrap().len(), 1);
        assert_eq!(d.push(&encode(b"ok")).unwrap(), vec![b"ok".to_vec()]);
    }
}
