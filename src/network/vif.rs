//! Nova's network_info, VIF by VIF as the request model read it
//! (src/model.rs `VifEntry`), turned into what gets plugged: names, MAC,
//! addresses, routes, MTU and DNS, checked before anything is touched.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use super::error::NetworkError;
use crate::model::{VifEntry, VifIp, VifNetwork};

/// One VIF, ready to plug.
#[derive(Debug, Clone, PartialEq)]
pub struct VifPlan {
    pub port_id: String,
    /// Host end of the veth pair and name of the OVS port.
    pub devname: String,
    /// Name inside the container: eth1, eth2, ...
    pub ifname: String,
    pub bridge: String,
    pub iface_id: String,
    pub mac: [u8; 6],
    pub mac_text: String,
    pub mtu: Option<u32>,
    pub addresses: Vec<(IpAddr, u8)>,
    /// Host routes: destination, prefix, gateway.
    pub routes: Vec<(IpAddr, u8, IpAddr)>,
    pub gateway4: Option<Ipv4Addr>,
    pub gateway6: Option<Ipv6Addr>,
    pub dns: Vec<IpAddr>,
}

fn bad(port: &str, what: impl std::fmt::Display) -> NetworkError {
    NetworkError::InvalidVif(format!("VIF {port}: {what}"))
}

pub fn parse_mac(text: &str) -> Option<[u8; 6]> {
    let parts: Vec<u8> = text
        .split(':')
        .map(|p| u8::from_str_radix(p, 16))
        .collect::<Result<_, _>>()
        .ok()?;
    parts.try_into().ok()
}

fn parse_cidr(text: &str) -> Option<(IpAddr, u8)> {
    let (ip, prefix) = text.split_once('/')?;
    let ip: IpAddr = ip.parse().ok()?;
    let prefix: u8 = prefix.parse().ok()?;
    let max = if ip.is_ipv4() { 32 } else { 128 };
    (prefix <= max).then_some((ip, prefix))
}

fn parse_ip(port: &str, address: Option<&str>) -> Result<Option<IpAddr>, NetworkError> {
    match address {
        None | Some("") => Ok(None),
        Some(a) => a
            .parse()
            .map(Some)
            .map_err(|_| bad(port, format!("{a:?} is not an IP address"))),
    }
}

/// A gateway's address; a null gateway or address is none.
fn address(ip: Option<&VifIp>) -> Option<&str> {
    ip.and_then(|i| i.address.as_deref())
}

/// The VIF's interface name in the container, counting from eth1.
pub fn ifname(index: usize) -> String {
    format!("eth{}", index + 1)
}

