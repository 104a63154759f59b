//! Instances keep running, with their network, while dockerd restarts
//! (live-restore), and the service follows the new dockerd. It restarts the
//! machine's dockerd, so it is #[ignore]d in the ordinary run and
//! tools/test.sh runs it on its own (`-- --ignored`).

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
    terminate(pid, Duration::from_secs(30));
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
async fn instances_and_their_network_outlive_a_dockerd_restart() {
    let info = run("docker", &["info", "--format", "{{.LiveRestoreEnabled}}"]);
    assert_eq!(
        info.trim(),
        "true",
        "dockerd must run with --live-restore (tools/setup-dev.sh)"
    );
    let c = compute().await;
    tokio::spawn(c.clone().follow_docker_events());
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
    // The service notices the stream ended, reconnects and rebuilds its map.
    let mut synced = false;
    for _ in 0..100 {
        tokio::time::sleep(Duration::from_millis(100)).await;
        if c.states().is_synced() && c.get_info(&uuid).await.is_ok() {
            synced = true;
            break;
        }
    }
    assert!(synced, "the service follows the new dockerd");
    assert_eq!(
        c.get_info(&uuid).await.expect("info").power_state,
        PowerState::Running
    );
    assert!(probe.ping("198.18.30.10"), "eth1 still answers");
    assert_eq!(
        exec(&uuid, "cat /sys/class/net/eth1/address").trim(),
        v["address"].as_str().expect("mac")
    );

    // Had the host rebooted instead, power_on plugs everything again.
    c.power_off(&uuid, 0, 0).await.expect("off");
    assert_eq!(
        c.power_on(&uuid, &nova_vifs(&nwinfo))
            .await
            .expect("on")
            .power_state,
        PowerState::Running
    );
    assert!(probe.ping("198.18.30.10"));
    c.destroy(&uuid, &nova_vifs(&nwinfo))
        .await
        .expect("destroy");
    assert!(!host_link_exists(v["devname"].as_str().expect("devname")));
}
