//! The one table that maps every error to an HTTP status and an OperationOutcome
//! (<https://hl7.org/fhir/R4/http.html#Status-Codes>). Handlers return [`ApiError`];
//! internal details are logged, never shown to clients.

use axum::http::{HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use fhir::outcome::{operation_outcome, IssueSeverity, OutcomeIssue};
use search::QueryError;
use store::StoreError;

/// Every way a request can fail.
#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    /// The body is not JSON, or not a resource.
    #[error("{message}")]
    Parse {
        message: String,
        expression: Option<String>,
    },
    /// The resource is not valid against the base R4 definitions.
    #[error("the resource is not valid")]
    Invalid(Vec<OutcomeIssue>),
    /// A business rule or profile rejects the request.
    #[error("{0}")]
    Unprocessable(String),
    /// A search or request parameter is wrong.
    #[error("{message}")]
    BadParameter { message: String, parameter: String },
    #[error("{0}")]
    BadRequest(String),
    #[error("{0}")]
    NotFound(String),
    #[error("{0}")]
    Gone(String),
    #[error("{0}")]
    Conflict(String),
    #[error("{0}")]
    PreconditionFailed(String),
    #[error("{0}")]
    MethodNotAllowed(String),
    #[error("{0}")]
    NotAcceptable(String),
    #[error("{0}")]
    UnsupportedMediaType(String),
    /// No credentials, or credentials that are not valid (expired, forged, revoked).
    #[error("{0}")]
    Unauthorized(String),
    /// Valid credentials without the permission, scope or care relationship needed.
    #[error("{0}")]
    Forbidden(String),
    /// The store refused: outside the caller's access, aimed at this patient (`Patient/ID`),
    /// which the audit record names.
    #[error("{message}")]
    Refused {
        message: String,
        patient: Option<String>,
    },
    /// The request body is larger than Tend accepts.
    #[error("{0}")]
    TooLarge(String),
    /// The request asked for more work than Tend does for one request.
    #[error("{0}")]
    TooCostly(String),
    /// Too many requests of this kind at once (an export while the caller's others run).
    #[error("{0}")]
    Busy(String),
    #[error("the server could not complete the request")]
    Internal(String),
    #[error("the service is shutting down")]
    Unavailable,
}

impl ApiError {
    /// The table: status, OperationOutcome `issue.code`, and where the problem is.
    pub fn parts(&self) -> (StatusCode, Vec<OutcomeIssue>) {
        let one = |code: &'static str, expr: Option<String>| {
            vec![OutcomeIssue {
                severity: IssueSeverity::Error,
                code,
                diagnostics: self.to_string(),
                expression: expr,
            }]
        };
        match self {
            ApiError::Parse { expression, .. } => (
                StatusCode::BAD_REQUEST,
                one("structure", expression.clone()),
            ),
            ApiError::Invalid(issues) => (StatusCode::BAD_REQUEST, issues.clone()),
            ApiError::Unprocessable(_) => {
                (StatusCode::UNPROCESSABLE_ENTITY, one("business-rule", None))
            }
            ApiError::BadParameter { parameter, .. } => (
                StatusCode::BAD_REQUEST,
                one("invalid", Some(parameter.clone())),
            ),
            ApiError::BadRequest(_) => (StatusCode::BAD_REQUEST, one("invalid", None)),
            ApiError::NotFound(_) => (StatusCode::NOT_FOUND, one("not-found", None)),
            ApiError::Gone(_) => (StatusCode::GONE, one("deleted", None)),
            ApiError::Conflict(_) => (StatusCode::CONFLICT, one("conflict", None)),
            ApiError::PreconditionFailed(_) => {
                (StatusCode::PRECONDITION_FAILED, one("conflict", None))
            }
            ApiError::MethodNotAllowed(_) => {
                (StatusCode::METHOD_NOT_ALLOWED, one("not-supported", None))
            }
            ApiError::NotAcceptable(_) => (StatusCode::NOT_ACCEPTABLE, one("not-supported", None)),
            ApiError::UnsupportedMediaType(_) => (
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
                one("not-supported", None),
            ),
            ApiError::Unauthorized(_) => (StatusCode::UNAUTHORIZED, one("login", None)),
            ApiError::Forbidden(_) | ApiError::Refused { .. } => {
                (StatusCode::FORBIDDEN, one("forbidden", None))
            }
            ApiError::TooLarge(_) => (StatusCode::PAYLOAD_TOO_LARGE, one("too-costly", None)),
            ApiError::TooCostly(_) => (StatusCode::BAD_REQUEST, one("too-costly", None)),
            ApiError::Busy(_) => (StatusCode::TOO_MANY_REQUESTS, one("throttled", None)),
            ApiError::Internal(_) => (StatusCode::INTERNAL_SERVER_ERROR, one("exception", None)),
            ApiError::Unavailable => (StatusCode::SERVICE_UNAVAILABLE, one("transient", None)),
        }
    }

    /// The OperationOutcome body.
    pub fn outcome(&self) -> serde_json::Value {
        operation_outcome(&self.parts().1)
    }
}

