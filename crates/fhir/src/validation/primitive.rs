//! The R4 primitive data types: which JSON type carries each one and the lexical rules of
//! its value. Spec: <https://hl7.org/fhir/R4/datatypes.html#primitive> and
//! <https://hl7.org/fhir/R4/json.html#primitive>.
//!
//! The rules are those of the regular expressions in the type definitions, written out by
//! hand so they run without a regex engine and can also reject impossible calendar dates
//! (`2023-02-30`), which the expressions let through.

use std::fmt::Write as _;

use serde_json::Value;

use super::IssueCode;

/// Strings are limited to 1 MB (<https://hl7.org/fhir/R4/datatypes.html#string>): the
/// `maxLength` of `string.value`, in characters.
const MAX_STRING_CHARS: usize = 1024 * 1024;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Primitive {
    Base64Binary,
    Boolean,
    Canonical,
    Code,
    Date,
    DateTime,
    Decimal,
    Id,
    Instant,
    Integer,
    Markdown,
    Oid,
    PositiveInt,
    String,
    Time,
    UnsignedInt,
    Uri,
    Url,
    Uuid,
    Xhtml,
}

/// What is wrong with a primitive value.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Finding {
    Error(IssueCode, String),
    Warning(String),
}

const ALL: [Primitive; 20] = [
    Primitive::Base64Binary,
    Primitive::Boolean,
    Primitive::Canonical,
    Primitive::Code,
    Primitive::Date,
    Primitive::DateTime,
    Primitive::Decimal,
    Primitive::Id,
    Primitive::Instant,
    Primitive::Integer,
    Primitive::Markdown,
    Primitive::Oid,
    Primitive::PositiveInt,
    Primitive::String,
    Primitive::Time,
    Primitive::UnsignedInt,
    Primitive::Uri,
    Primitive::Url,
    Primitive::Uuid,
    Primitive::Xhtml,
];

impl Primitive {
    pub(crate) fn from_name(name: &str) -> Option<Primitive> {
        ALL.into_iter().find(|p| p.name() == name)
    }

