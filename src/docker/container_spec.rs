//! Turns a spawn request into a Docker container spec: flavor limits, server
//! metadata as environment, the image's command line, identity labels and the
//! security defaults every container gets.

use std::collections::HashMap;

use bollard::models::{
    ContainerCreateBody, HostConfig, HostConfigLogConfig, Mount, MountType, RestartPolicy,
    RestartPolicyNameEnum,
};

use super::command_line;
use super::naming::*;
use crate::config::NovadockConfig;
use crate::error::Error;
use crate::model::SpawnRequest;

const MIB: i64 = 1024 * 1024;
/// Docker refuses memory limits below 6 MiB.
const MIN_MEMORY_MB: u64 = 6;
/// Docker's smallest CPU weight; suspend parks a container on it.
pub const SUSPENDED_CPU_SHARES: i64 = 2;

/// The CPU weight the flavor asks for: `quota:cpu_shares`, else vcpus x 1024.
pub fn flavor_cpu_shares(req: &SpawnRequest) -> Result<i64, Error> {
    match extra_spec_int(req, "quota:cpu_shares")? {
        Some(s) if s < 3 => Err(Error::InvalidInput(format!(
            "flavor {}: quota:cpu_shares must be at least 3, got {s}",
            req.flavor.name
        ))),
        Some(s) => Ok(s),
        None => Ok(1024 * i64::try_from(req.flavor.vcpus.max(1)).unwrap_or(1)),
    }
}

fn extra_spec_int(req: &SpawnRequest, key: &str) -> Result<Option<i64>, Error> {
    req.flavor
        .extra_specs
        .get(key)
        .map(|v| {
            v.trim().parse::<i64>().map_err(|_| {
                Error::InvalidInput(format!(
                    "flavor {}: extra spec {key} must be an integer, got {v:?}",
                    req.flavor.name
                ))
            })
        })
        .transpose()
}

/// Server metadata keys must be usable as environment variable names.
fn environment(req: &SpawnRequest) -> Result<Vec<String>, Error> {
    req.instance
        .metadata
        .iter()
        .map(|(key, value)| {
            let mut chars = key.chars();
            let valid = chars
                .next()
                .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
                && chars.all(|c| c.is_ascii_alphanumeric() || c == '_');
            if !valid {
                return Err(Error::InvalidInput(format!(
                    "server metadata key {key:?} cannot become an environment variable: \
                     use letters, digits and underscores, not starting with a digit"
                )));
            }
            if value.contains('\0') {
                return Err(Error::InvalidInput(format!(
                    "server metadata {key:?} has a NUL character in its value"
                )));
            }
            Ok(format!("{key}={value}"))
        })
        .collect()
}

fn hostname(req: &SpawnRequest) -> String {
    let name = req
        .instance
        .hostname
        .as_deref()
        .filter(|h| !h.is_empty())
        .unwrap_or(&req.instance.uuid);
    let short: String = name.chars().take(63).collect();
    short.trim_end_matches(['-', '.']).to_string()
}

