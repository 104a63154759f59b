//! Destroy: the instance's container, VIFs, config drive and what a resize
//! left go. Idempotent: what is missing is already destroyed.

use super::Compute;
use crate::docker::naming;
use crate::error::Error;
use crate::model::VifEntry;

impl Compute {
    /// Idempotent: a missing container is already destroyed. The VIFs go
    /// too, whether or not the container was still there.
    pub async fn destroy(&self, uuid: &str, network_info: &[VifEntry]) -> Result<(), Error> {
        self.destroy_keeping(uuid, network_info, false).await
    }

    /// destroy; with `keep_resize`, a resize's set-aside container and image
    /// stay for the revert that follows.
    pub async fn destroy_keeping(
        &self,
        uuid: &str,
        network_info: &[VifEntry],
        keep_resize: bool,
    ) -> Result<(), Error> {
        // Unpluggable entries cannot have been plugged: skip them, keep the rest.
        let vifs = self.network().plan_pluggable(network_info);
        self.remove_container(uuid).await?;
        if !keep_resize {
            self.forget_resize(uuid).await;
            self.forget_config_drive(uuid).await;
        }
        self.network().unplug_instance(uuid, &vifs).await
    }

    /// Removes the container and closes its console; Nova asked for it, so no lifecycle event.
    pub(super) async fn remove_container(&self, uuid: &str) -> Result<(), Error> {
        // Delete, a failed spawn and a move's clean-up all end here.
        self.close_serial_console(uuid).await;
        let id = match self.inspect(uuid).await {
            Ok(c) => c.id,
            Err(Error::InstanceNotFound(_)) => None,
            Err(e) => return Err(e),
        };
        let removed = self
            .docker()
            .remove_container(&naming::container_name(uuid))
            .await
            .map_err(Error::from);
        self.states().remove(uuid, id.as_deref(), false);
        removed
    }
}
