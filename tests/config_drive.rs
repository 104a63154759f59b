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
