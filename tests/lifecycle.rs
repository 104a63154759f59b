//! The compute layer against the machine's real dockerd: what Nova's
//! operations do to containers, checked with `docker inspect`.

mod common;

use common::*;
use novadock::error::Error;
use novadock::model::{PowerState, RebootType, SpawnRequest};

fn req(v: serde_json::Value) -> SpawnRequest {
    serde_json::from_value(v).expect("valid spawn request")
}

#[tokio::test]
async fn spawn_applies_flavor_metadata_and_security_defaults() {
    let c = compute().await;
    let uuid = new_uuid();
    let _g = Cleanup(uuid.clone());
    let mut r = spawn_request(&uuid);
    r["instance"]["metadata"] = serde_json::json!({"GREETING": "hello world", "_X1": "y"});
    r["flavor"]["vcpus"] = 2.into();
    r["flavor"]["memory_mb"] = 96.into();
    r["flavor"]["extra_specs"] =
        serde_json::json!({"quota:cpu_quota": "50000", "quota:cpu_period": "100000"});
    let info = c.spawn(&req(r)).await.expect("spawn");
    assert_eq!(info.power_state, PowerState::Running);

    let d = docker_inspect(&format!("nova-{uuid}")).expect("container exists");
    let hc = &d["HostConfig"];
    assert_eq!(hc["Memory"], 96 * 1024 * 1024);
    assert_eq!(hc["CpuShares"], 2048);
    assert_eq!(hc["CpuQuota"], 50000);
    assert_eq!(hc["CpuPeriod"], 100000);
    assert_eq!(hc["PidsLimit"], 1024);
    assert_eq!(hc["Privileged"], false);
    assert_eq!(hc["SecurityOpt"][0], "no-new-privileges:true");
    assert_eq!(d["Config"]["Hostname"], "web1");
    let env: Vec<String> = serde_json::from_value(d["Config"]["Env"].clone()).expect("env");
    assert!(env.contains(&"GREETING=hello world".to_string()), "{env:?}");
    assert!(env.contains(&"_X1=y".to_string()), "{env:?}");
    let labels = &d["Config"]["Labels"];
    assert_eq!(labels["org.openstack.nova.instance-uuid"], uuid.as_str());
    assert_eq!(labels["org.openstack.nova.project-id"], "proj");
    assert_eq!(labels["org.openstack.nova.user-id"], "user");
    assert_eq!(labels["org.openstack.nova.flavor"], "m1.tiny");
    assert_eq!(labels["org.openstack.nova.host"], TEST_HOST);

    // The environment is what the process really sees.
    let out = std::process::Command::new("docker")
        .args([
            "exec",
            &format!("nova-{uuid}"),
            "sh",
            "-c",
            "echo $GREETING; hostname",
        ])
        .output()
        .expect("docker exec");
    assert_eq!(String::from_utf8_lossy(&out.stdout), "hello world\nweb1\n");

    let listed = c.list().await.expect("list");
    assert!(
        listed
            .iter()
            .any(|i| i.uuid == uuid && i.power_state == PowerState::Running)
    );
    c.destroy(&uuid, &[]).await.expect("destroy");
    assert!(docker_inspect(&format!("nova-{uuid}")).is_none());
    c.destroy(&uuid, &[])
        .await
        .expect("destroying twice is fine");
    assert!(matches!(
        c.get_info(&uuid).await,
        Err(Error::InstanceNotFound(_))
    ));
}

#[tokio::test]
async fn another_hosts_service_on_the_same_engine_sees_none_of_its_containers() {
    let c = compute().await;
    let cfg = config("[DEFAULT]\nhost = novadock-tests-other\n");
    let other = compute_with(cfg).await;
    let uuid = new_uuid();
    let _g = Cleanup(uuid.clone());
    let mut r = spawn_request(&uuid);
    r["flavor"]["vcpus"] = 3.into();
    let before = other.resources().await.expect("resources").vcpus_used;
    c.spawn(&req(r)).await.expect("spawn");

    assert!(c.list().await.expect("list").iter().any(|i| i.uuid == uuid));
    assert!(
        !other
            .list()
            .await
            .expect("list")
            .iter()
            .any(|i| i.uuid == uuid),
        "another host's service lists the container"
    );
    assert_eq!(
        before,
        other.resources().await.expect("resources").vcpus_used,
        "another host's service counts the container's vCPUs"
    );
}

