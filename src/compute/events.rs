//! Follows Docker's event stream for instance containers and keeps the
//! power-state map current. Whenever the stream (re)connects, the map is
//! rebuilt from a full listing first, so nothing missed while Docker was
//! away stays wrong.

use std::collections::HashMap;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use bollard::query_parameters::EventsOptions;
use futures_util::StreamExt;

use super::{Compute, tracked};
use crate::docker::{is_not_found, naming};

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
            let opts = EventsOptions {
                since: Some(since.to_string()),
                until: None,
                filters: Some(HashMap::from([
                    ("type".to_string(), vec!["container".to_string()]),
                    (
                        "label".to_string(),
                        vec![naming::LABEL_UUID.to_string(), self.host_label_filter()],
                    ),
                ])),
            };
            let mut stream = self.docker().events(Some(opts));
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

    async fn on_event(&self, ev: bollard::models::EventMessage) {
        let action = ev.action.unwrap_or_default();
        let Some(actor) = ev.actor else { return };
        let attrs = actor.attributes.unwrap_or_default();
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
            self.states().remove(uuid, actor.id.as_deref(), true);
            return;
        }
        if !ACTIONS.contains(&action.as_str()) {
            return;
        }
        let id = actor.id.unwrap_or_default();
        match self.docker().inspect_container(&id, None).await {
            Ok(c) => self.states().set(tracked(&c)),
            Err(e) if is_not_found(&e) => self.states().remove(uuid, Some(&id), true),
            Err(e) => tracing::warn!(instance = %uuid, "inspecting after {action}: {e}"),
        }
    }
}