/// Checks one VIF of network_info; `index` 0 becomes eth1.
pub fn plan(entry: &VifEntry, index: usize, default_bridge: &str) -> Result<VifPlan, NetworkError> {
    let vif = match entry {
        VifEntry::Vif(vif) => vif,
        VifEntry::Unreadable { reason, .. } => {
            return Err(NetworkError::InvalidVif(format!(
                "network_info[{index}] is not a VIF: {reason}"
            )));
        }
    };
    let port = vif.id.clone();
    let vif_type = vif.vif_type.as_deref().unwrap_or("unbound");
    if vif_type != "ovs" {
        return Err(NetworkError::InvalidVif(format!(
            "VIF {port} has type {vif_type:?}: novadock plugs only Open vSwitch VIFs (type \"ovs\"); \
             check that Neutron bound the port to this host with the openvswitch mechanism driver"
        )));
    }
    // iptables_hybrid filters on a Linux bridge per port between the tap
    // and br-int; a container's port is plugged straight into br-int, where
    // that firewall would filter nothing: refused rather than left open.
    if vif.details.ovs_hybrid_plug == Some(true) {
        return Err(NetworkError::InvalidVif(format!(
            "VIF {port} asks for hybrid plugging (ovs_hybrid_plug, Neutron's iptables_hybrid \
             firewall): novadock plugs containers straight into the integration bridge, where \
             that firewall filters nothing; set [securitygroup] firewall_driver = openvswitch \
             for the Open vSwitch agent"
        )));
    }
    let mac_text = vif
        .address
        .clone()
        .ok_or_else(|| bad(&port, "no MAC address"))?;
    let mac = parse_mac(&mac_text)
        .ok_or_else(|| bad(&port, format!("{mac_text:?} is not a MAC address")))?;
    // Nova names the host end tap + the first 11 characters of the port id.
    let devname = vif
        .devname
        .clone()
        .filter(|d| !d.is_empty())
        .unwrap_or_else(|| format!("tap{}", port.chars().take(11).collect::<String>()));
    // The host link of this name is deleted and recreated: only a tap name
    // (Nova's `tap` + port id prefix), never eth0, br-int or another link.
    let tap = devname.strip_prefix("tap").is_some_and(|rest| {
        !rest.is_empty() && rest.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')
    });
    if !tap || devname.len() > 14 {
        return Err(bad(
            &port,
            format!("devname {devname:?} is not a tap interface name (tap + port id)"),
        ));
    }
    let no_network = VifNetwork::default();
    let network = vif.network.as_ref().unwrap_or(&no_network);
    let bridge = network
        .bridge
        .clone()
        .filter(|b| !b.is_empty())
        .unwrap_or_else(|| default_bridge.to_string());
    let mut plan = VifPlan {
        port_id: port.clone(),
        devname,
        ifname: ifname(index),
        bridge,
        iface_id: vif.ovs_interfaceid.clone().unwrap_or_else(|| port.clone()),
        mac,
        mac_text: mac_text.to_lowercase(),
        mtu: network.meta.mtu.filter(|m| *m > 0),
        addresses: Vec::new(),
        routes: Vec::new(),
        gateway4: None,
        gateway6: None,
        dns: Vec::new(),
    };
    for subnet in &network.subnets {
        let Some(cidr) = subnet.cidr.as_deref() else {
            continue;
        };
        let (_, prefix) =
            parse_cidr(cidr).ok_or_else(|| bad(&port, format!("subnet {cidr:?} is not a CIDR")))?;
        for ip in &subnet.ips {
            if let Some(addr) = parse_ip(&port, ip.address.as_deref())? {
                plan.addresses.push((addr, prefix));
            }
        }
        match parse_ip(&port, address(subnet.gateway.as_ref()))? {
            Some(IpAddr::V4(g)) if plan.gateway4.is_none() => plan.gateway4 = Some(g),
            Some(IpAddr::V6(g)) if plan.gateway6.is_none() => plan.gateway6 = Some(g),
            _ => {}
        }
        for r in &subnet.routes {
            let Some(rc) = r.cidr.as_deref() else {
                continue;
            };
            let (dest, rp) =
                parse_cidr(rc).ok_or_else(|| bad(&port, format!("route {rc:?} is not a CIDR")))?;
            if let Some(gw) = parse_ip(&port, address(r.gateway.as_ref()))? {
                plan.routes.push((dest, rp, gw));
            }
        }
        for d in &subnet.dns {
            if let Some(a) = parse_ip(&port, d.address.as_deref())?
                && !plan.dns.contains(&a)
            {
                plan.dns.push(a);
            }
        }
    }
    Ok(plan)
}