    pub(crate) fn name(self) -> &'static str {
        match self {
            Primitive::Base64Binary => "base64Binary",
            Primitive::Boolean => "boolean",
            Primitive::Canonical => "canonical",
            Primitive::Code => "code",
            Primitive::Date => "date",
            Primitive::DateTime => "dateTime",
            Primitive::Decimal => "decimal",
            Primitive::Id => "id",
            Primitive::Instant => "instant",
            Primitive::Integer => "integer",
            Primitive::Markdown => "markdown",
            Primitive::Oid => "oid",
            Primitive::PositiveInt => "positiveInt",
            Primitive::String => "string",
            Primitive::Time => "time",
            Primitive::UnsignedInt => "unsignedInt",
            Primitive::Uri => "uri",
            Primitive::Url => "url",
            Primitive::Uuid => "uuid",
            Primitive::Xhtml => "xhtml",
        }
    }

    /// Checks one value (never an array or null: the caller handles those).
    pub(crate) fn check(self, value: &Value) -> Option<Finding> {
        match self {
            Primitive::Boolean => match value {
                Value::Bool(_) => None,
                _ => Some(wrong_json_type(self, "boolean", value)),
            },
            Primitive::Decimal => match value {
                Value::Number(_) => None,
                _ => Some(wrong_json_type(self, "number", value)),
            },
            Primitive::Integer | Primitive::PositiveInt | Primitive::UnsignedInt => match value {
                Value::Number(n) => {
                    let min = match self {
                        Primitive::PositiveInt => 1,
                        Primitive::UnsignedInt => 0,
                        _ => i64::from(i32::MIN),
                    };
                    match n.as_i64() {
                        Some(i) if i >= min && i <= i64::from(i32::MAX) => None,
                        Some(_) => Some(invalid(self, &n.to_string(), "out of range")),
                        None if n.is_u64() => Some(invalid(self, &n.to_string(), "out of range")),
                        None => Some(invalid(self, &n.to_string(), "not a whole number")),
                    }
                }
                _ => Some(wrong_json_type(self, "number", value)),
            },
            _ => match value {
                Value::String(s) => self.check_str(s),
                _ => Some(wrong_json_type(self, "string", value)),
            },
        }
    }

    fn check_str(self, s: &str) -> Option<Finding> {
        if s.is_empty() {
            return Some(Finding::Error(
                IssueCode::Invariant,
                "Empty string; an element must have a value or children (ele-1)".to_owned(),
            ));
        }
        // Only `string.value` declares a maxLength in the definitions.
        if self == Primitive::String
            && s.len() > MAX_STRING_CHARS
            && s.chars().count() > MAX_STRING_CHARS
        {
            let message = format!(
                "String of {} characters exceeds the limit of 1024 * 1024",
                s.chars().count()
            );
            return Some(Finding::Error(IssueCode::Value, message));
        }
        let rule = match self {
            Primitive::String | Primitive::Markdown => {
                if let Some(c) = s
                    .chars()
                    .find(|c| (*c as u32) < 32 && !matches!(c, '\t' | '\r' | '\n'))
                {
                    let detail = format!("control character U+{:04X}", c as u32);
                    return Some(invalid(self, s, &detail));
                }
                if self == Primitive::String && (s.starts_with(is_space) || s.ends_with(is_space)) {
                    return Some(Finding::Warning(format!(
                        "Value '{}' has leading or trailing whitespace",
                        shorten(s)
                    )));
                }
                Ok(())
            }
            Primitive::Code => code(s),
            Primitive::Id => id(s),
            Primitive::Uri | Primitive::Url | Primitive::Canonical => {
                if s.contains(is_space) {
                    Err("whitespace is not allowed")
                } else {
                    Ok(())
                }
            }
            Primitive::Oid => oid(s),
            Primitive::Uuid => uuid(s),
            Primitive::Base64Binary => base64(s),
            Primitive::Date => date(s),
            Primitive::DateTime => date_time(s),
            Primitive::Instant => instant(s),
            Primitive::Time => time(s).and_then(|rest| end(rest, "unexpected text after the time")),
            Primitive::Xhtml => xhtml(s),
            Primitive::Boolean
            | Primitive::Decimal
            | Primitive::Integer
            | Primitive::PositiveInt
            | Primitive::UnsignedInt => Ok(()),
        };
        rule.err().map(|detail| invalid(self, s, detail))
    }
}

fn wrong_json_type(p: Primitive, expected: &str, found: &Value) -> Finding {
    let found = match found {
        Value::Null => "null".to_owned(),
        Value::Bool(b) => format!("the boolean {b}"),
        Value::Number(n) => format!("the number {n}"),
        Value::String(s) => format!("the string '{}'", shorten(s)),
        Value::Array(_) => "an array".to_owned(),
        Value::Object(_) => "an object".to_owned(),
    };
    Finding::Error(
        IssueCode::Structure,
        format!("Type {} must be a JSON {expected}, found {found}", p.name()),
    )
}

fn invalid(p: Primitive, value: &str, detail: &str) -> Finding {
    let mut message = format!("Value '{}' is not a valid {}", shorten(value), p.name());
    if !detail.is_empty() {
        let _ = write!(message, " ({detail})");
    }
    Finding::Error(IssueCode::Value, message)
}

/// The value as quoted in a message: at most 60 characters, control characters escaped.
pub(crate) fn shorten(s: &str) -> String {
    let mut out = String::with_capacity(s.len().min(64));
    for (n, c) in s.chars().enumerate() {
        if n == 60 {
            out.push_str("...");
            break;
        }
        if c.is_control() {
            let _ = write!(out, "\\u{{{:x}}}", c as u32);
        } else {
            out.push(c);
        }
    }
    out
}

