//! The compute-driver contract over Docker. `Compute` is one type; each of
//! its jobs is a file: spawn.rs (spawn), start.rs (start, plug, the start-up
//! watch, shared by spawn, power-on and reboot), destroy.rs, power.rs (power
//! off and on, reboot, pause, unpause, suspend, resume), migration.rs
//! (resize and cold migration) with move_state.rs (what a move keeps
//! between steps), interfaces.rs (hot-plug, ensure_plugged), snapshot.rs,
//! console.rs, serial_console.rs (interactive consoles, with
//! terminal_size.rs and exec_reaper.rs), diagnostics.rs, resources.rs, reconcile.rs and events.rs
//! (with holdback.rs, the lifecycle stream as Nova hears it).
//! This file holds the handle and the reads: inspect, list, get_info,
//! refresh. Every answer comes from Docker or the host itself.

pub mod config_drive;
pub mod console;
mod destroy;
pub mod diagnostics;
pub mod events;
pub mod exec_reaper;
pub mod holdback;
pub mod interfaces;
pub mod migration;
pub mod move_state;
mod power;
pub mod power_state;
pub mod reconcile;
pub mod resources;
pub mod serial_console;
pub mod snapshot;
mod spawn;
mod start;
pub mod startup_watch;
pub mod state;
pub mod stop_signal;
pub mod terminal_size;

use std::sync::Arc;

use crate::config::Config;
use crate::docker::engine_features::EngineFeatures;
use crate::docker::{Container, ContainerSummary, Engine, EngineError, naming};
use crate::error::Error;
use crate::image::Images;
use crate::model::InstanceInfo;
use crate::network::Network;
use crate::network::ovs::Ovs;
use state::Tracked;

#[derive(Clone)]
pub struct Compute {
    docker: Engine,
    config: Config,
    network: Network,
    states: Arc<state::States>,
    /// The transitions as `/v1/events` streams them, STOPPED held back.
    lifecycle: Arc<holdback::Holdback>,
    images: Images,
    /// The Nova host this service serves: its containers carry it as a label.
    host: String,
    /// What the engine can enforce, read once from `docker info`.
    features: Arc<tokio::sync::OnceCell<EngineFeatures>>,
    /// Set when the engine refused a disk limit its driver should take.
    disk_limits_refused: Arc<std::sync::atomic::AtomicBool>,
    /// The serial consoles' listeners (memory only: a restart has none).
    consoles: Arc<serial_console::SerialConsoles>,
}

impl Compute {
    pub fn new(docker: impl Into<Engine>, config: Config) -> Result<Self, Error> {
        let docker = docker.into();
        let n = &config.novadock;
        let network = Network::new(
            Ovs {
                db: n.ovsdb_connection.clone(),
                timeout_secs: n.ovs_vsctl_timeout,
                owner: config.nova.host_name(),
                isolate: n.isolate_vif,
            },
            n.ovs_bridge.clone(),
            n.nova_default_route,
        );
        let host = config.nova.host_name();
        let lifecycle = Arc::new(holdback::Holdback::new(n.lifecycle_event_delay));
        Ok(Compute {
            images: Images::new(
                docker.clone(),
                std::time::Duration::from_secs(config.novadock.glance_read_timeout),
            )?,
            docker,
            config,
            network,
            states: Arc::new(state::States::default()),
            lifecycle,
            host,
            features: Arc::new(tokio::sync::OnceCell::new()),
            disk_limits_refused: Arc::new(std::sync::atomic::AtomicBool::new(false)),
            consoles: Arc::new(serial_console::SerialConsoles::default()),
        })
    }

    /// Whether spawns set the flavor's root disk as a limit.
    pub async fn disk_limits_work(&self) -> Result<bool, Error> {
        Ok(self.features().await?.disk_limits.is_ok()
            && !self
                .disk_limits_refused
                .load(std::sync::atomic::Ordering::Relaxed))
    }

    fn disk_limits_refused(&self) {
        self.disk_limits_refused
            .store(true, std::sync::atomic::Ordering::Relaxed);
    }

    /// The engine's tenant-isolation features (read on first use).
    pub async fn features(&self) -> Result<EngineFeatures, Error> {
        self.features
            .get_or_try_init(|| async {
                self.docker
                    .features(&self.config().novadock.docker_network)
                    .await
            })
            .await
            .cloned()
            .map_err(Error::from)
    }

    pub fn images(&self) -> &Images {
        &self.images
    }

    pub fn states(&self) -> &state::States {
        &self.states
    }

    /// A reader of the lifecycle transitions as Nova hears them: STOPPED
    /// held back `lifecycle_event_delay` (holdback.rs). Inside the runtime.
    pub fn lifecycle_events(&self) -> tokio::sync::broadcast::Receiver<holdback::Feed> {
        self.lifecycle.subscribe(&self.states)
    }

    /// At shutdown: every lifecycle stream ends, held STOPPED events dropped.
    pub fn close_lifecycle_events(&self) {
        self.lifecycle.close();
    }

    pub fn network(&self) -> &Network {
        &self.network
    }

    pub fn docker(&self) -> &Engine {
        &self.docker
    }

    /// `[DEFAULT] host`, else the hostname: read once, at start.
    pub fn host_name(&self) -> &str {
        &self.host
    }

