//! Images in the engine through the service: the glance_store backend's
//! operations, the image cache and the Glance facade, on the real dockerd.

mod common;

use common::*;
use tokio::net::{TcpListener, TcpStream, UnixStream};
use tokio::sync::Mutex;

/// A prune with no minimum age takes every unused cache image of the shared
/// engine, another test's fresh snapshot too: the tests that prune so take
/// turns.
static PRUNING: Mutex<()> = Mutex::const_new(());

fn images_with_tag(tag: &str) -> bool {
    run(
        "docker",
        &["images", "--format", "{{.Repository}}:{{.Tag}}"],
    )
    .lines()
    .any(|l| l == tag)
}

#[tokio::test]
async fn a_docker_save_tarball_is_stored_read_back_and_deleted() {
    let _turn = PRUNING.lock().await;
    let svc = serve(compute().await).await;
    let id = new_uuid();
    let tar = docker_save(TEST_IMAGE);
    let path = format!("/v1/images/{id}/data?hashing_algo=sha256");
    let (status, body) = exchange(
        UnixStream::connect(&svc.socket).await.expect("c"),
        "PUT",
        &path,
        "application/x-tar",
        &tar,
    )
    .await;
    assert_eq!(status, 201, "{}", String::from_utf8_lossy(&body));
    let stored: serde_json::Value = serde_json::from_slice(&body).expect("json");
    assert!(images_with_tag(&format!("novadock-glance:{id}")));
    assert_eq!(stored["hashing_algo"], "sha256");

    // What comes back is what the answer described, every time.
    for _ in 0..2 {
        let (status, data) = exchange(
            UnixStream::connect(&svc.socket).await.expect("c"),
            "GET",
            &format!("/v1/images/{id}/data"),
            "application/json",
            b"",
        )
        .await;
        assert_eq!(status, 200);
        assert_eq!(data.len() as u64, stored["size"].as_u64().expect("size"));
        assert_eq!(
            md5_hex(&data),
            stored["checksum"].as_str().expect("checksum")
        );
    }
    let described = request(
        &svc.socket,
        "GET",
        &format!("/v1/images/{id}?hashing_algo=sha256"),
        None,
    )
    .await;
    assert_eq!(described.body["multihash"], stored["multihash"]);

    let (status, _) = exchange(
        UnixStream::connect(&svc.socket).await.expect("c"),
        "PUT",
        &path,
        "application/x-tar",
        &tar,
    )
    .await;
    assert_eq!(status, 201, "an id already stored keeps its image");
    assert!(images_with_tag(&format!("novadock-glance:{id}")));

    // Nova's image cache manager never prunes what Glance's store keeps here.
    let pruned = request(
        &svc.socket,
        "POST",
        "/v1/images/prune",
        Some(r#"{"min_age_seconds": 0}"#),
    )
    .await;
    assert_eq!(pruned.status, 200);
    let removed = pruned.body["removed"].as_array().expect("removed");
    assert!(
        !removed.iter().any(|r| r == id.as_str()),
        "Glance's data pruned: {removed:?}"
    );
    assert!(images_with_tag(&format!("novadock-glance:{id}")));
    assert!(images_with_tag(&format!("novadock-glance-store:{id}")));
    assert_eq!(
        request(&svc.socket, "DELETE", &format!("/v1/images/{id}"), None)
            .await
            .status,
        204
    );
    assert!(!images_with_tag(&format!("novadock-glance:{id}")));
    assert!(!images_with_tag(&format!("novadock-glance-store:{id}")));
    assert_eq!(
        request(&svc.socket, "DELETE", &format!("/v1/images/{id}"), None)
            .await
            .status,
        204
    );
    assert_eq!(
        request(&svc.socket, "GET", &format!("/v1/images/{id}"), None)
            .await
            .status,
        404
    );
}

#[tokio::test]
async fn a_corrupt_tarball_is_refused_and_nothing_is_tagged() {
    let svc = serve(compute().await).await;
    let id = new_uuid();
    let mut tar = docker_save(TEST_IMAGE);
    tar.truncate(tar.len() / 2);
    let (status, body) = exchange(
        UnixStream::connect(&svc.socket).await.expect("c"),
        "PUT",
        &format!("/v1/images/{id}/data"),
        "application/x-tar",
        &tar,
    )
    .await;
    let v: serde_json::Value = serde_json::from_slice(&body).expect("json error");
    assert_eq!(
        (status, v["error"]["code"].as_str()),
        (400, Some("ImageUnacceptable")),
        "{v}"
    );
    assert!(!images_with_tag(&format!("novadock-glance:{id}")));
}

#[tokio::test]
async fn snapshots_and_the_cache_prune() {
    let _turn = PRUNING.lock().await;
    let c = compute().await;
    let uuid = new_uuid();
    let _g = Cleanup(uuid.clone());
    let mut r = spawn_request(&uuid);
    r["image"]["properties"]["os_command_line"] =
        "sh -c 'echo snap > /tmp/marker; exec sleep 3600'".into();
    c.spawn(&serde_json::from_value(r).expect("req"))
        .await
        .expect("spawn");
    let snap = new_uuid();
    let img = c.snapshot(&uuid, &snap).await.expect("snapshot");
    assert!(images_with_tag(&format!("novadock-glance:{snap}")));
    // The snapshot holds the container's filesystem.
    let out = run(
        "docker",
        &["run", "--rm", &img.docker_id, "cat", "/tmp/marker"],
    );
    assert_eq!(out, "snap\n");
    assert!(matches!(
        c.snapshot(&new_uuid(), &new_uuid()).await,
        Err(novadock::error::Error::InstanceNotRunning(_))
    ));

    // Young images stay; old unused ones go; used ones stay whatever their age.
    assert!(!c.images().prune(3600).await.expect("prune").contains(&snap));
    let mut r = spawn_request(&new_uuid());
    let user = r["instance"]["uuid"].as_str().expect("uuid").to_string();
    let _g2 = Cleanup(user.clone());
    r["image"] = serde_json::json!({"id": snap, "name": null, "properties": {}});
    c.spawn(&serde_json::from_value(r).expect("req"))
        .await
        .expect("boot the snapshot");
    assert!(
        !c.images().prune(0).await.expect("prune").contains(&snap),
        "in use"
    );
    c.destroy(&user, &[]).await.expect("destroy");
    assert!(c.images().prune(0).await.expect("prune").contains(&snap));
    assert!(!images_with_tag(&format!("novadock-glance:{snap}")));
}

#[tokio::test]
async fn the_glance_facade_lists_shows_pages_and_serves_images() {
    let c = compute().await;
    // A second image of its own, so that there is a page after the first.
    let dir = TempDir::new();
    std::fs::write(dir.0.join("hello"), "hello").expect("file");
    let extra = format!("novadock-test/facade-paging:{}", &new_uuid()[..8]);
    run(
        "sh",
        &[
            "-c",
            &format!("tar -C {} -c . | docker import - {extra}", dir.0.display()),
        ],
    );
    struct Rmi(String);
    impl Drop for Rmi {
        fn drop(&mut self) {
            let _ = std::process::Command::new("docker")
                .args(["rmi", &self.0])
                .output();
        }
    }
    let _extra = Rmi(extra);
    // Paging and data: the facade as a noauth Glance serves it.
    let addr = serve_facade(c.docker(), novadock::config::FacadeAuth::NoAuth).await;
    let get = |path: String| async move { facade_get(addr, &path, &[]).await };
    let (status, body) = get("/v2/images?limit=1".into()).await;
    assert_eq!(status, 200);
    let page: serde_json::Value = serde_json::from_slice(&body).expect("json");
    let first = &page["images"][0];
    assert_eq!(first["status"], "active");
    assert_eq!(first["container_format"], "docker");
    assert_eq!(first["disk_format"], "raw");
    assert!(uuid::Uuid::parse_str(first["id"].as_str().expect("id")).is_ok());
    let next = page["next"]
        .as_str()
        .expect("more than one image: a next link");
    let (_, body) = get(next.to_string()).await;
    let second: serde_json::Value = serde_json::from_slice(&body).expect("json");
    assert_ne!(second["images"][0]["id"], first["id"]);

    // The test image, found by name, shown, and its data loads in Docker.
    let (_, body) = get(format!("/v2/images?name={TEST_IMAGE}")).await;
    let found: serde_json::Value = serde_json::from_slice(&body).expect("json");
    let id = found["images"][0]["id"]
        .as_str()
        .expect("test image listed")
        .to_string();
    let (status, body) = get(format!("/v2/images/{id}")).await;
    assert_eq!(status, 200);
    let shown: serde_json::Value = serde_json::from_slice(&body).expect("json");
    assert_eq!(shown["name"], TEST_IMAGE);
    let (status, data) = get(format!("/v2/images/{id}/file")).await;
    assert_eq!(status, 200);
    let mut load = std::process::Command::new("docker")
        .args(["load"])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .expect("docker load");
    use std::io::Write;
    load.stdin
        .take()
        .expect("stdin")
        .write_all(&data)
        .expect("feed");
    let out = load.wait_with_output().expect("load");
    assert!(String::from_utf8_lossy(&out.stdout).contains("Loaded image"));
    assert_eq!(get(format!("/v2/images/{}", new_uuid())).await.0, 404);
    assert_eq!(get("/v2/images?marker=nope".into()).await.0, 400);
}

/// Without a token the facade answers 401, as Glance does; a token it
/// cannot validate (Keystone unreachable) gets no image either.
#[tokio::test]
async fn the_glance_facade_serves_nothing_without_a_valid_token() {
    let c = compute().await;
    // Nothing listens on port 1: Keystone is down.
    let keystone = novadock::config::FacadeAuth::Keystone("http://127.0.0.1:1/v3".into());
    let addr = serve_facade(c.docker(), keystone).await;
    let image = run("docker", &["image", "inspect", "-f", "{{.Id}}", TEST_IMAGE]);
    let id = novadock::image::catalog::facade_id(image.trim());
    for path in [
        "/v2/images".to_string(),
        format!("/v2/images/{id}"),
        format!("/v2/images/{id}/file"),
    ] {
        let (status, body) = facade_get(addr, &path, &[]).await;
        assert_eq!(status, 401, "{path}: {}", String::from_utf8_lossy(&body));
        let (status, body) = facade_get(addr, &path, &[("X-Auth-Token", "forged")]).await;
        assert_eq!(status, 503, "{path}: {}", String::from_utf8_lossy(&body));
        assert!(!String::from_utf8_lossy(&body).contains("novadock-test"));
    }
}

/// The Glance facade on the engine, served on a free loopback port.
async fn serve_facade(
    docker: &novadock::docker::Engine,
    auth: novadock::config::FacadeAuth,
) -> std::net::SocketAddr {
    let tcp = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let addr = tcp.local_addr().expect("addr");
    let facade =
        novadock::api::glance_facade::Facade::new(docker.clone(), &auth, None).expect("facade");
    tokio::spawn(axum::serve(tcp, novadock::api::glance_facade::router(facade)).into_future());
    addr
}

/// A GET on the facade with these headers: status and body.
async fn facade_get(
    addr: std::net::SocketAddr,
    path: &str,
    headers: &[(&str, &str)],
) -> (u16, Vec<u8>) {
    let s = TcpStream::connect(addr).await.expect("connect");
    exchange_with_headers(s, "GET", path, headers, b"").await
}
