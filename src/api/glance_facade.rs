//! A read-only Glance v2 API over the engine's images, for `openstack image
//! list/show/save`, Horizon and Nova. Served on [novadock]
//! glance_facade_listen; errors are Glance-shaped.
//!
//! Every request needs a Keystone token (X-Auth-Token), as Glance's own API
//! does: an admin sees every image of the engine; any other project sees
//! only the engine's copies of Glance images that Glance shows it (asked of
//! Glance with the caller's token), never engine-only images such as another
//! project's resize or a move's filesystem.

use std::collections::HashMap;

use axum::Json;
use axum::Router;
use axum::body::Body;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use serde_json::{Value, json};

use crate::config::FacadeAuth;
use crate::docker::Engine;
use crate::image::catalog::{Catalog, Viewer};
use crate::keystone::{Keystone, KeystoneError};

/// The facade's HTTP side: who asks (Keystone) and Glance's API shape. What
/// each caller may see, and the data, come from the image module's Catalog.
#[derive(Clone)]
pub struct Facade {
    catalog: Catalog,
    keystone: Option<Keystone>,
}

impl Facade {
    pub fn new(
        docker: Engine,
        auth: &FacadeAuth,
        glance_endpoint: Option<String>,
    ) -> Result<Facade, String> {
        let keystone = match auth {
            FacadeAuth::Keystone(url) => Some(Keystone::new(url).map_err(|e| e.to_string())?),
            FacadeAuth::NoAuth => None,
        };
        Ok(Facade {
            catalog: Catalog::new(docker, glance_endpoint).map_err(|e| e.to_string())?,
            keystone,
        })
    }

    /// Who is asking, from the request's token: without Keystone
    /// (noauth) everyone sees everything, as does an admin.
    async fn viewer(&self, headers: &HeaderMap) -> Result<Viewer, Response> {
        let Some(keystone) = &self.keystone else {
            return Ok(Viewer::Everyone);
        };
        let token = headers
            .get("x-auth-token")
            .and_then(|v| v.to_str().ok())
            .filter(|t| !t.is_empty())
            .ok_or_else(|| unauthorized("This server could not verify that you are authorized to access the document you requested."))?;
        match keystone.validate(token).await {
            Ok(caller) if caller.admin => Ok(Viewer::Everyone),
            Ok(caller) => Ok(Viewer::User {
                token: token.to_string(),
                glance_endpoint: caller.glance_endpoint,
            }),
            Err(KeystoneError::Unauthorized) => Err(unauthorized(
                "The request you have made requires authentication.",
            )),
            Err(e @ KeystoneError::Unavailable(_)) => Err(glance_error(
                StatusCode::SERVICE_UNAVAILABLE,
                &e.to_string(),
            )),
        }
    }
}

fn unauthorized(message: &str) -> Response {
    let mut r = glance_error(StatusCode::UNAUTHORIZED, message);
    r.headers_mut().insert(
        header::WWW_AUTHENTICATE,
        header::HeaderValue::from_static("Keystone"),
    );
    r
}

/// Serves the facade on its TCP listener until the process ends.
pub async fn serve(tcp: tokio::net::TcpListener, facade: Facade) -> std::io::Result<()> {
    axum::serve(tcp, router(facade)).await
}

pub fn router(facade: Facade) -> Router {
    Router::new()
        .route("/", get(versions))
        .route("/versions", get(versions))
        .route("/v2/images", get(list))
        .route("/v2/images/{id}", get(show))
        .route("/v2/images/{id}/file", get(file))
        .route("/v2/schemas/image", get(image_schema))
        .route("/v2/schemas/images", get(images_schema))
        .fallback(|| async { glance_error(StatusCode::NOT_FOUND, "no such resource") })
        .with_state(facade)
}

fn glance_error(status: StatusCode, message: &str) -> Response {
    let body =
        json!({"code": status.as_u16(), "title": status.canonical_reason(), "message": message});
    (status, Json(body)).into_response()
}

fn engine_down(e: impl std::fmt::Display) -> Response {
    glance_error(
        StatusCode::SERVICE_UNAVAILABLE,
        &format!("Docker engine unavailable: {e}"),
    )
}

async fn versions() -> Response {
    let v = json!({"versions": [{"id": "v2.9", "status": "CURRENT",
        "links": [{"rel": "self", "href": "/v2/"}]}]});
    // Glance answers the version document with 300 Multiple Choices.
    (StatusCode::MULTIPLE_CHOICES, Json(v)).into_response()
}

