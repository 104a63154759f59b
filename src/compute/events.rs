//! Follows Docker's event stream for instance containers and keeps the
//! power-state map current. Whenever the stream (re)connects, the map is
//! rebuilt from a full listing first, so nothing missed while Docker was
//! away stays wrong.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use futures_util::StreamExt;

use super::{Compute, info, tracked};
use crate::docker::events::ContainerEvent;
use crate::docker::{EngineError, naming};
use crate::model::PowerState;

/// Container actions that can change a power state.
const ACTIONS: &[&str] = &[
    "create", "start", "die", "stop", "kill", "pause", "unpause", "update", "oom", "restart",
    "rename",
];

impl Compute {
    /// Runs until the process ends; reconnects by itself.
    pub async fn follow_docker_events(self) {
        loop {
            let since = SystemTime::now()
                .duration_since(UNIX_EPOCH)
                .map(|d| d.as_secs())
                .unwrap_or(0);
            match self.containers().await {
                Ok(cs) => {
                    self.states().replace_all(cs.iter().map(tracked).collect());
                    self.states().set_synced(true);
                }
                Err(e) => {
                    self.states().set_synced(false);
                    tracing::warn!("Docker engine unreachable, retrying: {e}");
                    tokio::time::sleep(Duration::from_secs(2)).await;
                    continue;
                }
            }
            // Events since just before the listing: whatever happened during
            // it is replayed, and replays change nothing.
            let mut stream = Box::pin(self.docker().container_events(
                since,
                vec![naming::LABEL_UUID.to_string(), self.host_label_filter()],
            ));
            while let Some(ev) = stream.next().await {
                match ev {
                    Ok(ev) => self.on_event(ev).await,
                    Err(e) => {
                        tracing::warn!("Docker event stream ended: {e}");
                        break;
                    }
                }
            }
            self.states().set_synced(false);
            tokio::time::sleep(Duration::from_secs(1)).await;
        }
    }

    async fn on_event(&self, ev: ContainerEvent) {
        let action = ev.action;
        let attrs = ev.attributes;
        let Some(uuid) = attrs.get(naming::LABEL_UUID) else {
            return;
        };
        // A container set aside by a resize is not the instance.
        if attrs
            .get("name")
            .is_some_and(|n| *n != naming::container_name(uuid))
        {
            return;
        }
        if action == "destroy" {
            self.states().remove(uuid, ev.container_id.as_deref(), true);
            self.close_serial_console(uuid).await;
            return;
        }
        if !ACTIONS.contains(&action.as_str()) {
            return;
        }
        let id = ev.container_id.unwrap_or_default();
        match self.docker().inspect_container(&id).await {
            Ok(c) => {
                // Stopped or frozen on its own (or by hand): its console
                // closes as Nova's stop would close it.
                if info(&c).power_state != PowerState::Running {
                    self.close_serial_console(uuid).await;
                }
                self.states().set(tracked(&c))
            }
            Err(EngineError::NotFound(_)) => {
                self.states().remove(uuid, Some(&id), true);
                self.close_serial_console(uuid).await;
            }
            Err(e) => tracing::warn!(instance = %uuid, "inspecting after {action}: {e}"),
        }
    }
}
