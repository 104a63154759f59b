//! Each instance's power state, kept from Docker's event stream so that
//! get_info and the lists need no Docker call, and the lifecycle
//! transitions Nova hears about.

use std::collections::{HashMap, VecDeque};
use std::sync::RwLock;
use std::sync::atomic::{AtomicBool, Ordering};

use serde::Serialize;
use tokio::sync::broadcast;

use crate::model::{InstanceInfo, PowerState};

/// Nova's lifecycle events (nova.virt.event).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Lifecycle {
    Started,
    Stopped,
    Paused,
    Resumed,
    Suspended,
}

#[derive(Debug, Clone, Serialize)]
pub struct Transition {
    pub event: Lifecycle,
    pub uuid: String,
    pub power_state: PowerState,
}

pub fn lifecycle(old: Option<PowerState>, new: Option<PowerState>) -> Option<Lifecycle> {
    use PowerState::*;
    let up = |s: Option<PowerState>| matches!(s, Some(Running | Paused | Suspended));
    match new {
        Some(Running) => match old {
            Some(Running) => None,
            Some(Paused | Suspended) => Some(Lifecycle::Resumed),
            _ => Some(Lifecycle::Started),
        },
        Some(Paused) if old != Some(Paused) => Some(Lifecycle::Paused),
        Some(Suspended) if old != Some(Suspended) => Some(Lifecycle::Suspended),
        Some(Shutdown | Nostate) | None if up(old) => Some(Lifecycle::Stopped),
        _ => None,
    }
}

/// How many removed containers are remembered: enough to outlast the events
/// still in flight about them.
const GONE_MEMORY: usize = 1024;

/// What is kept of one instance: its state, and the vCPUs its flavor
/// claims (the host's resources are summed from these).
#[derive(Debug, Clone)]
pub struct Tracked {
    pub info: InstanceInfo,
    pub vcpus: i64,
}

pub struct States {
    map: RwLock<HashMap<String, Tracked>>,
    /// Ids of removed containers: a late event about one must not bring its
    /// instance back.
    gone: std::sync::Mutex<VecDeque<String>>,
    synced: AtomicBool,
    tx: broadcast::Sender<Transition>,
}

impl Default for States {
    fn default() -> Self {
        States {
            map: RwLock::new(HashMap::new()),
            gone: std::sync::Mutex::new(VecDeque::new()),
            synced: AtomicBool::new(false),
            tx: broadcast::channel(1024).0,
        }
    }
}

impl States {
    fn emit(&self, uuid: &str, old: Option<PowerState>, new: Option<PowerState>) {
        if let Some(event) = lifecycle(old, new) {
            tracing::info!(instance = uuid, ?event, "lifecycle");
            // No subscriber is fine: nobody listens yet.
            let _ = self.tx.send(Transition {
                event,
                uuid: uuid.to_string(),
                power_state: new.unwrap_or(PowerState::Nostate),
            });
        }
    }

