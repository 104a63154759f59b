//! Interface hot-plug on a running instance: eth(N+1) appears or goes.

use super::{Compute, running_pid};
use crate::error::Error;
use crate::model::AttachedInterface;
use crate::network::{netlink, vif};

impl Compute {
    pub async fn attach_interface(
        &self,
        uuid: &str,
        vif_json: &serde_json::Value,
    ) -> Result<AttachedInterface, Error> {
        let c = self.inspect(uuid).await?;
        let pid = running_pid(&c).ok_or_else(|| {
            Error::InstanceInvalidState(format!(
                "instance {uuid} is not running: cannot attach an interface"
            ))
        })?;
        // The next free ethN after the ones the container has.
        let taken = netlink::container_links(pid).await?;
        let next = taken
            .iter()
            .filter_map(|n| n.strip_prefix("eth")?.parse::<usize>().ok())
            .max()
            .unwrap_or(0);
        let plan = vif::plan(vif_json, next, &self.network().default_bridge)?;
        if self
            .network()
            .ovs
            .find(&format!("external_ids:iface-id={}", plan.iface_id))
            .await?
            .contains(&plan.devname)
            && netlink::host_link_exists(&plan.devname).await?
        {
            return Err(Error::InvalidInput(format!(
                "port {} is already attached as {}",
                plan.port_id, plan.devname
            )));
        }
        // A hot-plugged VIF never takes over the default route.
        let mut network = self.network().clone();
        network.nova_default_route = false;
        network.plug(uuid, pid, std::slice::from_ref(&plan)).await?;
        Ok(AttachedInterface {
            port_id: plan.port_id,
            ifname: plan.ifname,
            devname: plan.devname,
        })
    }

    /// Idempotent: a port that is not attached is already detached.
    pub async fn detach_interface(&self, uuid: &str, port_id: &str) -> Result<(), Error> {
        self.inspect(uuid).await?;
        let ovs = &self.network().ovs;
        let mine = ovs.instance_ports(uuid).await?;
        for name in ovs
            .find(&format!("external_ids:iface-id={port_id}"))
            .await?
        {
            if mine.contains(&name) {
                self.network().unplug_one(&name).await;
            }
        }
        Ok(())
    }
}

impl Compute {
    /// nova-compute's start-up check of a running instance: VIFs missing
    /// from the container are plugged, OVS ports missing for present ones
    /// are added again. A stopped instance is plugged when it starts.
    pub async fn ensure_plugged(
        &self,
        uuid: &str,
        network_info: &[serde_json::Value],
    ) -> Result<Vec<String>, Error> {
        let vifs = self.network().plan(network_info)?;
        let c = self.inspect(uuid).await?;
        let Some(pid) = running_pid(&c) else {
            return Ok(Vec::new());
        };
        let present = netlink::container_links(pid).await?;
        let ports = self.network().ovs.instance_ports(uuid).await?;
        let mut missing = Vec::new();
        for v in vifs {
            if !present.contains(&v.ifname) {
                missing.push(v);
            } else if !ports.contains(&v.devname) && netlink::host_link_exists(&v.devname).await? {
                self.network().ovs.add_port(&v, uuid).await?;
            }
        }
        let names = missing.iter().map(|v| v.ifname.clone()).collect();
        if !missing.is_empty() {
            tracing::warn!(
                instance = uuid,
                ?names,
                "plugging VIFs the running container lacks"
            );
            self.network().plug(uuid, pid, &missing).await?;
        }
        Ok(names)
    }
}
