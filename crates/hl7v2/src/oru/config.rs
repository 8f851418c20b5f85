//! How a feed's codes and times are read: the local-code table for OBX-3 (observation
//! identifier, HL7 v2.5 §7.4.2.3) and the zone of times (DTM, §2.A.22) sent without one.

use std::collections::HashMap;

/// How a feed's codes and times are read.
#[derive(Debug, Clone)]
pub struct MappingConfig {
    /// Local OBX-3 codes: `CODE` or `SYSTEM^CODE` (OBX-3.3 and OBX-3.1) → (system URI,
    /// code, display).
    pub local_codes: HashMap<String, (String, String, String)>,
    /// Zone of times sent without one, e.g. `+00:00`.
    pub default_offset: String,
}

impl Default for MappingConfig {
    fn default() -> MappingConfig {
        MappingConfig {
            local_codes: HashMap::new(),
            default_offset: "+00:00".into(),
        }
    }
}

impl MappingConfig {
    /// Read a local-code table: one mapping per line, tab-separated `KEY SYSTEM CODE
    /// DISPLAY`, where KEY is OBX-3.1 or `OBX-3.3^OBX-3.1`; `#` starts a comment line.
    /// Errors name the line.
    pub fn parse_local_codes(
        text: &str,
    ) -> Result<HashMap<String, (String, String, String)>, String> {
        let mut codes = HashMap::new();
        for (n, line) in text.lines().enumerate() {
            if line.trim().is_empty() || line.trim_start().starts_with('#') {
                continue;
            }
            let f: Vec<&str> = line.split('\t').map(str::trim).collect();
            let (key, system, code) = match f.as_slice() {
                [k, s, c] | [k, s, c, ..] if !k.is_empty() && !s.is_empty() && !c.is_empty() => {
                    (*k, *s, *c)
                }
                _ => {
                    return Err(format!(
                        "line {}: expected KEY, SYSTEM, CODE and DISPLAY separated by tabs",
                        n + 1
                    ))
                }
            };
            if !system.contains(':') {
                return Err(format!(
                    "line {}: the system '{system}' is not a URI (e.g. http://loinc.org)",
                    n + 1
                ));
            }
            let display = f.get(3).copied().unwrap_or_default();
            if codes
                .insert(
                    key.to_string(),
                    (system.to_string(), code.to_string(), display.to_string()),
                )
                .is_some()
            {
                return Err(format!("line {}: '{key}' is mapped twice", n + 1));
            }
        }
        Ok(codes)
    }

    /// Check a zone offset for times sent without one: `+HH:MM` or `-HH:MM`.
    pub fn parse_offset(offset: &str) -> Result<String, String> {
        let b = offset.as_bytes();
        let ok = b.len() == 6
            && matches!(b[0], b'+' | b'-')
            && b[3] == b':'
            && [1, 2, 4, 5].iter().all(|&i| b[i].is_ascii_digit())
            && offset[1..3].parse::<u32>().is_ok_and(|h| h <= 14)
            && offset[4..6].parse::<u32>().is_ok_and(|m| m < 60);
        if ok {
            Ok(offset.to_string())
        } else {
            Err(format!(
                "'{offset}' is not a zone offset like +00:00 or -05:00"
            ))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn local_code_tables_are_read_with_line_numbered_errors() {
        let t = "# comment\nL^RR\thttp://loinc.org\t9279-1\tRespiratory rate\n\nPULSE\thttp://loinc.org\t8867-4\n";
        let codes = MappingConfig::parse_local_codes(t).unwrap();
        assert_eq!(codes.len(), 2);
        assert_eq!(codes["PULSE"].1, "8867-4");
        assert_eq!(
            MappingConfig::parse_local_codes("a\tb").unwrap_err(),
            "line 1: expected KEY, SYSTEM, CODE and DISPLAY separated by tabs"
        );
        assert!(MappingConfig::parse_local_codes("RR\tloinc\t9279-1\tx")
            .unwrap_err()
            .contains("not a URI"));
        assert!(MappingConfig::parse_local_codes(
            "RR\thttp://loinc.org\t9279-1\nRR\thttp://loinc.org\t9279-1"
        )
        .unwrap_err()
        .starts_with("line 2: 'RR' is mapped twice"));
    }

    #[test]
    fn zone_offsets_are_checked() {
        for ok in ["+00:00", "-05:00", "+05:30", "+14:00"] {
            assert_eq!(MappingConfig::parse_offset(ok).as_deref(), Ok(ok));
        }
        for bad in [
            "0000",
            "+0000",
            "+15:00",
            "+01:60",
            "Europe/London",
            "+1:00",
        ] {
            assert!(MappingConfig::parse_offset(bad).is_err(), "{bad}");
        }
    }
}
