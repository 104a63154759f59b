//! Start-up cleanup: VIFs whose instance has no container any more (the
//! service died between plugging and removing) are unplugged, so a crash
//! leaves no OVS port or veth behind.

use std::collections::HashSet;

use super::Compute;
use crate::docker::naming;
use crate::error::Error;

impl Compute {
    /// Returns the names of the ports removed.
    pub async fn remove_orphaned_vifs(&self) -> Result<Vec<String>, Error> {
        // Ports first: a container always exists before its ports are
        // plugged, so the later listing knows every port's instance.
        let ports = self.network().own_ports().await?;
        // Every container of an instance counts, a resize's set-aside one too.
        let known: HashSet<String> = self
            .labelled_containers()
            .await?
            .into_iter()
            .filter_map(|c| c.labels.get(naming::LABEL_UUID).cloned())
            .collect();
        let mut removed = Vec::new();
        for (port, vm) in ports {
            if !known.contains(&vm) {
                tracing::warn!(
                    port,
                    instance = vm,
                    "removing the VIF of an instance with no container"
                );
                self.network().unplug_one(&port).await;
                removed.push(port);
            }
        }
        Ok(removed)
    }
}