/// Whitespace as the `\s` of the definitions' regular expressions.
fn is_space(c: char) -> bool {
    matches!(c, ' ' | '\t' | '\n' | '\r' | '\x0B' | '\x0C')
}

type Rule = Result<(), &'static str>;

/// `[^\s]+(\s[^\s]+)*`: no leading, trailing or repeated whitespace.
fn code(s: &str) -> Rule {
    if s.starts_with(is_space) || s.ends_with(is_space) {
        return Err("leading or trailing whitespace");
    }
    let mut previous_space = false;
    for c in s.chars() {
        let space = is_space(c);
        if space && previous_space {
            return Err("repeated whitespace");
        }
        previous_space = space;
    }
    Ok(())
}

/// `[A-Za-z0-9\-\.]{1,64}`
fn id(s: &str) -> Rule {
    if s.len() <= 64
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'.')
    {
        Ok(())
    } else {
        Err("an id is 1 to 64 letters, digits, '-' and '.'")
    }
}

/// `urn:oid:[0-2](\.(0|[1-9][0-9]*))+`
fn oid(s: &str) -> Rule {
    const ERR: &str = "expected urn:oid: and dotted numbers";
    let rest = s.strip_prefix("urn:oid:").ok_or(ERR)?;
    let mut arcs = rest.split('.');
    if !matches!(arcs.next(), Some("0" | "1" | "2")) {
        return Err(ERR);
    }
    let mut count = 0;
    for arc in arcs {
        count += 1;
        let digits = !arc.is_empty() && arc.bytes().all(|b| b.is_ascii_digit());
        if !digits || (arc.len() > 1 && arc.starts_with('0')) {
            return Err(ERR);
        }
    }
    if count == 0 {
        return Err(ERR);
    }
    Ok(())
}

/// `urn:uuid:[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}`
fn uuid(s: &str) -> Rule {
    const ERR: &str = "expected urn:uuid: and a lowercase UUID";
    let rest = s.strip_prefix("urn:uuid:").ok_or(ERR)?.as_bytes();
    let hex = |b: u8| b.is_ascii_digit() || (b'a'..=b'f').contains(&b);
    let ok = rest.len() == 36
        && rest.iter().enumerate().all(|(i, &b)| {
            if matches!(i, 8 | 13 | 18 | 23) {
                b == b'-'
            } else {
                hex(b)
            }
        });
    if ok {
        Ok(())
    } else {
        Err(ERR)
    }
}

/// `(\s*([0-9a-zA-Z\+/=]){4}\s*)+`
fn base64(s: &str) -> Rule {
    let mut count = 0usize;
    for c in s.chars() {
        if c.is_ascii_alphanumeric() || matches!(c, '+' | '/' | '=') {
            count += 1;
        } else if !is_space(c) {
            return Err("not a base64 character");
        }
    }
    if count == 0 || !count.is_multiple_of(4) {
        return Err("length is not a multiple of 4");
    }
    Ok(())
}

/// The narrative is an XHTML `<div>` (<https://hl7.org/fhir/R4/narrative.html#xhtml>).
fn xhtml(s: &str) -> Rule {
    let s = s.trim_start();
    if !s.starts_with("<div") {
        return Err("the narrative must be a single XHTML <div> element");
    }
    Ok(())
}

fn end(rest: &[u8], detail: &'static str) -> Rule {
    if rest.is_empty() {
        Ok(())
    } else {
        Err(detail)
    }
}

fn two_digits(b: &[u8]) -> Option<u32> {
    match b {
        [a, b, ..] if a.is_ascii_digit() && b.is_ascii_digit() => {
            Some(u32::from(a - b'0') * 10 + u32::from(b - b'0'))
        }
        _ => None,
    }
}

fn days_in_month(year: u32, month: u32) -> u32 {
    match month {
        2 if (year.is_multiple_of(4) && !year.is_multiple_of(100)) || year.is_multiple_of(400) => {
            29
        }
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    }
}

