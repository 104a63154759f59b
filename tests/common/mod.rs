//! Shared pieces of the integration tests: a real dockerd, the test image,
//! the service's router on a private Unix socket, and a tiny HTTP client.
#![allow(dead_code)]

pub mod private_dockerd;

use std::path::{Path, PathBuf};
use std::process::Command;

use novadock::compute::Compute;
use novadock::config::{Config, RawConfig};
use serde_json::Value;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::UnixStream;

pub const TEST_IMAGE: &str = "novadock-test/busybox:latest";

/// The Nova host the tests' service serves: not the machine's hostname, so
/// that a cloud on the same engine (cloud/up.sh) and the tests see only
/// their own containers.
pub const TEST_HOST: &str = "novadock-tests";

/// The private Open vSwitch the tests use (tools/start-ovs.sh starts it).
pub fn ovsdb() -> String {
    std::env::var("NOVADOCK_TEST_OVSDB")
        .unwrap_or_else(|_| "unix:/run/novadock-test-ovs/db.sock".to_string())
}

pub fn config(extra: &str) -> Config {
    let mut raw = RawConfig::default();
    let text = format!(
        "[DEFAULT]\nhost = {TEST_HOST}\n[novadock]\nallow_local_images = true\novsdb_connection = {}\n{extra}",
        ovsdb()
    );
    raw.merge_str(&text, Path::new("test.conf"))
        .expect("test config parses");
    Config::from_raw(&raw).expect("test config is valid")
}

/// Compute on the machine's real dockerd; the test image must exist
/// (tools/build-test-image.sh builds it).
pub async fn compute() -> Compute {
    let c = compute_with(config("")).await;
    c.docker()
        .inspect_image(TEST_IMAGE)
        .await
        .unwrap_or_else(|_| panic!("{TEST_IMAGE} missing: run tools/build-test-image.sh"));
    c
}

/// Compute with this configuration, on the machine's real dockerd.
pub async fn compute_with(cfg: Config) -> Compute {
    let docker = novadock::docker::connect(&cfg.novadock.docker_url)
        .await
        .expect("a running dockerd (see .ci/run)");
    Compute::new(docker, cfg).expect("compute")
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
    inspect_with(&["inspect", name])
}

/// `docker image inspect`, as an operator would look.
pub fn docker_inspect_image(reference: &str) -> Option<Value> {
    inspect_with(&["image", "inspect", reference])
}

fn inspect_with(args: &[&str]) -> Option<Value> {
    let out = Command::new("docker").args(args).output().ok()?;
    if !out.status.success() {
        return None;
    }
    let v: Value = serde_json::from_slice(&out.stdout).ok()?;
    v.get(0).cloned()
}

/// The gateway of dockerd's default bridge network (eth0's default route).
pub fn docker_gateway() -> String {
    run(
        "docker",
        &[
            "network",
            "inspect",
            "bridge",
            "-f",
            "{{(index .IPAM.Config 0).Gateway}}",
        ],
    )
    .trim()
    .to_string()
}

/// Removes an image whatever happened in the test.
pub struct ImageCleanup(pub String);

impl Drop for ImageCleanup {
    fn drop(&mut self) {
        let _ = Command::new("docker")
            .args(["image", "rm", "-f", &self.0])
            .output();
    }
}

/// Removes the instance's container whatever happened in the test, its
/// config drive in the default directory (a failed test must not leave user
/// data behind), and the images committed from it (resizes, snapshots: they
/// carry its uuid label).
pub struct Cleanup(pub String);

