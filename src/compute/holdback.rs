//! The STOPPED hold-back of the lifecycle stream (`[novadock]
//! lifecycle_event_delay`), as Nova's libvirt driver does for reboots: a
//! STOPPED goes out only after the delay, and is dropped if the same
//! instance has any other transition meanwhile, so that a reboot (a stop,
//! then a start) does not make Nova's power sync think the instance
//! stopped. Every other transition, and those of other instances, pass at
//! once.
//!
//! The hold-back is done once, between the state map's transitions and the
//! broadcast that every `GET /v1/events` reader subscribes to, not per
//! stream: every reader sees the same lines at the same moment, there is
//! one timer per instance whatever the number of readers, and a STOPPED
//! still held when nova-compute's listener reconnects reaches its new
//! stream (the Python driver's timers outlived a reconnect as well).

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::Duration;

use tokio::sync::broadcast::error::RecvError;
use tokio::sync::{broadcast, watch};
use tokio::time::Instant;

use super::state::{Lifecycle, States, Transition};

/// How many items a reader may fall behind before it is told it lagged:
/// twice the state map's channel, so that a burst which fills that one
/// still reaches a reader whole.
const CAPACITY: usize = 2048;

/// One item of the lifecycle stream.
#[derive(Debug, Clone)]
pub enum Feed {
    Transition(Transition),
    /// Transitions lost before the hold-back saw them (a burst longer than
    /// the channel): the reader is told, as for its own lag.
    Lagged(u64),
}

struct Inner {
    /// None once closed: every reader's stream then ends.
    out: Option<broadcast::Sender<Feed>>,
    started: bool,
}

pub struct Holdback {
    delay: Duration,
    inner: Mutex<Inner>,
    closed: watch::Sender<bool>,
}

impl Holdback {
    pub fn new(delay: Duration) -> Self {
        Holdback {
            delay,
            inner: Mutex::new(Inner {
                out: Some(broadcast::channel(CAPACITY).0),
                started: false,
            }),
            closed: watch::channel(false).0,
        }
    }

    /// A reader of the held-back stream of `states`' transitions. The task
    /// that holds STOPPED back starts with the first reader (must be called
    /// inside the runtime); after `close` the receiver is closed at once.
    pub fn subscribe(&self, states: &States) -> broadcast::Receiver<Feed> {
        let mut inner = self.inner.lock().unwrap_or_else(|p| p.into_inner());
        let Some(out) = inner.out.clone() else {
            return broadcast::channel(1).1;
        };
        let rx = out.subscribe();
        if !inner.started {
            match tokio::runtime::Handle::try_current() {
                Ok(rt) => {
                    inner.started = true;
                    rt.spawn(run(
                        states.subscribe(),
                        out,
                        self.delay,
                        self.closed.subscribe(),
                    ));
                }
                Err(e) => tracing::error!("lifecycle hold-back not started: {e}"),
            }
        }
        rx
    }

    /// At shutdown: every reader's stream ends (an open stream would keep
    /// the server's graceful shutdown waiting forever) and the held STOPPED
    /// events are dropped with their timers; Nova's power sync covers them
    /// after a restart.
    pub fn close(&self) {
        self.inner.lock().unwrap_or_else(|p| p.into_inner()).out = None;
        self.closed.send_replace(true);
    }
}

