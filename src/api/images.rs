//! Handlers of /v1/images (the glance_store backend and Nova's image cache)
//! and of instance snapshots.

use std::collections::HashMap;

use axum::Json;
use axum::body::Body;
use axum::extract::rejection::JsonRejection;
use axum::extract::{Path, Query, State};
use axum::http::{StatusCode, header};
use axum::response::Response;
use futures_util::TryStreamExt;

use super::error_response::ApiError;
use super::{body, instance_uuid};
use crate::compute::Compute;
use crate::model::*;

pub(super) fn glance_id(raw: &str) -> Result<String, ApiError> {
    uuid::Uuid::parse_str(raw)
        .map(|u| u.hyphenated().to_string())
        .map_err(|e| ApiError::BadRequest(format!("{raw:?} is not a Glance image id: {e}")))
}

fn algo(q: &HashMap<String, String>) -> String {
    q.get("hashing_algo")
        .cloned()
        .unwrap_or_else(|| "sha512".to_string())
}

fn tarball(
    stream: impl futures_util::Stream<Item = Result<bytes::Bytes, std::io::Error>> + Send + 'static,
) -> Response {
    Response::builder()
        .header(header::CONTENT_TYPE, "application/x-tar")
        .body(Body::from_stream(stream))
        .unwrap_or_else(|_| Response::new(Body::empty()))
}

pub async fn store(
    State(c): State<Compute>,
    Path(id): Path<String>,
    Query(q): Query<HashMap<String, String>>,
    data: Body,
) -> Result<(StatusCode, Json<StoredImage>), ApiError> {
    let id = glance_id(&id)?;
    let stream = data.into_data_stream().map_err(std::io::Error::other);
    Ok((
        StatusCode::CREATED,
        Json(c.images().store(&id, stream, &algo(&q)).await?),
    ))
}

pub async fn read(State(c): State<Compute>, Path(id): Path<String>) -> Result<Response, ApiError> {
    Ok(tarball(c.images().read(&glance_id(&id)?).await?))
}

pub async fn describe(
    State(c): State<Compute>,
    Path(id): Path<String>,
    Query(q): Query<HashMap<String, String>>,
) -> Result<Json<StoredImage>, ApiError> {
    Ok(Json(
        c.images().describe(&glance_id(&id)?, &algo(&q)).await?,
    ))
}

pub async fn delete(
    State(c): State<Compute>,
    Path(id): Path<String>,
) -> Result<StatusCode, ApiError> {
    c.images().delete(&glance_id(&id)?).await?;
    Ok(StatusCode::NO_CONTENT)
}

pub async fn fetch(
    State(c): State<Compute>,
    Path(id): Path<String>,
    req: Result<Json<GlanceRequest>, JsonRejection>,
) -> Result<Json<FetchedImage>, ApiError> {
    let id = glance_id(&id)?;
    Ok(Json(c.images().fetch(&body(req)?.glance, &id).await?))
}

pub async fn upload(
    State(c): State<Compute>,
    Path(id): Path<String>,
    req: Result<Json<GlanceRequest>, JsonRejection>,
) -> Result<StatusCode, ApiError> {
    let id = glance_id(&id)?;
    c.images().upload(&body(req)?.glance, &id).await?;
    Ok(StatusCode::NO_CONTENT)
}

pub async fn prune(
    State(c): State<Compute>,
    req: Result<Json<PruneRequest>, JsonRejection>,
) -> Result<Json<PruneResult>, ApiError> {
    let req = body(req)?;
    Ok(Json(PruneResult {
        removed: c.images().prune(req.min_age_seconds).await?,
    }))
}

pub async fn snapshot(
    State(c): State<Compute>,
    Path(uuid): Path<String>,
    req: Result<Json<SnapshotImage>, JsonRejection>,
) -> Result<(StatusCode, Json<FetchedImage>), ApiError> {
    let uuid = instance_uuid(&uuid)?;
    let req = body(req)?;
    let id = glance_id(&req.image_id)?;
    Ok((StatusCode::CREATED, Json(c.snapshot(&uuid, &id).await?)))
}