pub fn build(
    req: &SpawnRequest,
    image: &str,
    cfg: &NovadockConfig,
    host: &str,
    disk_limit: bool,
    config_drive: Option<&std::path::Path>,
) -> Result<ContainerCreateBody, Error> {
    let flavor = &req.flavor;
    if flavor.memory_mb < MIN_MEMORY_MB {
        return Err(Error::InvalidInput(format!(
            "flavor {}: memory_mb {} is below the {MIN_MEMORY_MB} MiB a container needs",
            flavor.name, flavor.memory_mb
        )));
    }
    let memory = i64::try_from(flavor.memory_mb)
        .ok()
        .and_then(|m| m.checked_mul(MIB))
        .ok_or_else(|| {
            Error::InvalidInput(format!("flavor {}: memory_mb is too large", flavor.name))
        })?;
    let cpu_shares = flavor_cpu_shares(req)?;
    let cpu_period = extra_spec_int(req, "quota:cpu_period")?;
    if let Some(p) = cpu_period
        && !(1_000..=1_000_000).contains(&p)
    {
        return Err(Error::InvalidInput(format!(
            "flavor {}: quota:cpu_period must be between 1000 and 1000000 microseconds, got {p}",
            flavor.name
        )));
    }
    let cpu_quota = extra_spec_int(req, "quota:cpu_quota")?;
    if let Some(q) = cpu_quota
        && q != -1
        && q < 1_000
    {
        return Err(Error::InvalidInput(format!(
            "flavor {}: quota:cpu_quota must be -1 or at least 1000 microseconds, got {q}",
            flavor.name
        )));
    }
    let cmd = match req.image.properties.get("os_command_line") {
        Some(line) if !line.trim().is_empty() => Some(command_line::split(line).map_err(|e| {
            Error::InvalidInput(format!("image property os_command_line {line:?}: {e}"))
        })?),
        _ => None,
    };

    let console_command = match req.image.properties.get(CONSOLE_COMMAND_PROPERTY) {
        Some(line) if !line.trim().is_empty() => {
            command_line::split(line).map_err(|e| {
                Error::InvalidInput(format!(
                    "image property {CONSOLE_COMMAND_PROPERTY} {line:?}: {e}"
                ))
            })?;
            line.trim().to_string()
        }
        _ => String::new(),
    };

    let mut labels = HashMap::from([
        (LABEL_CONSOLE_COMMAND.to_string(), console_command),
        (LABEL_UUID.to_string(), req.instance.uuid.clone()),
        (LABEL_HOST.to_string(), host.to_string()),
        (LABEL_NAME.to_string(), req.instance.name.clone()),
        (LABEL_FLAVOR.to_string(), flavor.name.clone()),
        (LABEL_VCPUS.to_string(), flavor.vcpus.to_string()),
        (LABEL_MEMORY_MB.to_string(), flavor.memory_mb.to_string()),
        (LABEL_CPU_SHARES.to_string(), cpu_shares.to_string()),
    ]);
    let optional = [
        (LABEL_PROJECT, &req.instance.project_id),
        (LABEL_USER, &req.instance.user_id),
        (LABEL_IMAGE, &req.image.id),
    ];
    for (label, value) in optional {
        if let Some(v) = value {
            labels.insert(label.to_string(), v.clone());
        }
    }

    let host_config = HostConfig {
        memory: Some(memory),
        // Equal to memory: no swap beyond the flavor's RAM.
        memory_swap: Some(memory),
        cpu_shares: Some(cpu_shares),
        cpu_period,
        cpu_quota,
        pids_limit: Some(cfg.pids_limit),
        privileged: Some(false),
        cap_drop: Some(cfg.cap_drop.clone()),
        // Docker's default seccomp profile stays: only no-new-privileges is added.
        security_opt: Some(vec!["no-new-privileges:true".to_string()]),
        network_mode: Some(cfg.docker_network.clone()),
        // Nova owns the lifecycle: a container that stops stays stopped, as a VM would.
        restart_policy: Some(RestartPolicy {
            name: Some(RestartPolicyNameEnum::NO),
            maximum_retry_count: None,
        }),
        // The service's own directory, never a path a user named.
        mounts: config_drive.map(|dir| {
            vec![Mount {
                target: Some(crate::compute::config_drive::MOUNT_POINT.to_string()),
                source: Some(dir.display().to_string()),
                typ: Some(MountType::BIND),
                read_only: Some(true),
                ..Default::default()
            }]
        }),
        // The flavor's root disk caps the writable layer where the engine can.
        storage_opt: (disk_limit && flavor.root_gb > 0)
            .then(|| HashMap::from([("size".to_string(), format!("{}G", flavor.root_gb))])),
        // The console log must stay bounded on the host's disk.
        log_config: Some(HostConfigLogConfig {
            typ: Some("json-file".to_string()),
            config: Some(HashMap::from([
                ("max-size".to_string(), "10m".to_string()),
                ("max-file".to_string(), "2".to_string()),
            ])),
        }),
        ..Default::default()
    };

    Ok(ContainerCreateBody {
        image: Some(image.to_string()),
        hostname: Some(hostname(req)),
        env: Some(environment(req)?),
        cmd,
        labels: Some(labels),
        host_config: Some(host_config),
        ..Default::default()
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::{Config, RawConfig};
    use crate::model::{SpawnFlavor, SpawnImage, SpawnInstance};
    use std::collections::BTreeMap;

    fn request() -> SpawnRequest {
        SpawnRequest {
            instance: SpawnInstance {
                uuid: "6f1d1b0e-8f4e-4b8a-9a53-0c4f7e0e6b11".into(),
                name: "instance-00000001".into(),
                hostname: Some("web1".into()),
                project_id: Some("p1".into()),
                user_id: Some("u1".into()),
                metadata: BTreeMap::from([("GREETING".to_string(), "hello world".to_string())]),
            },
            flavor: SpawnFlavor {
                name: "m1.tiny".into(),
                memory_mb: 64,
                vcpus: 2,
                root_gb: 1,
                extra_specs: BTreeMap::new(),
            },
            image: SpawnImage {
                id: Some("img".into()),
                name: Some("busybox".into()),
                properties: BTreeMap::new(),
                local: None,
            },
            network_info: vec![],
            power_on: true,
            glance: None,
            config_drive: BTreeMap::new(),
        }
    }

    fn cfg() -> NovadockConfig {
        Config::from_raw(&RawConfig::default())
            .expect("defaults")
            .novadock
    }

    #[test]
    fn flavor_and_metadata_shape_the_container() {
        let body = build(&request(), "busybox", &cfg(), "cn1", false, None).expect("valid");
        let hc = body.host_config.expect("host config");
        assert_eq!(hc.memory, Some(64 * MIB));
        assert_eq!(hc.memory_swap, Some(64 * MIB));
        assert_eq!(hc.cpu_shares, Some(2048));
        assert_eq!(hc.pids_limit, Some(1024));
        assert_eq!(hc.privileged, Some(false));
        assert_eq!(
            hc.security_opt,
            Some(vec!["no-new-privileges:true".to_string()])
        );
        assert_eq!(body.env, Some(vec!["GREETING=hello world".to_string()]));
        assert_eq!(body.hostname.as_deref(), Some("web1"));
        assert_eq!(body.cmd, None);
        let labels = body.labels.expect("labels");
        assert_eq!(labels[LABEL_UUID], "6f1d1b0e-8f4e-4b8a-9a53-0c4f7e0e6b11");
        assert_eq!(labels[LABEL_HOST], "cn1");
        assert_eq!(labels[LABEL_FLAVOR], "m1.tiny");
        assert_eq!(labels[LABEL_PROJECT], "p1");
    }

    #[test]
    fn extra_specs_and_command_line() {
        let mut req = request();
        req.flavor
            .extra_specs
            .insert("quota:cpu_shares".into(), "512".into());
        req.flavor
            .extra_specs
            .insert("quota:cpu_quota".into(), "50000".into());
        req.flavor
            .extra_specs
            .insert("quota:cpu_period".into(), "100000".into());
        req.image
            .properties
            .insert("os_command_line".into(), "sh -c 'echo hi'".into());
        let body = build(&req, "busybox", &cfg(), "cn1", false, None).expect("valid");
        let hc = body.host_config.expect("host config");
        assert_eq!(
            (hc.cpu_shares, hc.cpu_quota, hc.cpu_period),
            (Some(512), Some(50000), Some(100000))
        );
        assert_eq!(
            body.cmd,
            Some(vec!["sh".to_string(), "-c".into(), "echo hi".into()])
        );
    }

    #[test]
    fn bad_input_is_refused_with_the_reason() {
        for key in ["1BAD", "A=B", "", "with space"] {
            let mut req = request();
            req.instance.metadata.insert(key.into(), "x".into());
            let err = build(&req, "busybox", &cfg(), "cn1", false, None).expect_err("invalid name");
            assert!(
                matches!(err, Error::InvalidInput(ref m) if m.contains("environment variable")),
                "{err}"
            );
        }
        let mut req = request();
        req.flavor
            .extra_specs
            .insert("quota:cpu_quota".into(), "lots".into());
        assert!(build(&req, "busybox", &cfg(), "cn1", false, None).is_err());
        let mut req = request();
        req.flavor.memory_mb = 1;
        assert!(build(&req, "busybox", &cfg(), "cn1", false, None).is_err());
        let mut req = request();
        req.image
            .properties
            .insert("os_command_line".into(), "sh -c 'oops".into());
        assert!(build(&req, "busybox", &cfg(), "cn1", false, None).is_err());
    }

    #[test]
    fn the_root_disk_becomes_a_limit_where_the_engine_enforces_one() {
        let limited = build(&request(), "busybox", &cfg(), "cn1", true, None).expect("valid");
        assert_eq!(
            limited.host_config.and_then(|h| h.storage_opt),
            Some(HashMap::from([("size".to_string(), "1G".to_string())]))
        );
        let unlimited = build(&request(), "busybox", &cfg(), "cn1", false, None).expect("valid");
        assert_eq!(unlimited.host_config.and_then(|h| h.storage_opt), None);
    }
}