impl From<QueryError> for ApiError {
    fn from(e: QueryError) -> Self {
        let parameter = match &e {
            QueryError::UnknownParameter { param, .. }
            | QueryError::UnsupportedModifier { param, .. }
            | QueryError::InvalidValue { param, .. }
            | QueryError::Unsupported { param, .. } => param.clone(),
        };
        ApiError::BadParameter {
            message: e.to_string(),
            parameter,
        }
    }
}

impl From<StoreError> for ApiError {
    fn from(e: StoreError) -> Self {
        match e {
            StoreError::NotFound { .. } | StoreError::VersionNotFound { .. } => {
                ApiError::NotFound(e.to_string())
            }
            StoreError::Gone { .. } => ApiError::Gone(e.to_string()),
            StoreError::VersionConflict { .. } => ApiError::PreconditionFailed(e.to_string()),
            StoreError::MultipleMatches { .. } | StoreError::ConditionalReference { .. } => {
                ApiError::PreconditionFailed(e.to_string())
            }
            StoreError::Query(q) => q.into(),
            StoreError::Patch(_) | StoreError::PatchedInvalid { .. } => {
                ApiError::Unprocessable(e.to_string())
            }
            StoreError::IdMismatch { .. } | StoreError::BadRequest(_) => {
                ApiError::BadRequest(e.to_string())
            }
            StoreError::Forbidden { message, patient } => ApiError::Refused { message, patient },
            StoreError::TooCostly(_) => ApiError::TooCostly(e.to_string()),
            StoreError::Database(detail) => ApiError::Internal(detail),
            StoreError::Unavailable => ApiError::Unavailable,
        }
    }
}

impl From<bulk_export::Error> for ApiError {
    fn from(e: bulk_export::Error) -> Self {
        use bulk_export::Error as E;
        match e {
            E::Parameter { parameter, message } => ApiError::BadParameter { message, parameter },
            E::NotFound(m) => ApiError::NotFound(m),
            E::NotReady => ApiError::NotFound(e.to_string()),
            E::Cancelled => ApiError::NotFound(e.to_string()),
            E::Forbidden(m) => ApiError::Forbidden(m),
            E::Busy(m) => ApiError::Busy(m),
            E::Io(m) => ApiError::Internal(m),
            E::Store(s) => s.into(),
        }
    }
}

impl From<early_warning::Error> for ApiError {
    fn from(e: early_warning::Error) -> Self {
        match e {
            early_warning::Error::Store(s) => s.into(),
            early_warning::Error::NotFound(_) => ApiError::NotFound(e.to_string()),
            early_warning::Error::Conflict(_) => ApiError::Conflict(e.to_string()),
            early_warning::Error::Invalid(_) => ApiError::BadRequest(e.to_string()),
        }
    }
}

impl From<interface::LogError> for ApiError {
    fn from(e: interface::LogError) -> Self {
        match e {
            interface::LogError::BadFilter(_) => ApiError::BadRequest(e.to_string()),
            interface::LogError::Store(s) => s.into(),
        }
    }
}

impl From<interface::ReplayError> for ApiError {
    fn from(e: interface::ReplayError) -> Self {
        match e {
            interface::ReplayError::NotFound => ApiError::NotFound(e.to_string()),
            interface::ReplayError::NoMessage => ApiError::Unprocessable(e.to_string()),
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        if let ApiError::Internal(detail) = &self {
            tracing::error!(detail = %detail, "internal error");
        }
        let (status, _) = self.parts();
        let body = serde_json::to_vec(&self.outcome()).unwrap_or_default();
        let mut resp = (status, body).into_response();
        resp.headers_mut()
            .insert("content-type", HeaderValue::from_static(crate::FHIR_JSON));
        if let ApiError::Refused {
            patient: Some(p), ..
        } = &self
        {
            resp.extensions_mut().insert(access::Seen(vec![p.clone()]));
        }
        if status == axum::http::StatusCode::UNAUTHORIZED {
            // RFC 6750 §3: how to authenticate.
            resp.headers_mut().insert(
                "www-authenticate",
                HeaderValue::from_static("Bearer realm=\"tend\""),
            );
        }
        resp
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn table_maps_store_errors_to_statuses() {
        let cases: Vec<(StoreError, u16)> = vec![
            (
                StoreError::NotFound {
                    rtype: "Patient".into(),
                    id: "x".into(),
                },
                404,
            ),
            (
                StoreError::Gone {
                    rtype: "Patient".into(),
                    id: "x".into(),
                },
                410,
            ),
            (
                StoreError::VersionConflict {
                    rtype: "P".into(),
                    id: "x".into(),
                    expected: "1".into(),
                    current: "2".into(),
                },
                412,
            ),
            (
                StoreError::MultipleMatches {
                    operation: "create",
                    count: 2,
                },
                412,
            ),
            (StoreError::Patch("x".into()), 422),
            (StoreError::Database("secret detail".into()), 500),
        ];
        for (e, status) in cases {
            let api: ApiError = e.into();
            assert_eq!(api.parts().0.as_u16(), status, "{api:?}");
            assert!(!api.outcome().to_string().contains("secret detail"));
        }
    }
}
