//! Serial consoles on the machine's real dockerd: what nova-serialproxy
//! meets on the TCP port (a shell with a TTY, raw bytes both ways, window
//! size in band), and that every way a session or a console ends leaves no
//! process in the container and no listener. No VIF: no Open vSwitch needed.

mod common;

use std::time::{Duration, Instant};

use common::*;
use novadock::compute::Compute;
use novadock::error::Error;
use novadock::model::SpawnRequest;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

const CONSOLE: &str = "[serial_console]\nenabled = true\nport_range = 36000:36999\n";

async fn console_compute() -> Compute {
    let c = compute_with(config(CONSOLE)).await;
    c.docker()
        .inspect_image(TEST_IMAGE)
        .await
        .unwrap_or_else(|_| panic!("{TEST_IMAGE} missing: run tools/build-test-image.sh"));
    c
}

async fn spawn_with(c: &Compute, image: &str, properties: serde_json::Value) -> (String, Cleanup) {
    let uuid = new_uuid();
    let guard = Cleanup(uuid.clone());
    let mut r = spawn_request(&uuid);
    r["image"]["name"] = image.into();
    r["image"]["properties"] = properties;
    let req: SpawnRequest = serde_json::from_value(r).expect("valid spawn request");
    c.spawn(&req).await.expect("spawn");
    (uuid, guard)
}

async fn spawn(c: &Compute) -> (String, Cleanup) {
    spawn_with(c, TEST_IMAGE, serde_json::json!({})).await
}

/// A client as nova-serialproxy is one: plain TCP, bytes as they come.
struct Client {
    tcp: TcpStream,
    seen: Vec<u8>,
}

impl Client {
    async fn connect(port: u16) -> Client {
        let tcp = TcpStream::connect(("127.0.0.1", port))
            .await
            .expect("console port accepts");
        // As a websocket relay writes: each message at once.
        tcp.set_nodelay(true).expect("nodelay");
        Client {
            tcp,
            seen: Vec::new(),
        }
    }

    async fn send(&mut self, bytes: &[u8]) {
        self.tcp.write_all(bytes).await.expect("send");
    }

    /// Reads until `needle` appears after what was already consumed, and
    /// returns everything up to and including it.
    async fn until(&mut self, needle: &[u8]) -> Vec<u8> {
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            if let Some(p) = find(&self.seen, needle) {
                let rest = self.seen.split_off(p + needle.len());
                return std::mem::replace(&mut self.seen, rest);
            }
            let mut buf = [0u8; 8192];
            let left = deadline.saturating_duration_since(Instant::now());
            match tokio::time::timeout(left, self.tcp.read(&mut buf)).await {
                Ok(Ok(0)) | Ok(Err(_)) => panic!(
                    "console closed before {:?}; got {:?}",
                    String::from_utf8_lossy(needle),
                    String::from_utf8_lossy(&self.seen)
                ),
                Ok(Ok(n)) => self.seen.extend_from_slice(&buf[..n]),
                Err(_) => panic!(
                    "no {:?} within 20 s; got {:?}",
                    String::from_utf8_lossy(needle),
                    String::from_utf8_lossy(&self.seen)
                ),
            }
        }
    }

    /// Reads to the end; panics if the server keeps it open `limit` long.
    async fn read_all(&mut self, limit: Duration) -> Vec<u8> {
        let mut rest = Vec::new();
        tokio::time::timeout(limit, self.tcp.read_to_end(&mut rest))
            .await
            .expect("the console closes the connection")
            .ok();
        let mut all = std::mem::take(&mut self.seen);
        all.extend(rest);
        all
    }

    /// Runs a command line in the shell and returns its output between two
    /// markers that only the shell's arithmetic writes (the echo of the
    /// typed line never holds them).
    async fn run(&mut self, line: &str) -> String {
        self.send(format!("echo BEG$((1+1)); {line}; echo END$((1+1))\r").as_bytes())
            .await;
        self.until(b"BEG2\r\n").await;
        let out = self.until(b"END2\r\n").await;
        String::from_utf8_lossy(&out[..out.len() - 6])
            .trim()
            .to_string()
    }
}

