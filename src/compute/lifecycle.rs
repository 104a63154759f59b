//! Spawn, destroy and the power operations. A failed spawn leaves nothing.

use std::time::Duration;

use bollard::models::{ContainerInspectResponse, ContainerUpdateBody};
use bollard::query_parameters::{
    CreateContainerOptions, KillContainerOptions, RemoveContainerOptions, StopContainerOptions,
    WaitContainerOptions,
};
use futures_util::StreamExt;

use super::startup_watch::{self, StartupWatch};
use super::{Compute, config_drive, console, info, label, power_state, running_pid, stop_signal};
use crate::docker::container_spec::{self, SUSPENDED_CPU_SHARES};
use crate::docker::{is_not_found, naming};
use crate::error::ApiError;
use crate::model::{InstanceInfo, PowerState, RebootType, SpawnRequest};
use crate::network::resolv;
use crate::network::vif::{self, VifPlan};

/// What overlay2 answers a disk limit on a filesystem without project quotas.
const DRIVER_REFUSES_DISK_LIMITS: &str = "--storage-opt is supported only for";

/// Longest grace period a stop honours (a day): a larger one is a mistake,
/// and would overflow the clock.
const MAX_STOP_TIMEOUT: u64 = 86_400;

/// Whether the container's main process has a handler for its stop signal
/// (see stop_signal.rs); true when that cannot be told.
fn acts_on_stop_signal(c: &ContainerInspectResponse) -> bool {
    let signal = c
        .config
        .as_ref()
        .and_then(|cfg| cfg.stop_signal.as_deref())
        .unwrap_or("SIGTERM");
    let pid = c.state.as_ref().and_then(|s| s.pid).unwrap_or(0);
    match (pid > 0, stop_signal::number(signal)) {
        (true, Some(n)) => stop_signal::handled(pid, n).unwrap_or(true),
        _ => true,
    }
}

/// How much of a dead container's output goes into the spawn error.
const DEATH_OUTPUT_BYTES: usize = 2048;

impl Compute {
    /// The local image for a spawn: from Glance (downloaded once, access
    /// checked with the user's token). Only a move's own image (set by the
    /// service) or, with `allow_local_images`, the Glance id's cached image
    /// or the image name as an engine reference, boot without Glance: a
    /// name is the user's to choose, and would reach any image of the engine.
    async fn resolve_image(&self, req: &SpawnRequest) -> Result<String, ApiError> {
        if let (Some(access), Some(id)) = (&req.glance, &req.image.id) {
            return Ok(self.images().fetch(access, id).await?.docker_id);
        }
        if let Some(local) = &req.image.local {
            return Ok(local.clone());
        }
        if !self.config().novadock.allow_local_images {
            return Err(ApiError::ImageNotFound(format!(
                "image {}: the boot carries no Glance access, and novadock boots only images it \
                 reads from Glance with the user's token ([novadock] allow_local_images is off)",
                req.image.id.as_deref().unwrap_or("without id"),
            )));
        }
        let mut candidates = Vec::new();
        if let Some(id) = &req.image.id {
            candidates.push(naming::glance_image_reference(id));
        }
        if let Some(name) = req.image.name.as_ref().filter(|n| !n.is_empty()) {
            candidates.push(name.clone());
        }
        for reference in &candidates {
            match self.docker().inspect_image(reference).await {
                // Pin the exact image so a retag during the boot changes nothing.
                Ok(image) => return Ok(image.id.unwrap_or_else(|| reference.clone())),
                Err(e) if is_not_found(&e) => continue,
                // A malformed reference is as absent as a missing one.
                Err(bollard::errors::Error::DockerResponseServerError {
                    status_code: 400, ..
                }) => continue,
                Err(e) => return Err(e.into()),
            }
        }
        Err(ApiError::ImageNotFound(format!(
            "image {} ({}) is not in this host's Docker engine",
            req.image.id.as_deref().unwrap_or("without id"),
            req.image.name.as_deref().unwrap_or("without name"),
        )))
    }

