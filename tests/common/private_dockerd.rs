//! A dockerd of a test's own, beside the machine's: its own data root,
//! bridge and socket, optionally on storage that fills up or limits disks,
//! optionally with user-namespace remapping.

use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use super::{TEST_IMAGE, new_uuid, run, terminate};

/// The docker CLI, on another engine when `host` is given.
pub fn docker_cli(host: Option<&str>, args: &[&str]) -> std::process::Output {
    let mut cmd = Command::new("docker");
    if let Some(h) = host {
        cmd.args(["-H", h]);
    }
    cmd.args(args).output().expect("docker CLI")
}

/// A dockerd of the test's own (live-restore), on its own bridge in
/// 198.19.<net>.0/24, optionally on a small tmpfs so that its disk can fill
/// up. Stopped by its PID. (Not `--bridge=none`: that makes dockerd delete
/// the host's docker0.)
pub struct PrivateDockerd {
    dir: PathBuf,
    pub root: PathBuf,
    bridge: String,
    storage: Storage,
    userns: bool,
}

/// Where a private dockerd keeps its data.
#[derive(Clone, Copy, PartialEq)]
pub enum Storage {
    /// A directory of the machine's disk.
    Plain,
    /// A tmpfs of this size: its disk can fill up.
    Tmpfs(&'static str),
    /// A loop-mounted btrfs of this size with quotas on: the btrfs storage
    /// driver, which limits each container's writable layer.
    Btrfs(&'static str),
}

impl PrivateDockerd {
    pub fn start(net: u8, tmpfs_size: Option<&'static str>) -> Self {
        Self::start_with(
            net,
            tmpfs_size.map_or(Storage::Plain, Storage::Tmpfs),
            false,
        )
    }

    /// A private dockerd on `storage`, with `--userns-remap=default` when
    /// `userns`.
    pub fn start_with(net: u8, storage: Storage, userns: bool) -> Self {
        let tag = &new_uuid()[..8];
        let d = PrivateDockerd {
            dir: PathBuf::from(format!("/run/novadock-fault-{tag}")),
            root: PathBuf::from(format!("/var/lib/novadock-fault-{tag}")),
            bridge: format!("ndf-{tag}"),
            storage,
            userns,
        };
        run("ip", &["link", "add", &d.bridge, "type", "bridge"]);
        let addr = format!("198.19.{net}.1/24");
        run("ip", &["addr", "add", &addr, "dev", &d.bridge]);
        run("ip", &["link", "set", &d.bridge, "up"]);
        std::fs::create_dir_all(&d.dir).expect("run dir");
        std::fs::create_dir_all(&d.root).expect("data root");
        let root = d.root.display().to_string();
        match storage {
            Storage::Plain => {}
            Storage::Tmpfs(size) => {
                run(
                    "mount",
                    &["-t", "tmpfs", "-o", &format!("size={size}"), "tmpfs", &root],
                );
            }
            Storage::Btrfs(size) => {
                let img = d.dir.join("btrfs.img").display().to_string();
                run("truncate", &["-s", size, &img]);
                run("mkfs.btrfs", &["-q", &img]);
                run("mount", &["-o", "loop", &img, &root]);
                run("btrfs", &["quota", "enable", &root]);
            }
        }
        d.launch();
        // The test image, for spawns.
        let script = format!(
            "docker save {TEST_IMAGE} | docker -H {} load >/dev/null",
            d.url()
        );
        run("sh", &["-c", &script]);
        d
    }

    pub fn url(&self) -> String {
        format!("unix://{}/docker.sock", self.dir.display())
    }

    pub fn pid(&self) -> Option<i32> {
        std::fs::read_to_string(self.dir.join("docker.pid"))
            .ok()?
            .trim()
            .parse()
            .ok()
    }

    pub fn launch(&self) {
        let log = std::fs::File::create(self.dir.join("dockerd.log")).expect("log");
        let mut child = Command::new("dockerd")
            .args(["-H", &self.url()])
            .arg(format!("--data-root={}", self.root.display()))
            .arg(format!("--exec-root={}/exec", self.dir.display()))
            .arg(format!("--pidfile={}/docker.pid", self.dir.display()))
            .arg(format!("--bridge={}", self.bridge))
            .args([
                "--iptables=false",
                "--ip-masq=false",
                "--ip6tables=false",
                "--live-restore",
            ])
            .args(match self.storage {
                Storage::Btrfs(_) => vec!["--storage-driver=btrfs"],
                _ => vec![],
            })
            .args(if self.userns {
                vec!["--userns-remap=default"]
            } else {
                vec![]
            })
            .stdin(Stdio::null())
            .stdout(log.try_clone().expect("log"))
            .stderr(log)
            .spawn()
            .expect("dockerd");
        // Reaped whenever it exits (stop() signals it by its pidfile).
        std::thread::spawn(move || child.wait());
        let deadline = Instant::now() + Duration::from_secs(60);
        while Instant::now() < deadline {
            if docker_cli(Some(&self.url()), &["info"]).status.success() {
                return;
            }
            std::thread::sleep(Duration::from_millis(200));
        }
        panic!(
            "the private dockerd did not start: see {}",
            self.dir.display()
        );
    }

    /// Stops dockerd (SIGTERM, by PID) and waits for it to be gone.
    pub fn stop(&self) {
        if let Some(pid) = self.pid() {
            terminate(pid, Duration::from_secs(30));
        }
    }

    pub fn images(&self) -> Vec<String> {
        let out = docker_cli(Some(&self.url()), &["images", "-aq", "--no-trunc"]);
        String::from_utf8_lossy(&out.stdout)
            .lines()
            .map(String::from)
            .collect()
    }

    pub fn containers(&self) -> Vec<String> {
        let out = docker_cli(Some(&self.url()), &["ps", "-a", "--format", "{{.Names}}"]);
        String::from_utf8_lossy(&out.stdout)
            .lines()
            .map(String::from)
            .collect()
    }
}

impl Drop for PrivateDockerd {
    fn drop(&mut self) {
        // Live-restore keeps containers running without dockerd: remove them first.
        if self.pid().is_some() {
            for name in self.containers() {
                let _ = docker_cli(Some(&self.url()), &["rm", "-f", &name]);
            }
        }
        self.stop();
        // dockerd bind-mounts its data root onto itself (private
        // propagation) and does not always unmount it at its exit (the
        // burst test's restarted one left it); under it may be the test's
        // tmpfs or btrfs (a loop device goes with its last unmount).
        for _ in 0..3 {
            let unmounted = Command::new("umount")
                .arg(&self.root)
                .stderr(Stdio::null())
                .status()
                .is_ok_and(|s| s.success());
            if !unmounted {
                break;
            }
        }
        let _ = std::fs::remove_dir_all(&self.dir);
        let _ = std::fs::remove_dir_all(&self.root);
        let _ = Command::new("ip")
            .args(["link", "del", &self.bridge])
            .status();
    }
}
