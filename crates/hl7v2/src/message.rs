//! One inbound message: parsed, its header read, its problems positioned.
//! Header fields per HL7 v2.5 §2.14.9 (MSH).

use std::cell::Cell;

use hl7kit::{Component, Encoding, Field, Message, Segment, Subcomponent};

thread_local! {
    /// The encoding characters of the message being read on this thread.
    static ENCODING: Cell<Encoding> = Cell::new(Encoding::default());
}

/// Read values with the encoding characters of `message` (set before decoding).
pub(crate) fn use_encoding(message: &Message) {
    ENCODING.with(|e| e.set(message.encoding()));
}

/// Decode the escape sequences of a value (HL7 v2.5 §2.7): `\F\ \S\ \T\ \R\ \E\`, `\.br\`,
/// `\Xhh..\`; anything else (or an unterminated sequence) is kept as written. Works on
/// characters, never on byte offsets, so no input can make it fail.
pub fn unescape(raw: &str, enc: Encoding) -> String {
    let esc = enc.escape as char;
    if !raw.contains(esc) {
        return raw.to_string();
    }
    let chars: Vec<char> = raw.chars().collect();
    let mut out = String::with_capacity(raw.len());
    let mut i = 0;
    while i < chars.len() {
        if chars[i] != esc {
            out.push(chars[i]);
            i += 1;
            continue;
        }
        let Some(len) = chars[i + 1..].iter().position(|c| *c == esc) else {
            out.extend(&chars[i..]);
            break;
        };
        let seq: String = chars[i + 1..i + 1 + len].iter().collect();
        let decoded = match seq.as_str() {
            "F" => Some((enc.field as char).to_string()),
            "S" => Some((enc.component as char).to_string()),
            "T" => Some((enc.subcomponent as char).to_string()),
            "R" => Some((enc.repetition as char).to_string()),
            "E" => Some(esc.to_string()),
            ".br" => Some("\n".to_string()),
            s => s.strip_prefix('X').and_then(|hex| {
                let h: Vec<char> = hex.chars().collect();
                if h.is_empty()
                    || !h.len().is_multiple_of(2)
                    || !h.iter().all(char::is_ascii_hexdigit)
                {
                    return None;
                }
                let bytes: Vec<u8> = h
                    .chunks(2)
                    .filter_map(|p| u8::from_str_radix(&p.iter().collect::<String>(), 16).ok())
                    .collect();
                Some(String::from_utf8_lossy(&bytes).into_owned())
            }),
        };
        match decoded {
            Some(d) => {
                out.push_str(&d);
                i += len + 2;
            }
            None => {
                out.push(chars[i]);
                i += 1;
            }
        }
    }
    out
}

/// The decoded text of a value.
pub(crate) trait Text {
    fn text(&self) -> String;
}

macro_rules! text_impl {
    ($($t:ident),*) => {$(
        impl Text for $t<'_> {
            fn text(&self) -> String {
                ENCODING.with(|e| unescape(self.value(), e.get()))
            }
        }
    )*};
}
text_impl!(Field, Component, Subcomponent);

/// HL7 table 0357 (message error condition codes) used in `ERR-3`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorCode {
    SegmentSequence,
    RequiredFieldMissing,
    DataTypeError,
    TableValueNotFound,
    UnsupportedMessageType,
    UnsupportedEventCode,
    UnsupportedProcessingId,
    UnsupportedVersion,
    DuplicateKey,
    ApplicationError,
}

impl ErrorCode {
    pub fn code(self) -> &'static str {
        match self {
            ErrorCode::SegmentSequence => "100",
            ErrorCode::RequiredFieldMissing => "101",
            ErrorCode::DataTypeError => "102",
            ErrorCode::TableValueNotFound => "103",
            ErrorCode::UnsupportedMessageType => "200",
            ErrorCode::UnsupportedEventCode => "201",
            ErrorCode::UnsupportedProcessingId => "202",
            ErrorCode::UnsupportedVersion => "203",
            ErrorCode::DuplicateKey => "205",
            ErrorCode::ApplicationError => "207",
        }
    }

    pub fn text(self) -> &'static str {
        match self {
            ErrorCode::SegmentSequence => "Segment sequence error",
            ErrorCode::RequiredFieldMissing => "Required field missing",
            ErrorCode::DataTypeError => "Data type error",
            ErrorCode::TableValueNotFound => "Table value not found",
            ErrorCode::UnsupportedMessageType => "Unsupported message type",
            ErrorCode::UnsupportedEventCode => "Unsupported event code",
            ErrorCode::UnsupportedProcessingId => "Unsupported processing id",
            ErrorCode::UnsupportedVersion => "Unsupported version id",
            ErrorCode::DuplicateKey => "Duplicate key identifier",
            ErrorCode::ApplicationError => "Application internal error",
        }
    }
}

