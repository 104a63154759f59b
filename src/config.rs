//! nova.conf-style configuration with oslo.config semantics.
//!
//! The service reads the same files as nova-compute: `[novadock]` for its own
//! options and a few `[DEFAULT]` options (host, my_ip, allocation ratios,
//! reserved amounts) so that what it reports to placement matches Nova.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use ini::{Ini, ParseOption};

#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("cannot read config file {path}: {source}")]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("config file {path} is not valid INI: {message}")]
    Parse { path: PathBuf, message: String },
    #[error("[{section}] {key} = {value:?}: {reason}")]
    Value {
        section: String,
        key: String,
        value: String,
        reason: String,
    },
}

/// Options merged across every `--config-file`, later files winning.
#[derive(Debug, Default, Clone)]
pub struct RawConfig {
    sections: HashMap<String, HashMap<String, String>>,
}

impl RawConfig {
    pub fn load(paths: &[PathBuf]) -> Result<Self, ConfigError> {
        let mut raw = RawConfig::default();
        for path in paths {
            let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
                path: path.clone(),
                source,
            })?;
            raw.merge_str(&text, path)?;
        }
        Ok(raw)
    }

    pub fn merge_str(&mut self, text: &str, path: &Path) -> Result<(), ConfigError> {
        // oslo.config: no quoting or escapes, indented continuation lines.
        let opt = ParseOption {
            enabled_quote: false,
            enabled_escape: false,
            enabled_indented_mutiline_value: true,
            enabled_preserve_key_leading_whitespace: false,
        };
        let ini = Ini::load_from_str_opt(text, opt).map_err(|e| ConfigError::Parse {
            path: path.to_path_buf(),
            message: e.to_string(),
        })?;
        for (name, props) in ini.iter() {
            let section = match name {
                None => continue,
                Some("DEFAULT") => "DEFAULT".to_string(),
                Some(n) => n.to_lowercase(),
            };
            let target = self.sections.entry(section).or_default();
            // Iteration is in file order, so a repeated key ends on its last value.
            for (key, value) in props.iter() {
                target.insert(key.trim().to_string(), value.trim().to_string());
            }
        }
        Ok(())
    }

    /// An option is looked up in its section, then in `[DEFAULT]`, as oslo does.
    pub fn get(&self, section: &str, key: &str) -> Option<&str> {
        self.sections
            .get(section)
            .and_then(|s| s.get(key))
            .or_else(|| self.sections.get("DEFAULT").and_then(|s| s.get(key)))
            .map(String::as_str)
    }

    pub fn keys(&self, section: &str) -> impl Iterator<Item = &str> {
        self.sections
            .get(section)
            .into_iter()
            .flat_map(|s| s.keys().map(String::as_str))
    }

    fn parsed<T: std::str::FromStr>(
        &self,
        section: &str,
        key: &str,
    ) -> Result<Option<T>, ConfigError>
    where
        T::Err: std::fmt::Display,
    {
        match self.get(section, key) {
            None | Some("") => Ok(None),
            Some(v) => v.parse::<T>().map(Some).map_err(|e| ConfigError::Value {
                section: section.to_string(),
                key: key.to_string(),
                value: v.to_string(),
                reason: e.to_string(),
            }),
        }
    }
}

/// An oslo.config boolean: `True`, `yes`, `on`, `1` (any case) and their
/// opposites, as nova.conf writers (DevStack's iniset among them) spell them.
#[derive(Debug, Clone, Copy, PartialEq)]
struct OsloBool(bool);

impl std::str::FromStr for OsloBool {
    type Err = &'static str;
    fn from_str(v: &str) -> Result<Self, Self::Err> {
        match v.trim().to_ascii_lowercase().as_str() {
            "true" | "yes" | "on" | "1" => Ok(OsloBool(true)),
            "false" | "no" | "off" | "0" => Ok(OsloBool(false)),
            _ => Err("not a boolean (true or false)"),
        }
    }
}

/// How long a new container's main process must live for its boot to
/// succeed (the VIF plugging runs inside the window): what a process that
/// exits at once needs, measured in docs/benchmarks-spawn.md.
pub const DEFAULT_STARTUP_CHECK_SECONDS: f64 = 0.02;

