//! Interfaces of a running instance: hot-plug (eth(N+1) appears or goes)
//! and nova-compute's start-up check that every VIF is plugged. The network
//! module decides how; this file finds the container's process.

use super::{Compute, running_process};
use crate::error::Error;
use crate::model::{AttachedInterface, VifEntry};

impl Compute {
    pub async fn attach_interface(
        &self,
        uuid: &str,
        vif: &VifEntry,
    ) -> Result<AttachedInterface, Error> {
        let c = self.inspect(uuid).await?;
        let target = running_process(&c).ok_or_else(|| {
            Error::InstanceInvalidState(format!(
                "instance {uuid} is not running: cannot attach an interface"
            ))
        })?;
        let plan = self.network().attach(uuid, &target, vif).await?;
        Ok(AttachedInterface {
            port_id: plan.port_id,
            ifname: plan.ifname,
            devname: plan.devname,
        })
    }

    /// Idempotent: a port that is not attached is already detached.
    pub async fn detach_interface(&self, uuid: &str, port_id: &str) -> Result<(), Error> {
        self.inspect(uuid).await?;
        self.network().detach(uuid, port_id).await
    }

    /// nova-compute's start-up check of a running instance: VIFs missing
    /// from the container are plugged, OVS ports missing for present ones
    /// are added again. A stopped instance is plugged when it starts.
    pub async fn ensure_plugged(
        &self,
        uuid: &str,
        network_info: &[VifEntry],
    ) -> Result<Vec<String>, Error> {
        let vifs = self.network().plan(network_info)?;
        let c = self.inspect(uuid).await?;
        let Some(target) = running_process(&c) else {
            return Ok(Vec::new());
        };
        self.network().ensure_plugged(uuid, &target, vifs).await
    }
}
