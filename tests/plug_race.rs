//! Plugging enters a container's network namespace by the pid Docker's
//! inspect gave. If the container dies and its pid goes to another process
//! before the namespace is opened, the root service must not configure
//! links in that stranger's namespace. These tests fake the race by handing
//! the plug a stranger's pid with the container's id (what a reused pid
//! looks like), and a dead container's pid. No Open vSwitch: netlink only.

mod common;

use std::process::{Child, Command};

use common::*;
use novadock::network::{ContainerProcess, netlink, vif};

/// A container of the test image, removed on drop.
struct Container {
    id: String,
}

impl Container {
    fn start() -> Container {
        let name = format!("nd-race-{}", &new_uuid()[..8]);
        let id = run(
            "docker",
            &[
                "run",
                "-d",
                "--network",
                "none",
                "--name",
                &name,
                TEST_IMAGE,
                "sleep",
                "300",
            ],
        )
        .trim()
        .to_string();
        Container { id }
    }

    fn pid(&self) -> u32 {
        run("docker", &["inspect", "-f", "{{.State.Pid}}", &self.id])
            .trim()
            .parse()
            .expect("pid")
    }
}

impl Drop for Container {
    fn drop(&mut self) {
        let _ = Command::new("docker").args(["rm", "-f", &self.id]).output();
    }
}

/// A host process in a network namespace of its own: the stranger who got
/// the pid.
struct Stranger(Child);

impl Stranger {
    fn start() -> Stranger {
        Stranger(
            Command::new("unshare")
                .args(["--net", "sleep", "300"])
                .spawn()
                .expect("unshare"),
        )
    }

    fn pid(&self) -> u32 {
        self.0.id()
    }

    /// Link names in the stranger's namespace.
    fn links(&self) -> String {
        // unshare execs sleep: wait until the pid is in its namespace.
        for _ in 0..100 {
            let ns = std::fs::read_link(format!("/proc/{}/ns/net", self.pid())).ok();
            if ns != std::fs::read_link("/proc/self/ns/net").ok() {
                break;
            }
            std::thread::sleep(std::time::Duration::from_millis(20));
        }
        run(
            "nsenter",
            &["-t", &self.pid().to_string(), "-n", "ip", "-o", "link"],
        )
    }
}

impl Drop for Stranger {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn plan() -> vif::VifPlan {
    vif::plan(&vif(40, 7).into(), 0, "br-int").expect("plan")
}

#[tokio::test]
async fn a_reused_pid_gets_no_links() {
    let c = Container::start();
    let stranger = Stranger::start();
    let before = stranger.links();
    let plan = plan();
    // The container's id with the pid a stranger now has.
    let raced = ContainerProcess {
        pid: stranger.pid(),
        container_id: c.id.clone(),
    };
    let e = netlink::plug(&raced, vec![plan.clone()], true)
        .await
        .expect_err("a stranger's namespace");
    assert!(e.to_string().contains("cgroup"), "{e}");
    assert_eq!(stranger.links(), before, "nothing entered its namespace");
    assert!(!host_link_exists(&plan.devname), "nothing was created");
    assert!(netlink::container_links(&raced).await.is_err());

    // The container's own process is plugged as before.
    let target = ContainerProcess {
        pid: c.pid(),
        container_id: c.id.clone(),
    };
    let result = netlink::plug(&target, vec![plan.clone()], true).await;
    let links = netlink::container_links(&target).await;
    // The host end takes its peer, eth1, with it.
    let _ = netlink::delete_host_link(&plan.devname).await;
    result.expect("plug");
    assert!(
        links.expect("links").contains(&plan.ifname),
        "{}",
        plan.ifname
    );
}

#[tokio::test]
async fn a_dead_containers_pid_gets_no_links() {
    let c = Container::start();
    let target = ContainerProcess {
        pid: c.pid(),
        container_id: c.id.clone(),
    };
    run("docker", &["kill", &c.id]);
    let plan = plan();
    let e = netlink::plug(&target, vec![plan.clone()], true)
        .await
        .expect_err("dead");
    assert!(
        e.to_string().contains("gone") || e.to_string().contains("cgroup"),
        "{e}"
    );
    assert!(!host_link_exists(&plan.devname));
}
