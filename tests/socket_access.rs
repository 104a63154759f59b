//! Who may use the socket: the file mode lets socket_group in, and the
//! service then checks each connection's peer credentials against
//! socket_allowed_users. Requests are made as the unprivileged user `nobody`
//! (group `nogroup`) with setpriv and curl, as another service's user would.

mod common;

use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::process::Command;

use common::*;

/// GET /v1/version as uid/gid 65534 (nobody/nogroup): (HTTP status, body).
fn version_as_nobody(socket: &Path) -> (u16, serde_json::Value) {
    let out = Command::new("setpriv")
        .args([
            "--reuid=65534",
            "--regid=65534",
            "--clear-groups",
            "curl",
            "-sS",
            "--max-time",
            "10",
            "-w",
            "\n%{http_code}",
            "--unix-socket",
        ])
        .arg(socket)
        .arg("http://novadock/v1/version")
        .output()
        .expect("setpriv and curl (util-linux, curl)");
    let text = String::from_utf8_lossy(&out.stdout).to_string();
    let Some((body, code)) = text.rsplit_once('\n') else {
        panic!("curl: {}", String::from_utf8_lossy(&out.stderr));
    };
    if code.trim() == "000" {
        panic!("curl: {}", String::from_utf8_lossy(&out.stderr));
    }
    let status = code.trim().parse().unwrap_or(0);
    (
        status,
        serde_json::from_str(body).unwrap_or(serde_json::Value::Null),
    )
}

/// The service on a socket in a directory everyone may enter, with `extra`
/// added to its [novadock] options.
async fn serve_with(extra: &str) -> (TempDir, std::path::PathBuf) {
    let cfg = config(extra);
    let compute = compute_with(cfg).await;
    let dir = TempDir::new();
    std::fs::set_permissions(&dir.0, std::fs::Permissions::from_mode(0o755)).expect("chmod");
    let socket = dir.0.join("novadock.sock");
    let mut ncfg = compute.config().novadock.clone();
    ncfg.socket_path = socket.clone();
    let listener = novadock::server::bind(&ncfg).expect("bind");
    tokio::spawn(async move {
        let _ = axum::serve(listener, novadock::api::router(compute)).await;
    });
    (dir, socket)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn members_of_socket_group_may_use_the_service() {
    let (_dir, socket) = serve_with("socket_group = nogroup\n").await;
    let (status, body) = version_as_nobody(&socket);
    assert_eq!(status, 200, "{body}");
    assert!(body["service_version"].is_string(), "{body}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_user_not_allowed_gets_a_json_403() {
    // The file mode lets nogroup in; the peer check keeps nobody out.
    let (_dir, socket) = serve_with("socket_group = nogroup\nsocket_allowed_users = root\n").await;
    let (status, body) = version_as_nobody(&socket);
    assert_eq!(status, 403, "{body}");
    assert_eq!(body["error"]["code"], "Forbidden");
    assert!(
        body["error"]["message"]
            .as_str()
            .is_some_and(|m| m.contains("uid 65534")),
        "{body}"
    );
    // Root still may, on the same socket.
    let r = request(&socket, "GET", "/v1/version", None).await;
    assert_eq!(r.status, 200, "{}", r.raw);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn allowed_users_are_named_or_numbered() {
    let (_dir, socket) =
        serve_with("socket_group = nogroup\nsocket_allowed_users = daemon, nobody\n").await;
    let (status, body) = version_as_nobody(&socket);
    assert_eq!(status, 200, "{body}");
    let (_dir2, socket2) =
        serve_with("socket_group = nogroup\nsocket_allowed_users = 65534\n").await;
    let (status, body) = version_as_nobody(&socket2);
    assert_eq!(status, 200, "{body}");
}

#[test]
fn an_unknown_user_stops_the_service_at_start() {
    let mut cfg = config("socket_allowed_users = no-such-user-here\n").novadock;
    let dir = TempDir::new();
    cfg.socket_path = dir.0.join("novadock.sock");
    let err = match novadock::server::bind(&cfg) {
        Ok(_) => panic!("an unknown user must be refused"),
        Err(e) => e.to_string(),
    };
    assert!(err.contains("no-such-user-here"), "{err}");
}