#[tokio::test]
async fn power_operations_reach_the_right_states() {
    let c = compute().await;
    let uuid = new_uuid();
    let _g = Cleanup(uuid.clone());
    c.spawn(&req(spawn_request(&uuid))).await.expect("spawn");
    let name = format!("nova-{uuid}");
    let started =
        |d: &serde_json::Value| d["State"]["StartedAt"].as_str().unwrap_or("").to_string();

    assert_eq!(
        c.pause(&uuid).await.expect("pause").power_state,
        PowerState::Paused
    );
    assert_eq!(docker_inspect(&name).expect("c")["State"]["Paused"], true);
    assert_eq!(
        c.unpause(&uuid).await.expect("unpause").power_state,
        PowerState::Running
    );
    assert_eq!(
        c.unpause(&uuid).await.expect("unpause running").power_state,
        PowerState::Running
    );

    assert_eq!(
        c.suspend(&uuid).await.expect("suspend").power_state,
        PowerState::Suspended
    );
    let d = docker_inspect(&name).expect("c");
    assert_eq!(
        (
            d["State"]["Paused"].clone(),
            d["HostConfig"]["CpuShares"].clone()
        ),
        (true.into(), 2.into())
    );
    assert_eq!(
        c.resume(&uuid).await.expect("resume").power_state,
        PowerState::Running
    );
    assert_eq!(
        docker_inspect(&name).expect("c")["HostConfig"]["CpuShares"],
        1024
    );

    let before = started(&docker_inspect(&name).expect("c"));
    let soft = c
        .reboot(&uuid, RebootType::Soft, Some(10), &[])
        .await
        .expect("soft reboot");
    assert_eq!(soft.power_state, PowerState::Running);
    let after_soft = started(&docker_inspect(&name).expect("c"));
    assert_ne!(before, after_soft, "a soft reboot restarts the processes");
    // The image's command exits on SIGTERM: a graceful stop, not a kill.
    assert_eq!(docker_inspect(&name).expect("c")["State"]["ExitCode"], 0);

    c.pause(&uuid).await.expect("pause");
    let hard = c
        .reboot(&uuid, RebootType::Hard, None, &[])
        .await
        .expect("hard reboot of a paused instance");
    assert_eq!(hard.power_state, PowerState::Running);
    assert_ne!(after_soft, started(&docker_inspect(&name).expect("c")));

    let off = c.power_off(&uuid, 10, 1).await.expect("power off");
    assert_eq!(off.power_state, PowerState::Shutdown);
    assert_eq!(docker_inspect(&name).expect("c")["State"]["Running"], false);
    assert_eq!(
        c.power_off(&uuid, 0, 0).await.expect("again").power_state,
        PowerState::Shutdown
    );
    assert!(matches!(
        c.pause(&uuid).await,
        Err(Error::InstanceInvalidState(_))
    ));
    assert_eq!(
        c.power_on(&uuid, &[]).await.expect("power on").power_state,
        PowerState::Running
    );
    assert_eq!(
        c.power_on(&uuid, &[])
            .await
            .expect("power on running")
            .power_state,
        PowerState::Running
    );
    c.destroy(&uuid, &[]).await.expect("destroy");
}

#[tokio::test]
async fn power_off_kills_a_process_that_ignores_sigterm_at_once() {
    let c = compute().await;
    let uuid = new_uuid();
    let _g = Cleanup(uuid.clone());
    let mut r = spawn_request(&uuid);
    r["image"]["properties"]["os_command_line"] =
        "sh -c \"trap '' TERM; while :; do sleep 1; done\"".into();
    c.spawn(&req(r)).await.expect("spawn");
    let t0 = std::time::Instant::now();
    let off = c.power_off(&uuid, 60, 10).await.expect("power off");
    assert_eq!(off.power_state, PowerState::Shutdown);
    // SIGTERM ignored: the 60 s grace period could only be waited out.
    assert!(
        t0.elapsed() < std::time::Duration::from_secs(2),
        "took {:?}",
        t0.elapsed()
    );
    assert_eq!(
        docker_inspect(&format!("nova-{uuid}")).expect("c")["State"]["ExitCode"],
        137
    );
}

#[tokio::test]
async fn a_process_that_exits_at_once_fails_the_boot_and_leaves_nothing() {
    let c = compute().await;
    let uuid = new_uuid();
    let _g = Cleanup(uuid.clone());
    let mut r = spawn_request(&uuid);
    r["image"]["properties"]["os_command_line"] = "sh -c \"echo dying-now; exit 3\"".into();
    let err = c.spawn(&req(r)).await.expect_err("boot must fail");
    let text = err.to_string();
    assert!(matches!(err, Error::SpawnFailed(_)), "{text}");
    assert!(
        text.contains("dying-now") && text.contains("code 3"),
        "{text}"
    );
    assert!(
        docker_inspect(&format!("nova-{uuid}")).is_none(),
        "no container left"
    );
}

