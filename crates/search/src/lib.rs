//! Search: the official R4 search parameters, the index values they extract from a
//! resource (by evaluating each parameter's FHIRPath expression), and the parsed form of a
//! search request. Spec: <https://hl7.org/fhir/R4/search.html>.

mod indexer;
mod normalize;
mod query;
mod registry;
mod value;

pub use indexer::{Error, Indexer};
pub use normalize::{date_range, format_instant, normalize_string};
pub use query::{
    Filter, Include, Modifier, Prefix, QueryError, SearchQuery, Sort, SortKey, Summary, Total,
    Value, DEFAULT_COUNT, MAX_COUNT, MAX_INCLUDES, MAX_OR_VALUES, MAX_PARAMS, MAX_SORT_KEYS,
};
pub use registry::{Component, ParamType, Registry, SearchParam};
pub use value::{IndexEntry, IndexValue};
