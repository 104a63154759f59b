//! Wire types of the driver API (api/openapi.json), shared by the HTTP layer
//! and the compute layer. Unknown fields are refused, as the spec says.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum PowerState {
    Nostate,
    Running,
    Paused,
    Shutdown,
    Suspended,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct InstanceInfo {
    pub uuid: String,
    pub name: String,
    pub power_state: PowerState,
    pub container_id: String,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct InstanceList {
    pub instances: Vec<InstanceInfo>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SpawnInstance {
    pub uuid: String,
    pub name: String,
    pub hostname: Option<String>,
    pub project_id: Option<String>,
    pub user_id: Option<String>,
    pub metadata: BTreeMap<String, String>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SpawnFlavor {
    pub name: String,
    pub memory_mb: u64,
    pub vcpus: u64,
    /// The root disk: the container's writable layer limit, where the
    /// engine's storage enforces one.
    #[serde(default)]
    pub root_gb: u64,
    pub extra_specs: BTreeMap<String, String>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SpawnImage {
    pub id: Option<String>,
    pub name: Option<String>,
    pub properties: BTreeMap<String, String>,
    /// The engine image a move boots from: set by the service itself, never
    /// read from a request.
    #[serde(skip)]
    pub local: Option<String>,
}

fn default_true() -> bool {
    true
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SpawnRequest {
    pub instance: SpawnInstance,
    pub flavor: SpawnFlavor,
    pub image: SpawnImage,
    #[serde(default)]
    pub network_info: Vec<serde_json::Value>,
    #[serde(default = "default_true")]
    pub power_on: bool,
    /// Given when the image may have to come from Glance.
    #[serde(default)]
    pub glance: Option<GlanceAccess>,
    /// The config drive's files (Nova's metadata code made them): relative
    /// path to base64 data. Mounted read-only at cloud-init's seed directory.
    #[serde(default)]
    pub config_drive: BTreeMap<String, String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum RebootType {
    #[serde(rename = "SOFT")]
    Soft,
    #[serde(rename = "HARD")]
    Hard,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RebootRequest {
    #[serde(rename = "type")]
    pub kind: RebootType,
    pub timeout: Option<u64>,
    #[serde(default)]
    pub network_info: Vec<serde_json::Value>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PowerOffRequest {
    pub timeout: u64,
    pub retry_interval: u64,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ConsoleOutput {
    pub output: String,
}

/// Where nova-serialproxy reaches an instance's interactive console.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SerialConsole {
    pub host: String,
    pub port: u16,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Version {
    pub api_version: String,
    pub service_version: String,
    pub docker_version: String,
    pub docker_api_version: String,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Host {
    pub nodename: String,
    pub host_ip: String,
    pub uptime: String,
    pub hypervisor_type: String,
    pub hypervisor_version: i64,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Resources {
    pub vcpus: i64,
    pub memory_mb: i64,
    pub local_gb: i64,
    pub vcpus_used: i64,
    pub memory_mb_used: i64,
    pub local_gb_used: i64,
    pub hypervisor_type: String,
    pub hypervisor_version: i64,
    pub hypervisor_hostname: String,
    pub cpu_info: String,
    pub disk_available_least: i64,
    pub supported_instances: Vec<[String; 3]>,
    pub numa_topology: Option<()>,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct ExistingInventoryItem {
    pub allocation_ratio: Option<f64>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct InventoryRequest {
    pub existing: BTreeMap<String, ExistingInventoryItem>,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct InventoryItem {
    pub total: i64,
    pub reserved: i64,
    pub min_unit: i64,
    pub max_unit: i64,
    pub step_size: i64,
    pub allocation_ratio: f64,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct Inventory {
    #[serde(rename = "VCPU")]
    pub vcpu: InventoryItem,
    #[serde(rename = "MEMORY_MB")]
    pub memory_mb: InventoryItem,
    #[serde(rename = "DISK_GB")]
    pub disk_gb: InventoryItem,
}

/// Placement traits of the node that follow from the engine.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct HostTraits {
    pub traits: Vec<String>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CpuStats {
    pub kernel: u64,
    pub idle: u64,
    pub user: u64,
    pub iowait: u64,
    pub frequency: u64,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DestroyRequest {
    #[serde(default)]
    pub network_info: Vec<serde_json::Value>,
    /// Keep a resize's set-aside container: Nova destroys the new instance
    /// before reverting to the old one, which may be on this same host.
    #[serde(default)]
    pub keep_resize: bool,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NetworkInfoRequest {
    #[serde(default)]
    pub network_info: Vec<serde_json::Value>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AttachInterfaceRequest {
    pub vif: serde_json::Value,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AttachedInterface {
    pub port_id: String,
    pub ifname: String,
    pub devname: String,
}

/// Where Glance is and the requesting user's token: every image operation
/// acts with the user's rights.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GlanceAccess {
    pub endpoint: String,
    pub token: String,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StoredImage {
    pub glance_id: String,
    pub docker_id: String,
    pub size: u64,
    pub checksum: String,
    pub multihash: String,
    pub hashing_algo: String,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GlanceRequest {
    pub glance: GlanceAccess,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FetchedImage {
    pub glance_id: String,
    pub docker_id: String,
    /// False when the host had it already.
    pub downloaded: bool,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SnapshotImage {
    /// The Glance image Nova created for the snapshot.
    pub image_id: String,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PruneRequest {
    pub min_age_seconds: u64,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PruneResult {
    pub removed: Vec<String>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MigrateRequest {
    /// Nova's destination host address.
    pub dest: String,
    #[serde(default)]
    pub timeout: u64,
    #[serde(default)]
    pub retry_interval: u64,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MigrateResult {
    /// False when the instance leaves this host: its filesystem must then be
    /// exported (`POST /v1/instances/{uuid}/migration-images`).
    pub same_host: bool,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ExportRequest {
    /// The Glance image created to carry the filesystem to the destination.
    pub image_id: String,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MigrationImages {
    /// Glance ids of the images exported for the instance's move.
    pub images: Vec<String>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RevertRequest {
    #[serde(default)]
    pub network_info: Vec<serde_json::Value>,
    #[serde(default = "default_true")]
    pub power_on: bool,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NicDiagnostics {
    pub devname: String,
    pub mac_address: String,
    pub rx_octets: u64,
    pub rx_packets: u64,
    pub rx_errors: u64,
    pub rx_drop: u64,
    pub tx_octets: u64,
    pub tx_packets: u64,
    pub tx_errors: u64,
    pub tx_drop: u64,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Diagnostics {
    pub power_state: PowerState,
    pub uptime_seconds: i64,
    pub vcpus: i64,
    pub cpu_time_ns: u64,
    pub memory_limit_mb: i64,
    pub memory_used_mb: i64,
    pub nics: Vec<NicDiagnostics>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PlugResult {
    /// Container interfaces that were missing and are now plugged.
    pub plugged: Vec<String>,
}
