//! Wire types of the driver API (api/openapi.json), shared by the HTTP layer
//! and the compute layer. Unknown fields are refused, as the spec says,
//! except inside Nova's VIFs (Nova's own format, which carries more).

use std::collections::BTreeMap;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

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

/// One VIF of Nova's network_info (`nova.network.model.VIF` as JSON): the
/// fields the service reads. The rest of what Nova sends (active,
/// vnic_type, profile, the network's id and label, each IP's type...) is
/// ignored, not typed: a type would refuse a VIF for a part nobody reads.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Vif {
    /// The Neutron port id.
    pub id: String,
    /// The MAC address.
    pub address: Option<String>,
    #[serde(rename = "type")]
    pub vif_type: Option<String>,
    /// The host end's name: `tap` + the port id's first 11 characters.
    pub devname: Option<String>,
    pub ovs_interfaceid: Option<String>,
    #[serde(default)]
    pub details: VifDetails,
    pub network: Option<VifNetwork>,
}

/// Neutron's binding:vif_details, as far as they change the plugging.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct VifDetails {
    pub ovs_hybrid_plug: Option<bool>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct VifNetwork {
    /// The OVS bridge (br-int).
    pub bridge: Option<String>,
    #[serde(default)]
    pub subnets: Vec<VifSubnet>,
    #[serde(default)]
    pub meta: VifNetworkMeta,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct VifNetworkMeta {
    pub mtu: Option<u32>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct VifSubnet {
    pub cidr: Option<String>,
    pub gateway: Option<VifIp>,
    #[serde(default)]
    pub ips: Vec<VifIp>,
    #[serde(default)]
    pub routes: Vec<VifRoute>,
    #[serde(default)]
    pub dns: Vec<VifIp>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct VifIp {
    pub address: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct VifRoute {
    pub cidr: Option<String>,
    pub gateway: Option<VifIp>,
}

/// One entry of network_info as the request gave it. An entry that does
/// not read as a `Vif` is kept with the reason instead of failing the whole
/// body: the operations that plug refuse it as InvalidInput naming its
/// index (src/network/vif.rs), and destroy skips it and still cleans up,
/// since it cannot have been plugged.
#[derive(Debug, Clone, PartialEq)]
pub enum VifEntry {
    Vif(Vif),
    Unreadable {
        value: serde_json::Value,
        reason: String,
    },
}

impl From<serde_json::Value> for VifEntry {
    fn from(value: serde_json::Value) -> Self {
        match Vif::deserialize(&value) {
            Ok(vif) => VifEntry::Vif(vif),
            Err(e) => VifEntry::Unreadable {
                reason: e.to_string(),
                value,
            },
        }
    }
}

impl<'de> Deserialize<'de> for VifEntry {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        serde_json::Value::deserialize(d).map(VifEntry::from)
    }
}

impl Serialize for VifEntry {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match self {
            VifEntry::Vif(vif) => vif.serialize(s),
            VifEntry::Unreadable { value, .. } => value.serialize(s),
        }
    }
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
    pub network_info: Vec<VifEntry>,
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
    pub network_info: Vec<VifEntry>,
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
    pub network_info: Vec<VifEntry>,
    /// Keep a resize's set-aside container: Nova destroys the new instance
    /// before reverting to the old one, which may be on this same host.
    #[serde(default)]
    pub keep_resize: bool,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NetworkInfoRequest {
    #[serde(default)]
    pub network_info: Vec<VifEntry>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AttachInterfaceRequest {
    pub vif: VifEntry,
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
    pub network_info: Vec<VifEntry>,
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

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn a_vif_reads_with_what_nova_adds_and_omits() {
        let entry: VifEntry = serde_json::from_value(json!({
            "id": "p1", "address": "fa:16:3e:00:00:01", "type": "ovs",
            "active": true, "vnic_type": "normal", "profile": {},
            "details": {"port_filter": true},
            "network": {"id": "n", "label": "private", "meta": {"mtu": 1450},
                        "subnets": [{"cidr": "198.18.1.0/24", "version": 4,
                                     "ips": [{"address": "198.18.1.10", "type": "fixed"}]}]}
        }))
        .expect("an entry always reads");
        let VifEntry::Vif(vif) = entry else {
            panic!("a VIF: {entry:?}")
        };
        assert_eq!(vif.devname, None);
        assert_eq!(vif.details.ovs_hybrid_plug, None);
        let network = vif.network.expect("network");
        assert_eq!(network.meta.mtu, Some(1450));
        assert!(network.subnets[0].routes.is_empty());
        assert_eq!(
            network.subnets[0].ips[0].address.as_deref(),
            Some("198.18.1.10")
        );
    }

    #[test]
    fn what_is_not_a_vif_is_kept_with_the_reason() {
        let req: NetworkInfoRequest =
            serde_json::from_value(json!({"network_info": [{}, 5, {"id": "p", "address": 7}]}))
                .expect("the body reads");
        let reasons: Vec<&str> = req
            .network_info
            .iter()
            .map(|e| match e {
                VifEntry::Unreadable { reason, .. } => reason.as_str(),
                VifEntry::Vif(v) => panic!("not a VIF: {v:?}"),
            })
            .collect();
        assert_eq!(reasons[0], "missing field `id`");
        assert!(
            reasons[1].starts_with("invalid type: integer `5`"),
            "{reasons:?}"
        );
        assert!(
            reasons[2].starts_with("invalid type: integer `7`"),
            "{reasons:?}"
        );
        // Written back as it came.
        assert_eq!(
            serde_json::to_value(&req.network_info[1]).expect("json"),
            json!(5)
        );
    }
}
