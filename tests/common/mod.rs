//! Shared pieces of the integration tests: a real dockerd, the test image,
//! the service's router on a private Unix socket, and a tiny HTTP client.
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::Command;

use novadock::compute::Compute;
use novadock::config::{Config, RawConfig};
use serde_json::Value;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::UnixStream;

pub const TEST_IMAGE: &str = "novadock-test/busybox:latest";

pub fn config(extra: &str) -> Config {
    let mut raw = RawConfig::default();
    raw.merge_str(
        &format!("[novadock]\nstartup_check_seconds = 0.5\n{extra}"),
        Path::new("test.conf"),
    )
    .expect("test config parses");
    Config::from_raw(&raw).expect("test config is valid")
}

/// Compute on the machine's real dockerd; the test image must exist
/// (tools/build-test-image.sh builds it).
pub async fn compute() -> Compute {
    let cfg = config("");
    let docker = novadock::docker::connect(&cfg.novadock.docker_url)
        .await
        .expect("a running dockerd (see .ci/run)");
    docker
        .inspect_image(TEST_IMAGE)
        .await
        .unwrap_or_else(|_| panic!("{TEST_IMAGE} missing: run tools/build-test-image.sh"));
    Compute::new(docker, cfg)
}

pub fn new_uuid() -> String {
    uuid::Uuid::new_v4().to_string()
}

pub fn spawn_request(uuid: &str) -> Value {
    serde_json::json!({
        "instance": {"uuid": uuid, "name": format!("instance-{}", &uuid[..8]), "hostname": "web1",
                     "project_id": "proj", "user_id": "user", "metadata": {}},
        "flavor": {"name": "m1.tiny", "memory_mb": 64, "vcpus": 1, "extra_specs": {}},
        "image": {"id": null, "name": TEST_IMAGE, "properties": {}},
    })
}

/// `docker inspect` through the CLI, as an operator would look.
pub fn docker_inspect(name: &str) -> Option<Value> {
    let out = Command::new("docker")
        .args(["inspect", name])
        .output()
        .ok()?;
    if !out.status.success() {
        return None;
    }
    let v: Value = serde_json::from_slice(&out.stdout).ok()?;
    v.get(0).cloned()
}

/// Removes the instance's container whatever happened in the test.
pub struct Cleanup(pub String);

impl Drop for Cleanup {
    fn drop(&mut self) {
        let _ = Command::new("docker")
            .args(["rm", "-f", &format!("nova-{}", self.0)])
            .output();
    }
}

pub struct Service {
    pub socket: PathBuf,
    _dir: TempDir,
}

/// The real router, served on a temporary socket by the real socket code.
pub async fn serve(compute: Compute) -> Service {
    let dir = TempDir::new();
    let socket = dir.0.join("novadock.sock");
    let mut cfg = compute.config().novadock.clone();
    cfg.socket_path = socket.clone();
    let listener = novadock::server::bind(&cfg).expect("bind");
    tokio::spawn(async move {
        let _ = axum::serve(listener, novadock::api::router(compute)).await;
    });
    Service { socket, _dir: dir }
}

pub struct Response {
    pub status: u16,
    pub body: Value,
    pub raw: String,
}

/// One HTTP/1.1 request with Connection: close, read to the end.
pub async fn request(socket: &Path, method: &str, path: &str, body: Option<&str>) -> Response {
    let mut s = UnixStream::connect(socket).await.expect("connect");
    let body = body.unwrap_or("");
    let head = format!(
        "{method} {path} HTTP/1.1\r\nHost: novadock\r\nConnection: close\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n",
        body.len()
    );
    s.write_all(head.as_bytes()).await.expect("write");
    // The service may answer (413) and close before reading a huge body.
    let _ = s.write_all(body.as_bytes()).await;
    let mut buf = Vec::new();
    let _ = s.read_to_end(&mut buf).await;
    let text = String::from_utf8_lossy(&buf).into_owned();
    let status = text
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .expect("status line");
    let payload = text.split_once("\r\n\r\n").map(|(_, b)| b).unwrap_or("");
    let payload = if text
        .to_ascii_lowercase()
        .contains("transfer-encoding: chunked")
    {
        dechunk(payload)
    } else {
        payload.to_string()
    };
    Response {
        status,
        body: serde_json::from_str(&payload).unwrap_or(Value::Null),
        raw: payload,
    }
}

fn dechunk(mut s: &str) -> String {
    let mut out = String::new();
    while let Some((size, rest)) = s.split_once("\r\n") {
        let n = usize::from_str_radix(size.trim(), 16).unwrap_or(0);
        if n == 0 || rest.len() < n {
            break;
        }
        out.push_str(&rest[..n]);
        s = rest[n..].trim_start_matches("\r\n");
    }
    out
}

pub struct TempDir(pub PathBuf);

impl TempDir {
    pub fn new() -> Self {
        let p = std::env::temp_dir().join(format!("novadock-test-{}", uuid::Uuid::new_v4()));
        std::fs::create_dir_all(&p).expect("temp dir");
        TempDir(p)
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}
