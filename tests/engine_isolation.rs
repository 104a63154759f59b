//! A tenant's container on an engine set up as the README's security model
//! asks (btrfs with quotas as Docker's storage, `--userns-remap`), each
//! defence tried as a tenant would: writing past its root disk, and being
//! root. Everything else (VIFs, real traffic, snapshots) works under it.

mod common;

use common::private_dockerd::{PrivateDockerd, Storage, docker_cli};
use common::*;
use novadock::compute::Compute;
use novadock::model::{PowerState, SpawnRequest};
use serde_json::json;

fn req(v: serde_json::Value) -> SpawnRequest {
    serde_json::from_value(v).expect("request")
}

/// `sh -c SCRIPT` in the container on the private engine: status and output.
fn sh_in(engine: &PrivateDockerd, uuid: &str, script: &str) -> (bool, String) {
    let out = docker_cli(
        Some(&engine.url()),
        &["exec", &format!("nova-{uuid}"), "sh", "-c", script],
    );
    (
        out.status.success(),
        format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        ),
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_container_is_confined_to_its_disk_and_its_user_namespace() {
    let engine = PrivateDockerd::start_with(249, Storage::Btrfs("4G"), true);
    let url = engine.url();
    let cfg = config(&format!("docker_url = {url}\ndocker_network = none\n"));
    let docker = novadock::docker::connect(&url).await.expect("engine");
    let c = Compute::new(docker, cfg).expect("compute");
    let f = c.features().await.expect("features");
    assert!(f.disk_limits.is_ok(), "{:?}", f.disk_limits);
    assert!(f.userns_remap);
    // Placement hears it: a flavor can require either.
    assert_eq!(
        c.traits().await.expect("traits").traits,
        [
            "CUSTOM_NOVADOCK_ROOT_DISK_LIMIT",
            "CUSTOM_NOVADOCK_USERNS_REMAP"
        ]
    );

    let (a, b) = (new_uuid(), new_uuid());
    let v = vif(27, 10);
    let probe = Probe::new(27);
    for (uuid, vifs) in [(&a, json!([v])), (&b, json!([]))] {
        let mut r = spawn_request(uuid);
        r["flavor"]["root_gb"] = 1.into();
        r["network_info"] = vifs;
        let info = c.spawn(&req(r)).await.expect("spawn");
        assert_eq!(info.power_state, PowerState::Running);
    }

    // Writing past the flavor's 1 GiB root disk fails in the container...
    let (ok, out) = sh_in(
        &engine,
        &a,
        "dd if=/dev/zero of=/fill bs=1M count=1200 2>&1",
    );
    assert!(!ok, "1200 MiB fit in a 1 GiB root disk: {out}");
    assert!(
        out.contains("quota exceeded") || out.contains("No space left"),
        "{out}"
    );
    // ... while its neighbour keeps writing.
    let (ok, out) = sh_in(&engine, &b, "dd if=/dev/zero of=/data bs=1M count=200 2>&1");
    assert!(ok, "the neighbour writes: {out}");

    // The container's root is an unprivileged uid of the host.
    let pid = docker_inspect_on(&engine, &a)["State"]["Pid"]
        .as_i64()
        .expect("pid");
    let map = std::fs::read_to_string(format!("/proc/{pid}/uid_map")).expect("uid_map");
    let fields: Vec<&str> = map.split_whitespace().collect();
    assert_eq!(fields.first(), Some(&"0"), "{map}");
    assert_ne!(
        fields.get(1),
        Some(&"0"),
        "uid 0 inside is uid 0 outside: {map}"
    );
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).expect("status");
    let uid = status
        .lines()
        .find_map(|l| l.strip_prefix("Uid:"))
        .and_then(|u| u.split_whitespace().next())
        .expect("uid");
    assert_ne!(uid, "0", "the main process runs as host uid {uid}");

    // VIFs, real traffic and snapshots work under the remapping.
    sh_in(
        &engine,
        &a,
        "rm -f /fill && mkdir -p /www && echo confined > /www/index.html && httpd -p 8080 -h /www",
    );
    assert!(probe.ping("198.18.27.10"), "eth1 answers");
    let got = (0..5)
        .find_map(|_| {
            let o = std::process::Command::new("ip")
                .args(["netns", "exec", &probe.ns, "curl", "-s", "-m", "3"])
                .arg("http://198.18.27.10:8080/")
                .output()
                .ok()?;
            let body = String::from_utf8_lossy(&o.stdout).into_owned();
            if body.contains("confined") {
                Some(body)
            } else {
                std::thread::sleep(std::time::Duration::from_secs(1));
                None
            }
        })
        .unwrap_or_default();
    assert!(got.contains("confined"), "HTTP over eth1: {got:?}");
    let snap = new_uuid();
    c.snapshot(&b, &snap).await.expect("snapshot");
    let listed = docker_cli(
        Some(&url),
        &["image", "inspect", &format!("novadock-glance:{snap}")],
    );
    assert!(listed.status.success(), "the snapshot is in the engine");

    for uuid in [&a, &b] {
        c.destroy(uuid, &nova_vifs(std::slice::from_ref(&v)))
            .await
            .expect("destroy");
    }
}

fn docker_inspect_on(engine: &PrivateDockerd, uuid: &str) -> serde_json::Value {
    let out = docker_cli(Some(&engine.url()), &["inspect", &format!("nova-{uuid}")]);
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).expect("inspect");
    v[0].clone()
}