/// A problem with a message, and where it is: segment name, its occurrence in the
/// message (1-based), field, repetition and component (0 = not applicable).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Diagnostic {
    pub segment: String,
    pub sequence: usize,
    pub field: usize,
    pub repetition: usize,
    pub component: usize,
    pub code: ErrorCode,
    /// What is wrong, without patient data (positions and rules, not values).
    pub message: String,
    /// A warning (the message was processed) rather than an error.
    pub warning: bool,
}

impl Diagnostic {
    pub fn new(
        seg: &str,
        sequence: usize,
        field: usize,
        component: usize,
        code: ErrorCode,
        message: impl Into<String>,
    ) -> Diagnostic {
        Diagnostic {
            segment: seg.to_string(),
            sequence,
            field,
            repetition: usize::from(field > 0),
            component,
            code,
            message: message.into(),
            warning: false,
        }
    }

    /// The same problem as a warning.
    pub fn warning(mut self) -> Diagnostic {
        self.warning = true;
        self
    }

    /// `PID-3.1`-style location.
    pub fn location(&self) -> String {
        let mut s = self.segment.clone();
        if self.field > 0 {
            s.push_str(&format!("-{}", self.field));
            if self.component > 0 {
                s.push_str(&format!(".{}", self.component));
            }
        }
        s
    }
}

impl std::fmt::Display for Diagnostic {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}: {}", self.location(), self.message)
    }
}

/// A message that cannot be processed at all (answered with `AR`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rejection {
    pub diagnostic: Diagnostic,
    /// What of the header could be read, for the acknowledgement.
    pub header: Option<Box<Header>>,
}

/// The MSH fields Tend uses.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Header {
    pub sending_application: String,
    pub sending_facility: String,
    pub receiving_application: String,
    pub receiving_facility: String,
    /// MSH-7.
    pub time: String,
    pub message_code: String,
    pub trigger: String,
    pub control_id: String,
    pub processing_id: String,
    pub version: String,
    /// MSH-15 and MSH-16 (enhanced acknowledgement mode when MSH-15 is valued).
    pub accept_ack: String,
    pub application_ack: String,
    /// MSH-3 to MSH-6 whole (all components), re-encoded with the standard delimiters,
    /// for the acknowledgement to echo.
    pub echo: [String; 4],
}

/// Versions accepted (MSH-12).
pub const VERSIONS: &[&str] = &[
    "2.3", "2.3.1", "2.4", "2.5", "2.5.1", "2.6", "2.7", "2.7.1", "2.8", "2.8.1", "2.8.2",
];

/// A parsed inbound message.
#[derive(Debug, Clone)]
pub struct Inbound {
    pub message: Message,
    pub header: Header,
}

/// The decoded text of component `c` (1-based) of the first repetition of field `f`.
pub(crate) fn comp(seg: &Segment<'_>, f: usize, c: usize) -> String {
    seg.field(f)
        .and_then(|field| field.component(c))
        .map(|x| x.text().trim().to_string())
        .unwrap_or_default()
}

/// Field `f` (first repetition) re-encoded with the standard delimiters `^` and `&`.
fn standard(seg: &Segment<'_>, f: usize) -> String {
    let Some(rep) = seg.field(f).and_then(|field| field.repetition(1)) else {
        return String::new();
    };
    let comps: Vec<String> = rep
        .components()
        .map(|c| {
            c.subcomponents()
                .map(|s| crate::ack::escape(&s.text()))
                .collect::<Vec<_>>()
                .join("&")
        })
        .collect();
    comps.join("^").trim_end_matches('^').to_string()
}

fn header(msg: &Message) -> Header {
    let Some(msh) = msg.segment("MSH") else {
        return Header::default();
    };
    Header {
        sending_application: comp(&msh, 3, 1),
        sending_facility: comp(&msh, 4, 1),
        receiving_application: comp(&msh, 5, 1),
        receiving_facility: comp(&msh, 6, 1),
        time: comp(&msh, 7, 1),
        message_code: comp(&msh, 9, 1).to_ascii_uppercase(),
        trigger: comp(&msh, 9, 2).to_ascii_uppercase(),
        control_id: comp(&msh, 10, 1),
        processing_id: comp(&msh, 11, 1),
        version: comp(&msh, 12, 1),
        accept_ack: comp(&msh, 15, 1).to_ascii_uppercase(),
        application_ack: comp(&msh, 16, 1).to_ascii_uppercase(),
        echo: [
            standard(&msh, 3),
            standard(&msh, 4),
            standard(&msh, 5),
            standard(&msh, 6),
        ],
    }
}