    pub async fn spawn(&self, req: &SpawnRequest) -> Result<InstanceInfo, ApiError> {
        let uuid = &req.instance.uuid;
        // Every VIF is checked before anything is created.
        let vifs = self.network().plan(&req.network_info)?;
        // An instance that has its container keeps it, and its drive.
        match self.inspect(uuid).await {
            Ok(_) => return Err(ApiError::InstanceExists(uuid.clone())),
            Err(ApiError::InstanceNotFound(_)) => {}
            Err(e) => return Err(e),
        }
        let drive = if req.config_drive.is_empty() {
            None
        } else {
            let files = config_drive::decode(&req.config_drive)?;
            Some((self.config_drive_dir(uuid)?, files))
        };
        let image = self.resolve_image(req).await?;
        let disk_limit = self.disk_limits_work().await?;
        let drive_dir = match drive {
            Some((dir, files)) => {
                config_drive::write(&dir, files).await?;
                Some(dir)
            }
            None => None,
        };
        let name = naming::container_name(uuid);
        let opts = CreateContainerOptions {
            name: Some(name.clone()),
            ..Default::default()
        };
        let build = |limit| {
            container_spec::build(
                req,
                &image,
                &self.config().novadock,
                self.host_name(),
                limit,
                drive_dir.as_deref(),
            )
        };
        let mut created = match build(disk_limit) {
            Ok(body) => {
                self.docker()
                    .create_container(Some(opts.clone()), body)
                    .await
            }
            Err(e) => {
                self.forget_config_drive(uuid).await;
                return Err(e);
            }
        };
        if let Err(bollard::errors::Error::DockerResponseServerError { message, .. }) = &created
            && disk_limit
            && message.contains(DRIVER_REFUSES_DISK_LIMITS)
        {
            // overlay2 on xfs without pquota: boots go on, unlimited, and
            // the operator is told. Only the driver's own refusal counts (an
            // image's content can make other create errors name storage-opt),
            // and only once a boot without the limit worked.
            let message = message.clone();
            let retried = match build(false) {
                Ok(body) => self.docker().create_container(Some(opts), body).await,
                Err(e) => {
                    self.forget_config_drive(uuid).await;
                    return Err(e);
                }
            };
            if retried.is_ok() {
                tracing::error!(
                    "the engine refused a root disk limit ({message}): root_gb is not enforced on this host"
                );
                self.disk_limits_refused();
            }
            created = retried;
        }
        if created.is_err() {
            self.forget_config_drive(uuid).await;
        }
        match created {
            Ok(_) => {}
            Err(bollard::errors::Error::DockerResponseServerError {
                status_code: 409, ..
            }) => {
                return Err(ApiError::InstanceExists(uuid.clone()));
            }
            Err(bollard::errors::Error::DockerResponseServerError {
                status_code: 400,
                message,
            }) => {
                return Err(ApiError::InvalidInput(format!(
                    "Docker refused the container: {message}"
                )));
            }
            Err(e) => return Err(e.into()),
        }
        let started = if req.power_on {
            self.start_and_check(uuid, &vifs).await
        } else {
            Ok(())
        };
        match started {
            Ok(()) => self.refresh(uuid).await,
            Err(e) => {
                if let Err(cleanup) = self.remove(uuid).await {
                    tracing::error!(instance = %uuid, "failed spawn left its container: {cleanup}");
                }
                self.forget_config_drive(uuid).await;
                if let Err(cleanup) = self.network().unplug_instance(uuid, &vifs).await {
                    tracing::error!(instance = %uuid, "failed spawn left VIFs: {cleanup}");
                }
                Err(e)
            }
        }
    }

