//! Docker events become lifecycle events and keep get_info current.

mod common;

use std::time::Duration;

use common::*;
use novadock::compute::Compute;
use novadock::model::{PowerState, SpawnRequest};

/// C following Docker's events, served on a socket, and a reader of its
/// event stream (the socket's directory lives as long as the Service).
async fn followed(c: Compute) -> (Compute, Service, EventStream) {
    tokio::spawn(c.clone().follow_docker_events());
    let svc = serve(c.clone()).await;
    let events = EventStream::open(&svc.socket).await;
    (c, svc, events)
}

#[tokio::test]
async fn containers_changed_behind_novas_back_are_reported_within_seconds() {
    let (c, _svc, mut events) = followed(compute().await).await;
    let uuid = new_uuid();
    let _g = Cleanup(uuid.clone());
    let r: SpawnRequest = serde_json::from_value(spawn_request(&uuid)).expect("request");
    c.spawn(&r).await.expect("spawn");
    assert!(
        events
            .expect(&uuid, "started", Duration::from_secs(10))
            .await
    );

    let name = format!("nova-{uuid}");
    run("docker", &["pause", &name]);
    assert!(events.expect(&uuid, "paused", Duration::from_secs(5)).await);
    run("docker", &["unpause", &name]);
    assert!(
        events
            .expect(&uuid, "resumed", Duration::from_secs(5))
            .await
    );

    run("docker", &["kill", &name]);
    assert!(
        events
            .expect(&uuid, "stopped", Duration::from_secs(5))
            .await,
        "docker kill is seen"
    );
    assert!(c.states().is_synced());
    assert_eq!(
        c.get_info(&uuid).await.expect("info").power_state,
        PowerState::Shutdown
    );

    run("docker", &["start", &name]);
    assert!(
        events
            .expect(&uuid, "started", Duration::from_secs(5))
            .await
    );
    run("docker", &["rm", "-f", &name]);
    assert!(
        events
            .expect(&uuid, "stopped", Duration::from_secs(5))
            .await,
        "removal is a stop"
    );
    assert!(c.get_info(&uuid).await.is_err());
}

#[tokio::test]
async fn get_info_answers_from_the_event_fed_map() {
    let c = compute().await;
    let uuid = new_uuid();
    let _g = Cleanup(uuid.clone());
    let r: SpawnRequest = serde_json::from_value(spawn_request(&uuid)).expect("request");
    c.spawn(&r).await.expect("spawn");
    tokio::spawn(c.clone().follow_docker_events());
    for _ in 0..100 {
        if c.states().is_synced() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(c.states().is_synced());
    assert!(c.list().await.expect("list").iter().any(|i| i.uuid == uuid));
    // The map knows the instance without asking Docker.
    assert_eq!(
        c.states().get(&uuid).expect("known").power_state,
        PowerState::Running
    );
    c.suspend(&uuid).await.expect("suspend");
    assert_eq!(
        c.get_info(&uuid).await.expect("info").power_state,
        PowerState::Suspended
    );
    c.destroy(&uuid, &[]).await.expect("destroy");
    assert!(c.get_info(&uuid).await.is_err());
}

#[tokio::test]
async fn the_vcpus_a_host_reports_follow_its_instances_flavors() {
    // A host of its own: other tests' instances do not change its count.
    let cfg = config("[DEFAULT]\nhost = novadock-tests-vcpus\n");
    let (c, _svc, mut events) = followed(compute_with(cfg).await).await;
    let before = c.resources().await.expect("resources").vcpus_used;

    let uuid = new_uuid();
    let _g = Cleanup(uuid.clone());
    let mut r = spawn_request(&uuid);
    r["flavor"]["vcpus"] = 3.into();
    let r: SpawnRequest = serde_json::from_value(r).expect("request");
    c.spawn(&r).await.expect("spawn");
    assert!(
        events
            .expect(&uuid, "started", Duration::from_secs(10))
            .await
    );
    assert!(c.states().is_synced());
    assert_eq!(
        c.resources().await.expect("resources").vcpus_used,
        before + 3,
        "from the event-fed map"
    );
    c.states().set_synced(false);
    assert_eq!(
        c.resources().await.expect("resources").vcpus_used,
        before + 3,
        "from the engine's listing"
    );
    c.states().set_synced(true);

    c.destroy(&uuid, &[]).await.expect("destroy");
    assert_eq!(c.resources().await.expect("resources").vcpus_used, before);
}

/// A main process that dies after the start-up check (the boot succeeded)
/// is a STOPPED lifecycle event, and the console ends with its output and
/// exit code: what the user sees of a server that died right after ACTIVE.
#[tokio::test]
async fn a_process_that_dies_after_the_boot_is_reported_with_its_code_and_output() {
    let (c, _svc, mut events) = followed(compute().await).await;
    let uuid = new_uuid();
    let _g = Cleanup(uuid.clone());
    let mut r = spawn_request(&uuid);
    r["image"]["properties"]["os_command_line"] =
        "sh -c \"sleep 2; echo dying-later; exit 4\"".into();
    let r: SpawnRequest = serde_json::from_value(r).expect("request");
    let info = c.spawn(&r).await.expect("spawn");
    assert_eq!(info.power_state, PowerState::Running);
    assert!(
        events
            .expect(&uuid, "stopped", Duration::from_secs(15))
            .await,
        "the death is announced"
    );
    let console = c.console_output(&uuid).await.expect("console");
    assert!(
        console.contains("dying-later") && console.contains("exited with code 4"),
        "{console}"
    );
}
