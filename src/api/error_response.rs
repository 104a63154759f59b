//! Every failure as the socket API answers it: an HTTP status and the body
//! `{"error":{"code","message"}}` of api/openapi.json. The one place that
//! knows which status each failure gets.

use axum::Json;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde_json::json;

use crate::error::Error;

/// A failure of a request: one of the HTTP layer's own, or the service's.
#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    #[error("{0}")]
    BadRequest(String),
    /// The peer's user may not use the socket.
    #[error("{0}")]
    Forbidden(String),
    #[error("no such route: {0}")]
    NoSuchRoute(String),
    #[error("method not allowed")]
    MethodNotAllowed,
    #[error("request body too large")]
    PayloadTooLarge,
    #[error(transparent)]
    Service(#[from] Error),
}

impl ApiError {
    pub fn code(&self) -> &'static str {
        match self {
            ApiError::BadRequest(_) => "BadRequest",
            ApiError::Forbidden(_) => "Forbidden",
            ApiError::NoSuchRoute(_) => "NoSuchRoute",
            ApiError::MethodNotAllowed => "MethodNotAllowed",
            ApiError::PayloadTooLarge => "PayloadTooLarge",
            ApiError::Service(e) => e.code(),
        }
    }

    /// The JSON error body every failure is answered with.
    pub fn body(&self) -> serde_json::Value {
        json!({"error": {"code": self.code(), "message": self.to_string()}})
    }

    pub fn status(&self) -> StatusCode {
        match self {
            ApiError::BadRequest(_) => StatusCode::BAD_REQUEST,
            ApiError::Forbidden(_) => StatusCode::FORBIDDEN,
            ApiError::NoSuchRoute(_) => StatusCode::NOT_FOUND,
            ApiError::MethodNotAllowed => StatusCode::METHOD_NOT_ALLOWED,
            ApiError::PayloadTooLarge => StatusCode::PAYLOAD_TOO_LARGE,
            ApiError::Service(e) => service_status(e),
        }
    }
}

fn service_status(e: &Error) -> StatusCode {
    match e {
        Error::InvalidInput(_) | Error::ImageUnacceptable(_) => StatusCode::BAD_REQUEST,
        Error::ImageUnavailable(_) => StatusCode::BAD_GATEWAY,
        Error::InsufficientStorage(_) => StatusCode::INSUFFICIENT_STORAGE,
        Error::InstanceNotFound(_) | Error::ImageNotFound(_) => StatusCode::NOT_FOUND,
        Error::InstanceExists(_)
        | Error::InstanceInvalidState(_)
        | Error::InstanceNotRunning(_)
        | Error::InstanceNotReady(_)
        | Error::ConsoleTypeUnavailable(_) => StatusCode::CONFLICT,
        Error::ConsolePortRangeExhausted(_) => StatusCode::SERVICE_UNAVAILABLE,
        Error::SpawnFailed(_) | Error::VifPlugFailed(_) | Error::Internal(_) => {
            StatusCode::INTERNAL_SERVER_ERROR
        }
        Error::DockerUnavailable(_) => StatusCode::SERVICE_UNAVAILABLE,
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let status = self.status();
        if status.is_server_error() {
            tracing::error!(code = self.code(), "{self}");
        } else {
            tracing::info!(code = self.code(), "{self}");
        }
        (status, Json(self.body())).into_response()
    }
}
