//! Typed errors of the driver API. Each maps to one stable `code` in
//! api/openapi.json, which the Python driver turns into a Nova exception.

use axum::Json;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde_json::json;

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
    #[error("{0}")]
    InvalidInput(String),
    #[error("instance {0} has no container on this host")]
    InstanceNotFound(String),
    #[error("instance {0} already has a container on this host")]
    InstanceExists(String),
    #[error("{0}")]
    ImageNotFound(String),
    /// The image exists but cannot be used: wrong format, corrupt, bad checksum.
    #[error("{0}")]
    ImageUnacceptable(String),
    /// Glance could not be reached or refused to hand over data.
    #[error("{0}")]
    ImageUnavailable(String),
    /// The host's Docker storage is full: another host may have room.
    #[error("{0}")]
    InsufficientStorage(String),
    #[error("{0}")]
    InstanceInvalidState(String),
    #[error("instance {0} has no container on this host to snapshot")]
    InstanceNotRunning(String),
    #[error("{0}")]
    SpawnFailed(String),
    #[error("{0}")]
    VifPlugFailed(String),
    #[error("Docker engine unavailable: {0}")]
    DockerUnavailable(String),
    #[error("{0}")]
    Internal(String),
}

impl ApiError {
    pub fn code(&self) -> &'static str {
        match self {
            ApiError::BadRequest(_) => "BadRequest",
            ApiError::Forbidden(_) => "Forbidden",
            ApiError::NoSuchRoute(_) => "NoSuchRoute",
            ApiError::MethodNotAllowed => "MethodNotAllowed",
            ApiError::PayloadTooLarge => "PayloadTooLarge",
            ApiError::InvalidInput(_) => "InvalidInput",
            ApiError::InstanceNotFound(_) => "InstanceNotFound",
            ApiError::InstanceExists(_) => "InstanceExists",
            ApiError::ImageNotFound(_) => "ImageNotFound",
            ApiError::ImageUnacceptable(_) => "ImageUnacceptable",
            ApiError::ImageUnavailable(_) => "ImageUnavailable",
            ApiError::InsufficientStorage(_) => "InsufficientStorage",
            ApiError::InstanceInvalidState(_) => "InstanceInvalidState",
            ApiError::InstanceNotRunning(_) => "InstanceNotRunning",
            ApiError::SpawnFailed(_) => "SpawnFailed",
            ApiError::VifPlugFailed(_) => "VifPlugFailed",
            ApiError::DockerUnavailable(_) => "DockerUnavailable",
            ApiError::Internal(_) => "Internal",
        }
    }

    /// The JSON error body every failure is answered with.
    pub fn body(&self) -> serde_json::Value {
        json!({"error": {"code": self.code(), "message": self.to_string()}})
    }

    pub fn status(&self) -> StatusCode {
        match self {
            ApiError::BadRequest(_)
            | ApiError::InvalidInput(_)
            | ApiError::ImageUnacceptable(_) => StatusCode::BAD_REQUEST,
            ApiError::ImageUnavailable(_) => StatusCode::BAD_GATEWAY,
            ApiError::Forbidden(_) => StatusCode::FORBIDDEN,
            ApiError::InsufficientStorage(_) => StatusCode::INSUFFICIENT_STORAGE,
            ApiError::NoSuchRoute(_)
            | ApiError::InstanceNotFound(_)
            | ApiError::ImageNotFound(_) => StatusCode::NOT_FOUND,
            ApiError::MethodNotAllowed => StatusCode::METHOD_NOT_ALLOWED,
            ApiError::PayloadTooLarge => StatusCode::PAYLOAD_TOO_LARGE,
            ApiError::InstanceExists(_)
            | ApiError::InstanceInvalidState(_)
            | ApiError::InstanceNotRunning(_) => StatusCode::CONFLICT,
            ApiError::SpawnFailed(_) | ApiError::VifPlugFailed(_) | ApiError::Internal(_) => {
                StatusCode::INTERNAL_SERVER_ERROR
            }
            ApiError::DockerUnavailable(_) => StatusCode::SERVICE_UNAVAILABLE,
        }
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