impl Drop for Cleanup {
    fn drop(&mut self) {
        let _ = Command::new("docker")
            .args(["rm", "-f", &format!("nova-{}", self.0)])
            .output();
        if uuid::Uuid::parse_str(&self.0).is_ok() {
            let _ =
                std::fs::remove_dir_all(Path::new("/var/lib/novadock/config-drive").join(&self.0));
        }
        let filter = format!("label=org.openstack.nova.instance-uuid={}", self.0);
        let Ok(out) = Command::new("docker")
            .args(["images", "-a", "-q", "--filter", &filter])
            .output()
        else {
            return;
        };
        let ids = String::from_utf8_lossy(&out.stdout);
        let ids: Vec<&str> = ids.split_whitespace().collect();
        if !ids.is_empty() {
            let _ = Command::new("docker")
                .args(["rmi", "-f"])
                .args(&ids)
                .output();
        }
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
    let s = UnixStream::connect(socket).await.expect("connect");
    let (status, payload) = exchange(
        s,
        method,
        path,
        "application/json",
        body.unwrap_or("").as_bytes(),
    )
    .await;
    Response {
        status,
        body: serde_json::from_slice(&payload).unwrap_or(Value::Null),
        raw: String::from_utf8_lossy(&payload).into_owned(),
    }
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

/// `ovs-vsctl` on the test OVS.
pub fn vsctl(args: &[&str]) -> String {
    let out = Command::new("ovs-vsctl")
        .arg(format!("--db={}", ovsdb()))
        .arg("--timeout=10")
        .args(args)
        .output()
        .expect("ovs-vsctl runs");
    assert!(
        out.status.success(),
        "ovs-vsctl {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).trim().to_string()
}

/// A Nova OVS VIF on br-int with one IPv4 subnet 198.18.<net>.0/24.
pub fn vif(net: u8, host: u8) -> Value {
    let id = new_uuid();
    serde_json::json!({
        "id": id, "address": format!("fa:16:3e:{:02x}:{:02x}:{:02x}", net, host, rand_byte()),
        "type": "ovs", "devname": format!("tap{}", &id[..11]), "ovs_interfaceid": id, "active": true,
        "details": {"port_filter": true, "bridge_name": "br-int"}, "vnic_type": "normal",
        "network": {"id": new_uuid(), "bridge": "br-int", "label": "private", "meta": {"mtu": 1400},
            "subnets": [{"cidr": format!("198.18.{net}.0/24"), "version": 4,
                "gateway": {"address": format!("198.18.{net}.1"), "type": "gateway"},
                "ips": [{"address": format!("198.18.{net}.{host}"), "type": "fixed"}],
                "routes": [], "dns": []}]}
    })
}

/// network_info as the service's request model reads it.
pub fn nova_vifs(values: &[Value]) -> Vec<novadock::model::VifEntry> {
    values.iter().cloned().map(Into::into).collect()
}

fn rand_byte() -> u8 {
    uuid::Uuid::new_v4().as_bytes()[0]
}

/// An internal port of br-int in a namespace of its own, with an address on
/// 198.18.<net>.0/24: a host on the tenant network to ping from.
pub struct Probe {
    pub ns: String,
    pub port: String,
}

impl Probe {
    pub fn new(net: u8) -> Probe {
        let tag = &new_uuid()[..6];
        let p = Probe {
            ns: format!("ndprobe-{tag}"),
            port: format!("ndp{tag}"),
        };
        vsctl(&[
            "add-port",
            "br-int",
            &p.port,
            "--",
            "set",
            "Interface",
            &p.port,
            "type=internal",
        ]);
        run("ip", &["netns", "add", &p.ns]);
        // The userspace datapath creates the internal port's tap device shortly after.
        for _ in 0..50 {
            if Command::new("ip")
                .args(["link", "show", &p.port])
                .output()
                .is_ok_and(|o| o.status.success())
            {
                break;
            }
            std::thread::sleep(std::time::Duration::from_millis(100));
        }
        run("ip", &["link", "set", &p.port, "netns", &p.ns]);
        run(
            "ip",
            &[
                "-n",
                &p.ns,
                "addr",
                "add",
                &format!("198.18.{net}.250/24"),
                "dev",
                &p.port,
            ],
        );
        run("ip", &["-n", &p.ns, "link", "set", &p.port, "up"]);
        p
    }

    /// True when `ip` answers a ping within a few tries.
    pub fn ping(&self, ip: &str) -> bool {
        ping_from(&self.ns, ip, 10)
    }
}

impl Drop for Probe {
    fn drop(&mut self) {
        let _ = Command::new("ovs-vsctl")
            .arg(format!("--db={}", ovsdb()))
            .args(["--if-exists", "del-port", &self.port])
            .output();
        let _ = Command::new("ip").args(["netns", "del", &self.ns]).output();
    }
}

/// Sends SIGTERM to `pid` (a daemon the test or its harness started) and
/// waits up to `wait` for it to be gone.
pub fn terminate(pid: i32, wait: std::time::Duration) {
    // SAFETY: kill has no memory-safety preconditions.
    unsafe { libc::kill(pid, libc::SIGTERM) };
    let deadline = std::time::Instant::now() + wait;
    while std::time::Instant::now() < deadline && Path::new(&format!("/proc/{pid}")).exists() {
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
}

/// True when `ip` answers a ping from namespace `ns` within `tries` seconds.
pub fn ping_from(ns: &str, ip: &str, tries: usize) -> bool {
    (0..tries).any(|_| {
        Command::new("ip")
            .args(["netns", "exec", ns, "ping", "-c", "1", "-W", "1", ip])
            .output()
            .is_ok_and(|o| o.status.success())
    })
}

pub fn run(cmd: &str, args: &[&str]) -> String {
    let out = Command::new(cmd)
        .args(args)
        .output()
        .unwrap_or_else(|e| panic!("{cmd}: {e}"));
    assert!(
        out.status.success(),
        "{cmd} {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// A command inside the instance's container.
pub fn exec(uuid: &str, script: &str) -> String {
    run(
        "docker",
        &["exec", &format!("nova-{uuid}"), "sh", "-c", script],
    )
}

pub fn host_link_exists(name: &str) -> bool {
    Path::new("/sys/class/net").join(name).exists()
}

/// Reads the /v1/events stream line by line.
pub struct EventStream {
    stream: UnixStream,
    buf: String,
}

impl EventStream {
    pub async fn open(socket: &Path) -> EventStream {
        let mut stream = UnixStream::connect(socket).await.expect("connect");
        stream
            .write_all(b"GET /v1/events HTTP/1.1\r\nHost: novadock\r\n\r\n")
            .await
            .expect("write");
        EventStream {
            stream,
            buf: String::new(),
        }
    }

    /// Opened and subscribed: the stream's first line is a heartbeat, sent
    /// once the service listens for this reader.
    pub async fn open_ready(socket: &Path) -> EventStream {
        let mut events = EventStream::open(socket).await;
        let deadline = tokio::time::Instant::now() + std::time::Duration::from_secs(10);
        while !events.buf.contains("\"heartbeat\"") {
            let mut chunk = [0u8; 4096];
            let n = tokio::time::timeout_at(deadline, events.stream.read(&mut chunk))
                .await
                .expect("the event stream's first heartbeat")
                .expect("read");
            assert!(n > 0, "the event stream ended before its first line");
            events.buf.push_str(&String::from_utf8_lossy(&chunk[..n]));
        }
        events
    }

    /// The next event line (heartbeats skipped), or None after `limit`.
    pub async fn next(&mut self, limit: std::time::Duration) -> Option<Value> {
        let deadline = tokio::time::Instant::now() + limit;
        loop {
            while let Some(pos) = self.buf.find('\n') {
                let line: String = self.buf.drain(..=pos).collect();
                if let Ok(v) = serde_json::from_str::<Value>(line.trim())
                    && v.get("event").is_some_and(|e| e != "heartbeat")
                {
                    return Some(v);
                }
            }
            let mut chunk = [0u8; 4096];
            let n = tokio::time::timeout_at(deadline, self.stream.read(&mut chunk))
                .await
                .ok()?
                .ok()?;
            if n == 0 {
                return None;
            }
            self.buf.push_str(&String::from_utf8_lossy(&chunk[..n]));
        }
    }

    /// Waits for `event` about `uuid`, skipping others.
    pub async fn expect(&mut self, uuid: &str, event: &str, limit: std::time::Duration) -> bool {
        let deadline = tokio::time::Instant::now() + limit;
        while let Some(v) = self.next(deadline - tokio::time::Instant::now()).await {
            if v["uuid"] == uuid && v["event"] == event {
                return true;
            }
        }
        false
    }
}

/// A request with a binary body over any stream; the answer's status and
/// de-chunked body bytes.
pub async fn exchange<S>(
    s: S,
    method: &str,
    path: &str,
    content_type: &str,
    body: &[u8],
) -> (u16, Vec<u8>)
where
    S: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin,
{
    exchange_with_headers(s, method, path, &[("Content-Type", content_type)], body).await
}

/// One request with the given headers, read to the end: status and body.
pub async fn exchange_with_headers<S>(
    mut s: S,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
    body: &[u8],
) -> (u16, Vec<u8>)
where
    S: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin,
{
    let extra: String = headers
        .iter()
        .map(|(k, v)| format!("{k}: {v}\r\n"))
        .collect();
    let head = format!(
        "{method} {path} HTTP/1.1\r\nHost: novadock\r\nConnection: close\r\n{extra}Content-Length: {}\r\n\r\n",
        body.len()
    );
    s.write_all(head.as_bytes()).await.expect("write");
    let _ = s.write_all(body).await;
    let mut buf = Vec::new();
    let _ = s.read_to_end(&mut buf).await;
    let split = buf
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .expect("headers")
        + 4;
    let headers = String::from_utf8_lossy(&buf[..split]).to_ascii_lowercase();
    let status = headers
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .expect("status");
    let mut rest = &buf[split..];
    if !headers.contains("transfer-encoding: chunked") {
        return (status, rest.to_vec());
    }
    let mut out = Vec::new();
    while let Some(eol) = rest.windows(2).position(|w| w == b"\r\n") {
        let size =
            usize::from_str_radix(String::from_utf8_lossy(&rest[..eol]).trim(), 16).unwrap_or(0);
        if size == 0 || rest.len() < eol + 2 + size {
            break;
        }
        out.extend_from_slice(&rest[eol + 2..eol + 2 + size]);
        rest = &rest[eol + 2 + size..];
        rest = rest.strip_prefix(b"\r\n").unwrap_or(rest);
    }
    (status, out)
}

pub fn md5_hex(data: &[u8]) -> String {
    let mut h = novadock::image::digest::Hasher::new("md5").expect("md5");
    h.update(data);
    h.hex()
}

/// `docker save` of an image, as bytes.
pub fn docker_save(reference: &str) -> Vec<u8> {
    let out = Command::new("docker")
        .args(["save", reference])
        .output()
        .expect("docker save");
    assert!(out.status.success());
    out.stdout
}

/// A small image of its own (busybox, a marker file, `extra_mib` MiB of
/// noise), saved to `dir/image.tar` and removed from the engine: its
/// tarball and Docker id.
pub fn unique_image(dir: &Path, extra_mib: usize) -> (PathBuf, String) {
    unique_image_with(dir, extra_mib, &[])
}

/// `unique_image` with Dockerfile instructions of the image's own (`LABEL
/// ...`): what a tenant's image may carry.
pub fn unique_image_with(dir: &Path, extra_mib: usize, changes: &[&str]) -> (PathBuf, String) {
    let root = dir.join("rootfs");
    std::fs::create_dir_all(root.join("bin")).expect("rootfs");
    std::fs::copy("/bin/busybox", root.join("bin/busybox")).expect("busybox-static");
    std::os::unix::fs::symlink("busybox", root.join("bin/sh")).expect("sh");
    std::os::unix::fs::symlink("busybox", root.join("bin/sleep")).expect("sleep");
    std::os::unix::fs::symlink("busybox", root.join("bin/cat")).expect("cat");
    std::fs::write(root.join("marker"), new_uuid()).expect("marker");
    let mut blob = Vec::with_capacity(extra_mib << 20);
    let mut x: u64 = uuid::Uuid::new_v4().as_u128() as u64 | 1;
    while blob.len() < extra_mib << 20 {
        // xorshift: incompressible enough, and fast.
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        blob.extend_from_slice(&x.to_le_bytes());
    }
    std::fs::write(root.join("blob"), blob).expect("blob");
    let tag = format!("novadock-fault/{}:1", &new_uuid()[..8]);
    let extra: String = changes.iter().map(|c| format!(" -c '{c}'")).collect();
    let script = format!(
        "tar -C {} -c . | docker import -c 'CMD [\"/bin/sleep\", \"600\"]'{extra} - {tag} >/dev/null",
        root.display()
    );
    run("sh", &["-c", &script]);
    let id = run("docker", &["image", "inspect", "-f", "{{.Id}}", &tag])
        .trim()
        .to_string();
    let tarball = dir.join("image.tar");
    run(
        "docker",
        &["save", "-o", &tarball.display().to_string(), &tag],
    );
    run("docker", &["rmi", &tag]);
    (tarball, id)
}
