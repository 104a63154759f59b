//! What the engine can enforce for tenants, read from `docker info`: a limit
//! on each container's writable layer (the flavor's root disk) and
//! user-namespace remapping (container root is not host root); and whether
//! containers outlive a dockerd restart. And, from the Docker network that
//! gives containers their eth0, whether it keeps projects apart.

use bollard::models::{NetworkInspect, SystemInfo};

#[derive(Debug, Clone, PartialEq)]
pub struct EngineFeatures {
    /// Why per-container disk limits can (Ok) or cannot (Err) be set.
    pub disk_limits: Result<String, String>,
    /// Whether dockerd remaps container users (`--userns-remap`).
    pub userns_remap: bool,
    /// The host gid of a container's root: 0 without remapping; with it,
    /// the subordinate gid dockerd names its data root after
    /// (`<root>/<uid>.<gid>`), or an error when that cannot be told.
    pub container_root_gid: Result<u32, String>,
    /// Whether containers keep running while dockerd restarts (`live-restore`).
    pub live_restore: bool,
    /// Whether eth0's Docker network keeps containers apart (Ok) or lets
    /// every project's containers reach each other (Err), and why.
    pub eth0: Result<String, String>,
    /// The host device of eth0's Docker bridge (`docker0`), and whether
    /// that network has IPv6: what the host's firewall must cover.
    pub eth0_bridge: Option<(String, bool)>,
}

/// The host device of a bridge network, with whether it has IPv6: its
/// `com.docker.network.bridge.name` option (`docker0` for Docker's default
/// bridge), else `br-` and the id's first 12 characters, as dockerd names
/// it.
pub fn bridge_device(net: &NetworkInspect) -> Option<(String, bool)> {
    if net.driver.as_deref() != Some("bridge") {
        return None;
    }
    let name = net
        .options
        .as_ref()
        .and_then(|o| o.get("com.docker.network.bridge.name"))
        .cloned()
        .or_else(|| Some(format!("br-{}", net.id.as_deref()?.get(..12)?)))?;
    Some((name, net.enable_ipv6 == Some(true)))
}

/// Whether the Docker network `name` (`[novadock] docker_network`) keeps
/// containers apart; `network` is its inspection (None for "none").
pub fn eth0_isolation(name: &str, network: Option<&NetworkInspect>) -> Result<String, String> {
    let Some(net) = network else {
        return Ok(format!("containers get no eth0 (docker_network = {name})"));
    };
    match net.driver.as_deref().unwrap_or_default() {
        "bridge" => {
            // Docker's bridges let containers talk unless told otherwise.
            let icc = net
                .options
                .as_ref()
                .and_then(|o| o.get("com.docker.network.bridge.enable_icc"))
                .is_none_or(|v| v != "false");
            if icc {
                Err(format!(
                    "the Docker network {name} lets containers reach each other: every \
                     project's containers meet on eth0, past their security groups (run dockerd \
                     with --icc=false, \"icc\": false in /etc/docker/daemon.json, or set \
                     [novadock] docker_network to a bridge created with \
                     -o com.docker.network.bridge.enable_icc=false)"
                ))
            } else {
                Ok(format!(
                    "eth0 ({name}) keeps containers apart (inter-container traffic off)"
                ))
            }
        }
        "host" => Err(format!(
            "the Docker network {name} puts containers in the host's network namespace"
        )),
        driver => Err(format!(
            "eth0 is on the {driver} network {name}: whether it keeps containers apart is not \
             known (a bridge with inter-container traffic off does)"
        )),
    }
}

/// The remapped root's gid from dockerd's data root under `--userns-remap`,
/// which dockerd names `<data-root>/<uid>.<gid>` (daemon/daemon_unix.go).
fn remapped_root_gid(root_dir: &str) -> Result<u32, String> {
    std::path::Path::new(root_dir)
        .file_name()
        .and_then(|n| n.to_str())
        .and_then(|n| n.split_once('.'))
        .and_then(|(uid, gid)| Some((uid.parse::<u32>().ok()?, gid.parse::<u32>().ok()?)))
        .map(|(_, gid)| gid)
        .ok_or_else(|| {
            format!(
                "cannot tell the remapped root's gid from dockerd's data root {root_dir:?} \
                 (expected <root>/<uid>.<gid> under userns-remap)"
            )
        })
}

impl EngineFeatures {
    /// What a tenant's container cannot do here, said plainly: (holds, text)
    /// for `novadock check` and the service's start-up log alike.
    pub fn report(&self) -> Vec<(bool, String)> {
        let disk = match &self.disk_limits {
            Ok(how) => (
                true,
                format!("flavors' root_gb is enforced per container ({how})"),
            ),
            Err(why) => (false, why.clone()),
        };
        let userns = if self.userns_remap {
            (
                true,
                "containers run in remapped user namespaces".to_string(),
            )
        } else {
            (
                false,
                "user-namespace remapping is off: a container's root is the host's root \
                 (set \"userns-remap\": \"default\" in /etc/docker/daemon.json)"
                    .to_string(),
            )
        };
        let eth0 = match &self.eth0 {
            Ok(how) => (true, how.clone()),
            Err(why) => (false, why.clone()),
        };
        vec![disk, userns, eth0]
    }