/// `YYYY`, `YYYY-MM` or `YYYY-MM-DD`; returns the rest and whether the date is complete.
fn date_part(s: &[u8]) -> Result<(&[u8], bool), &'static str> {
    const FORM: &str = "expected YYYY, YYYY-MM or YYYY-MM-DD";
    let year = match s {
        [a, b, c, d, ..] if [a, b, c, d].iter().all(|x| x.is_ascii_digit()) => [a, b, c, d]
            .iter()
            .fold(0u32, |acc, x| acc * 10 + u32::from(**x - b'0')),
        _ => return Err(FORM),
    };
    if year == 0 {
        return Err("there is no year 0000");
    }
    let Some(rest) = s[4..].strip_prefix(b"-") else {
        return Ok((&s[4..], false));
    };
    let month = two_digits(rest).ok_or(FORM)?;
    if !(1..=12).contains(&month) {
        return Err("month must be 01 to 12");
    }
    let Some(rest) = rest[2..].strip_prefix(b"-") else {
        return Ok((&rest[2..], false));
    };
    let day = two_digits(rest).ok_or(FORM)?;
    if day == 0 || day > days_in_month(year, month) {
        return Err("no such day in that month");
    }
    Ok((&rest[2..], true))
}

/// `hh:mm:ss(.f+)?`; returns the rest.
fn time(s: &str) -> Result<&[u8], &'static str> {
    time_part(s.as_bytes())
}

fn time_part(s: &[u8]) -> Result<&[u8], &'static str> {
    const FORM: &str = "a time needs hours, minutes and seconds: hh:mm:ss";
    let hour = two_digits(s).ok_or(FORM)?;
    let rest = s[2..].strip_prefix(b":").ok_or(FORM)?;
    let minute = two_digits(rest).ok_or(FORM)?;
    let rest = rest[2..].strip_prefix(b":").ok_or(FORM)?;
    let second = two_digits(rest).ok_or(FORM)?;
    if hour > 23 || minute > 59 || second > 60 {
        return Err("hour, minute or second out of range");
    }
    let mut rest = &rest[2..];
    if let Some(fraction) = rest.strip_prefix(b".") {
        let digits = fraction.iter().take_while(|b| b.is_ascii_digit()).count();
        if digits == 0 {
            return Err("expected digits after the decimal point");
        }
        rest = &fraction[digits..];
    }
    Ok(rest)
}

/// `Z` or `(+|-)hh:mm` up to 14:00; returns the rest.
fn zone(s: &[u8]) -> Result<&[u8], &'static str> {
    const FORM: &str = "expected a time zone: Z or +hh:mm";
    match s.first() {
        Some(b'Z') => Ok(&s[1..]),
        Some(b'+' | b'-') => {
            let hour = two_digits(&s[1..]).ok_or(FORM)?;
            let rest = s[3..].strip_prefix(b":").ok_or(FORM)?;
            let minute = two_digits(rest).ok_or(FORM)?;
            if minute > 59 || hour > 14 || (hour == 14 && minute != 0) {
                return Err("time zone offset out of range");
            }
            Ok(&rest[2..])
        }
        _ => Err("a time must have a time zone"),
    }
}

fn date(s: &str) -> Rule {
    let (rest, _) = date_part(s.as_bytes())?;
    end(rest, "unexpected text after the date")
}

/// A date, or a full date with a time with seconds and a time zone.
fn date_time(s: &str) -> Rule {
    let (rest, full) = date_part(s.as_bytes())?;
    let Some(rest) = rest.strip_prefix(b"T") else {
        return end(rest, "unexpected text after the date");
    };
    if !full {
        return Err("a time needs a full date");
    }
    let rest = zone(time_part(rest)?)?;
    end(rest, "unexpected text after the time zone")
}

