//! VIF plugging: a veth pair per Nova VIF, its host end an OVS port that
//! Neutron's agent recognises, its container end eth1, eth2, ... with the
//! port's MAC, addresses, routes and MTU.

pub mod error;
pub mod netlink;
pub mod offload;
pub mod ovs;
pub mod resolv;
pub mod vif;

use ovs::Ovs;
use vif::VifPlan;

use crate::error::Error;
pub use error::NetworkError;

#[derive(Debug, Clone)]
pub struct Network {
    pub ovs: Ovs,
    pub default_bridge: String,
    /// Whether Nova's gateways replace Docker's default route.
    pub nova_default_route: bool,
}

impl Network {
    pub fn plan(&self, network_info: &[serde_json::Value]) -> Result<Vec<VifPlan>, Error> {
        Ok(vif::plan_all(network_info, &self.default_bridge)?)
    }

    /// Plugs every VIF into the running container `pid`; on failure nothing
    /// of these VIFs is left on the host, and the failure is VifPlugFailed.
    pub async fn plug(&self, instance_uuid: &str, pid: u32, vifs: &[VifPlan]) -> Result<(), Error> {
        if vifs.is_empty() {
            return Ok(());
        }
        let result = self
            .plug_inner(instance_uuid, pid, vifs)
            .await
            .map_err(|e| Error::VifPlugFailed(format!("instance {instance_uuid}: {e}")));
        if result.is_err() {
            for v in vifs {
                self.unplug_one(&v.devname).await;
            }
        }
        result
    }

    async fn plug_inner(
        &self,
        instance_uuid: &str,
        pid: u32,
        vifs: &[VifPlan],
    ) -> Result<(), NetworkError> {
        netlink::plug(pid, vifs.to_vec(), self.nova_default_route).await?;
        for v in vifs {
            self.ovs.add_port(v, instance_uuid).await?;
        }
        Ok(())
    }

    /// Removes a host end and its OVS port, logging what fails: cleanup goes on.
    pub async fn unplug_one(&self, devname: &str) {
        if let Err(e) = self.ovs.del_port(devname).await {
            tracing::warn!(devname, "removing OVS port: {e}");
        }
        if let Err(e) = netlink::delete_host_link(devname).await {
            tracing::warn!(devname, "removing host link: {e}");
        }
    }

    /// Everything plugged for the instance, found through OVS's record of it
    /// and the VIFs Nova names.
    pub async fn unplug_instance(
        &self,
        instance_uuid: &str,
        vifs: &[VifPlan],
    ) -> Result<(), Error> {
        // Cleanup goes on without Open vSwitch (a host with no Neutron VIFs
        // may run none): the VIFs Nova names still leave the host.
        let mut names = match self.ovs.instance_ports(instance_uuid).await {
            Ok(n) => n,
            Err(e) => {
                tracing::warn!(
                    instance = instance_uuid,
                    "cannot ask OVS for the instance's ports: {e}"
                );
                Vec::new()
            }
        };
        for v in vifs {
            if !names.contains(&v.devname) {
                names.push(v.devname.clone());
            }
        }
        for n in names {
            self.unplug_one(&n).await;
        }
        Ok(())
    }
}
