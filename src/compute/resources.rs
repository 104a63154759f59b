//! What the host offers Nova's scheduler: resources, placement inventory,
//! host identity and the driver's capabilities.

use std::collections::BTreeMap;
use std::path::PathBuf;

use serde_json::json;

use super::{Compute, claimed_vcpus};
use crate::docker::naming;
use crate::docker::version_to_int;
use crate::error::Error;
use crate::host;
use crate::model::{
    Host, HostTraits, Inventory, InventoryItem, InventoryRequest, Resources, Version,
};

/// The flavor's root_gb is a per-container disk limit on this host.
pub const TRAIT_ROOT_DISK_LIMIT: &str = "CUSTOM_NOVADOCK_ROOT_DISK_LIMIT";
/// Container root is an unprivileged user on this host (userns-remap).
pub const TRAIT_USERNS_REMAP: &str = "CUSTOM_NOVADOCK_USERNS_REMAP";

const GIB: u64 = 1024 * 1024 * 1024;

/// The capabilities Nova reads from a driver; only what works is true.
pub fn capabilities() -> BTreeMap<&'static str, bool> {
    BTreeMap::from([
        ("has_imagecache", true),
        ("supports_evacuate", true),
        // A cold migration is asked for to leave the host (maintenance, a
        // full host): with this true Nova's scheduler may pick the same
        // host again. A resize may stay (allow_resize_to_same_host).
        ("supports_migrate_to_same_host", false),
        ("supports_attach_interface", true),
        ("supports_device_tagging", false),
        ("supports_tagged_attach_interface", false),
        ("supports_tagged_attach_volume", false),
        ("supports_extend_volume", false),
        ("supports_multiattach", false),
        ("supports_trusted_certs", false),
        ("supports_pcpus", false),
        ("supports_accelerators", false),
        ("supports_bfv_rescue", false),
        ("supports_vtpm", false),
        ("supports_secure_boot", false),
        ("supports_socket_pci_numa_affinity", false),
        ("supports_remote_managed_ports", false),
        ("supports_address_space_passthrough", false),
        ("supports_address_space_emulated", false),
        ("supports_virtio_fs", false),
        ("supports_mem_backing_file", false),
        ("supports_ephemeral_encryption", false),
        ("supports_ephemeral_encryption_luks", false),
        ("supports_ephemeral_encryption_plain", false),
        ("supports_image_type_aki", false),
        ("supports_image_type_ami", false),
        ("supports_image_type_ari", false),
        ("supports_image_type_iso", false),
        ("supports_image_type_qcow2", false),
        // Container images travel in Glance as disk_format raw, container_format docker.
        ("supports_image_type_raw", true),
        ("supports_image_type_vdi", false),
        ("supports_image_type_vhd", false),
        ("supports_image_type_vhdx", false),
        ("supports_image_type_vmdk", false),
        ("supports_image_type_ploop", false),
    ])
}

impl Compute {
    pub async fn version(&self) -> Result<Version, Error> {
        Ok(Version {
            api_version: "1".to_string(),
            service_version: env!("CARGO_PKG_VERSION").to_string(),
            docker_version: self.docker().version().await?,
            docker_api_version: self.docker().api_version(),
        })
    }

    async fn hypervisor_version(&self) -> Result<i64, Error> {
        Ok(version_to_int(&self.docker().version().await?))
    }

    pub async fn host(&self) -> Result<Host, Error> {
        Ok(Host {
            nodename: self.host_name().to_string(),
            host_ip: self
                .config()
                .nova
                .my_ip
                .clone()
                .or_else(host::default_route_ipv4)
                .unwrap_or_else(|| "127.0.0.1".to_string()),
            uptime: host::uptime_line().map_err(|e| Error::Internal(e.to_string()))?,
            hypervisor_type: "docker".to_string(),
            hypervisor_version: self.hypervisor_version().await?,
        })
    }

    async fn docker_root(&self) -> Result<PathBuf, Error> {
        Ok(self.docker().root_dir().await?)
    }

