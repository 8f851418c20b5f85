//! Any bytes, read as a URL query string, go through `search::SearchQuery::parse` for
//! Observation and Patient, which must return a query or an error and never panic
//! (<https://hl7.org/fhir/R4/search.html>).
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let pairs: Vec<(String, String)> = form_urlencoded::parse(data).into_owned().collect();
    let registry = search::Registry::r4();
    for rtype in ["Observation", "Patient"] {
        let _ = search::SearchQuery::parse(registry, rtype, &pairs);
    }
});
