//! Docker events become lifecycle events and keep get_info current.

mod common;

use std::time::Duration;

use common::*;
use novadock::compute::Compute;
use novadock::compute::state::Tracked;
use novadock::model::{InstanceInfo, PowerState, SpawnRequest};

/// C following Docker's events, served on a socket, and a reader of its
/// event stream (the socket's directory lives as long as the Service).
async fn followed(c: Compute) -> (Compute, Service, EventStream) {
    tokio::spawn(c.clone().follow_docker_events());
    let svc = serve(c.clone()).await;
    let events = EventStream::open_ready(&svc.socket).await;
    (c, svc, events)
}

/// Compute on the real dockerd with STOPPED held back `delay` seconds.
async fn compute_holding(delay: &str) -> Compute {
    let c = compute_with(config(&format!("lifecycle_event_delay = {delay}\n"))).await;
    c.docker()
        .inspect_image(TEST_IMAGE)
        .await
        .unwrap_or_else(|_| panic!("{TEST_IMAGE} missing: run tools/build-test-image.sh"));
    c
}

/// A new instance, spawned and seen started on the stream.
async fn spawned(c: &Compute, events: &mut EventStream) -> (String, Cleanup) {
    let uuid = new_uuid();
    let guard = Cleanup(uuid.clone());
    let r: SpawnRequest = serde_json::from_value(spawn_request(&uuid)).expect("request");
    c.spawn(&r).await.expect("spawn");
    assert!(
        events
            .expect(&uuid, "started", Duration::from_secs(10))
            .await
    );
    (uuid, guard)
}

/// A transition of the state map, as the Docker event follower makes them,
/// without a container.
fn set_state(c: &Compute, uuid: &str, power_state: PowerState) {
    c.states().set(Tracked {
        info: InstanceInfo {
            uuid: uuid.to_string(),
            name: format!("instance-{}", &uuid[..8]),
            power_state,
            container_id: format!("synthetic-{uuid}"),
        },
        vcpus: 1,
    });
}

#[tokio::test]
async fn containers_changed_behind_novas_back_are_reported_within_seconds() {
    let (c, _svc, mut events) = followed(compute_holding("0.5").await).await;
    let (uuid, _g) = spawned(&c, &mut events).await;

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
    let (c, _svc, mut events) = followed(compute_holding("0.5").await).await;
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

/// `[novadock] lifecycle_event_delay`, applied by the service for every
/// reader of the stream: a stop followed by a start within the delay is
/// only the start (a reboot), a stop alone comes after the delay, and other
/// instances' transitions are not delayed.
#[tokio::test]
async fn a_stop_is_held_back_and_dropped_if_the_instance_starts_again() {
    const DELAY: Duration = Duration::from_millis(1500);
    let c = compute_holding("1.5").await;
    let svc = serve(c.clone()).await;
    let mut readers = [
        EventStream::open_ready(&svc.socket).await,
        EventStream::open_ready(&svc.socket).await,
    ];
    let (a, b) = (new_uuid(), new_uuid());
    let heard = |v: Option<serde_json::Value>| {
        v.map(|v| {
            (
                v["uuid"].as_str().unwrap_or("").to_string(),
                v["event"].clone(),
            )
        })
    };

    set_state(&c, &a, PowerState::Running);
    set_state(&c, &a, PowerState::Shutdown);
    set_state(&c, &b, PowerState::Running);
    set_state(&c, &a, PowerState::Running);
    for r in &mut readers {
        assert_eq!(
            heard(r.next(DELAY / 3).await),
            Some((a.clone(), "started".into()))
        );
        assert_eq!(
            heard(r.next(DELAY / 3).await),
            Some((b.clone(), "started".into())),
            "another instance's transition comes at once"
        );
        assert_eq!(
            heard(r.next(DELAY / 3).await),
            Some((a.clone(), "started".into()))
        );
    }
    for r in &mut readers {
        assert_eq!(
            heard(r.next(DELAY + Duration::from_secs(1)).await),
            None,
            "the stop of a reboot is never streamed"
        );
    }

    let t0 = tokio::time::Instant::now();
    set_state(&c, &a, PowerState::Shutdown);
    for r in &mut readers {
        assert_eq!(
            heard(r.next(DELAY * 3).await),
            Some((a.clone(), "stopped".into()))
        );
        assert!(t0.elapsed() >= DELAY, "held back: {:?}", t0.elapsed());
    }
    c.states().remove(&a, None, false);
    c.states().remove(&b, None, false);
}

/// The same through Docker: a container killed and started again before
/// the delay ends is never reported stopped.
#[tokio::test]
async fn a_container_killed_and_started_again_within_the_delay_is_not_reported_stopped() {
    let (c, _svc, mut events) = followed(compute_holding("3").await).await;
    let (uuid, _g) = spawned(&c, &mut events).await;
    let name = format!("nova-{uuid}");
    run("docker", &["kill", &name]);
    // The service saw it stop (its STOPPED is held), then it starts again.
    let t0 = tokio::time::Instant::now();
    while c.states().get(&uuid).map(|i| i.power_state) != Some(PowerState::Shutdown) {
        assert!(t0.elapsed() < Duration::from_secs(5), "the stop is seen");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    run("docker", &["start", &name]);
    // Other tests' instances share the host: only this one's lines count.
    let mut heard = Vec::new();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(5);
    while let Some(v) = events
        .next(deadline.saturating_duration_since(tokio::time::Instant::now()))
        .await
    {
        if v["uuid"] == uuid.as_str() {
            heard.push(v["event"].as_str().unwrap_or("").to_string());
        }
    }
    assert_eq!(
        heard,
        ["started"],
        "a stop undone within the delay is not streamed"
    );
}

/// A shutdown with readers connected and a STOPPED still held ends at once:
/// the streams end, the timers with them.
#[tokio::test]
async fn shutdown_ends_the_streams_with_stops_still_held() {
    let c = compute_holding("3600").await;
    let dir = TempDir::new();
    let mut cfg = c.config().novadock.clone();
    cfg.socket_path = dir.0.join("novadock.sock");
    let listener = novadock::server::bind(&cfg).expect("bind");
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let server = tokio::spawn(novadock::api::serve(listener, c.clone(), async move {
        let _ = stopped.await;
    }));
    let mut events = EventStream::open_ready(&cfg.socket_path).await;
    let uuid = new_uuid();
    set_state(&c, &uuid, PowerState::Running);
    set_state(&c, &uuid, PowerState::Shutdown);
    assert!(
        events
            .expect(&uuid, "started", Duration::from_secs(5))
            .await
    );
    let _ = stop.send(());
    let ended = tokio::time::timeout(Duration::from_secs(5), server)
        .await
        .expect("the server shuts down with a stream open and a STOPPED held");
    assert!(ended.expect("joins").is_ok());
    assert!(
        events.next(Duration::from_secs(2)).await.is_none(),
        "the stream ended without the held STOPPED"
    );
    c.states().remove(&uuid, None, false);
}