    pub async fn resources(&self) -> Result<Resources, Error> {
        let internal = |e: host::HostError| Error::Internal(e.to_string());
        let mem = host::memory().map_err(internal)?;
        let disk = host::disk(&self.docker_root().await?).map_err(internal)?;
        let cpus = host::cpu_count();
        let vcpus_used = self.vcpus_used().await?;
        let (vendor, model) = host::cpu_model();
        let arch = std::env::consts::ARCH.to_string();
        let cpu_info = json!({
            "arch": arch,
            "vendor": vendor,
            "model": model,
            "topology": {"sockets": 1, "cores": cpus, "threads": 1},
            "features": [],
        });
        Ok(Resources {
            vcpus: cpus,
            memory_mb: (mem.total_kib / 1024) as i64,
            local_gb: (disk.total_bytes / GIB) as i64,
            vcpus_used,
            memory_mb_used: ((mem.total_kib - mem.available_kib) / 1024) as i64,
            local_gb_used: (disk.used_bytes / GIB) as i64,
            hypervisor_type: "docker".to_string(),
            hypervisor_version: self.hypervisor_version().await?,
            hypervisor_hostname: self.host_name().to_string(),
            cpu_info: cpu_info.to_string(),
            disk_available_least: (disk.available_bytes / GIB) as i64,
            supported_instances: vec![[arch, "docker".to_string(), "exe".to_string()]],
            numa_topology: None,
        })
    }

    /// vCPUs the flavors of this host's containers claim: from the
    /// event-fed map while it is in sync (no listing of the engine, whose
    /// cost grows with every container), else from the engine's listing.
    async fn vcpus_used(&self) -> Result<i64, Error> {
        if self.states().is_synced() {
            return Ok(self.states().vcpus_used());
        }
        Ok(self
            .container_summaries()
            .await?
            .iter()
            .map(|c| claimed_vcpus(c.labels.get(naming::LABEL_VCPUS).map(String::as_str)))
            .sum())
    }

    /// Traits that let a flavor require what this engine enforces
    /// (`trait:CUSTOM_NOVADOCK_ROOT_DISK_LIMIT=required`): a tenant who pays
    /// for isolation is never placed on a host that cannot give it.
    pub async fn traits(&self) -> Result<HostTraits, Error> {
        let features = self.features().await?;
        let mut traits = Vec::new();
        if self.disk_limits_work().await? {
            traits.push(TRAIT_ROOT_DISK_LIMIT.to_string());
        }
        if features.userns_remap {
            traits.push(TRAIT_USERNS_REMAP.to_string());
        }
        Ok(HostTraits { traits })
    }

    /// Placement inventory. Allocation ratios follow Nova: the configured
    /// ratio, else the one placement already has, else the initial ratio.
    pub async fn inventory(&self, req: &InventoryRequest) -> Result<Inventory, Error> {
        let internal = |e: host::HostError| Error::Internal(e.to_string());
        let mem = host::memory().map_err(internal)?;
        let disk = host::disk(&self.docker_root().await?).map_err(internal)?;
        let nova = &self.config().nova;
        let ratio = |rc: &str, configured: Option<f64>, initial: f64| {
            configured
                .or_else(|| req.existing.get(rc).and_then(|i| i.allocation_ratio))
                .unwrap_or(initial)
        };
        let item = |total: i64, reserved: i64, allocation_ratio: f64| InventoryItem {
            total,
            reserved,
            min_unit: 1,
            max_unit: total.max(1),
            step_size: 1,
            allocation_ratio,
        };
        let cpus = host::cpu_count();
        let memory_mb = (mem.total_kib / 1024) as i64;
        let disk_gb = (disk.total_bytes / GIB) as i64;
        Ok(Inventory {
            vcpu: item(
                cpus,
                nova.reserved_host_cpus,
                ratio(
                    "VCPU",
                    nova.cpu_allocation_ratio,
                    nova.initial_cpu_allocation_ratio,
                ),
            ),
            memory_mb: item(
                memory_mb,
                nova.reserved_host_memory_mb,
                ratio(
                    "MEMORY_MB",
                    nova.ram_allocation_ratio,
                    nova.initial_ram_allocation_ratio,
                ),
            ),
            disk_gb: item(
                disk_gb,
                // Nova rounds reserved disk up to whole GiB.
                (nova.reserved_host_disk_mb + 1023) / 1024,
                ratio(
                    "DISK_GB",
                    nova.disk_allocation_ratio,
                    nova.initial_disk_allocation_ratio,
                ),
            ),
        })
    }
}
