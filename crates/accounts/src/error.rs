//! The one error type of the accounts crate.

/// What went wrong with an account operation.
#[derive(Debug, thiserror::Error)]
pub enum AccountError {
    #[error("{0}")]
    Invalid(String),
    #[error("the password is not accepted: {0}")]
    WeakPassword(String),
    #[error("an account named '{0}' already exists")]
    Exists(String),
    #[error("no such account or token: {0}")]
    NotFound(String),
    #[error("store: {0}")]
    Store(#[from] store::StoreError),
    #[error("{0}")]
    Internal(String),
}