/// `[novadock] lifecycle_event_delay`'s default, in seconds: the option the
/// Python driver declared (`FloatOpt`, default 15.0, min 0.0) before the
/// service took the hold-back over, kept as it was.
pub const DEFAULT_LIFECYCLE_EVENT_DELAY: f64 = 15.0;

/// The longest hold-back the service keeps a timer for: a larger (or
/// infinite) delay means "never", and a deadline this far stays clear of
/// the clock's overflow.
const LIFECYCLE_EVENT_DELAY_MAX: std::time::Duration =
    std::time::Duration::from_secs(100 * 365 * 24 * 3600);

/// Taken from Docker's default capability set (which keeps 14): raw sockets
/// (forged packets on the tenant network), device nodes, audit writes, and
/// changing file or process capabilities.
pub const DEFAULT_CAP_DROP: &[&str] = &["AUDIT_WRITE", "MKNOD", "NET_RAW", "SETFCAP", "SETPCAP"];

/// An oslo.config list option: comma-separated, blanks ignored.
fn list(v: &str) -> Vec<String> {
    v.split(',')
        .map(str::trim)
        .filter(|x| !x.is_empty())
        .map(String::from)
        .collect()
}

/// `[novadock]` options.
#[derive(Debug, Clone)]
pub struct NovadockConfig {
    pub socket_path: PathBuf,
    pub socket_group: Option<String>,
    /// Users (names or uids) whose processes may use the socket, checked by
    /// peer credentials; None lets socket_group's members in. Root and the
    /// service's own user always may.
    pub socket_allowed_users: Option<Vec<String>>,
    pub docker_url: String,
    pub docker_network: String,
    pub pids_limit: i64,
    /// Capabilities taken from Docker's default set in every container.
    pub cap_drop: Vec<String>,
    /// The start-up check's window (startup_watch.rs); 0 turns it off.
    pub startup_check_seconds: f64,
    pub soft_reboot_timeout: u64,
    /// Seconds Glance may send nothing before a transfer fails.
    pub glance_read_timeout: u64,
    /// Where instances' config drives are kept on the host.
    pub config_drive_dir: PathBuf,
    /// ovs-vsctl's `--db`; None is Open vSwitch's default socket.
    pub ovsdb_connection: Option<String>,
    pub ovs_vsctl_timeout: u64,
    /// Whether Nova's gateways (true) or Docker's network own the default route.
    pub nova_default_route: bool,
    /// `[os_vif_ovs] isolate_vif`, os-vif's own option, read as Nova's
    /// libvirt hosts read it: a new port is plugged on the dead VLAN (4095)
    /// until Neutron's OVS agent wires it, so it talks to nothing meanwhile.
    /// Only for the OVS agent: OVN sets no VLAN tags.
    pub isolate_vif: bool,
    /// `[neutron] ovs_bridge`: the bridge of a VIF whose network names none.
    pub ovs_bridge: String,
    /// Address of the read-only Glance facade; None serves none.
    pub glance_facade_listen: Option<std::net::SocketAddr>,
    /// How the facade knows its callers (see FacadeAuth).
    pub glance_facade_auth: FacadeAuth,
    /// Glance's URL for the facade's visibility checks; else the token's catalog.
    pub glance_endpoint: Option<String>,
    /// Spawns without Glance access may name an engine image (tests and
    /// single-operator hosts only: the name is the user's).
    pub allow_local_images: bool,
    /// What a serial console session runs in the container (argv), unless
    /// the instance's image property `novadock_console_command` says otherwise.
    pub console_command: Vec<String>,
    /// How long a STOPPED lifecycle event is held back on `/v1/events`
    /// (dropped if the instance has another transition meanwhile); zero
    /// sends it at once. See compute/holdback.rs.
    pub lifecycle_event_delay: std::time::Duration,
}

/// Nova's own `[serial_console]` options (nova/conf/serial_console.py),
/// read from the same nova.conf as nova-compute reads them.
#[derive(Debug, Clone)]
pub struct SerialConsoleConfig {
    pub enabled: bool,
    /// Inclusive, as Nova's `min:max`.
    pub port_range: (u16, u16),
    /// Where nova-serialproxy connects, and the only address listened on.
    pub proxyclient_address: String,
}

/// Nova's defaults for `[serial_console]`.
pub const DEFAULT_PORT_RANGE: (u16, u16) = (10000, 20000);

