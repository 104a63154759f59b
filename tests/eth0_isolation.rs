//! eth0 is Docker's bridge, which every project's containers on a host
//! share: over it a tenant must reach neither another tenant's container
//! nor the host's own services. The defences are the engine's
//! configuration (`--icc=false`, tools/lib/dockerd.sh) and the host's
//! firewall for the bridge (`novadock_docker_host_firewall`, same file);
//! this test attacks as a tenant would, from inside its container.

mod common;

use std::io::Read;
use std::net::TcpListener;
use std::process::Command;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use common::*;

/// A shell command in the instance's container; (success, output).
fn try_exec(uuid: &str, script: &str) -> (bool, String) {
    let out = Command::new("docker")
        .args(["exec", &format!("nova-{uuid}"), "sh", "-c", script])
        .output()
        .expect("docker exec");
    let text =
        String::from_utf8_lossy(&out.stdout).into_owned() + &String::from_utf8_lossy(&out.stderr);
    (out.status.success(), text)
}

/// An HTTP GET of port 8080 with busybox's nc (its wget crashes in the
/// static build), giving up after 3 s.
fn http_get(ip: &str) -> String {
    format!("printf 'GET / HTTP/1.0\\r\\n\\r\\n' | nc -w 3 {ip} 8080")
}

fn eth0_address(uuid: &str) -> String {
    let c = docker_inspect(&format!("nova-{uuid}")).expect("container");
    c["NetworkSettings"]["Networks"]["bridge"]["IPAddress"]
        .as_str()
        .expect("eth0 on the bridge")
        .to_string()
}

#[tokio::test]
async fn eth0_reaches_neither_another_tenant_nor_the_host() {
    let compute = compute().await;
    let (attacker, victim) = (new_uuid(), new_uuid());
    let _g = (Cleanup(attacker.clone()), Cleanup(victim.clone()));
    for (uuid, project) in [(&attacker, "tenant-a"), (&victim, "tenant-b")] {
        let mut r = spawn_request(uuid);
        r["instance"]["project_id"] = project.into();
        let req = serde_json::from_value(r).expect("request");
        compute.spawn(&req).await.expect("spawn");
    }

    // The victim serves a page on eth0; it answers inside its container.
    exec(
        &victim,
        "mkdir -p /www && echo victim-secret > /www/index.html",
    );
    run(
        "docker",
        &[
            "exec",
            "-d",
            &format!("nova-{victim}"),
            "httpd",
            "-f",
            "-p",
            "8080",
            "-h",
            "/www",
        ],
    );
    let mut page = String::new();
    for _ in 0..50 {
        page = try_exec(&victim, &http_get("127.0.0.1")).1;
        if page.contains("victim-secret") {
            break;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    assert!(page.contains("victim-secret"), "victim's httpd: {page}");

    // The attacker reaches it neither over eth0 ...
    let ip = eth0_address(&victim);
    let (_, got) = try_exec(&attacker, &http_get(&ip));
    assert!(
        !got.contains("victim-secret"),
        "another tenant's container answered over eth0 ({ip}): dockerd runs with inter-container communication on"
    );

    // ... nor the host's services, by the bridge's gateway address.
    let listener = TcpListener::bind("0.0.0.0:0").expect("listener");
    let port = listener.local_addr().expect("addr").port();
    listener.set_nonblocking(true).expect("nonblocking");
    let reached = Arc::new(AtomicBool::new(false));
    let flag = reached.clone();
    let watcher = std::thread::spawn(move || {
        for _ in 0..60 {
            if let Ok((mut s, _)) = listener.accept() {
                let mut buf = [0u8; 16];
                let _ = s.set_read_timeout(Some(Duration::from_millis(500)));
                let _ = s.read(&mut buf);
                flag.store(true, Ordering::SeqCst);
                return;
            }
            std::thread::sleep(Duration::from_millis(100));
        }
    });
    let gw = docker_gateway();
    let (_, out) = try_exec(
        &attacker,
        &format!("echo probe | nc -w 3 {gw} {port}; echo rc=$?"),
    );
    let _ = watcher.join();
    assert!(
        !reached.load(Ordering::SeqCst),
        "a container opened a connection to the host's port {port} on {gw} over eth0 ({out}): the host's firewall does not cover the bridge"
    );
}
