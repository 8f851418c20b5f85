//! One module per FHIR interaction (<https://hl7.org/fhir/R4/http.html>).

pub(crate) mod batch;
pub(crate) mod binary;
pub(crate) mod bulk;
pub(crate) mod capabilities;
pub(crate) mod everything;
pub(crate) mod history;
pub(crate) mod read;
pub(crate) mod search;
pub(crate) mod system_search;
pub(crate) mod write;
