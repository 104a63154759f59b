//! Attacks a tenant can make with what it controls, each tried for real
//! against the service and the machine's dockerd: the defence must hold.

mod common;

use std::path::Path;

use common::*;
use serde_json::{Value, json};
use tokio::net::UnixStream;

/// The Docker image id a reference points at, if any.
fn image_id(reference: &str) -> Option<String> {
    let out = std::process::Command::new("docker")
        .args(["image", "inspect", "-f", "{{.Id}}", reference])
        .output()
        .ok()?;
    out.status
        .success()
        .then(|| String::from_utf8_lossy(&out.stdout).trim().to_string())
}

/// Unpacks `tarball` into the directory `into`.
fn untar(tarball: &Path, into: &Path) {
    run(
        "tar",
        &[
            "-C",
            &into.display().to_string(),
            "-xf",
            &tarball.display().to_string(),
        ],
    );
}

/// A `docker save` tarball rewritten as a tenant would: its manifest and
/// `repositories` name `tags`. Packed by tar in the ustar format Go writes.
fn with_tags(tarball: &Path, dir: &Path, tags: &[String]) -> Vec<u8> {
    let root = dir.join("poisoned");
    std::fs::create_dir_all(&root).expect("dir");
    untar(tarball, &root);
    let path = root.join("manifest.json");
    let mut manifest: Value =
        serde_json::from_slice(&std::fs::read(&path).expect("manifest")).expect("json");
    manifest[0]["RepoTags"] = json!(tags);
    std::fs::write(&path, manifest.to_string()).expect("write");
    let config = manifest[0]["Config"].as_str().expect("config").to_string();
    let id = config.trim_end_matches(".json");
    let mut repos = serde_json::Map::new();
    for t in tags {
        let (repo, tag) = t.rsplit_once(':').expect("repo:tag");
        repos.insert(repo.to_string(), json!({ tag: id }));
    }
    std::fs::write(root.join("repositories"), Value::Object(repos).to_string()).expect("write");
    let mut names: Vec<String> = std::fs::read_dir(&root)
        .expect("list")
        .map(|e| e.expect("entry").file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    let mut args = vec![
        "-C".to_string(),
        root.display().to_string(),
        "--format=ustar".to_string(),
        "-cf".to_string(),
        "-".to_string(),
    ];
    args.extend(names);
    let out = std::process::Command::new("tar")
        .args(&args)
        .output()
        .expect("tar");
    assert!(out.status.success());
    out.stdout
}

async fn store(socket: &Path, glance_id: &str, data: &[u8]) -> (u16, String) {
    let (status, body) = exchange(
        UnixStream::connect(socket).await.expect("connect"),
        "PUT",
        &format!("/v1/images/{glance_id}/data?hashing_algo=sha256"),
        "application/x-tar",
        data,
    )
    .await;
    (status, String::from_utf8_lossy(&body).into_owned())
}

/// Removes the Glance tags of the test's images whatever happened.
struct Tags(Vec<String>);

impl Drop for Tags {
    fn drop(&mut self) {
        for t in &self.0 {
            let _ = std::process::Command::new("docker")
                .args(["image", "rm", t])
                .output();
        }
    }
}

/// A tenant uploads (glance_store add; a boot's download takes the same
/// path) a tarball naming another project's cache tag and store tag and a
/// tag of the operator's: none of them moves, and the upload gets its own.
#[tokio::test]
async fn an_uploaded_tarball_takes_over_no_tag() {
    let svc = serve(compute().await).await;
    let victim = new_uuid();
    let attacker = new_uuid();
    let operator_tag = format!("novadock-test/operator-{}:latest", &new_uuid()[..8]);
    let _tags = Tags(vec![
        format!("novadock-glance:{victim}"),
        format!("novadock-glance-store:{victim}"),
        format!("novadock-glance:{attacker}"),
        format!("novadock-glance-store:{attacker}"),
        operator_tag.clone(),
    ]);
    let (status, body) = store(&svc.socket, &victim, &docker_save(TEST_IMAGE)).await;
    assert_eq!(status, 201, "{body}");
    let victim_image = image_id(&format!("novadock-glance:{victim}")).expect("victim stored");

    let dir = TempDir::new();
    let (tarball, attacker_image) = unique_image(&dir.0, 0);
    let poisoned = with_tags(
        &tarball,
        &dir.0,
        &[
            format!("novadock-glance:{victim}"),
            format!("novadock-glance-store:{victim}"),
            operator_tag.clone(),
        ],
    );
    let (status, body) = store(&svc.socket, &attacker, &poisoned).await;
    assert_eq!(status, 201, "the image itself is fine: {body}");

    assert_eq!(
        image_id(&format!("novadock-glance:{victim}")).as_deref(),
        Some(victim_image.as_str()),
        "the victim's cache tag still names the victim's image"
    );
    assert_eq!(
        image_id(&format!("novadock-glance-store:{victim}")).as_deref(),
        Some(victim_image.as_str()),
        "the victim's store mark did not move"
    );
    assert_eq!(image_id(&operator_tag), None, "no tag of the operator's");
    assert_eq!(
        image_id(&format!("novadock-glance:{attacker}")).as_deref(),
        Some(attacker_image.as_str()),
        "the upload is tagged by its own Glance id"
    );
}

/// A tarball carrying two images (one of them extra, never accounted for)
/// is refused whole: a clear error, and neither image is left.
#[tokio::test]
async fn a_tarball_with_two_images_is_refused_and_leaves_nothing() {
    let svc = serve(compute().await).await;
    let dir = TempDir::new();
    let (tarball, extra) = unique_image(&dir.0, 0);
    let tag = format!("novadock-test/extra-{}:1", &new_uuid()[..8]);
    run(
        "docker",
        &["load", "-q", "-i", &tarball.display().to_string()],
    );
    run("docker", &["tag", &extra, &tag]);
    let _tags = Tags(vec![tag.clone()]);
    let both = {
        let out = std::process::Command::new("docker")
            .args(["save", TEST_IMAGE, &tag])
            .output()
            .expect("docker save");
        assert!(out.status.success());
        out.stdout
    };
    run("docker", &["rmi", "-f", &extra]);
    assert_eq!(image_id(&extra), None, "the extra image is gone before");

    let id = new_uuid();
    let _own = Tags(vec![
        format!("novadock-glance:{id}"),
        format!("novadock-glance-store:{id}"),
    ]);
    let (status, body) = store(&svc.socket, &id, &both).await;
    assert_eq!(status, 400, "{body}");
    assert!(body.contains("holds 2 images"), "{body}");
    assert_eq!(image_id(&format!("novadock-glance:{id}")), None);
    assert_eq!(image_id(&extra), None, "the extra image was not loaded");
    assert_eq!(image_id(&tag), None);
}

/// Entries `docker save` never writes (here a file outside the image's
/// layout) are refused before Docker sees them.
#[tokio::test]
async fn a_tarball_with_foreign_entries_is_refused() {
    let svc = serve(compute().await).await;
    let dir = TempDir::new();
    let (tarball, _) = unique_image(&dir.0, 0);
    let root = dir.0.join("foreign");
    std::fs::create_dir_all(root.join("etc")).expect("dir");
    untar(&tarball, &root);
    std::fs::write(root.join("etc/evil"), "x").expect("write");
    let out = std::process::Command::new("sh")
        .args([
            "-c",
            &format!(
                "cd {} && tar --format=ustar -cf - etc/evil $(ls | grep -v '^etc$')",
                root.display()
            ),
        ])
        .output()
        .expect("tar");
    assert!(out.status.success());
    let id = new_uuid();
    let _own = Tags(vec![format!("novadock-glance:{id}")]);
    let (status, body) = store(&svc.socket, &id, &out.stdout).await;
    assert_eq!(status, 400, "{body}");
    assert!(body.contains("etc/evil"), "{body}");
    assert_eq!(image_id(&format!("novadock-glance:{id}")), None);
}

/// A boot without Glance access cannot name an engine image: not another
/// project's cached Glance image by its tag, not a resize's filesystem,
/// not the operator's test image. Only Glance, with the user's token,
/// chooses what a container runs.
#[tokio::test]
async fn a_boot_cannot_name_an_engine_image() {
    let base = compute().await;
    let strict = novadock::compute::Compute::new(
        base.docker().clone(),
        config("allow_local_images = false\n"),
    )
    .expect("compute");
    let victim = new_uuid();
    let _tags = Tags(vec![format!("novadock-glance:{victim}")]);
    run(
        "docker",
        &["tag", TEST_IMAGE, &format!("novadock-glance:{victim}")],
    );
    for (id, name) in [
        (None, format!("novadock-glance:{victim}")),
        (Some(victim.clone()), "anything".to_string()),
        (None, TEST_IMAGE.to_string()),
    ] {
        let uuid = new_uuid();
        let _g = Cleanup(uuid.clone());
        let mut r = spawn_request(&uuid);
        r["image"]["id"] = json!(id);
        r["image"]["name"] = json!(name);
        let req: novadock::model::SpawnRequest = serde_json::from_value(r).expect("request");
        let e = strict
            .spawn(&req)
            .await
            .expect_err("no Glance access, no boot");
        assert!(e.to_string().contains("allow_local_images"), "{e}");
        assert!(
            docker_inspect(&format!("nova-{uuid}")).is_none(),
            "no container"
        );
    }
}

fn req(v: Value) -> novadock::model::SpawnRequest {
    serde_json::from_value(v).expect("request")
}

/// An image of a tenant's that carries the service's old labels for moves
/// (`org.openstack.nova.migration-of`, `-resize-of`) naming another
/// project's server: that server's resize and move housekeeping neither
/// removes it nor hands its Glance id on for deletion.
#[tokio::test]
async fn forged_image_labels_move_nothing() {
    let c = compute().await;
    let svc = serve(compute().await).await;
    let victim = new_uuid();
    let _g = Cleanup(victim.clone());
    let _g2 = Cleanup(format!("{victim}-resize"));
    let tenant_image = new_uuid();
    let _tags = Tags(vec![
        format!("novadock-glance:{tenant_image}"),
        format!("novadock-glance-store:{tenant_image}"),
    ]);
    let dir = TempDir::new();
    let (tarball, _) = unique_image_with(
        &dir.0,
        0,
        &[
            &format!("LABEL org.openstack.nova.migration-of={victim}"),
            &format!("LABEL org.openstack.nova.resize-of={victim}"),
            &format!("LABEL org.openstack.nova.instance-uuid={victim}"),
        ],
    );
    let data = std::fs::read(&tarball).expect("tarball");
    let (status, body) = store(&svc.socket, &tenant_image, &data).await;
    assert_eq!(status, 201, "{body}");

    let r = spawn_request(&victim);
    c.spawn(&req(r.clone())).await.expect("spawn");
    let here = c.host().await.expect("host").host_ip;
    c.migrate_out(&victim, &here, 0, 0).await.expect("resize");
    c.finish_migration(&req(r)).await.expect("finish");
    c.confirm_migration(&victim).await.expect("confirm");
    assert_eq!(
        c.forget_migration_images(&victim).await.expect("forget"),
        Vec::<String>::new(),
        "no Glance image of the tenant's goes with the victim's move"
    );
    c.destroy(&victim, &[]).await.expect("destroy");
    for t in [
        format!("novadock-glance:{tenant_image}"),
        format!("novadock-glance-store:{tenant_image}"),
    ] {
        assert!(image_id(&t).is_some(), "{t} stays");
    }
}

/// A cold migration's destination runs on the exported image. A snapshot
/// taken there, the source's clean-up after confirm, and deletes in every
/// state of the move: the snapshot survives, and every delete works.
#[tokio::test]
async fn moves_keep_snapshots_and_deletes_work_in_every_state() {
    let c = compute().await;
    let uuid = new_uuid();
    let _g = Cleanup(uuid.clone());
    let _g2 = Cleanup(format!("{uuid}-resize"));
    let (export, snap) = (new_uuid(), new_uuid());
    let _tags = Tags(vec![
        format!("novadock-glance:{export}"),
        format!("novadock-glance:{snap}"),
        format!("novadock-migration:{uuid}"),
    ]);
    let r = spawn_request(&uuid);
    c.spawn(&req(r.clone())).await.expect("spawn");
    // To another host: the source sets its container aside and exports it.
    c.migrate_out(&uuid, "198.18.250.250", 0, 0)
        .await
        .expect("migrate");
    c.export_migration_image(&uuid, &export)
        .await
        .expect("export");
    // The destination (this engine too) boots the exported Glance image.
    let mut dest = r.clone();
    dest["image"]["id"] = json!(export);
    c.spawn(&req(dest)).await.expect("the destination boots");
    // The user snapshots the moved server.
    c.snapshot(&uuid, &snap).await.expect("snapshot");
    // The destination's delete asks for the move's images first, while its
    // container runs on the exported image: no failure, nothing in use lost.
    let ids = c
        .forget_migration_images(&uuid)
        .await
        .expect("asked while the image is in use");
    assert_eq!(ids, vec![export.clone()], "the export, never the snapshot");
    assert!(image_id(&format!("novadock-glance:{snap}")).is_some());
    c.destroy(&uuid, &[])
        .await
        .expect("delete the moved server");
    assert!(
        image_id(&format!("novadock-glance:{snap}")).is_some(),
        "the snapshot survives the delete"
    );

    // A server deleted in the middle of a move (set aside, exported).
    let mid = new_uuid();
    let _g3 = Cleanup(mid.clone());
    let _g4 = Cleanup(format!("{mid}-resize"));
    let mid_export = new_uuid();
    let _t2 = Tags(vec![format!("novadock-glance:{mid_export}")]);
    c.spawn(&req(spawn_request(&mid))).await.expect("spawn");
    c.migrate_out(&mid, "198.18.250.250", 0, 0)
        .await
        .expect("migrate");
    c.export_migration_image(&mid, &mid_export)
        .await
        .expect("export");
    assert_eq!(
        c.forget_migration_images(&mid).await.expect("forget"),
        vec![mid_export.clone()]
    );
    c.destroy(&mid, &[]).await.expect("delete mid-move");
    assert!(docker_inspect(&format!("nova-{mid}-resize")).is_none());
    assert_eq!(image_id(&format!("novadock-glance:{mid_export}")), None);

    // Resized on this host, unconfirmed; and resized then reverted.
    for revert in [false, true] {
        let u = new_uuid();
        let _g5 = Cleanup(u.clone());
        let _g6 = Cleanup(format!("{u}-resize"));
        let r = spawn_request(&u);
        c.spawn(&req(r.clone())).await.expect("spawn");
        let here = c.host().await.expect("host").host_ip;
        c.migrate_out(&u, &here, 0, 0).await.expect("resize");
        c.finish_migration(&req(r)).await.expect("finish");
        if revert {
            c.revert_migration(&u, &[], true).await.expect("revert");
        }
        c.forget_migration_images(&u).await.expect("forget");
        c.destroy(&u, &[]).await.expect("delete");
        assert!(docker_inspect(&format!("nova-{u}")).is_none());
        assert!(docker_inspect(&format!("nova-{u}-resize")).is_none());
    }
}

/// Deleting a Glance image that a server still runs on works as with a
/// VM's copy: the server keeps running, Glance's store mark goes, and the
/// engine keeps the image only as cache (nothing half-done, no failure).
#[tokio::test]
async fn deleting_a_glance_image_in_use_leaves_the_server_running() {
    let c = compute().await;
    let svc = serve(compute().await).await;
    let id = new_uuid();
    let _tags = Tags(vec![
        format!("novadock-glance:{id}"),
        format!("novadock-glance-store:{id}"),
    ]);
    // An image of its own: the test image's other tags would keep it anyway.
    let dir = TempDir::new();
    let (tarball, _) = unique_image(&dir.0, 0);
    let data = std::fs::read(&tarball).expect("tarball");
    let (status, body) = store(&svc.socket, &id, &data).await;
    assert_eq!(status, 201, "{body}");
    let uuid = new_uuid();
    let _g = Cleanup(uuid.clone());
    let mut r = spawn_request(&uuid);
    r["image"]["id"] = json!(id);
    r["image"]["name"] = json!("not-a-reference");
    c.spawn(&req(r)).await.expect("boots from the stored image");
    let deleted = request(&svc.socket, "DELETE", &format!("/v1/images/{id}"), None).await;
    assert!(deleted.status < 300, "{}", deleted.raw);
    assert_eq!(image_id(&format!("novadock-glance-store:{id}")), None);
    assert!(image_id(&format!("novadock-glance:{id}")).is_some());
    assert_eq!(
        c.get_info(&uuid).await.expect("info").power_state,
        novadock::model::PowerState::Running
    );
    c.destroy(&uuid, &[]).await.expect("destroy");
}
