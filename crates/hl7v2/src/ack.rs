//! Acknowledgements (HL7 v2.5 §2.9): original mode (`AA`, `AE`, `AR`) and enhanced mode
//! accept acknowledgements (`CA`, `CE`, `CR`), with an `ERR` segment per problem: from
//! v2.5, ERR-2 (location `segment^sequence^field^repetition^component`), ERR-3 (HL7 table
//! 0357), ERR-4 severity and ERR-8 the message for the user; for v2.3 and v2.4, ERR-1
//! (location and code). MSA-3 (text) only up to v2.6, where it still exists.

use crate::message::{Diagnostic, Header};

/// MSA-1.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AckCode {
    /// Original mode: accepted / error / rejected.
    Aa,
    Ae,
    Ar,
    /// Enhanced mode: commit accept / error / reject.
    Ca,
    Ce,
    Cr,
}

impl AckCode {
    pub fn as_str(self) -> &'static str {
        match self {
            AckCode::Aa => "AA",
            AckCode::Ae => "AE",
            AckCode::Ar => "AR",
            AckCode::Ca => "CA",
            AckCode::Ce => "CE",
            AckCode::Cr => "CR",
        }
    }
}

/// Which acknowledgement a message asked for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AckMode {
    Original,
    Enhanced,
}

impl AckMode {
    /// The code for an outcome in this mode: accepted, content error, or rejected.
    pub fn code(self, outcome: Outcome) -> AckCode {
        match (self, outcome) {
            (AckMode::Original, Outcome::Accepted) => AckCode::Aa,
            (AckMode::Original, Outcome::Error) => AckCode::Ae,
            (AckMode::Original, Outcome::Rejected) => AckCode::Ar,
            (AckMode::Enhanced, Outcome::Accepted) => AckCode::Ca,
            (AckMode::Enhanced, Outcome::Error) => AckCode::Ce,
            (AckMode::Enhanced, Outcome::Rejected) => AckCode::Cr,
        }
    }
}

/// What happened to a message.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    Accepted,
    Error,
    Rejected,
}

pub(crate) fn escape(text: &str) -> String {
    // Tend's acknowledgements use the standard encoding characters |^~\&.
    let mut out = String::with_capacity(text.len());
    for ch in text.chars() {
        match ch {
            '|' => out.push_str("\\F\\"),
            '^' => out.push_str("\\S\\"),
            '~' => out.push_str("\\R\\"),
            '\\' => out.push_str("\\E\\"),
            '&' => out.push_str("\\T\\"),
            '\r' | '\n' => out.push(' '),
            c => out.push(c),
        }
    }
    out
}

/// The acknowledgement of a message (header as read; empty fields where unknown).
/// `now` is the HL7 timestamp for MSH-7.
pub fn build(header: &Header, code: AckCode, problems: &[Diagnostic], now: &str) -> String {
    let version = if header.version.is_empty() {
        "2.5.1"
    } else {
        &header.version
    };
    let trigger = escape(&header.trigger);
    let mut segs = vec![format!(
        "MSH|^~\\&|{}|{}|{}|{}|{}||ACK^{}{}|ACK{}|{}|{}",
        if header.echo[2].is_empty() {
            "TEND".to_string()
        } else {
            header.echo[2].clone()
        },
        header.echo[3],
        header.echo[0],
        header.echo[1],
        now,
        trigger,
        // The message structure component exists from v2.4.
        if crate::message::VERSIONS.contains(&version) && !version.starts_with("2.3") {
            "^ACK"
        } else {
            ""
        },
        escape(&header.control_id),
        if header.processing_id.is_empty() {
            "P".to_string()
        } else {
            escape(&header.processing_id)
        },
        escape(version),
    )];
    let text = match (code, problems.iter().find(|p| !p.warning)) {
        (AckCode::Aa | AckCode::Ca, _) => String::new(),
        (_, Some(p)) => escape(&p.to_string()),
        (_, None) => String::new(),
    };
    // MSA-3 (text message) was withdrawn in v2.7: the ERR segments carry the text.
    let old = matches!(version, "2.3" | "2.3.1" | "2.4" | "2.5" | "2.5.1" | "2.6");
    if old && !text.is_empty() {
        segs.push(format!(
            "MSA|{}|{}|{}",
            code.as_str(),
            escape(&header.control_id),
            text
        ));
    } else {
        segs.push(format!(
            "MSA|{}|{}",
            code.as_str(),
            escape(&header.control_id)
        ));
    }
    for p in problems {
        let (field, repetition) = if p.field > 0 {
            (p.field.to_string(), p.repetition.max(1).to_string())
        } else {
            (String::new(), String::new())
        };
        let component = if p.component > 0 {
            p.component.to_string()
        } else {
            String::new()
        };
        let loc1 = format!("{}^{}^{field}", p.segment, p.sequence);
        let loc2 = format!(
            "{}^{}^{field}^{repetition}^{component}",
            p.segment, p.sequence
        );
        if matches!(version, "2.3" | "2.3.1" | "2.4") {
            // Before v2.5 ERR has one field: location and code (ELD).
            segs.push(format!(
                "ERR|{loc1}^{}&{}&HL70357",
                p.code.code(),
                p.code.text()
            ));
        } else {
            segs.push(format!(
                "ERR||{loc2}|{}^{}^HL70357|{}||||{}",
                p.code.code(),
                p.code.text(),
                if p.warning { "W" } else { "E" },
                escape(&p.message)
            ));
        }
    }
    let mut out = segs.join("\r");
    out.push('\r');
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::message::{ErrorCode, Inbound};

    #[test]
    fn an_error_ack_names_segment_field_and_component() {
        let m = Inbound::parse(b"MSH|^~\\&|LAB|HOSP|TEND|WARD|20261124||ORU^R01|MSG1|P|2.5.1\r")
            .unwrap();
        let d = Diagnostic::new(
            "OBX",
            2,
            5,
            1,
            ErrorCode::DataTypeError,
            "NM value is not a number",
        );
        let ack = build(&m.header, AckCode::Ae, &[d], "20261124083000");
        let parsed = hl7kit::Message::parse(ack.clone()).unwrap();
        assert_eq!(parsed.get("MSH-9.1"), Some("ACK"));
        assert_eq!(parsed.get("MSH-5"), Some("LAB"));
        assert_eq!(parsed.get("MSA-1"), Some("AE"));
        assert_eq!(parsed.get("MSA-2"), Some("MSG1"));
        assert_eq!(parsed.get("ERR-2.1"), Some("OBX"));
        assert_eq!(parsed.get("ERR-2.2"), Some("2"));
        assert_eq!(parsed.get("ERR-2.3"), Some("5"));
        assert_eq!(parsed.get("ERR-2.5"), Some("1"));
        assert_eq!(parsed.get("ERR-3.1"), Some("102"));
        assert!(ack.ends_with('\r'));
    }
}
