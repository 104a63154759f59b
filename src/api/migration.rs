//! Handlers of the same-host resize routes.

use axum::Json;
use axum::extract::rejection::JsonRejection;
use axum::extract::{Path, State};
use axum::http::StatusCode;

use super::{body, instance_uuid};
use crate::compute::Compute;
use crate::error::ApiError;
use crate::model::*;

pub async fn migrate(
    State(c): State<Compute>,
    Path(uuid): Path<String>,
    req: Result<Json<MigrateRequest>, JsonRejection>,
) -> Result<StatusCode, ApiError> {
    let uuid = instance_uuid(&uuid)?;
    let req = body(req)?;
    c.migrate_out(&uuid, &req.dest, req.timeout, req.retry_interval)
        .await?;
    Ok(StatusCode::NO_CONTENT)
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