impl Inbound {
    /// Parse one message (MLLP framing bytes, if any, are tolerated). Never panics.
    pub fn parse(bytes: &[u8]) -> Result<Inbound, Rejection> {
        let message = Message::parse_lossy(bytes).map_err(|e| Rejection {
            diagnostic: Diagnostic::new("MSH", 1, 0, 0, ErrorCode::SegmentSequence, e.to_string()),
            header: None,
        })?;
        use_encoding(&message);
        let header = header(&message);
        let reject = |field: usize, component: usize, code: ErrorCode, text: &str| Rejection {
            diagnostic: Diagnostic::new("MSH", 1, field, component, code, text),
            header: Some(Box::new(header.clone())),
        };
        if header.message_code.is_empty() {
            return Err(reject(
                9,
                1,
                ErrorCode::RequiredFieldMissing,
                "message type is missing",
            ));
        }
        if header.control_id.is_empty() {
            return Err(reject(
                10,
                0,
                ErrorCode::RequiredFieldMissing,
                "message control id is missing",
            ));
        }
        if header.version.is_empty() {
            return Err(reject(
                12,
                0,
                ErrorCode::RequiredFieldMissing,
                "version id is missing",
            ));
        }
        if !VERSIONS.contains(&header.version.as_str()) {
            return Err(reject(
                12,
                0,
                ErrorCode::UnsupportedVersion,
                "versions 2.3 to 2.8 are accepted",
            ));
        }
        Ok(Inbound { message, header })
    }

    /// The idempotency key: sending application, sending facility, control id.
    pub fn key(&self) -> String {
        format!(
            "{}|{}|{}",
            self.header.sending_application, self.header.sending_facility, self.header.control_id
        )
    }

    /// A fingerprint of the content (segment terminators normalised), to tell a resend
    /// from a different message reusing a key.
    pub fn fingerprint(&self) -> String {
        let norm: String = self
            .message
            .raw()
            .split(['\r', '\n'])
            .map(str::trim_end)
            .filter(|l| !l.is_empty())
            .collect::<Vec<_>>()
            .join("\r");
        fhir::id::digest_hex(&norm)
    }

    /// Whether the sender asked for enhanced-mode acknowledgements (MSH-15 valued).
    pub fn enhanced(&self) -> bool {
        !self.header.accept_ack.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_the_header_with_custom_encoding_characters() {
        let m = Inbound::parse(
            b"MSH#*!@%#LAB#HOSP#TEND#WARD#20261124083000##ORU*R01#42#P#2.5.1\rPID###7**HOSP\r",
        )
        .unwrap();
        assert_eq!(m.header.message_code, "ORU");
        assert_eq!(m.header.trigger, "R01");
        assert_eq!(m.key(), "LAB|HOSP|42");
    }

    #[test]
    fn rejects_what_cannot_be_processed() {
        let r = Inbound::parse(b"").unwrap_err();
        assert_eq!(r.diagnostic.segment, "MSH");
        let r = Inbound::parse(b"MSH|^~\\&|A|B|C|D|2026||ORU^R01|1|P|2.1\r").unwrap_err();
        assert_eq!(r.diagnostic.code, ErrorCode::UnsupportedVersion);
        assert_eq!(r.diagnostic.location(), "MSH-12");
        let r = Inbound::parse(b"MSH|^~\\&|A|B|C|D|2026||ORU^R01||P|2.5\r").unwrap_err();
        assert_eq!(r.diagnostic.location(), "MSH-10");
        let r = Inbound::parse(b"PID|1\r").unwrap_err();
        assert_eq!(r.header, None);
    }

    #[test]
    fn escapes_decode_safely_whatever_they_hold() {
        let enc = Encoding::default();
        assert_eq!(
            unescape("O\\X27\\Brien \\T\\ co\\.br\\x", enc),
            "O'Brien & co\nx"
        );
        assert_eq!(
            unescape("\\X1é\\ \\Xzz\\ \\Q\\ \\unterminated", enc),
            "\\X1é\\ \\Xzz\\ \\Q\\ \\unterminated"
        );
        let crash = include_bytes!("../test_data/crash-hex-escape.hl7");
        let m = Inbound::parse(crash).map(|m| crate::map_oru(&m, &crate::MappingConfig::default()));
        assert!(m.is_ok() || m.is_err());
    }

    #[test]
    fn fingerprint_ignores_terminator_style() {
        let a = Inbound::parse(b"MSH|^~\\&|A|B|C|D|2026||ORU^R01|1|P|2.5\rPID|1\r").unwrap();
        let b = Inbound::parse(b"MSH|^~\\&|A|B|C|D|2026||ORU^R01|1|P|2.5\r\nPID|1\r\n").unwrap();
        assert_eq!(a.fingerprint(), b.fingerprint());
    }
}