/// A full date and time with seconds and a time zone.
fn instant(s: &str) -> Rule {
    const FORM: &str = "an instant needs a full date, a time with seconds and a time zone";
    let (rest, full) = date_part(s.as_bytes())?;
    let rest = rest.strip_prefix(b"T").filter(|_| full).ok_or(FORM)?;
    let rest = zone(time_part(rest)?)?;
    end(rest, "unexpected text after the time zone")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ok(p: Primitive, v: Value) -> bool {
        !matches!(p.check(&v), Some(Finding::Error(..)))
    }

    #[test]
    fn dates_follow_the_calendar() {
        use Primitive::*;
        for good in ["2024", "2024-02", "2024-02-29", "2000-02-29", "0001-01-01"] {
            assert!(ok(Date, good.into()), "{good}");
            assert!(ok(DateTime, good.into()), "{good}");
        }
        for bad in [
            "2023-02-29",
            "1900-02-29",
            "2024-13",
            "2024-04-31",
            "0000",
            "24",
            "2024-1-01",
            "2024-01-01 ",
        ] {
            assert!(!ok(Date, bad.into()), "{bad}");
        }
        for good in [
            "2024-01-01T10:00:00Z",
            "2024-01-01T23:59:60.123+14:00",
            "2024-01-01T00:00:00-05:30",
        ] {
            assert!(ok(DateTime, good.into()), "{good}");
            assert!(ok(Instant, good.into()), "{good}");
        }
        for bad in [
            "2024-01-01T10:00Z",
            "2024-01-01T10:00:00",
            "2024-01T10:00:00Z",
            "2024-01-01T24:00:00Z",
            "2024-01-01T10:00:00+14:30",
        ] {
            assert!(!ok(DateTime, bad.into()), "{bad}");
            assert!(!ok(Instant, bad.into()), "{bad}");
        }
        assert!(!ok(Instant, "2024-01-01".into()));
        assert!(ok(Time, "10:00:00".into()) && ok(Time, "23:59:59.5".into()));
        assert!(!ok(Time, "10:00".into()) && !ok(Time, "10:00:00Z".into()));
    }

    #[test]
    fn other_primitives() {
        use serde_json::json;
        use Primitive::*;
        assert!(ok(Id, "a-b.C9".into()) && !ok(Id, "a_b".into()) && !ok(Id, "x".repeat(65).into()));
        assert!(ok(Code, "a b".into()) && !ok(Code, " a".into()) && !ok(Code, "a  b".into()));
        assert!(
            ok(Oid, "urn:oid:1.2.840.10008".into())
                && !ok(Oid, "urn:oid:1.02".into())
                && !ok(Oid, "1.2".into())
        );
        assert!(ok(
            Uuid,
            "urn:uuid:c757873d-ec9a-4326-a141-556f43239520".into()
        ));
        assert!(!ok(
            Uuid,
            "urn:uuid:C757873D-EC9A-4326-A141-556F43239520".into()
        ));
        assert!(ok(Base64Binary, "aGVsbG8=".into()) && !ok(Base64Binary, "aGVsbG8".into()));
        assert!(ok(Uri, "http://x".into()) && !ok(Uri, "http://x y".into()) && !ok(Uri, "".into()));
        assert!(
            ok(Integer, json!(-3))
                && !ok(Integer, json!(1.5))
                && !ok(Integer, json!(3_000_000_000u64))
        );
        assert!(
            ok(UnsignedInt, json!(0)) && !ok(PositiveInt, json!(0)) && !ok(UnsignedInt, json!(-1))
        );
        assert!(ok(Decimal, json!(1.50)) && !ok(Decimal, json!("1.5")));
        assert!(ok(Boolean, json!(false)) && !ok(Boolean, json!("true")));
        assert!(!ok(String, "a\u{1}b".into()) && ok(String, "line\nbreak".into()));
        assert!(matches!(
            String.check(&" padded".into()),
            Some(Finding::Warning(_))
        ));
    }
}
