//! HTTP routing of the driver API (api/openapi.json). Handlers only parse,
//! call the compute layer and serialize; every failure is a JSON error.

mod driver;
pub mod error_response;
mod events;
pub mod glance_facade;
mod images;
mod migration;
mod request_log;

use axum::Router;
use axum::extract::DefaultBodyLimit;
use axum::extract::rejection::JsonRejection;
use axum::http::{StatusCode, Uri, header};
use axum::middleware::{from_fn, map_response};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};

use crate::compute::Compute;
use crate::error::Error;
use crate::server::CheckedListener;
pub use error_response::ApiError;

/// Requests are small JSON documents; anything bigger is a mistake.
const MAX_BODY_BYTES: usize = 1024 * 1024;

pub fn router(compute: Compute) -> Router {
    Router::new()
        .route("/v1/version", get(driver::version))
        .route("/v1/capabilities", get(driver::capabilities))
        .route("/v1/host", get(driver::host))
        .route("/v1/host/resources", get(driver::resources))
        .route("/v1/host/inventory", post(driver::inventory))
        .route("/v1/host/traits", get(driver::traits))
        .route("/v1/host/cpu-stats", get(driver::cpu_stats))
        .route("/v1/events", get(events::stream))
        .route("/v1/instances", get(driver::list).post(driver::spawn))
        .route(
            "/v1/instances/{uuid}",
            get(driver::get_info).delete(driver::destroy),
        )
        .route("/v1/instances/{uuid}/reboot", post(driver::reboot))
        .route("/v1/instances/{uuid}/power-off", post(driver::power_off))
        .route("/v1/instances/{uuid}/power-on", post(driver::power_on))
        .route("/v1/instances/{uuid}/pause", post(driver::pause))
        .route("/v1/instances/{uuid}/unpause", post(driver::unpause))
        .route("/v1/instances/{uuid}/suspend", post(driver::suspend))
        .route("/v1/instances/{uuid}/resume", post(driver::resume))
        .route("/v1/instances/{uuid}/console", get(driver::console))
        .route(
            "/v1/instances/{uuid}/serial-console",
            post(driver::serial_console),
        )
        .route("/v1/instances/{uuid}/diagnostics", get(driver::diagnostics))
        .route(
            "/v1/instances/{uuid}/interfaces",
            post(driver::attach_interface),
        )
        .route(
            "/v1/instances/{uuid}/interfaces/{port_id}",
            axum::routing::delete(driver::detach_interface),
        )
        .route("/v1/instances/{uuid}/plug", post(driver::plug))
        .route("/v1/instances/{uuid}/snapshot", post(images::snapshot))
        .route("/v1/instances/{uuid}/migrate", post(migration::migrate))
        .route(
            "/v1/instances/{uuid}/migration-images",
            post(migration::export_image).delete(migration::forget_images),
        )
        .route(
            "/v1/instances/{uuid}/finish-migration",
            post(migration::finish),
        )
        .route(
            "/v1/instances/{uuid}/confirm-migration",
            post(migration::confirm),
        )
        .route(
            "/v1/instances/{uuid}/revert-migration",
            post(migration::revert),
        )
        .route("/v1/images/prune", post(images::prune))
        .route(
            "/v1/images/{glance_id}",
            get(images::describe).delete(images::delete),
        )
        .route(
            "/v1/images/{glance_id}/data",
            get(images::read).put(images::store),
        )
        .route("/v1/images/{glance_id}/fetch", post(images::fetch))
        .route("/v1/images/{glance_id}/upload", post(images::upload))
        .fallback(no_such_route)
        .method_not_allowed_fallback(method_not_allowed)
        .layer(DefaultBodyLimit::max(MAX_BODY_BYTES))
        .layer(map_response(json_errors))
        .layer(from_fn(request_log::log_requests))
        .with_state(compute)
}

/// Serves the driver API on the checked socket until `shutdown` resolves.
pub async fn serve(
    listener: CheckedListener,
    compute: Compute,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    let streams = compute.clone();
    axum::serve(listener, router(compute))
        .with_graceful_shutdown(async move {
            shutdown.await;
            // The event streams never end by themselves: the graceful
            // shutdown would wait for them forever.
            streams.close_lifecycle_events();
        })
        .await
}

/// Failures axum answers by itself (a path parameter that is not UTF-8, a
/// bad query string...) come as plain text: give them the JSON error shape.
async fn json_errors(resp: Response) -> Response {
    let status = resp.status();
    let is_json = resp
        .headers()
        .get(header::CONTENT_TYPE)
        .is_some_and(|v| v.as_bytes().starts_with(b"application/json"));
    if is_json || !(status.is_client_error() || status.is_server_error()) {
        return resp;
    }
    let text = axum::body::to_bytes(resp.into_body(), 64 * 1024)
        .await
        .map(|b| String::from_utf8_lossy(&b).into_owned())
        .unwrap_or_default();
    match status {
        StatusCode::PAYLOAD_TOO_LARGE => ApiError::PayloadTooLarge,
        StatusCode::METHOD_NOT_ALLOWED => ApiError::MethodNotAllowed,
        StatusCode::NOT_FOUND => ApiError::NoSuchRoute(text),
        _ if status.is_client_error() => ApiError::BadRequest(text),
        _ => ApiError::Service(Error::Internal(text)),
    }
    .into_response()
}

async fn no_such_route(uri: Uri) -> ApiError {
    ApiError::NoSuchRoute(uri.path().to_string())
}

async fn method_not_allowed() -> ApiError {
    ApiError::MethodNotAllowed
}

/// A body that is not the JSON the route expects becomes a typed error.
fn body<T>(parsed: Result<axum::Json<T>, JsonRejection>) -> Result<T, ApiError> {
    match parsed {
        Ok(axum::Json(v)) => Ok(v),
        Err(r) if r.status() == StatusCode::PAYLOAD_TOO_LARGE => Err(ApiError::PayloadTooLarge),
        Err(r) => Err(ApiError::BadRequest(r.body_text())),
    }
}

/// A body that may be empty: empty means the defaults.
fn optional_body<T: serde::de::DeserializeOwned + Default>(bytes: &[u8]) -> Result<T, ApiError> {
    if bytes.iter().all(u8::is_ascii_whitespace) {
        return Ok(T::default());
    }
    serde_json::from_slice(bytes)
        .map_err(|e| ApiError::BadRequest(format!("invalid JSON body: {e}")))
}

/// Instance uuids in canonical form, so `nova-<uuid>` is one name per instance.
fn instance_uuid(raw: &str) -> Result<String, ApiError> {
    uuid::Uuid::parse_str(raw)
        .map(|u| u.hyphenated().to_string())
        .map_err(|e| ApiError::BadRequest(format!("{raw:?} is not an instance uuid: {e}")))
}
