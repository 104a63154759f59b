//! What the engine can enforce for tenants, read from `docker info`: a limit
//! on each container's writable layer (the flavor's root disk) and
//! user-namespace remapping (container root is not host root); and whether
//! containers outlive a dockerd restart.

use bollard::models::SystemInfo;

#[derive(Debug, Clone, PartialEq)]
pub struct EngineFeatures {
    /// Why per-container disk limits can (Ok) or cannot (Err) be set.
    pub disk_limits: Result<String, String>,
    /// Whether dockerd remaps container users (`--userns-remap`).
    pub userns_remap: bool,
    /// Whether containers keep running while dockerd restarts (`live-restore`).
    pub live_restore: bool,
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
        vec![disk, userns]
    }

    pub fn of(info: &SystemInfo) -> EngineFeatures {
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
        EngineFeatures {
            disk_limits,
            userns_remap,
            live_restore: info.live_restore_enabled == Some(true),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

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
            EngineFeatures::of(&info("btrfs", "btrfs", &[]))
                .disk_limits
                .is_ok()
        );
        assert!(
            EngineFeatures::of(&info("overlay2", "xfs", &[]))
                .disk_limits
                .is_ok()
        );
        let e = EngineFeatures::of(&info("overlay2", "extfs", &[]));
        assert!(
            e.disk_limits
                .expect_err("ext4")
                .contains("overlay2 storage driver on extfs")
        );
        assert!(!e.userns_remap);
        let u = EngineFeatures::of(&info(
            "btrfs",
            "btrfs",
            &["name=seccomp,profile=default", "name=userns"],
        ));
        assert!(u.userns_remap);
    }
}