    /// Starts the container and plugs its VIFs into the new network
    /// namespace while it watches the main process (startup_watch.rs): one
    /// that exits at once fails the operation with its last output.
    async fn start_and_check(&self, uuid: &str, vifs: &[VifPlan]) -> Result<(), ApiError> {
        let name = naming::container_name(uuid);
        self.docker()
            .start_container(&name, None)
            .await
            .map_err(|e| {
                ApiError::SpawnFailed(format!(
                    "instance {uuid}: Docker could not start the container: {e}"
                ))
            })?;
        let window = Duration::from_secs_f64(self.config().novadock.startup_check_seconds);
        let watch = StartupWatch::begin(self.docker(), &name, window);
        let plugged = self.plug(uuid, vifs).await;
        // A plug that failed because the process died is reported as the death.
        if !watch.exited(plugged.is_err()).await {
            return plugged;
        }
        startup_watch::recorded(self.docker(), &name).await;
        let c = self.inspect(uuid).await?;
        if power_state::is_up(&info(&c).power_state) {
            return plugged;
        }
        let code = c.state.as_ref().and_then(|s| s.exit_code).unwrap_or(-1);
        let output = console::tail(self.docker(), &name, DEATH_OUTPUT_BYTES)
            .await
            .unwrap_or_default();
        Err(ApiError::SpawnFailed(format!(
            "instance {uuid}: the container's main process exited with code {code} right after it started; \
             its last output:\n{output}"
        )))
    }

    /// Plugs the VIFs into the running container and gives it their DNS servers.
    async fn plug(&self, uuid: &str, vifs: &[VifPlan]) -> Result<(), ApiError> {
        if vifs.is_empty() {
            return Ok(());
        }
        let c = self.inspect(uuid).await?;
        let pid = running_pid(&c).ok_or_else(|| {
            ApiError::InstanceInvalidState(format!(
                "instance {uuid} has no running process to plug"
            ))
        })?;
        self.network().plug(uuid, pid, vifs).await?;
        let dns: Vec<_> = vifs.iter().flat_map(|v| v.dns.iter().copied()).collect();
        if let Some(path) = c.resolv_conf_path.as_deref().filter(|p| !p.is_empty()) {
            resolv::set_nameservers(std::path::Path::new(path), &dns)?;
        }
        Ok(())
    }

    /// Removes the container; Nova asked for it, so no lifecycle event.
    pub(crate) async fn remove(&self, uuid: &str) -> Result<(), ApiError> {
        let id = match self.inspect(uuid).await {
            Ok(c) => c.id,
            Err(ApiError::InstanceNotFound(_)) => None,
            Err(e) => return Err(e),
        };
        let removed = self.remove_container(&naming::container_name(uuid)).await;
        self.states().remove(uuid, id.as_deref(), false);
        removed
    }

    /// Removes a container by name, with its anonymous volumes; a missing one
    /// is already removed.
    pub(crate) async fn remove_container(&self, name: &str) -> Result<(), ApiError> {
        let opts = RemoveContainerOptions {
            force: true,
            v: true,
            ..Default::default()
        };
        match self.docker().remove_container(name, Some(opts)).await {
            Ok(()) => Ok(()),
            Err(e) if is_not_found(&e) => Ok(()),
            // Another removal is already under way: the container is going.
            Err(bollard::errors::Error::DockerResponseServerError {
                status_code: 409,
                message,
            }) if message.contains("already in progress") => Ok(()),
            Err(e) => Err(e.into()),
        }
    }

    /// Idempotent: a missing container is already destroyed. The VIFs go
    /// too, whether or not the container was still there.
    pub async fn destroy(
        &self,
        uuid: &str,
        network_info: &[serde_json::Value],
    ) -> Result<(), ApiError> {
        self.destroy_keeping(uuid, network_info, false).await
    }

    /// destroy; with `keep_resize`, a resize's set-aside container and image
    /// stay for the revert that follows.
    pub async fn destroy_keeping(
        &self,
        uuid: &str,
        network_info: &[serde_json::Value],
        keep_resize: bool,
    ) -> Result<(), ApiError> {
        // Unpluggable entries cannot have been plugged: skip them, keep the rest.
        let vifs: Vec<VifPlan> = network_info
            .iter()
            .enumerate()
            .filter_map(|(i, v)| vif::plan(v, i, &self.network().default_bridge).ok())
            .collect();
        self.remove(uuid).await?;
        if !keep_resize {
            self.forget_resize(uuid).await;
            self.forget_config_drive(uuid).await;
        }
        self.network().unplug_instance(uuid, &vifs).await
    }

