//! The config drive as a container sees it: Nova's files, byte for byte,
//! read-only at cloud-init's seed directory; gone with the instance; and
//! nothing a request names becomes a host path.

mod common;

use base64::Engine as _;
use common::*;
use novadock::model::SpawnRequest;
use serde_json::json;

fn req(v: serde_json::Value) -> SpawnRequest {
    serde_json::from_value(v).expect("request")
}

fn b64(data: &[u8]) -> String {
    base64::engine::general_purpose::STANDARD.encode(data)
}

const SEED: &str = "/var/lib/cloud/seed/config_drive";

#[tokio::test]
async fn the_drive_is_mounted_read_only_and_goes_with_the_instance() {
    let c = compute().await;
    let uuid = new_uuid();
    let _g = Cleanup(uuid.clone());
    // User data is bytes, not text: every byte must arrive.
    let user_data: Vec<u8> = b"#!/bin/sh\necho configured\n\x00\xff\xfe".to_vec();
    let meta = json!({"uuid": uuid, "hostname": "web1", "meta": {"role": "web"}}).to_string();
    let mut r = spawn_request(&uuid);
    r["config_drive"] = json!({
        "openstack/latest/meta_data.json": b64(meta.as_bytes()),
        "openstack/latest/user_data": b64(&user_data),
    });
    c.spawn(&req(r.clone())).await.expect("spawn");

    let got = std::process::Command::new("docker")
        .args(["exec", &format!("nova-{uuid}"), "cat"])
        .arg(format!("{SEED}/openstack/latest/user_data"))
        .output()
        .expect("docker exec");
    assert_eq!(got.stdout, user_data, "user data byte for byte");
    assert_eq!(
        exec(
            &uuid,
            &format!("cat {SEED}/openstack/latest/meta_data.json")
        ),
        meta
    );
    let write = std::process::Command::new("docker")
        .args(["exec", &format!("nova-{uuid}"), "sh", "-c"])
        .arg(format!(
            "echo x > {SEED}/openstack/latest/user_data || touch {SEED}/new"
        ))
        .output()
        .expect("docker exec");
    assert!(!write.status.success(), "the drive is read-only");

    let host_dir = std::path::Path::new("/var/lib/novadock/config-drive").join(&uuid);
    assert!(host_dir.join("openstack/latest/user_data").exists());
    // A rebuild (destroy, spawn) with new user data shows the new data.
    c.destroy(&uuid, &[]).await.expect("destroy");
    assert!(!host_dir.exists(), "destroy leaves no drive on the host");
    r["config_drive"]["openstack/latest/user_data"] = b64(b"second").into();
    c.spawn(&req(r)).await.expect("spawn again");
    assert_eq!(
        exec(&uuid, &format!("cat {SEED}/openstack/latest/user_data")),
        "second"
    );
    c.destroy(&uuid, &[]).await.expect("destroy");
    assert!(!host_dir.exists());
}

#[tokio::test]
async fn drive_paths_cannot_leave_the_drive() {
    let c = compute().await;
    for path in [
        "../../../../etc/novadock-escape",
        "/etc/novadock-escape",
        "a/../../b",
    ] {
        let uuid = new_uuid();
        let _g = Cleanup(uuid.clone());
        let mut r = spawn_request(&uuid);
        r["config_drive"] = json!({ path: b64(b"x") });
        let e = c.spawn(&req(r)).await.expect_err("refused");
        assert!(e.to_string().contains("plain relative path"), "{e}");
        assert!(docker_inspect(&format!("nova-{uuid}")).is_none());
        assert!(!std::path::Path::new("/etc/novadock-escape").exists());
        assert!(
            !std::path::Path::new("/var/lib/novadock/config-drive")
                .join(&uuid)
                .exists()
        );
    }
}

/// A failed boot leaves no drive behind.
#[tokio::test]
async fn a_failed_boot_leaves_no_drive() {
    let c = compute().await;
    let uuid = new_uuid();
    let _g = Cleanup(uuid.clone());
    let mut r = spawn_request(&uuid);
    r["image"]["properties"]["os_command_line"] = "sh -c 'exit 3'".into();
    r["config_drive"] = json!({"openstack/latest/user_data": b64(b"x")});
    c.spawn(&req(r)).await.expect_err("exits at once");
    assert!(
        !std::path::Path::new("/var/lib/novadock/config-drive")
            .join(&uuid)
            .exists()
    );
}

/// Reads `path` on the host as the user `nobody`, as any other user of the
/// host who learnt an instance's uuid would try.
fn read_as_nobody(path: &std::path::Path) -> std::process::Output {
    std::process::Command::new("setpriv")
        .args([
            "--reuid=65534",
            "--regid=65534",
            "--clear-groups",
            "--",
            "cat",
        ])
        .arg(path)
        .output()
        .expect("setpriv")
}

/// The host gid of a container's root: dockerd's data root is named
/// `<uid>.<gid>` under userns-remap.
fn container_root_gid() -> u32 {
    let out = std::process::Command::new("docker")
        .args([
            "info",
            "--format",
            "{{json .SecurityOptions}} {{.DockerRootDir}}",
        ])
        .output()
        .expect("docker info");
    let text = String::from_utf8_lossy(&out.stdout);
    if !text.contains("name=userns") {
        return 0;
    }
    let root = text.split_whitespace().last().unwrap_or_default();
    let name = root.rsplit('/').next().unwrap_or_default();
    name.split_once('.')
        .and_then(|(_, gid)| gid.parse().ok())
        .unwrap_or_else(|| panic!("userns-remap with data root {root:?}"))
}

/// User data holds secrets: a user of the host who knows an instance's uuid
/// reads nothing of its drive (not even with the root directory's 0711),
/// while the container's root, a subordinate uid under userns-remap, still
/// reads it.
#[tokio::test]
async fn other_host_users_cannot_read_a_drive() {
    use std::os::unix::fs::MetadataExt;
    let c = compute().await;
    let uuid = new_uuid();
    let _g = Cleanup(uuid.clone());
    let mut r = spawn_request(&uuid);
    r["config_drive"] = json!({"openstack/latest/user_data": b64(b"password=hunter2")});
    c.spawn(&req(r)).await.expect("spawn");

    let host_dir = std::path::Path::new("/var/lib/novadock/config-drive").join(&uuid);
    let file = host_dir.join("openstack/latest/user_data");
    assert_eq!(
        std::fs::read(&file).expect("root reads"),
        b"password=hunter2"
    );
    let got = read_as_nobody(&file);
    assert!(
        !got.status.success() && got.stdout.is_empty(),
        "nobody read the user data: {got:?}"
    );
    assert!(
        String::from_utf8_lossy(&got.stderr).contains("Permission denied"),
        "{got:?}"
    );
    let gid = container_root_gid();
    for path in [
        host_dir.clone(),
        host_dir.join("openstack"),
        host_dir.join("openstack/latest"),
        file.clone(),
    ] {
        let m = std::fs::symlink_metadata(&path).expect("stat");
        assert_eq!((m.uid(), m.gid()), (0, gid), "{}", path.display());
        assert_eq!(
            m.mode() & 0o007,
            0,
            "{}: nothing for others",
            path.display()
        );
        assert_eq!(m.mode() & 0o222, 0, "{}: nobody writes", path.display());
    }
    // The container's root reads it (the default exec user is its root).
    assert_eq!(
        exec(
            &uuid,
            &format!("id -u; cat {SEED}/openstack/latest/user_data")
        ),
        "0\npassword=hunter2"
    );
    c.destroy(&uuid, &[]).await.expect("destroy");
}
