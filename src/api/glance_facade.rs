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
use std::time::Duration;

use axum::Json;
use axum::Router;
use axum::body::Body;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use serde_json::{Value, json};

use crate::config::FacadeAuth;
use crate::docker::{Engine, naming};
use crate::image::catalog::CatalogImage;
use crate::image::glance::Glance;
use crate::image::{catalog, copies};
use crate::keystone::{Caller, Keystone, KeystoneError};
use crate::model::GlanceAccess;
use crate::ttl_cache::TtlCache;

/// How long Glance's answer on whether a caller may see an image is reused.
const VISIBILITY_TTL: Duration = Duration::from_secs(60);
const VISIBILITY_MAX: usize = 16384;

#[derive(Clone)]
pub struct Facade {
    docker: Engine,
    keystone: Option<Keystone>,
    glance: Glance,
    /// Glance's URL when nova.conf names it; else the token's catalog.
    glance_endpoint: Option<String>,
    /// (token, Glance id) -> may see, and when Glance said so.
    visible: TtlCache<(String, String), bool>,
}

/// Who is asking: everyone (noauth) or a validated token's owner.
enum Asker {
    Anyone,
    Token(String, Caller),
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
            docker,
            keystone,
            // Visibility checks are small answers: Glance has 15 s.
            glance: Glance::new(Duration::from_secs(15)).map_err(|e| e.to_string())?,
            glance_endpoint,
            visible: TtlCache::new(VISIBILITY_TTL, VISIBILITY_MAX),
        })
    }

    async fn asker(&self, headers: &HeaderMap) -> Result<Asker, Response> {
        let Some(keystone) = &self.keystone else {
            return Ok(Asker::Anyone);
        };
        let token = headers
            .get("x-auth-token")
            .and_then(|v| v.to_str().ok())
            .filter(|t| !t.is_empty())
            .ok_or_else(|| unauthorized("This server could not verify that you are authorized to access the document you requested."))?;
        match keystone.validate(token).await {
            Ok(caller) => Ok(Asker::Token(token.to_string(), caller)),
            Err(KeystoneError::Unauthorized) => Err(unauthorized(
                "The request you have made requires authentication.",
            )),
            Err(e @ KeystoneError::Unavailable(_)) => Err(glance_error(
                StatusCode::SERVICE_UNAVAILABLE,
                &e.to_string(),
            )),
        }
    }

    /// The image as the asker may see it, if at all: as Glance would answer
    /// them. Others see only the tags of the Glance images Glance shows
    /// them (projects that uploaded the same bytes share one engine image,
    /// and its other tags name their private images).
    async fn view(&self, asker: &Asker, image: CatalogImage) -> Option<CatalogImage> {
        let (token, caller) = match asker {
            Asker::Anyone => return Some(image),
            Asker::Token(_, c) if c.admin => return Some(image),
            Asker::Token(t, c) => (t, c),
        };
        let endpoint = self
            .glance_endpoint
            .clone()
            .or_else(|| caller.glance_endpoint.clone())?;
        let mut seen_ids = Vec::new();
        for id in glance_ids(&image) {
            let key = (token.clone(), id.clone());
            let seen = match self.visible.get(&key) {
                Some(v) => v,
                None => {
                    let access = GlanceAccess {
                        endpoint: endpoint.clone(),
                        token: token.clone(),
                    };
                    let v = self.glance.image(&access, &id).await.is_ok();
                    self.visible.insert(key, v);
                    v
                }
            };
            if seen {
                seen_ids.push(id);
            }
        }
        let tags: Vec<String> = seen_ids
            .iter()
            .map(|id| naming::glance_image_reference(id))
            .collect();
        let name = tags.first().cloned();
        if tags.is_empty() {
            return None;
        }
        Some(CatalogImage {
            tags,
            name,
            ..image
        })
    }

    /// The engine's images the asker may see.
    async fn images(&self, asker: &Asker) -> Result<Vec<CatalogImage>, Response> {
        let all = catalog::list(&self.docker).await.map_err(engine_down)?;
        let mut out = Vec::with_capacity(all.len());
        for i in all {
            if let Some(v) = self.view(asker, i).await {
                out.push(v);
            }
        }
        Ok(out)
    }
}

/// The Glance ids the service's own tags give the image (cache and store).
fn glance_ids(image: &CatalogImage) -> Vec<String> {
    let prefixes = [
        format!("{}:", naming::GLANCE_REPOSITORY),
        format!("{}:", naming::GLANCE_STORE_REPOSITORY),
    ];
    let mut ids: Vec<String> = image
        .tags
        .iter()
        .filter_map(|t| prefixes.iter().find_map(|p| t.strip_prefix(p.as_str())))
        .map(String::from)
        .collect();
    ids.sort();
    ids.dedup();
    ids
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
    let asker = match f.asker(&headers).await {
        Ok(a) => a,
        Err(r) => return r,
    };
    let mut images = match f.images(&asker).await {
        Ok(i) => i,
        Err(r) => return r,
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

/// The image, if the asker may see it; Glance's 404 otherwise, which does
/// not tell whether it exists.
async fn find(f: &Facade, headers: &HeaderMap, id: &str) -> Result<CatalogImage, Response> {
    let asker = f.asker(headers).await?;
    let images = catalog::list(&f.docker).await.map_err(engine_down)?;
    let not_found = || {
        glance_error(
            StatusCode::NOT_FOUND,
            &format!("No image found with ID {id}"),
        )
    };
    let image = images
        .into_iter()
        .find(|i| i.id == id)
        .ok_or_else(not_found)?;
    f.view(&asker, image).await.ok_or_else(not_found)
}

async fn show(State(f): State<Facade>, headers: HeaderMap, Path(id): Path<String>) -> Response {
    match find(&f, &headers, &id).await {
        Ok(i) => Json(i.to_glance()).into_response(),
        Err(r) => r,
    }
}

async fn file(State(f): State<Facade>, headers: HeaderMap, Path(id): Path<String>) -> Response {
    match find(&f, &headers, &id).await {
        Ok(i) => Response::builder()
            .header(header::CONTENT_TYPE, "application/octet-stream")
            // Saved by its name, so `docker load` brings the tag back too.
            .body(Body::from_stream(copies::save(
                &f.docker,
                i.name.as_deref().unwrap_or(&i.docker_id),
            )))
            .unwrap_or_else(|_| Response::new(Body::empty())),
        Err(r) => r,
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