    /// The instance's config drive directory on the host.
    fn config_drive_dir(&self, uuid: &str) -> Result<std::path::PathBuf, ApiError> {
        config_drive::dir_for(&self.config().novadock.config_drive_dir, uuid)
    }

    /// Removes the instance's config drive, logging what fails.
    pub(super) async fn forget_config_drive(&self, uuid: &str) {
        let Ok(dir) = self.config_drive_dir(uuid) else {
            return;
        };
        if let Err(e) = config_drive::remove(&dir).await {
            tracing::warn!(instance = uuid, "{e}");
        }
    }

    /// Gives a frozen container its CPU weight back and thaws it.
    async fn thaw(&self, uuid: &str) -> Result<(), ApiError> {
        let c = self.inspect(uuid).await?;
        let name = naming::container_name(uuid);
        match info(&c).power_state {
            PowerState::Suspended => {
                self.restore_cpu_shares(&c, &name).await?;
                self.docker().unpause_container(&name).await?;
            }
            PowerState::Paused => self.docker().unpause_container(&name).await?,
            _ => {}
        }
        Ok(())
    }

    async fn restore_cpu_shares(
        &self,
        c: &bollard::models::ContainerInspectResponse,
        name: &str,
    ) -> Result<(), ApiError> {
        let shares = label(c, naming::LABEL_CPU_SHARES)
            .and_then(|v| v.parse::<i64>().ok())
            .unwrap_or(1024);
        let update = ContainerUpdateBody {
            cpu_shares: Some(shares),
            ..Default::default()
        };
        self.docker().update_container(name, update).await?;
        Ok(())
    }

    async fn kill(&self, name: &str, signal: &str) -> Result<(), ApiError> {
        let opts = KillContainerOptions {
            signal: signal.to_string(),
        };
        match self.docker().kill_container(name, Some(opts)).await {
            Ok(()) => Ok(()),
            // 409: not running any more, which is what we wanted.
            Err(bollard::errors::Error::DockerResponseServerError {
                status_code: 409, ..
            }) => Ok(()),
            Err(e) => Err(e.into()),
        }
    }

    /// Waits up to `limit` for the main process to exit; true when it did.
    async fn wait_exit(&self, name: &str, limit: Duration) -> bool {
        let mut wait = self
            .docker()
            .wait_container(name, None::<WaitContainerOptions>);
        tokio::time::timeout(limit, wait.next()).await.is_ok()
    }

    pub async fn reboot(
        &self,
        uuid: &str,
        kind: RebootType,
        timeout: Option<u64>,
        network_info: &[serde_json::Value],
    ) -> Result<InstanceInfo, ApiError> {
        let vifs = self.network().plan(network_info)?;
        self.thaw(uuid).await?;
        let name = naming::container_name(uuid);
        match kind {
            RebootType::Soft => {
                let t = timeout.unwrap_or(self.config().novadock.soft_reboot_timeout);
                let c = self.inspect(uuid).await?;
                let t = if acts_on_stop_signal(&c) { t } else { 0 };
                let opts = StopContainerOptions {
                    t: Some(i32::try_from(t).unwrap_or(i32::MAX)),
                    signal: None,
                };
                match self.docker().stop_container(&name, Some(opts)).await {
                    Ok(()) => {}
                    Err(bollard::errors::Error::DockerResponseServerError {
                        status_code: 304,
                        ..
                    }) => {}
                    Err(e) => return Err(e.into()),
                }
            }
            RebootType::Hard => {
                self.kill(&name, "SIGKILL").await?;
                self.wait_exit(&name, Duration::from_secs(30)).await;
            }
        }
        self.start_and_check(uuid, &vifs).await?;
        self.refresh(uuid).await
    }

