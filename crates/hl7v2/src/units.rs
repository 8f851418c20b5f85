//! OBX-6 units to UCUM (<https://ucum.org>): the spellings feeds send for the units of
//! vital signs and common labs. A unit not listed keeps its text and gets no UCUM code.

/// (as sent, lower-cased) → UCUM code
const TABLE: &[(&str, &str)] = &[
    ("/min", "/min"),
    ("bpm", "/min"),
    ("beats/min", "/min"),
    ("{beats}/min", "/min"),
    ("breaths/min", "/min"),
    ("{breaths}/min", "/min"),
    ("rpm", "/min"),
    ("%", "%"),
    ("percent", "%"),
    ("mmhg", "mm[Hg]"),
    ("mm[hg]", "mm[Hg]"),
    ("mm hg", "mm[Hg]"),
    ("cel", "Cel"),
    ("degc", "Cel"),
    ("deg c", "Cel"),
    ("c", "Cel"),
    ("°c", "Cel"),
    ("[degf]", "[degF]"),
    ("degf", "[degF]"),
    ("deg f", "[degF]"),
    ("f", "[degF]"),
    ("°f", "[degF]"),
    ("l/min", "L/min"),
    ("lpm", "L/min"),
    ("10*9/l", "10*9/L"),
    ("10^9/l", "10*9/L"),
    ("x10e9/l", "10*9/L"),
    ("10*3/ul", "10*3/uL"),
    ("10^3/ul", "10*3/uL"),
    ("k/ul", "10*3/uL"),
    ("x10e3/ul", "10*3/uL"),
    ("/ul", "/uL"),
    ("kpa", "kPa"),
    ("mmol/l", "mmol/L"),
    ("mg/dl", "mg/dL"),
    ("g/dl", "g/dL"),
    ("g/l", "g/L"),
    ("kg", "kg"),
    ("cm", "cm"),
    ("{score}", "{score}"),
];

/// The UCUM code for a unit as a feed sends it (OBX-6.1, or OBX-6.2 when 6.1 is a local
/// code), if known.
pub fn to_ucum(unit: &str) -> Option<&'static str> {
    let u = unit.trim().to_ascii_lowercase();
    TABLE.iter().find(|(k, _)| *k == u).map(|(_, v)| *v)
}