/// The `[DEFAULT]` options of Nova that shape what the host reports.
#[derive(Debug, Clone)]
pub struct NovaConfig {
    pub host: Option<String>,
    pub my_ip: Option<String>,
    pub cpu_allocation_ratio: Option<f64>,
    pub ram_allocation_ratio: Option<f64>,
    pub disk_allocation_ratio: Option<f64>,
    pub initial_cpu_allocation_ratio: f64,
    pub initial_ram_allocation_ratio: f64,
    pub initial_disk_allocation_ratio: f64,
    pub reserved_host_cpus: i64,
    pub reserved_host_memory_mb: i64,
    pub reserved_host_disk_mb: i64,
}

#[derive(Debug, Clone)]
pub struct Config {
    pub novadock: NovadockConfig,
    pub nova: NovaConfig,
    pub serial_console: SerialConsoleConfig,
}

/// Who may read the Glance facade.
#[derive(Debug, Clone, PartialEq)]
pub enum FacadeAuth {
    /// A Keystone token on every request, validated at this identity URL;
    /// a project sees only the images Glance shows it.
    Keystone(String),
    /// Everyone sees everything (`glance_facade_auth_strategy = noauth`), as
    /// a Glance run with `auth_strategy = noauth`: tests only.
    NoAuth,
}

/// The vCPU allocation ratio a novadock host starts with when nova.conf
/// sets none. A container's vCPUs become CPU shares (a weight), never
/// reserved cores, so Nova's 4.0 (made for VMs whose vCPUs are threads that
/// hold a core) stopped a 2-core host at 8 small containers while its memory
/// held hundreds. At 64 each vCPU still gets at least 1/64 of a core when
/// every slot is busy, and memory, which is a hard limit, is what fills up.
pub const DEFAULT_CPU_ALLOCATION_RATIO: f64 = 64.0;

/// Every `[novadock]` option (the Python driver's own ones included).
pub const NOVADOCK_KEYS: &[&str] = &[
    "socket_path",
    "socket_group",
    "socket_allowed_users",
    "docker_url",
    "docker_network",
    "pids_limit",
    "cap_drop",
    "startup_check_seconds",
    "soft_reboot_timeout",
    "glance_read_timeout",
    "config_drive_dir",
    "ovsdb_connection",
    "ovs_vsctl_timeout",
    "default_route",
    "glance_facade_listen",
    "glance_facade_auth_strategy",
    "glance_facade_auth_url",
    "allow_local_images",
    "console_command",
    "lifecycle_event_delay",
    // Read by the Python driver only.
    "api_timeout",
    "action_timeout",
    "config_drive",
];

impl NovaConfig {
    /// `[DEFAULT] host`, else the machine's hostname: Nova's own default.
    pub fn host_name(&self) -> String {
        self.host.clone().unwrap_or_else(crate::host::hostname)
    }
}

impl Config {
    pub fn load(paths: &[PathBuf]) -> Result<Self, ConfigError> {
        Self::from_raw(&RawConfig::load(paths)?)
    }

