//! A dockerd restart followed by power_on brings the instance back with its
//! network. It restarts the machine's dockerd, so it is #[ignore]d in the
//! ordinary run and tools/test.sh runs it on its own (`-- --ignored`).

mod common;

use std::process::Command;
use std::time::Duration;

use common::*;
use novadock::model::{PowerState, SpawnRequest};

/// Stops dockerd by its pid and starts it again with the same command line.
fn restart_dockerd() {
    let pid = std::fs::read_to_string("/var/run/docker.pid").expect("dockerd pid file");
    let pid: i32 = pid.trim().parse().expect("pid");
    let cmdline = std::fs::read(format!("/proc/{pid}/cmdline")).expect("dockerd cmdline");
    let argv: Vec<String> = cmdline
        .split(|b| *b == 0)
        .filter(|a| !a.is_empty())
        .map(|a| String::from_utf8_lossy(a).into_owned())
        .collect();
    // SAFETY: kill with the pid dockerd wrote for itself.
    unsafe { libc::kill(pid, libc::SIGTERM) };
    for _ in 0..300 {
        if !std::path::Path::new(&format!("/proc/{pid}")).exists() {
            break;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    // Started through a shell that exits at once, so dockerd outlives the test.
    let status = Command::new("sh")
        .arg("-c")
        .arg("nohup \"$@\" >>/var/log/novadock-ci-dockerd.log 2>&1 &")
        .arg("sh")
        .args(&argv)
        .status()
        .expect("dockerd starts");
    assert!(status.success());
    for _ in 0..300 {
        if Command::new("docker")
            .arg("info")
            .output()
            .is_ok_and(|o| o.status.success())
        {
            return;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    panic!("dockerd did not come back");
}

#[tokio::test]
#[ignore = "restarts the machine's dockerd: tools/test.sh runs it alone"]
async fn network_comes_back_after_a_dockerd_restart_and_power_on() {
    let c = compute().await;
    let uuid = new_uuid();
    let _g = Cleanup(uuid.clone());
    let v = vif(30, 10);
    let nwinfo = vec![v.clone()];
    let mut r = spawn_request(&uuid);
    r["network_info"] = serde_json::Value::Array(nwinfo.clone());
    let r: SpawnRequest = serde_json::from_value(r).expect("request");
    let probe = Probe::new(30);
    c.spawn(&r).await.expect("spawn");
    assert!(probe.ping("198.18.30.10"));

    restart_dockerd();
    // Restart policy "no": the container is down, as a VM would be after its hypervisor went.
    assert_eq!(
        c.get_info(&uuid).await.expect("info").power_state,
        PowerState::Shutdown
    );
    assert_eq!(
        c.power_on(&uuid, &nwinfo)
            .await
            .expect("power on")
            .power_state,
        PowerState::Running
    );
    assert!(probe.ping("198.18.30.10"), "eth1 answers again");
    assert_eq!(
        exec(&uuid, "cat /sys/class/net/eth1/address").trim(),
        v["address"].as_str().expect("mac")
    );
    c.destroy(&uuid, &nwinfo).await.expect("destroy");
    assert!(!host_link_exists(v["devname"].as_str().expect("devname")));
}
