//! API errors: an engine error's kind becomes the status; the body is `{"message": ...}`.

use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use cnm_core::{Error, ErrorKind};
use cnm_types::engine::ErrorResponse;

#[derive(Debug)]
pub struct ApiError(pub Error);

impl ApiError {
    pub fn invalid(message: impl Into<String>) -> Self {
        ApiError(Error::invalid(message))
    }
    pub fn not_found(message: impl Into<String>) -> Self {
        ApiError(Error::not_found(message))
    }
}

impl From<Error> for ApiError {
    fn from(e: Error) -> Self {
        ApiError(e)
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let status = StatusCode::from_u16(self.0.kind.http_status())
            .unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
        if self.0.kind == ErrorKind::Internal {
            tracing::warn!(error = %self.0.message, "request failed");
        }
        let body = serde_json::to_vec(&ErrorResponse {
            message: self.0.message,
        })
        .expect("serializable");
        // Exactly `application/json`: Docker's client only parses errors with that type.
        (status, [(header::CONTENT_TYPE, "application/json")], body).into_response()
    }
}

pub type ApiResult<T> = Result<T, ApiError>;