/// The start-up check ends when the process dies, not when its window
/// does: with a 30 s window a dying boot still fails at once.
#[tokio::test]
async fn the_startup_check_ends_as_soon_as_the_process_dies() {
    let cfg = config("startup_check_seconds = 30\n");
    let c = compute_with(cfg).await;
    let uuid = new_uuid();
    let _g = Cleanup(uuid.clone());
    let mut r = spawn_request(&uuid);
    r["image"]["properties"]["os_command_line"] = "sh -c \"echo dying-now; exit 3\"".into();
    let t0 = std::time::Instant::now();
    let err = c.spawn(&req(r)).await.expect_err("boot must fail");
    assert!(
        t0.elapsed() < std::time::Duration::from_secs(10),
        "took {:?}",
        t0.elapsed()
    );
    let text = err.to_string();
    assert!(
        text.contains("dying-now") && text.contains("code 3"),
        "{text}"
    );
}

#[tokio::test]
async fn bad_requests_fail_cleanly_and_leave_nothing() {
    let c = compute().await;
    let uuid = new_uuid();
    let _g = Cleanup(uuid.clone());
    let mut r = spawn_request(&uuid);
    r["image"] = serde_json::json!({"id": "0b0b0b0b-0000-0000-0000-000000000000", "name": "no-such-image", "properties": {}});
    let err = c.spawn(&req(r)).await.expect_err("missing image");
    assert!(
        matches!(err, Error::ImageNotFound(ref m) if m.contains("no-such-image")),
        "{err}"
    );

    let mut r = spawn_request(&uuid);
    r["instance"]["metadata"] = serde_json::json!({"1BAD": "x"});
    let err = c.spawn(&req(r)).await.expect_err("bad env name");
    assert!(
        matches!(err, Error::InvalidInput(ref m) if m.contains("1BAD")),
        "{err}"
    );
    assert!(docker_inspect(&format!("nova-{uuid}")).is_none());

    c.spawn(&req(spawn_request(&uuid))).await.expect("spawn");
    let err = c
        .spawn(&req(spawn_request(&uuid)))
        .await
        .expect_err("twice");
    assert!(matches!(err, Error::InstanceExists(_)), "{err}");
    assert_eq!(
        c.get_info(&uuid).await.expect("still there").power_state,
        PowerState::Running
    );
}