/// Moves transitions from the state map to the readers, STOPPED after
/// `delay` unless superseded. Ends at `close` or when the map is gone.
async fn run(
    mut transitions: broadcast::Receiver<Transition>,
    out: broadcast::Sender<Feed>,
    delay: Duration,
    mut closed: watch::Receiver<bool>,
) {
    // Per instance, the STOPPED waiting to go out and when it may.
    let mut held: HashMap<String, (Instant, Transition)> = HashMap::new();
    loop {
        let next_due = held.values().map(|(due, _)| *due).min();
        tokio::select! {
            // Transitions first: a start already sent when the timer fires
            // still drops the STOPPED it follows.
            biased;
            _ = closed.wait_for(|c| *c) => break,
            t = transitions.recv() => match t {
                Ok(t) => {
                    // Any transition of the instance supersedes its held STOPPED.
                    held.remove(&t.uuid);
                    if t.event == Lifecycle::Stopped && !delay.is_zero() {
                        let due = Instant::now() + delay;
                        held.insert(t.uuid.clone(), (due, t));
                    } else {
                        // No reader is fine: nobody listens yet.
                        let _ = out.send(Feed::Transition(t));
                    }
                }
                Err(RecvError::Lagged(n)) => {
                    // A held STOPPED may have been followed by a start that
                    // was lost: sending it could make Nova stop a running
                    // instance. Dropped; the power sync catches up.
                    held.clear();
                    tracing::warn!(missed = n, "lifecycle transitions lost before the hold-back");
                    let _ = out.send(Feed::Lagged(n));
                }
                Err(RecvError::Closed) => break,
            },
            () = tokio::time::sleep_until(next_due.unwrap_or_else(Instant::now)),
                if next_due.is_some() =>
            {
                let now = Instant::now();
                let mut due: Vec<(Instant, Transition)> = Vec::new();
                held.retain(|_, (at, t)| {
                    if *at <= now {
                        due.push((*at, t.clone()));
                        false
                    } else {
                        true
                    }
                });
                due.sort_by_key(|(at, _)| *at);
                for (_, t) in due {
                    let _ = out.send(Feed::Transition(t));
                }
            }
        }
    }
    if !held.is_empty() {
        tracing::info!(
            dropped = held.len(),
            "held-back STOPPED events dropped at shutdown"
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::compute::state::Tracked;
    use crate::model::{InstanceInfo, PowerState};

    fn set(st: &States, uuid: &str, s: PowerState) {
        st.set(Tracked {
            info: InstanceInfo {
                uuid: uuid.into(),
                name: uuid.into(),
                power_state: s,
                container_id: format!("c-{uuid}"),
            },
            vcpus: 1,
        });
    }

    async fn next(
        rx: &mut broadcast::Receiver<Feed>,
        limit: Duration,
    ) -> Option<(String, Lifecycle)> {
        match tokio::time::timeout(limit, rx.recv()).await {
            Ok(Ok(Feed::Transition(t))) => Some((t.uuid, t.event)),
            Ok(other) => panic!("unexpected {other:?}"),
            Err(_) => None,
        }
    }

    const DELAY: Duration = Duration::from_millis(300);
    const AT_ONCE: Duration = Duration::from_millis(150);

    #[tokio::test]
    async fn a_stop_is_held_back_and_dropped_by_the_next_transition() {
        let st = States::default();
        let hb = Holdback::new(DELAY);
        let mut rx = hb.subscribe(&st);
        set(&st, "a", PowerState::Running);
        assert_eq!(
            next(&mut rx, AT_ONCE).await,
            Some(("a".into(), Lifecycle::Started))
        );

        // A reboot: stopped, then started within the delay.
        set(&st, "a", PowerState::Shutdown);
        set(&st, "b", PowerState::Running);
        set(&st, "a", PowerState::Running);
        assert_eq!(
            next(&mut rx, AT_ONCE).await,
            Some(("b".into(), Lifecycle::Started)),
            "another instance is not delayed"
        );
        assert_eq!(
            next(&mut rx, AT_ONCE).await,
            Some(("a".into(), Lifecycle::Started))
        );
        assert_eq!(
            next(&mut rx, DELAY * 2).await,
            None,
            "the STOPPED is dropped"
        );

        // Paused is a transition of the instance too.
        set(&st, "a", PowerState::Shutdown);
        set(&st, "a", PowerState::Paused);
        assert_eq!(
            next(&mut rx, AT_ONCE).await,
            Some(("a".into(), Lifecycle::Paused))
        );
        assert_eq!(next(&mut rx, DELAY * 2).await, None);

        // A stop alone goes out after the delay, not before.
        let t0 = Instant::now();
        set(&st, "b", PowerState::Shutdown);
        assert_eq!(
            next(&mut rx, DELAY * 4).await,
            Some(("b".into(), Lifecycle::Stopped))
        );
        assert!(t0.elapsed() >= DELAY, "{:?}", t0.elapsed());
    }

    #[tokio::test]
    async fn every_reader_sees_the_same_and_zero_holds_nothing() {
        let st = States::default();
        let hb = Holdback::new(DELAY);
        let (mut r1, mut r2) = (hb.subscribe(&st), hb.subscribe(&st));
        set(&st, "a", PowerState::Running);
        set(&st, "a", PowerState::Shutdown);
        for rx in [&mut r1, &mut r2] {
            assert_eq!(
                next(rx, AT_ONCE).await,
                Some(("a".into(), Lifecycle::Started))
            );
        }
        // A reader that comes while the STOPPED is held still hears it.
        let mut late = hb.subscribe(&st);
        for rx in [&mut r1, &mut r2, &mut late] {
            assert_eq!(
                next(rx, DELAY * 4).await,
                Some(("a".into(), Lifecycle::Stopped))
            );
        }

        let st = States::default();
        let hb = Holdback::new(Duration::ZERO);
        let mut rx = hb.subscribe(&st);
        set(&st, "a", PowerState::Running);
        set(&st, "a", PowerState::Shutdown);
        assert_eq!(
            next(&mut rx, AT_ONCE).await,
            Some(("a".into(), Lifecycle::Started))
        );
        assert_eq!(
            next(&mut rx, AT_ONCE).await,
            Some(("a".into(), Lifecycle::Stopped))
        );
    }

    #[tokio::test]
    async fn close_ends_every_reader_with_stops_still_held() {
        let st = States::default();
        let hb = Holdback::new(Duration::from_secs(3600));
        let mut rx = hb.subscribe(&st);
        set(&st, "a", PowerState::Running);
        set(&st, "a", PowerState::Shutdown);
        assert_eq!(
            next(&mut rx, AT_ONCE).await,
            Some(("a".into(), Lifecycle::Started))
        );
        hb.close();
        let end = tokio::time::timeout(Duration::from_secs(2), rx.recv()).await;
        assert!(matches!(end, Ok(Err(RecvError::Closed))), "{end:?}");
        let mut after = hb.subscribe(&st);
        assert!(matches!(after.recv().await, Err(RecvError::Closed)));
    }

    #[tokio::test]
    async fn a_burst_lost_before_the_hold_back_is_reported() {
        let st = States::default();
        let hb = Holdback::new(DELAY);
        let mut rx = hb.subscribe(&st);
        set(&st, "a", PowerState::Running);
        set(&st, "a", PowerState::Shutdown);
        // This test's runtime has one thread: the task runs while we sleep.
        tokio::time::sleep(Duration::from_millis(50)).await;
        assert_eq!(
            next(&mut rx, AT_ONCE).await,
            Some(("a".into(), Lifecycle::Started))
        );
        // The start of the reboot comes in a burst longer than the state
        // map's channel (1024), all of it before the task runs again.
        set(&st, "a", PowerState::Running);
        for i in 0..1100 {
            set(&st, &format!("i{i}"), PowerState::Running);
        }
        let (mut lagged, mut heard_a) = (false, false);
        while let Ok(Ok(f)) = tokio::time::timeout(DELAY * 2, rx.recv()).await {
            match f {
                Feed::Lagged(n) => lagged |= n > 0,
                Feed::Transition(t) => heard_a |= t.uuid == "a",
            }
        }
        assert!(lagged, "the reader is told");
        assert!(!heard_a, "the STOPPED whose start was lost is not sent");
    }
}
