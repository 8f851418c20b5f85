//! MLLP framing: any byte stream, split anywhere, never a panic, never a frame over the limit.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let split = data.first().map(|b| *b as usize).unwrap_or(0) % (data.len() + 1);
    let mut d = mllp::Decoder::new(256);
    for part in [&data[..split], &data[split..]] {
        if let Ok(frames) = d.push(part) {
            for f in frames {
                assert!(f.len() <= 256);
            }
        }
    }
});
