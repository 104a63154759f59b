//! Handlers of the /v1 driver routes.

use std::collections::BTreeMap;

use axum::Json;
use axum::body::Bytes;
use axum::extract::rejection::JsonRejection;
use axum::extract::{Path, State};
use axum::http::StatusCode;

use super::error_response::ApiError;
use super::{body, instance_uuid, optional_body};
use crate::compute::{Compute, resources};
use crate::host;
use crate::model::*;

type ApiResult<T> = Result<Json<T>, ApiError>;

pub async fn version(State(c): State<Compute>) -> ApiResult<Version> {
    Ok(Json(c.version().await?))
}

pub async fn capabilities() -> Json<BTreeMap<&'static str, bool>> {
    Json(resources::capabilities())
}

pub async fn host(State(c): State<Compute>) -> ApiResult<Host> {
    Ok(Json(c.host().await?))
}

pub async fn resources(State(c): State<Compute>) -> ApiResult<Resources> {
    Ok(Json(c.resources().await?))
}

pub async fn inventory(
    State(c): State<Compute>,
    req: Result<Json<InventoryRequest>, JsonRejection>,
) -> ApiResult<Inventory> {
    Ok(Json(c.inventory(&body(req)?).await?))
}

pub async fn traits(State(c): State<Compute>) -> ApiResult<HostTraits> {
    Ok(Json(c.traits().await?))
}

pub async fn cpu_stats() -> ApiResult<CpuStats> {
    Ok(Json(host::cpu_stats().map_err(|e| {
        crate::error::Error::Internal(e.to_string())
    })?))
}

pub async fn list(State(c): State<Compute>) -> ApiResult<InstanceList> {
    Ok(Json(InstanceList {
        instances: c.list().await?,
    }))
}

pub async fn spawn(
    State(c): State<Compute>,
    req: Result<Json<SpawnRequest>, JsonRejection>,
) -> Result<(StatusCode, Json<InstanceInfo>), ApiError> {
    let mut req = body(req)?;
    req.instance.uuid = instance_uuid(&req.instance.uuid)?;
    Ok((StatusCode::CREATED, Json(c.spawn(&req).await?)))
}

pub async fn get_info(
    State(c): State<Compute>,
    Path(uuid): Path<String>,
) -> ApiResult<InstanceInfo> {
    Ok(Json(c.get_info(&instance_uuid(&uuid)?).await?))
}

pub async fn destroy(
    State(c): State<Compute>,
    Path(uuid): Path<String>,
    raw: Bytes,
) -> Result<StatusCode, ApiError> {
    let uuid = instance_uuid(&uuid)?;
    let req: DestroyRequest = optional_body(&raw)?;
    c.destroy_keeping(&uuid, &req.network_info, req.keep_resize)
        .await?;
    Ok(StatusCode::NO_CONTENT)
}

pub async fn reboot(
    State(c): State<Compute>,
    Path(uuid): Path<String>,
    req: Result<Json<RebootRequest>, JsonRejection>,
) -> ApiResult<InstanceInfo> {
    let uuid = instance_uuid(&uuid)?;
    let req = body(req)?;
    Ok(Json(
        c.reboot(&uuid, req.kind, req.timeout, &req.network_info)
            .await?,
    ))
}

pub async fn power_off(
    State(c): State<Compute>,
    Path(uuid): Path<String>,
    req: Result<Json<PowerOffRequest>, JsonRejection>,
) -> ApiResult<InstanceInfo> {
    let uuid = instance_uuid(&uuid)?;
    let req = body(req)?;
    Ok(Json(
        c.power_off(&uuid, req.timeout, req.retry_interval).await?,
    ))
}

pub async fn power_on(
    State(c): State<Compute>,
    Path(uuid): Path<String>,
    raw: Bytes,
) -> ApiResult<InstanceInfo> {
    let uuid = instance_uuid(&uuid)?;
    let req: NetworkInfoRequest = optional_body(&raw)?;
    Ok(Json(c.power_on(&uuid, &req.network_info).await?))
}

pub async fn pause(State(c): State<Compute>, Path(uuid): Path<String>) -> ApiResult<InstanceInfo> {
    Ok(Json(c.pause(&instance_uuid(&uuid)?).await?))
}

pub async fn unpause(
    State(c): State<Compute>,
    Path(uuid): Path<String>,
) -> ApiResult<InstanceInfo> {
    Ok(Json(c.unpause(&instance_uuid(&uuid)?).await?))
}

pub async fn suspend(
    State(c): State<Compute>,
    Path(uuid): Path<String>,
) -> ApiResult<InstanceInfo> {
    Ok(Json(c.suspend(&instance_uuid(&uuid)?).await?))
}

pub async fn resume(State(c): State<Compute>, Path(uuid): Path<String>) -> ApiResult<InstanceInfo> {
    Ok(Json(c.resume(&instance_uuid(&uuid)?).await?))
}

pub async fn console(
    State(c): State<Compute>,
    Path(uuid): Path<String>,
) -> ApiResult<ConsoleOutput> {
    Ok(Json(ConsoleOutput {
        output: c.console_output(&instance_uuid(&uuid)?).await?,
    }))
}

/// POST: it may bind a listener.
pub async fn serial_console(
    State(c): State<Compute>,
    Path(uuid): Path<String>,
) -> ApiResult<SerialConsole> {
    Ok(Json(c.get_serial_console(&instance_uuid(&uuid)?).await?))
}

pub async fn attach_interface(
    State(c): State<Compute>,
    Path(uuid): Path<String>,
    req: Result<Json<AttachInterfaceRequest>, JsonRejection>,
) -> Result<(StatusCode, Json<AttachedInterface>), ApiError> {
    let uuid = instance_uuid(&uuid)?;
    let req = body(req)?;
    Ok((
        StatusCode::CREATED,
        Json(c.attach_interface(&uuid, &req.vif).await?),
    ))
}

pub async fn detach_interface(
    State(c): State<Compute>,
    Path((uuid, port_id)): Path<(String, String)>,
) -> Result<StatusCode, ApiError> {
    c.detach_interface(&instance_uuid(&uuid)?, &port_id).await?;
    Ok(StatusCode::NO_CONTENT)
}

pub async fn diagnostics(
    State(c): State<Compute>,
    Path(uuid): Path<String>,
) -> ApiResult<Diagnostics> {
    Ok(Json(c.diagnostics(&instance_uuid(&uuid)?).await?))
}

pub async fn plug(
    State(c): State<Compute>,
    Path(uuid): Path<String>,
    req: Result<Json<NetworkInfoRequest>, JsonRejection>,
) -> ApiResult<PlugResult> {
    let uuid = instance_uuid(&uuid)?;
    let req = body(req)?;
    Ok(Json(PlugResult {
        plugged: c.ensure_plugged(&uuid, &req.network_info).await?,
    }))
}
