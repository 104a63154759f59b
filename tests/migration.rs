//! Resize on the same host (new limits, the same filesystem and network,
//! confirm and revert) and the source side of a move to another host.

mod common;

use common::*;
use novadock::error::Error;
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

/// A running instance (no VIF) to resize on this host, named by `here`.
struct Resizable {
    c: novadock::compute::Compute,
    uuid: String,
    r: serde_json::Value,
    here: String,
    _g: (Cleanup, Cleanup),
}

impl Resizable {
    async fn spawn() -> Self {
        let c = compute().await;
        let uuid = new_uuid();
        let _g = (Cleanup(uuid.clone()), Cleanup(format!("{uuid}-resize")));
        let r = spawn_request(&uuid);
        c.spawn(&req(r.clone())).await.expect("spawn");
        let here = c.host().await.expect("host").nodename;
        Resizable {
            c,
            uuid,
            r,
            here,
            _g,
        }
    }
}

#[tokio::test]
async fn resize_revert_brings_the_old_container_back() {
    let Resizable {
        c,
        uuid,
        mut r,
        here,
        _g,
    } = Resizable::spawn().await;
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

/// The engine's images committed for the instance's resizes, as `docker
/// images` shows them.
fn resize_images(uuid: &str) -> Vec<String> {
    let filter = format!("reference=novadock-resize:{uuid}.*");
    run(
        "docker",
        &["images", "-q", "--no-trunc", "--filter", &filter],
    )
    .lines()
    .map(String::from)
    .collect()
}

fn image_of(uuid: &str) -> String {
    docker_inspect(&format!("nova-{uuid}")).expect("container")["Image"]
        .as_str()
        .expect("image")
        .to_string()
}

#[tokio::test]
async fn repeated_resizes_leave_no_image_behind() {
    let Resizable {
        c,
        uuid,
        mut r,
        here,
        _g,
    } = Resizable::spawn().await;

    // Resize, confirm, resize again: the second commit moves the tag off
    // the first image, which the old container still runs on.
    for memory in [96, 128] {
        c.migrate_out(&uuid, &here, 0, 0).await.expect("migrate");
        r["flavor"]["memory_mb"] = memory.into();
        c.finish_migration(&req(r.clone())).await.expect("finish");
        c.confirm_migration(&uuid).await.expect("confirm");
        assert_eq!(
            resize_images(&uuid),
            vec![image_of(&uuid)],
            "after {memory} MiB"
        );
    }
    // A third resize, reverted: the container is back on the second image.
    c.migrate_out(&uuid, &here, 0, 0).await.expect("migrate");
    r["flavor"]["memory_mb"] = 160.into();
    c.finish_migration(&req(r)).await.expect("finish");
    c.revert_migration(&uuid, &[], true).await.expect("revert");
    assert_eq!(memory_of(&uuid), 128 * 1024 * 1024);
    assert_eq!(
        resize_images(&uuid),
        vec![image_of(&uuid)],
        "after the revert"
    );

    c.destroy(&uuid, &[]).await.expect("destroy");
    // Every image committed from the instance carries its uuid label.
    let filter = format!("label=org.openstack.nova.instance-uuid={uuid}");
    assert_eq!(
        run("docker", &["images", "-a", "-q", "--filter", &filter]),
        "",
        "destroy leaves no image committed from the instance"
    );
}

#[tokio::test]
async fn migrating_to_another_host_exports_the_filesystem_as_a_bootable_image() {
    let c = compute().await;
    let uuid = new_uuid();
    let glance_id = new_uuid();
    let _g = Cleanup(uuid.clone());
    let _g2 = Cleanup(format!("{uuid}-resize"));
    let _i = ImageCleanup(format!("novadock-glance:{glance_id}"));
    let v = vif(52, 10);
    let port = v["devname"].as_str().expect("devname").to_string();
    let mut r = spawn_request(&uuid);
    r["network_info"] = serde_json::json!([v]);
    c.spawn(&req(r)).await.expect("spawn");
    exec(&uuid, "echo travelled > /root/marker");

    let same_host = c
        .migrate_out(&uuid, "198.18.250.250", 5, 1)
        .await
        .expect("migrate");
    assert!(!same_host, "198.18.250.250 is not this host");
    assert!(
        !c.list().await.expect("list").iter().any(|i| i.uuid == uuid),
        "the stopped old container is no longer an instance of this host"
    );
    let aside = docker_inspect(&format!("nova-{uuid}-resize")).expect("kept aside for a revert");
    assert_eq!(aside["State"]["Running"], false);

    let exported = c
        .export_migration_image(&uuid, &glance_id)
        .await
        .expect("export");
    let image = docker_inspect_image(&format!("novadock-glance:{glance_id}")).expect("image");
    assert_eq!(image["Id"], exported.docker_id.as_str());
    assert_eq!(
        docker_inspect_image(&format!("novadock-migration:{uuid}")).expect("tagged")["Id"],
        exported.docker_id.as_str(),
        "the service's own tag marks the export"
    );

    // What the destination does with it: boot the Glance image.
    let other = new_uuid();
    let _g3 = Cleanup(other.clone());
    let mut booted = spawn_request(&other);
    booted["image"]["id"] = glance_id.clone().into();
    c.spawn(&req(booted))
        .await
        .expect("boot the exported image");
    assert_eq!(exec(&other, "cat /root/marker"), "travelled\n");
    c.destroy(&other, &[]).await.expect("destroy the copy");

    // Confirm on the source: the old container, its OVS port and the export go.
    c.confirm_migration(&uuid).await.expect("confirm");
    assert_eq!(
        c.forget_migration_images(&uuid).await.expect("forget"),
        vec![glance_id.clone()]
    );
    assert!(docker_inspect_image(&format!("novadock-glance:{glance_id}")).is_none());
    assert!(docker_inspect(&format!("nova-{uuid}-resize")).is_none());
    assert!(
        !vsctl(&["list-ports", "br-int"]).lines().any(|p| p == port),
        "the source's OVS port {port} is gone"
    );
}

#[tokio::test]
async fn a_reverted_migration_to_another_host_brings_the_instance_back() {
    let c = compute().await;
    let uuid = new_uuid();
    let glance_id = new_uuid();
    let _g = Cleanup(uuid.clone());
    let _g2 = Cleanup(format!("{uuid}-resize"));
    let _i = ImageCleanup(format!("novadock-glance:{glance_id}"));
    let v = vif(51, 10);
    let mut r = spawn_request(&uuid);
    r["network_info"] = serde_json::json!([v]);
    c.spawn(&req(r)).await.expect("spawn");

    assert!(
        !c.migrate_out(&uuid, "198.18.250.250", 5, 1)
            .await
            .expect("migrate")
    );
    c.export_migration_image(&uuid, &glance_id)
        .await
        .expect("export");
    assert_eq!(
        c.forget_migration_images(&uuid).await.expect("forget"),
        vec![glance_id.clone()]
    );
    assert!(docker_inspect_image(&format!("novadock-glance:{glance_id}")).is_none());

    let info = c
        .revert_migration(&uuid, &nova_vifs(std::slice::from_ref(&v)), true)
        .await
        .expect("revert");
    assert_eq!(info.power_state, PowerState::Running);
    assert_eq!(
        exec(&uuid, "cat /sys/class/net/eth1/address").trim(),
        v["address"].as_str().expect("mac")
    );
    c.destroy(&uuid, &[v.into()]).await.expect("destroy");
}

#[tokio::test]
async fn exporting_without_a_migration_in_progress_is_instance_not_found() {
    let c = compute().await;
    let err = c
        .export_migration_image(&new_uuid(), &new_uuid())
        .await
        .expect_err("nothing aside");
    assert!(matches!(err, Error::InstanceNotFound(_)), "{err}");
}