    /// Docker's label filter for this host's containers.
    pub fn host_label_filter(&self) -> String {
        format!("{}={}", naming::LABEL_HOST, self.host)
    }

    pub fn config(&self) -> &Config {
        &self.config
    }

    /// The instance's container, or InstanceNotFound.
    pub async fn inspect(&self, uuid: &str) -> Result<Container, Error> {
        match self
            .docker
            .inspect_container(&naming::container_name(uuid))
            .await
        {
            Ok(c) if label(&c, naming::LABEL_UUID) == Some(uuid) => Ok(c),
            Ok(_) | Err(EngineError::NotFound(_)) => Err(Error::InstanceNotFound(uuid.to_string())),
            Err(e) => Err(e.into()),
        }
    }

    /// From the event-fed map when it is in sync with Docker, else from Docker.
    pub async fn get_info(&self, uuid: &str) -> Result<InstanceInfo, Error> {
        if self.states.is_synced() {
            return self
                .states
                .get(uuid)
                .ok_or_else(|| Error::InstanceNotFound(uuid.to_string()));
        }
        self.refresh(uuid).await
    }

    /// Asks Docker and records the answer: what an operation returns.
    pub async fn refresh(&self, uuid: &str) -> Result<InstanceInfo, Error> {
        match self.inspect(uuid).await {
            Ok(c) => {
                let t = tracked(&c);
                let i = t.info.clone();
                self.states.set(t);
                Ok(i)
            }
            Err(Error::InstanceNotFound(u)) => {
                self.states.remove(uuid, None, true);
                Err(Error::InstanceNotFound(u))
            }
            Err(e) => Err(e),
        }
    }

    pub async fn list(&self) -> Result<Vec<InstanceInfo>, Error> {
        if self.states.is_synced() {
            return Ok(self.states.list());
        }
        let mut out: Vec<InstanceInfo> = self.containers().await?.iter().map(info).collect();
        out.sort_by(|a, b| a.name.cmp(&b.name).then_with(|| a.uuid.cmp(&b.uuid)));
        Ok(out)
    }

    /// Every container that carries an instance uuid label, a resize's
    /// set-aside one included, of every host sharing this engine: one Docker
    /// call, labels included.
    pub async fn labelled_containers(&self) -> Result<Vec<ContainerSummary>, Error> {
        Ok(self
            .docker
            .list_containers(vec![naming::LABEL_UUID.to_string()])
            .await?)
    }

    /// The listing of every instance's own container on this host (not one
    /// set aside by a resize, nor another host's).
    pub async fn container_summaries(&self) -> Result<Vec<ContainerSummary>, Error> {
        let mut summaries = self
            .docker
            .list_containers(vec![
                naming::LABEL_UUID.to_string(),
                self.host_label_filter(),
            ])
            .await?;
        summaries.retain(|s| {
            s.labels.get(naming::LABEL_UUID).is_some_and(|u| {
                let name = format!("/{}", naming::container_name(u));
                s.names.contains(&name)
            })
        });
        Ok(summaries)
    }

    /// Every instance's own container, inspected.
    pub async fn containers(&self) -> Result<Vec<Container>, Error> {
        let summaries = self.container_summaries().await?;
        let mut out = Vec::with_capacity(summaries.len());
        for s in summaries {
            let Some(id) = s.id else { continue };
            // The listing lacks the CPU weight that tells SUSPENDED from
            // PAUSED, so each container is inspected.
            match self.docker.inspect_container(&id).await {
                Ok(c) => out.push(c),
                // Removed between the listing and the inspection.
                Err(EngineError::NotFound(_)) => continue,
                Err(e) => return Err(e.into()),
            }
        }
        Ok(out)
    }
}

pub fn label<'a>(c: &'a Container, key: &str) -> Option<&'a str> {
    c.labels.get(key).map(String::as_str)
}

/// The pid of the container's main process while it has one (running or
/// frozen): what a network namespace is entered through.
pub fn running_pid(c: &Container) -> Option<u32> {
    if !power_state::is_up(&info(c).power_state) {
        return None;
    }
    c.state
        .as_ref()
        .and_then(|s| s.pid)
        .filter(|p| *p > 0)
        .and_then(|p| u32::try_from(p).ok())
}

/// The running container's main process and id, for plugging: the network
/// proves the pid is still the container's before it touches a namespace.
pub fn running_process(c: &Container) -> Option<crate::network::ContainerProcess> {
    Some(crate::network::ContainerProcess {
        pid: running_pid(c)?,
        container_id: c.id.clone()?,
    })
}

pub fn info(c: &Container) -> InstanceInfo {
    InstanceInfo {
        uuid: label(c, naming::LABEL_UUID).unwrap_or_default().to_string(),
        name: label(c, naming::LABEL_NAME).unwrap_or_default().to_string(),
        power_state: power_state::of(c),
        container_id: c.id.clone().unwrap_or_default(),
    }
}

/// The vCPUs a container's flavor claims, from its label's value.
pub fn claimed_vcpus(label_value: Option<&str>) -> i64 {
    label_value.and_then(|v| v.parse().ok()).unwrap_or(0)
}

/// What the power-state map keeps of a container.
pub fn tracked(c: &Container) -> Tracked {
    Tracked {
        info: info(c),
        vcpus: claimed_vcpus(label(c, naming::LABEL_VCPUS)),
    }
}