#[tokio::test]
async fn os_command_line_and_console_output() {
    let c = compute().await;
    let uuid = new_uuid();
    let _g = Cleanup(uuid.clone());
    let mut r = spawn_request(&uuid);
    // 3000 lines of 100 bytes: more than the 100 KiB the console keeps. Docker
    // copies stdout and stderr apart, through pipes and buffers that can hold
    // more than 100 KiB of stdout on a loaded machine: the pause lets stdout
    // drain, or the stderr line lands before the newest 100 KiB.
    r["image"]["properties"]["os_command_line"] =
        "sh -c 'i=0; while [ $i -lt 3000 ]; do printf \"line %05d %088d\\n\" $i 0; i=$((i+1)); done; sleep 3; echo to-stderr >&2; sleep 3600'"
            .into();
    c.spawn(&req(r)).await.expect("spawn");
    // The command is still writing when the boot returns: wait for its last
    // line (up to a minute: 3000 lines take a while on a loaded machine).
    let mut out = String::new();
    for _ in 0..600 {
        out = c.console_output(&uuid).await.expect("console");
        if out.contains("to-stderr") && out.contains("line 02999") {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    assert!(
        out.len() <= 100 * 1024 && out.len() > 90 * 1024,
        "{}",
        out.len()
    );
    assert!(out.contains("line 02999"), "newest output is kept");
    assert!(!out.contains("line 00000 "), "oldest output is dropped");
    // Docker copies the two streams separately, so only presence is certain.
    let end = out.len().saturating_sub(400);
    assert!(
        out.contains(
            "to-stderr
"
        ),
        "stderr is included; the output ends with {:?}",
        out.get(end..).unwrap_or_default()
    );
}

#[tokio::test]
async fn an_oom_killed_container_is_shut_down_with_the_reason_in_its_console() {
    let c = compute().await;
    let uuid = new_uuid();
    let _g = Cleanup(uuid.clone());
    let mut r = spawn_request(&uuid);
    r["flavor"]["memory_mb"] = 16.into();
    // Stays up past the start-up check, then eats memory until the OOM killer comes.
    r["image"]["properties"]["os_command_line"] =
        "sh -c 'sleep 1; x=a; while :; do x=$x$x; done'".into();
    c.spawn(&req(r)).await.expect("spawn");
    let mut state = PowerState::Running;
    for _ in 0..100 {
        state = c.get_info(&uuid).await.expect("info").power_state;
        if state != PowerState::Running {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    }
    // SHUTDOWN, which Nova's lifecycle-event handling acts on at once.
    assert_eq!(state, PowerState::Shutdown);
    assert_eq!(
        docker_inspect(&format!("nova-{uuid}")).expect("c")["State"]["OOMKilled"],
        true
    );
    let console = c.console_output(&uuid).await.expect("console");
    assert!(
        console.contains("killed by the OOM killer") && console.contains("(16 MiB)"),
        "{console}"
    );
}

#[tokio::test]
async fn host_resources_are_the_real_figures() {
    let c = compute().await;
    let r = c.resources().await.expect("resources");
    let meminfo = std::fs::read_to_string("/proc/meminfo").expect("meminfo");
    let total_kib: i64 = meminfo
        .lines()
        .find(|l| l.starts_with("MemTotal:"))
        .and_then(|l| l.split_whitespace().nth(1)?.parse().ok())
        .expect("MemTotal");
    assert_eq!(r.memory_mb, total_kib / 1024);
    let nproc = std::process::Command::new("nproc").output().expect("nproc");
    let n: i64 = String::from_utf8_lossy(&nproc.stdout)
        .trim()
        .parse()
        .expect("number");
    assert_eq!(r.vcpus, n);
    assert!(r.local_gb > 0 && r.local_gb_used <= r.local_gb);
    assert_eq!(r.hypervisor_type, "docker");
    assert!(r.hypervisor_version > 1_000_000, "{}", r.hypervisor_version);
    assert_eq!(r.supported_instances[0][1], "docker");
    let inv = c
        .inventory(
            &serde_json::from_value(
                serde_json::json!({"existing": {"VCPU": {"allocation_ratio": 3.0}}}),
            )
            .expect("req"),
        )
        .await
        .expect("inventory");
    assert_eq!(inv.vcpu.total, n);
    assert_eq!(
        inv.vcpu.allocation_ratio, 3.0,
        "placement's ratio is kept when nova.conf sets none"
    );
    assert_eq!(inv.memory_mb.reserved, 512);
    assert_eq!(inv.disk_gb.allocation_ratio, 1.0);
}

/// PID 1 without a SIGTERM handler (busybox `sleep`, like most single
/// binaries) never sees Docker's SIGTERM: power_off kills it at once
/// instead of waiting out Nova's 60 s.
#[tokio::test]
async fn a_main_process_without_a_sigterm_handler_stops_at_once() {
    let c = compute().await;
    let uuid = new_uuid();
    let _g = Cleanup(uuid.clone());
    let mut r = spawn_request(&uuid);
    r["image"]["properties"]["os_command_line"] = "sleep 1000".into();
    c.spawn(&req(r)).await.expect("spawn");
    let started = std::time::Instant::now();
    let info = c.power_off(&uuid, 60, 10).await.expect("power off");
    let took = started.elapsed();
    assert_eq!(info.power_state, PowerState::Shutdown);
    assert!(took < std::time::Duration::from_secs(2), "took {took:?}");
    c.destroy(&uuid, &[]).await.expect("destroy");
}

/// A main process that traps SIGTERM keeps its grace period and exits
/// cleanly, however large the timeout Nova gives (u64::MAX once panicked).
#[tokio::test]
async fn a_main_process_that_traps_sigterm_gets_its_grace_period() {
    let c = compute().await;
    let uuid = new_uuid();
    let _g = Cleanup(uuid.clone());
    let mut r = spawn_request(&uuid);
    r["image"]["properties"]["os_command_line"] =
        "sh -c \"trap 'sleep 2; echo cleaned-up; exit 0' TERM; while :; do sleep 1; done\"".into();
    c.spawn(&req(r)).await.expect("spawn");
    let started = std::time::Instant::now();
    let info = c.power_off(&uuid, u64::MAX, 0).await.expect("power off");
    let took = started.elapsed();
    assert_eq!(info.power_state, PowerState::Shutdown);
    assert!(took >= std::time::Duration::from_secs(2), "took {took:?}");
    let state = docker_inspect(&format!("nova-{uuid}")).expect("container")["State"].clone();
    assert_eq!(
        state["ExitCode"], 0,
        "exited by itself, not killed: {state}"
    );
    assert!(
        c.console_output(&uuid)
            .await
            .expect("console")
            .contains("cleaned-up")
    );
    c.destroy(&uuid, &[]).await.expect("destroy");
}