    pub fn from_raw(raw: &RawConfig) -> Result<Self, ConfigError> {
        let s = "novadock";
        let invalid = |key: &str, value: &str, reason: &str| ConfigError::Value {
            section: s.to_string(),
            key: key.to_string(),
            value: value.to_string(),
            reason: reason.to_string(),
        };
        let pids_limit = raw.parsed::<i64>(s, "pids_limit")?.unwrap_or(1024);
        if pids_limit < 1 {
            return Err(invalid(
                "pids_limit",
                &pids_limit.to_string(),
                "must be at least 1",
            ));
        }
        let startup_check_seconds = raw
            .parsed::<f64>(s, "startup_check_seconds")?
            .unwrap_or(DEFAULT_STARTUP_CHECK_SECONDS);
        if !(0.0..=60.0).contains(&startup_check_seconds) {
            return Err(invalid(
                "startup_check_seconds",
                &startup_check_seconds.to_string(),
                "must be between 0 and 60",
            ));
        }
        // oslo.config's FloatOpt with min=0.0: any float from 0 up, inf too.
        let lifecycle_event_delay = match raw
            .parsed::<f64>(s, "lifecycle_event_delay")?
            .unwrap_or(DEFAULT_LIFECYCLE_EVENT_DELAY)
        {
            d if d.is_nan() || d < 0.0 => {
                return Err(invalid(
                    "lifecycle_event_delay",
                    &d.to_string(),
                    "must be a number of seconds, at least 0",
                ));
            }
            d => std::time::Duration::try_from_secs_f64(d)
                .unwrap_or(LIFECYCLE_EVENT_DELAY_MAX)
                .min(LIFECYCLE_EVENT_DELAY_MAX),
        };
        let cap_drop = match raw.get(s, "cap_drop") {
            None => DEFAULT_CAP_DROP.iter().map(|c| c.to_string()).collect(),
            Some(v) => list(v)
                .into_iter()
                .map(|c| {
                    let c = c.to_ascii_uppercase();
                    let c = c.strip_prefix("CAP_").unwrap_or(&c).to_string();
                    if !c.is_empty() && c.bytes().all(|b| b.is_ascii_uppercase() || b == b'_') {
                        Ok(c)
                    } else {
                        Err(invalid("cap_drop", v, "capability names are letters and _"))
                    }
                })
                .collect::<Result<Vec<_>, _>>()?,
        };
        let socket_allowed_users = raw.get(s, "socket_allowed_users").map(list);
        let docker_network = raw
            .get(s, "docker_network")
            .filter(|v| !v.is_empty())
            .unwrap_or("bridge")
            .to_string();
        let novadock = NovadockConfig {
            socket_path: PathBuf::from(
                raw.get(s, "socket_path")
                    .filter(|v| !v.is_empty())
                    .unwrap_or("/run/novadock/novadock.sock"),
            ),
            socket_group: raw
                .get(s, "socket_group")
                .filter(|v| !v.is_empty())
                .map(String::from),
            socket_allowed_users,
            docker_url: raw
                .get(s, "docker_url")
                .filter(|v| !v.is_empty())
                .unwrap_or("unix:///var/run/docker.sock")
                .to_string(),
            docker_network,
            pids_limit,
            cap_drop,
            startup_check_seconds,
            soft_reboot_timeout: raw.parsed::<u64>(s, "soft_reboot_timeout")?.unwrap_or(60),
            config_drive_dir: PathBuf::from(
                raw.get(s, "config_drive_dir")
                    .filter(|v| !v.is_empty())
                    .unwrap_or("/var/lib/novadock/config-drive"),
            ),
            glance_read_timeout: match raw.parsed::<u64>(s, "glance_read_timeout")?.unwrap_or(60) {
                0 => return Err(invalid("glance_read_timeout", "0", "must be at least 1")),
                t => t,
            },
            ovsdb_connection: raw
                .get(s, "ovsdb_connection")
                .filter(|v| !v.is_empty())
                .map(String::from),
            ovs_vsctl_timeout: raw.parsed::<u64>(s, "ovs_vsctl_timeout")?.unwrap_or(10),
            nova_default_route: match raw.get(s, "default_route").unwrap_or("nova") {
                "nova" | "" => true,
                "docker" => false,
                other => return Err(invalid("default_route", other, "must be nova or docker")),
            },
            glance_facade_listen: raw.parsed(s, "glance_facade_listen")?,
            glance_facade_auth: match raw
                .get(s, "glance_facade_auth_strategy")
                .unwrap_or("keystone")
            {
                "keystone" | "" => {
                    // nova.conf names Keystone for the service's own clients.
                    let url = [
                        (s, "glance_facade_auth_url"),
                        ("keystone_authtoken", "www_authenticate_uri"),
                        ("keystone_authtoken", "auth_url"),
                        ("placement", "auth_url"),
                    ]
                    .iter()
                    .find_map(|(sec, key)| raw.get(sec, key).filter(|v| !v.is_empty()));
                    match url {
                        Some(u) => FacadeAuth::Keystone(u.to_string()),
                        None if raw
                            .get(s, "glance_facade_listen")
                            .is_some_and(|v| !v.is_empty()) =>
                        {
                            return Err(invalid(
                                "glance_facade_auth_url",
                                "",
                                "the Glance facade checks Keystone tokens: set it (or [keystone_authtoken] \
                                 auth_url or [placement] auth_url)",
                            ));
                        }
                        None => FacadeAuth::NoAuth,
                    }
                }
                "noauth" => FacadeAuth::NoAuth,
                other => {
                    return Err(invalid(
                        "glance_facade_auth_strategy",
                        other,
                        "must be keystone or noauth",
                    ));
                }
            },
            glance_endpoint: raw
                .get("glance", "endpoint_override")
                .filter(|v| !v.is_empty())
                .map(String::from),
            allow_local_images: raw
                .parsed::<OsloBool>(s, "allow_local_images")?
                .is_some_and(|b| b.0),
            isolate_vif: raw
                .parsed::<OsloBool>("os_vif_ovs", "isolate_vif")?
                .is_some_and(|b| b.0),
            console_command: match raw.get(s, "console_command").map(str::trim) {
                None | Some("") => vec!["/bin/sh".to_string()],
                Some(v) => crate::docker::command_line::split(v)
                    .map_err(|e| invalid("console_command", v, &e))?,
            },
            ovs_bridge: raw
                .get("neutron", "ovs_bridge")
                .filter(|v| !v.is_empty())
                .unwrap_or("br-int")
                .to_string(),
            lifecycle_event_delay,
        };
        let d = "DEFAULT";
        let nova = NovaConfig {
            host: raw
                .get(d, "host")
                .filter(|v| !v.is_empty())
                .map(String::from),
            my_ip: raw
                .get(d, "my_ip")
                .filter(|v| !v.is_empty())
                .map(String::from),
            cpu_allocation_ratio: raw.parsed(d, "cpu_allocation_ratio")?,
            ram_allocation_ratio: raw.parsed(d, "ram_allocation_ratio")?,
            disk_allocation_ratio: raw.parsed(d, "disk_allocation_ratio")?,
            // Defaults are Nova's own (nova/conf/compute.py) but for vCPUs: a
            // container's vCPUs are a CPU weight, not cores it holds (see
            // DEFAULT_CPU_ALLOCATION_RATIO).
            initial_cpu_allocation_ratio: raw
                .parsed(d, "initial_cpu_allocation_ratio")?
                .unwrap_or(DEFAULT_CPU_ALLOCATION_RATIO),
            initial_ram_allocation_ratio: raw
                .parsed(d, "initial_ram_allocation_ratio")?
                .unwrap_or(1.0),
            initial_disk_allocation_ratio: raw
                .parsed(d, "initial_disk_allocation_ratio")?
                .unwrap_or(1.0),
            reserved_host_cpus: raw.parsed(d, "reserved_host_cpus")?.unwrap_or(0),
            reserved_host_memory_mb: raw.parsed(d, "reserved_host_memory_mb")?.unwrap_or(512),
            reserved_host_disk_mb: raw.parsed(d, "reserved_host_disk_mb")?.unwrap_or(0),
        };
        let serial_console = serial_console(raw)?;
        Ok(Config {
            novadock,
            nova,
            serial_console,
        })
    }

