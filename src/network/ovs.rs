//! OVS ports through `ovs-vsctl`: there is no Rust OVSDB client, and this
//! is the tool Neutron's own agents and os-vif use.

use std::collections::HashMap;

use tokio::process::Command;

use super::error::NetworkError;
use super::vif::VifPlan;

#[derive(Debug, Clone)]
pub struct Ovs {
    /// `--db` for ovs-vsctl; None uses Open vSwitch's default socket.
    pub db: Option<String>,
    pub timeout_secs: u64,
    /// The Nova host whose service plugs the ports: written on each port
    /// (`external_ids:novadock-host`), so clean-ups touch only their own
    /// ports, never a VM's, another host's or another tool's on the bridge.
    pub owner: String,
    /// Plug new ports on the dead VLAN, for the OVS agent to wire
    /// (`[os_vif_ovs] isolate_vif`).
    pub isolate: bool,
}

/// Neutron's dead VLAN: the OVS agent drops its traffic and moves a port
/// off it once the port is wired (os-vif's DEAD_VLAN).
const DEAD_VLAN: u16 = 4095;

impl Ovs {
    async fn vsctl(&self, args: &[String]) -> Result<String, NetworkError> {
        let mut cmd = Command::new("ovs-vsctl");
        if let Some(db) = &self.db {
            cmd.arg(format!("--db={db}"));
        }
        cmd.arg(format!("--timeout={}", self.timeout_secs))
            .args(args);
        let out = cmd
            .output()
            .await
            .map_err(|e| NetworkError::Ovs(format!("cannot run ovs-vsctl: {e}")))?;
        if out.status.success() {
            Ok(String::from_utf8_lossy(&out.stdout).into_owned())
        } else {
            Err(NetworkError::Ovs(format!(
                "ovs-vsctl {} failed: {}",
                args.join(" "),
                String::from_utf8_lossy(&out.stderr).trim()
            )))
        }
    }

    /// Adds the VIF's host end to its bridge with the external_ids that
    /// Neutron's OVS agent looks for, replacing an earlier port of that name.
    pub async fn add_port(&self, vif: &VifPlan, instance_uuid: &str) -> Result<(), NetworkError> {
        let dev = &vif.devname;
        // A port left from the previous start names a device that died with
        // that namespace. It goes in a transaction of its own: deleted and
        // re-added in one, the datapath would keep its handle on the dead device.
        self.del_port(dev).await?;
        let mut args: Vec<String> = vec![
            "--".into(),
            "add-port".into(),
            vif.bridge.clone(),
            dev.clone(),
        ];
        if self.isolate {
            // Every port this adds is a new device (see above), never one
            // the agent has wired already, so it always starts isolated.
            args.push(format!("tag={DEAD_VLAN}"));
        }
        args.extend([
            "--".into(),
            "set".into(),
            "Interface".into(),
            dev.clone(),
            format!("external_ids:iface-id={}", vif.iface_id),
            "external_ids:iface-status=active".into(),
            format!("external_ids:attached-mac={}", vif.mac_text),
            format!("external_ids:vm-uuid={instance_uuid}"),
            format!("external_ids:novadock-host={}", self.owner),
        ]);
        if let Some(mtu) = vif.mtu {
            args.push(format!("mtu_request={mtu}"));
        }
        self.vsctl(&args).await.map(|_| ())
    }

    pub async fn del_port(&self, devname: &str) -> Result<(), NetworkError> {
        self.vsctl(&[
            "--".into(),
            "--if-exists".into(),
            "del-port".into(),
            devname.to_string(),
        ])
        .await
        .map(|_| ())
    }

    /// `external_ids:novadock-host="<owner>"`: the condition that keeps a
    /// search to this host's own ports (on a switch several hosts share, an
    /// evacuated instance has a port of each).
    fn owned(&self) -> String {
        format!(
            "external_ids:novadock-host=\"{}\"",
            self.owner.replace(['"', '\\'], "")
        )
    }

    /// Names of this host's OVS interfaces of the instance: OVS itself
    /// remembers them, so cleanup needs nothing else.
    pub async fn instance_ports(&self, instance_uuid: &str) -> Result<Vec<String>, NetworkError> {
        self.find_all(&[
            format!("external_ids:vm-uuid={instance_uuid}"),
            self.owned(),
        ])
        .await
    }

    /// Whether an interface of this name is another host's port (the name is
    /// Nova's, the same for an instance on every host).
    pub async fn is_foreign_port(&self, name: &str) -> Result<bool, NetworkError> {
        let found = self
            .interfaces_with_ids(&[format!("name={}", name.replace(['"', '\\'], ""))])
            .await?;
        Ok(found
            .iter()
            .any(|(_, ids)| ids.get("novadock-host").is_some_and(|h| *h != self.owner)))
    }

    /// `ovs-vsctl find Interface CONDITION...` (all of them), `columns` as
    /// bare CSV lines.
    async fn find_columns(
        &self,
        columns: &str,
        conditions: &[String],
    ) -> Result<String, NetworkError> {
        let mut args: Vec<String> = vec![
            "--format=csv".into(),
            "--data=bare".into(),
            "--no-headings".into(),
            format!("--columns={columns}"),
            "find".into(),
            "Interface".into(),
        ];
        args.extend(conditions.iter().cloned());
        self.vsctl(&args).await
    }

    pub async fn find(&self, condition: &str) -> Result<Vec<String>, NetworkError> {
        self.find_all(&[condition.to_string()]).await
    }

    async fn find_all(&self, conditions: &[String]) -> Result<Vec<String>, NetworkError> {
        let out = self.find_columns("name", conditions).await?;
        Ok(out
            .lines()
            .map(|l| l.trim().trim_matches('"').to_string())
            .filter(|l| !l.is_empty())
            .collect())
    }

    /// OVS interfaces matching `condition`, each with its external_ids.
    async fn interfaces_with_ids(
        &self,
        conditions: &[String],
    ) -> Result<Vec<(String, HashMap<String, String>)>, NetworkError> {
        let out = self.find_columns("name,external_ids", conditions).await?;
        Ok(out
            .lines()
            .filter_map(|line| {
                let (name, ids) = line.split_once(',')?;
                let ids = ids
                    .trim_matches('"')
                    .split_whitespace()
                    .filter_map(|kv| kv.split_once('='))
                    .map(|(k, v)| (k.to_string(), v.trim_matches('"').to_string()))
                    .collect();
                Some((name.trim_matches('"').to_string(), ids))
            })
            .collect())
    }

    /// Every OVS interface that names an instance: (name, vm-uuid).
    /// This host's ports and their instances.
    pub async fn own_ports_with_vm_uuid(&self) -> Result<Vec<(String, String)>, NetworkError> {
        let found = self.interfaces_with_ids(&[self.owned()]).await?;
        Ok(found
            .into_iter()
            .filter_map(|(name, mut ids)| Some((name, ids.remove("vm-uuid")?)))
            .collect())
    }

    /// This host's OVS interfaces of the instance with the MAC each carries:
    /// (name, mac).
    pub async fn instance_port_macs(
        &self,
        instance_uuid: &str,
    ) -> Result<Vec<(String, String)>, NetworkError> {
        let found = self
            .interfaces_with_ids(&[
                format!("external_ids:vm-uuid={instance_uuid}"),
                self.owned(),
            ])
            .await?;
        Ok(found
            .into_iter()
            .filter_map(|(name, mut ids)| Some((name, ids.remove("attached-mac")?)))
            .collect())
    }
}