/// Every VIF of network_info, in order.
pub fn plan_all(
    network_info: &[VifEntry],
    default_bridge: &str,
) -> Result<Vec<VifPlan>, NetworkError> {
    network_info
        .iter()
        .enumerate()
        .map(|(i, v)| plan(v, i, default_bridge))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    /// The request edge's reading of a VIF's JSON, then the plan.
    fn plan(v: &serde_json::Value, index: usize, bridge: &str) -> Result<VifPlan, NetworkError> {
        super::plan(&VifEntry::from(v.clone()), index, bridge)
    }

    pub fn vif() -> serde_json::Value {
        json!({
            "id": "0d2f4e5a-1111-2222-3333-444455556666",
            "address": "FA:16:3E:00:00:01",
            "type": "ovs",
            "devname": "tap0d2f4e5a-11",
            "ovs_interfaceid": "0d2f4e5a-1111-2222-3333-444455556666",
            "active": false,
            "details": {"port_filter": true},
            "network": {
                "id": "net", "bridge": "br-int", "label": "private",
                "meta": {"mtu": 1450},
                "subnets": [
                    {"cidr": "198.18.1.0/24", "version": 4,
                     "gateway": {"address": "198.18.1.1", "type": "gateway"},
                     "ips": [{"address": "198.18.1.10", "type": "fixed"}, {"address": "198.18.1.11"}],
                     "routes": [{"cidr": "198.19.0.0/16", "gateway": {"address": "198.18.1.254"}}],
                     "dns": [{"address": "198.18.1.2"}]},
                    {"cidr": "2001:db8::/64", "version": 6,
                     "gateway": {"address": "2001:db8::1"},
                     "ips": [{"address": "2001:db8::10"}], "routes": [], "dns": []}
                ]
            }
        })
    }

    #[test]
    fn an_ovs_vif_becomes_a_plan() {
        let p = plan(&vif(), 0, "br-x").expect("valid");
        assert_eq!(p.ifname, "eth1");
        assert_eq!(p.devname, "tap0d2f4e5a-11");
        assert_eq!(p.bridge, "br-int");
        assert_eq!(p.mac, [0xfa, 0x16, 0x3e, 0, 0, 1]);
        assert_eq!(p.mac_text, "fa:16:3e:00:00:01");
        assert_eq!(p.mtu, Some(1450));
        assert_eq!(p.addresses.len(), 3);
        assert_eq!(p.addresses[0], ("198.18.1.10".parse().expect("ip"), 24));
        assert_eq!(p.addresses[2], ("2001:db8::10".parse().expect("ip"), 64));
        assert_eq!(p.gateway4, Some("198.18.1.1".parse().expect("ip")));
        assert_eq!(p.gateway6, Some("2001:db8::1".parse().expect("ip")));
        assert_eq!(
            p.routes,
            vec![(
                "198.19.0.0".parse().expect("ip"),
                16,
                "198.18.1.254".parse().expect("ip")
            )]
        );
        assert_eq!(p.dns, vec!["198.18.1.2".parse::<IpAddr>().expect("ip")]);
        assert_eq!(plan(&vif(), 1, "br-x").expect("valid").ifname, "eth2");
    }

    #[test]
    fn defaults_follow_nova() {
        let mut v = vif();
        v["devname"] = serde_json::Value::Null;
        v["ovs_interfaceid"] = serde_json::Value::Null;
        v["network"]["bridge"] = serde_json::Value::Null;
        v["network"]["subnets"][0]["gateway"]["address"] = serde_json::Value::Null;
        let p = plan(&v, 0, "br-fallback").expect("valid");
        assert_eq!(p.devname, "tap0d2f4e5a-11");
        assert_eq!(p.iface_id, "0d2f4e5a-1111-2222-3333-444455556666");
        assert_eq!(p.bridge, "br-fallback");
        assert_eq!(p.gateway4, None);
    }

    #[test]
    fn unpluggable_vifs_are_refused_with_the_reason() {
        let mut v = vif();
        v["type"] = "bridge".into();
        let e = plan(&v, 0, "br-int").expect_err("bridge VIFs are gone from Nova");
        assert!(e.to_string().contains("type \"bridge\""), "{e}");
        let mut v = vif();
        v["details"]["ovs_hybrid_plug"] = true.into();
        let e = plan(&v, 0, "br-int").expect_err("iptables_hybrid filters nothing here");
        assert!(
            e.to_string().contains("firewall_driver = openvswitch"),
            "{e}"
        );
        let mut v = vif();
        v["details"]["ovs_hybrid_plug"] = false.into();
        assert!(plan(&v, 0, "br-int").is_ok());
        let mut v = vif();
        v["address"] = "not-a-mac".into();
        assert!(plan(&v, 0, "br-int").is_err());
        let mut v = vif();
        v["network"]["subnets"][0]["ips"][0]["address"] = "198.18.1.300".into();
        assert!(plan(&v, 0, "br-int").is_err());
        let mut v = vif();
        v["devname"] = "much-too-long-devname".into();
        assert!(plan(&v, 0, "br-int").is_err());
        // Links the service would delete and recreate: never the host's own.
        for name in [
            "eth0",
            "br-int",
            "docker0",
            "tap",
            "tap/../x",
            "tap0d2f4e5a-111",
        ] {
            let mut v = vif();
            v["devname"] = name.into();
            assert!(plan(&v, 0, "br-int").is_err(), "{name}");
        }
    }
}
