//! Resize on the same host: new limits, the same filesystem and network,
//! confirm and revert.

mod common;

use common::*;
use novadock::error::ApiError;
use novadock::model::{PowerState, SpawnRequest};

fn req(v: serde_json::Value) -> SpawnRequest {
    serde_json::from_value(v).expect("request")
}

fn memory_of(uuid: &str) -> i64 {
    docker_inspect(&format!("nova-{uuid}")).expect("container")["HostConfig"]["Memory"]
        .as_i64()
        .expect("memory")
}

#[tokio::test]
async fn resize_confirm_keeps_the_filesystem_with_the_new_flavor() {
    let c = compute().await;
    let uuid = new_uuid();
    let _g = Cleanup(uuid.clone());
    let _g2 = Cleanup(format!("{uuid}-resize"));
    let v = vif(50, 10);
    let mut r = spawn_request(&uuid);
    r["network_info"] = serde_json::json!([v]);
    c.spawn(&req(r.clone())).await.expect("spawn");
    exec(&uuid, "echo kept > /root/marker");
    let here = c.host().await.expect("host").host_ip;

    c.migrate_out(&uuid, &here, 5, 1).await.expect("migrate");
    r["flavor"]["memory_mb"] = 128.into();
    r["flavor"]["name"] = "m1.bigger".into();
    let info = c.finish_migration(&req(r)).await.expect("finish");
    assert_eq!(info.power_state, PowerState::Running);
    assert_eq!(memory_of(&uuid), 128 * 1024 * 1024);
    assert_eq!(exec(&uuid, "cat /root/marker"), "kept\n");
    assert_eq!(
        exec(&uuid, "cat /sys/class/net/eth1/address").trim(),
        v["address"].as_str().expect("mac")
    );
    assert_eq!(
        docker_inspect(&format!("nova-{uuid}")).expect("c")["Config"]["Labels"]["org.openstack.nova.flavor"],
        "m1.bigger"
    );
    let listed = c.list().await.expect("list");
    assert_eq!(
        listed.iter().filter(|i| i.uuid == uuid).count(),
        1,
        "the old container is not an instance"
    );

    c.confirm_migration(&uuid).await.expect("confirm");
    assert!(docker_inspect(&format!("nova-{uuid}-resize")).is_none());
    assert_eq!(
        c.get_info(&uuid).await.expect("info").power_state,
        PowerState::Running
    );
    c.destroy(&uuid, &[]).await.expect("destroy");
    let images = run(
        "docker",
        &["images", "--format", "{{.Repository}}:{{.Tag}}"],
    );
    assert!(
        !images.contains(&uuid),
        "destroy removes the resize image too"
    );
}

#[tokio::test]
async fn resize_revert_brings_the_old_container_back() {
    let c = compute().await;
    let uuid = new_uuid();
    let _g = Cleanup(uuid.clone());
    let _g2 = Cleanup(format!("{uuid}-resize"));
    let mut r = spawn_request(&uuid);
    c.spawn(&req(r.clone())).await.expect("spawn");
    let here = c.host().await.expect("host").nodename;
    c.migrate_out(&uuid, &here, 0, 0).await.expect("migrate");
    r["flavor"]["memory_mb"] = 256.into();
    c.finish_migration(&req(r)).await.expect("finish");
    assert_eq!(memory_of(&uuid), 256 * 1024 * 1024);

    let info = c.revert_migration(&uuid, &[], true).await.expect("revert");
    assert_eq!(info.power_state, PowerState::Running);
    assert_eq!(memory_of(&uuid), 64 * 1024 * 1024, "the old flavor again");
    assert!(docker_inspect(&format!("nova-{uuid}-resize")).is_none());
    c.destroy(&uuid, &[]).await.expect("destroy");
}

#[tokio::test]
async fn resize_to_another_host_is_refused_and_changes_nothing() {
    let c = compute().await;
    let uuid = new_uuid();
    let _g = Cleanup(uuid.clone());
    c.spawn(&req(spawn_request(&uuid))).await.expect("spawn");
    let err = c
        .migrate_out(&uuid, "198.18.250.250", 0, 0)
        .await
        .expect_err("other host");
    assert!(
        matches!(err, ApiError::InvalidInput(ref m) if m.contains("same host")),
        "{err}"
    );
    assert_eq!(
        c.get_info(&uuid).await.expect("info").power_state,
        PowerState::Running
    );
    c.destroy(&uuid, &[]).await.expect("destroy");
}
