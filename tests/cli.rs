//! The `novadock` binary as an operator runs it.

mod common;

use std::process::Command;
use std::time::{Duration, Instant};

use common::TempDir;

const BIN: &str = env!("CARGO_BIN_EXE_novadock");

fn write(dir: &TempDir, name: &str, text: &str) -> std::path::PathBuf {
    let p = dir.0.join(name);
    std::fs::write(&p, text).expect("write config");
    p
}

#[test]
fn check_reports_each_start_up_check() {
    let dir = TempDir::new();
    let conf = write(
        &dir,
        "nova.conf",
        &format!(
            "[novadock]\nsocket_path = {}/s/novadock.sock\n",
            dir.0.display()
        ),
    );
    let out = Command::new(BIN)
        .args(["check", "--config-file"])
        .arg(&conf)
        .output()
        .expect("run");
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{text}");
    assert!(text.contains("OK   config"), "{text}");
    assert!(
        text.contains("OK   docker") && text.contains("API 1."),
        "{text}"
    );
    assert!(text.contains("OK   socket"), "{text}");
}

#[test]
fn check_says_plainly_what_is_wrong() {
    let dir = TempDir::new();
    let conf = write(
        &dir,
        "nova.conf",
        "[novadock]\ndocker_url = unix:///nonexistent/docker.sock\nsocket_group = no-such-group-xyz\nsocket_pth = typo\n",
    );
    let out = Command::new(BIN)
        .args(["check", "--config-file"])
        .arg(&conf)
        .output()
        .expect("run");
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(!out.status.success());
    assert!(
        text.contains("FAIL docker") && text.contains("/nonexistent/docker.sock"),
        "{text}"
    );
    assert!(
        text.contains("FAIL socket: socket_group \"no-such-group-xyz\" does not exist"),
        "{text}"
    );
    assert!(
        text.contains("WARN config: [novadock] socket_pth"),
        "{text}"
    );

    let bad = write(&dir, "bad.conf", "[novadock]\npids_limit = many\n");
    let out = Command::new(BIN)
        .args(["check", "--config-file"])
        .arg(&bad)
        .output()
        .expect("run");
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(!out.status.success());
    assert!(
        text.contains("FAIL config: [novadock] pids_limit = \"many\""),
        "{text}"
    );

    let out = Command::new(BIN).args(["serve"]).output().expect("run");
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("needs at least one --config-file"));
}

#[test]
fn serve_uses_the_last_config_file_and_cleans_up_on_sigterm() {
    let dir = TempDir::new();
    let first = write(
        &dir,
        "a.conf",
        "[novadock]\nsocket_path = /nonexistent-dir/never.sock\n",
    );
    let socket = dir.0.join("run/novadock.sock");
    let second = write(
        &dir,
        "b.conf",
        &format!("[novadock]\nsocket_path = {}\n", socket.display()),
    );
    let mut child = Command::new(BIN)
        .args(["serve", "--config-file"])
        .arg(&first)
        .arg("--config-file")
        .arg(&second)
        .spawn()
        .expect("start");
    let t0 = Instant::now();
    while !socket.exists() && t0.elapsed() < Duration::from_secs(20) {
        std::thread::sleep(Duration::from_millis(50));
    }
    assert!(socket.exists(), "later --config-file wins");
    let busy = Command::new(BIN)
        .args(["serve", "--config-file"])
        .arg(&second)
        .output()
        .expect("run");
    assert!(!busy.status.success());
    assert!(String::from_utf8_lossy(&busy.stderr).contains("already serving"));
    // SAFETY: kill with our own child's pid.
    unsafe { libc::kill(child.id() as i32, libc::SIGTERM) };
    let status = child.wait().expect("wait");
    assert!(status.success());
    assert!(!socket.exists(), "the socket is removed on shutdown");
}

#[test]
fn sigterm_while_waiting_for_dockerd_ends_cleanly() {
    let dir = TempDir::new();
    let socket = dir.0.join("run/novadock.sock");
    let conf = write(
        &dir,
        "n.conf",
        &format!(
            "[novadock]\nsocket_path = {}\ndocker_url = unix://{}\n",
            socket.display(),
            dir.0.join("no-dockerd.sock").display()
        ),
    );
    let mut child = Command::new(BIN)
        .args(["serve", "--config-file"])
        .arg(&conf)
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("start");
    let mut stderr = child.stderr.take().expect("stderr");
    // Once it says it waits, it is past start-up's first steps.
    let mut seen = Vec::new();
    let mut buf = [0u8; 4096];
    let t0 = Instant::now();
    while !String::from_utf8_lossy(&seen).contains("Docker engine not reachable yet")
        && t0.elapsed() < Duration::from_secs(20)
    {
        use std::io::Read;
        match stderr.read(&mut buf) {
            Ok(0) | Err(_) => break,
            Ok(n) => seen.extend_from_slice(&buf[..n]),
        }
    }
    assert!(
        String::from_utf8_lossy(&seen).contains("Docker engine not reachable yet"),
        "waits for dockerd: {}",
        String::from_utf8_lossy(&seen)
    );
    // SAFETY: kill with our own child's pid.
    unsafe { libc::kill(child.id() as i32, libc::SIGTERM) };
    let t0 = Instant::now();
    let status = loop {
        if let Some(s) = child.try_wait().expect("wait") {
            break s;
        }
        assert!(
            t0.elapsed() < Duration::from_secs(10),
            "SIGTERM did not end the wait for dockerd"
        );
        std::thread::sleep(Duration::from_millis(50));
    };
    assert!(
        status.success(),
        "ended by the signal, not by its handler: {status}"
    );
    assert!(!socket.exists());
}