async fn list(
    State(f): State<Facade>,
    headers: HeaderMap,
    Query(q): Query<HashMap<String, String>>,
) -> Response {
    let viewer = match f.viewer(&headers).await {
        Ok(v) => v,
        Err(r) => return r,
    };
    let mut images = match f.catalog.images(&viewer).await {
        Ok(i) => i,
        Err(e) => return engine_down(e),
    };
    // Every image is public and active: other filters match nothing.
    let matches = |key: &str, want: &str| q.get(key).is_none_or(|v| v == want);
    if !(matches("visibility", "public")
        && matches("status", "active")
        && matches("container_format", "docker")
        && matches("disk_format", "raw"))
    {
        images.clear();
    }
    if let Some(name) = q.get("name") {
        images.retain(|i| i.name.as_deref() == Some(name.as_str()));
    }
    if q.get("sort_dir").map(String::as_str) == Some("asc")
        || q.get("sort_key").map(String::as_str) == Some("name")
    {
        if q.get("sort_key").map(String::as_str) == Some("name") {
            images.sort_by(|a, b| a.name.cmp(&b.name).then_with(|| a.id.cmp(&b.id)));
        } else {
            images.reverse();
        }
    }
    let limit = match q.get("limit").map(|l| l.parse::<usize>()) {
        None => 25,
        Some(Ok(n)) => n.clamp(1, 1000),
        Some(Err(_)) => {
            return glance_error(StatusCode::BAD_REQUEST, "limit must be a positive integer");
        }
    };
    let start = match q.get("marker") {
        None => 0,
        Some(m) => match images.iter().position(|i| &i.id == m) {
            Some(p) => p + 1,
            None => {
                return glance_error(
                    StatusCode::BAD_REQUEST,
                    &format!("marker {m} could not be found"),
                );
            }
        },
    };
    let page: Vec<Value> = images
        .iter()
        .skip(start)
        .take(limit)
        .map(|i| i.to_glance())
        .collect();
    let mut body = json!({"images": page, "first": "/v2/images", "schema": "/v2/schemas/images"});
    if start + limit < images.len()
        && let Some(last) = images.get(start + limit - 1)
    {
        body["next"] = Value::String(format!("/v2/images?marker={}&limit={limit}", last.id));
    }
    Json(body).into_response()
}

/// Glance's 404 for an image the asker may not see, which does not tell
/// whether it exists.
fn not_found(id: &str) -> Response {
    glance_error(
        StatusCode::NOT_FOUND,
        &format!("No image found with ID {id}"),
    )
}

async fn show(State(f): State<Facade>, headers: HeaderMap, Path(id): Path<String>) -> Response {
    let viewer = match f.viewer(&headers).await {
        Ok(v) => v,
        Err(r) => return r,
    };
    match f.catalog.image(&viewer, &id).await {
        Ok(Some(i)) => Json(i.to_glance()).into_response(),
        Ok(None) => not_found(&id),
        Err(e) => engine_down(e),
    }
}

async fn file(State(f): State<Facade>, headers: HeaderMap, Path(id): Path<String>) -> Response {
    let viewer = match f.viewer(&headers).await {
        Ok(v) => v,
        Err(r) => return r,
    };
    match f.catalog.data(&viewer, &id).await {
        Ok(Some(data)) => Response::builder()
            .header(header::CONTENT_TYPE, "application/octet-stream")
            .body(Body::from_stream(data))
            .unwrap_or_else(|_| Response::new(Body::empty())),
        Ok(None) => not_found(&id),
        Err(e) => engine_down(e),
    }
}

/// Glance's image schema, loose enough for the facade's images: glanceclient
/// validates every image it shows against it.
fn schema() -> Value {
    let s = |t: Value| json!({"type": t});
    json!({
        "name": "image",
        "properties": {
            "id": {"type": "string", "pattern": "^([0-9a-fA-F]){8}-([0-9a-fA-F]){4}-([0-9a-fA-F]){4}-([0-9a-fA-F]){4}-([0-9a-fA-F]){12}$"},
            "name": s(json!(["null", "string"])),
            "status": {"type": "string", "enum": ["queued", "saving", "active", "killed", "deleted", "uploading", "importing", "pending_delete", "deactivated"]},
            "visibility": {"type": "string", "enum": ["community", "public", "private", "shared"]},
            "protected": s(json!("boolean")),
            "os_hidden": s(json!("boolean")),
            "checksum": s(json!(["null", "string"])),
            "os_hash_algo": s(json!(["null", "string"])),
            "os_hash_value": s(json!(["null", "string"])),
            "owner": s(json!(["null", "string"])),
            "size": s(json!(["null", "integer"])),
            "virtual_size": s(json!(["null", "integer"])),
            "container_format": s(json!(["null", "string"])),
            "disk_format": s(json!(["null", "string"])),
            "created_at": s(json!("string")),
            "updated_at": s(json!("string")),
            "tags": {"type": "array", "items": {"type": "string"}},
            "min_ram": s(json!("integer")),
            "min_disk": s(json!("integer")),
            "self": s(json!("string")),
            "file": s(json!("string")),
            "schema": s(json!("string")),
            "locations": {"type": "array"},
        },
        "additionalProperties": {"type": "string"},
        "links": [
            {"rel": "self", "href": "{self}"},
            {"rel": "enclosure", "href": "{file}"},
            {"rel": "describedby", "href": "{schema}"},
        ],
    })
}

async fn image_schema() -> Json<Value> {
    Json(schema())
}

async fn images_schema() -> Json<Value> {
    Json(json!({
        "name": "images",
        "properties": {
            "images": {"type": "array", "items": schema()},
            "schema": {"type": "string"},
            "first": {"type": "string"},
            "next": {"type": "string"},
        },
        "links": [
            {"rel": "first", "href": "{first}"},
            {"rel": "next", "href": "{next}"},
            {"rel": "describedby", "href": "{schema}"},
        ],
    }))
}
