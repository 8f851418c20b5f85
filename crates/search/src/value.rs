//! Index values: what a search parameter's FHIRPath expression yields for one resource,
//! normalised to the shape the store indexes and the query side compares against.
//! See <https://hl7.org/fhir/R4/search.html#ptypes> for the matching rules per type.

/// One extracted value of one search parameter.
#[derive(Debug, Clone, PartialEq)]
pub struct IndexEntry {
    /// The search parameter's code, e.g. `subject`, `code`, `_tag`.
    pub param: String,
    pub value: IndexValue,
}

/// A value normalised per search parameter type.
#[derive(Debug, Clone, PartialEq)]
pub enum IndexValue {
    /// `string`: `norm` is [`crate::normalize_string`] of `exact` (default and `:contains`
    /// matching); `exact` is the text as written (`:exact`).
    String { norm: String, exact: String },
    /// `token`: Coding / CodeableConcept coding / Identifier (`code` = identifier value) /
    /// code / boolean (`"true"`/`"false"`) / ContactPoint (`code` = value). `text` holds
    /// CodeableConcept.text or Coding.display for `:text`.
    Token {
        system: Option<String>,
        code: Option<String>,
        text: Option<String>,
    },
    /// `date`: an inclusive range in milliseconds since the Unix epoch, UTC, from a date,
    /// dateTime, instant or Period (open period ends are `i64::MIN` / `i64::MAX`).
    Date { lo: i64, hi: i64 },
    /// `number`.
    Number { value: f64 },
    /// `quantity`: Quantity (or Money / SimpleQuantity) value with its system, code and unit.
    Quantity {
        value: f64,
        system: Option<String>,
        code: Option<String>,
        unit: Option<String>,
    },
    /// `reference`: a relative or absolute literal reference split into type and id where
    /// it has that shape; `url` for canonical / absolute references that are not local;
    /// `identifier` = (system, value) of a logical reference (`:identifier`).
    Reference {
        rtype: Option<String>,
        id: Option<String>,
        url: Option<String>,
        identifier: Option<(Option<String>, String)>,
    },
    /// `uri` (uri, url, canonical, oid, uuid).
    Uri { value: String },
    /// `composite`: one value per component, in the order of the definition's components.
    Composite(Vec<IndexValue>),
}