    /// The features of `docker info`, with eth0's isolation as found.
    pub fn of(info: &SystemInfo, eth0: Result<String, String>) -> EngineFeatures {
        let driver = info.driver.clone().unwrap_or_default();
        let backing = info
            .driver_status
            .iter()
            .flatten()
            .find(|kv| kv.first().map(String::as_str) == Some("Backing Filesystem"))
            .and_then(|kv| kv.get(1).cloned())
            .unwrap_or_default();
        let disk_limits = match (driver.as_str(), backing.as_str()) {
            ("btrfs", _) => Ok("btrfs quota groups".to_string()),
            ("zfs", _) => Ok("zfs quotas".to_string()),
            // Docker refuses the option at create unless mounted with pquota.
            ("overlay2", "xfs") => {
                Ok("overlay2 on xfs project quotas (needs the pquota mount option)".to_string())
            }
            (d, b) => Err(format!(
                "the {d} storage driver{} cannot limit a container's disk: one tenant can fill \
                 the engine's storage (run Docker's data root on btrfs with quotas enabled, or \
                 overlay2 on xfs mounted with pquota)",
                if b.is_empty() {
                    String::new()
                } else {
                    format!(" on {b}")
                }
            )),
        };
        let userns_remap = info
            .security_options
            .iter()
            .flatten()
            .any(|o| o.contains("name=userns"));
        let container_root_gid = if userns_remap {
            remapped_root_gid(info.docker_root_dir.as_deref().unwrap_or_default())
        } else {
            Ok(0)
        };
        EngineFeatures {
            disk_limits,
            userns_remap,
            container_root_gid,
            live_restore: info.live_restore_enabled == Some(true),
            eth0,
            eth0_bridge: None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    impl EngineFeatures {
        fn of_info(info: &SystemInfo) -> EngineFeatures {
            EngineFeatures::of(info, Ok(String::new()))
        }
    }

    fn info(driver: &str, backing: &str, security: &[&str]) -> SystemInfo {
        SystemInfo {
            driver: Some(driver.into()),
            driver_status: Some(vec![vec!["Backing Filesystem".into(), backing.into()]]),
            security_options: Some(security.iter().map(|s| s.to_string()).collect()),
            ..Default::default()
        }
    }

    #[test]
    fn drivers_that_limit_disks_are_told_apart() {
        assert!(
            EngineFeatures::of_info(&info("btrfs", "btrfs", &[]))
                .disk_limits
                .is_ok()
        );
        assert!(
            EngineFeatures::of_info(&info("overlay2", "xfs", &[]))
                .disk_limits
                .is_ok()
        );
        let e = EngineFeatures::of_info(&info("overlay2", "extfs", &[]));
        assert!(
            e.disk_limits
                .expect_err("ext4")
                .contains("overlay2 storage driver on extfs")
        );
        assert!(!e.userns_remap);
        let u = EngineFeatures::of_info(&info(
            "btrfs",
            "btrfs",
            &["name=seccomp,profile=default", "name=userns"],
        ));
        assert!(u.userns_remap);
        assert!(
            u.container_root_gid.is_err(),
            "no data root to tell it from"
        );
        assert_eq!(e.container_root_gid, Ok(0));
        let mut remapped = info("btrfs", "btrfs", &["name=userns"]);
        remapped.docker_root_dir = Some("/var/lib/novadock-docker/100000.165536".into());
        assert_eq!(
            EngineFeatures::of_info(&remapped).container_root_gid,
            Ok(165536)
        );
        remapped.docker_root_dir = Some("/var/lib/docker".into());
        assert!(
            EngineFeatures::of_info(&remapped)
                .container_root_gid
                .is_err()
        );
    }

    fn bridge(icc: Option<&str>) -> NetworkInspect {
        NetworkInspect {
            driver: Some("bridge".into()),
            options: icc.map(|v| {
                [(
                    "com.docker.network.bridge.enable_icc".to_string(),
                    v.to_string(),
                )]
                .into()
            }),
            ..Default::default()
        }
    }

    #[test]
    fn the_bridge_device_is_named_as_dockerd_names_it() {
        let mut default = bridge(Some("false"));
        default
            .options
            .get_or_insert_default()
            .insert("com.docker.network.bridge.name".into(), "docker0".into());
        assert_eq!(bridge_device(&default), Some(("docker0".into(), false)));
        let mut own = bridge(None);
        own.id = Some("0123456789abcdef0123".into());
        own.enable_ipv6 = Some(true);
        assert_eq!(bridge_device(&own), Some(("br-0123456789ab".into(), true)));
        let host = NetworkInspect {
            driver: Some("host".into()),
            ..Default::default()
        };
        assert_eq!(bridge_device(&host), None);
    }

    #[test]
    fn eth0_is_isolated_only_without_inter_container_traffic() {
        assert!(eth0_isolation("bridge", Some(&bridge(Some("false")))).is_ok());
        let e = eth0_isolation("bridge", Some(&bridge(Some("true")))).expect_err("icc on");
        assert!(e.contains("--icc=false"), "{e}");
        assert!(eth0_isolation("mine", Some(&bridge(None))).is_err());
        assert!(eth0_isolation("none", None).is_ok());
        let host = NetworkInspect {
            driver: Some("host".into()),
            ..Default::default()
        };
        assert!(eth0_isolation("host", Some(&host)).is_err());
    }
}