    /// `[novadock]` keys this version does not know: likely typos, worth a warning.
    pub fn unknown_keys(raw: &RawConfig) -> Vec<String> {
        let mut keys: Vec<String> = raw
            .keys("novadock")
            .filter(|k| !NOVADOCK_KEYS.contains(k))
            .map(String::from)
            .collect();
        keys.sort();
        keys
    }
}

/// `[serial_console]` as Nova reads it (its own section only: these names
/// mean other things in `[DEFAULT]`).
fn serial_console(raw: &RawConfig) -> Result<SerialConsoleConfig, ConfigError> {
    let s = "serial_console";
    let own = |key: &str| {
        raw.sections
            .get(s)
            .and_then(|sec| sec.get(key))
            .map(|v| v.trim())
            .filter(|v| !v.is_empty())
    };
    let enabled = match own("enabled") {
        Some(v) => {
            v.parse::<OsloBool>()
                .map_err(|reason| ConfigError::Value {
                    section: s.to_string(),
                    key: "enabled".to_string(),
                    value: v.to_string(),
                    reason: reason.to_string(),
                })?
                .0
        }
        None => false,
    };
    let port_range = match own("port_range") {
        None => DEFAULT_PORT_RANGE,
        Some(v) => {
            let bad = || ConfigError::Value {
                section: s.to_string(),
                key: "port_range".to_string(),
                value: v.to_string(),
                reason: "must be min:max, two ports with min <= max".to_string(),
            };
            let (lo, hi) = v.split_once(':').ok_or_else(bad)?;
            let lo: u16 = lo.trim().parse().map_err(|_| bad())?;
            let hi: u16 = hi.trim().parse().map_err(|_| bad())?;
            if lo == 0 || lo > hi {
                return Err(bad());
            }
            (lo, hi)
        }
    };
    Ok(SerialConsoleConfig {
        enabled,
        port_range,
        proxyclient_address: own("proxyclient_address")
            .unwrap_or("127.0.0.1")
            .to_string(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn raw(files: &[&str]) -> RawConfig {
        let mut raw = RawConfig::default();
        for f in files {
            raw.merge_str(f, Path::new("test.conf")).expect("parses");
        }
        raw
    }

    #[test]
    fn defaults_without_a_novadock_section() {
        let c = Config::from_raw(&raw(&["[DEFAULT]\nhost = cn1\n"])).expect("valid");
        assert_eq!(
            c.novadock.socket_path,
            PathBuf::from("/run/novadock/novadock.sock")
        );
        assert_eq!(c.novadock.docker_network, "bridge");
        assert_eq!(c.nova.host.as_deref(), Some("cn1"));
        assert_eq!(c.nova.reserved_host_memory_mb, 512);
        assert_eq!(c.nova.cpu_allocation_ratio, None);
        assert_eq!(c.nova.initial_cpu_allocation_ratio, 64.0);
        assert!(c.novadock.nova_default_route);
        assert_eq!(c.novadock.ovs_bridge, "br-int");
        let c = Config::from_raw(&raw(&[
            "[novadock]\ndefault_route = docker\n[neutron]\novs_bridge = br-x\n",
        ]))
        .expect("valid");
        assert!(!c.novadock.nova_default_route);
        assert_eq!(c.novadock.ovs_bridge, "br-x");
        assert!(!c.novadock.isolate_vif);
        for (v, want) in [
            ("True", true),
            ("yes", true),
            ("0", false),
            ("False", false),
        ] {
            let c = Config::from_raw(&raw(&[&format!("[os_vif_ovs]\nisolate_vif = {v}\n")]))
                .expect("loads");
            assert_eq!(c.novadock.isolate_vif, want, "{v}");
        }
        assert!(Config::from_raw(&raw(&["[os_vif_ovs]\nisolate_vif = maybe\n"])).is_err());
        assert!(Config::from_raw(&raw(&["[novadock]\ndefault_route = both\n"])).is_err());
    }

    #[test]
    fn security_lists() {
        let c = Config::from_raw(&raw(&[""])).expect("valid");
        assert_eq!(c.novadock.cap_drop, DEFAULT_CAP_DROP);
        assert_eq!(c.novadock.socket_allowed_users, None);
        let c = Config::from_raw(&raw(&[
            "[novadock]\ncap_drop =\nsocket_allowed_users = nova, glance,\n",
        ]))
        .expect("valid");
        assert!(
            c.novadock.cap_drop.is_empty(),
            "an empty list drops nothing"
        );
        assert_eq!(
            c.novadock.socket_allowed_users,
            Some(vec!["nova".to_string(), "glance".to_string()])
        );
        let err = Config::from_raw(&raw(&["[novadock]\ncap_drop = NET-RAW\n"]))
            .expect_err("not a capability name");
        assert!(err.to_string().contains("cap_drop"), "{err}");
    }

    #[test]
    fn oslo_semantics() {
        // No escapes or quotes, last repeated key wins, repeated sections merge,
        // section names are case-insensitive except DEFAULT, later files win.
        let c = Config::from_raw(&raw(&[
            "[NovaDock]\nsocket_path = /tmp/a\\b.sock\ndocker_network = \"none\"\n",
            "[novadock]\nsocket_group = nova\nsocket_path = /tmp/x.sock\n[novadock]\nsocket_path = /tmp/y.sock\n",
        ]))
        .expect("valid");
        assert_eq!(c.novadock.socket_path, PathBuf::from("/tmp/y.sock"));
        assert_eq!(c.novadock.docker_network, "\"none\"");
        assert_eq!(c.novadock.socket_group.as_deref(), Some("nova"));
        let c =
            Config::from_raw(&raw(&["[novadock]\nsocket_path = /tmp/a\\b.sock\n"])).expect("valid");
        assert_eq!(c.novadock.socket_path, PathBuf::from("/tmp/a\\b.sock"));
    }

    #[test]
    fn multiline_values_and_comments() {
        let r =
            raw(&["[DEFAULT]\n# comment\nmy_ip = 198.18.0.5\n[filter]\nlist = a,\n  b,\n  c\n"]);
        assert_eq!(r.get("filter", "list"), Some("a,\nb,\nc"));
        assert_eq!(r.get("novadock", "my_ip"), Some("198.18.0.5"));
    }

    #[test]
    fn bad_values_are_named() {
        let err =
            Config::from_raw(&raw(&["[novadock]\npids_limit = lots\n"])).expect_err("invalid");
        let text = err.to_string();
        assert!(text.contains("[novadock] pids_limit"), "{text}");
        assert!(text.contains("lots"), "{text}");
        let err = Config::from_raw(&raw(&["[DEFAULT]\ncpu_allocation_ratio = x\n"]))
            .expect_err("invalid");
        assert!(err.to_string().contains("cpu_allocation_ratio"));
    }

    #[test]
    fn serial_console_options_are_novas() {
        let c = Config::from_raw(&raw(&[""])).expect("valid");
        assert!(!c.serial_console.enabled, "Nova's default is off");
        assert_eq!(c.serial_console.port_range, (10000, 20000));
        assert_eq!(c.serial_console.proxyclient_address, "127.0.0.1");
        assert_eq!(c.novadock.console_command, ["/bin/sh"]);
        let c = Config::from_raw(&raw(&[
            "[serial_console]\nenabled = True\nport_range = 12000:12009\nproxyclient_address = 198.18.0.7\n\
             [novadock]\nconsole_command = /bin/bash -l\n",
        ]))
        .expect("valid");
        assert!(c.serial_console.enabled);
        assert_eq!(c.serial_console.port_range, (12000, 12009));
        assert_eq!(c.serial_console.proxyclient_address, "198.18.0.7");
        assert_eq!(c.novadock.console_command, ["/bin/bash", "-l"]);
        for bad in [
            "port_range = 20:10",
            "port_range = 10000",
            "enabled = maybe",
        ] {
            let err =
                Config::from_raw(&raw(&[&format!("[serial_console]\n{bad}\n")])).expect_err(bad);
            assert!(err.to_string().contains("[serial_console]"), "{err}");
        }
        // [DEFAULT] enabled is some other option's, not the console's.
        let c = Config::from_raw(&raw(&["[DEFAULT]\nenabled = true\n"])).expect("valid");
        assert!(!c.serial_console.enabled);
    }

    #[test]
    fn lifecycle_event_delay_is_the_python_options_float() {
        use std::time::Duration;
        let delay =
            |text: &str| Config::from_raw(&raw(&[text])).map(|c| c.novadock.lifecycle_event_delay);
        assert_eq!(delay("").expect("default"), Duration::from_secs(15));
        for (v, want) in [
            ("0", Duration::ZERO),
            ("0.25", Duration::from_millis(250)),
            ("3600", Duration::from_secs(3600)),
            ("", Duration::from_secs(15)),
        ] {
            assert_eq!(
                delay(&format!("[novadock]\nlifecycle_event_delay = {v}\n")).expect(v),
                want,
                "{v}"
            );
        }
        // Larger than any timer: held for good, without overflowing a clock.
        for v in ["1e300", "inf"] {
            assert_eq!(
                delay(&format!("[novadock]\nlifecycle_event_delay = {v}\n")).expect(v),
                LIFECYCLE_EVENT_DELAY_MAX
            );
        }
        for v in ["-1", "nan", "soon"] {
            let err = delay(&format!("[novadock]\nlifecycle_event_delay = {v}\n")).expect_err(v);
            assert!(err.to_string().contains("lifecycle_event_delay"), "{err}");
        }
        let r = raw(&["[novadock]\nlifecycle_event_delay = 3\n"]);
        assert!(
            Config::unknown_keys(&r).is_empty(),
            "the service's own option"
        );
    }

    #[test]
    fn unknown_novadock_keys_are_listed() {
        let r = raw(&["[novadock]\nsocket_pth = /x\napi_timeout = 3\n"]);
        assert_eq!(Config::unknown_keys(&r), vec!["socket_pth".to_string()]);
    }
}
