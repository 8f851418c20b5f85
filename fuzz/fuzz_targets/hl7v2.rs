//! HL7 v2: parse any bytes, build the acknowledgement, map ORU and ADT. Never a panic.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let cfg = hl7v2::MappingConfig::default();
    match hl7v2::Inbound::parse(data) {
        Ok(m) => {
            let _ = m.key();
            let _ = m.fingerprint();
            let _ = hl7v2::map_oru(&m, &cfg);
            if let Ok(a) = hl7v2::map_adt(&m, &cfg) {
                let _ = hl7v2::apply_adt(None, &a, "Patient/x");
            }
            let _ = hl7v2::ack::build(&m.header, hl7v2::AckCode::Aa, &[], "20260101");
        }
        Err(r) => {
            let h = r.header.map(|h| *h).unwrap_or_default();
            let _ = hl7v2::ack::build(&h, hl7v2::AckCode::Ar, &[r.diagnostic], "20260101");
        }
    }
});
