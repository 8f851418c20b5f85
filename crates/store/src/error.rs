//! The store's one error type. HTTP status and OperationOutcome codes are assigned at the
//! HTTP edge (`server::error`), not here.

use search::QueryError;

/// Everything a store operation can fail with.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("{rtype}/{id} is not known")]
    NotFound { rtype: String, id: String },
    #[error("version {version} of {rtype}/{id} is not known")]
    VersionNotFound {
        rtype: String,
        id: String,
        version: String,
    },
    #[error("{rtype}/{id} has been deleted")]
    Gone { rtype: String, id: String },
    #[error(
        "If-Match names version {expected} of {rtype}/{id} but the current version is {current}"
    )]
    VersionConflict {
        rtype: String,
        id: String,
        expected: String,
        current: String,
    },
    #[error("the conditional {operation} matched {count} resources; it needs at most one")]
    MultipleMatches {
        operation: &'static str,
        count: usize,
    },
    #[error(
        "the conditional reference '{reference}' matched {count} resources; it needs exactly one"
    )]
    ConditionalReference { reference: String, count: usize },
    #[error("{0}")]
    Query(#[from] QueryError),
    #[error("the patch cannot be applied: {0}")]
    Patch(String),
    #[error("the patched resource is not valid: {message} (at {expression})")]
    PatchedInvalid { expression: String, message: String },
    #[error("the resource id '{body}' does not match the id '{url}' in the URL")]
    IdMismatch { url: String, body: String },
    #[error("{0}")]
    BadRequest(String),
    /// The caller's access does not reach this: the type, a patient (`Patient/ID`, the one
    /// it aimed at, for the audit record) or a restricted record.
    #[error("{message}")]
    Forbidden {
        message: String,
        patient: Option<String>,
    },
    /// A read ran past the store's time limit and was stopped.
    #[error("the request took longer than {} s and was stopped: narrow it (fewer parameters or values, a smaller page)", .0.as_secs())]
    TooCostly(std::time::Duration),
    #[error("database error: {0}")]
    Database(String),
    #[error("the store is shutting down")]
    Unavailable,
}

impl From<rusqlite::Error> for StoreError {
    fn from(e: rusqlite::Error) -> Self {
        StoreError::Database(e.to_string())
    }
}

impl From<postgres::Error> for StoreError {
    fn from(e: postgres::Error) -> Self {
        match e.as_db_error() {
            // query_canceled: the reader's statement_timeout.
            Some(db) if db.code().code() == "57014" => StoreError::TooCostly(crate::QUERY_LIMIT),
            Some(db) => StoreError::Database(format!("{}: {}", db.code().code(), db.message())),
            None => StoreError::Database(e.to_string()),
        }
    }
}

impl StoreError {
    /// The refusal of `access` for `d`, in words.
    pub fn denied(access: &access::Access, d: access::Denied) -> StoreError {
        let message = access.explain(&d);
        let patient = match d {
            access::Denied::Patient(p) => Some(p),
            _ => None,
        };
        StoreError::Forbidden { message, patient }
    }
}
