//! What a container's main process is allowed to do, read from the process
//! itself: not privileged, no new privileges, Docker's seccomp filter, fewer
//! capabilities than Docker's default, limits always set, and no host path
//! from anything a user controls.

mod common;

use common::*;
use novadock::model::SpawnRequest;

fn req(v: serde_json::Value) -> SpawnRequest {
    serde_json::from_value(v).expect("request")
}

/// Capability bits of Docker's default set (moby's oci/caps/defaults.go).
const DOCKER_DEFAULT: &[(&str, u32)] = &[
    ("CHOWN", 0),
    ("DAC_OVERRIDE", 1),
    ("FOWNER", 3),
    ("FSETID", 4),
    ("KILL", 5),
    ("SETGID", 6),
    ("SETUID", 7),
    ("SETPCAP", 8),
    ("NET_BIND_SERVICE", 10),
    ("NET_RAW", 13),
    ("SYS_CHROOT", 18),
    ("MKNOD", 27),
    ("AUDIT_WRITE", 29),
    ("SETFCAP", 31),
];

fn mask(names: &[&str]) -> u64 {
    DOCKER_DEFAULT
        .iter()
        .filter(|(n, _)| names.contains(n))
        .fold(0, |m, (_, bit)| m | (1u64 << bit))
}

/// A field of the main process's /proc/1/status.
fn status_field(uuid: &str, field: &str) -> String {
    exec(uuid, "cat /proc/1/status")
        .lines()
        .find_map(|l| l.strip_prefix(&format!("{field}:")))
        .unwrap_or_else(|| panic!("no {field} in /proc/1/status"))
        .trim()
        .to_string()
}

#[tokio::test]
async fn the_main_process_runs_confined() {
    let c = compute().await;
    let uuid = new_uuid();
    let _g = Cleanup(uuid.clone());
    let mut r = spawn_request(&uuid);
    // Path-looking user input must stay text: never a mount.
    r["instance"]["metadata"] = serde_json::json!({"VOLUME": "/etc:/host-etc", "BIND": "/:/host"});
    r["image"]["properties"] = serde_json::json!({"os_command_line": "sh -c 'sleep 600'"});
    c.spawn(&req(r)).await.expect("spawn");

    let d = docker_inspect(&format!("nova-{uuid}")).expect("container");
    let hc = &d["HostConfig"];
    assert_eq!(hc["Privileged"], false);
    assert!(hc["Memory"].as_i64().expect("memory") > 0);
    assert_eq!(hc["PidsLimit"], 1024);
    let security: Vec<String> = serde_json::from_value(hc["SecurityOpt"].clone()).expect("opts");
    assert!(security.contains(&"no-new-privileges:true".to_string()));
    assert!(
        !security.iter().any(|o| o.starts_with("seccomp")),
        "Docker's default seccomp profile is not replaced: {security:?}"
    );
    assert!(hc["Binds"].is_null(), "{}", hc["Binds"]);
    assert_eq!(d["Mounts"], serde_json::json!([]));

    // What the process really has.
    let dropped = novadock::config::DEFAULT_CAP_DROP;
    let kept: Vec<&str> = DOCKER_DEFAULT
        .iter()
        .map(|(n, _)| *n)
        .filter(|n| !dropped.contains(n))
        .collect();
    let eff = u64::from_str_radix(&status_field(&uuid, "CapEff"), 16).expect("hex");
    assert_eq!(eff, mask(&kept), "effective capabilities {eff:#x}");
    assert_eq!(
        u64::from_str_radix(&status_field(&uuid, "CapBnd"), 16).expect("hex"),
        mask(&kept),
        "nothing dropped can come back"
    );
    assert_eq!(status_field(&uuid, "NoNewPrivs"), "1");
    assert_eq!(
        status_field(&uuid, "Seccomp"),
        "2",
        "a seccomp filter is on"
    );
    // Dropped for real: no device nodes.
    let out = std::process::Command::new("docker")
        .args([
            "exec",
            &format!("nova-{uuid}"),
            "mknod",
            "/tmp/null2",
            "c",
            "1",
            "3",
        ])
        .output()
        .expect("docker exec");
    assert!(!out.status.success(), "mknod must fail without CAP_MKNOD");
    c.destroy(&uuid, &[]).await.expect("destroy");
}

#[tokio::test]
async fn the_operator_chooses_what_is_dropped() {
    let cfg = config("cap_drop = net_raw, CAP_KILL\n");
    assert_eq!(cfg.novadock.cap_drop, vec!["NET_RAW", "KILL"]);
    let c = compute_with(cfg).await;
    let uuid = new_uuid();
    let _g = Cleanup(uuid.clone());
    c.spawn(&req(spawn_request(&uuid))).await.expect("spawn");
    let eff = u64::from_str_radix(&status_field(&uuid, "CapEff"), 16).expect("hex");
    let kept: Vec<&str> = DOCKER_DEFAULT
        .iter()
        .map(|(n, _)| *n)
        .filter(|n| !["NET_RAW", "KILL"].contains(n))
        .collect();
    assert_eq!(eff, mask(&kept), "effective capabilities {eff:#x}");
    c.destroy(&uuid, &[]).await.expect("destroy");
}
