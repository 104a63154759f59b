//! The power operations on an instance's container: power off and on,
//! reboot, pause and unpause, suspend and resume.

use std::time::Duration;

use super::{Compute, info, label, power_state, stop_signal};
use crate::docker::container_spec::SUSPENDED_CPU_SHARES;
use crate::docker::{Container, EngineError, naming};
use crate::error::Error;
use crate::model::{InstanceInfo, PowerState, RebootType, VifEntry};

/// Longest grace period a stop honours (a day): a larger one is a mistake,
/// and would overflow the clock.
const MAX_STOP_TIMEOUT: u64 = 86_400;

/// Whether the container's main process has a handler for its stop signal
/// (see stop_signal.rs); true when that cannot be told.
fn acts_on_stop_signal(c: &Container) -> bool {
    let signal = c.stop_signal.as_deref().unwrap_or("SIGTERM");
    let pid = c.state.as_ref().and_then(|s| s.pid).unwrap_or(0);
    match (pid > 0, stop_signal::number(signal)) {
        (true, Some(n)) => stop_signal::handled(pid, n).unwrap_or(true),
        _ => true,
    }
}

impl Compute {
    pub async fn reboot(
        &self,
        uuid: &str,
        kind: RebootType,
        timeout: Option<u64>,
        network_info: &[VifEntry],
    ) -> Result<InstanceInfo, Error> {
        let vifs = self.network().plan(network_info)?;
        self.thaw(uuid).await?;
        let name = naming::container_name(uuid);
        match kind {
            RebootType::Soft => {
                let t = timeout.unwrap_or(self.config().novadock.soft_reboot_timeout);
                let c = self.inspect(uuid).await?;
                let t = if acts_on_stop_signal(&c) { t } else { 0 };
                let grace = i32::try_from(t).unwrap_or(i32::MAX);
                match self.docker().stop_container(&name, grace).await {
                    // Already stopped.
                    Ok(()) | Err(EngineError::NotModified(_)) => {}
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
    ) -> Result<InstanceInfo, Error> {
        let c = self.inspect(uuid).await?;
        self.close_serial_console(uuid).await;
        if !power_state::is_up(&info(&c).power_state) {
            return Ok(info(&c));
        }
        self.thaw(uuid).await?;
        let name = naming::container_name(uuid);
        let stop_signal = c
            .stop_signal
            .clone()
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
        network_info: &[VifEntry],
    ) -> Result<InstanceInfo, Error> {
        let vifs = self.network().plan(network_info)?;
        let c = self.inspect(uuid).await?;
        if !power_state::is_up(&info(&c).power_state) {
            self.start_and_check(uuid, &vifs).await?;
        }
        self.refresh(uuid).await
    }

    pub async fn pause(&self, uuid: &str) -> Result<InstanceInfo, Error> {
        let c = self.inspect(uuid).await?;
        // Its sessions would hang, frozen: they end, and a console opens
        // again once it runs.
        self.close_serial_console(uuid).await;
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

    pub async fn unpause(&self, uuid: &str) -> Result<InstanceInfo, Error> {
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
    pub async fn suspend(&self, uuid: &str) -> Result<InstanceInfo, Error> {
        let c = self.inspect(uuid).await?;
        self.close_serial_console(uuid).await;
        let name = naming::container_name(uuid);
        match info(&c).power_state {
            PowerState::Suspended => {}
            state @ (PowerState::Running | PowerState::Paused) => {
                self.docker()
                    .set_cpu_shares(&name, SUSPENDED_CPU_SHARES)
                    .await?;
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

    pub async fn resume(&self, uuid: &str) -> Result<InstanceInfo, Error> {
        let c = self.inspect(uuid).await?;
        match info(&c).power_state {
            PowerState::Suspended | PowerState::Running => self.thaw(uuid).await?,
            other => return Err(invalid_state(uuid, other, "resume")),
        }
        self.refresh(uuid).await
    }

    /// Gives a frozen container its CPU weight back and thaws it.
    async fn thaw(&self, uuid: &str) -> Result<(), Error> {
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

    async fn restore_cpu_shares(&self, c: &Container, name: &str) -> Result<(), Error> {
        let shares = label(c, naming::LABEL_CPU_SHARES)
            .and_then(|v| v.parse::<i64>().ok())
            .unwrap_or(1024);
        self.docker().set_cpu_shares(name, shares).await?;
        Ok(())
    }

    async fn kill(&self, name: &str, signal: &str) -> Result<(), Error> {
        match self.docker().kill_container(name, signal).await {
            Ok(()) => Ok(()),
            // Not running any more, which is what we wanted.
            Err(EngineError::Conflict(_)) => Ok(()),
            Err(e) => Err(e.into()),
        }
    }

    /// Waits up to `limit` for the main process to exit; true when it did.
    async fn wait_exit(&self, name: &str, limit: Duration) -> bool {
        tokio::time::timeout(limit, self.docker().wait_exit(name))
            .await
            .is_ok()
    }
}

fn invalid_state(uuid: &str, state: PowerState, action: &str) -> Error {
    let state = serde_json::to_value(state)
        .ok()
        .and_then(|v| v.as_str().map(String::from))
        .unwrap_or_default();
    Error::InstanceInvalidState(format!(
        "instance {uuid} is {state}: cannot {action} it in this state"
    ))
}
