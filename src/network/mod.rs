//! VIF plugging: a veth pair per Nova VIF, its host end an OVS port that
//! Neutron's agent recognises, its container end eth1, eth2, ... with the
//! port's MAC, addresses, routes and MTU. `Network` is the one door: the
//! compute layer plans, plugs (at start, hot, or what is missing), and
//! unplugs only through it; the ethN choice, the duplicate check, the DNS
//! servers and the rollback are decided here.

pub mod error;
pub mod netlink;
pub mod offload;
pub mod ovs;
pub mod resolv;
pub mod vif;

use std::path::Path;

pub use netlink::ContainerProcess;
use ovs::Ovs;
use vif::VifPlan;

use crate::error::Error;
use crate::model::VifEntry;
pub use error::NetworkError;

#[derive(Debug, Clone)]
pub struct Network {
    ovs: Ovs,
    default_bridge: String,
    /// Whether Nova's gateways replace Docker's default route.
    nova_default_route: bool,
}

impl Network {
    /// `default_bridge`: the OVS bridge of a VIF that names none.
    pub fn new(ovs: Ovs, default_bridge: String, nova_default_route: bool) -> Network {
        Network {
            ovs,
            default_bridge,
            nova_default_route,
        }
    }

    /// The instance's OVS ports on this host with the MAC each carries.
    pub async fn port_macs(&self, instance_uuid: &str) -> Result<Vec<(String, String)>, Error> {
        Ok(self.ovs.instance_port_macs(instance_uuid).await?)
    }

    /// This host's OVS ports that name an instance: (port, instance uuid).
    pub async fn own_ports(&self) -> Result<Vec<(String, String)>, Error> {
        Ok(self.ovs.own_ports_with_vm_uuid().await?)
    }

    /// Every VIF of network_info checked, in order; nothing is touched.
    pub fn plan(&self, network_info: &[VifEntry]) -> Result<Vec<VifPlan>, Error> {
        Ok(vif::plan_all(network_info, &self.default_bridge)?)
    }

    /// The VIFs of network_info that could have been plugged: an entry that
    /// cannot be planned never was, so unplugging skips it and goes on.
    pub fn plan_pluggable(&self, network_info: &[VifEntry]) -> Vec<VifPlan> {
        network_info
            .iter()
            .enumerate()
            .filter_map(|(i, v)| vif::plan(v, i, &self.default_bridge).ok())
            .collect()
    }

    /// A starting container's VIFs: plugged (see `plug`), then their DNS
    /// servers written into `resolv_conf`, the host file Docker bind-mounts
    /// as the container's resolv.conf.
    pub async fn plug_at_start(
        &self,
        instance_uuid: &str,
        target: &ContainerProcess,
        resolv_conf: Option<&Path>,
        vifs: &[VifPlan],
    ) -> Result<(), Error> {
        self.plug(instance_uuid, target, vifs).await?;
        let dns: Vec<_> = vifs.iter().flat_map(|v| v.dns.iter().copied()).collect();
        if let Some(path) = resolv_conf {
            resolv::set_nameservers(path, &dns)?;
        }
        Ok(())
    }

    /// Hot-plugs one VIF into the running container `target` as the next ethN
    /// after the ones it has. A port whose OVS port and host link are both
    /// there is already attached, and refused.
    pub async fn attach(
        &self,
        instance_uuid: &str,
        target: &ContainerProcess,
        vif: &VifEntry,
    ) -> Result<VifPlan, Error> {
        let taken = netlink::container_links(target).await?;
        let next = taken
            .iter()
            .filter_map(|n| n.strip_prefix("eth")?.parse::<usize>().ok())
            .max()
            .unwrap_or(0);
        let plan = vif::plan(vif, next, &self.default_bridge)?;
        if self
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
        let mut network = self.clone();
        network.nova_default_route = false;
        network
            .plug(instance_uuid, target, std::slice::from_ref(&plan))
            .await?;
        Ok(plan)
    }

    /// Unplugs the instance's VIF of Neutron port `port_id`; one that is not
    /// attached is already detached.
    pub async fn detach(&self, instance_uuid: &str, port_id: &str) -> Result<(), Error> {
        let mine = self.ovs.instance_ports(instance_uuid).await?;
        for name in self
            .ovs
            .find(&format!("external_ids:iface-id={port_id}"))
            .await?
        {
            if mine.contains(&name) {
                self.unplug_one(&name).await;
            }
        }
        Ok(())
    }

    /// Gives the running container `target` what it lacks of `vifs`: a missing
    /// ethN is plugged, a missing OVS port of a present host link is added
    /// again. Returns the names of the interfaces plugged.
    pub async fn ensure_plugged(
        &self,
        instance_uuid: &str,
        target: &ContainerProcess,
        vifs: Vec<VifPlan>,
    ) -> Result<Vec<String>, Error> {
        let present = netlink::container_links(target).await?;
        let ports = self.ovs.instance_ports(instance_uuid).await?;
        let mut missing = Vec::new();
        for v in vifs {
            if !present.contains(&v.ifname) {
                missing.push(v);
            } else if !ports.contains(&v.devname) && netlink::host_link_exists(&v.devname).await? {
                self.ovs.add_port(&v, instance_uuid).await?;
            }
        }
        let names = missing.iter().map(|v| v.ifname.clone()).collect();
        if !missing.is_empty() {
            tracing::warn!(
                instance = instance_uuid,
                ?names,
                "plugging VIFs the running container lacks"
            );
            self.plug(instance_uuid, target, &missing).await?;
        }
        Ok(names)
    }

    /// Removes this host's ports of an instance that left it (a migration's
    /// confirm on the source).
    pub async fn unplug_moved_away(&self, instance_uuid: &str) -> Result<(), Error> {
        for (port, vm) in self.ovs.own_ports_with_vm_uuid().await? {
            if vm == instance_uuid {
                self.unplug_one(&port).await;
            }
        }
        Ok(())
    }

    /// Plugs every VIF into the running container `target`; on failure nothing
    /// of these VIFs is left on the host, and the failure is VifPlugFailed.
    pub async fn plug(
        &self,
        instance_uuid: &str,
        target: &ContainerProcess,
        vifs: &[VifPlan],
    ) -> Result<(), Error> {
        if vifs.is_empty() {
            return Ok(());
        }
        let result = self
            .plug_inner(instance_uuid, target, vifs)
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
        target: &ContainerProcess,
        vifs: &[VifPlan],
    ) -> Result<(), NetworkError> {
        netlink::plug(target, vifs.to_vec(), self.nova_default_route).await?;
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
        let (mut names, ovs_answers) = match self.ovs.instance_ports(instance_uuid).await {
            Ok(n) => (n, true),
            Err(e) => {
                tracing::warn!(
                    instance = instance_uuid,
                    "cannot ask OVS for the instance's ports: {e}"
                );
                (Vec::new(), false)
            }
        };
        for v in vifs {
            // A name another host's port holds is that host's link (an
            // instance evacuated onto it, both hosts on one switch).
            if names.contains(&v.devname)
                || (ovs_answers && self.ovs.is_foreign_port(&v.devname).await.unwrap_or(false))
            {
                continue;
            }
            names.push(v.devname.clone());
        }
        for n in names {
            self.unplug_one(&n).await;
        }
        Ok(())
    }
}
