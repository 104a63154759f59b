//! Handlers of the resize and cold-migration routes.

use axum::Json;
use axum::extract::rejection::JsonRejection;
use axum::extract::{Path, State};
use axum::http::StatusCode;

use super::error_response::ApiError;
use super::images::glance_id;
use super::{body, instance_uuid};
use crate::compute::Compute;
use crate::model::*;

pub async fn migrate(
    State(c): State<Compute>,
    Path(uuid): Path<String>,
    req: Result<Json<MigrateRequest>, JsonRejection>,
) -> Result<Json<MigrateResult>, ApiError> {
    let uuid = instance_uuid(&uuid)?;
    let req = body(req)?;
    let same_host = c
        .migrate_out(&uuid, &req.dest, req.timeout, req.retry_interval)
        .await?;
    Ok(Json(MigrateResult { same_host }))
}

pub async fn export_image(
    State(c): State<Compute>,
    Path(uuid): Path<String>,
    req: Result<Json<ExportRequest>, JsonRejection>,
) -> Result<(StatusCode, Json<FetchedImage>), ApiError> {
    let uuid = instance_uuid(&uuid)?;
    let id = glance_id(&body(req)?.image_id)?;
    Ok((
        StatusCode::CREATED,
        Json(c.export_migration_image(&uuid, &id).await?),
    ))
}

pub async fn forget_images(
    State(c): State<Compute>,
    Path(uuid): Path<String>,
) -> Result<Json<MigrationImages>, ApiError> {
    let uuid = instance_uuid(&uuid)?;
    Ok(Json(MigrationImages {
        images: c.forget_migration_images(&uuid).await?,
    }))
}

pub async fn finish(
    State(c): State<Compute>,
    Path(uuid): Path<String>,
    req: Result<Json<SpawnRequest>, JsonRejection>,
) -> Result<(StatusCode, Json<InstanceInfo>), ApiError> {
    let uuid = instance_uuid(&uuid)?;
    let mut req = body(req)?;
    if instance_uuid(&req.instance.uuid)? != uuid {
        return Err(ApiError::BadRequest(
            "the body names another instance".into(),
        ));
    }
    req.instance.uuid = uuid;
    Ok((StatusCode::CREATED, Json(c.finish_migration(&req).await?)))
}

pub async fn confirm(
    State(c): State<Compute>,
    Path(uuid): Path<String>,
) -> Result<StatusCode, ApiError> {
    c.confirm_migration(&instance_uuid(&uuid)?).await?;
    Ok(StatusCode::NO_CONTENT)
}

pub async fn revert(
    State(c): State<Compute>,
    Path(uuid): Path<String>,
    req: Result<Json<RevertRequest>, JsonRejection>,
) -> Result<Json<InstanceInfo>, ApiError> {
    let uuid = instance_uuid(&uuid)?;
    let req = body(req)?;
    Ok(Json(
        c.revert_migration(&uuid, &req.network_info, req.power_on)
            .await?,
    ))
}