    fn write(&self) -> std::sync::RwLockWriteGuard<'_, HashMap<String, Tracked>> {
        // A panic while holding the lock cannot leave a half-written map entry.
        self.map.write().unwrap_or_else(|p| p.into_inner())
    }

    fn read(&self) -> std::sync::RwLockReadGuard<'_, HashMap<String, Tracked>> {
        self.map.read().unwrap_or_else(|p| p.into_inner())
    }

    fn is_gone(&self, container_id: &str) -> bool {
        self.gone
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .iter()
            .any(|g| g == container_id)
    }

    fn bury(&self, container_id: &str) {
        let mut gone = self.gone.lock().unwrap_or_else(|p| p.into_inner());
        if gone.len() >= GONE_MEMORY {
            gone.pop_front();
        }
        gone.push_back(container_id.to_string());
    }

    pub fn set(&self, t: Tracked) {
        if t.info.uuid.is_empty() || self.is_gone(&t.info.container_id) {
            return;
        }
        let uuid = t.info.uuid.clone();
        let new = t.info.power_state;
        let old = self
            .write()
            .insert(uuid.clone(), t)
            .map(|t| t.info.power_state);
        self.emit(&uuid, old, Some(new));
    }

    /// Forgets an instance; `container_id`, when given, is gone for good
    /// (removed, not set aside); `announce` tells Nova it stopped if it was
    /// up (a container removed behind Nova's back).
    pub fn remove(&self, uuid: &str, container_id: Option<&str>, announce: bool) {
        if let Some(id) = container_id {
            self.bury(id);
        }
        let old = self.write().remove(uuid).map(|t| t.info.power_state);
        if announce {
            self.emit(uuid, old, None);
        }
    }

    /// A full listing replaces what is known; differences become transitions.
    pub fn replace_all(&self, all: Vec<Tracked>) {
        let fresh: HashMap<String, Tracked> = all
            .into_iter()
            .filter(|t| !t.info.uuid.is_empty())
            .map(|t| (t.info.uuid.clone(), t))
            .collect();
        let old = std::mem::replace(&mut *self.write(), fresh.clone());
        for (uuid, t) in &fresh {
            self.emit(
                uuid,
                old.get(uuid).map(|o| o.info.power_state),
                Some(t.info.power_state),
            );
        }
        for (uuid, t) in &old {
            if !fresh.contains_key(uuid) {
                self.emit(uuid, Some(t.info.power_state), None);
            }
        }
    }

    pub fn get(&self, uuid: &str) -> Option<InstanceInfo> {
        self.read().get(uuid).map(|t| t.info.clone())
    }

    pub fn list(&self) -> Vec<InstanceInfo> {
        let mut out: Vec<InstanceInfo> = self.read().values().map(|t| t.info.clone()).collect();
        out.sort_by(|a, b| a.name.cmp(&b.name).then_with(|| a.uuid.cmp(&b.uuid)));
        out
    }

    pub fn vcpus_used(&self) -> i64 {
        self.read().values().map(|t| t.vcpus).sum()
    }

    /// True while the event stream is connected and the map complete.
    pub fn is_synced(&self) -> bool {
        self.synced.load(Ordering::Acquire)
    }

    pub fn set_synced(&self, synced: bool) {
        self.synced.store(synced, Ordering::Release);
    }

    pub fn subscribe(&self) -> broadcast::Receiver<Transition> {
        self.tx.subscribe()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use PowerState::*;

    #[test]
    fn transitions_follow_libvirt_semantics() {
        assert_eq!(lifecycle(None, Some(Running)), Some(Lifecycle::Started));
        assert_eq!(
            lifecycle(Some(Shutdown), Some(Running)),
            Some(Lifecycle::Started)
        );
        assert_eq!(lifecycle(Some(Running), Some(Running)), None);
        assert_eq!(
            lifecycle(Some(Running), Some(Paused)),
            Some(Lifecycle::Paused)
        );
        assert_eq!(
            lifecycle(Some(Paused), Some(Running)),
            Some(Lifecycle::Resumed)
        );
        assert_eq!(
            lifecycle(Some(Running), Some(Suspended)),
            Some(Lifecycle::Suspended)
        );
        assert_eq!(
            lifecycle(Some(Suspended), Some(Running)),
            Some(Lifecycle::Resumed)
        );
        assert_eq!(
            lifecycle(Some(Running), Some(Shutdown)),
            Some(Lifecycle::Stopped)
        );
        assert_eq!(
            lifecycle(Some(Paused), Some(Nostate)),
            Some(Lifecycle::Stopped)
        );
        assert_eq!(lifecycle(Some(Running), None), Some(Lifecycle::Stopped));
        assert_eq!(lifecycle(None, Some(Shutdown)), None);
        assert_eq!(lifecycle(Some(Shutdown), None), None);
    }

    fn info(uuid: &str, s: PowerState) -> Tracked {
        Tracked {
            info: InstanceInfo {
                uuid: uuid.into(),
                name: uuid.into(),
                power_state: s,
                container_id: "c".into(),
            },
            vcpus: 1,
        }
    }

    #[test]
    fn the_map_announces_changes_once() {
        let st = States::default();
        let mut rx = st.subscribe();
        st.set(info("a", Running));
        st.set(info("a", Running));
        st.set(info("a", Paused));
        st.replace_all(vec![info("b", Running)]);
        let got: Vec<_> = std::iter::from_fn(|| rx.try_recv().ok())
            .map(|t| (t.uuid, t.event))
            .collect();
        assert_eq!(
            got,
            vec![
                ("a".to_string(), Lifecycle::Started),
                ("a".to_string(), Lifecycle::Paused),
                ("b".to_string(), Lifecycle::Started),
                ("a".to_string(), Lifecycle::Stopped),
            ]
        );
        assert!(st.get("a").is_none());
        st.remove("b", Some("c"), false);
        assert!(rx.try_recv().is_err(), "a quiet removal says nothing");
        st.set(info("b", Running));
        assert!(
            st.get("b").is_none(),
            "a late event about a removed container is ignored"
        );
    }
}
