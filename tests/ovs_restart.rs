//! Open vSwitch restarted under running instances: their VIFs keep
//! answering once it is back, a spawn while it is down fails cleanly, and
//! nothing is left behind. It restarts the tests' shared switch
//! ($NOVADOCK_TEST_OVSDB, started by tools/start-ovs.sh), so it is ignored in
//! the main run and run alone by tools/test.sh.

mod common;

use std::path::PathBuf;
use std::process::Command;
use std::time::Duration;

use common::*;
use novadock::error::Error;
use novadock::model::{PowerState, SpawnRequest};

fn req(v: serde_json::Value) -> SpawnRequest {
    serde_json::from_value(v).expect("request")
}

/// The tests' switch: its directory holds the daemons' pidfiles.
struct TestOvs {
    dir: PathBuf,
}

impl TestOvs {
    fn shared() -> Self {
        let db = ovsdb();
        let sock = db.strip_prefix("unix:").expect("a unix: OVSDB");
        let dir = PathBuf::from(sock).parent().expect("dir").to_path_buf();
        assert!(
            dir.join("ovs-vswitchd.pid").exists(),
            "{} has no ovs-vswitchd.pid: start it with tools/start-ovs.sh",
            dir.display()
        );
        TestOvs { dir }
    }

    fn launch(&self) {
        run(
            concat!(env!("CARGO_MANIFEST_DIR"), "/tools/start-ovs.sh"),
            &[&self.dir.display().to_string(), "br-int"],
        );
    }

    /// Stops both daemons by PID, as a package upgrade or a crash would.
    fn stop(&self) {
        for daemon in ["ovs-vswitchd", "ovsdb-server"] {
            let pidfile = self.dir.join(format!("{daemon}.pid"));
            let Some(pid) = std::fs::read_to_string(&pidfile)
                .ok()
                .and_then(|p| p.trim().parse::<i32>().ok())
            else {
                continue;
            };
            terminate(pid, Duration::from_secs(10));
        }
    }
}

/// Whatever happens in the test, the switch is running at its end.
struct Restarted<'a>(&'a TestOvs);

impl Drop for Restarted<'_> {
    fn drop(&mut self) {
        self.0.launch();
    }
}

/// A namespace on the switch through a veth (which, unlike an
/// internal port, outlives ovs-vswitchd).
struct VethProbe {
    ns: String,
    host: String,
}

impl VethProbe {
    fn new(net: u8) -> Self {
        let tag = &new_uuid()[..6];
        let p = VethProbe {
            ns: format!("ndfault-{tag}"),
            host: format!("ndf{tag}"),
        };
        run("ip", &["netns", "add", &p.ns]);
        run(
            "ip",
            &[
                "link", "add", &p.host, "type", "veth", "peer", "name", "probe0", "netns", &p.ns,
            ],
        );
        run("ip", &["link", "set", &p.host, "up"]);
        let addr = format!("198.18.{net}.250/24");
        run("ip", &["-n", &p.ns, "addr", "add", &addr, "dev", "probe0"]);
        run("ip", &["-n", &p.ns, "link", "set", "probe0", "up"]);
        vsctl(&["add-port", "br-int", &p.host]);
        p
    }

    fn ping(&self, ip: &str) -> bool {
        ping_from(&self.ns, ip, 15)
    }
}

impl Drop for VethProbe {
    fn drop(&mut self) {
        // The switch's record of the port outlives the veth.
        let _ = Command::new("ovs-vsctl")
            .arg(format!("--db={}", ovsdb()))
            .args([
                "--timeout=10",
                "--if-exists",
                "del-port",
                "br-int",
                &self.host,
            ])
            .output();
        let _ = Command::new("ip")
            .args(["link", "del", &self.host])
            .output();
        let _ = Command::new("ip").args(["netns", "del", &self.ns]).output();
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "restarts the shared test switch: run alone (tools/test.sh does)"]
async fn open_vswitch_restarted_under_running_instances_loses_nothing() {
    let ovs = TestOvs::shared();
    let c = compute().await;
    let probe = VethProbe::new(90);
    let uuid = new_uuid();
    let _g = Cleanup(uuid.clone());
    let v = vif(90, 10);
    let mut r = spawn_request(&uuid);
    r["network_info"] = serde_json::json!([v]);
    c.spawn(&req(r)).await.expect("spawn");
    assert!(probe.ping("198.18.90.10"), "eth1 answers before");

    let restarted = Restarted(&ovs);
    ovs.stop();
    // A spawn while the switch is down fails cleanly.
    let down = new_uuid();
    let _g2 = Cleanup(down.clone());
    let dv = vif(90, 11);
    let mut r = spawn_request(&down);
    r["network_info"] = serde_json::json!([dv]);
    let err = c.spawn(&req(r)).await.expect_err("no switch");
    assert!(matches!(err, Error::VifPlugFailed(_)), "{err}");
    assert!(
        docker_inspect(&format!("nova-{down}")).is_none(),
        "no container"
    );
    let ddev = dv["devname"].as_str().expect("devname");
    assert!(!host_link_exists(ddev), "no veth {ddev}");

    drop(restarted);
    assert!(probe.ping("198.18.90.10"), "eth1 answers after the restart");
    assert_eq!(
        c.get_info(&uuid).await.expect("info").power_state,
        PowerState::Running
    );
    c.destroy(&uuid, &nova_vifs(std::slice::from_ref(&v)))
        .await
        .expect("destroy");
    let dev = v["devname"].as_str().expect("devname");
    assert!(!host_link_exists(dev));
    assert!(!vsctl(&["list-ports", "br-int"]).lines().any(|p| p == dev));
}
