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

/// A `docker save` tarball rewritten as a tenant would: its manifest and
/// `repositories` name `tags`. Packed by tar in the ustar format Go writes.
fn with_tags(tarball: &Path, dir: &Path, tags: &[String]) -> Vec<u8> {
    let root = dir.join("poisoned");
    std::fs::create_dir_all(&root).expect("dir");
    run(
        "tar",
        &[
            "-C",
            &root.display().to_string(),
            "-xf",
            &tarball.display().to_string(),
        ],
    );
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
    run(
        "tar",
        &[
            "-C",
            &root.display().to_string(),
            "-xf",
            &tarball.display().to_string(),
        ],
    );
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
