//! Starting an instance's container: the start, its VIFs plugged into the
//! new network namespace with their DNS servers, while the main process is
//! watched (startup_watch.rs). Spawn, power-on and reboot share it.

use std::time::{Duration, Instant};

use super::startup_watch::{self, StartupWatch};
use super::{Compute, console, info, power_state, running_process};
use crate::docker::naming;
use crate::error::Error;
use crate::network::vif::VifPlan;

/// How much of a dead container's output goes into the spawn error.
const DEATH_OUTPUT_BYTES: usize = 2048;

impl Compute {
    /// Starts the container and plugs its VIFs into the new network
    /// namespace while it watches the main process (startup_watch.rs): one
    /// that exits at once fails the operation with its last output.
    pub(super) async fn start_and_check(&self, uuid: &str, vifs: &[VifPlan]) -> Result<(), Error> {
        let name = naming::container_name(uuid);
        let begun = Instant::now();
        self.docker().start_container(&name).await.map_err(|e| {
            Error::SpawnFailed(format!(
                "instance {uuid}: Docker could not start the container: {e}"
            ))
        })?;
        let docker_start = begun.elapsed();
        let window = Duration::from_secs_f64(self.config().novadock.startup_check_seconds);
        let watch = StartupWatch::begin(self.docker(), &name, window);
        let plugged = self.plug(uuid, vifs).await;
        // A plug that failed because the process died is reported as the death.
        if !watch.exited(plugged.is_err()).await {
            if plugged.is_ok() {
                // How much of a start is Docker's own (benchmarks/rally/breakdown.py).
                tracing::info!(
                    instance = %uuid,
                    docker_start_ms = docker_start.as_millis() as u64,
                    total_ms = begun.elapsed().as_millis() as u64,
                    vifs = vifs.len(),
                    "started"
                );
            }
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
        Err(Error::SpawnFailed(format!(
            "instance {uuid}: the container's main process exited with code {code} right after it started; \
             its last output:\n{output}"
        )))
    }

    /// Plugs the VIFs into the running container and gives it their DNS servers.
    async fn plug(&self, uuid: &str, vifs: &[VifPlan]) -> Result<(), Error> {
        if vifs.is_empty() {
            return Ok(());
        }
        let c = self.inspect(uuid).await?;
        let target = running_process(&c).ok_or_else(|| {
            Error::InstanceInvalidState(format!("instance {uuid} has no running process to plug"))
        })?;
        let resolv_conf = c
            .resolv_conf_path
            .as_deref()
            .filter(|p| !p.is_empty())
            .map(std::path::Path::new);
        self.network()
            .plug_at_start(uuid, &target, resolv_conf, vifs)
            .await
    }
}