    /// Sends the stop signal every `retry_interval` seconds until the process
    /// exits or `timeout` seconds pass, then kills it (Nova's clean shutdown).
    pub async fn power_off(
        &self,
        uuid: &str,
        timeout: u64,
        retry_interval: u64,
    ) -> Result<InstanceInfo, ApiError> {
        let c = self.inspect(uuid).await?;
        if !power_state::is_up(&info(&c).power_state) {
            return Ok(info(&c));
        }
        self.thaw(uuid).await?;
        let name = naming::container_name(uuid);
        let stop_signal = c
            .config
            .as_ref()
            .and_then(|cfg| cfg.stop_signal.clone())
            .unwrap_or_else(|| "SIGTERM".to_string());
        // A grace period the process cannot use is only a wait.
        let timeout = if acts_on_stop_signal(&c) {
            timeout.min(MAX_STOP_TIMEOUT)
        } else {
            0
        };
        let deadline = tokio::time::Instant::now() + Duration::from_secs(timeout);
        let mut exited = false;
        while timeout > 0 && !exited {
            let now = tokio::time::Instant::now();
            if now >= deadline {
                break;
            }
            self.kill(&name, &stop_signal).await?;
            let remaining = deadline - now;
            let step = if retry_interval == 0 {
                remaining
            } else {
                remaining.min(Duration::from_secs(retry_interval))
            };
            exited = self.wait_exit(&name, step).await;
        }
        if !exited {
            self.kill(&name, "SIGKILL").await?;
            self.wait_exit(&name, Duration::from_secs(30)).await;
        }
        self.refresh(uuid).await
    }

    pub async fn power_on(
        &self,
        uuid: &str,
        network_info: &[serde_json::Value],
    ) -> Result<InstanceInfo, ApiError> {
        let vifs = self.network().plan(network_info)?;
        let c = self.inspect(uuid).await?;
        if !power_state::is_up(&info(&c).power_state) {
            self.start_and_check(uuid, &vifs).await?;
        }
        self.refresh(uuid).await
    }

    pub async fn pause(&self, uuid: &str) -> Result<InstanceInfo, ApiError> {
        let c = self.inspect(uuid).await?;
        match info(&c).power_state {
            PowerState::Running => {
                self.docker()
                    .pause_container(&naming::container_name(uuid))
                    .await?
            }
            PowerState::Paused => {}
            other => return Err(invalid_state(uuid, other, "pause")),
        }
        self.refresh(uuid).await
    }

    pub async fn unpause(&self, uuid: &str) -> Result<InstanceInfo, ApiError> {
        let c = self.inspect(uuid).await?;
        match info(&c).power_state {
            PowerState::Running | PowerState::Paused | PowerState::Suspended => {
                self.thaw(uuid).await?
            }
            other => return Err(invalid_state(uuid, other, "unpause")),
        }
        self.refresh(uuid).await
    }

    /// Freezes the processes and parks the CPU weight at Docker's minimum.
    /// Memory stays resident: there is no checkpointing here.
    pub async fn suspend(&self, uuid: &str) -> Result<InstanceInfo, ApiError> {
        let c = self.inspect(uuid).await?;
        let name = naming::container_name(uuid);
        match info(&c).power_state {
            PowerState::Suspended => {}
            state @ (PowerState::Running | PowerState::Paused) => {
                let update = ContainerUpdateBody {
                    cpu_shares: Some(SUSPENDED_CPU_SHARES),
                    ..Default::default()
                };
                self.docker().update_container(&name, update).await?;
                if state == PowerState::Running
                    && let Err(e) = self.docker().pause_container(&name).await
                {
                    self.restore_cpu_shares(&c, &name).await?;
                    return Err(e.into());
                }
            }
            other => return Err(invalid_state(uuid, other, "suspend")),
        }
        self.refresh(uuid).await
    }

    pub async fn resume(&self, uuid: &str) -> Result<InstanceInfo, ApiError> {
        let c = self.inspect(uuid).await?;
        match info(&c).power_state {
            PowerState::Suspended | PowerState::Running => self.thaw(uuid).await?,
            other => return Err(invalid_state(uuid, other, "resume")),
        }
        self.refresh(uuid).await
    }
}

fn invalid_state(uuid: &str, state: PowerState, action: &str) -> ApiError {
    let state = serde_json::to_value(state)
        .ok()
        .and_then(|v| v.as_str().map(String::from))
        .unwrap_or_default();
    ApiError::InstanceInvalidState(format!(
        "instance {uuid} is {state}: cannot {action} it in this state"
    ))
}