fn find(hay: &[u8], needle: &[u8]) -> Option<usize> {
    hay.windows(needle.len()).position(|w| w == needle)
}

/// The processes in the container, as `ps` inside shows them.
fn ps(uuid: &str) -> String {
    run(
        "docker",
        &["exec", &format!("nova-{uuid}"), "ps", "-o", "pid,args"],
    )
}

/// Waits until the container runs nothing but its main process's own.
async fn assert_only_main_processes(uuid: &str) {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let out = ps(uuid);
        let stray: Vec<&str> = out
            .lines()
            .skip(1)
            .filter(|l| {
                let args = l.split_whitespace().skip(1).collect::<Vec<_>>().join(" ");
                // The main process (sh -c ...), its `sleep 1`, and ps itself.
                !(args.starts_with("/bin/sh -c trap")
                    || args == "sleep 1"
                    || args.starts_with("ps "))
            })
            .collect();
        if stray.is_empty() {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "processes left in the container: {stray:?}\n{out}"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

async fn assert_refused(port: u16) {
    let r = TcpStream::connect(("127.0.0.1", port)).await;
    assert!(r.is_err(), "port {port} still accepts connections");
}

#[tokio::test]
async fn a_session_through_the_service_runs_a_shell_with_a_tty() {
    let c = console_compute().await;
    let (uuid, _g) = spawn(&c).await;
    let svc = serve(c.clone()).await;
    let path = format!("/v1/instances/{uuid}/serial-console");
    let r = request(&svc.socket, "POST", &path, None).await;
    assert_eq!(r.status, 200, "{}", r.raw);
    assert_eq!(r.body["host"], "127.0.0.1");
    let port = u16::try_from(r.body["port"].as_u64().expect("port")).expect("a port");
    assert!((36000..=36999).contains(&port), "{port}");
    // nova-serialproxy asks again to validate its token: the same port.
    let again = request(&svc.socket, "POST", &path, None).await;
    assert_eq!(again.body["port"], r.body["port"]);

    let mut s = Client::connect(port).await;
    s.send(b"echo novadock-$((6*7))\r").await;
    s.until(b"\r\nnovadock-42\r\n").await;
    // The container's own user, hostname and namespaces; a real TTY.
    assert_eq!(s.run("id -u; hostname").await, "0\r\nweb1");
    assert!(s.run("tty").await.starts_with("/dev/pts/"));
    assert_eq!(s.run("echo $TERM").await, "xterm");
    // The mark that lets a later service find a session a crash left.
    let mark = s.run("echo $NOVADOCK_CONSOLE").await;
    assert_eq!(mark, novadock::compute::exec_reaper::marker(TEST_HOST));
    // A second session at the same time is a shell of its own.
    let mut t = Client::connect(port).await;
    t.send(b"echo second-$((1+1))\r").await;
    t.until(b"\r\nsecond-2\r\n").await;
    assert_eq!(s.run("echo first").await, "first");
    // Typing exit ends the session: the connection closes.
    t.send(b"exit\r").await;
    t.read_all(Duration::from_secs(10)).await;
    drop(s);
    assert_only_main_processes(&uuid).await;

    let missing = request(
        &svc.socket,
        "POST",
        &format!("/v1/instances/{}/serial-console", new_uuid()),
        None,
    )
    .await;
    assert_eq!(missing.status, 404, "{}", missing.raw);
    assert_eq!(missing.body["error"]["code"], "InstanceNotFound");

    c.destroy(&uuid, &[]).await.expect("destroy");
    assert_refused(port).await;
}

#[tokio::test]
async fn binary_data_goes_both_ways_unchanged() {
    let c = console_compute().await;
    let (uuid, _g) = spawn(&c).await;
    let port = c.get_serial_console(&uuid).await.expect("console").port;
    let mut s = Client::connect(port).await;
    let data: Vec<u8> = (0..=255u8).chain((0..=255u8).rev()).collect();
    // Raw TTY: no echo, no signals, no line editing, no output processing.
    s.send(
        b"stty raw -echo -iexten; echo READY; head -c 512 > /tmp/got; \
          printf BEGIN; cat /tmp/got; printf END; stty sane\r",
    )
    .await;
    // Output processing is off: a bare newline.
    s.until(b"READY\n").await;
    s.send(&data).await;
    s.until(b"BEGIN").await;
    let back = s.until(b"END").await;
    assert_eq!(&back[..back.len() - 3], &data[..], "container to client");
    let stored = std::process::Command::new("docker")
        .args(["exec", &format!("nova-{uuid}"), "cat", "/tmp/got"])
        .output()
        .expect("docker exec");
    assert_eq!(stored.stdout, data, "client to container");
    c.destroy(&uuid, &[]).await.expect("destroy");
}

#[tokio::test]
async fn window_size_comes_in_band() {
    let c = console_compute().await;
    let (uuid, _g) = spawn(&c).await;
    let port = c.get_serial_console(&uuid).await.expect("console").port;

    // A client that ignores the probe gets a serial terminal's 24x80.
    let mut quiet = Client::connect(port).await;
    assert_eq!(quiet.run("stty size").await, "24 80");

    // A terminal answers the probe with its size (cursor at the far corner).
    let mut s = Client::connect(port).await;
    s.until(b"\x1b[6n").await;
    s.send(b"\x1b[33;99R").await;
    assert_eq!(s.run("stty size").await, "33 99");
    // A resize at any time: xterm's sequence, which never reaches the shell.
    s.send(b"\x1b[8;40;132t").await;
    assert_eq!(s.run("stty size").await, "40 132");
    // Split across two writes.
    s.send(b"\x1b[8;5").await;
    tokio::time::sleep(Duration::from_millis(5)).await;
    s.send(b"0;100t").await;
    assert_eq!(s.run("stty size").await, "50 100");
    c.destroy(&uuid, &[]).await.expect("destroy");
}

#[tokio::test]
async fn a_client_gone_mid_output_leaves_no_process() {
    let c = console_compute().await;
    let (uuid, _g) = spawn(&c).await;
    let port = c.get_serial_console(&uuid).await.expect("console").port;
    let mut s = Client::connect(port).await;
    s.send(b"sleep 2000 & yes novadock-flood\r").await;
    s.until(b"novadock-flood\r\nnovadock-flood\r\n").await;
    // Gone without reading the rest: the shell, yes and sleep must go.
    drop(s);
    assert_only_main_processes(&uuid).await;
    c.destroy(&uuid, &[]).await.expect("destroy");
}

#[tokio::test]
async fn fifty_sessions_leave_no_process_and_no_listener() {
    let c = console_compute().await;
    let (uuid, _g) = spawn(&c).await;
    let port = c.get_serial_console(&uuid).await.expect("console").port;
    for round in 0..5 {
        let mut clients = Vec::new();
        for i in 0..10 {
            let mut s = Client::connect(port).await;
            s.send(format!("sleep 1000 & echo up-{round}-{i}-$((1+1))\r").as_bytes())
                .await;
            s.until(format!("up-{round}-{i}-2\r\n").as_bytes()).await;
            s.send(b"sleep 999\r").await;
            clients.push(s);
        }
        drop(clients);
    }
    assert_only_main_processes(&uuid).await;
    // The listener stays for the next session, the same port for Nova.
    assert_eq!(
        c.get_serial_console(&uuid).await.expect("console").port,
        port
    );
    let mut s = Client::connect(port).await;
    assert_eq!(s.run("echo still").await, "still");
    drop(s);
    assert_only_main_processes(&uuid).await;
    c.destroy(&uuid, &[]).await.expect("destroy");
    assert_refused(port).await;
    assert!(!c.serial_consoles().ports().contains_key(&uuid));
}

#[tokio::test]
async fn stop_pause_suspend_and_delete_end_sessions_and_free_the_port() {
    let c = console_compute().await;
    let (uuid, _g) = spawn(&c).await;
    type Op = fn(&Compute, &str) -> futures_util::future::BoxFuture<'static, ()>;
    let stop: Op = |c, u| {
        let (c, u) = (c.clone(), u.to_string());
        Box::pin(async move {
            c.power_off(&u, 0, 0).await.expect("power off");
        })
    };
    let pause: Op = |c, u| {
        let (c, u) = (c.clone(), u.to_string());
        Box::pin(async move {
            c.pause(&u).await.expect("pause");
        })
    };
    let suspend: Op = |c, u| {
        let (c, u) = (c.clone(), u.to_string());
        Box::pin(async move {
            c.suspend(&u).await.expect("suspend");
        })
    };
    for (what, op) in [("stop", stop), ("pause", pause), ("suspend", suspend)] {
        let port = c.get_serial_console(&uuid).await.expect("console").port;
        let mut s = Client::connect(port).await;
        assert_eq!(s.run("echo before-$((2+2))").await, "before-4");
        op(&c, &uuid).await;
        s.read_all(Duration::from_secs(10)).await;
        assert_refused(port).await;
        // Not running: Nova's InstanceNotReady, and no listener.
        match c.get_serial_console(&uuid).await {
            Err(Error::InstanceNotReady(m)) => assert!(m.contains("not running"), "{m}"),
            other => panic!("{what}: {other:?}"),
        }
        assert!(c.serial_consoles().ports().is_empty(), "{what}");
        if what == "stop" {
            c.power_on(&uuid, &[]).await.expect("power on");
        } else {
            c.unpause(&uuid).await.expect("unpause");
        }
        // A frozen session's processes die once thawed.
        assert_only_main_processes(&uuid).await;
    }
    let port = c.get_serial_console(&uuid).await.expect("console").port;
    let mut s = Client::connect(port).await;
    assert_eq!(s.run("echo last").await, "last");
    c.destroy(&uuid, &[]).await.expect("destroy");
    s.read_all(Duration::from_secs(10)).await;
    assert_refused(port).await;
}

#[tokio::test]
async fn disabled_consoles_are_unavailable() {
    let c = compute().await;
    let (uuid, _g) = spawn(&c).await;
    match c.get_serial_console(&uuid).await {
        Err(Error::ConsoleTypeUnavailable(m)) => assert!(m.contains("enabled"), "{m}"),
        other => panic!("{other:?}"),
    }
    c.destroy(&uuid, &[]).await.expect("destroy");
}

#[tokio::test]
async fn the_image_property_names_the_command() {
    let c = console_compute().await;
    let props = serde_json::json!({
        "novadock_console_command": "/bin/sh -c 'echo custom-console; exec /bin/sh'"
    });
    let (uuid, _g) = spawn_with(&c, TEST_IMAGE, props).await;
    let port = c.get_serial_console(&uuid).await.expect("console").port;
    let mut s = Client::connect(port).await;
    s.until(b"custom-console").await;
    assert_eq!(s.run("echo then-a-shell").await, "then-a-shell");
    drop(s);
    c.destroy(&uuid, &[]).await.expect("destroy");
}

/// An image without a shell (FROM scratch: one static program), whose own
/// label tries to name the console's command.
struct ScratchImage(String);

impl ScratchImage {
    fn build() -> ScratchImage {
        let name = format!("novadock-test/scratch-console:{}", &new_uuid()[..8]);
        let dir = TempDir::new();
        std::fs::copy("/bin/busybox", dir.0.join("busybox")).expect("busybox-static");
        let tar = dir.0.join("rootfs.tar");
        run(
            "tar",
            &[
                "-C",
                &dir.0.display().to_string(),
                "-cf",
                &tar.display().to_string(),
                "busybox",
            ],
        );
        run(
            "docker",
            &[
                "import",
                "-c",
                "CMD [\"/busybox\", \"sleep\", \"100000\"]",
                "-c",
                "LABEL org.openstack.nova.console-command=\"/busybox sh\"",
                &tar.display().to_string(),
                &name,
            ],
        );
        ScratchImage(name)
    }
}

impl Drop for ScratchImage {
    fn drop(&mut self) {
        let _ = std::process::Command::new("docker")
            .args(["image", "rm", "-f", &self.0])
            .output();
    }
}

#[tokio::test]
async fn a_container_without_a_shell_gets_a_message_not_a_hang() {
    let c = console_compute().await;
    let image = ScratchImage::build();
    let (uuid, _g) = spawn_with(&c, &image.0, serde_json::json!({})).await;
    let port = c.get_serial_console(&uuid).await.expect("console").port;
    let mut s = Client::connect(port).await;
    let all = s.read_all(Duration::from_secs(15)).await;
    let text = String::from_utf8_lossy(&all);
    assert!(text.contains("could not run"), "{text}");
    assert!(text.contains("novadock_console_command"), "{text}");
    assert!(
        text.contains("[\"/bin/sh\"]"),
        "the image's label was obeyed: {text}"
    );
    c.destroy(&uuid, &[]).await.expect("destroy");
}

#[tokio::test]
async fn a_container_that_stops_on_its_own_frees_its_port() {
    let c = console_compute().await;
    let (uuid, _g) = spawn(&c).await;
    tokio::spawn(c.clone().follow_docker_events());
    let port = c.get_serial_console(&uuid).await.expect("console").port;
    let mut s = Client::connect(port).await;
    assert_eq!(s.run("echo alive").await, "alive");
    // Not through Nova: its main process killed by hand.
    run("docker", &["kill", &format!("nova-{uuid}")]);
    s.read_all(Duration::from_secs(10)).await;
    let deadline = Instant::now() + Duration::from_secs(10);
    while c.serial_consoles().ports().contains_key(&uuid) {
        assert!(
            Instant::now() < deadline,
            "the listener outlived its container"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_refused(port).await;
    c.destroy(&uuid, &[]).await.expect("destroy");
}

#[tokio::test]
async fn the_services_shutdown_ends_sessions_and_listeners() {
    let c = console_compute().await;
    let (uuid, _g) = spawn(&c).await;
    let port = c.get_serial_console(&uuid).await.expect("console").port;
    let mut s = Client::connect(port).await;
    s.send(b"sleep 3000 & echo bg-$((5+5))\r").await;
    s.until(b"bg-10\r\n").await;
    // What main.rs does after a SIGTERM.
    c.close_all_serial_consoles().await;
    s.read_all(Duration::from_secs(10)).await;
    assert_refused(port).await;
    assert_only_main_processes(&uuid).await;
    c.destroy(&uuid, &[]).await.expect("destroy");
}

#[tokio::test]
async fn sessions_a_dead_service_left_are_ended_at_the_next_start() {
    use novadock::compute::exec_reaper::{MARKER, kill_orphaned, marker};
    let c = console_compute().await;
    let (uuid, _g) = spawn(&c).await;
    let name = format!("nova-{uuid}");
    let host = format!("orphans-{}", &uuid[..8]);
    // A crashed service's session: its marker names a pid beyond pid_max.
    let tag = marker(&host);
    let tag = tag.split(' ').next().expect("host tag");
    let dead = format!("{MARKER}={tag} 4194305 1");
    run(
        "docker",
        &[
            "exec",
            "-d",
            "-e",
            &dead,
            &name,
            "sh",
            "-c",
            "sleep 4001 & sleep 4002",
        ],
    );
    // A live service's session of the same host (this process's marker).
    let live = format!("{MARKER}={}", marker(&host));
    run(
        "docker",
        &["exec", "-d", "-e", &live, &name, "sleep", "4003"],
    );
    let deadline = Instant::now() + Duration::from_secs(10);
    while !["4001", "4002", "4003"]
        .iter()
        .all(|s| ps(&uuid).contains(&format!("sleep {s}")))
    {
        assert!(Instant::now() < deadline, "{}", ps(&uuid));
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let killed = tokio::task::spawn_blocking(move || kill_orphaned(&host))
        .await
        .expect("reaper");
    assert!(killed >= 2, "killed {killed}");
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let out = ps(&uuid);
        if !out.contains("sleep 4001") && !out.contains("sleep 4002") {
            assert!(
                out.contains("sleep 4003"),
                "a live service's session was killed: {out}"
            );
            break;
        }
        assert!(Instant::now() < deadline, "orphans left: {out}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    c.destroy(&uuid, &[]).await.expect("destroy");
}
